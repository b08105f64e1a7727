//! The Node object of this machine: registration with capacity read from the host, status
//! with Ready, and the heartbeat Lease in `kube-node-lease`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::Error;

/// CPUs and memory bytes of this machine.
pub fn host_capacity() -> (usize, u64) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    (cpus, memory)
}

/// Registers the node (or finds it) and posts its status; returns its uid.
pub async fn register(
    client: &Client,
    name: &str,
    address: &str,
    port: u16,
) -> Result<String, Error> {
    let api: Api<Node> = Api::all(client.clone());
    let labels: BTreeMap<&str, &str> = [
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
    ]
    .into_iter()
    .collect();
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
    }))
    .expect("a valid Node");
    let node = match api.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(name).await?,
        Err(e) => return Err(e.into()),
    };
    post_status(client, name, address, port).await?;
    Ok(node.metadata.uid.unwrap_or_default())
}

/// The node's status as this kubelet sees it; `port` is its HTTPS server's.
fn status(name: &str, address: &str, port: u16) -> Value {
    let (cpus, memory) = host_capacity();
    let capacity = json!({
        "cpu": cpus.to_string(),
        "memory": format!("{}Ki", memory / 1024),
        "pods": "110",
        "ephemeral-storage": "20Gi",
    });
    let now = component::now();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": component::kubelet::healthy_node_conditions(&now),
        "addresses": [
            {"type": "InternalIP", "address": address},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": {
            "machineID": std::fs::read_to_string("/etc/machine-id").unwrap_or_default().trim(),
            "systemUUID": "", "bootID": "",
            "kernelVersion": kernel.trim(), "osImage": "rudder",
            "containerRuntimeVersion": "containerd://1", "kubeletVersion": "v1.33.0",
            "kubeProxyVersion": "v1.33.0", "operatingSystem": "linux", "architecture": "amd64",
        },
    }})
}

/// Posts the node's status.
pub async fn post_status(
    client: &Client,
    name: &str,
    address: &str,
    port: u16,
) -> Result<(), Error> {
    let api: Api<Node> = Api::all(client.clone());
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&status(name, address, port)),
    )
    .await?;
    Ok(())
}
