//! Shared informers: one watch and one in-memory cache per kind, shared by every controller of
//! a process, with a change feed each controller subscribes to.
//!
//! kube-runtime's own shared streams do not pass deletions on, and a controller must see a
//! deleted pod to replace it; so the feed here carries every added, changed and deleted
//! object. A subscriber that falls behind is not waited for: it gets the whole cache again.
//!
//! Memory: cached objects drop `metadata.managedFields` (no controller reads them; an update
//! without them keeps the stored ones), and the feed holds keys of changed objects, looked up
//! in the cache when a subscriber takes them, so its buffer never keeps superseded versions.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, HashSet, VecDeque},
    fmt::Debug,
    sync::{Arc, Mutex},
};

use futures::{Stream, StreamExt};
use kube::{
    Api, Client, Resource,
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

/// How many changes a slow subscriber may fall behind before it is resynced.
const FEED: usize = 16_384;

/// The bounds a kind needs to be watched and cached.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}
impl<K> Kind for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// One entry of the change feed.
#[derive(Clone)]
enum Change<K: Kind> {
    /// Added or changed: the current version is in the cache.
    Applied(ObjectRef<K>),
    /// Deleted: its last version.
    Deleted(Arc<K>),
}

/// The cache and change feed of one kind.
///
/// Wait for the cache with [`Informer::ready`], not `Store::wait_until_ready`: kube-runtime's
/// readiness wakes only one of several concurrent waiters.
pub struct Informer<K: Kind> {
    store: Store<K>,
    feed: broadcast::Sender<Change<K>>,
    synced: watch::Receiver<bool>,
}

impl<K: Kind> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
            feed: self.feed.clone(),
            synced: self.synced.clone(),
        }
    }
}

impl<K: Kind> Informer<K> {
    /// Starts watching every object of the kind in the cluster.
    fn start(client: Client) -> Informer<K> {
        let (store, mut writer) = reflector::store::<K>();
        let (feed, _) = broadcast::channel(FEED);
        let (synced_tx, synced) = watch::channel(false);
        let informer = Informer {
            store: store.clone(),
            feed: feed.clone(),
            synced,
        };
        let api: Api<K> = Api::all(client);
        tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default().any_semantic())
                .default_backoff()
                .modify(|obj: &mut K| obj.meta_mut().managed_fields = None)
                .boxed();
            let mut before: Vec<Arc<K>> = Vec::new();
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(error) => {
                        tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying");
                        continue;
                    }
                };
                if matches!(event, watcher::Event::Init) {
                    before = store.state();
                }
                writer.apply_watcher_event(&event);
                match event {
                    watcher::Event::Apply(obj) => {
                        let _ = feed.send(Change::Applied(ObjectRef::from_obj(&obj)));
                    }
                    watcher::Event::Delete(obj) => {
                        let _ = feed.send(Change::Deleted(Arc::new(obj)));
                    }
                    watcher::Event::InitDone => {
                        // After a (re)list everyone looks at everything again, and objects
                        // that vanished while the watch was down count as deleted.
                        let now = store.state();
                        let present: HashSet<ObjectRef<K>> =
                            now.iter().map(|o| ObjectRef::from_obj(&**o)).collect();
                        for obj in std::mem::take(&mut before) {
                            if !present.contains(&ObjectRef::from_obj(&*obj)) {
                                let _ = feed.send(Change::Deleted(obj));
                            }
                        }
                        for key in present {
                            let _ = feed.send(Change::Applied(key));
                        }
                        synced_tx.send_replace(true);
                        tracing::debug!(kind = %K::kind(&()), objects = now.len(), "cache synced");
                    }
                    watcher::Event::Init | watcher::Event::InitApply(_) => {}
                }
            }
        });
        informer
    }

    /// The cache: read-only objects, shared.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Waits until the cache holds a complete first list.
    pub async fn ready(&self) {
        let _ = self.synced.clone().wait_for(|synced| *synced).await;
    }

    /// Every object once the cache is complete, then each added, changed and deleted object.
    pub fn subscribe(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        struct Feed<K: Kind> {
            rx: broadcast::Receiver<Change<K>>,
            informer: Informer<K>,
            pending: VecDeque<Arc<K>>,
            started: bool,
        }
        let state = Feed {
            rx: self.feed.subscribe(),
            informer: self.clone(),
            pending: VecDeque::new(),
            started: false,
        };
        futures::stream::unfold(state, |mut s| async move {
            if !s.started {
                s.started = true;
                s.informer.ready().await;
                s.pending = s.informer.store.state().into();
            }
            loop {
                if let Some(obj) = s.pending.pop_front() {
                    return Some((obj, s));
                }
                match s.rx.recv().await {
                    Ok(Change::Deleted(obj)) => return Some((obj, s)),
                    Ok(Change::Applied(key)) => {
                        // Gone again since: its deletion follows in the feed.
                        if let Some(obj) = s.informer.store.get(&key) {
                            return Some((obj, s));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        s.pending = s.informer.store.state().into();
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}

/// The informers of a process, started on first use, one per kind.
pub struct Informers {
    client: Client,
    started: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl Informers {
    /// No informers yet; each starts when first asked for.
    pub fn new(client: Client) -> Informers {
        Informers {
            client,
            started: Mutex::new(HashMap::new()),
        }
    }

    /// The informer of kind `K`, starting it if needed.
    pub fn get<K: Kind>(&self) -> Informer<K> {
        let mut started = self.started.lock().expect("informers lock");
        started
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(Informer::<K>::start(self.client.clone())))
            .downcast_ref::<Informer<K>>()
            .expect("informers are keyed by their type")
            .clone()
    }
}
