//! Resource usage as upstream's Summary API (`/stats/summary`) reports it, the subset that
//! `metrics.k8s.io` (`kubectl top`) reads: the node's CPU and memory from `/proc`, and each
//! running container's from the runtime (CRI `ListContainerStats`). CPU usage is a rate, so it
//! is computed between two samples: the previous request's, or one taken a second earlier.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use k8s_cri::v1::{
    ContainerFilter, ContainerStateValue, ListContainerStatsRequest, ListContainersRequest,
    ListPodSandboxRequest, PodSandboxFilter, PodSandboxStateValue,
};
use serde_json::{Value, json};

use crate::cri::Cri;

/// The key of the node's own CPU counter among the containers'.
const NODE: &str = "";
/// A previous sample older than this is too old for a rate: sample again.
const MAX_WINDOW: Duration = Duration::from_secs(60);
/// The gap between two samples taken for one request.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// Cumulative CPU counters: where each rate starts.
#[derive(Default)]
pub struct Sampler {
    previous: Mutex<HashMap<String, (Instant, u64)>>,
}

/// One pass over the counters: cumulative CPU (core-nanoseconds) and memory working set.
struct Sample {
    at: Instant,
    node: (u64, u64),
    /// By container id: (pod namespace, pod name, pod uid, container name, cpu, memory).
    containers: HashMap<String, (String, String, String, String, u64, u64)>,
}

impl Sampler {
    /// The summary: usage rates over the time since the last sample (at least a second).
    pub async fn summary(&self, cri: &Cri, node_name: &str) -> Result<Value, tonic::Status> {
        let mut sample = take(cri).await?;
        let stale = {
            let previous = self.previous.lock().expect("samples");
            previous
                .get(NODE)
                .is_none_or(|(at, _)| sample.at.duration_since(*at) > MAX_WINDOW)
        };
        if stale {
            self.remember(&sample);
            tokio::time::sleep(MIN_WINDOW).await;
            sample = take(cri).await?;
        }
        let now = component::now();
        let previous = self.previous.lock().expect("samples");
        let rate = |key: &str, total: u64| -> u64 {
            match previous.get(key) {
                Some((at, before)) if sample.at > *at => {
                    let nanos = sample.at.duration_since(*at).as_nanos().max(1);
                    (u128::from(total.saturating_sub(*before)) * 1_000_000_000 / nanos) as u64
                }
                _ => 0,
            }
        };
        let usage = |cpu_rate: u64, cpu_total: u64, memory: u64| {
            json!({
                "cpu": {"time": now, "usageNanoCores": cpu_rate, "usageCoreNanoSeconds": cpu_total},
                "memory": {"time": now, "workingSetBytes": memory},
            })
        };
        let mut node = usage(rate(NODE, sample.node.0), sample.node.0, sample.node.1);
        node["nodeName"] = json!(node_name);
        let mut pods: HashMap<(String, String, String), Vec<Value>> = HashMap::new();
        for (id, (namespace, pod, uid, container, cpu, memory)) in &sample.containers {
            let mut entry = usage(rate(id, *cpu), *cpu, *memory);
            entry["name"] = json!(container);
            pods.entry((namespace.clone(), pod.clone(), uid.clone()))
                .or_default()
                .push(entry);
        }
        let pods: Vec<Value> = pods
            .into_iter()
            .map(|((namespace, name, uid), containers)| {
                json!({
                    "podRef": {"name": name, "namespace": namespace, "uid": uid},
                    "containers": containers,
                })
            })
            .collect();
        drop(previous);
        self.remember(&sample);
        Ok(json!({"node": node, "pods": pods}))
    }

    /// Keeps `sample` as where the next rates start (containers gone are forgotten).
    fn remember(&self, sample: &Sample) {
        let mut previous = self.previous.lock().expect("samples");
        previous.clear();
        previous.insert(NODE.to_string(), (sample.at, sample.node.0));
        for (id, c) in &sample.containers {
            previous.insert(id.clone(), (sample.at, c.4));
        }
    }
}

async fn take(cri: &Cri) -> Result<Sample, tonic::Status> {
    let mut runtime = cri.runtime.clone();
    let sandboxes: HashMap<String, (String, String, String)> = runtime
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(PodSandboxFilter {
                state: Some(PodSandboxStateValue { state: 0 }),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .items
        .into_iter()
        .filter_map(|s| {
            let m = s.metadata?;
            Some((s.id, (m.namespace, m.name, m.uid)))
        })
        .collect();
    let running: HashMap<String, String> = runtime
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                state: Some(ContainerStateValue { state: 1 }),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers
        .into_iter()
        .map(|c| (c.id, c.pod_sandbox_id))
        .collect();
    let stats = runtime
        .list_container_stats(ListContainerStatsRequest { filter: None })
        .await?
        .into_inner()
        .stats;
    let at = Instant::now();
    let mut containers = HashMap::new();
    for s in stats {
        let Some(attributes) = s.attributes else {
            continue;
        };
        let Some((namespace, pod, uid)) = running
            .get(&attributes.id)
            .and_then(|sandbox| sandboxes.get(sandbox))
        else {
            continue;
        };
        let cpu = s
            .cpu
            .and_then(|c| c.usage_core_nano_seconds)
            .map_or(0, |v| v.value);
        let memory = s
            .memory
            .and_then(|m| m.working_set_bytes)
            .map_or(0, |v| v.value);
        let name = attributes.metadata.map(|m| m.name).unwrap_or_default();
        containers.insert(
            attributes.id,
            (
                namespace.clone(),
                pod.clone(),
                uid.clone(),
                name,
                cpu,
                memory,
            ),
        );
    }
    Ok(Sample {
        at,
        node: (node_cpu(), node_memory()),
        containers,
    })
}

/// The machine's busy CPU time in core-nanoseconds (`/proc/stat`, in USER_HZ = 100 ticks).
fn node_cpu() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    busy * 10_000_000
}

/// The machine's memory working set: total less what is available.
fn node_memory() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    field("MemTotal:").saturating_sub(field("MemAvailable:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_counters_are_read() {
        assert!(node_cpu() > 0);
        let memory = node_memory();
        assert!(memory > 0 && memory < crate::node::host_capacity().1);
    }
}
