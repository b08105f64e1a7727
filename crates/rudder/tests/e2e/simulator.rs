//! Simulated nodes: registration, heartbeats, and the kubelet's part for their pods.

use std::time::Duration;

use testkit::eventually;

fn phase(cluster: &testkit::Cluster, pod: &str) -> String {
    cluster
        .kubectl(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
        .stdout
}

#[test]
fn simulated_nodes_register_with_capacity_labels_and_taints() {
    let cluster = crate::cluster();
    let _sim = cluster
        .simulate_nodes(&[
            "--count",
            "2",
            "--cpu",
            "8",
            "--memory",
            "32Gi",
            "--pods",
            "50",
            "--labels",
            "zone=a,disk=ssd",
            "--taints",
            "dedicated=gpu:NoSchedule",
            "--extended-resources",
            "nvidia.com/gpu=2",
        ])
        .unwrap();
    let node = cluster
        .kubectl(&["get", "node", "sim-node-1", "-o", "json"])
        .json();
    assert_eq!(node["status"]["capacity"]["cpu"], "8");
    assert_eq!(node["status"]["allocatable"]["memory"], "32Gi");
    assert_eq!(node["status"]["capacity"]["pods"], "50");
    assert_eq!(node["status"]["capacity"]["nvidia.com/gpu"], "2");
    assert_eq!(node["metadata"]["labels"]["zone"], "a");
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "sim-node-1"
    );
    assert_eq!(node["spec"]["taints"][0]["key"], "dedicated");
    assert_eq!(node["spec"]["taints"][0]["effect"], "NoSchedule");
    let ready = node["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap();
    assert_eq!(ready["status"], "True");
    // The heartbeat Lease is owned by the Node.
    let lease = cluster
        .kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-node-lease",
            "sim-node-1",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(lease["spec"]["holderIdentity"], "sim-node-1");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");
}

#[test]
fn pods_bound_to_simulated_nodes_run_exit_and_go_away() {
    let cluster = crate::cluster();
    let _sim = cluster.simulate_nodes(&["--count", "1"]).unwrap();
    let manifest = cluster.file(
        "pods.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: server}
spec:
  nodeName: sim-node-0
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: batch
  annotations: {rudder.dev/simulate-exit-after: 1s}
spec:
  nodeName: sim-node-0
  restartPolicy: Never
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: failing
  annotations: {rudder.dev/simulate-exit-after: 1s, rudder.dev/simulate-exit-code: "3"}
spec:
  nodeName: sim-node-0
  restartPolicy: Never
  containers: [{name: app, image: busybox}]
"#,
    );
    cluster
        .kubectl(&["apply", "-f", manifest.to_str().unwrap()])
        .ok();
    assert!(eventually(Duration::from_secs(10), || phase(
        &cluster, "server"
    ) == "Running"));
    let pod = cluster
        .kubectl(&["get", "pod", "server", "-o", "json"])
        .json();
    assert_eq!(pod["status"]["containerStatuses"][0]["ready"], true);
    assert!(
        pod["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10."))
    );
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=Ready",
            "pod/server",
            "--timeout=10s",
        ])
        .ok();
    assert!(eventually(Duration::from_secs(15), || phase(
        &cluster, "batch"
    ) == "Succeeded"));
    assert!(eventually(Duration::from_secs(15), || phase(
        &cluster, "failing"
    ) == "Failed"));
    let failing = cluster
        .kubectl(&["get", "pod", "failing", "-o", "json"])
        .json();
    assert_eq!(
        failing["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        3
    );
    // A bound pod is deleted gracefully; the simulated kubelet confirms it.
    cluster
        .kubectl(&["delete", "pod", "server", "--timeout=20s"])
        .ok();
    assert!(!cluster.kubectl(&["get", "pod", "server"]).success);
}
