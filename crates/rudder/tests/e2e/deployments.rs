//! Deployments and ReplicaSets with simulated nodes: scaling, rollouts, rollbacks,
//! self-healing, garbage collection.

use std::time::Duration;

use testkit::{Cluster, eventually};

fn images(cluster: &Cluster, selector: &str) -> Vec<String> {
    let out = cluster
        .kubectl(&[
            "get",
            "pods",
            "-l",
            selector,
            "-o",
            "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}",
        ])
        .stdout;
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn rollout(cluster: &Cluster, deploy: &str) {
    cluster
        .kubectl(&["rollout", "status", deploy, "--timeout=60s"])
        .ok();
}

#[test]
fn a_deployment_reaches_ready_rolls_out_and_rolls_back() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "3"]).unwrap();
    cluster
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.0",
            "--replicas=3",
        ])
        .ok();
    rollout(&cluster, "deployment/web");
    let get = cluster
        .kubectl(&["get", "deployment", "web"])
        .ok()
        .to_string();
    assert!(get.contains("3/3"), "{get}");
    assert_eq!(images(&cluster, "app=web"), vec!["nginx:1.0"; 3]);

    // A new image rolls out without ever dropping below replicas - maxUnavailable (25% of 3
    // rounds down to 0) or going above replicas + maxSurge (rounds up to 1).
    let mut watch = cluster
        .kubectl_cmd("1.33")
        .args([
            "get",
            "rs",
            "-l",
            "app=web",
            "-w",
            "-o",
            "jsonpath={.metadata.name} {.spec.replicas} {.status.availableReplicas}{\"\\n\"}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    cluster
        .kubectl(&["set", "image", "deployment/web", "nginx=nginx:2.0"])
        .ok();
    rollout(&cluster, "deployment/web");
    assert!(eventually(Duration::from_secs(20), || images(
        &cluster, "app=web"
    ) == vec![
        "nginx:2.0";
        3
    ]));
    let _ = watch.kill();
    let _ = watch.wait();
    let seen = {
        use std::io::Read;
        let mut s = String::new();
        watch.stdout.take().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    // Replay the watched ReplicaSets in the server's order: their sizes never sum above
    // 3 + maxSurge, and their available pods never below 3 - maxUnavailable.
    let mut sizes = std::collections::BTreeMap::new();
    let mut available = std::collections::BTreeMap::new();
    for line in seen.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [name, replicas, rest @ ..] = parts.as_slice() {
            sizes.insert(name.to_string(), replicas.parse::<i64>().unwrap_or(0));
            let ready = rest
                .first()
                .and_then(|a| a.parse::<i64>().ok())
                .unwrap_or(0);
            available.insert(name.to_string(), ready);
            let total: i64 = sizes.values().sum();
            assert!(total <= 4, "surge exceeded: {sizes:?}\n{seen}");
            let up: i64 = available.values().sum();
            assert!(up >= 3, "availability dropped: {available:?}\n{seen}");
        }
    }
    assert!(sizes.len() >= 2, "expected two ReplicaSets in {seen}");
    let history = cluster
        .kubectl(&["rollout", "history", "deployment/web"])
        .ok()
        .to_string();
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );

    // Undo returns to the previous template, reusing its ReplicaSet.
    cluster.kubectl(&["rollout", "undo", "deployment/web"]).ok();
    rollout(&cluster, "deployment/web");
    assert!(eventually(Duration::from_secs(20), || images(
        &cluster, "app=web"
    ) == vec![
        "nginx:1.0";
        3
    ]));
    let sets = cluster
        .kubectl(&["get", "rs", "-l", "app=web", "-o", "name"])
        .ok()
        .lines()
        .count();
    assert_eq!(sets, 2, "undo must reuse the first ReplicaSet");
    // --to-revision picks a specific one.
    cluster
        .kubectl(&["rollout", "undo", "deployment/web", "--to-revision=2"])
        .ok();
    rollout(&cluster, "deployment/web");
    assert!(eventually(Duration::from_secs(20), || images(
        &cluster, "app=web"
    ) == vec![
        "nginx:2.0";
        3
    ]));
    let revision = cluster
        .kubectl(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
        ])
        .stdout;
    assert_eq!(revision, "4");
}

#[test]
fn pods_are_replaced_scaled_and_deleted_with_their_deployment() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    cluster
        .kubectl(&[
            "create",
            "deployment",
            "api",
            "--image=busybox",
            "--replicas=2",
        ])
        .ok();
    rollout(&cluster, "deployment/api");
    let pods = || {
        cluster
            .kubectl(&["get", "pods", "-l", "app=api", "-o", "name"])
            .stdout
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let before = pods();
    assert_eq!(before.len(), 2);
    // Deleting a pod brings a replacement.
    cluster
        .kubectl(&["delete", &before[0], "--wait=false"])
        .ok();
    assert!(eventually(Duration::from_secs(20), || {
        let now = pods();
        now.len() == 2 && !now.contains(&before[0])
    }));
    let events = cluster
        .kubectl(&["describe", "rs", "-l", "app=api"])
        .ok()
        .to_string();
    assert!(events.contains("SuccessfulCreate"), "{events}");
    // Scaling.
    cluster
        .kubectl(&["scale", "deployment/api", "--replicas=5"])
        .ok();
    rollout(&cluster, "deployment/api");
    assert_eq!(pods().len(), 5);
    cluster
        .kubectl(&["scale", "deployment/api", "--replicas=1"])
        .ok();
    assert!(eventually(Duration::from_secs(20), || pods().len() == 1));
    // Deleting the Deployment removes its ReplicaSets and pods (garbage collector).
    cluster.kubectl(&["delete", "deployment", "api"]).ok();
    assert!(eventually(Duration::from_secs(20), || {
        pods().is_empty()
            && cluster
                .kubectl(&["get", "rs", "-l", "app=api", "-o", "name"])
                .stdout
                .trim()
                .is_empty()
    }));
}

#[test]
fn recreate_pause_and_orphan_deletion() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    let manifest = cluster.file(
        "recreate.yaml",
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:15"}]}
"#,
    );
    cluster
        .kubectl(&["apply", "-f", manifest.to_str().unwrap()])
        .ok();
    rollout(&cluster, "deployment/db");
    cluster.kubectl(&["rollout", "pause", "deployment/db"]).ok();
    cluster
        .kubectl(&["set", "image", "deployment/db", "db=postgres:16"])
        .ok();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        images(&cluster, "app=db"),
        vec!["postgres:15"; 2],
        "paused deployments do not roll out"
    );
    cluster
        .kubectl(&["rollout", "resume", "deployment/db"])
        .ok();
    rollout(&cluster, "deployment/db");
    assert!(eventually(Duration::from_secs(20), || images(
        &cluster, "app=db"
    ) == vec![
        "postgres:16";
        2
    ]));
    // Orphaning keeps the ReplicaSets and pods, without the owner reference.
    cluster
        .kubectl(&["delete", "deployment", "db", "--cascade=orphan"])
        .ok();
    assert!(eventually(Duration::from_secs(20), || {
        let owners = cluster
            .kubectl(&[
                "get",
                "rs",
                "-l",
                "app=db",
                "-o",
                "jsonpath={.items[*].metadata.ownerReferences}",
            ])
            .stdout;
        owners.trim().is_empty()
    }));
    assert_eq!(images(&cluster, "app=db").len(), 2);
}

#[test]
fn progress_deadline_exceeded_when_pods_cannot_run() {
    let cluster = crate::cluster();
    let _nodes = cluster
        .simulate_nodes(&["--count", "1", "--cpu", "1"])
        .unwrap();
    let manifest = cluster.file(
        "huge.yaml",
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: huge}
spec:
  replicas: 1
  progressDeadlineSeconds: 2
  selector: {matchLabels: {app: huge}}
  template:
    metadata: {labels: {app: huge}}
    spec: {containers: [{name: c, image: busybox, resources: {requests: {cpu: "8"}}}]}
"#,
    );
    cluster
        .kubectl(&["apply", "-f", manifest.to_str().unwrap()])
        .ok();
    assert!(eventually(Duration::from_secs(30), || {
        cluster
            .kubectl(&[
                "get",
                "deployment",
                "huge",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}",
            ])
            .stdout
            == "ProgressDeadlineExceeded"
    }));
    let status = cluster.kubectl(&["rollout", "status", "deployment/huge", "--timeout=10s"]);
    assert!(
        status.stderr.contains("exceeded its progress deadline"),
        "{}",
        status.stderr
    );
}

#[test]
fn a_replication_controller_keeps_its_replicas_and_a_replica_set_adopts_orphans() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "1"]).unwrap();
    let manifest = cluster.file(
        "rc.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: stray, labels: {app: cache}}
spec: {containers: [{name: c, image: redis}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cache}
spec:
  replicas: 2
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec: {containers: [{name: c, image: redis}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: c, image: nginx}]}
"#,
    );
    cluster
        .kubectl(&["apply", "-f", manifest.to_str().unwrap()])
        .ok();
    assert!(eventually(Duration::from_secs(20), || {
        cluster
            .kubectl(&[
                "get",
                "rc",
                "legacy",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ])
            .stdout
            == "2"
    }));
    assert!(eventually(Duration::from_secs(20), || {
        cluster
            .kubectl(&[
                "get",
                "rs",
                "cache",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ])
            .stdout
            == "2"
    }));
    // The stray pod was adopted: only one pod was created for the ReplicaSet.
    let owner = cluster
        .kubectl(&[
            "get",
            "pod",
            "stray",
            "-o",
            "jsonpath={.metadata.ownerReferences[0].name}",
        ])
        .stdout;
    assert_eq!(owner, "cache");
    assert_eq!(
        cluster
            .kubectl(&["get", "pods", "-l", "app=cache", "-o", "name"])
            .stdout
            .lines()
            .count(),
        2
    );
}

#[test]
fn a_restart_rolls_out_new_pods_with_the_same_spec() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "3"]).unwrap();
    cluster
        .kubectl(&[
            "create",
            "deployment",
            "app",
            "--image=nginx",
            "--replicas=2",
        ])
        .ok();
    rollout(&cluster, "deployment/app");
    let pods = || {
        let mut v: Vec<String> = cluster
            .kubectl(&["get", "pods", "-l", "app=app", "-o", "name"])
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let before = pods();
    cluster
        .kubectl(&["rollout", "restart", "deployment/app"])
        .ok();
    rollout(&cluster, "deployment/app");
    assert!(eventually(Duration::from_secs(20), || {
        let now = pods();
        now.len() == 2 && now.iter().all(|p| !before.contains(p))
    }));
    let restarted = cluster
        .kubectl(&[
            "get",
            "pods",
            "-l",
            "app=app",
            "-o",
            "jsonpath={.items[*].metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
        ])
        .stdout;
    assert_eq!(restarted.split_whitespace().count(), 2, "{restarted}");
    let sets = cluster
        .kubectl(&[
            "get",
            "rs",
            "-l",
            "app=app",
            "-o",
            "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas}{\"\\n\"}{end}",
        ])
        .stdout;
    let mut sets: Vec<&str> = sets.lines().collect();
    sets.sort();
    assert_eq!(sets, vec!["1=0", "2=2"]);
    let events = cluster
        .kubectl(&["describe", "deployment", "app"])
        .ok()
        .to_string();
    assert!(events.contains("ScalingReplicaSet"), "{events}");
    assert!(events.contains("Scaled down replica set app-"), "{events}");
}

#[test]
fn scaling_a_stuck_rollout_is_proportional() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "3"]).unwrap();
    cluster
        .kubectl(&[
            "create",
            "deployment",
            "big",
            "--image=nginx",
            "--replicas=4",
        ])
        .ok();
    rollout(&cluster, "deployment/big");
    // The new pods can never be scheduled, so the rollout stops at maxSurge 1 and
    // maxUnavailable 1: 3 old and 2 new.
    cluster
        .kubectl(&["set", "resources", "deployment/big", "--requests=cpu=100"])
        .ok();
    let sizes = || {
        let out = cluster
            .kubectl(&[
                "get",
                "rs",
                "-l",
                "app=big",
                "-o",
                "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas}{\"\\n\"}{end}",
            ])
            .stdout;
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert!(
        eventually(Duration::from_secs(20), || sizes() == vec!["1=3", "2=2"]),
        "{:?}",
        sizes()
    );
    // 8 replicas allow 10 pods (maxSurge 2): the 5 more are shared 3:2, as the sizes are.
    cluster
        .kubectl(&["scale", "deployment/big", "--replicas=8"])
        .ok();
    assert!(
        eventually(Duration::from_secs(20), || sizes() == vec!["1=6", "2=4"]),
        "{:?}",
        sizes()
    );
    // The old ReplicaSet's three new pods start, and then enough are available again.
    let available = || {
        cluster
            .kubectl(&[
                "get",
                "deployment",
                "big",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
            ])
            .stdout
    };
    assert!(
        eventually(Duration::from_secs(20), || available() == "True"),
        "{}",
        available()
    );
}
