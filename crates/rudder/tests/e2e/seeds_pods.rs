//! The seeds' pod examples verbatim on a real node: images without a tag are pulled (policy
//! Always) through the node's docker.io mirror, a registry on loopback.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use testkit::eventually;

use crate::node_agent::{cluster, field};

const NGINX_WITH_INIT: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: nginx-with-init
spec:
  initContainers:
  - name: init-myservice
    image: busybox
    command: ['sh', '-c', 'echo Initializing... && sleep 5']
  containers:
  - name: nginx
    image: nginx:latest
    ports:
    - containerPort: 80
"#;

const VOLUME_DEMO: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: volume-demo
spec:
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'echo Hello > /data/message && sleep 3600']
    volumeMounts:
    - name: cache-volume
      mountPath: /data
    - name: host-logs
      mountPath: /host-logs
  volumes:
  - name: cache-volume
    emptyDir: {}
  - name: host-logs
    hostPath:
      path: /var/log
      type: Directory
"#;

#[test]
fn nginx_with_init_goes_from_init_through_pod_initializing_to_running() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    let mut watch = cluster
        .kubectl_cmd("1.33")
        .args(["get", "pods", "-w", "--no-headers"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let file = cluster.file("nginx-init-pod.yaml", NGINX_WITH_INIT);
    cluster
        .kubectl(&["apply", "-f", file.to_str().unwrap()])
        .ok();
    let mut seen: Vec<String> = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let status = line
            .split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "Running" || seen.len() > 12 {
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let order: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(|s| ["Init:0/1", "PodInitializing", "Running"].contains(s))
        .collect();
    assert_eq!(
        order,
        ["Init:0/1", "PodInitializing", "Running"],
        "statuses seen: {seen:?}\n{}",
        node.log()
    );
    let logs = cluster
        .kubectl(&["logs", "nginx-with-init", "-c", "init-myservice"])
        .ok()
        .to_string();
    assert_eq!(logs, "Initializing...\n");
    let page = cluster
        .kubectl(&[
            "exec",
            "nginx-with-init",
            "--",
            "sh",
            "-c",
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80",
        ])
        .ok()
        .to_string();
    assert!(page.contains("Welcome to nginx!"), "{page}");
    // Both images had policy Always (no tag, or :latest): each start pulled them.
    let events = cluster
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=nginx-with-init",
        ])
        .ok()
        .to_string();
    for expected in [
        "Pulling image \"busybox\"",
        "Successfully pulled image \"nginx:latest\"",
        "Started container nginx",
    ] {
        assert!(events.contains(expected), "{expected}:\n{events}");
    }
}

#[test]
fn volume_demo_writes_its_empty_dir_and_sees_the_hosts_logs() {
    let cluster = cluster();
    let _node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(&["apply", "-f", "-"], VOLUME_DEMO)
        .ok();
    assert!(eventually(Duration::from_secs(60), || field(
        &cluster,
        "volume-demo",
        ".status.phase"
    ) == "Running"));
    let message = cluster
        .kubectl(&["exec", "volume-demo", "--", "cat", "/data/message"])
        .ok()
        .to_string();
    assert_eq!(message, "Hello\n");
    let listed = cluster
        .kubectl(&["exec", "volume-demo", "--", "ls", "/host-logs"])
        .ok()
        .to_string();
    let host: Vec<String> = std::fs::read_dir("/var/log")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!host.is_empty());
    for name in &host {
        assert!(
            listed.lines().any(|l| l == name),
            "{name} missing in {listed}"
        );
    }
}

#[test]
fn images_missing_on_the_node_are_pulled_and_a_missing_image_backs_off() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    node.push("docker.io/library/busybox:latest", "team/tool:1.0")
        .unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  restartPolicy: Never
  containers:
  - name: tool
    image: team/tool:1.0
    command: ["echo", "pulled and ran"]
---
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - name: app
    image: team/missing:1.0
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "pulled",
            ".status.phase"
        ) == "Succeeded"),
        "{}\n{}",
        cluster
            .kubectl(&["get", "pod", "pulled", "-o", "yaml"])
            .stdout,
        node.log()
    );
    assert_eq!(
        cluster.kubectl(&["logs", "pulled"]).ok(),
        "pulled and ran\n"
    );
    let waiting = ".status.containerStatuses[0].state.waiting.reason";
    assert!(eventually(Duration::from_secs(30), || field(
        &cluster, "missing", waiting
    ) == "ErrImagePull"));
    assert!(eventually(Duration::from_secs(30), || field(
        &cluster, "missing", waiting
    ) == "ImagePullBackOff"));
    let described = cluster
        .kubectl(&["describe", "pod", "missing"])
        .ok()
        .to_string();
    assert!(
        described.contains("Failed to pull image \"team/missing:1.0\"")
            && described.contains("Back-off pulling image \"team/missing:1.0\""),
        "{described}"
    );
}
