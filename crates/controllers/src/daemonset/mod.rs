//! The DaemonSet controller: one pod on every node its template fits (node selector, node
//! affinity, taints against tolerations), pinned there by a required node affinity
//! `metadata.name In [node]` for the scheduler to honour; nodes that appear get a pod, nodes
//! that go or stop fitting lose theirs; templates are recorded as ControllerRevisions and
//! rolled out within `maxUnavailable`/`maxSurge` (or on delete).

pub mod nodes;
pub mod plan;

#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use apimachinery::labels;
use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::{ControllerRevision, DaemonSet},
        core::v1::{
            Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
            Pod, PodTemplateSpec,
        },
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::{
    Api,
    api::{DeleteParams, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{
    Context, Result,
    expectations::Expectations,
    pods,
    statefulset::{REVISION_LABEL, history},
};
use plan::{NodeView, Op, PodView, Update};

/// The deprecated label holding the DaemonSet generation a pod was made from.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let sets = ctx.informers.get::<DaemonSet>();
    let pod_informer = ctx.informers.get::<Pod>();
    let node_informer = ctx.informers.get::<Node>();
    let revisions = ctx.informers.get::<ControllerRevision>();
    pod_informer.ready().await;
    node_informer.ready().await;
    revisions.ready().await;
    // Any node change may concern every DaemonSet.
    let set_store = sets.store();
    let every_set = move |_node: Arc<Node>| -> Vec<ObjectRef<DaemonSet>> {
        set_store
            .state()
            .iter()
            .map(|s| ObjectRef::from_obj(&**s))
            .collect()
    };
    let controller = Controller::for_shared_stream(sets.subscribe(), sets.store())
        .watches_shared_stream(pod_informer.subscribe(), |pod: Arc<Pod>| {
            let owner = pods::controller_of(&pod.metadata)?;
            (owner.kind == "DaemonSet").then(|| {
                ObjectRef::new(&owner.name).within(pod.metadata.namespace.as_deref().unwrap_or(""))
            })
        })
        .watches_shared_stream(node_informer.subscribe(), every_set);
    let expectations = Arc::new(Expectations::default());
    crate::drive("daemonset", controller, ctx, move |set, ctx| {
        let expectations = expectations.clone();
        async move { reconcile(set, ctx, &expectations).await }
    })
    .await;
}

/// The node a daemon pod is bound to, or pinned to by its node affinity.
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(node.clone());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

/// The template with the automatic tolerations, as every pod and fit check uses it.
pub fn effective_template(set: &DaemonSet) -> PodTemplateSpec {
    let mut template = set.spec.clone().unwrap_or_default().template;
    nodes::add_daemon_tolerations(template.spec.get_or_insert_with(Default::default));
    template
}

/// The pod for `node`: the template's, labelled with its revision and pinned to the node.
pub fn new_pod(set: &DaemonSet, template: &PodTemplateSpec, hash: &str, node: &str) -> Pod {
    let name = set.metadata.name.clone().unwrap_or_default();
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let mut pod = pods::from_template(
        template,
        &ns,
        &format!("{name}-"),
        pods::owner_reference(set),
    );
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(REVISION_LABEL.into(), hash.into());
    if let Some(generation) = set.metadata.generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), generation.to_string());
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    });
    pod
}

/// An int-or-percent of `total`, rounded up.
fn scaled(value: Option<&IntOrString>, total: usize) -> usize {
    match value {
        Some(IntOrString::Int(i)) => (*i).max(0) as usize,
        Some(IntOrString::String(s)) => {
            let percent: usize = s.trim_end_matches('%').parse().unwrap_or(0);
            (percent * total).div_ceil(100)
        }
        None => 0,
    }
}

/// The update strategy with its limits scaled to `desired` nodes (never both zero).
fn update_of(set: &DaemonSet, desired: usize) -> Update {
    let strategy = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.clone())
        .unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return Update::OnDelete;
    }
    let rolling = strategy.rolling_update.unwrap_or_default();
    let max_surge = scaled(rolling.max_surge.as_ref(), desired);
    let mut max_unavailable = scaled(
        Some(
            rolling
                .max_unavailable
                .as_ref()
                .unwrap_or(&IntOrString::Int(1)),
        ),
        desired,
    );
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    Update::Rolling {
        max_unavailable,
        max_surge,
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

async fn reconcile(
    set: Arc<DaemonSet>,
    ctx: Arc<Context>,
    expectations: &Expectations,
) -> Result<Action> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let name = set.metadata.name.clone().unwrap_or_default();
    let uid = set.metadata.uid.clone().unwrap_or_default();
    if set.metadata.deletion_timestamp.is_some() {
        expectations.forget(&uid);
        return Ok(Action::await_change());
    }
    let pod_store = ctx.informers.get::<Pod>().store();
    // A pod being deleted counts as gone: its node may never confirm the deletion.
    let present = |pod: &str| {
        pod_store
            .get(&ObjectRef::new(pod).within(&ns))
            .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
    };
    if !expectations.satisfied(&uid, present) {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let spec = set.spec.clone().unwrap_or_default();
    let Some(selector) = labels::from_label_selector(&spec.selector)
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return Ok(Action::await_change());
    };

    // The revision of the current template.
    let revisions = history::owned(&ctx, &ns, &uid);
    let status = set.status.clone().unwrap_or_default();
    let ensured = history::ensure(
        &ctx,
        &*set,
        spec.selector.match_labels.clone().unwrap_or_default(),
        history::data_of(&spec.template),
        &revisions,
        status.collision_count.unwrap_or(0),
    )
    .await?;
    let hash = ensured
        .revision
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(history::HASH_LABEL))
        .cloned()
        .unwrap_or_default();

    // The set's pods by node.
    let now = Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let empty = BTreeMap::new();
    let mut owned: Vec<Arc<Pod>> = pod_store
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|p| pods::controller_of(&p.metadata).is_some_and(|o| o.uid == uid))
        .filter(|p| selector.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
        .collect();
    owned.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .then(a.metadata.name.cmp(&b.metadata.name))
    });
    let template = effective_template(&set);
    let template_spec = template.spec.clone().unwrap_or_default();
    let mut views: BTreeMap<String, NodeView> = BTreeMap::new();
    for node in ctx.informers.get::<Node>().store().state() {
        let fit = nodes::fit(&template_spec, &node);
        views.insert(
            node.metadata.name.clone().unwrap_or_default(),
            NodeView {
                exists: true,
                should_run: fit.should_run,
                should_continue: fit.should_continue,
                pods: Vec::new(),
            },
        );
    }
    for pod in &owned {
        let Some(node) = target_node(pod) else {
            continue;
        };
        let updated = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(REVISION_LABEL))
            == Some(&hash);
        views.entry(node).or_default().pods.push(PodView {
            name: pod.metadata.name.clone().unwrap_or_default(),
            updated,
            available: pods::is_available(pod, min_ready, now),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            finished: matches!(phase(pod), "Succeeded" | "Failed"),
        });
    }
    let desired = views.values().filter(|v| v.should_run).count();
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    for op in plan::plan(&views, update_of(&set, desired)) {
        match op {
            Op::Create(node) => {
                let pod = new_pod(&set, &template, &hash, &node);
                match pod_api.create(&PostParams::default(), &pod).await {
                    Ok(created) => {
                        let pod_name = created.metadata.name.unwrap_or_default();
                        expectations.created(&uid, &pod_name);
                        ctx.recorder.normal(
                            &*set,
                            "SuccessfulCreate",
                            format!("Created pod: {pod_name}"),
                        );
                    }
                    Err(kube::Error::Api(e)) => {
                        ctx.recorder.warning(
                            &*set,
                            "FailedCreate",
                            format!("Error creating: {}", e.message),
                        );
                        return Err(kube::Error::Api(e).into());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Op::Delete(pod_name) => {
                if let Some(pod) = owned
                    .iter()
                    .find(|p| p.metadata.name.as_deref() == Some(pod_name.as_str()))
                    && phase(pod) == "Failed"
                {
                    ctx.recorder.warning(
                        &*set,
                        "FailedDaemonPod",
                        format!(
                            "Found failed daemon pod {ns}/{pod_name} on node {}, will try to kill it",
                            target_node(pod).unwrap_or_default()
                        ),
                    );
                }
                expectations.deleted(&uid, &pod_name);
                match pod_api.delete(&pod_name, &DeleteParams::default()).await {
                    Ok(_) => ctx.recorder.normal(
                        &*set,
                        "SuccessfulDelete",
                        format!("Deleted pod: {pod_name}"),
                    ),
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    // History beyond the limit goes, except revisions pods still use.
    let current_name = ensured.revision.metadata.name.clone().unwrap_or_default();
    let used_hashes: Vec<&str> = owned
        .iter()
        .filter_map(|p| p.metadata.labels.as_ref()?.get(REVISION_LABEL))
        .map(String::as_str)
        .collect();
    let mut in_use: Vec<String> = history::owned(&ctx, &ns, &uid)
        .iter()
        .filter(|r| {
            r.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(history::HASH_LABEL))
                .is_some_and(|h| used_hashes.contains(&h.as_str()))
        })
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    in_use.push(current_name);
    let in_use: Vec<&str> = in_use.iter().map(String::as_str).collect();
    let limit = spec.revision_history_limit.unwrap_or(10);
    history::truncate(&ctx, &ns, &history::owned(&ctx, &ns, &uid), &in_use, limit).await?;

    // Status, counted per node as upstream does.
    let first_pod = |view: &NodeView| -> Option<Arc<Pod>> {
        let pod = view.pods.iter().find(|p| !p.terminating)?;
        owned
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(pod.name.as_str()))
            .cloned()
    };
    let (mut scheduled, mut misscheduled, mut ready, mut available, mut updated) = (0, 0, 0, 0, 0);
    for view in views.values().filter(|v| v.exists) {
        let Some(pod) = first_pod(view) else {
            continue;
        };
        if !view.should_run {
            misscheduled += 1;
            continue;
        }
        scheduled += 1;
        if pods::is_ready(&pod) {
            ready += 1;
            if pods::is_available(&pod, min_ready, now) {
                available += 1;
            }
        }
        if view.pods.iter().any(|p| p.updated && !p.terminating) {
            updated += 1;
        }
    }
    let new_status = json!({
        "observedGeneration": set.metadata.generation,
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": scheduled,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "numberAvailable": available,
        "numberUnavailable": desired.saturating_sub(available),
        "updatedNumberScheduled": updated,
        "collisionCount": ensured.collision_count,
    });
    let old = serde_json::to_value(&set.status).unwrap_or_default();
    let changed = new_status
        .as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| old[k].as_i64().unwrap_or(0) != v.as_i64().unwrap_or(0));
    if changed {
        let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
        api.patch_status(
            &name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"status": new_status})),
        )
        .await?;
    }
    let waiting = owned
        .iter()
        .any(|p| pods::is_ready(p) && !pods::is_available(p, min_ready, now));
    Ok(if waiting {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}
