//! Watch plumbing shared by the backends: a broadcast of committed events and the stream that
//! joins replayed history with live events.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream;
use tokio::sync::broadcast;

use crate::{Error, Event, Revision, WatchStream};

/// One committed group of events, in revision order, as published by a backend's writer.
pub(crate) type Batch = Arc<[Event]>;

/// The sending side of a backend's event broadcast.
pub(crate) type EventSender = broadcast::Sender<Batch>;

/// What a watch stream carries between polls.
struct State {
    /// Events ready to be handed out (history first, then filtered live events).
    ready: VecDeque<Event>,
    /// Live batches from the backend's writer.
    live: broadcast::Receiver<Batch>,
    /// The key prefix the watcher asked for.
    prefix: String,
    /// The highest revision already covered (by the history or a live batch); live events at or
    /// below it are duplicates and are skipped.
    covered: Revision,
    /// Set once the stream has yielded its final error.
    finished: bool,
}

/// Builds a watch stream from `history` (events after the watch's start revision that were
/// already committed when `live` was subscribed or later, in revision order) and the live
/// broadcast. `covered` is the revision the history was read at: live events at or below it are
/// already in the history (or did not match) and are dropped, so there is no gap and no duplicate.
pub(crate) fn stream(
    history: Vec<Event>,
    live: broadcast::Receiver<Batch>,
    prefix: String,
    covered: Revision,
) -> WatchStream {
    let state = State {
        ready: history.into(),
        live,
        prefix,
        covered,
        finished: false,
    };
    Box::pin(stream::unfold(state, |mut st| async move {
        loop {
            if st.finished {
                return None;
            }
            if let Some(event) = st.ready.pop_front() {
                return Some((Ok(event), st));
            }
            match st.live.recv().await {
                Ok(batch) => {
                    for event in batch.iter() {
                        if event.revision() <= st.covered {
                            continue;
                        }
                        st.covered = event.revision();
                        if event.key().starts_with(&st.prefix) {
                            st.ready.push_back(event.clone());
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    st.finished = true;
                    let err = Error::Backend(format!(
                        "watcher too slow: {missed} event batches were dropped after revision {}; \
                         list again and watch from the new revision",
                        st.covered
                    ));
                    return Some((Err(err), st));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }))
}

/// The smallest string greater than every string starting with `prefix`, or `None` when no such
/// bound exists (empty prefix, or a prefix made only of `char::MAX`). Strings compare by their
/// UTF-8 bytes, which orders like code points, so `prefix <= s < end` holds exactly for the
/// strings `s` starting with `prefix`.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_last_char() {
        assert_eq!(prefix_end("/a/").as_deref(), Some("/a0"));
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("").as_deref(), None);
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}").as_deref(), None);
        assert_eq!(prefix_end("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
    }
}
