//! In-memory backend for tests: the same contract as the durable backend, nothing on disk.

use std::{collections::BTreeMap, sync::Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::{Error, Event, KeyValue, ListResult, Result, Revision, Storage, WatchStream, live_events};

/// How many events a watcher may fall behind before it is ended.
const WATCH_BUFFER: usize = 65_536;

struct Inner {
    current: BTreeMap<String, KeyValue>,
    revision: Revision,
    /// Every event after `compacted`, in revision order.
    history: Vec<Event>,
    compacted: Revision,
}

/// A store that lives in memory only.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Event>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner {
                current: BTreeMap::new(),
                revision: 0,
                history: Vec::new(),
                compacted: 0,
            }),
            events: broadcast::channel(WATCH_BUFFER).0,
        }
    }

    fn write(&self, f: impl FnOnce(&mut Inner) -> Result<Event>) -> Result<Event> {
        let mut inner = self.inner.lock().expect("store lock");
        let event = f(&mut inner)?;
        inner.revision = event.revision();
        inner.history.push(event.clone());
        let _ = self.events.send(event.clone());
        Ok(event)
    }
}

#[async_trait]
impl Storage for MemoryStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.lock().expect("store lock").revision)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.inner.lock().expect("store lock").current.get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<ListResult> {
        let inner = self.inner.lock().expect("store lock");
        let kvs = inner
            .current
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok(ListResult {
            kvs,
            revision: inner.revision,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let event = self.write(|inner| {
            if inner.current.contains_key(key) {
                return Err(Error::AlreadyExists(key.to_string()));
            }
            let revision = inner.revision + 1;
            let kv = KeyValue {
                key: key.to_string(),
                value,
                create_revision: revision,
                mod_revision: revision,
            };
            inner.current.insert(key.to_string(), kv.clone());
            Ok(Event::Put { kv, prev: None })
        })?;
        Ok(event.revision())
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let event = self.write(|inner| {
            let prev = inner
                .current
                .get(key)
                .cloned()
                .ok_or_else(|| Error::NotFound(key.to_string()))?;
            if prev.mod_revision != expected {
                return Err(Error::Conflict {
                    key: key.to_string(),
                    expected,
                    actual: prev.mod_revision,
                });
            }
            let kv = KeyValue {
                key: key.to_string(),
                value,
                create_revision: prev.create_revision,
                mod_revision: inner.revision + 1,
            };
            inner.current.insert(key.to_string(), kv.clone());
            Ok(Event::Put {
                kv,
                prev: Some(prev),
            })
        })?;
        Ok(event.revision())
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let event = self.write(|inner| {
            let prev = inner
                .current
                .get(key)
                .cloned()
                .ok_or_else(|| Error::NotFound(key.to_string()))?;
            if let Some(expected) = expected.filter(|e| *e != prev.mod_revision) {
                return Err(Error::Conflict {
                    key: key.to_string(),
                    expected,
                    actual: prev.mod_revision,
                });
            }
            inner.current.remove(key);
            let kv = KeyValue {
                mod_revision: inner.revision + 1,
                ..prev
            };
            Ok(Event::Delete { kv })
        })?;
        match event {
            Event::Delete { kv } => Ok(kv),
            Event::Put { kv, .. } => Ok(kv),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let inner = self.inner.lock().expect("store lock");
        if after < inner.compacted {
            return Err(Error::Compacted {
                requested: after,
                compacted: inner.compacted,
            });
        }
        let live = self.events.subscribe();
        let start = inner.history.partition_point(|e| e.revision() <= after);
        let history: Vec<Result<Event>> = inner.history[start..]
            .iter()
            .filter(|e| e.key().starts_with(prefix))
            .cloned()
            .map(Ok)
            .collect();
        let last = inner.revision;
        drop(inner);
        Ok(futures::stream::iter(history)
            .chain(live_events(live, prefix, last))
            .boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let mut inner = self.inner.lock().expect("store lock");
        if revision > inner.revision {
            return Err(Error::FutureRevision(revision));
        }
        let keep = inner.history.partition_point(|e| e.revision() <= revision);
        inner.history.drain(..keep);
        inner.compacted = inner.compacted.max(revision);
        Ok(())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.inner.lock().expect("store lock").compacted)
    }
}
