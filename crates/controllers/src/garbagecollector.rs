//! The garbage collector: follows ownerReferences across every served kind. When an owner is
//! gone, its dependents are deleted (background); an owner deleted in the foreground keeps
//! its `foregroundDeletion` finalizer until its blocking dependents are gone; an owner
//! deleted with `orphan` has its references removed from its dependents first.
//!
//! Only metadata is watched (PartialObjectMetadata), so the graph stays small.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{
    Api, Client,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy},
    core::PartialObjectMeta,
    discovery::{Discovery, verbs},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::Context;

/// One object in the owner graph.
#[derive(Clone, Debug)]
struct Node {
    resource: ApiResource,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    finalizers: Vec<String>,
    deleting: bool,
}

/// What the watchers report.
enum Change {
    /// An object was added or changed.
    Applied(ApiResource, PartialObjectMeta<DynamicObject>),
    /// An object is gone.
    Deleted(String),
    /// One resource's watch has listed everything once.
    Synced,
}

/// Every served kind by (apiVersion, kind): its resource and whether it is namespaced.
type Kinds = HashMap<(String, String), (ApiResource, bool)>;

/// The owner graph.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid -> dependent uids.
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn upsert(&mut self, uid: String, node: Node) {
        self.remove(&uid);
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.nodes.insert(uid, node);
    }

    fn remove(&mut self, uid: &str) -> Option<Node> {
        let node = self.nodes.remove(uid)?;
        for owner in &node.owners {
            if let Some(d) = self.dependents.get_mut(&owner.uid) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
        }
        Some(node)
    }

    fn dependents_of(&self, uid: &str) -> Vec<(String, Node)> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d.clone(), self.nodes.get(d)?.clone())))
            .collect()
    }
}

/// Runs the garbage collector.
pub async fn run(ctx: Arc<Context>) {
    let resources = loop {
        match Discovery::new(ctx.client.clone()).run().await {
            Ok(d) => break d,
            Err(error) => {
                tracing::warn!(%error, "garbage collector: discovery failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watched = 0;
    let mut kinds: Kinds = HashMap::new();
    for group in resources.groups() {
        for (resource, caps) in group.recommended_resources() {
            let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
            kinds.insert(
                (resource.api_version.clone(), resource.kind.clone()),
                (resource.clone(), namespaced),
            );
            if !caps.supports_operation(verbs::WATCH)
                || !caps.supports_operation(verbs::LIST)
                || !caps.supports_operation(verbs::DELETE)
                || resource.kind == "Event"
            {
                continue;
            }
            watched += 1;
            tokio::spawn(watch(ctx.client.clone(), resource, tx.clone()));
        }
    }
    let mut graph = Graph::default();
    let mut synced = 0;
    let mut pending: Vec<String> = Vec::new();
    while let Some(change) = rx.recv().await {
        match change {
            Change::Synced => {
                synced += 1;
                if synced == watched {
                    tracing::info!(
                        resources = watched,
                        objects = graph.nodes.len(),
                        "garbage collector synced"
                    );
                    // Now every owner that exists is known: check what arrived meanwhile.
                    pending = graph.nodes.keys().cloned().collect();
                }
            }
            Change::Applied(resource, meta) => {
                let m = meta.metadata;
                let uid = m.uid.clone().unwrap_or_default();
                let node = Node {
                    resource,
                    namespace: m.namespace.clone(),
                    name: m.name.clone().unwrap_or_default(),
                    owners: m.owner_references.clone().unwrap_or_default(),
                    finalizers: m.finalizers.clone().unwrap_or_default(),
                    deleting: m.deletion_timestamp.is_some(),
                };
                pending.extend(node.owners.iter().map(|o| o.uid.clone()));
                graph.upsert(uid.clone(), node);
                pending.push(uid);
            }
            Change::Deleted(uid) => {
                // Its dependents may be orphans now; its owners may wait for it (foreground).
                if let Some(node) = graph.remove(&uid) {
                    pending.extend(node.owners.iter().map(|o| o.uid.clone()));
                }
                pending.extend(graph.dependents_of(&uid).into_iter().map(|(d, _)| d));
            }
        }
        if synced < watched {
            continue;
        }
        for uid in std::mem::take(&mut pending) {
            if let Err(error) = process(&ctx, &graph, &kinds, &uid).await {
                tracing::debug!(%uid, %error, "garbage collector: will retry on the next change");
            }
        }
    }
}

/// Feeds one resource's metadata into the graph.
async fn watch(client: Client, resource: ApiResource, tx: mpsc::UnboundedSender<Change>) {
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
                send(Change::Applied(resource.clone(), m))
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

fn api_for(ctx: &Context, node: &Node) -> Api<DynamicObject> {
    match &node.namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &node.resource),
        None => Api::all_with(ctx.client.clone(), &node.resource),
    }
}

/// Acts on one object: as an owner being deleted (foreground/orphan) and as a dependent.
async fn process(
    ctx: &Context,
    graph: &Graph,
    kinds: &Kinds,
    uid: &str,
) -> Result<(), kube::Error> {
    let Some(node) = graph.nodes.get(uid) else {
        return Ok(());
    };
    let api = api_for(ctx, node);
    if node.deleting && node.finalizers.iter().any(|f| f == "orphan") {
        for (_, dep) in graph.dependents_of(uid) {
            let refs: Vec<&OwnerReference> = dep.owners.iter().filter(|r| r.uid != uid).collect();
            let patch = owner_refs_patch(&refs);
            ignore_missing(
                api_for(ctx, &dep)
                    .patch(&dep.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await,
            )?;
        }
        remove_finalizer(&api, node, "orphan").await?;
        return Ok(());
    }
    if node.deleting && node.finalizers.iter().any(|f| f == "foregroundDeletion") {
        let dependents = graph.dependents_of(uid);
        for (_, dep) in &dependents {
            if !dep.deleting {
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Foreground),
                    ..Default::default()
                };
                ignore_missing(
                    api_for(ctx, dep)
                        .delete(&dep.name, &params)
                        .await
                        .map(|_| ()),
                )?;
            }
        }
        let blocking = dependents.iter().any(|(_, d)| {
            d.owners
                .iter()
                .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
        });
        if !blocking {
            remove_finalizer(&api, node, "foregroundDeletion").await?;
        }
        return Ok(());
    }
    if node.owners.is_empty() || node.deleting {
        return Ok(());
    }
    // A dependent: is any owner still there?
    let mut dangling = Vec::new();
    let mut foreground_owner = false;
    for owner in &node.owners {
        match graph.nodes.get(&owner.uid) {
            Some(o) => {
                if o.deleting && o.finalizers.iter().any(|f| f == "foregroundDeletion") {
                    foreground_owner = true;
                    dangling.push(owner.uid.clone());
                }
            }
            None => {
                // Not in the graph: confirm with the API before acting on a lagging cache.
                let Some((resource, namespaced)) =
                    kinds.get(&(owner.api_version.clone(), owner.kind.clone()))
                else {
                    continue;
                };
                let owner_api: Api<DynamicObject> = match (&node.namespace, namespaced) {
                    (Some(ns), true) => Api::namespaced_with(ctx.client.clone(), ns, resource),
                    _ => Api::all_with(ctx.client.clone(), resource),
                };
                match owner_api.get_opt(&owner.name).await? {
                    Some(live) if live.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {}
                    _ => dangling.push(owner.uid.clone()),
                }
            }
        }
    }
    if dangling.len() == node.owners.len() {
        let policy = if foreground_owner {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(kube::api::Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..Default::default()
        };
        tracing::debug!(
            kind = node.resource.kind,
            name = node.name,
            "deleting an object whose owners are gone"
        );
        ignore_missing(api.delete(&node.name, &params).await.map(|_| ()))?;
    } else if !dangling.is_empty() && !foreground_owner {
        let refs: Vec<&OwnerReference> = node
            .owners
            .iter()
            .filter(|r| !dangling.contains(&r.uid))
            .collect();
        let patch = owner_refs_patch(&refs);
        ignore_missing(
            api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        )?;
    }
    Ok(())
}

async fn remove_finalizer(
    api: &Api<DynamicObject>,
    node: &Node,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let rest: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": rest}});
    ignore_missing(
        api.patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ()),
    )
}

fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A merge patch setting the ownerReferences, removing the field when none remain.
fn owner_refs_patch(refs: &[&OwnerReference]) -> serde_json::Value {
    if refs.is_empty() {
        json!({"metadata": {"ownerReferences": null}})
    } else {
        json!({"metadata": {"ownerReferences": refs}})
    }
}
