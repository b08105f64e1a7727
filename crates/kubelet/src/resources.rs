//! A container's requests and limits as the kernel enforces them, computed as upstream's
//! kubelet does: cpu shares from the request, a CFS quota from the limit, a memory limit (the
//! kernel's OOM killer ends a container that goes past it: `OOMKilled`), an OOM score by QoS
//! class; and the cgroup each pod's containers live under (`/kubepods/<qos>/pod<uid>`).

use k8s_cri::v1::LinuxContainerResources;
use k8s_openapi::api::core::v1::{Container, Pod};

/// The CFS period the quota is a share of (upstream's 100 ms).
const CPU_PERIOD: i64 = 100_000;
/// The smallest shares and quota the kernel takes.
const MIN_SHARES: i64 = 2;
const MIN_QUOTA: i64 = 1_000;

/// A container resource's quantity (`cpu` in millicores, `memory` in bytes), if set.
fn quantity(
    list: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
    name: &str,
    milli: bool,
) -> Option<i64> {
    let q = apimachinery::validation::parse_quantity(&list?.get(name)?.0).ok()?;
    let v = if milli { q.milli_value() } else { q.value() };
    Some(v.clamp(0, i64::MAX as i128) as i64)
}

/// The pod's QoS class: the API server's, else BestEffort.
pub fn qos_class(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.qos_class.as_deref())
        .unwrap_or("BestEffort")
}

/// The pod's cgroup parent (cgroupfs driver): Guaranteed pods sit under `/kubepods` itself.
pub fn cgroup_parent(pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    match qos_class(pod) {
        "Guaranteed" => format!("/kubepods/pod{uid}"),
        "Burstable" => format!("/kubepods/burstable/pod{uid}"),
        _ => format!("/kubepods/besteffort/pod{uid}"),
    }
}

/// Removes the pod's (empty) cgroup from every hierarchy once its sandbox is gone; the
/// runtime removes the containers' own.
pub fn remove_cgroup(pod: &Pod) {
    let parent = cgroup_parent(pod);
    let root = std::path::Path::new("/sys/fs/cgroup");
    let hierarchies = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path());
    for hierarchy in std::iter::once(root.to_path_buf()).chain(hierarchies) {
        let _ = std::fs::remove_dir(hierarchy.join(parent.trim_start_matches('/')));
    }
}

/// The container's cgroup settings, given the machine's memory for the OOM score.
pub fn linux(pod: &Pod, container: &Container, machine_memory: u64) -> LinuxContainerResources {
    let resources = container.resources.as_ref();
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    let cpu_request = quantity(requests, "cpu", true).or(quantity(limits, "cpu", true));
    let cpu_limit = quantity(limits, "cpu", true);
    let memory_request = quantity(requests, "memory", false).or(quantity(limits, "memory", false));
    let memory_limit = quantity(limits, "memory", false);
    let cpu_shares = cpu_request.map_or(MIN_SHARES, |m| (m * 1024 / 1000).max(MIN_SHARES));
    let cpu_quota = cpu_limit.map_or(0, |m| (m * CPU_PERIOD / 1000).max(MIN_QUOTA));
    LinuxContainerResources {
        cpu_period: if cpu_quota > 0 { CPU_PERIOD } else { 0 },
        cpu_quota,
        cpu_shares,
        memory_limit_in_bytes: memory_limit.unwrap_or(0),
        oom_score_adj: oom_score_adj(qos_class(pod), memory_request.unwrap_or(0), machine_memory),
        ..Default::default()
    }
}

/// Upstream's OOM score policy: Guaranteed pods are killed last, BestEffort first, Burstable
/// by how much of the machine they asked for.
fn oom_score_adj(qos: &str, memory_request: i64, machine_memory: u64) -> i64 {
    match qos {
        "Guaranteed" => -997,
        "BestEffort" => 1000,
        _ => {
            let share =
                1000 - (1000 * memory_request as i128 / machine_memory.max(1) as i128) as i64;
            share.clamp(3, 999)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(qos: &str, resources: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "resources": resources}]},
            "status": {"qosClass": qos},
        }))
        .unwrap();
        let container = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, container)
    }

    #[test]
    fn requests_and_limits_become_cgroup_settings() {
        let (p, c) = pod(
            "Burstable",
            json!({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}),
        );
        let r = linux(&p, &c, 1 << 30);
        assert_eq!(
            (r.cpu_shares, r.cpu_quota, r.cpu_period),
            (256, 50_000, 100_000)
        );
        assert_eq!(r.memory_limit_in_bytes, 128 << 20);
        assert_eq!(r.oom_score_adj, 938, "1000 - 1000 * 64Mi / 1Gi");
        assert_eq!(cgroup_parent(&p), "/kubepods/burstable/podu1");

        let (p, c) = pod("BestEffort", json!({}));
        let r = linux(&p, &c, 1 << 30);
        assert_eq!(
            (r.cpu_shares, r.cpu_quota, r.memory_limit_in_bytes),
            (2, 0, 0)
        );
        assert_eq!(r.oom_score_adj, 1000);
        assert_eq!(cgroup_parent(&p), "/kubepods/besteffort/podu1");

        let (p, c) = pod(
            "Guaranteed",
            json!({"limits": {"cpu": "1m", "memory": "1Gi"}}),
        );
        let r = linux(&p, &c, 1 << 30);
        assert_eq!(
            (r.cpu_shares, r.cpu_quota),
            (2, 1_000),
            "the kernel's minimums"
        );
        assert_eq!(r.oom_score_adj, -997);
        assert_eq!(cgroup_parent(&p), "/kubepods/podu1");
    }
}
