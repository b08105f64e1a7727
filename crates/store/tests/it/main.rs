//! Storage tests: one conformance suite run against every backend, plus SQLite durability tests
//! (reopen, compaction on disk, crash with `kill -9`).

mod conformance;
mod crash;
mod sqlite_only;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use store::{Event, WatchStream};

/// Bytes of a string.
pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The next event of `watch`, failing the test after five seconds or at the end of the stream.
pub async fn next_event(watch: &mut WatchStream) -> Event {
    match tokio::time::timeout(Duration::from_secs(5), watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no watch event within 5s"),
    }
}

/// The next `n` events of `watch`.
pub async fn next_events(watch: &mut WatchStream, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(next_event(watch).await);
    }
    events
}

/// Asserts that `watch` has nothing ready within a short while.
pub async fn assert_quiet(watch: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(100), watch.next()).await {
        panic!("unexpected watch item: {item:?}");
    }
}
