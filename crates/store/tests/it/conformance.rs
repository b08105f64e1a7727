//! The conformance suite: every test runs against each backend and must behave the same.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use store::{Error, Event, KeyValue, Storage};

use crate::{assert_quiet, b, next_event, next_events};

/// Runs each listed `async fn(Arc<dyn Storage>)` against a fresh store of each backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(std::sync::Arc::new(store::MemoryStore::new())).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = store::SqliteStore::open(&dir.path().join("store.db"))
                        .expect("open sqlite store");
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

conformance!(
    create_get_and_revisions,
    compare_and_swap,
    delete_and_recreate,
    failed_writes_do_not_bump_revision,
    values_round_trip,
    list_by_prefix,
    list_every_key_and_unicode_order,
    watch_replays_then_follows,
    watch_history_equals_live_events,
    watch_filters_by_prefix,
    watch_from_now_sees_only_new_events,
    watch_from_a_future_revision_waits_for_it,
    compaction_expires_old_revisions,
    compaction_is_monotonic,
    compaction_keeps_deleted_keys_deleted,
    concurrent_updates_lose_nothing,
    concurrent_creates_get_every_revision_once,
    watch_during_concurrent_writes_has_no_gap,
);

async fn create_get_and_revisions(s: Arc<dyn Storage>) {
    assert_eq!(s.current_revision().await.unwrap(), 0);
    assert_eq!(s.compacted_revision().await.unwrap(), 0);
    assert_eq!(s.create("/a", b("1")).await.unwrap(), 1);
    assert_eq!(s.create("/b", b("2")).await.unwrap(), 2);
    assert!(matches!(s.create("/a", b("x")).await, Err(Error::AlreadyExists(k)) if k == "/a"));
    let a = s.get("/a").await.unwrap().unwrap();
    assert_eq!(
        a,
        KeyValue {
            key: "/a".into(),
            value: b("1"),
            create_revision: 1,
            mod_revision: 1
        }
    );
    assert!(s.get("/missing").await.unwrap().is_none());
    assert_eq!(s.current_revision().await.unwrap(), 2);
}

async fn compare_and_swap(s: Arc<dyn Storage>) {
    let r1 = s.create("/k", b("v1")).await.unwrap();
    let r2 = s.update("/k", b("v2"), r1).await.unwrap();
    assert_eq!(r2, r1 + 1);
    let kv = s.get("/k").await.unwrap().unwrap();
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("v2"), r1, r2)
    );
    match s.update("/k", b("stale"), r1).await {
        Err(Error::Conflict {
            key,
            expected,
            actual,
        }) => assert_eq!((key.as_str(), expected, actual), ("/k", r1, r2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(s.update("/nope", b("x"), 1).await, Err(Error::NotFound(k)) if k == "/nope"));
    match s.delete("/k", Some(r1)).await {
        Err(Error::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (r1, r2)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.get("/k").await.unwrap().unwrap().value, b("v2"));
    let deleted = s.delete("/k", Some(r2)).await.unwrap();
    assert_eq!(
        deleted,
        KeyValue {
            key: "/k".into(),
            value: b("v2"),
            create_revision: r1,
            mod_revision: r2 + 1
        }
    );
    assert!(s.get("/k").await.unwrap().is_none());
    assert!(matches!(
        s.delete("/k", None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        s.update("/k", b("x"), r2 + 1).await,
        Err(Error::NotFound(_))
    ));
}

async fn delete_and_recreate(s: Arc<dyn Storage>) {
    let r1 = s.create("/d", b("one")).await.unwrap();
    let r2 = s.update("/d", b("two"), r1).await.unwrap();
    let deleted = s.delete("/d", None).await.unwrap();
    assert_eq!((deleted.value, deleted.mod_revision), (b("two"), r2 + 1));
    let r4 = s.create("/d", b("three")).await.unwrap();
    assert_eq!(r4, r2 + 2);
    let kv = s.get("/d").await.unwrap().unwrap();
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("three"), r4, r4)
    );
    // The old incarnation's revision no longer guards anything.
    assert!(matches!(
        s.update("/d", b("x"), r2).await,
        Err(Error::Conflict { .. })
    ));
}

async fn failed_writes_do_not_bump_revision(s: Arc<dyn Storage>) {
    let mut expected = 0;
    for i in 0..10 {
        let key = format!("/f/{i}");
        expected += 1;
        assert_eq!(s.create(&key, b("v")).await.unwrap(), expected);
        assert!(s.create(&key, b("v")).await.is_err());
        assert!(s.update(&key, b("v"), expected - 1).await.is_err());
        assert!(s.delete(&key, Some(expected + 5)).await.is_err());
        assert!(s.update("/f/none", b("v"), 1).await.is_err());
        assert!(s.delete("/f/none", None).await.is_err());
        expected += 1;
        assert_eq!(
            s.update(&key, b("w"), expected - 1).await.unwrap(),
            expected
        );
        assert_eq!(s.current_revision().await.unwrap(), expected);
    }
    for i in 0..10 {
        expected += 1;
        let kv = s.delete(&format!("/f/{i}"), None).await.unwrap();
        assert_eq!(kv.mod_revision, expected);
    }
    assert_eq!(s.current_revision().await.unwrap(), expected);
    assert_eq!(s.list("/").await.unwrap().revision, expected);
}

async fn values_round_trip(s: Arc<dyn Storage>) {
    let binary: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let r1 = s.create("/bin", binary.clone().into()).await.unwrap();
    assert_eq!(
        s.get("/bin").await.unwrap().unwrap().value.as_ref(),
        &binary[..]
    );
    s.update("/bin", bytes::Bytes::new(), r1).await.unwrap();
    assert!(s.get("/bin").await.unwrap().unwrap().value.is_empty());
    s.create("/empty", bytes::Bytes::new()).await.unwrap();
    assert!(s.get("/empty").await.unwrap().unwrap().value.is_empty());
}

async fn list_by_prefix(s: Arc<dyn Storage>) {
    for key in ["/r/b", "/r/a", "/q/x", "/r/c", "/rr", "/r", "/r/a/nested"] {
        s.create(key, b(key)).await.unwrap();
    }
    let list = s.list("/r/").await.unwrap();
    let keys: Vec<&str> = list.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/r/a", "/r/a/nested", "/r/b", "/r/c"]);
    assert_eq!(list.revision, 7);
    for kv in &list.kvs {
        assert_eq!(kv.value, b(&kv.key));
    }
    let keys: Vec<String> = s
        .list("/r")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, ["/r", "/r/a", "/r/a/nested", "/r/b", "/r/c", "/rr"]);
    assert!(s.list("/s").await.unwrap().kvs.is_empty());
    // A write elsewhere still moves the list revision.
    s.create("/z", b("z")).await.unwrap();
    let list = s.list("/r/").await.unwrap();
    assert_eq!((list.kvs.len(), list.revision), (4, 8));
    // A deleted key disappears from lists.
    s.delete("/r/b", None).await.unwrap();
    let keys: Vec<String> = s
        .list("/r/")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, ["/r/a", "/r/a/nested", "/r/c"]);
}

async fn list_every_key_and_unicode_order(s: Arc<dyn Storage>) {
    let keys = [
        "/u/é",
        "/u/z",
        "/u/\u{10FFFF}",
        "/u/\u{FFFF}",
        "/u/A",
        "/u/\u{D7FF}",
        "/u/\u{E000}",
        "/v",
        "/u\u{10FFFF}",
    ];
    for key in keys {
        s.create(key, b(key)).await.unwrap();
    }
    let all: Vec<String> = s
        .list("")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(all, sorted);
    let under: Vec<String> = s
        .list("/u/")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    let expected: Vec<String> = sorted
        .iter()
        .filter(|k| k.starts_with("/u/"))
        .cloned()
        .collect();
    assert_eq!(under, expected);
    let high: Vec<String> = s
        .list("/u/\u{D7FF}")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(high, ["/u/\u{D7FF}"]);
    let max: Vec<String> = s
        .list("/u\u{10FFFF}")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(max, ["/u\u{10FFFF}"]);
}

async fn watch_replays_then_follows(s: Arc<dyn Storage>) {
    let r1 = s.create("/w/a", b("1")).await.unwrap();
    s.create("/other", b("x")).await.unwrap();
    let r3 = s.update("/w/a", b("2"), r1).await.unwrap();
    let mut watch = s.watch("/w/", r1).await.unwrap();
    // History after r1, with the previous value.
    assert_eq!(
        next_event(&mut watch).await,
        Event::Put {
            kv: KeyValue {
                key: "/w/a".into(),
                value: b("2"),
                create_revision: r1,
                mod_revision: r3
            },
            prev: Some(KeyValue {
                key: "/w/a".into(),
                value: b("1"),
                create_revision: r1,
                mod_revision: r1
            }),
        }
    );
    assert_quiet(&mut watch).await;
    // Then live events, in order, filtered by prefix.
    s.create("/elsewhere", b("x")).await.unwrap();
    let r5 = s.create("/w/b", b("3")).await.unwrap();
    let r6 = s.delete("/w/a", None).await.unwrap().mod_revision;
    assert_eq!(
        next_event(&mut watch).await,
        Event::Put {
            kv: KeyValue {
                key: "/w/b".into(),
                value: b("3"),
                create_revision: r5,
                mod_revision: r5
            },
            prev: None,
        }
    );
    assert_eq!(
        next_event(&mut watch).await,
        Event::Delete {
            kv: KeyValue {
                key: "/w/a".into(),
                value: b("2"),
                create_revision: r1,
                mod_revision: r6
            }
        }
    );
    assert_quiet(&mut watch).await;
}

/// Applies a fixed mix of writes; returns how many.
async fn write_mix(s: &dyn Storage, prefix: &str) -> usize {
    let mut writes = 0;
    for i in 0..20 {
        let key = format!("{prefix}{}", i % 7);
        match s.get(&key).await.unwrap() {
            None => {
                s.create(&key, b(&format!("c{i}"))).await.unwrap();
            }
            Some(kv) if i % 3 == 0 => {
                s.delete(&key, Some(kv.mod_revision)).await.unwrap();
            }
            Some(kv) => {
                s.update(&key, b(&format!("u{i}")), kv.mod_revision)
                    .await
                    .unwrap();
            }
        }
        writes += 1;
    }
    writes
}

async fn watch_history_equals_live_events(s: Arc<dyn Storage>) {
    let start = s.current_revision().await.unwrap();
    let mut live = s.watch("/h/", start).await.unwrap();
    let n = write_mix(s.as_ref(), "/h/").await;
    let live_events = next_events(&mut live, n).await;
    let mut replay = s.watch("/h/", start).await.unwrap();
    let replayed = next_events(&mut replay, n).await;
    assert_eq!(live_events, replayed);
    // Revisions follow each other, and each event's prev is the key's previous state.
    let mut state: std::collections::HashMap<String, KeyValue> = Default::default();
    for (i, event) in replayed.iter().enumerate() {
        assert_eq!(event.revision(), start + 1 + i as i64);
        match event {
            Event::Put { kv, prev } => {
                assert_eq!(prev.as_ref(), state.get(&kv.key));
                if prev.is_none() {
                    assert_eq!(kv.create_revision, kv.mod_revision);
                }
                state.insert(kv.key.clone(), kv.clone());
            }
            Event::Delete { kv } => {
                let before = state.remove(&kv.key).expect("deleted key existed");
                assert_eq!(
                    (&before.value, before.create_revision),
                    (&kv.value, kv.create_revision)
                );
            }
        }
    }
    // The replayed final state is the listed state.
    let listed = s.list("/h/").await.unwrap().kvs;
    let mut replayed_state: Vec<KeyValue> = state.into_values().collect();
    replayed_state.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(listed, replayed_state);
}

async fn watch_filters_by_prefix(s: Arc<dyn Storage>) {
    let mut all = s.watch("", 0).await.unwrap();
    let mut narrow = s.watch("/p/a", 0).await.unwrap();
    for key in ["/p/a", "/p/b", "/p/ab", "/q", "/p/a/x"] {
        s.create(key, b(key)).await.unwrap();
    }
    let keys: Vec<String> = next_events(&mut all, 5)
        .await
        .iter()
        .map(|e| e.key().to_owned())
        .collect();
    assert_eq!(keys, ["/p/a", "/p/b", "/p/ab", "/q", "/p/a/x"]);
    let keys: Vec<String> = next_events(&mut narrow, 3)
        .await
        .iter()
        .map(|e| e.key().to_owned())
        .collect();
    assert_eq!(keys, ["/p/a", "/p/ab", "/p/a/x"]);
    assert_quiet(&mut narrow).await;
}

async fn watch_from_now_sees_only_new_events(s: Arc<dyn Storage>) {
    s.create("/n/old", b("x")).await.unwrap();
    let now = s.current_revision().await.unwrap();
    let mut watch = s.watch("/n/", now).await.unwrap();
    assert_quiet(&mut watch).await;
    let r = s.create("/n/new", b("y")).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!((event.key(), event.revision()), ("/n/new", r));
}

async fn watch_from_a_future_revision_waits_for_it(s: Arc<dyn Storage>) {
    s.create("/x/1", b("x")).await.unwrap();
    let mut watch = s.watch("/x/", 3).await.unwrap();
    s.create("/x/2", b("x")).await.unwrap();
    s.create("/x/3", b("x")).await.unwrap();
    assert_quiet(&mut watch).await;
    s.create("/x/4", b("x")).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!((event.key(), event.revision()), ("/x/4", 4));
}

async fn compaction_expires_old_revisions(s: Arc<dyn Storage>) {
    let r1 = s.create("/c", b("1")).await.unwrap();
    let r2 = s.update("/c", b("2"), r1).await.unwrap();
    let r3 = s.update("/c", b("3"), r2).await.unwrap();
    s.compact(r2).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), r2);
    match s.watch("/", r1).await {
        Err(Error::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (r1, r2)),
        Err(e) => panic!("expected Compacted, got {e}"),
        Ok(_) => panic!("expected Compacted, got a watch"),
    }
    assert!(matches!(
        s.watch("/", 0).await,
        Err(Error::Compacted { .. })
    ));
    let mut watch = s.watch("/", r2).await.unwrap();
    let event = next_event(&mut watch).await;
    assert_eq!(event.revision(), r3);
    // The event after the compaction point keeps its previous value.
    assert!(matches!(event, Event::Put { prev: Some(ref p), .. } if p.value == b("2")));
    // Current values survive compaction.
    assert_eq!(s.get("/c").await.unwrap().unwrap().value, b("3"));
    assert_eq!(s.list("/").await.unwrap().kvs.len(), 1);
    assert!(matches!(
        s.compact(r3 + 10).await,
        Err(Error::FutureRevision(_))
    ));
    // Writes go on after a compaction.
    assert_eq!(s.update("/c", b("4"), r3).await.unwrap(), r3 + 1);
    assert_eq!(next_event(&mut watch).await.revision(), r3 + 1);
}

async fn compaction_is_monotonic(s: Arc<dyn Storage>) {
    for i in 0..10 {
        s.create(&format!("/m/{i}"), b("v")).await.unwrap();
    }
    s.compact(6).await.unwrap();
    s.compact(3).await.unwrap();
    s.compact(6).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), 6);
    assert!(s.watch("/", 6).await.is_ok());
    assert!(s.watch("/", 5).await.is_err());
    s.compact(10).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), 10);
    let mut watch = s.watch("/m/", 10).await.unwrap();
    assert_quiet(&mut watch).await;
    assert_eq!(s.list("/m/").await.unwrap().kvs.len(), 10);
    assert_eq!(s.current_revision().await.unwrap(), 10);
}

async fn compaction_keeps_deleted_keys_deleted(s: Arc<dyn Storage>) {
    let r1 = s.create("/g/a", b("a")).await.unwrap();
    s.create("/g/b", b("b")).await.unwrap();
    s.update("/g/a", b("a2"), r1).await.unwrap();
    let del = s.delete("/g/b", None).await.unwrap().mod_revision;
    s.compact(del).await.unwrap();
    assert_eq!(s.current_revision().await.unwrap(), del);
    assert!(s.get("/g/b").await.unwrap().is_none());
    let list = s.list("/g/").await.unwrap();
    assert_eq!(list.revision, del);
    assert_eq!(
        list.kvs
            .iter()
            .map(|kv| kv.key.as_str())
            .collect::<Vec<_>>(),
        ["/g/a"]
    );
    // The next write continues from the compacted revision.
    assert_eq!(s.create("/g/b", b("again")).await.unwrap(), del + 1);
}

async fn concurrent_updates_lose_nothing(s: Arc<dyn Storage>) {
    s.create("/counter", b("0")).await.unwrap();
    let tasks = 16;
    let per_task = 25;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..per_task {
                loop {
                    let kv = s.get("/counter").await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    match s
                        .update("/counter", b(&(n + 1).to_string()), kv.mod_revision)
                        .await
                    {
                        Ok(_) => break,
                        Err(Error::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            conflicts
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let total = tasks * per_task;
    let kv = s.get("/counter").await.unwrap().unwrap();
    assert_eq!(kv.value, b(&total.to_string()));
    assert_eq!(kv.mod_revision, 1 + total as i64);
    assert_eq!(s.current_revision().await.unwrap(), 1 + total as i64);
}

async fn concurrent_creates_get_every_revision_once(s: Arc<dyn Storage>) {
    let mut watch = s.watch("/cc/", 0).await.unwrap();
    let tasks = 32;
    let per_task = 40;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for i in 0..per_task {
                let key = format!("/cc/{t}/{i}");
                revisions.push((s.create(&key, b(&key)).await.unwrap(), key));
            }
            revisions
        }));
    }
    let mut seen = HashSet::new();
    let mut by_revision = std::collections::BTreeMap::new();
    for handle in handles {
        for (revision, key) in handle.await.unwrap() {
            assert!(seen.insert(revision), "revision {revision} given twice");
            by_revision.insert(revision, key);
        }
    }
    let total = tasks * per_task;
    assert_eq!(
        by_revision.keys().copied().collect::<Vec<_>>(),
        (1..=total as i64).collect::<Vec<_>>()
    );
    // The watch saw every create, in revision order, at the revision the creator was told.
    for (revision, key) in &by_revision {
        let event = next_event(&mut watch).await;
        assert_eq!((event.revision(), event.key()), (*revision, key.as_str()));
    }
    let list = s.list("/cc/").await.unwrap();
    assert_eq!((list.kvs.len(), list.revision), (total, total as i64));
}

async fn watch_during_concurrent_writes_has_no_gap(s: Arc<dyn Storage>) {
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    s.create(&format!("/wc/{t}/{i}"), b("v")).await.unwrap();
                    if i % 10 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Start watching somewhere in the middle of the writes.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let start = s.current_revision().await.unwrap();
    let mut watch = s.watch("/wc/", start).await.unwrap();
    for handle in writers {
        handle.await.unwrap();
    }
    let end = s.current_revision().await.unwrap();
    assert_eq!(end, 800);
    let mut expected = start + 1;
    while expected <= end {
        let event = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("no error");
        assert_eq!(event.revision(), expected, "gap or duplicate in the watch");
        expected += 1;
    }
    assert_quiet(&mut watch).await;
}
