//! The node lifecycle controller: watches Nodes and their Leases in `kube-node-lease`. A node
//! whose Lease is not renewed within `--node-monitor-grace-period` has its conditions set to
//! Unknown; node conditions and cordon become taints (`not-ready`, `unreachable`,
//! `unschedulable`, the pressures); and pods on a node with a NoExecute taint they do not
//! tolerate, or tolerate only for `tolerationSeconds`, are deleted when their time is up.
//! Each node and pod has its own timer: nothing is polled.

mod eviction;
mod health;
mod taints;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::future;
use jiff::Timestamp;
use k8s_openapi::api::{
    coordination::v1::Lease,
    core::v1::{Node, Pod, Taint},
};
use kube::runtime::{controller::Controller, reflector::ObjectRef};

use crate::Context;

/// What the node health loop shares between reconciles.
pub struct State {
    /// When this controller started: no node is older than that to it.
    started: Timestamp,
}

/// What eviction last saw of a node: its NoExecute taints and Ready status.
type Seen = (Vec<Taint>, Option<String>);

/// Runs node health and taint-based eviction.
pub async fn run(ctx: Arc<Context>) {
    future::join(run_health(ctx.clone()), run_eviction(ctx)).await;
}

async fn run_health(ctx: Arc<Context>) {
    let nodes = ctx.informers.get::<Node>();
    let leases = ctx.informers.get::<Lease>();
    // Other controllers drive nodes too: with the cache ready first, the controller never
    // waits on the store alongside another (kube-runtime wakes only one waiter).
    nodes.ready().await;
    leases.ready().await;
    let state = Arc::new(State {
        started: Timestamp::now(),
    });
    let controller = Controller::for_shared_stream(nodes.subscribe(), nodes.store())
        .watches_shared_stream(leases.subscribe(), |lease: Arc<Lease>| {
            (lease.metadata.namespace.as_deref() == Some(health::LEASE_NAMESPACE))
                .then(|| ObjectRef::new(lease.metadata.name.as_deref().unwrap_or_default()))
        });
    crate::drive("nodelifecycle", controller, ctx, move |node, ctx| {
        health::reconcile(node, ctx, state.clone())
    })
    .await;
}

async fn run_eviction(ctx: Arc<Context>) {
    let nodes = ctx.informers.get::<Node>();
    let pods = ctx.informers.get::<Pod>();
    nodes.ready().await;
    pods.ready().await;
    // A node's pods are looked at when its NoExecute taints or readiness change.
    let seen: Mutex<HashMap<String, Seen>> = Mutex::default();
    let pod_store = pods.store();
    let controller = Controller::for_shared_stream(pods.subscribe(), pods.store())
        .watches_shared_stream(nodes.subscribe(), move |node: Arc<Node>| {
            let name = node.metadata.name.clone().unwrap_or_default();
            let no_execute: Vec<Taint> = node
                .spec
                .iter()
                .flat_map(|s| s.taints.iter().flatten())
                .filter(|t| t.effect == "NoExecute")
                .cloned()
                .collect();
            let ready = taints::condition(&node, "Ready").map(|c| c.status.clone());
            let now = (no_execute, ready);
            let changed = seen
                .lock()
                .expect("seen lock")
                .insert(name.clone(), now.clone())
                .is_none_or(|before| before != now);
            let affected: Vec<ObjectRef<Pod>> = if changed {
                pod_store
                    .state()
                    .iter()
                    .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&name))
                    .map(|p| ObjectRef::from_obj(&**p))
                    .collect()
            } else {
                Vec::new()
            };
            affected
        });
    crate::drive("taint-eviction", controller, ctx, eviction::reconcile).await;
}
