//! The scheduler: assigns each pending pod with `schedulerName: default-scheduler` to a node
//! through `pods/binding`.
//!
//! The core is pure (`snapshot`, `plugins`, `queue`); this file is the thin I/O layer: it
//! feeds the snapshot and queue from shared informers, runs one scheduling cycle at a time,
//! assumes each placed pod on its node at once, and binds asynchronously with bounded
//! concurrency, like upstream's scheduling and binding cycles.

pub mod plugins;
pub mod queue;
pub mod resources;
pub mod snapshot;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use component::{Informer, Informers, Recorder};
use futures::StreamExt;
use k8s_openapi::api::{
    core::v1::{Binding, Node, ObjectReference, Pod},
    scheduling::v1::PriorityClass,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
    runtime::reflector::ObjectRef,
};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use crate::{
    plugins::{Query, Reason, fit_error},
    queue::Queue,
    snapshot::{PodInfo, Snapshot},
};

/// The scheduler name pods ask for by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// How many bindings may be in flight at once.
const BINDINGS_IN_FLIGHT: usize = 128;

/// The scheduler's state: the cluster snapshot and the queue, under one lock.
#[derive(Default)]
struct State {
    snapshot: Snapshot,
    queue: Queue,
    /// Where to start the next node search, so successive pods spread over the nodes.
    next_start: usize,
}

struct Scheduler {
    client: Client,
    pods: Informer<Pod>,
    priority_classes: Informer<PriorityClass>,
    recorder: Recorder,
    state: Mutex<State>,
    wake: Notify,
    bindings: Semaphore,
}

/// Runs the scheduler until the process ends.
pub async fn run(client: Client) {
    let informers = Informers::new(client.clone());
    let scheduler = Arc::new(Scheduler {
        pods: informers.get::<Pod>(),
        priority_classes: informers.get::<PriorityClass>(),
        recorder: Recorder::new(client.clone(), DEFAULT_SCHEDULER),
        client,
        state: Mutex::default(),
        wake: Notify::new(),
        bindings: Semaphore::new(BINDINGS_IN_FLIGHT),
    });
    let nodes = informers.get::<Node>();
    nodes.ready().await;
    scheduler.pods.ready().await;
    scheduler.priority_classes.ready().await;
    tracing::info!("scheduler caches synced");
    tokio::spawn(watch_nodes(scheduler.clone(), nodes));
    tokio::spawn(watch_pods(scheduler.clone()));
    tokio::spawn(flush(scheduler.clone()));
    scheduler.schedule_loop().await;
}

/// Keeps the snapshot's nodes current; a changed node may make waiting pods fit.
async fn watch_nodes(s: Arc<Scheduler>, nodes: Informer<Node>) {
    let store = nodes.store();
    let mut feed = nodes.subscribe().boxed();
    while let Some(node) = feed.next().await {
        let mut state = s.state.lock().expect("scheduler lock");
        match store.get(&ObjectRef::from_obj(&*node)) {
            Some(current) => state.snapshot.upsert_node(current),
            None => state
                .snapshot
                .remove_node(node.metadata.name.as_deref().unwrap_or("")),
        }
        state.queue.cluster_changed();
    }
}

/// Whether this scheduler is responsible for an unbound pod.
fn wants(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let name = spec
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or(DEFAULT_SCHEDULER);
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let gated = spec
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty());
    name == DEFAULT_SCHEDULER
        && spec
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
            .is_empty()
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(phase, Some("Succeeded" | "Failed"))
        && !gated
}

/// Accounts bound pods on their nodes and queues unbound ones.
async fn watch_pods(s: Arc<Scheduler>) {
    let store = s.pods.store();
    let mut feed = s.pods.subscribe().boxed();
    while let Some(pod) = feed.next().await {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let current = store
            .get(&ObjectRef::from_obj(&*pod))
            .filter(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
        let mut state = s.state.lock().expect("scheduler lock");
        let Some(pod) = current else {
            // Deleted: its resources are free again.
            state.queue.remove(&uid);
            if state.snapshot.remove_pod(&uid).is_some() {
                state.queue.cluster_changed();
            }
            continue;
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if !node.is_empty() {
            state.queue.remove(&uid);
            if matches!(phase, Some("Succeeded" | "Failed")) {
                if state.snapshot.remove_pod(&uid).is_some() {
                    state.queue.cluster_changed();
                }
            } else {
                state.snapshot.add_pod(pod, &node);
            }
        } else if wants(&pod) {
            if state.snapshot.node_of(&uid).is_none() && !state.queue.contains(&uid) {
                let priority = s.priority(&pod);
                let key = (
                    pod.metadata.namespace.clone().unwrap_or_default(),
                    pod.metadata.name.clone().unwrap_or_default(),
                );
                state.queue.add(&uid, key, priority);
                drop(state);
                s.wake.notify_one();
            }
        } else {
            state.queue.remove(&uid);
        }
    }
}

/// Retries pods whose back-off ended each second and every unschedulable pod every 30 s
/// (upstream's flushBackoffQCompleted and flushUnschedulablePodsLeftover).
async fn flush(s: Arc<Scheduler>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ticks = 0u64;
    loop {
        tick.tick().await;
        ticks += 1;
        let moved = {
            let mut state = s.state.lock().expect("scheduler lock");
            if ticks.is_multiple_of(30) {
                state.queue.flush_unschedulable();
            }
            state.queue.flush_backoff() + state.queue.active_len()
        };
        if moved > 0 {
            s.wake.notify_one();
        }
    }
}

/// How many feasible nodes to look for before scoring (upstream's adaptive
/// percentageOfNodesToScore: 50% minus 1% per 125 nodes, at least 5%, at least 100 nodes).
fn nodes_to_find(all: usize) -> usize {
    if all <= 100 {
        return all;
    }
    let percent = (50usize.saturating_sub(all / 125)).max(5);
    (all * percent / 100).max(100)
}

/// The outcome of one scheduling cycle.
enum Decision {
    /// Bind to this node.
    Bind(String),
    /// Fits nowhere: the message and whether preempting lower-priority pods on a node
    /// makes room (victims on that node).
    Unschedulable {
        message: String,
        preempt: Option<Victims>,
    },
}

impl Scheduler {
    /// The pod's priority: `spec.priority`, else its PriorityClass, else the global default.
    fn priority(&self, pod: &Pod) -> i32 {
        let spec = pod.spec.as_ref();
        if let Some(p) = spec.and_then(|s| s.priority) {
            return p;
        }
        let classes = self.priority_classes.store();
        match spec.and_then(|s| s.priority_class_name.as_deref()) {
            Some(name) => classes
                .get(&ObjectRef::new(name))
                .map(|c| c.value)
                .unwrap_or(0),
            None => classes
                .state()
                .iter()
                .find(|c| c.global_default == Some(true))
                .map(|c| c.value)
                .unwrap_or(0),
        }
    }

    async fn schedule_loop(self: Arc<Self>) {
        loop {
            let next = self.state.lock().expect("scheduler lock").queue.pop();
            let Some((uid, (namespace, name))) = next else {
                self.wake.notified().await;
                continue;
            };
            let pod = self
                .pods
                .store()
                .get(&ObjectRef::new(&name).within(&namespace))
                .filter(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
            let Some(pod) = pod else {
                self.state
                    .lock()
                    .expect("scheduler lock")
                    .queue
                    .remove(&uid);
                continue;
            };
            if !wants(&pod) {
                self.state
                    .lock()
                    .expect("scheduler lock")
                    .queue
                    .remove(&uid);
                continue;
            }
            let decision = self.decide(&pod);
            match decision {
                Decision::Bind(node) => self.clone().bind(pod, node),
                Decision::Unschedulable { message, preempt } => {
                    let retry = preempt.is_some();
                    self.state
                        .lock()
                        .expect("scheduler lock")
                        .queue
                        .failed(&uid, retry);
                    tokio::spawn(self.clone().report_unschedulable(pod, message, preempt));
                }
            }
        }
    }

    /// One scheduling cycle: filter, score, pick; or explain why nothing fits.
    fn decide(&self, pod: &Arc<Pod>) -> Decision {
        let mut state = self.state.lock().expect("scheduler lock");
        let mut info = PodInfo::new(pod.clone());
        let priority = self.priority(pod);
        if info.pod.spec.as_ref().and_then(|s| s.priority).is_none() {
            let mut with_priority = (**pod).clone();
            if let Some(spec) = with_priority.spec.as_mut() {
                spec.priority = Some(priority);
            }
            info = PodInfo::new(Arc::new(with_priority));
        }
        let total = state.snapshot.len();
        let want = nodes_to_find(total);
        let start = state.next_start;
        let query = Query::new(info.clone(), &state.snapshot);
        let mut best: Option<(i64, String)> = None;
        let mut found = 0;
        let mut examined = 0;
        let mut reasons: HashMap<Reason, usize> = HashMap::new();
        let mut failed: Vec<(String, Vec<Reason>)> = Vec::new();
        for node in state.snapshot.nodes_from(start) {
            examined += 1;
            match query.filter(node) {
                Ok(()) => {
                    found += 1;
                    let score = query.score(node);
                    if best.as_ref().is_none_or(|(b, _)| score > *b) {
                        best = Some((score, node.name().to_string()));
                    }
                    if found >= want {
                        break;
                    }
                }
                Err(rs) => {
                    for r in &rs {
                        *reasons.entry(r.clone()).or_default() += 1;
                    }
                    failed.push((node.name().to_string(), rs));
                }
            }
        }
        if total > 0 {
            state.next_start = (start + examined) % total;
        }
        if let Some((_, node)) = best {
            // Assume: the pod counts on the node before the API confirms the binding.
            let mut assumed = (*info.pod).clone();
            if let Some(spec) = assumed.spec.as_mut() {
                spec.node_name = Some(node.clone());
            }
            state.snapshot.add_pod(Arc::new(assumed), &node);
            return Decision::Bind(node);
        }
        let (preempt, summary) = preemption(&state.snapshot, &info, &failed);
        Decision::Unschedulable {
            message: fit_error(total, &reasons, &summary),
            preempt,
        }
    }

    /// Binds in the background; a failed binding forgets the assumption and retries.
    fn bind(self: Arc<Self>, pod: Arc<Pod>, node: String) {
        tokio::spawn(async move {
            let _permit = self.bindings.acquire().await;
            let name = pod.metadata.name.clone().unwrap_or_default();
            let namespace = pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    uid: Some(uid.clone()),
                    ..Default::default()
                },
                target: ObjectReference {
                    kind: Some("Node".into()),
                    name: Some(node.clone()),
                    ..Default::default()
                },
            };
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
            let result: Result<serde_json::Value, kube::Error> = api
                .create_subresource("binding", &name, &PostParams::default(), &binding)
                .await;
            match result {
                Ok(_) => {
                    self.state
                        .lock()
                        .expect("scheduler lock")
                        .queue
                        .remove(&uid);
                    self.recorder.normal(
                        &*pod,
                        "Scheduled",
                        format!("Successfully assigned {namespace}/{name} to {node}"),
                    );
                }
                Err(error) => {
                    tracing::warn!(pod = name, node, %error, "binding failed");
                    let mut state = self.state.lock().expect("scheduler lock");
                    state.snapshot.remove_pod(&uid);
                    state.queue.failed(&uid, true);
                }
            }
        });
    }

    /// Sets PodScheduled=False with the reason, records FailedScheduling, and preempts
    /// victims when that makes room.
    async fn report_unschedulable(
        self: Arc<Self>,
        pod: Arc<Pod>,
        message: String,
        preempt: Option<Victims>,
    ) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        if let Some((node, victims)) = preempt {
            for victim in victims {
                let vname = victim.metadata.name.clone().unwrap_or_default();
                let vns = victim.metadata.namespace.clone().unwrap_or_default();
                self.recorder.normal(
                    &*victim,
                    "Preempted",
                    format!(
                        "Preempted by pod {} on node {node}",
                        pod.metadata.uid.as_deref().unwrap_or("")
                    ),
                );
                let victims_api: Api<Pod> = Api::namespaced(self.client.clone(), &vns);
                if let Err(error) = victims_api.delete(&vname, &Default::default()).await {
                    tracing::warn!(victim = vname, %error, "could not preempt");
                }
            }
            let nominated = json!({"status": {"nominatedNodeName": node}});
            let _ = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&nominated))
                .await;
        }
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let unchanged = current
            .is_some_and(|c| c.status == "False" && c.message.as_deref() == Some(message.as_str()));
        if unchanged {
            return;
        }
        self.recorder
            .warning(&*pod, "FailedScheduling", message.clone());
        let now = component::now();
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastProbeTime": null, "lastTransitionTime": now,
        }]}});
        if let Err(error) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            tracing::debug!(pod = name, %error, "could not report the pod unschedulable");
        }
    }
}

/// A node and the pods to evict from it.
type Victims = (String, Vec<Arc<Pod>>);

/// DefaultPreemption: the node where evicting the fewest lower-priority pods (lowest
/// priority first) makes the pod fit, and upstream's summary of why preemption helps or not.
fn preemption(
    snapshot: &Snapshot,
    info: &PodInfo,
    failed: &[(String, Vec<Reason>)],
) -> (Option<Victims>, String) {
    let priority = info.priority();
    let mut summary: HashMap<&str, usize> = HashMap::new();
    let mut best: Option<Victims> = None;
    let never = info
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        == Some("Never");
    for (name, reasons) in failed {
        if never || !reasons.iter().all(Reason::preemption_helps) {
            *summary
                .entry("Preemption is not helpful for scheduling")
                .or_default() += 1;
            continue;
        }
        let Some(node) = snapshot.node(name) else {
            continue;
        };
        let mut candidates: Vec<&PodInfo> = node
            .pods
            .values()
            .filter(|p| p.priority() < priority)
            .collect();
        candidates.sort_by_key(|p| p.priority());
        let mut freed = crate::resources::Resources::default();
        let mut victims = Vec::new();
        let mut fits = false;
        for victim in candidates {
            freed.add(&victim.requests);
            victims.push(victim.pod.clone());
            let mut left = node.requested.clone();
            left.sub(&freed);
            let trial = snapshot::NodeInfo {
                node: node.node.clone(),
                allocatable: node.allocatable.clone(),
                allowed_pods: node.allowed_pods + victims.len() as i64,
                requested: left,
                pods: node.pods.clone(),
                used_ports: Default::default(),
            };
            if plugins::fit(&info.requests, &trial, 1).is_empty() {
                fits = true;
                break;
            }
        }
        if fits {
            if best.as_ref().is_none_or(|(_, v)| victims.len() < v.len()) {
                best = Some((name.clone(), victims));
            }
        } else {
            *summary
                .entry("No preemption victims found for incoming pod")
                .or_default() += 1;
        }
    }
    let mut counted: Vec<String> = summary.iter().map(|(r, n)| format!("{n} {r}")).collect();
    counted.sort();
    let text = if best.is_some() {
        String::new()
    } else {
        format!(
            "0/{} nodes are available: {}.",
            snapshot.len(),
            counted.join(", ")
        )
    };
    (best, text)
}
