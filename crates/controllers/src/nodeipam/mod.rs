//! The node IPAM controller (upstream's range allocator): every node gets `spec.podCIDR` and
//! `spec.podCIDRs`, one subnet of `--node-cidr-mask-size` per cluster CIDR in
//! `--cluster-cidr`, never the same twice; a deleted node's subnets are free again. The
//! allocation is rebuilt from the nodes on start. When no subnet is left the node gets the
//! event `CIDRNotAvailable`.

mod cidrset;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::{
    Api,
    api::{Patch, PatchParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use self::cidrset::{Cidr, CidrSet};
use crate::{Context, Error, Result};

/// The subnets of every cluster CIDR, and which node holds which.
#[derive(Debug)]
pub struct Allocator {
    sets: Vec<CidrSet>,
    /// Node name -> the subnets it holds.
    held: HashMap<String, Vec<Cidr>>,
}

impl Allocator {
    /// The allocator of `cluster_cidrs` (comma-separated); IPv4 subnets are `/mask`, IPv6
    /// ones `/64` or `/mask` if longer.
    pub fn new(cluster_cidrs: &str, mask: u8) -> Result<Allocator, cidrset::CidrError> {
        let sets = cluster_cidrs
            .split(',')
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                let cidr: Cidr = c.parse()?;
                let mask = if cidr.addr.is_ipv4() {
                    mask
                } else {
                    mask.max(64)
                };
                CidrSet::new(cidr, mask)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Allocator {
            sets,
            held: HashMap::new(),
        })
    }

    /// Records the subnets a node already has; those outside the cluster CIDRs are ignored.
    pub fn occupy(&mut self, node: &str, cidrs: &[String]) {
        let mut held = Vec::new();
        for cidr in cidrs.iter().filter_map(|c| c.parse::<Cidr>().ok()) {
            if self.sets.iter_mut().any(|s| s.occupy(&cidr)) {
                held.push(cidr);
            }
        }
        if !held.is_empty() {
            self.held.insert(node.to_string(), held);
        }
    }

    /// One subnet of each cluster CIDR for `node` (the ones it holds if it has them), or
    /// `None` when some set is exhausted.
    pub fn allocate(&mut self, node: &str) -> Option<Vec<Cidr>> {
        if let Some(held) = self.held.get(node) {
            return Some(held.clone());
        }
        let mut got = Vec::with_capacity(self.sets.len());
        for set in &mut self.sets {
            match set.allocate() {
                Some(c) => got.push(c),
                None => {
                    self.free(&got);
                    return None;
                }
            }
        }
        self.held.insert(node.to_string(), got.clone());
        Some(got)
    }

    /// Frees the subnets `node` holds.
    pub fn release(&mut self, node: &str) {
        if let Some(held) = self.held.remove(node) {
            self.free(&held);
        }
    }

    fn free(&mut self, cidrs: &[Cidr]) {
        for cidr in cidrs {
            for set in &mut self.sets {
                set.release(cidr);
            }
        }
    }
}

/// The subnets a node has: `spec.podCIDRs`, or `spec.podCIDR` alone.
fn pod_cidrs(node: &Node) -> Vec<String> {
    let Some(spec) = &node.spec else {
        return Vec::new();
    };
    match (&spec.pod_cidrs, &spec.pod_cidr) {
        (Some(list), _) if !list.is_empty() => list.clone(),
        (_, Some(one)) if !one.is_empty() => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Allocates pod CIDRs to nodes.
pub async fn run(ctx: Arc<Context>) {
    let allocator = match Allocator::new(&ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size)
    {
        Ok(a) => Arc::new(Mutex::new(a)),
        Err(error) => {
            tracing::error!(%error, "node IPAM disabled");
            return;
        }
    };
    let nodes = ctx.informers.get::<Node>();
    // Other controllers drive nodes too: with the cache ready first, the controller never
    // waits on the store alongside another (kube-runtime wakes only one waiter).
    nodes.ready().await;
    {
        let mut a = allocator.lock().expect("allocator lock");
        for node in nodes.store().state() {
            a.occupy(
                node.metadata.name.as_deref().unwrap_or_default(),
                &pod_cidrs(&node),
            );
        }
    }
    // Deleted nodes free their subnets.
    let store = nodes.store();
    let releases = allocator.clone();
    tokio::spawn(nodes.subscribe().for_each(move |node| {
        let name = node.metadata.name.clone().unwrap_or_default();
        if store.get(&ObjectRef::new(&name)).is_none() {
            releases.lock().expect("allocator lock").release(&name);
        }
        futures::future::ready(())
    }));
    let controller = Controller::for_shared_stream(nodes.subscribe(), nodes.store());
    crate::drive("nodeipam", controller, ctx, move |node, ctx| {
        reconcile(node, ctx, allocator.clone())
    })
    .await;
}

async fn reconcile(
    node: Arc<Node>,
    ctx: Arc<Context>,
    allocator: Arc<Mutex<Allocator>>,
) -> Result<Action> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let existing = pod_cidrs(&node);
    if !existing.is_empty() {
        allocator
            .lock()
            .expect("allocator lock")
            .occupy(&name, &existing);
        return Ok(Action::await_change());
    }
    if node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(cidrs) = allocator.lock().expect("allocator lock").allocate(&name) else {
        ctx.recorder.normal(
            &*node,
            "CIDRNotAvailable",
            format!("Node {name} status is now: CIDRNotAvailable"),
        );
        return Err(Error::Invalid(format!("no pod CIDR left for node {name}")));
    };
    let cidrs: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
    // Not pinned to the version read: the API server refuses to change a pod CIDR once set,
    // so a racing writer cannot be overwritten.
    let patch = json!({"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}});
    let api: Api<Node> = Api::all(ctx.client.clone());
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::info!(node = name, ?cidrs, "allocated pod CIDRs");
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 422 => {
            // The node went, or got other pod CIDRs meanwhile: look again at what it has.
            allocator.lock().expect("allocator lock").release(&name);
            Ok(Action::await_change())
        }
        Err(e) => {
            allocator.lock().expect("allocator lock").release(&name);
            Err(e.into())
        }
    }
}
