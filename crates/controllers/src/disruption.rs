//! The disruption controller: the status of each PodDisruptionBudget (currentHealthy,
//! desiredHealthy, expectedPods, disruptionsAllowed and the DisruptionAllowed condition) from
//! its selected pods and, for percentages and maxUnavailable, the scale of their controllers.
//! The API server's pods/eviction reads `disruptionsAllowed`.

use std::{collections::BTreeSet, sync::Arc};

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet, StatefulSet},
        core::v1::{Pod, ReplicationController},
        policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus},
    },
    apimachinery::pkg::{
        apis::meta::v1::{Condition, Time},
        util::intstr::IntOrString,
    },
};
use kube::{
    Api,
    api::{Patch, PatchParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{Context, Error, Result, deployment::scaled, pods};

/// The condition this controller keeps.
const CONDITION: &str = "DisruptionAllowed";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let budgets = ctx.informers.get::<PodDisruptionBudget>();
    let pods = ctx.informers.get::<Pod>();
    let store = budgets.store();
    let controller = Controller::for_shared_stream(budgets.subscribe(), budgets.store())
        .watches_shared_stream(pods.subscribe(), move |pod: Arc<Pod>| {
            store
                .state()
                .iter()
                .filter(|b| b.metadata.namespace == pod.metadata.namespace)
                .filter(|b| selects(b, &pod))
                .map(|b| ObjectRef::from_obj(&**b))
                .collect::<Vec<_>>()
        });
    crate::drive("disruption", controller, ctx, reconcile).await;
}

/// Whether the budget's selector selects the pod (policy/v1: an empty selector selects every
/// pod of the namespace, a missing one none).
fn selects(pdb: &PodDisruptionBudget, pod: &Pod) -> bool {
    let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return false;
    };
    apimachinery::labels::from_label_selector(selector)
        .is_ok_and(|s| s.matches(&pod.metadata.labels.clone().unwrap_or_default()))
}

/// The counts a budget's status reports.
#[derive(Debug, PartialEq, Eq)]
pub struct Counts {
    /// Pods that should exist.
    pub expected: i32,
    /// Healthy pods required.
    pub desired_healthy: i32,
    /// Ready pods not being deleted.
    pub current_healthy: i32,
    /// How many more pods may be disrupted.
    pub allowed: i32,
}

/// The scale of a pod's controller, as the function given finds it; `None` when the pod has
/// no controller whose scale is known.
pub type ScaleOf<'a> = dyn Fn(&Pod) -> Option<(String, i32)> + 'a;

/// Computes a budget's counts (upstream `getExpectedPodCount` and `updatePdbStatus`). `scale`
/// gives each pod's controller (an identity and its replicas); each controller counts once.
pub fn counts(
    pdb: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
    scale: &ScaleOf<'_>,
) -> std::result::Result<Counts, String> {
    let spec = pdb.spec.clone().unwrap_or_default();
    let expected_from_controllers = || -> std::result::Result<i32, String> {
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for pod in pods {
            let Some((id, replicas)) = scale(pod) else {
                return Err(format!(
                    "found no controllers for pod \"{}\"",
                    pod.metadata.name.as_deref().unwrap_or_default()
                ));
            };
            if seen.insert(id) {
                total += replicas;
            }
        }
        Ok(total)
    };
    let (expected, desired_healthy) = match (&spec.max_unavailable, &spec.min_available) {
        (Some(max), _) => {
            let expected = expected_from_controllers()?;
            let unavailable = scaled(Some(max), expected, "0", true);
            (expected, (expected - unavailable).max(0))
        }
        (None, Some(IntOrString::Int(min))) => (pods.len() as i32, *min),
        (None, Some(min)) => {
            let expected = expected_from_controllers()?;
            (expected, scaled(Some(min), expected, "0", true))
        }
        (None, None) => (pods.len() as i32, 0),
    };
    let current_healthy = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && pods::is_ready(p))
        .count() as i32;
    let allowed = if expected <= 0 {
        0
    } else {
        (current_healthy - desired_healthy).max(0)
    };
    Ok(Counts {
        expected,
        desired_healthy,
        current_healthy,
        allowed,
    })
}

/// The controller of a pod and its desired replicas, from the shared caches: a ReplicaSet's
/// Deployment when it has one, else the ReplicaSet, StatefulSet or ReplicationController.
fn controller_scale(ctx: &Context, pod: &Pod) -> Option<(String, i32)> {
    let owner = pods::controller_of(&pod.metadata)?;
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let key = |kind: &str, name: &str| format!("{kind}/{name}");
    match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("apps/v1", "ReplicaSet") => {
            let rs = ctx
                .informers
                .get::<ReplicaSet>()
                .store()
                .get(&ObjectRef::new(&owner.name).within(ns))?;
            if let Some(parent) =
                pods::controller_of(&rs.metadata).filter(|o| o.kind == "Deployment")
            {
                let d = ctx
                    .informers
                    .get::<Deployment>()
                    .store()
                    .get(&ObjectRef::new(&parent.name).within(ns))?;
                let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                return Some((key("Deployment", &parent.name), replicas));
            }
            let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            Some((key("ReplicaSet", &owner.name), replicas))
        }
        ("apps/v1", "StatefulSet") => {
            let s = ctx
                .informers
                .get::<StatefulSet>()
                .store()
                .get(&ObjectRef::new(&owner.name).within(ns))?;
            Some((
                key("StatefulSet", &owner.name),
                s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ))
        }
        ("v1", "ReplicationController") => {
            let rc = ctx
                .informers
                .get::<ReplicationController>()
                .store()
                .get(&ObjectRef::new(&owner.name).within(ns))?;
            Some((
                key("ReplicationController", &owner.name),
                rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ))
        }
        _ => None,
    }
}

/// The DisruptionAllowed condition for the counts, keeping the transition time of an
/// unchanged status.
fn condition(
    allowed: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    old: Option<&Condition>,
) -> Condition {
    let status = if allowed { "True" } else { "False" };
    let since = old
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(jiff::Timestamp::now()));
    Condition {
        type_: CONDITION.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: since,
    }
}

async fn reconcile(pdb: Arc<PodDisruptionBudget>, ctx: Arc<Context>) -> Result<Action> {
    if pdb.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = pdb.metadata.namespace.clone().unwrap_or_default();
    let selected: Vec<Arc<Pod>> = ctx
        .informers
        .get::<Pod>()
        .store()
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(&ns) && selects(&pdb, p))
        .collect();
    if selected.is_empty() {
        ctx.recorder
            .normal(&*pdb, "NoPods", "No matching pods found".into());
    }
    let generation = pdb.metadata.generation;
    let old = pdb.status.clone().unwrap_or_default();
    let old_condition = old
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == CONDITION));
    let status = match counts(&pdb, &selected, &|p| controller_scale(&ctx, p)) {
        Ok(c) => PodDisruptionBudgetStatus {
            current_healthy: c.current_healthy,
            desired_healthy: c.desired_healthy,
            expected_pods: c.expected,
            disruptions_allowed: c.allowed,
            observed_generation: generation,
            disrupted_pods: old.disrupted_pods.clone(),
            conditions: Some(vec![if c.allowed > 0 {
                condition(true, "SufficientPods", "", generation, old_condition)
            } else {
                condition(false, "InsufficientPods", "", generation, old_condition)
            }]),
        },
        Err(message) => {
            ctx.recorder.warning(
                &*pdb,
                "CalculateExpectedPodCountFailed",
                format!("Failed to calculate the number of expected pods: {message}"),
            );
            // Fail safe: no disruptions while the budget cannot be computed.
            PodDisruptionBudgetStatus {
                disruptions_allowed: 0,
                observed_generation: generation,
                conditions: Some(vec![condition(
                    false,
                    "SyncFailed",
                    &message,
                    generation,
                    old_condition,
                )]),
                ..old.clone()
            }
        }
    };
    if status != old {
        let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &ns);
        api.patch_status(
            pdb.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .map_err(Error::from)?;
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
