//! The garbage collector: follows ownerReferences across every served kind. When an owner is
//! gone, its dependents are deleted (background); an owner deleted in the foreground keeps
//! its `foregroundDeletion` finalizer until its blocking dependents are gone; an owner
//! deleted with `orphan` has its references removed from its dependents first.
//!
//! Only metadata is watched (PartialObjectMetadata), so the graph stays small. The work is
//! event-driven: an object is looked at when it, an owner or a dependent changes, and again
//! after a backoff when acting on it failed.

pub mod discovery;
mod graph;
#[cfg(test)]
mod tests;
mod work;

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject},
    core::PartialObjectMeta,
    runtime::{WatchStreamExt, watcher},
};
use tokio::{sync::mpsc, time::Instant};

use self::{
    discovery::Served,
    graph::{FOREGROUND, Graph, Node, ORPHAN},
    work::{Work, Worker},
};
use crate::{Context, error_chain};

/// The first delay before acting on an object again after a failure; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How many objects are acted on at once (upstream's `--concurrent-gc-syncs`).
const WORKERS: usize = 20;

/// The longest delay between attempts on one object.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the watchers report.
enum Change {
    /// An object was added or changed.
    Applied(ApiResource, Box<PartialObjectMeta<DynamicObject>>),
    /// An object is gone.
    Deleted(String),
    /// One resource's watch has listed everything once.
    Synced,
}

/// Every served kind by (group, kind).
pub(crate) type Kinds = HashMap<(String, String), Served>;

/// Runs the garbage collector.
pub async fn run(ctx: Arc<Context>) {
    let served = loop {
        match discovery::served(&ctx.client).await {
            Ok(served) => break served,
            Err(error) => {
                tracing::warn!(%error, "garbage collector: discovery failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let mut watched = 0;
    for s in served.iter().filter(|s| s.collectable() && !s.is_event()) {
        watched += 1;
        tokio::spawn(watch(ctx.client.clone(), s.resource.clone(), tx.clone()));
    }
    let kinds = served
        .into_iter()
        .map(|s| ((s.resource.group.clone(), s.resource.kind.clone()), s))
        .collect();
    let collector = Collector {
        worker: Worker { ctx, kinds },
        graph: Graph::default(),
        queue: Queue::default(),
    };
    collector.run(rx, watched).await;
}

/// The objects to look at: now, or after a backoff.
#[derive(Default)]
struct Queue {
    now: VecDeque<String>,
    queued: HashSet<String>,
    later: BinaryHeap<Reverse<(Instant, String)>>,
    failures: HashMap<String, u32>,
}

impl Queue {
    fn add(&mut self, uid: String) {
        if self.queued.insert(uid.clone()) {
            self.now.push_back(uid);
        }
    }

    fn pop(&mut self) -> Option<String> {
        let uid = self.now.pop_front()?;
        self.queued.remove(&uid);
        Some(uid)
    }

    /// Looks at `uid` again after a backoff that grows with its failures.
    fn retry(&mut self, uid: String) {
        let failures = self.failures.entry(uid.clone()).or_default();
        let delay = FIRST_BACKOFF
            .saturating_mul(2u32.saturating_pow(*failures))
            .min(MAX_BACKOFF);
        *failures += 1;
        self.later.push(Reverse((Instant::now() + delay, uid)));
    }

    fn succeeded(&mut self, uid: &str) {
        self.failures.remove(uid);
    }

    /// When the next retry is due.
    fn next_due(&self) -> Option<Instant> {
        self.later.peek().map(|Reverse((at, _))| *at)
    }

    /// Moves the retries that are due to the queue.
    fn promote_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.later.peek()
            && *at <= now
        {
            if let Some(Reverse((_, uid))) = self.later.pop() {
                self.add(uid);
            }
        }
    }
}

/// The garbage collector's state: the graph and the work queue.
struct Collector {
    worker: Worker,
    graph: Graph,
    queue: Queue,
}

impl Collector {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Change>, watched: usize) {
        let mut synced = 0;
        loop {
            let due = self.queue.next_due();
            tokio::select! {
                change = rx.recv() => match change {
                    Some(change) => synced += self.apply(change),
                    None => return,
                },
                () = sleep_until(due), if due.is_some() => self.queue.promote_due(),
            }
            while let Ok(change) = rx.try_recv() {
                synced += self.apply(change);
            }
            if synced < watched {
                continue;
            }
            if synced == watched {
                synced += 1;
                tracing::info!(
                    resources = watched,
                    objects = self.graph.len(),
                    "garbage collector synced"
                );
                // Now every owner that exists is known: look at everything once.
                for uid in self.graph.uids() {
                    self.queue.add(uid);
                }
            }
            self.work().await;
        }
    }

    /// Acts on everything queued, [`WORKERS`] API calls at a time; planning an owner may
    /// queue its dependents, which are acted on in the next round.
    async fn work(&mut self) {
        loop {
            let mut planned = Vec::new();
            while let Some(uid) = self.queue.pop() {
                match self.plan(&uid) {
                    Some(work) => planned.push((uid, work)),
                    None => self.queue.succeeded(&uid),
                }
            }
            if planned.is_empty() {
                return;
            }
            let worker = &self.worker;
            let done: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(planned)
                .map(|(uid, work)| async move { (uid, worker.execute(work).await) })
                .buffer_unordered(WORKERS)
                .collect()
                .await;
            for (uid, result) in done {
                match result {
                    Ok(()) => self.queue.succeeded(&uid),
                    Err(error) => {
                        tracing::debug!(%uid, error = %error_chain(&error), "garbage collector: retrying");
                        self.queue.retry(uid);
                    }
                }
            }
        }
    }

    /// Records a change in the graph and queues what it concerns; returns 1 for a `Synced`.
    fn apply(&mut self, change: Change) -> usize {
        match change {
            Change::Synced => return 1,
            Change::Applied(resource, meta) => {
                let m = meta.metadata;
                let node = Node {
                    resource,
                    namespace: m.namespace,
                    name: m.name.unwrap_or_default(),
                    uid: m.uid.unwrap_or_default(),
                    resource_version: m.resource_version,
                    owners: m.owner_references.unwrap_or_default(),
                    finalizers: m.finalizers.unwrap_or_default(),
                    deleting: m.deletion_timestamp.is_some(),
                };
                let uid = node.uid.clone();
                let owners_changed = |old: &Node| {
                    old.owners != node.owners
                        || old.deleting != node.deleting
                        || old.finalizers != node.finalizers
                };
                // Its owners may wait for it (foreground) when its references or its
                // deletion changed; its dependents when it began deleting.
                let touched: Vec<String> = match self.graph.get(&uid) {
                    Some(old) if !owners_changed(old) => Vec::new(),
                    old => {
                        let mut t: Vec<String> =
                            node.owners.iter().map(|o| o.uid.clone()).collect();
                        t.extend(
                            old.into_iter()
                                .flat_map(|o| o.owners.iter().map(|r| r.uid.clone())),
                        );
                        if node.deleting {
                            t.extend(self.graph.dependents_of(&uid).iter().map(|d| d.uid.clone()));
                        }
                        t
                    }
                };
                self.graph.upsert(node);
                self.queue.add(uid);
                for t in touched {
                    self.queue.add(t);
                }
            }
            Change::Deleted(uid) => {
                // Its dependents may be orphans now; its owners may wait for it (foreground).
                let dependents: Vec<String> = self
                    .graph
                    .dependents_of(&uid)
                    .iter()
                    .map(|d| d.uid.clone())
                    .collect();
                if let Some(node) = self.graph.remove(&uid) {
                    for owner in node.owners {
                        self.queue.add(owner.uid);
                    }
                }
                for d in dependents {
                    self.queue.add(d);
                }
            }
        }
        0
    }

    /// What to do about one object, as an owner being deleted (foreground/orphan) and as a
    /// dependent, decided from the graph alone.
    fn plan(&mut self, uid: &str) -> Option<Work> {
        let node = self.graph.get(uid)?.clone();
        if node.deleting_with(ORPHAN) {
            let dependents = self.graph.dependents_of(uid).into_iter().cloned().collect();
            return Some(Work::Orphan {
                owner: node,
                dependents,
            });
        }
        if node.deleting_with(FOREGROUND) {
            // Each dependent decides for itself (it may have another owner), then the owner
            // goes once nothing blocks it.
            let dependents: Vec<String> = self
                .graph
                .dependents_of(uid)
                .iter()
                .filter(|d| !d.deleting)
                .map(|d| d.uid.clone())
                .collect();
            for d in dependents {
                self.queue.add(d);
            }
            return (!self.graph.blocked(uid)).then_some(Work::Unblock(node));
        }
        if node.deleting || node.owners.is_empty() {
            return None;
        }
        let owners = node
            .owners
            .iter()
            .map(|r| {
                let owner = self.graph.classify(&node, r);
                // The uid names an object in another namespace: worth a warning if the
                // API confirms the owner is not in the dependent's.
                let elsewhere = self
                    .graph
                    .get(&r.uid)
                    .is_some_and(|o| o.namespace.is_some() && o.namespace != node.namespace);
                (r.clone(), owner, elsewhere)
            })
            .collect();
        Some(Work::Dependent {
            has_dependents: self.graph.has_dependents(uid),
            node,
            owners,
        })
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Feeds one resource's metadata into the graph.
async fn watch(client: Client, resource: ApiResource, tx: mpsc::UnboundedSender<Change>) {
    // An `Api` of PartialObjectMeta asks the server for metadata only.
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &resource);
    let mut events = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        .boxed();
    let mut known: HashSet<String> = HashSet::new();
    let mut listed: HashSet<String> = HashSet::new();
    let mut first = true;
    while let Some(event) = events.next().await {
        let send = |c| tx.send(c).is_ok();
        let ok = match event {
            Ok(watcher::Event::Apply(m)) | Ok(watcher::Event::InitApply(m)) => {
                let uid = m.metadata.uid.clone().unwrap_or_default();
                known.insert(uid.clone());
                listed.insert(uid);
                send(Change::Applied(resource.clone(), Box::new(m)))
            }
            Ok(watcher::Event::Delete(m)) => {
                let uid = m.metadata.uid.clone().unwrap_or_default();
                known.remove(&uid);
                send(Change::Deleted(uid))
            }
            Ok(watcher::Event::Init) => {
                listed.clear();
                true
            }
            Ok(watcher::Event::InitDone) => {
                // Whatever vanished while the watch was down is deleted.
                let gone: Vec<String> = known.difference(&listed).cloned().collect();
                for uid in gone {
                    known.remove(&uid);
                    send(Change::Deleted(uid));
                }
                if first {
                    first = false;
                    send(Change::Synced)
                } else {
                    true
                }
            }
            Err(error) => {
                tracing::debug!(kind = resource.kind, %error, "garbage collector watch failed");
                true
            }
        };
        if !ok {
            return;
        }
    }
}
