//! SQLite-specific behaviour: reopening, what compaction leaves on disk, slow watchers, locking.

use std::path::Path;

use futures::StreamExt;
use store::{Error, Event, MemoryStore, SqliteOptions, SqliteStore, Storage};

use crate::{b, next_event, next_events};

/// Counts rows of the store's log table with a separate connection.
fn log_rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM log", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_revision_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let history: Vec<Event>;
    {
        let s = SqliteStore::open(&path).unwrap();
        let r = s.create("/p/a", b("1")).await.unwrap();
        s.create("/p/b", b("2")).await.unwrap();
        s.delete("/p/b", None).await.unwrap();
        s.update("/p/a", b("3"), r).await.unwrap();
        let mut watch = s.watch("/p/", 0).await.unwrap();
        history = next_events(&mut watch, 4).await;
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), 4);
    assert_eq!(s.get("/p/a").await.unwrap().unwrap().value, b("3"));
    assert!(s.get("/p/b").await.unwrap().is_none());
    let mut watch = s.watch("/p/", 0).await.unwrap();
    assert_eq!(next_events(&mut watch, 4).await, history);
    assert_eq!(s.create("/p/c", b("4")).await.unwrap(), 5);
    assert_eq!(next_event(&mut watch).await.revision(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_compacting_a_trailing_delete_keeps_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.create("/t/a", b("1")).await.unwrap();
        s.create("/t/b", b("2")).await.unwrap();
        let del = s.delete("/t/b", None).await.unwrap().mod_revision;
        s.compact(del).await.unwrap();
    }
    // The tombstone at revision 3 is gone from the log, yet the revision must not go back.
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), 3);
    assert_eq!(s.compacted_revision().await.unwrap(), 3);
    assert!(matches!(
        s.watch("/", 2).await,
        Err(Error::Compacted { .. })
    ));
    assert_eq!(s.list("/").await.unwrap().revision, 3);
    assert_eq!(s.create("/t/c", b("3")).await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_deletes_superseded_rows_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let s = SqliteStore::open(&path).unwrap();
    // 50 keys, each written 4 times (create + 3 updates), then 10 of them deleted: 250 rows.
    for i in 0..50 {
        s.create(&format!("/k/{i}"), b("0")).await.unwrap();
    }
    for round in 1..=3 {
        for i in 0..50 {
            let key = format!("/k/{i}");
            let kv = s.get(&key).await.unwrap().unwrap();
            s.update(&key, b(&round.to_string()), kv.mod_revision)
                .await
                .unwrap();
        }
    }
    for i in 0..10 {
        s.delete(&format!("/k/{i}"), None).await.unwrap();
    }
    assert_eq!(log_rows(&path), 210);
    let before = s.list("/k/").await.unwrap().kvs;

    // Compacting to the end of round 2 keeps, per key, the round-2 row and the round-3 row.
    s.compact(150).await.unwrap();
    assert_eq!(log_rows(&path), 50 + 50 + 10);
    // Compacting everything leaves one row per live key.
    s.compact(s.current_revision().await.unwrap())
        .await
        .unwrap();
    assert_eq!(log_rows(&path), 40);
    assert_eq!(s.list("/k/").await.unwrap().kvs, before);
    drop(s);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), 210);
    assert_eq!(s.list("/k/").await.unwrap().kvs, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_compaction_sweeps_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let s = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    // 24 keys updated 500 times each, concurrently: 12,024 revisions, more than one sweep chunk.
    let handles: Vec<_> = (0..24)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                let key = format!("/big/{t}");
                let mut revision = s.create(&key, b("0")).await.unwrap();
                for i in 1..=500 {
                    revision = s.update(&key, b(&i.to_string()), revision).await.unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let current = s.current_revision().await.unwrap();
    assert_eq!(current, 24 * 501);
    assert_eq!(log_rows(&path), current);
    s.compact(current).await.unwrap();
    assert_eq!(log_rows(&path), 24);
    let list = s.list("/big/").await.unwrap();
    assert!(list.kvs.iter().all(|kv| kv.value == b("500")));
    assert_eq!(list.revision, current);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_watcher_gets_an_error_and_the_stream_ends() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        watch_capacity: 4,
        ..SqliteOptions::default()
    };
    let sqlite = SqliteStore::open_with(&dir.path().join("db"), options).unwrap();
    let memory = MemoryStore::with_watch_capacity(4);
    for s in [&sqlite as &dyn Storage, &memory] {
        let mut watch = s.watch("/", 0).await.unwrap();
        // One write at a time: each is its own batch.
        for i in 0..20 {
            s.create(&format!("/slow/{i}"), b("v")).await.unwrap();
        }
        let mut events = 0;
        let error = loop {
            match watch.next().await {
                Some(Ok(_)) => events += 1,
                Some(Err(e)) => break e,
                None => panic!("stream ended without an error"),
            }
        };
        assert!(events < 20);
        assert!(error.to_string().contains("too slow"), "{error}");
        assert!(watch.next().await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_opens_in_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = SqliteStore::open(&path).unwrap();
    match SqliteStore::open(&path) {
        Err(Error::Backend(message)) => assert!(message.contains("already open"), "{message}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("second open succeeded"),
    }
    first.create("/a", b("1")).await.unwrap();
    drop(first);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.current_revision().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_end_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db")).unwrap();
    s.create("/a", b("1")).await.unwrap();
    let mut watch = s.watch("/", 0).await.unwrap();
    assert_eq!(next_event(&mut watch).await.revision(), 1);
    drop(s);
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), watch.next()).await;
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_fails_cleanly_on_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let result = SqliteStore::open(&dir.path().join("missing").join("db"));
    assert!(matches!(result, Err(Error::Backend(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_compactor_keeps_a_window() {
    let dir = tempfile::tempdir().unwrap();
    let s: std::sync::Arc<dyn Storage> =
        std::sync::Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    for i in 0..30 {
        s.create(&format!("/pc/{i}"), b("v")).await.unwrap();
    }
    assert_eq!(store::compact_once(s.as_ref(), 100).await.unwrap(), 0);
    let handle = store::spawn_compactor(s.clone(), std::time::Duration::from_millis(20), 10);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.compacted_revision().await.unwrap() != 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "compactor did not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    handle.abort();
    assert!(s.watch("/", 19).await.is_err());
    assert!(s.watch("/", 20).await.is_ok());
}
