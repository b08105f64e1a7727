//! Simulated nodes, like upstream's kwok: registers Nodes with capacity, renews their Leases,
//! and moves the pods bound to them through Pending -> Running and Ready without running any
//! container. A pod annotated `rudder.dev/simulate-exit-after: 2s` (and optionally
//! `rudder.dev/simulate-exit-code: 1`) exits after that time as its restartPolicy says; a pod
//! being deleted is confirmed gone, as a kubelet does once its containers stopped. Stopping
//! the simulator stops the heartbeats, so the control plane marks its nodes NotReady.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{Node, Pod},
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The annotation naming how long a simulated pod's containers run before they exit.
pub const EXIT_AFTER: &str = "rudder.dev/simulate-exit-after";
/// The annotation naming the exit code of a simulated pod's containers (default 0).
pub const EXIT_CODE: &str = "rudder.dev/simulate-exit-code";
/// The label every simulated node carries.
pub const SIMULATED_LABEL: &str = "rudder.dev/simulated";

/// How many API writes the simulator keeps in flight.
const IN_FLIGHT: usize = 64;

/// What the simulated nodes look like.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many nodes.
    pub count: usize,
    /// Node names are `<prefix>-<index>`.
    pub prefix: String,
    /// CPU capacity of each node (a quantity, e.g. `4` or `4000m`).
    pub cpu: String,
    /// Memory capacity of each node (a quantity, e.g. `16Gi`).
    pub memory: String,
    /// Pod capacity of each node.
    pub pods: u32,
    /// Labels of each node.
    pub labels: Vec<(String, String)>,
    /// Taints of each node: (key, value, effect).
    pub taints: Vec<(String, String, String)>,
    /// Extended resources of each node, e.g. (`nvidia.com/gpu`, `2`).
    pub extended: Vec<(String, String)>,
}

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api call failed")]
    Api(#[from] kube::Error),
    /// The pod watch ended.
    #[error("the pod watch failed")]
    Watch(#[from] watcher::Error),
}

/// The simulated nodes of this process and what it has done with their pods.
struct Simulator {
    client: Client,
    /// Node name -> uid.
    nodes: HashMap<String, String>,
    /// Pods with an exit timer armed (uid).
    timers: Mutex<HashSet<String>>,
    /// Pods whose status write is under way (uid), so repeats of an event do not pile up.
    busy: Mutex<HashSet<String>>,
    writes: Semaphore,
}

/// Registers the nodes and runs them until the process ends.
pub async fn run(client: Client, options: Options) -> Result<(), Error> {
    let names: Vec<String> = (0..options.count)
        .map(|i| format!("{}-{i}", options.prefix))
        .collect();
    let registered: Vec<(String, String)> = futures::stream::iter(names.iter().enumerate())
        .map(|(index, name)| register(&client, &options, name, index))
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    tracing::info!(
        count = registered.len(),
        prefix = options.prefix,
        "simulated nodes registered"
    );
    let sim = Arc::new(Simulator {
        client: client.clone(),
        nodes: registered.into_iter().collect(),
        timers: Mutex::default(),
        busy: Mutex::default(),
        writes: Semaphore::new(IN_FLIGHT),
    });
    tokio::spawn(heartbeats(sim.clone()));
    let pods: Api<Pod> = Api::all(client);
    let mut events = watcher(pods, watcher::Config::default().fields("spec.nodeName!="))
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(pod) = events.next().await {
        let pod = match pod {
            Ok(pod) => pod,
            Err(error) => {
                tracing::warn!(%error, "pod watch failed; retrying");
                continue;
            }
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if sim.nodes.contains_key(&node) {
            sim.clone().observe(pod);
        }
    }
    Ok(())
}

/// Creates (or takes over) one node and reports its status; returns its name and uid.
async fn register(
    client: &Client,
    options: &Options,
    name: &str,
    index: usize,
) -> Result<(String, String), Error> {
    let api: Api<Node> = Api::all(client.clone());
    let mut labels: BTreeMap<String, String> = [
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
        (SIMULATED_LABEL, "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    labels.extend(options.labels.iter().cloned());
    let taints: Vec<Value> = options
        .taints
        .iter()
        .map(|(key, value, effect)| {
            let mut t = json!({"key": key, "effect": effect});
            if !value.is_empty() {
                t["value"] = json!(value);
            }
            t
        })
        .collect();
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
    });
    let node: Node = serde_json::from_value(node).expect("a valid Node");
    let created = match api.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(name).await?,
        Err(e) => return Err(e.into()),
    };
    let uid = created.metadata.uid.clone().unwrap_or_default();
    let mut capacity: BTreeMap<String, Quantity> = [
        ("cpu", options.cpu.clone()),
        ("memory", options.memory.clone()),
        ("pods", options.pods.to_string()),
        ("ephemeral-storage", "100Gi".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect();
    for (k, v) in &options.extended {
        capacity.insert(k.clone(), Quantity(v.clone()));
    }
    let now = component::now();
    let status = json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": component::kubelet::healthy_node_conditions(&now),
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": format!("{index:032x}"), "systemUUID": uid, "bootID": uid,
            "kernelVersion": "simulated", "osImage": "rudder simulated node",
            "containerRuntimeVersion": "simulated://0.0.0", "kubeletVersion": "v1.33.0",
            "kubeProxyVersion": "v1.33.0", "operatingSystem": "linux", "architecture": "amd64",
        },
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    component::lease::renew_node_lease(client.clone(), name, &uid)
        .await
        .map_err(|e| match e {
            component::Error::Api(e) => Error::Api(e),
            other => Error::Api(kube::Error::Service(Box::new(other))),
        })?;
    Ok((name.to_string(), uid))
}

/// Renews every node's Lease each interval.
async fn heartbeats(sim: Arc<Simulator>) {
    let mut tick = tokio::time::interval(component::lease::NODE_RENEW_INTERVAL);
    loop {
        tick.tick().await;
        futures::stream::iter(sim.nodes.iter())
            .for_each_concurrent(IN_FLIGHT, |(name, uid)| {
                let client = sim.client.clone();
                async move {
                    if let Err(error) = component::lease::renew_node_lease(client, name, uid).await
                    {
                        tracing::warn!(node = name, %error, "could not renew the node lease");
                    }
                }
            })
            .await;
    }
}

/// What the simulated kubelet does next with a pod.
enum Step {
    /// The pod is being deleted: confirm with a zero grace period.
    Remove,
    /// The pod was just bound: start it.
    Start,
    /// The pod runs and should exit after the duration.
    ExitAfter(Duration),
    /// Nothing to do.
    Wait,
}

impl Simulator {
    /// Acts on a pod bound to one of the simulated nodes.
    fn observe(self: Arc<Self>, pod: Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let step = if pod.metadata.deletion_timestamp.is_some() {
            Step::Remove
        } else if phase.is_empty() || phase == "Pending" {
            Step::Start
        } else if phase == "Running" {
            match exit_after(&pod) {
                Some(after) if self.timers.lock().expect("timers").insert(uid.clone()) => {
                    let started = running_since(&pod).unwrap_or_else(Timestamp::now);
                    let elapsed = Timestamp::now().duration_since(started).unsigned_abs();
                    Step::ExitAfter(after.saturating_sub(elapsed))
                }
                _ => Step::Wait,
            }
        } else {
            Step::Wait
        };
        if matches!(step, Step::Wait) {
            return;
        }
        if !matches!(step, Step::ExitAfter(_))
            && !self.busy.lock().expect("busy").insert(uid.clone())
        {
            return;
        }
        tokio::spawn(async move {
            let result = match step {
                Step::Remove => self.remove(&pod).await,
                Step::Start => self.start(&pod, 0).await,
                Step::ExitAfter(after) => {
                    tokio::time::sleep(after).await;
                    self.timers.lock().expect("timers").remove(&uid);
                    self.exit(&pod).await
                }
                Step::Wait => Ok(()),
            };
            self.busy.lock().expect("busy").remove(&uid);
            if let Err(error) = result {
                tracing::debug!(pod = ?pod.metadata.name, %error, "simulated pod step failed");
            }
        });
    }

    async fn remove(&self, pod: &Pod) -> Result<(), kube::Error> {
        let _permit = self.writes.acquire().await;
        component::kubelet::confirm_pod_deleted(self.client.clone(), pod).await
    }

    /// Reports the pod Running and Ready with `restarts` restarts so far.
    async fn start(&self, pod: &Pod, restarts: i64) -> Result<(), kube::Error> {
        let _permit = self.writes.acquire().await;
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let now = component::now();
        let started = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_else(|| now.clone());
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let statuses = container_statuses(
            pod,
            |name| json!({"running": {"startedAt": now}, "_ready": true, "_id": format!("simulated://{uid}/{name}")}),
            restarts,
        );
        let condition = |kind: &str| json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": pod_ip(&self.nodes, &node, &uid),
            "podIPs": [{"ip": pod_ip(&self.nodes, &node, &uid)}],
            "startTime": started,
            "containerStatuses": statuses,
        }});
        let api = pods_in(&self.client, pod);
        api.patch_status(
            pod.metadata.name.as_deref().unwrap_or(""),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
        Ok(())
    }

    /// The containers exited: the pod ends, or restarts, as its restartPolicy says.
    async fn exit(&self, pod: &Pod) -> Result<(), kube::Error> {
        let api = pods_in(&self.client, pod);
        let name = pod.metadata.name.as_deref().unwrap_or("");
        // Act on the pod as it is now: it may have been deleted or restarted meanwhile.
        let Some(pod) = api.get_opt(name).await? else {
            return Ok(());
        };
        if pod.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let code: i64 = annotation(&pod, EXIT_CODE)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let policy = pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into());
        let restarts = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first())
            .map(|c| c.restart_count as i64)
            .unwrap_or(0);
        let restart = policy == "Always" || (policy == "OnFailure" && code != 0);
        if restart {
            return self.start(&pod, restarts + 1).await;
        }
        let _permit = self.writes.acquire().await;
        let now = component::now();
        let reason = if code == 0 { "Completed" } else { "Error" };
        let started = running_since(&pod)
            .map(|t| t.to_string())
            .unwrap_or_else(|| now.clone());
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let statuses = container_statuses(
            &pod,
            |cname| {
                json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now,
                                   "containerID": format!("simulated://{uid}/{cname}")},
                   "_ready": false, "_id": format!("simulated://{uid}/{cname}")})
            },
            restarts,
        );
        let condition = |kind: &str, status: &str| {
            let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
            if status == "False" {
                c["reason"] = json!("PodCompleted");
            }
            c
        };
        let status = json!({"status": {
            "phase": if code == 0 { "Succeeded" } else { "Failed" },
            "conditions": [condition("PodReadyToStartContainers", "False"), condition("Initialized", "True"), condition("Ready", "False"), condition("ContainersReady", "False"), condition("PodScheduled", "True")],
            "containerStatuses": statuses,
        }});
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        Ok(())
    }
}

fn pods_in(client: &Client, pod: &Pod) -> Api<Pod> {
    Api::namespaced(
        client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    )
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// The exit-after annotation as a duration (`2s`, `500ms`, `1m`).
fn exit_after(pod: &Pod) -> Option<Duration> {
    parse_duration(annotation(pod, EXIT_AFTER)?)
}

/// Parses a Go-style duration with one unit: `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// When the pod's first container started running.
fn running_since(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .running
        .as_ref()?
        .started_at
        .as_ref()
        .map(|t| t.0)
}

/// Container statuses for every container of the pod, with the state `state(name)` gives
/// (its `_ready` and `_id` keys become `ready` and `containerID`).
fn container_statuses(pod: &Pod, state: impl Fn(&str) -> Value, restarts: i64) -> Vec<Value> {
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    containers
        .iter()
        .map(|c| {
            let mut s = state(&c.name);
            let ready = s["_ready"].as_bool().unwrap_or(false);
            let id = s["_id"].clone();
            if let Some(m) = s.as_object_mut() {
                m.remove("_ready");
                m.remove("_id");
            }
            let image = c.image.clone().unwrap_or_default();
            json!({
                "name": c.name, "state": s, "ready": ready, "started": ready,
                "restartCount": restarts, "image": image,
                "imageID": format!("simulated://{image}"), "containerID": id,
            })
        })
        .collect()
}

/// A pod IP from a per-node range (no packet ever goes to it): 10.<node byte>.<uid bytes>.
fn pod_ip(nodes: &HashMap<String, String>, node: &str, uid: &str) -> String {
    let node_hash = nodes.get(node).map(|u| fnv(u)).unwrap_or(0);
    let pod_hash = fnv(uid);
    format!(
        "10.{}.{}.{}",
        42 + (node_hash % 8),
        (pod_hash >> 8) % 256,
        (pod_hash % 254) + 1
    )
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), None);
        assert_eq!(parse_duration("2d"), None);
    }
}
