//! The scheduler's view of the cluster: every node with what its pods request, kept up to date
//! from the watch and from the scheduler's own assumptions, so that scheduling a pod never
//! re-reads the world.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use crate::resources::{Resources, non_zero_requests, pod_requests};

/// A host port a pod uses: (protocol, port, host IP).
pub type HostPort = (String, i32, String);

/// A pod as the scheduler accounts for it.
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// What it requests.
    pub requests: Resources,
    /// The CPU and memory it counts for when scoring (defaults for containers without).
    pub non_zero: (i64, i64),
    /// The host ports it uses.
    pub ports: Vec<HostPort>,
    /// Its priority: `spec.priority`, or resolved from its PriorityClass by the scheduler.
    pub priority: i32,
}

impl PodInfo {
    /// Accounts for `pod` at its `spec.priority` (0 when unset).
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
        PodInfo::with_priority(pod, priority)
    }

    /// Accounts for `pod` at a priority resolved by the caller.
    pub fn with_priority(pod: Arc<Pod>, priority: i32) -> PodInfo {
        PodInfo {
            requests: pod_requests(&pod),
            non_zero: non_zero_requests(&pod),
            ports: host_ports(&pod),
            priority,
            pod,
        }
    }

    /// The pod's uid.
    pub fn uid(&self) -> &str {
        self.pod.metadata.uid.as_deref().unwrap_or("")
    }

    /// Whether the pod is being deleted.
    pub fn terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }

    /// The pod's labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.pod.metadata.labels.as_ref().unwrap_or(&EMPTY)
    }

    /// The pod's namespace.
    pub fn namespace(&self) -> &str {
        self.pod.metadata.namespace.as_deref().unwrap_or("default")
    }

    /// The uid of the pod's controller, if any.
    pub fn owner(&self) -> Option<&str> {
        self.pod
            .metadata
            .owner_references
            .as_deref()?
            .iter()
            .find(|r| r.controller == Some(true))
            .map(|r| r.uid.as_str())
    }

    /// The pod's priority.
    pub fn priority(&self) -> i32 {
        self.priority
    }
}

/// The host ports a pod asks for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|p| *p > 0)?;
            Some((
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port,
                p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
            ))
        })
        .collect()
}

/// A node and what is placed on it.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    /// The node's name.
    pub name: String,
    /// The node, once seen (pods may be seen first).
    pub node: Option<Arc<Node>>,
    /// What the node offers to pods.
    pub allocatable: Resources,
    /// How many pods the node takes.
    pub allowed_pods: i64,
    /// Whether the node is cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// Its NoSchedule and NoExecute taints (filtered on).
    pub hard_taints: Vec<Taint>,
    /// Its PreferNoSchedule taints (scored on).
    pub soft_taints: Vec<Taint>,
    /// What its pods request.
    pub requested: Resources,
    /// The CPU and memory its pods count for when scoring.
    pub non_zero_requested: (i64, i64),
    /// Its pods by uid.
    pub pods: HashMap<String, PodInfo>,
    /// Host ports in use.
    pub used_ports: HashSet<HostPort>,
}

impl NodeInfo {
    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.node
            .as_ref()
            .and_then(|n| n.metadata.labels.as_ref())
            .unwrap_or(&EMPTY)
    }

    fn set_node(&mut self, node: Arc<Node>) {
        let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
        self.allocatable = Resources::from_list(allocatable);
        self.allowed_pods = allocatable
            .and_then(|a| a.get("pods"))
            .and_then(|q| q.0.parse::<apimachinery::validation::Quantity>().ok())
            .map(|q| q.value() as i64)
            .unwrap_or(110);
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let taints = spec.and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
        self.hard_taints = taints
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .cloned()
            .collect();
        self.soft_taints = taints
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .cloned()
            .collect();
        self.node = Some(node);
    }

    /// Accounts for a pod on this node (also used for what-if copies in preemption).
    pub fn add(&mut self, info: PodInfo) {
        self.requested.add(&info.requests);
        self.non_zero_requested.0 += info.non_zero.0;
        self.non_zero_requested.1 += info.non_zero.1;
        self.used_ports.extend(info.ports.iter().cloned());
        let uid = info.pod.metadata.uid.clone().unwrap_or_default();
        self.pods.insert(uid, info);
    }

    /// Stops accounting for a pod on this node.
    pub fn remove(&mut self, uid: &str) -> Option<PodInfo> {
        let info = self.pods.remove(uid)?;
        self.requested.sub(&info.requests);
        self.non_zero_requested.0 -= info.non_zero.0;
        self.non_zero_requested.1 -= info.non_zero.1;
        for port in &info.ports {
            self.used_ports.remove(port);
        }
        Some(info)
    }
}

/// Every node and the pods on it.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Nodes (and names pods were seen on before their node) in a stable order, for
    /// sampling from a rotating start without hashing names.
    nodes: Vec<NodeInfo>,
    /// Where each name is in `nodes`.
    index: HashMap<String, usize>,
    /// How many entries of `nodes` have their node.
    count: usize,
    /// Which node each accounted pod is on.
    pod_node: HashMap<String, String>,
    /// Pods (uid) with required anti-affinity terms, which constrain others.
    anti_affinity_pods: HashSet<String>,
    /// Pods per node of each controller (owner uid), for spreading siblings.
    siblings: HashMap<String, HashMap<String, i64>>,
    /// Unbound pods nominated to a node by preemption (uid to node and pod): the room their
    /// victims free is kept for them, from pods of lower priority.
    nominated: HashMap<String, (String, PodInfo)>,
}

impl Snapshot {
    /// Adds or updates a node.
    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let info = self.entry(&name);
        let new = info.node.is_none();
        info.set_node(node);
        if new {
            self.count += 1;
        }
    }

    /// Removes a node (its pods stay accounted until they are deleted).
    pub fn remove_node(&mut self, name: &str) {
        if let Some(&i) = self.index.get(name)
            && self.nodes[i].node.take().is_some()
        {
            self.count -= 1;
        }
    }

    /// Accounts for a pod on `node` at its `spec.priority`, replacing an earlier version.
    pub fn add_pod(&mut self, pod: Arc<Pod>, node: &str) {
        self.add(PodInfo::new(pod), node);
    }

    /// Accounts for a pod on `node`, replacing an earlier version of it.
    pub fn add(&mut self, info: PodInfo, node: &str) {
        let uid = info.uid().to_string();
        self.remove_pod(&uid);
        self.nominated.remove(&uid);
        let has_anti = info
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .is_some_and(|t| !t.is_empty());
        if has_anti {
            self.anti_affinity_pods.insert(uid.clone());
        }
        if let Some(owner) = info.owner() {
            *self
                .siblings
                .entry(owner.to_string())
                .or_default()
                .entry(node.to_string())
                .or_default() += 1;
        }
        self.entry(node).add(info);
        self.pod_node.insert(uid, node.to_string());
    }

    /// Stops accounting for a pod.
    pub fn remove_pod(&mut self, uid: &str) -> Option<PodInfo> {
        let node = self.pod_node.remove(uid)?;
        self.anti_affinity_pods.remove(uid);
        let i = *self.index.get(&node)?;
        let info = self.nodes[i].remove(uid)?;
        if let Some(owner) = info.owner()
            && let Some(per_node) = self.siblings.get_mut(owner)
        {
            if let Some(count) = per_node.get_mut(&node) {
                *count -= 1;
                if *count <= 0 {
                    per_node.remove(&node);
                }
            }
            if per_node.is_empty() {
                self.siblings.remove(owner);
            }
        }
        Some(info)
    }

    /// The entry of a node name, created if missing.
    fn entry(&mut self, name: &str) -> &mut NodeInfo {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.nodes.push(NodeInfo {
                    name: name.to_string(),
                    ..Default::default()
                });
                self.index.insert(name.to_string(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[i]
    }

    /// Keeps room on `node` for a pod that preempted pods there (or forgets it with `None`).
    pub fn nominate(&mut self, info: PodInfo, node: Option<&str>) {
        let uid = info.uid().to_string();
        match node {
            Some(node) => {
                self.nominated.insert(uid, (node.to_string(), info));
            }
            None => {
                self.nominated.remove(&uid);
            }
        }
    }

    /// Forgets a nominated pod (bound or deleted).
    pub fn forget_nominated(&mut self, uid: &str) {
        self.nominated.remove(uid);
    }

    /// The node a pod is nominated to.
    pub fn nominated_node(&self, uid: &str) -> Option<&str> {
        self.nominated.get(uid).map(|(n, _)| n.as_str())
    }

    /// Nominated pods other than `uid` with at least `priority`, with their node: the pod
    /// being scheduled must leave their room free (upstream's addNominatedPods).
    pub fn nominated_before(
        &self,
        uid: &str,
        priority: i32,
    ) -> impl Iterator<Item = (&str, &PodInfo)> {
        self.nominated
            .iter()
            .filter(move |(u, (_, p))| u.as_str() != uid && p.priority >= priority)
            .map(|(_, (n, p))| (n.as_str(), p))
    }

    /// How many pods of controller `owner` each node runs.
    pub fn siblings(&self, owner: &str) -> Option<&HashMap<String, i64>> {
        self.siblings.get(owner)
    }

    /// The node a pod is accounted on.
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.pod_node.get(uid).map(String::as_str)
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        let i = *self.index.get(name)?;
        Some(&self.nodes[i]).filter(|n| n.node.is_some())
    }

    /// How many nodes exist.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no node exists.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The nodes, starting at index `start` and wrapping around.
    pub fn nodes_from(&self, start: usize) -> impl Iterator<Item = &NodeInfo> {
        let n = self.nodes.len();
        (0..n)
            .map(move |i| &self.nodes[(start + i) % n])
            .filter(|n| n.node.is_some())
    }

    /// Every accounted pod with the node it is on.
    pub fn pods(&self) -> impl Iterator<Item = (&NodeInfo, &PodInfo)> {
        self.nodes
            .iter()
            .filter(|n| n.node.is_some())
            .flat_map(|n| n.pods.values().map(move |p| (n, p)))
    }

    /// Pods with required anti-affinity, with their node.
    pub fn anti_affinity_pods(&self) -> impl Iterator<Item = (&NodeInfo, &PodInfo)> {
        self.anti_affinity_pods.iter().filter_map(|uid| {
            let node = &self.nodes[*self.index.get(self.pod_node.get(uid)?)?];
            Some((node, node.pods.get(uid)?))
        })
    }
}
