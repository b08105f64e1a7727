//! The ReplicaSet and ReplicationController controllers: keep `spec.replicas` active pods that
//! match the selector, adopting orphans and releasing pods that stopped matching; prefer
//! deleting unscheduled, pending and unready pods; report replicas, ready and available
//! counts.

use std::{cmp::Ordering, collections::BTreeMap, sync::Arc, time::Duration};

use apimachinery::labels::{self, Selector};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::ReplicaSet,
        core::v1::{Pod, PodTemplateSpec, ReplicationController},
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{
    Context, Result,
    expectations::Expectations,
    pods::{self, controller_of},
};

/// The most pods created or deleted in one sync (upstream's burstReplicas).
const BURST: usize = 500;

/// What the ReplicaSet and ReplicationController controllers have in common.
pub trait Replicated:
    component::informer::Kind + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
{
    /// The label selector.
    fn selector(&self) -> Option<Selector>;
    /// Desired replicas.
    fn replicas(&self) -> i32;
    /// The pod template.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// `spec.minReadySeconds`.
    fn min_ready_seconds(&self) -> i32;
    /// `status.observedGeneration` and the status counters, as JSON, to compare.
    fn status_json(&self) -> serde_json::Value;
}

impl Replicated for ReplicaSet {
    fn selector(&self) -> Option<Selector> {
        let s: &LabelSelector = &self.spec.as_ref()?.selector;
        labels::from_label_selector(s)
            .ok()
            .filter(|s| !s.is_empty())
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn status_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.status).unwrap_or_default()
    }
}

impl Replicated for ReplicationController {
    fn selector(&self) -> Option<Selector> {
        let map = self
            .spec
            .as_ref()?
            .selector
            .clone()
            .or_else(|| self.template()?.metadata.as_ref()?.labels.clone())?;
        let s = LabelSelector {
            match_labels: Some(map),
            ..Default::default()
        };
        labels::from_label_selector(&s)
            .ok()
            .filter(|s| !s.is_empty())
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn status_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.status).unwrap_or_default()
    }
}

/// Runs the ReplicaSet and ReplicationController controllers.
pub async fn run(ctx: Arc<Context>) {
    tokio::join!(
        run_for::<ReplicaSet>(ctx.clone()),
        run_for::<ReplicationController>(ctx)
    );
}

async fn run_for<K: Replicated>(ctx: Arc<Context>) {
    let owners = ctx.informers.get::<K>();
    let pods = ctx.informers.get::<Pod>();
    let owner_store = owners.store();
    // A pod event concerns its controller, or, for an orphan, every owner whose selector
    // matches it (adoption).
    let mapper = move |pod: Arc<Pod>| -> Vec<ObjectRef<K>> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        if let Some(owner) = controller_of(&pod.metadata) {
            if owner.kind == K::kind(&()) {
                return vec![ObjectRef::new(&owner.name).within(&ns)];
            }
            return Vec::new();
        }
        let empty = BTreeMap::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        owner_store
            .state()
            .iter()
            .filter(|o| o.meta().namespace.as_deref() == Some(ns.as_str()))
            .filter(|o| o.selector().is_some_and(|s| s.matches(labels)))
            .map(|o| ObjectRef::from_obj(&**o))
            .collect()
    };
    let controller = Controller::for_shared_stream(owners.subscribe(), owners.store())
        .watches_shared_stream(pods.subscribe(), mapper);
    let expectations = Arc::new(Expectations::default());
    let name = if K::kind(&()) == "ReplicaSet" {
        "replicaset"
    } else {
        "replicationcontroller"
    };
    crate::drive(name, controller, ctx, move |obj, ctx| {
        let expectations = expectations.clone();
        async move { reconcile(obj, ctx, &expectations).await }
    })
    .await;
}

async fn reconcile<K: Replicated>(
    owner: Arc<K>,
    ctx: Arc<Context>,
    expectations: &Expectations,
) -> Result<Action> {
    let meta = owner.meta();
    let ns = meta.namespace.clone().unwrap_or_default();
    let uid = meta.uid.clone().unwrap_or_default();
    if meta.deletion_timestamp.is_some() {
        expectations.forget(&uid);
        return Ok(Action::await_change());
    }
    let pod_store = ctx.informers.get::<Pod>().store();
    let present = |pod: &str| pod_store.get(&ObjectRef::new(pod).within(&ns)).is_some();
    if !expectations.satisfied(&uid, present) {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let Some(selector) = owner.selector() else {
        return Ok(Action::await_change());
    };
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let empty = BTreeMap::new();
    let mut owned: Vec<Arc<Pod>> = Vec::new();
    for pod in pod_store.state() {
        if pod.metadata.namespace.as_deref() != Some(ns.as_str()) {
            continue;
        }
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        let matches = selector.matches(labels);
        match controller_of(&pod.metadata) {
            Some(r) if r.uid == uid => {
                if matches {
                    owned.push(pod);
                } else {
                    pods::release(&api, &pod, &uid).await?;
                }
            }
            Some(_) => {}
            None if matches && pod.metadata.deletion_timestamp.is_none() => {
                pods::adopt(&api, &pod, pods::owner_reference(&*owner)).await?;
                owned.push(pod);
            }
            None => {}
        }
    }
    let mut active: Vec<Arc<Pod>> = owned
        .iter()
        .filter(|p| pods::is_active(p))
        .cloned()
        .collect();
    let want = owner.replicas().max(0) as usize;
    let mut failure = None;
    if active.len() < want {
        let missing = (want - active.len()).min(BURST);
        if let Some(template) = owner.template() {
            match create_pods(&ctx, &*owner, template, missing, expectations).await {
                Ok(()) => {}
                Err(message) => failure = Some(message),
            }
        }
    } else if active.len() > want {
        let surplus = (active.len() - want).min(BURST);
        sort_for_deletion(&mut active);
        for pod in active.iter().take(surplus) {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            expectations.deleted(&uid, &pod_name);
            match api.delete(&pod_name, &DeleteParams::default()).await {
                Ok(_) => ctx.recorder.normal(
                    &*owner,
                    "SuccessfulDelete",
                    format!("Deleted pod: {pod_name}"),
                ),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    update_status(&ctx, &*owner, &owned, failure).await
}

/// Creates `count` pods in slow-start batches (1, 2, 4, ...), stopping at the first batch
/// with a failure, as upstream does; returns the failure message.
async fn create_pods<K: Replicated>(
    ctx: &Context,
    owner: &K,
    template: &PodTemplateSpec,
    count: usize,
    expectations: &Expectations,
) -> std::result::Result<(), String> {
    let meta = owner.meta();
    let ns = meta.namespace.clone().unwrap_or_default();
    let uid = meta.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let prefix = format!("{}-", meta.name.clone().unwrap_or_default());
    let pod = pods::from_template(template, &ns, &prefix, pods::owner_reference(owner));
    let mut remaining = count;
    let mut batch = 1;
    while remaining > 0 {
        let size = batch.min(remaining);
        let params = PostParams::default();
        let results: Vec<_> = futures::stream::iter(0..size)
            .map(|_| api.create(&params, &pod))
            .buffer_unordered(size)
            .collect()
            .await;
        let mut failed = None;
        for result in results {
            match result {
                Ok(created) => {
                    let name = created.metadata.name.unwrap_or_default();
                    expectations.created(&uid, &name);
                    ctx.recorder
                        .normal(owner, "SuccessfulCreate", format!("Created pod: {name}"));
                }
                Err(e) => {
                    let message = match &e {
                        kube::Error::Api(s) => s.message.clone(),
                        other => other.to_string(),
                    };
                    ctx.recorder.warning(
                        owner,
                        "FailedCreate",
                        format!("Error creating: {message}"),
                    );
                    failed = Some(message);
                }
            }
        }
        if let Some(message) = failed {
            return Err(message);
        }
        remaining -= size;
        batch *= 2;
    }
    Ok(())
}

/// The annotation that tells which pods to delete first (lower cost first).
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Sorts pods so that the ones to delete first come first: upstream's `ActivePodsWithRanks`,
/// ranked by how many of the same pods share their node.
fn sort_for_deletion(pods: &mut [Arc<Pod>]) {
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone());
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for n in pods.iter().filter_map(|p| node(p)) {
        *per_node.entry(n).or_default() += 1;
    }
    let rank = |p: &Pod| node(p).and_then(|n| per_node.get(&n).copied()).unwrap_or(0);
    pods.sort_by(|a, b| deletion_order(a, rank(a), b, rank(b)));
}

/// Upstream's ActivePodsWithRanks order: unassigned, then pending (unknown, running), then
/// unready, then lower pod-deletion-cost, then more siblings on the node, then ready for
/// less time, then more restarts, then newer pods come first.
fn deletion_order(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize) -> Ordering {
    let assigned = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    let phase = |p: &Pod| match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let cost = |p: &Pod| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DELETION_COST))
            .and_then(|c| c.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let restarts = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.iter().map(|c| c.restart_count).max())
            .unwrap_or(0)
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let both_ready = pods::is_ready(a) && pods::is_ready(b);
    assigned(a)
        .cmp(&assigned(b))
        .then(phase(a).cmp(&phase(b)))
        .then(pods::is_ready(a).cmp(&pods::is_ready(b)))
        .then(cost(a).cmp(&cost(b)))
        .then(rank_b.cmp(&rank_a))
        // Ready for less time first.
        .then(if both_ready {
            pods::ready_since(b).cmp(&pods::ready_since(a))
        } else {
            Ordering::Equal
        })
        .then(restarts(b).cmp(&restarts(a)))
        // Newer first.
        .then(created(b).cmp(&created(a)))
}

/// Writes the counts and conditions, if they changed; requeues when a pod will become
/// available after minReadySeconds.
async fn update_status<K: Replicated>(
    ctx: &Context,
    owner: &K,
    owned: &[Arc<Pod>],
    failure: Option<String>,
) -> Result<Action> {
    let now = Timestamp::now();
    let min_ready = owner.min_ready_seconds();
    let active: Vec<&Arc<Pod>> = owned.iter().filter(|p| pods::is_active(p)).collect();
    let template_labels = owner
        .template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    let ready = active.iter().filter(|p| pods::is_ready(p)).count();
    let available = active
        .iter()
        .filter(|p| pods::is_available(p, min_ready, now))
        .count();
    let mut status = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": owner.meta().generation,
    });
    let old = owner.status_json();
    let old_failure = old["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "ReplicaFailure"))
        .cloned();
    match (&failure, old_failure) {
        (Some(message), _) => {
            status["conditions"] = json!([{
                "type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                "message": message, "lastTransitionTime": component::now(),
            }]);
        }
        (None, Some(_)) => status["conditions"] = json!([]),
        (None, None) => {}
    }
    let changed = [
        "replicas",
        "fullyLabeledReplicas",
        "readyReplicas",
        "availableReplicas",
        "observedGeneration",
    ]
    .iter()
    .any(|k| old[k].as_i64().unwrap_or(0) != status[k].as_i64().unwrap_or(0))
        || status.get("conditions").is_some();
    if changed {
        let api: Api<K> = Api::namespaced(
            ctx.client.clone(),
            owner.meta().namespace.as_deref().unwrap_or(""),
        );
        api.patch_status(
            owner.meta().name.as_deref().unwrap_or(""),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
    }
    // Look again when the next ready pod has been ready for minReadySeconds.
    let next = active
        .iter()
        .filter(|p| !pods::is_available(p, min_ready, now))
        .filter_map(|p| pods::ready_since(p))
        .map(|since| since.as_second() + min_ready as i64 - now.as_second())
        .min();
    if let Some(seconds) = next {
        return Ok(Action::requeue(Duration::from_secs(seconds.max(1) as u64)));
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(
        name: &str,
        node: &str,
        phase: &str,
        ready: Option<&str>,
        extra: serde_json::Value,
    ) -> Arc<Pod> {
        let mut p = json!({
            "metadata": {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase, "conditions": ready.map(|t| vec![json!(
                {"type": "Ready", "status": "True", "lastTransitionTime": t})]).unwrap_or_default()},
        });
        merge(&mut p, extra);
        Arc::new(serde_json::from_value(p).unwrap())
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn order(mut pods: Vec<Arc<Pod>>) -> Vec<String> {
        sort_for_deletion(&mut pods);
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn unassigned_pending_and_unready_pods_go_first() {
        let t = Some("2024-01-01T00:01:00Z");
        let pods = vec![
            pod("running", "n1", "Running", t, json!({})),
            pod("unready", "n2", "Running", None, json!({})),
            pod("pending", "n3", "Pending", None, json!({})),
            pod("unassigned", "", "Pending", None, json!({})),
        ];
        assert_eq!(order(pods), ["unassigned", "pending", "unready", "running"]);
    }

    #[test]
    fn among_ready_pods_cost_siblings_readiness_restarts_and_age_decide() {
        let early = Some("2024-01-01T00:01:00Z");
        let late = Some("2024-01-01T00:05:00Z");
        let cheap = json!({"metadata": {"annotations": {DELETION_COST: "-5"}}});
        assert_eq!(
            order(vec![
                pod("a", "n1", "Running", early, json!({})),
                pod("cheap", "n2", "Running", early, cheap),
            ]),
            ["cheap", "a"]
        );
        // Two on n1: one of them goes before the lone pod on n2.
        assert_eq!(
            order(vec![
                pod("alone", "n2", "Running", early, json!({})),
                pod("crowded", "n1", "Running", early, json!({})),
                pod("crowded2", "n1", "Running", early, json!({})),
            ])[2],
            "alone"
        );
        assert_eq!(
            order(vec![
                pod("old-ready", "n1", "Running", early, json!({})),
                pod("new-ready", "n2", "Running", late, json!({})),
            ]),
            ["new-ready", "old-ready"]
        );
        let restarted = json!({"status": {"containerStatuses": [{"name": "c", "image": "i", "imageID": "",
                "ready": true, "restartCount": 3}]}});
        assert_eq!(
            order(vec![
                pod("steady", "n1", "Running", early, json!({})),
                pod("flaky", "n2", "Running", early, restarted),
            ]),
            ["flaky", "steady"]
        );
        let newer = json!({"metadata": {"creationTimestamp": "2024-02-01T00:00:00Z"}});
        assert_eq!(
            order(vec![
                pod("older", "n1", "Running", early, json!({})),
                pod("newer", "n2", "Running", early, newer),
            ]),
            ["newer", "older"]
        );
    }
}
