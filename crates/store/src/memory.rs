//! In-memory backend for tests: a map of current values, an event log and a broadcast of events.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::watch::{self, EventSender};
use crate::{Error, Event, KeyValue, ListResult, Result, Revision, Storage, WatchStream};

/// How many events a watcher may fall behind before it is cut off, by default.
pub const DEFAULT_WATCH_CAPACITY: usize = 16 * 1024;

/// The state behind the lock.
#[derive(Default)]
struct Inner {
    /// Current values by key.
    data: BTreeMap<String, KeyValue>,
    /// Every event after `compacted`, in revision order.
    log: Vec<Event>,
    /// The revision of the last write.
    revision: Revision,
    /// The revision of the last compaction.
    compacted: Revision,
}

/// A [`Storage`] that keeps everything in memory; nothing survives the process. Meant for tests
/// and for running without a disk.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    events: EventSender,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store at revision 0.
    pub fn new() -> Self {
        Self::with_watch_capacity(DEFAULT_WATCH_CAPACITY)
    }

    /// An empty store whose watchers are cut off (with a final "watcher too slow" error) once they
    /// fall `capacity` events behind the writers.
    pub fn with_watch_capacity(capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity.max(1));
        Self {
            inner: Mutex::new(Inner::default()),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is never left half-updated across a panic point, so a poisoned lock is safe.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `event` as the newest write and pushes it to watchers. Called with the lock held so
    /// that watchers see events in revision order.
    fn commit(&self, inner: &mut Inner, event: Event) {
        inner.revision = event.revision();
        inner.log.push(event.clone());
        let batch: watch::Batch = Arc::from(vec![event]);
        // No receivers is fine: nobody watches.
        let _ = self.events.send(batch);
    }
}

#[async_trait::async_trait]
impl Storage for MemoryStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.lock().revision)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.lock().data.get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<ListResult> {
        let inner = self.lock();
        let kvs = inner
            .data
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect();
        Ok(ListResult {
            kvs,
            revision: inner.revision,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let mut inner = self.lock();
        if inner.data.contains_key(key) {
            return Err(Error::AlreadyExists(key.to_owned()));
        }
        let revision = inner.revision + 1;
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        };
        inner.data.insert(key.to_owned(), kv.clone());
        self.commit(&mut inner, Event::Put { kv, prev: None });
        Ok(revision)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let mut inner = self.lock();
        let revision = inner.revision + 1;
        let Some(current) = inner.data.get_mut(key) else {
            return Err(Error::NotFound(key.to_owned()));
        };
        if current.mod_revision != expected {
            return Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                actual: current.mod_revision,
            });
        }
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: current.create_revision,
            mod_revision: revision,
        };
        let prev = std::mem::replace(current, kv.clone());
        self.commit(
            &mut inner,
            Event::Put {
                kv,
                prev: Some(prev),
            },
        );
        Ok(revision)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let mut inner = self.lock();
        let Some(current) = inner.data.get(key) else {
            return Err(Error::NotFound(key.to_owned()));
        };
        if let Some(expected) = expected
            && current.mod_revision != expected
        {
            return Err(Error::Conflict {
                key: key.to_owned(),
                expected,
                actual: current.mod_revision,
            });
        }
        let revision = inner.revision + 1;
        let mut kv = inner
            .data
            .remove(key)
            .ok_or_else(|| Error::NotFound(key.to_owned()))?;
        kv.mod_revision = revision;
        self.commit(&mut inner, Event::Delete { kv: kv.clone() });
        Ok(kv)
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        // Revisions start at 1: a negative start means "from the beginning" like 0.
        let after = after.max(0);
        let inner = self.lock();
        if after < inner.compacted {
            return Err(Error::Compacted {
                requested: after,
                compacted: inner.compacted,
            });
        }
        // Subscribing under the lock: every later write is delivered live, every earlier one is
        // in the log.
        let live = self.events.subscribe();
        let start = inner.log.partition_point(|e| e.revision() <= after);
        let history = inner.log[start..]
            .iter()
            .filter(|e| e.key().starts_with(prefix))
            .cloned()
            .collect();
        // A start in the future (as etcd allows) waits for the writes past it.
        let covered = inner.revision.max(after);
        Ok(watch::stream(history, live, prefix.to_owned(), covered))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let mut inner = self.lock();
        if revision > inner.revision {
            return Err(Error::FutureRevision(revision));
        }
        if revision <= inner.compacted {
            return Ok(());
        }
        let end = inner.log.partition_point(|e| e.revision() <= revision);
        inner.log.drain(..end);
        inner.compacted = revision;
        Ok(())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.lock().compacted)
    }
}
