//! The watch cache: every object of every resource in memory, fed by one watch on the store,
//! serving LIST and WATCH without touching the store.
//!
//! One task lists `/registry/` once and then follows a single store watch, routing each event
//! to the cache of its resource. Because that watch sees every write, the cache knows the
//! store revision it has caught up to, and a consistent read waits for the cache to reach the
//! store's current revision instead of reading the store (upstream's consistent reads from
//! cache). Each event is encoded once; every watcher shares the bytes.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, OnceLock, RwLock},
    time::Duration,
};

use apimachinery::{
    meta,
    resources::{self, ResourceInfo},
    status::ApiError,
};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use store::{Event, KeyValue, Revision, Storage};
use tokio::sync::{broadcast, watch};

/// How many events per resource a watch can resume from.
const HISTORY: usize = 10_000;
/// How far behind a watcher may fall before it is closed.
const WATCHER_BUFFER: usize = 4096;

/// One stored object, decoded once and encoded once.
#[derive(Debug)]
pub struct Entry {
    /// The object's namespace, `""` for cluster-scoped objects.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The revision of its last write (its `resourceVersion`).
    pub revision: Revision,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `metadata.labels`, kept decoded for label selectors.
    pub labels: Option<Value>,
    /// The object with `metadata.resourceVersion` set, encoded as JSON. Only the bytes are
    /// kept: a decoded tree costs several times their size, and most reads just copy them out.
    pub json: Bytes,
}

impl Entry {
    /// Decodes a stored value, setting its `resourceVersion` from the store revision.
    pub fn decode(kv: &KeyValue) -> Option<Entry> {
        let mut object: Value = serde_json::from_slice(&kv.value).ok()?;
        meta::set(&mut object, "resourceVersion", kv.mod_revision.to_string());
        let json = Bytes::from(serde_json::to_vec(&object).ok()?);
        Some(Entry {
            namespace: meta::namespace(&object).to_string(),
            name: meta::name(&object).to_string(),
            revision: kv.mod_revision,
            deleting: meta::is_deleting(&object),
            labels: meta::labels(&object).cloned(),
            json,
        })
    }

    /// Decodes the object (a fresh tree on every call).
    pub fn object(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was deleted.
    Deleted,
}

impl EventType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change of one object.
#[derive(Debug)]
pub struct CacheEvent {
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for deletes: the last state, at the delete's revision).
    pub object: Arc<Entry>,
    /// The object before the change, for updates and deletes.
    pub prev: Option<Arc<Entry>>,
    encoded: OnceLock<Bytes>,
}

impl CacheEvent {
    /// A new event.
    pub fn new(kind: EventType, object: Arc<Entry>, prev: Option<Arc<Entry>>) -> CacheEvent {
        CacheEvent {
            kind,
            object,
            prev,
            encoded: OnceLock::new(),
        }
    }

    /// The event as one line of a JSON watch stream, encoded on first use and shared after.
    pub fn json_line(&self) -> Bytes {
        self.encoded
            .get_or_init(|| frame(self.kind.as_str(), &self.object.json))
            .clone()
    }
}

/// Encodes one watch frame: `{"type":"ADDED","object":{...}}\n`.
pub fn frame(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

struct State {
    objects: BTreeMap<String, Arc<Entry>>,
    history: VecDeque<(Revision, Arc<CacheEvent>)>,
    /// Watches may start from any revision at or after this one.
    oldest: Revision,
    sender: broadcast::Sender<Arc<CacheEvent>>,
}

/// The cache of one resource.
pub struct ResourceCache {
    /// The resource cached.
    pub info: &'static ResourceInfo,
    prefix: String,
    state: RwLock<State>,
}

/// A consistent snapshot of a resource.
pub struct Snapshot {
    /// The objects, in key order.
    pub objects: Vec<Arc<Entry>>,
    /// The revision the snapshot reflects.
    pub revision: Revision,
}

/// A started watch: the events since the requested revision, then a live feed.
pub struct Subscription {
    /// Events after the requested revision already in history.
    pub backlog: Vec<Arc<CacheEvent>>,
    /// Events as they happen.
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
}

impl ResourceCache {
    fn new(info: &'static ResourceInfo) -> ResourceCache {
        ResourceCache {
            info,
            prefix: info.key_prefix(),
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                oldest: 0,
                sender: broadcast::channel(WATCHER_BUFFER).0,
            }),
        }
    }

    /// The objects under `key_prefix` (`<prefix><namespace>/` or the whole resource).
    pub fn snapshot(&self, namespace: Option<&str>, revision: Revision) -> Snapshot {
        let state = self.state.read().expect("cache lock");
        let objects = match namespace.filter(|_| self.info.namespaced) {
            Some(ns) => {
                let start = format!("{}{ns}/", self.prefix);
                state
                    .objects
                    .range(start.clone()..)
                    .take_while(|(k, _)| k.starts_with(&start))
                    .map(|(_, v)| v.clone())
                    .collect()
            }
            None => state.objects.values().cloned().collect(),
        };
        Snapshot { objects, revision }
    }

    /// One object.
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<Entry>> {
        let key = self.info.key(namespace, name);
        self.state
            .read()
            .expect("cache lock")
            .objects
            .get(&key)
            .cloned()
    }

    /// Starts a watch after `revision`: history first, then live events. `None` starts with
    /// the current state as synthetic `ADDED` events.
    pub fn subscribe(&self, after: Option<Revision>) -> Result<Subscription, ApiError> {
        let state = self.state.read().expect("cache lock");
        let backlog = match after {
            None => state
                .objects
                .values()
                .map(|e| Arc::new(CacheEvent::new(EventType::Added, e.clone(), None)))
                .collect(),
            Some(rv) if rv < state.oldest => {
                return Err(ApiError::gone(format!(
                    "too old resource version: {rv} ({})",
                    state.oldest
                )));
            }
            Some(rv) => {
                let start = state.history.partition_point(|(r, _)| *r <= rv);
                state
                    .history
                    .range(start..)
                    .map(|(_, e)| e.clone())
                    .collect()
            }
        };
        Ok(Subscription {
            backlog,
            live: state.sender.subscribe(),
        })
    }

    fn apply(&self, event: &Event) {
        let mut state = self.state.write().expect("cache lock");
        let (kind, object, prev) = match event {
            Event::Put { kv, .. } => {
                let Some(entry) = Entry::decode(kv) else {
                    tracing::error!(key = kv.key, "undecodable object in store");
                    return;
                };
                let entry = Arc::new(entry);
                let prev = state.objects.insert(kv.key.clone(), entry.clone());
                let kind = if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (kind, entry, prev)
            }
            Event::Delete { kv } => {
                let prev = state.objects.remove(&kv.key);
                let Some(entry) = Entry::decode(kv) else {
                    return;
                };
                (EventType::Deleted, Arc::new(entry), prev)
            }
        };
        let event = Arc::new(CacheEvent::new(kind, object, prev));
        let revision = event.object.revision;
        state.history.push_back((revision, event.clone()));
        if state.history.len() > HISTORY
            && let Some((r, _)) = state.history.pop_front()
        {
            state.oldest = r;
        }
        let _ = state.sender.send(event);
    }

    fn reset(&self, objects: Vec<(String, Entry)>, revision: Revision) {
        let mut state = self.state.write().expect("cache lock");
        state.objects = objects.into_iter().map(|(k, e)| (k, Arc::new(e))).collect();
        state.history.clear();
        state.oldest = revision;
        // Watchers of the old state end; clients resume with a new watch.
        state.sender = broadcast::channel(WATCHER_BUFFER).0;
    }
}

/// The caches of every resource and the revision they have caught up to.
pub struct Cache {
    caches: HashMap<String, Arc<ResourceCache>>,
    revision: watch::Sender<Revision>,
    store: Arc<dyn Storage>,
}

impl Cache {
    /// Loads every resource from the store and starts following it.
    pub async fn start(store: Arc<dyn Storage>) -> Result<Arc<Cache>, store::Error> {
        let caches = resources::all()
            .iter()
            .map(|info| (info.key_prefix(), Arc::new(ResourceCache::new(info))))
            .collect();
        let cache = Arc::new(Cache {
            caches,
            revision: watch::channel(0).0,
            store,
        });
        let revision = cache.load().await?;
        let follower = cache.clone();
        tokio::spawn(async move { follower.follow(revision).await });
        Ok(cache)
    }

    /// The cache of a resource.
    pub fn resource(&self, info: &ResourceInfo) -> &Arc<ResourceCache> {
        &self.caches[&info.key_prefix()]
    }

    /// The revision the cache has caught up to.
    pub fn revision(&self) -> Revision {
        *self.revision.borrow()
    }

    /// Waits until the cache reflects the store's current revision, so a read from the cache
    /// sees every write acknowledged before it started.
    pub async fn sync(&self) -> Result<Revision, ApiError> {
        let target = self
            .store
            .current_revision()
            .await
            .map_err(ApiError::internal)?;
        self.wait_for(target).await
    }

    /// Waits (up to three seconds, as upstream) until the cache reaches `target`.
    pub async fn wait_for(&self, target: Revision) -> Result<Revision, ApiError> {
        let mut rx = self.revision.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(3), rx.wait_for(|r| *r >= target));
        match waited.await {
            Ok(Ok(r)) => Ok(*r),
            _ => Err(ApiError::timeout(format!(
                "Too large resource version: {target}, current: {}",
                self.revision()
            ))),
        }
    }

    fn route(&self, key: &str) -> Option<&Arc<ResourceCache>> {
        // Keys are /registry/<group>/<plural>/...: the prefix is the first three segments.
        let end = key.match_indices('/').nth(3)?.0;
        self.caches.get(&key[..=end])
    }

    async fn load(&self) -> Result<Revision, store::Error> {
        let list = self.store.list("/registry/").await?;
        let mut grouped: HashMap<String, Vec<(String, Entry)>> = HashMap::new();
        for kv in &list.kvs {
            let Some(cache) = self.route(&kv.key) else {
                continue;
            };
            if let Some(entry) = Entry::decode(kv) {
                grouped
                    .entry(cache.prefix.clone())
                    .or_default()
                    .push((kv.key.clone(), entry));
            }
        }
        for (prefix, cache) in &self.caches {
            cache.reset(grouped.remove(prefix).unwrap_or_default(), list.revision);
        }
        self.revision.send_replace(list.revision);
        Ok(list.revision)
    }

    async fn follow(self: Arc<Self>, mut revision: Revision) {
        loop {
            match self.store.watch("/registry/", revision).await {
                Ok(mut stream) => {
                    while let Some(event) = stream.next().await {
                        match event {
                            Ok(event) => {
                                if let Some(cache) = self.route(event.key()) {
                                    cache.apply(&event);
                                }
                                revision = event.revision();
                                self.revision.send_replace(revision);
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "store watch failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "store watch could not start"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.load().await {
                Ok(r) => {
                    tracing::info!(revision = r, "watch cache reloaded");
                    revision = r;
                }
                Err(e) => tracing::error!(error = %e, "watch cache reload failed"),
            }
        }
    }
}
