//! The storage conformance suite: every backend must pass the same behaviour tests.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures::StreamExt;
use store::{Error, Event, MemoryStore, SqliteStore, Storage};

fn b(s: &str) -> Bytes {
    Bytes::from(s.to_string())
}

/// Runs one conformance test against each backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { super::$name(std::sync::Arc::new(store::MemoryStore::new())).await; })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let store = store::SqliteStore::open(&dir.path().join("db")).unwrap();
                super::$name(std::sync::Arc::new(store)).await;
            })*
        }
    };
}

conformance!(
    create_get_and_revisions,
    compare_and_swap,
    list_by_prefix,
    watch_replays_then_follows,
    compaction_expires_old_revisions,
    concurrent_updates_lose_nothing,
);

async fn create_get_and_revisions(s: Arc<dyn Storage>) {
    assert_eq!(s.current_revision().await.unwrap(), 0);
    assert_eq!(s.create("/a", b("1")).await.unwrap(), 1);
    assert_eq!(s.create("/b", b("2")).await.unwrap(), 2);
    assert!(matches!(s.create("/a", b("x")).await, Err(Error::AlreadyExists(_))));
    let a = s.get("/a").await.unwrap().unwrap();
    assert_eq!((a.value, a.create_revision, a.mod_revision), (b("1"), 1, 1));
    assert!(s.get("/missing").await.unwrap().is_none());
    assert_eq!(s.current_revision().await.unwrap(), 2);
}

async fn compare_and_swap(s: Arc<dyn Storage>) {
    let r1 = s.create("/k", b("v1")).await.unwrap();
    let r2 = s.update("/k", b("v2"), r1).await.unwrap();
    assert_eq!(r2, r1 + 1);
    match s.update("/k", b("stale"), r1).await {
        Err(Error::Conflict { expected, actual, .. }) => assert_eq!((expected, actual), (r1, r2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(s.update("/nope", b("x"), 1).await, Err(Error::NotFound(_))));
    assert!(matches!(s.delete("/k", Some(r1)).await, Err(Error::Conflict { .. })));
    let deleted = s.delete("/k", Some(r2)).await.unwrap();
    assert_eq!((deleted.value, deleted.mod_revision, deleted.create_revision), (b("v2"), r2 + 1, r1));
    assert!(s.get("/k").await.unwrap().is_none());
    assert!(matches!(s.delete("/k", None).await, Err(Error::NotFound(_))));
}

async fn list_by_prefix(s: Arc<dyn Storage>) {
    for key in ["/r/b", "/r/a", "/q/x", "/r/c", "/rr"] {
        s.create(key, b(key)).await.unwrap();
    }
    let list = s.list("/r/").await.unwrap();
    let keys: Vec<&str> = list.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/r/a", "/r/b", "/r/c"]);
    assert_eq!(list.revision, 5);
}

async fn watch_replays_then_follows(s: Arc<dyn Storage>) {
    let r1 = s.create("/w/a", b("1")).await.unwrap();
    s.create("/other", b("x")).await.unwrap();
    let r3 = s.update("/w/a", b("2"), r1).await.unwrap();
    let mut watch = s.watch("/w/", r1).await.unwrap();
    // History after r1.
    match watch.next().await.unwrap().unwrap() {
        Event::Put { kv, .. } => assert_eq!((kv.mod_revision, kv.value), (r3, b("2"))),
        other => panic!("{other:?}"),
    }
    // Then live events, in order, filtered by prefix.
    s.create("/elsewhere", b("x")).await.unwrap();
    s.create("/w/b", b("3")).await.unwrap();
    s.delete("/w/a", None).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next()).await.unwrap().unwrap().unwrap();
    assert!(matches!(next, Event::Put { ref kv, .. } if kv.key == "/w/b"), "{next:?}");
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next()).await.unwrap().unwrap().unwrap();
    assert!(matches!(next, Event::Delete { ref kv } if kv.key == "/w/a" && kv.value == b("2")), "{next:?}");
}

async fn compaction_expires_old_revisions(s: Arc<dyn Storage>) {
    let r1 = s.create("/c", b("1")).await.unwrap();
    let r2 = s.update("/c", b("2"), r1).await.unwrap();
    let r3 = s.update("/c", b("3"), r2).await.unwrap();
    s.compact(r2).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), r2);
    assert!(matches!(s.watch("/", r1).await, Err(Error::Compacted { .. })));
    let mut watch = s.watch("/", r2).await.unwrap();
    let event = watch.next().await.unwrap().unwrap();
    assert_eq!(event.revision(), r3);
    // Current values survive compaction.
    assert_eq!(s.get("/c").await.unwrap().unwrap().value, b("3"));
    assert!(matches!(s.compact(r3 + 10).await, Err(Error::FutureRevision(_))));
}

async fn concurrent_updates_lose_nothing(s: Arc<dyn Storage>) {
    s.create("/counter", b("0")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                loop {
                    let kv = s.get("/counter").await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    match s.update("/counter", b(&(n + 1).to_string()), kv.mod_revision).await {
                        Ok(_) => break,
                        Err(Error::Conflict { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.get("/counter").await.unwrap().unwrap().value, b("200"));
}

#[tokio::test]
async fn sqlite_reopen_keeps_data_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let s = SqliteStore::open(&path).unwrap();
        let r = s.create("/p/a", b("1")).await.unwrap();
        s.create("/p/b", b("2")).await.unwrap();
        s.delete("/p/b", None).await.unwrap();
        s.update("/p/a", b("3"), r).await.unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), 4);
    assert_eq!(s.get("/p/a").await.unwrap().unwrap().value, b("3"));
    assert!(s.get("/p/b").await.unwrap().is_none());
    assert_eq!(s.create("/p/c", b("4")).await.unwrap(), 5);
}

#[tokio::test]
async fn memory_store_is_empty_at_start() {
    assert!(MemoryStore::new().list("/").await.unwrap().kvs.is_empty());
}
