//! Resource arithmetic: what a pod requests and what a node has, in integer units (milli-CPU,
//! bytes, counts).

use std::collections::BTreeMap;

use apimachinery::validation::Quantity;
use k8s_openapi::{
    api::core::v1::{Container, Pod},
    apimachinery::pkg::api::resource::Quantity as ApiQuantity,
};

/// Amounts of resources: CPU in milli-cores, everything else in base units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in milli-cores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Extended and other resources (e.g. `nvidia.com/gpu`), in their base units.
    pub scalar: BTreeMap<String, i64>,
}

fn parse(q: &ApiQuantity) -> Option<Quantity> {
    q.0.parse().ok()
}

impl Resources {
    /// Resources from a resource list (requests, limits, capacity, allocatable).
    pub fn from_list(list: Option<&BTreeMap<String, ApiQuantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            let Some(q) = parse(q) else { continue };
            match name.as_str() {
                "cpu" => r.milli_cpu = q.milli_value() as i64,
                "memory" => r.memory = q.value() as i64,
                "ephemeral-storage" => r.ephemeral_storage = q.value() as i64,
                "pods" => {}
                other => {
                    r.scalar.insert(other.to_string(), q.value() as i64);
                }
            }
        }
        r
    }

    /// Adds `other` to these amounts.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    /// Subtracts `other` from these amounts.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// The larger of each amount.
    fn max(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }
}

fn container_requests(c: &Container) -> Resources {
    let resources = c.resources.as_ref();
    let mut r = Resources::from_list(resources.and_then(|r| r.requests.as_ref()));
    // Requests default to limits (the API server does this too; kept for pods written before).
    let limits = Resources::from_list(resources.and_then(|r| r.limits.as_ref()));
    if r.milli_cpu == 0 {
        r.milli_cpu = limits.milli_cpu;
    }
    if r.memory == 0 {
        r.memory = limits.memory;
    }
    for (k, v) in limits.scalar {
        r.scalar.entry(k).or_insert(v);
    }
    r
}

/// What a pod requests, as upstream computes it: the sum over containers (and restartable
/// init containers, i.e. sidecars), at least the largest single init container, plus the
/// pod overhead.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut sum = Resources::default();
    for c in &spec.containers {
        sum.add(&container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            sum.add(&r);
        } else {
            let mut with_sidecars = r;
            with_sidecars.add(&sidecars);
            init_max.max(&with_sidecars);
        }
    }
    sum.max(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        sum.add(&Resources::from_list(Some(overhead)));
    }
    sum
}

/// The CPU (milli-cores) a container counts for when scoring if it requests none
/// (upstream's `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// The memory a container counts for when scoring if it requests none (upstream's
/// `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// The CPU and memory a pod counts for when scoring (upstream's non-zero requests): as
/// [`pod_requests`], with every container that requests no CPU or memory counting for the
/// defaults, so that best-effort pods still spread.
pub fn non_zero_requests(pod: &Pod) -> (i64, i64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let non_zero = |c: &Container| {
        let r = container_requests(c);
        (
            if r.milli_cpu == 0 {
                DEFAULT_MILLI_CPU
            } else {
                r.milli_cpu
            },
            if r.memory == 0 {
                DEFAULT_MEMORY
            } else {
                r.memory
            },
        )
    };
    let (mut cpu, mut memory) = (0, 0);
    for c in &spec.containers {
        let (c, m) = non_zero(c);
        cpu += c;
        memory += m;
    }
    let (mut init_cpu, mut init_memory) = (0, 0);
    for c in spec.init_containers.iter().flatten() {
        let (c_cpu, c_memory) = non_zero(c);
        if c.restart_policy.as_deref() == Some("Always") {
            cpu += c_cpu;
            memory += c_memory;
        } else {
            init_cpu = init_cpu.max(c_cpu);
            init_memory = init_memory.max(c_memory);
        }
    }
    let overhead = Resources::from_list(spec.overhead.as_ref());
    (
        cpu.max(init_cpu) + overhead.milli_cpu,
        memory.max(init_memory) + overhead.memory,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn requests_sum_containers_and_take_the_largest_init_container() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "1"}}},
            ],
            "initContainers": [
                {"name": "i", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}},
            ],
        }));
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 2000);
        assert_eq!(r.memory, 64 * 1024 * 1024);
        assert_eq!(r.scalar.get("nvidia.com/gpu"), Some(&1));
    }

    #[test]
    fn sidecars_add_to_the_containers() {
        let p = pod(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m"}}},
            ],
        }));
        assert_eq!(pod_requests(&p).milli_cpu, 300);
    }

    #[test]
    fn scoring_counts_defaults_for_containers_without_requests() {
        let p = pod(json!({
            "containers": [
                {"name": "a"},
                {"name": "b", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
            ],
        }));
        assert_eq!(
            non_zero_requests(&p),
            (1100, 1024 * 1024 * 1024 + DEFAULT_MEMORY)
        );
    }
}
