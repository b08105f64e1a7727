//! The scheduler: assigns each pending pod with `schedulerName: default-scheduler` to a node
//! through `pods/binding`.
//!
//! The core is pure (`snapshot`, `plugins`, `volumes`, `preemption`, `queue`); this file is
//! the thin I/O layer: it feeds the snapshot and queue from shared informers, runs one
//! scheduling cycle at a time, assumes each placed pod on its node at once, and binds
//! asynchronously with bounded concurrency, like upstream's scheduling and binding cycles.

pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod resources;
pub mod snapshot;
pub mod volumes;

use std::{
    collections::{HashMap, hash_map::RandomState},
    hash::{BuildHasher, Hasher},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use component::{Informer, Informers, Recorder};
use futures::StreamExt;
use k8s_openapi::api::{
    core::v1::{Binding, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod},
    scheduling::v1::PriorityClass,
    storage::v1::StorageClass,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
    runtime::reflector::ObjectRef,
};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use crate::{
    plugins::{Query, Reason, Scores, fit_error},
    queue::{Change, Queue, Retry},
    snapshot::{NodeInfo, PodInfo, Snapshot},
};

/// The scheduler name pods ask for by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// The annotation that tells the volume binder and provisioners which node a claim's pod
/// goes to.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

/// How many bindings may be in flight at once.
const BINDINGS_IN_FLIGHT: usize = 128;

/// How long a binding waits for the pod's delayed claims to be bound (upstream's
/// `bindTimeoutSeconds` is 600).
const VOLUME_BIND_TIMEOUT: Duration = Duration::from_secs(600);

/// How often every unschedulable pod is retried regardless of events.
const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(30);

/// The scheduler's state: the cluster snapshot and the queue, under one lock.
struct State {
    snapshot: Snapshot,
    queue: Queue,
    /// Where to start the next node search, so successive pods spread over the nodes.
    next_start: usize,
    /// The state of the generator that breaks ties between equally scored nodes.
    random: u64,
}

/// A xorshift step over `state`: a uniformly distributed number below `n` (n > 0).
fn random_below(state: &mut u64, n: u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x % n
}

struct Scheduler {
    client: Client,
    pods: Informer<Pod>,
    priority_classes: Informer<PriorityClass>,
    claims: Informer<PersistentVolumeClaim>,
    volumes: Informer<PersistentVolume>,
    classes: Informer<StorageClass>,
    recorder: Recorder,
    state: Mutex<State>,
    wake: Notify,
    bindings: Semaphore,
}

/// Runs the scheduler until the process ends.
pub async fn run(client: Client) {
    let informers = Informers::new(client.clone());
    let seed = RandomState::new().build_hasher().finish() | 1;
    let scheduler = Arc::new(Scheduler {
        pods: informers.get::<Pod>(),
        priority_classes: informers.get::<PriorityClass>(),
        claims: informers.get::<PersistentVolumeClaim>(),
        volumes: informers.get::<PersistentVolume>(),
        classes: informers.get::<StorageClass>(),
        recorder: Recorder::new(client.clone(), DEFAULT_SCHEDULER),
        client,
        state: Mutex::new(State {
            snapshot: Snapshot::default(),
            queue: Queue::default(),
            next_start: 0,
            random: seed,
        }),
        wake: Notify::new(),
        bindings: Semaphore::new(BINDINGS_IN_FLIGHT),
    });
    let nodes = informers.get::<Node>();
    nodes.ready().await;
    scheduler.pods.ready().await;
    scheduler.priority_classes.ready().await;
    scheduler.claims.ready().await;
    scheduler.volumes.ready().await;
    scheduler.classes.ready().await;
    tracing::info!("scheduler caches synced");
    tokio::spawn(watch_nodes(scheduler.clone(), nodes));
    tokio::spawn(watch_pods(scheduler.clone()));
    tokio::spawn(watch_storage(scheduler.clone()));
    tokio::spawn(flush(scheduler.clone()));
    scheduler.schedule_loop().await;
}

/// Keeps the snapshot's nodes current; a changed node may make waiting pods fit.
async fn watch_nodes(s: Arc<Scheduler>, nodes: Informer<Node>) {
    let store = nodes.store();
    let mut feed = nodes.subscribe().boxed();
    while let Some(node) = feed.next().await {
        let mut state = s.lock();
        match store.get(&ObjectRef::from_obj(&*node)) {
            Some(current) => state.snapshot.upsert_node(current),
            None => state
                .snapshot
                .remove_node(node.metadata.name.as_deref().unwrap_or("")),
        }
        state.queue.cluster_changed(Change::Freed, Instant::now());
    }
}

/// Claims, volumes and classes changing may make pods with volumes fit.
async fn watch_storage(s: Arc<Scheduler>) {
    let claims = s.claims.subscribe().map(|_| ()).boxed();
    let volumes = s.volumes.subscribe().map(|_| ()).boxed();
    let classes = s.classes.subscribe().map(|_| ()).boxed();
    let mut feed = futures::stream::select(claims, futures::stream::select(volumes, classes));
    while feed.next().await.is_some() {
        s.lock()
            .queue
            .cluster_changed(Change::Freed, Instant::now());
    }
}

/// Whether this scheduler is responsible for an unbound pod.
fn wants(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let name = spec
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_SCHEDULER);
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let gated = spec
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty());
    name == DEFAULT_SCHEDULER
        && node_name(pod).is_empty()
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(phase, Some("Succeeded" | "Failed"))
        && !gated
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn uid_of(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

/// Accounts bound pods on their nodes and queues unbound ones.
async fn watch_pods(s: Arc<Scheduler>) {
    let store = s.pods.store();
    let mut feed = s.pods.subscribe().boxed();
    while let Some(pod) = feed.next().await {
        let uid = uid_of(&pod).to_string();
        let current = store
            .get(&ObjectRef::from_obj(&*pod))
            .filter(|p| uid_of(p) == uid);
        let now = Instant::now();
        let Some(pod) = current else {
            // Deleted: its resources are free again.
            let mut state = s.lock();
            state.queue.remove(&uid);
            state.snapshot.forget_nominated(&uid);
            if state.snapshot.remove_pod(&uid).is_some() {
                state.queue.cluster_changed(Change::Freed, now);
            }
            continue;
        };
        let priority = s.priority(&pod);
        let node = node_name(&pod).to_string();
        let terminal = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let mut state = s.lock();
        if !node.is_empty() {
            state.queue.remove(&uid);
            if terminal {
                if state.snapshot.remove_pod(&uid).is_some() {
                    state.queue.cluster_changed(Change::Freed, now);
                }
            } else {
                let new = state.snapshot.node_of(&uid).is_none();
                state
                    .snapshot
                    .add(PodInfo::with_priority(pod, priority), &node);
                if new {
                    state.queue.cluster_changed(Change::PodPlaced, now);
                }
            }
        } else if wants(&pod) {
            let nominated = pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.as_deref())
                .filter(|n| !n.is_empty());
            if let Some(n) = nominated
                && state.snapshot.nominated_node(&uid) != Some(n)
            {
                let info = PodInfo::with_priority(pod.clone(), priority);
                state.snapshot.nominate(info, Some(n));
            }
            if state.snapshot.node_of(&uid).is_none() && !state.queue.contains(&uid) {
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
            state.snapshot.forget_nominated(&uid);
        }
    }
}

/// Retries pods whose back-off ended (each second) and every unschedulable pod
/// periodically (upstream's flushBackoffQCompleted and flushUnschedulablePodsLeftover).
async fn flush(s: Arc<Scheduler>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_full = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let moved = {
            let mut state = s.lock();
            if now.duration_since(last_full) >= UNSCHEDULABLE_FLUSH {
                last_full = now;
                state.queue.flush_unschedulable();
            }
            state.queue.flush_backoff(now) + state.queue.active_len()
        };
        if moved > 0 {
            s.wake.notify_one();
        }
    }
}

/// How many feasible nodes to look for before scoring (upstream's adaptive
/// percentageOfNodesToScore: 50% minus 1% per 125 nodes, at least 5%, at least 100 nodes).
pub fn nodes_to_find(all: usize) -> usize {
    if all <= 100 {
        return all;
    }
    let percent = (50usize.saturating_sub(all / 125)).max(5);
    (all * percent / 100).max(100)
}

/// The outcome of one scheduling cycle.
enum Decision {
    /// Bind to this node, after pointing these delayed claims at it.
    Bind { node: String, claims: Vec<String> },
    /// Fits nowhere: the message, what to wait for, and the victims to preempt, if any.
    Unschedulable {
        message: String,
        retry: Retry,
        victims: Option<(String, Vec<Arc<Pod>>)>,
    },
}

/// The stores VolumeBinding reads.
struct StorageLookup<'a>(&'a Scheduler);

impl volumes::Lookup for StorageLookup<'_> {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.0
            .claims
            .store()
            .get(&ObjectRef::new(name).within(namespace))
    }
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.0.volumes.store().get(&ObjectRef::new(name))
    }
    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.0.classes.store().get(&ObjectRef::new(name))
    }
    fn volumes(&self) -> Vec<Arc<PersistentVolume>> {
        self.0.volumes.store().state()
    }
}

impl Scheduler {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pod's PriorityClass: named, or the global default when it names none.
    fn class_of(&self, pod: &Pod) -> Option<Arc<PriorityClass>> {
        let classes = self.priority_classes.store();
        match pod
            .spec
            .as_ref()
            .and_then(|s| s.priority_class_name.as_deref())
            .filter(|n| !n.is_empty())
        {
            Some(name) => classes.get(&ObjectRef::new(name)),
            None => classes
                .state()
                .into_iter()
                .find(|c| c.global_default == Some(true)),
        }
    }

    /// The pod's priority: `spec.priority`, else its PriorityClass's value, else 0.
    fn priority(&self, pod: &Pod) -> i32 {
        if let Some(p) = pod.spec.as_ref().and_then(|s| s.priority) {
            return p;
        }
        self.class_of(pod).map(|c| c.value).unwrap_or(0)
    }

    /// Whether the pod may never preempt (its own or its class's `preemptionPolicy`).
    fn never_preempts(&self, pod: &Pod) -> bool {
        let policy = pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.clone())
            .or_else(|| self.class_of(pod).and_then(|c| c.preemption_policy.clone()));
        policy.as_deref() == Some("Never")
    }

    async fn schedule_loop(self: Arc<Self>) {
        loop {
            let next = self.lock().queue.pop();
            let Some((uid, (namespace, name))) = next else {
                self.wake.notified().await;
                continue;
            };
            let pod = self
                .pods
                .store()
                .get(&ObjectRef::new(&name).within(&namespace))
                .filter(|p| uid_of(p) == uid);
            let Some(pod) = pod.filter(|p| wants(p)) else {
                self.lock().queue.remove(&uid);
                continue;
            };
            match self.decide(&pod) {
                Decision::Bind { node, claims } => self.clone().bind(pod, node, claims),
                Decision::Unschedulable {
                    message,
                    retry,
                    victims,
                } => {
                    self.lock().queue.failed(&uid, retry, Instant::now());
                    tokio::spawn(self.clone().report_unschedulable(pod, message, victims));
                }
            }
            // Let the watches and bindings run between cycles.
            tokio::task::yield_now().await;
        }
    }

    /// One scheduling cycle: filter, score, pick; or explain why nothing fits.
    fn decide(&self, pod: &Arc<Pod>) -> Decision {
        let priority = self.priority(pod);
        let never = self.never_preempts(pod);
        let volumes = volumes::resolve(pod, &StorageLookup(self));
        let mut guard = self.lock();
        let state = &mut *guard;
        let total = state.snapshot.len();
        if total == 0 {
            return Decision::Unschedulable {
                message: plugins::NO_NODES.into(),
                retry: Retry::OnChange,
                victims: None,
            };
        }
        let info = PodInfo::with_priority(pod.clone(), priority);
        let query = Query::with_volumes(info.clone(), &state.snapshot, volumes);
        if let Some(pre) = query.prefilter() {
            return Decision::Unschedulable {
                message: fit_error(
                    total,
                    Some(pre),
                    &HashMap::new(),
                    &preemption::not_helpful(total),
                ),
                retry: Retry::OnChange,
                victims: None,
            };
        }
        let want = nodes_to_find(total);
        let start = state.next_start;
        let mut feasible: Vec<(&NodeInfo, Scores)> = Vec::new();
        let mut examined = 0;
        let mut reasons: HashMap<Reason, usize> = HashMap::new();
        let mut failed: Vec<(String, Vec<Reason>)> = Vec::new();
        for node in state.snapshot.nodes_from(start) {
            examined += 1;
            match query.filter(node) {
                Ok(()) => {
                    feasible.push((node, query.score(node)));
                    if feasible.len() >= want {
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
        let random = &mut state.random;
        let chosen = pick(&feasible, |n| random_below(random, n));
        let chosen = chosen.map(|i| feasible[i].0.name().to_string());
        drop(feasible);
        state.next_start = (start + examined) % total;
        if let Some(node) = chosen {
            let claims = query.volumes().delayed().map(str::to_string).collect();
            drop(query);
            // Assume: the pod counts on the node before the API confirms the binding.
            let mut assumed = (**pod).clone();
            if let Some(spec) = assumed.spec.as_mut() {
                spec.node_name = Some(node.clone());
            }
            state
                .snapshot
                .add(PodInfo::with_priority(Arc::new(assumed), priority), &node);
            state
                .queue
                .cluster_changed(Change::PodPlaced, Instant::now());
            return Decision::Bind { node, claims };
        }
        let retry = if reasons.keys().any(Reason::waits_for_pods) {
            Retry::OnChangeOrNewPods
        } else {
            Retry::OnChange
        };
        let nominated = pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .or_else(|| state.snapshot.nominated_node(info.uid()));
        let outcome = match preemption::eligible(&info, never, nominated, &state.snapshot) {
            Ok(()) => preemption::preempt(&state.snapshot, &query, &failed),
            Err(message) => preemption::Outcome {
                victims: None,
                message,
            },
        };
        if let Some((node, _)) = &outcome.victims {
            // The freed room is kept for this pod from pods of lower priority.
            state.snapshot.nominate(info, Some(node));
        }
        Decision::Unschedulable {
            message: fit_error(total, None, &reasons, &outcome.message),
            retry: if outcome.victims.is_some() {
                Retry::Backoff
            } else {
                retry
            },
            victims: outcome.victims,
        }
    }

    /// Binds in the background (after pointing delayed claims at the node and waiting for
    /// them to be bound); a failed binding forgets the assumption and retries.
    fn bind(self: Arc<Self>, pod: Arc<Pod>, node: String, claims: Vec<String>) {
        tokio::spawn(async move {
            let _permit = self.bindings.acquire().await;
            let name = pod.metadata.name.clone().unwrap_or_default();
            let namespace = pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let uid = uid_of(&pod).to_string();
            let result = match self.bind_volumes(&namespace, &claims, &node).await {
                Ok(()) => self.bind_pod(&namespace, &name, &uid, &node).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(()) => {
                    self.lock().queue.remove(&uid);
                    self.recorder.normal(
                        &*pod,
                        "Scheduled",
                        format!("Successfully assigned {namespace}/{name} to {node}"),
                    );
                }
                Err(error) => {
                    tracing::warn!(pod = name, node, %error, "binding failed");
                    let bound = self
                        .pods
                        .store()
                        .get(&ObjectRef::new(&name).within(&namespace))
                        .is_some_and(|p| uid_of(&p) == uid && !node_name(&p).is_empty());
                    let mut state = self.lock();
                    if !bound {
                        // Forget the assumption unless the watch already confirmed a binding.
                        state.snapshot.remove_pod(&uid);
                        state.queue.failed(&uid, Retry::Backoff, Instant::now());
                        state.queue.cluster_changed(Change::Freed, Instant::now());
                    }
                }
            }
        });
    }

    async fn bind_pod(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        node: &str,
    ) -> Result<(), kube::Error> {
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(namespace.to_string()),
                uid: Some(uid.to_string()),
                ..Default::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                name: Some(node.to_string()),
                ..Default::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let created: Result<serde_json::Value, kube::Error> = api
            .create_subresource("binding", name, &PostParams::default(), &binding)
            .await;
        created.map(|_| ())
    }

    /// VolumeBinding's PreBind: annotates each delayed claim with the chosen node, then
    /// waits until the volume binder (and a provisioner) bound them.
    async fn bind_volumes(
        &self,
        namespace: &str,
        claims: &[String],
        node: &str,
    ) -> Result<(), kube::Error> {
        if claims.is_empty() {
            return Ok(());
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let store = self.claims.store();
        let get = |name: &str| store.get(&ObjectRef::new(name).within(namespace));
        for claim in claims {
            let selected = get(claim)
                .and_then(|c| c.metadata.annotations.as_ref()?.get(SELECTED_NODE).cloned());
            if selected.as_deref() != Some(node) {
                let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
                api.patch(claim, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
        }
        let deadline = Instant::now() + VOLUME_BIND_TIMEOUT;
        loop {
            let bound = claims.iter().all(|c| {
                get(c).is_some_and(|c| {
                    c.spec
                        .as_ref()
                        .and_then(|s| s.volume_name.as_deref())
                        .is_some_and(|v| !v.is_empty())
                })
            });
            if bound {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(kube::Error::Service(
                    "binding volumes: timed out waiting for the condition".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Preempts the victims (nominating the node on the pod first), records
    /// FailedScheduling and sets PodScheduled=False unless it already says the same.
    async fn report_unschedulable(
        self: Arc<Self>,
        pod: Arc<Pod>,
        message: String,
        victims: Option<(String, Vec<Arc<Pod>>)>,
    ) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        if let Some((node, victims)) = victims {
            let nominated = json!({"status": {"nominatedNodeName": node}});
            if let Err(error) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&nominated))
                .await
            {
                tracing::debug!(pod = name, %error, "could not nominate a node");
            }
            for victim in victims {
                self.preempt(&pod, &victim, &node).await;
            }
        }
        self.recorder
            .warning(&*pod, "FailedScheduling", message.clone());
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let unchanged = current.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
                && c.message.as_deref() == Some(message.as_str())
        });
        if unchanged {
            return;
        }
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastProbeTime": null, "lastTransitionTime": component::now(),
        }]}});
        if let Err(error) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            tracing::debug!(pod = name, %error, "could not report the pod unschedulable");
        }
    }

    /// Evicts one victim as upstream does: a DisruptionTarget condition, a `Preempted`
    /// event, then deletion.
    async fn preempt(&self, preemptor: &Pod, victim: &Pod, node: &str) {
        let name = victim.metadata.name.clone().unwrap_or_default();
        let namespace = victim.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": format!("{DEFAULT_SCHEDULER}: preempting to accommodate a higher priority pod"),
            "lastTransitionTime": component::now(),
        }]}});
        if let Err(error) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(condition))
            .await
        {
            tracing::debug!(victim = name, %error, "could not mark the victim");
        }
        self.recorder.normal(
            victim,
            "Preempted",
            format!("Preempted by pod {} on node {node}", uid_of(preemptor)),
        );
        if let Err(error) = api.delete(&name, &Default::default()).await {
            tracing::warn!(victim = name, %error, "could not preempt");
        }
    }
}

/// The index of the best total score, ties broken uniformly at random (upstream's
/// selectHost); `random(n)` returns a number below `n`.
fn pick(feasible: &[(&NodeInfo, Scores)], mut random: impl FnMut(u64) -> u64) -> Option<usize> {
    let scores: Vec<Scores> = feasible.iter().map(|(_, s)| s.clone()).collect();
    let totals = plugins::total(&scores);
    let mut best: Option<(i64, usize)> = None;
    let mut ties = 0u64;
    for (i, t) in totals.iter().enumerate() {
        match best {
            Some((b, _)) if *t < b => {}
            Some((b, _)) if *t == b => {
                ties += 1;
                if random(ties) == 0 {
                    best = Some((b, i));
                }
            }
            _ => {
                best = Some((*t, i));
                ties = 1;
            }
        }
    }
    best.map(|(_, i)| i)
}
