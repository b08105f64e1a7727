//! Node health: a node whose Lease (and Ready heartbeat) is older than the grace period has
//! its kubelet conditions set to Unknown; every node's taints follow its conditions and
//! cordon.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        coordination::v1::Lease,
        core::v1::{Node, NodeCondition},
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api,
    api::{Patch, PatchParams},
    runtime::{controller::Action, reflector::ObjectRef},
};
use serde_json::json;

use super::{State, taints};
use crate::{Context, Result};

/// The namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The conditions a kubelet posts, which go Unknown when it stops (upstream's list).
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The last sign of life of a node: its Lease's renewal or its Ready heartbeat, and never
/// before this controller started (a restarted controller gives every node a full grace
/// period, as upstream's observed probe times do).
pub fn last_heartbeat(node: &Node, lease: Option<&Lease>, started: Timestamp) -> Timestamp {
    let renewed = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let posted = taints::condition(node, "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    [renewed, posted, Some(started)]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(started)
}

/// The kubelet conditions set to Unknown, or `None` when they are already.
pub fn unknown_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

/// Checks one node's heartbeat and taints; comes back when its grace period would end.
pub async fn reconcile(node: Arc<Node>, ctx: Arc<Context>, state: Arc<State>) -> Result<Action> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let lease = ctx
        .informers
        .get::<Lease>()
        .store()
        .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE));
    let now = Timestamp::now();
    let grace = ctx.options.node_monitor_grace_period;
    let heartbeat = last_heartbeat(&node, lease.as_deref(), state.started);
    let due = heartbeat.checked_add(grace).unwrap_or(heartbeat);
    let api: Api<Node> = Api::all(ctx.client.clone());
    let mut node = (*node).clone();
    if now >= due
        && let Some(conditions) = unknown_conditions(&node, now)
    {
        let was_ready = taints::condition(&node, "Ready").is_some_and(|c| c.status == "True");
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        node = match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(updated) => updated,
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(
            node = name,
            "node stopped posting status; conditions Unknown"
        );
        if was_ready {
            ctx.recorder.normal(
                &node,
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            );
        }
    }
    if let Some(desired) = taints::desired(&node, now) {
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": desired},
        });
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let ready_unknown = taints::condition(&node, "Ready").is_some_and(|c| c.status == "Unknown");
    if ready_unknown {
        // A renewed Lease or a posted status brings it back here.
        return Ok(Action::await_change());
    }
    let left = due.duration_since(now);
    let left = Duration::try_from(left).unwrap_or_default();
    Ok(Action::requeue(left + Duration::from_millis(100)))
}
