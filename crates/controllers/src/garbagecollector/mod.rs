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

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet, VecDeque},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::{
    api::core::v1::ObjectReference, apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Client,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions},
    core::PartialObjectMeta,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;
use tokio::{sync::mpsc, time::Instant};

use self::{
    discovery::Served,
    graph::{FOREGROUND, Graph, Node, ORPHAN, Owner, Verdict},
};
use crate::{Context, error_chain};

/// The first delay before acting on an object again after a failure; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

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
type Kinds = HashMap<(String, String), Served>;

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
        ctx,
        kinds,
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
    ctx: Arc<Context>,
    kinds: Kinds,
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
            while let Some(uid) = self.queue.pop() {
                match self.process(&uid).await {
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

    /// Acts on one object: as an owner being deleted (foreground/orphan) and as a dependent.
    async fn process(&mut self, uid: &str) -> Result<(), kube::Error> {
        let Some(node) = self.graph.get(uid).cloned() else {
            return Ok(());
        };
        if node.deleting_with(ORPHAN) {
            return self.orphan(&node).await;
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
            if !self.graph.blocked(uid) {
                remove_finalizer(&self.ctx.client, &node, FOREGROUND).await?;
            }
            return Ok(());
        }
        if node.deleting || node.owners.is_empty() {
            return Ok(());
        }
        let mut owners = Vec::with_capacity(node.owners.len());
        for reference in &node.owners {
            let owner = match self.graph.classify(&node, reference) {
                Owner::Unknown => self.verify(&node, reference).await?,
                known => known,
            };
            owners.push((reference.uid.clone(), owner));
        }
        let verdict = graph::verdict(&node, &owners, self.graph.has_dependents(uid));
        match verdict {
            Verdict::Keep => Ok(()),
            Verdict::RemoveOwners(gone) => {
                let keep: Vec<&OwnerReference> = node
                    .owners
                    .iter()
                    .filter(|r| !gone.contains(&r.uid))
                    .collect();
                patch_owners(&self.ctx.client, &node, &keep).await
            }
            Verdict::Delete(policy) => {
                tracing::debug!(
                    kind = node.resource.kind,
                    namespace = node.namespace,
                    name = node.name,
                    ?policy,
                    "deleting an object whose owners are gone"
                );
                let params = DeleteParams {
                    propagation_policy: Some(policy),
                    preconditions: Some(Preconditions {
                        uid: Some(node.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                ignore_missing(
                    api_for(&self.ctx.client, &node)
                        .delete(&node.name, &params)
                        .await,
                )
            }
        }
    }

    /// Removes the references to `owner` from its dependents, then its `orphan` finalizer.
    async fn orphan(&self, owner: &Node) -> Result<(), kube::Error> {
        for dep in self.graph.dependents_of(&owner.uid) {
            let keep: Vec<&OwnerReference> =
                dep.owners.iter().filter(|r| r.uid != owner.uid).collect();
            patch_owners(&self.ctx.client, dep, &keep).await?;
        }
        remove_finalizer(&self.ctx.client, owner, ORPHAN).await
    }

    /// Asks the API whether the owner `reference` of `dependent` exists: by its kind and name
    /// in the dependent's namespace, and with the uid the reference names.
    async fn verify(
        &self,
        dependent: &Node,
        reference: &OwnerReference,
    ) -> Result<Owner, kube::Error> {
        let key = (
            graph::group_of(&reference.api_version).to_string(),
            reference.kind.clone(),
        );
        let Some(served) = self.kinds.get(&key) else {
            // A kind the server does not serve cannot be checked; the dependent stays.
            tracing::debug!(kind = reference.kind, "owner of an unknown kind");
            return Ok(Owner::Solid);
        };
        let api: Api<DynamicObject> = match (&dependent.namespace, served.namespaced) {
            (_, false) => Api::all_with(self.ctx.client.clone(), &served.resource),
            (Some(ns), true) => Api::namespaced_with(self.ctx.client.clone(), ns, &served.resource),
            (None, true) => {
                // A cluster-scoped object cannot be owned by a namespaced one.
                self.invalid_namespace(dependent, reference);
                return Ok(Owner::Dangling);
            }
        };
        let owner =
            match api.get_metadata_opt(&reference.name).await? {
                Some(live) if live.metadata.uid.as_deref() == Some(reference.uid.as_str()) => live,
                _ => {
                    if self.graph.get(&reference.uid).is_some_and(|o| {
                        o.namespace.is_some() && o.namespace != dependent.namespace
                    }) {
                        self.invalid_namespace(dependent, reference);
                    }
                    return Ok(Owner::Dangling);
                }
            };
        let deleting = owner.metadata.deletion_timestamp.is_some();
        let foreground = owner
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == FOREGROUND);
        Ok(if deleting && foreground {
            Owner::Waiting
        } else {
            Owner::Solid
        })
    }

    /// Upstream's warning `OwnerRefInvalidNamespace` on the dependent.
    fn invalid_namespace(&self, dependent: &Node, reference: &OwnerReference) {
        let regarding = ObjectReference {
            api_version: Some(dependent.resource.api_version.clone()),
            kind: Some(dependent.resource.kind.clone()),
            name: Some(dependent.name.clone()),
            namespace: dependent.namespace.clone(),
            uid: Some(dependent.uid.clone()),
            ..Default::default()
        };
        let message = format!(
            "ownerRef [{}/{}, namespace: {}, name: {}, uid: {}] does not exist in namespace \"{}\"",
            reference.api_version,
            reference.kind,
            dependent.namespace.as_deref().unwrap_or_default(),
            reference.name,
            reference.uid,
            dependent.namespace.as_deref().unwrap_or_default(),
        );
        self.ctx.recorder.record(
            regarding,
            component::EventType::Warning,
            "OwnerRefInvalidNamespace",
            message,
        );
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

fn api_for(client: &Client, node: &Node) -> Api<DynamicObject> {
    match &node.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &node.resource),
        None => Api::all_with(client.clone(), &node.resource),
    }
}

/// Removes `finalizer` from an object, at the version the graph saw.
async fn remove_finalizer(
    client: &Client,
    node: &Node,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let rest: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": rest, "resourceVersion": node.resource_version}});
    write(client, node, &patch).await
}

/// Sets an object's ownerReferences, removing the field when none remain, at the version the
/// graph saw.
async fn patch_owners(
    client: &Client,
    node: &Node,
    refs: &[&OwnerReference],
) -> Result<(), kube::Error> {
    let refs = if refs.is_empty() {
        json!(null)
    } else {
        json!(refs)
    };
    let patch =
        json!({"metadata": {"ownerReferences": refs, "resourceVersion": node.resource_version}});
    write(client, node, &patch).await
}

/// Writes a merge patch. A conflict means the graph's view is stale; the newer version is on
/// its way through the watch and will be looked at then.
async fn write(client: &Client, node: &Node, patch: &serde_json::Value) -> Result<(), kube::Error> {
    let params = PatchParams::default();
    ignore_missing(
        api_for(client, node)
            .patch(&node.name, &params, &Patch::Merge(patch))
            .await,
    )
}

fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
