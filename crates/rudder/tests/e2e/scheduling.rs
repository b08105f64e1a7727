//! Scheduling with simulated nodes: placement, resources, affinity, taints, preemption.

use std::time::Duration;

use testkit::{Cluster, eventually};

fn node_of(cluster: &Cluster, pod: &str) -> String {
    cluster
        .kubectl(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
        .stdout
}

fn apply(cluster: &Cluster, name: &str, yaml: &str) {
    let file = cluster.file(name, yaml);
    cluster
        .kubectl(&["apply", "-f", file.to_str().unwrap()])
        .ok();
}

#[test]
fn a_pod_that_fits_nowhere_stays_pending_with_upstreams_message() {
    let cluster = crate::cluster();
    let _plain = cluster
        .simulate_nodes(&["--count", "2", "--cpu", "2"])
        .unwrap();
    let _tainted = cluster
        .simulate_nodes(&[
            "--count",
            "1",
            "--prefix",
            "gpu",
            "--taints",
            "dedicated=gpu:NoSchedule",
        ])
        .unwrap();
    apply(
        &cluster,
        "big.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: big}
spec: {containers: [{name: c, image: busybox, resources: {requests: {cpu: "3"}}}]}
"#,
    );
    let message = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.";
    assert!(eventually(Duration::from_secs(20), || {
        cluster
            .kubectl(&[
                "get",
                "pod",
                "big",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}",
            ])
            .stdout
            == message
    }));
    let describe = cluster
        .kubectl(&["describe", "pod", "big"])
        .ok()
        .to_string();
    assert!(describe.contains("FailedScheduling"), "{describe}");
    assert!(describe.contains(message), "{describe}");
    let status = cluster.kubectl(&["get", "pod", "big"]).ok().to_string();
    assert!(status.contains("Pending"), "{status}");
}

#[test]
fn gpu_pods_land_only_on_gpu_nodes_and_selectors_and_tolerations_steer() {
    let cluster = crate::cluster();
    let _plain = cluster
        .simulate_nodes(&["--count", "2", "--labels", "disk=hdd"])
        .unwrap();
    let _gpu = cluster
        .simulate_nodes(&[
            "--count",
            "1",
            "--prefix",
            "gpu",
            "--extended-resources",
            "nvidia.com/gpu=2",
            "--labels",
            "disk=ssd",
            "--taints",
            "dedicated=gpu:NoSchedule",
        ])
        .unwrap();
    apply(
        &cluster,
        "pods.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: trainer}
spec:
  tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: "2"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: second-trainer}
spec:
  tolerations: [{key: dedicated, operator: Exists}]
  containers: [{name: c, image: busybox, resources: {limits: {nvidia.com/gpu: "1"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: on-ssd}
spec:
  nodeSelector: {disk: ssd}
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: anywhere}
spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    assert!(eventually(Duration::from_secs(20), || node_of(
        &cluster, "trainer"
    ) == "gpu-0"));
    assert!(eventually(Duration::from_secs(20), || !node_of(
        &cluster, "anywhere"
    )
    .is_empty()));
    assert!(
        node_of(&cluster, "anywhere").starts_with("sim-node-"),
        "untolerated taint"
    );
    // The GPU node's two GPUs are taken: the second trainer waits.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(node_of(&cluster, "second-trainer"), "");
    let why = cluster
        .kubectl(&[
            "get",
            "pod",
            "second-trainer",
            "-o",
            "jsonpath={.status.conditions[0].message}",
        ])
        .stdout;
    assert!(
        why.starts_with("0/3 nodes are available: 3 Insufficient nvidia.com/gpu."),
        "{why}"
    );
    // The ssd node is tainted and on-ssd does not tolerate it.
    assert_eq!(node_of(&cluster, "on-ssd"), "");
    cluster.kubectl(&["delete", "pod", "trainer"]).ok();
    assert!(eventually(Duration::from_secs(20), || node_of(
        &cluster,
        "second-trainer"
    ) == "gpu-0"));
}

#[test]
fn anti_affinity_spreads_replicas_and_cordon_keeps_pods_off() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "3"]).unwrap();
    cluster.kubectl(&["cordon", "sim-node-2"]).ok();
    apply(
        &cluster,
        "spread.yaml",
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: web}}
            topologyKey: kubernetes.io/hostname
      containers: [{name: c, image: nginx}]
"#,
    );
    // Two nodes are schedulable: two replicas run on distinct nodes, the third waits.
    let placed = || {
        let out = cluster
            .kubectl(&[
                "get",
                "pods",
                "-l",
                "app=web",
                "-o",
                "jsonpath={.items[*].spec.nodeName}",
            ])
            .stdout;
        let mut nodes: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        nodes.sort();
        nodes
    };
    assert!(eventually(Duration::from_secs(20), || placed()
        == vec!["sim-node-0", "sim-node-1"]));
    let pending = cluster
        .kubectl(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "--field-selector=spec.nodeName=",
            "-o",
            "jsonpath={.items[0].status.conditions[0].message}",
        ])
        .stdout;
    assert!(
        pending.contains("2 node(s) didn't match pod anti-affinity rules"),
        "{pending}"
    );
    assert!(
        pending.contains("1 node(s) were unschedulable"),
        "{pending}"
    );
    // Uncordoning lets the third replica land on the third node.
    cluster.kubectl(&["uncordon", "sim-node-2"]).ok();
    assert!(eventually(Duration::from_secs(40), || placed()
        == vec!["sim-node-0", "sim-node-1", "sim-node-2"]));
}

#[test]
fn a_higher_priority_pod_preempts_a_lower_one() {
    let cluster = crate::cluster();
    let _node = cluster
        .simulate_nodes(&["--count", "1", "--cpu", "1"])
        .unwrap();
    apply(
        &cluster,
        "priority.yaml",
        r#"
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: v1
kind: Pod
metadata: {name: low}
spec: {containers: [{name: c, image: busybox, resources: {requests: {cpu: 800m}}}]}
"#,
    );
    assert!(eventually(Duration::from_secs(20), || node_of(
        &cluster, "low"
    ) == "sim-node-0"));
    apply(
        &cluster,
        "high.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: important}
spec:
  priorityClassName: high
  containers: [{name: c, image: busybox, resources: {requests: {cpu: 800m}}}]
"#,
    );
    assert!(eventually(Duration::from_secs(30), || node_of(
        &cluster,
        "important"
    ) == "sim-node-0"));
    assert!(
        !cluster.kubectl(&["get", "pod", "low"]).success,
        "the low-priority pod was preempted"
    );
}

#[test]
fn pods_land_on_simulated_nodes_and_run() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "3"]).unwrap();
    for i in 0..6 {
        cluster
            .kubectl(&["run", &format!("p{i}"), "--image=busybox"])
            .ok();
    }
    let running = || {
        cluster
            .kubectl(&["get", "pods", "-o", "jsonpath={.items[*].status.phase}"])
            .stdout
            .split_whitespace()
            .filter(|p| *p == "Running")
            .count()
    };
    assert!(eventually(Duration::from_secs(30), || running() == 6));
    let describe = cluster.kubectl(&["describe", "pod", "p0"]).ok().to_string();
    let node = node_of(&cluster, "p0");
    assert!(
        describe.contains(&format!("Successfully assigned default/p0 to {node}")),
        "{describe}"
    );
    let scheduled = cluster
        .kubectl(&[
            "get",
            "pod",
            "p0",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].status}",
        ])
        .stdout;
    assert_eq!(scheduled, "True");
}

#[test]
fn wait_for_first_consumer_claims_follow_the_pod_and_immediate_ones_block_it() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    // The controller manager creates the default local-path class (WaitForFirstConsumer).
    assert!(eventually(Duration::from_secs(20), || cluster
        .kubectl(&["get", "storageclass", "local-path"])
        .success));
    apply(
        &cluster,
        "claims.yaml",
        r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: manual-immediate}
provisioner: example.com/nobody
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: stuck}
spec:
  storageClassName: manual-immediate
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [{name: c, image: busybox}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
---
apiVersion: v1
kind: Pod
metadata: {name: blocked}
spec:
  containers: [{name: c, image: busybox}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: stuck}}]
"#,
    );
    assert!(eventually(Duration::from_secs(30), || !node_of(
        &cluster, "db"
    )
    .is_empty()));
    let node = node_of(&cluster, "db");
    let claim = |path: &str| {
        cluster
            .kubectl(&["get", "pvc", "data", "-o", &format!("jsonpath={path}")])
            .stdout
    };
    assert_eq!(
        claim("{.metadata.annotations.volume\\.kubernetes\\.io/selected-node}"),
        node
    );
    assert!(eventually(Duration::from_secs(20), || claim(
        "{.status.phase}"
    ) == "Bound"));
    let message = "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    assert!(eventually(Duration::from_secs(20), || {
        cluster
            .kubectl(&[
                "get",
                "pod",
                "blocked",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}",
            ])
            .stdout
            == message
    }));
    assert_eq!(node_of(&cluster, "blocked"), "");
}
