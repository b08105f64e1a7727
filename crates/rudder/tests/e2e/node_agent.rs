//! A real node: `rudder agent` runs pods in containers through containerd, runc and CNI.

use std::{path::Path, time::Duration};

use testkit::{Cluster, eventually};

pub fn cluster() -> Cluster {
    Cluster::start_for_nodes(Path::new(env!("CARGO_BIN_EXE_rudder"))).expect("starting rudder")
}

pub fn field(cluster: &Cluster, pod: &str, path: &str) -> String {
    cluster
        .kubectl(&["get", "pod", pod, "-o", &format!("jsonpath={{{path}}}")])
        .stdout
}

#[test]
fn init_containers_run_in_order_and_the_pod_completes_with_an_ip() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  restartPolicy: Never
  initContainers:
  - name: init
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo init ran > /dev/termination-log; echo init done"]
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo hello from $(hostname); sleep 1"]
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "hello",
            ".status.phase"
        ) == "Succeeded"),
        "{}\n{}",
        cluster
            .kubectl(&["get", "pod", "hello", "-o", "yaml"])
            .stdout,
        node.log()
    );
    let ip = field(&cluster, "hello", ".status.podIP");
    assert!(ip.starts_with("10."), "pod IP {ip:?}");
    // The cluster's pod and service CIDRs never leave the machine.
    let routes = std::process::Command::new("ip")
        .args(["route", "show", "type", "blackhole"])
        .output()
        .unwrap();
    let routes = String::from_utf8_lossy(&routes.stdout);
    let cidr = format!(
        "{}.0.0/16",
        ip.split('.').take(2).collect::<Vec<_>>().join(".")
    );
    assert!(
        routes.contains(&cidr) && routes.contains("10.43.0.0/16"),
        "{routes}"
    );
    assert_eq!(
        field(
            &cluster,
            "hello",
            ".status.initContainerStatuses[0].state.terminated.reason"
        ),
        "Completed"
    );
    assert_eq!(
        field(
            &cluster,
            "hello",
            ".status.containerStatuses[0].state.terminated.exitCode"
        ),
        "0"
    );
    // The containers' output is in CRI-format log files under the pod's log directory.
    let logs: Vec<String> = std::fs::read_dir(node.agent_dir.join("pods"))
        .unwrap()
        .flatten()
        .flat_map(|pod| {
            ["init", "main"].map(|c| {
                std::fs::read_to_string(pod.path().join(c).join("0.log")).unwrap_or_default()
            })
        })
        .collect();
    assert!(logs[0].contains("stdout F init done"), "{logs:?}");
    assert!(logs[1].contains("stdout F hello from hello"), "{logs:?}");
    // Deleting the pod stops what is left of it and removes it.
    cluster
        .kubectl(&["delete", "pod", "hello", "--timeout=30s"])
        .ok();
}

#[test]
fn a_deployment_answers_http_from_another_pod_and_a_failing_container_backs_off() {
    let cluster = cluster();
    let _node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - name: crash
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "exit 1"]
"#,
        )
        .ok();
    let ips = || {
        cluster
            .kubectl(&[
                "get",
                "pods",
                "-l",
                "app=web",
                "--field-selector=status.phase=Running",
                "-o",
                "jsonpath={.items[*].status.podIP}",
            ])
            .stdout
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(60), || ips().len() == 2),
        "{}",
        cluster.kubectl(&["get", "pods", "-o", "wide"]).stdout
    );
    let target = ips()[0].clone();
    let client = format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  restartPolicy: Never
  containers:
  - name: wget
    image: busybox
    imagePullPolicy: IfNotPresent
    # Debian's static busybox wget crashes in its resolver; nc speaks plain HTTP/1.0.
    command: ["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {target} 8080 | grep web-"]
"#
    );
    cluster.kubectl_stdin(&["apply", "-f", "-"], &client).ok();
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "client",
            ".status.phase"
        ) == "Succeeded"),
        "{}",
        cluster
            .kubectl(&["get", "pod", "client", "-o", "yaml"])
            .stdout
    );
    // Exit 1 under restartPolicy Always: restarts with a growing back-off, the exit it waits
    // after shown as the last state.
    let backing_off = || {
        field(
            &cluster,
            "crash",
            ".status.containerStatuses[0].state.waiting.reason",
        ) == "CrashLoopBackOff"
            && field(
                &cluster,
                "crash",
                ".status.containerStatuses[0].lastState.terminated.exitCode",
            ) == "1"
    };
    assert!(
        eventually(Duration::from_secs(60), backing_off),
        "{}",
        cluster
            .kubectl(&["get", "pod", "crash", "-o", "yaml"])
            .stdout
    );
    let restarts: u32 = field(
        &cluster,
        "crash",
        ".status.containerStatuses[0].restartCount",
    )
    .parse()
    .unwrap();
    assert!(restarts >= 1, "restarts {restarts}");
}

#[test]
fn volumes_and_environment_reach_the_containers_and_config_updates_reach_running_pods() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    let host_dir = cluster.dir.path().join("host-data");
    let manifest = format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config}}
data: {{greeting: hello}}
---
apiVersion: v1
kind: Secret
metadata: {{name: app-secret}}
stringData: {{password: s3cret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: volume-demo}}
spec:
  restartPolicy: Never
  volumes:
  - {{name: data, emptyDir: {{}}}}
  - {{name: host, hostPath: {{path: "{host}", type: DirectoryOrCreate}}}}
  - {{name: config, configMap: {{name: app-config}}}}
  containers:
  - name: writer
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo \"pw=$PASSWORD pod=$POD_NAME greeting=$GREETING\" > /data/message; touch /host/created; sleep 60"]
    env:
    - name: PASSWORD
      valueFrom: {{secretKeyRef: {{name: app-secret, key: password}}}}
    - name: GREETING
      valueFrom: {{configMapKeyRef: {{name: app-config, key: greeting}}}}
    - name: POD_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    volumeMounts:
    - {{name: data, mountPath: /data}}
    - {{name: host, mountPath: /host}}
  - name: reader
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do cat /data/message /config/greeting; echo; sleep 0.5; done"]
    volumeMounts:
    - {{name: data, mountPath: /data, readOnly: true}}
    - {{name: config, mountPath: /config}}
"#,
        host = host_dir.display()
    );
    cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest).ok();
    let reader_log = || {
        std::fs::read_dir(node.agent_dir.join("pods"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().contains("volume-demo"))
            .map(|d| std::fs::read_to_string(d.path().join("reader/0.log")).unwrap_or_default())
            .collect::<String>()
    };
    assert!(
        eventually(Duration::from_secs(60), || reader_log()
            .contains("pw=s3cret pod=volume-demo greeting=hello")),
        "{}\n{}",
        reader_log(),
        cluster
            .kubectl(&["get", "pod", "volume-demo", "-o", "yaml"])
            .stdout
    );
    assert!(host_dir.join("created").exists());
    // A changed ConfigMap reaches the mounted files of the running pod.
    cluster
        .kubectl(&[
            "patch",
            "configmap",
            "app-config",
            "-p",
            r#"{"data":{"greeting":"updated"}}"#,
        ])
        .ok();
    assert!(
        eventually(Duration::from_secs(30), || reader_log().contains("updated")),
        "{}",
        reader_log()
    );
    // A missing Secret key keeps the container from being created, with upstream's reason.
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: missing-key}
spec:
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "60"]
    env:
    - name: X
      valueFrom: {secretKeyRef: {name: app-secret, key: nope}}
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(30), || field(
            &cluster,
            "missing-key",
            ".status.containerStatuses[0].state.waiting.reason"
        ) == "CreateContainerConfigError"),
        "{}",
        cluster
            .kubectl(&["get", "pod", "missing-key", "-o", "yaml"])
            .stdout
    );
}

#[test]
fn an_agent_restart_adopts_running_containers() {
    let cluster = cluster();
    let mut node = cluster.node().unwrap();
    cluster
        .kubectl(&[
            "run",
            "sleeper",
            "--image=busybox",
            "--image-pull-policy=IfNotPresent",
            "--",
            "sleep",
            "600",
        ])
        .ok();
    let id = || {
        field(
            &cluster,
            "sleeper",
            ".status.containerStatuses[0].containerID",
        )
    };
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "sleeper",
            ".status.phase"
        ) == "Running"),
        "{}",
        node.log()
    );
    let before = id();
    node.restart(&cluster).unwrap();
    // The new agent reports the pod again from the runtime, without restarting it.
    assert!(
        eventually(Duration::from_secs(30), || node
            .log()
            .contains("reusing the running containerd")),
        "{}",
        node.log()
    );
    cluster.kubectl(&["label", "pod", "sleeper", "poke=1"]).ok();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(id(), before);
    assert_eq!(
        field(
            &cluster,
            "sleeper",
            ".status.containerStatuses[0].restartCount"
        ),
        "0"
    );
    assert_eq!(field(&cluster, "sleeper", ".status.phase"), "Running");
}

#[test]
fn readiness_gates_ready_and_a_failing_liveness_probe_restarts_the_container() {
    let cluster = cluster();
    let _node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: web
    image: busybox
    imagePullPolicy: IfNotPresent
    # Serves only after 8 s: not ready until then.
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && sleep 8 && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
  - name: flaky
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 600"]
    livenessProbe:
      exec: {command: ["test", "-f", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 2
"#,
        )
        .ok();
    let ready = |name: &str| {
        field(
            &cluster,
            "probed",
            &format!(".status.containerStatuses[?(@.name==\"{name}\")].ready"),
        )
    };
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "probed",
            ".status.phase"
        ) == "Running"),
        "{}",
        cluster
            .kubectl(&["get", "pod", "probed", "-o", "yaml"])
            .stdout
    );
    assert_eq!(ready("web"), "false", "ready before the server listens");
    assert!(
        eventually(Duration::from_secs(30), || ready("web") == "true"),
        "{}",
        cluster
            .kubectl(&["get", "pod", "probed", "-o", "yaml"])
            .stdout
    );
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "probed",
            ".status.containerStatuses[?(@.name==\"flaky\")].restartCount"
        )
        .parse::<u32>()
        .unwrap_or(0)
            >= 1),
        "{}",
        cluster
            .kubectl(&["get", "pod", "probed", "-o", "yaml"])
            .stdout
    );
}

#[test]
fn limits_reach_the_cgroups_and_a_memory_hog_is_oom_killed() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: limited}
spec:
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: 250m, memory: 32Mi}
      limits: {cpu: 500m, memory: 64Mi}
---
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "x=0123456789; while true; do x=$x$x; done"]
    resources:
      limits: {memory: 32Mi}
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "hog",
            ".status.containerStatuses[0].state.terminated.reason"
        ) == "OOMKilled"),
        "{}\n{}",
        cluster.kubectl(&["get", "pod", "hog", "-o", "yaml"]).stdout,
        node.log()
    );
    assert_eq!(
        field(
            &cluster,
            "hog",
            ".status.containerStatuses[0].state.terminated.exitCode"
        ),
        "137"
    );
    assert_eq!(field(&cluster, "hog", ".status.phase"), "Failed");
    assert!(eventually(Duration::from_secs(60), || field(
        &cluster,
        "limited",
        ".status.phase"
    ) == "Running"));
    let cgroups = cluster
        .kubectl(&[
            "exec",
            "limited",
            "--",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            "/sys/fs/cgroup/cpu/cpu.shares",
        ])
        .ok()
        .to_string();
    assert_eq!(cgroups, format!("{}\n50000\n256\n", 64 << 20));
}

#[test]
fn a_sidecar_ships_the_main_containers_log_and_ends_with_its_pod() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    // The seeds' fluent-bit pattern: the app writes /data/logs, a sidecar reads them.
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  restartPolicy: Never
  volumes:
  - name: logs
    emptyDir: {}
  initContainers:
  - name: log-shipper
    image: busybox
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "touch /data/logs/app.log; tail -f /data/logs/app.log | while read line; do echo shipped: $line; done"]
    volumeMounts: [{name: logs, mountPath: /data/logs}]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "for i in 1 2 3; do echo request $i >> /data/logs/app.log; sleep 1; done"]
    volumeMounts: [{name: logs, mountPath: /data/logs}]
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(60), || cluster
            .kubectl(&["logs", "app", "-c", "log-shipper"])
            .stdout
            .contains("shipped: request 2")),
        "{}\n{}",
        cluster.kubectl(&["get", "pod", "app", "-o", "yaml"]).stdout,
        node.log()
    );
    assert_eq!(
        field(
            &cluster,
            "app",
            ".status.conditions[?(@.type==\"Initialized\")].status"
        ),
        "True"
    );
    // The app finishing completes the pod although its sidecar would run forever.
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "app",
            ".status.phase"
        ) == "Succeeded"),
        "{}",
        cluster.kubectl(&["get", "pod", "app", "-o", "yaml"]).stdout
    );
    let shipped = cluster
        .kubectl(&["logs", "app", "-c", "log-shipper"])
        .ok()
        .to_string();
    assert!(shipped.contains("shipped: request 1\n"), "{shipped}");
}

#[test]
fn lifecycle_hooks_run_around_the_container() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    let host_dir = cluster.data_dir().join("hooks");
    let manifest = format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: hooked}}
spec:
  terminationGracePeriodSeconds: 10
  volumes:
  - name: host
    hostPath: {{path: {dir}, type: DirectoryOrCreate}}
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    volumeMounts: [{{name: host, mountPath: /host}}]
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "echo post-start ran > /tmp/started"]}}
      preStop:
        exec: {{command: ["sh", "-c", "echo pre-stop ran > /host/stopped"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: bad-hook}}
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "exit 7"]}}
"#,
        dir = host_dir.display()
    );
    cluster.kubectl_stdin(&["apply", "-f", "-"], &manifest).ok();
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "hooked",
            ".status.phase"
        ) == "Running"),
        "{}",
        node.log()
    );
    let started = cluster
        .kubectl(&["exec", "hooked", "--", "cat", "/tmp/started"])
        .ok()
        .to_string();
    assert_eq!(started, "post-start ran\n");
    cluster.kubectl(&["delete", "pod", "hooked"]).ok();
    assert_eq!(
        std::fs::read_to_string(host_dir.join("stopped")).unwrap_or_default(),
        "pre-stop ran\n",
        "the preStop hook ran before the container stopped"
    );
    // A failing postStart hook kills the container, which restarts as its policy says.
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "bad-hook",
            ".status.containerStatuses[0].restartCount"
        )
        .parse::<u32>()
        .is_ok_and(|n| n >= 1)),
        "{}",
        node.log()
    );
    let events = cluster
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=bad-hook",
        ])
        .ok()
        .to_string();
    assert!(
        events.contains("FailedPostStartHook") && events.contains("command exited with 7"),
        "{events}"
    );
}

#[test]
fn static_pods_run_from_the_manifest_directory_with_mirror_pods() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    let manifest = node.agent_dir.join("manifests/static-web.yaml");
    std::fs::write(
        &manifest,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: static-web, namespace: kube-system}
spec:
  containers:
  - name: web
    image: nginx:latest
"#,
    )
    .unwrap();
    let mirror = format!("static-web-{}", node.name);
    let phase = || {
        cluster
            .kubectl(&[
                "get",
                "pod",
                "-n",
                "kube-system",
                &mirror,
                "-o",
                "jsonpath={.status.phase}",
            ])
            .stdout
    };
    assert!(
        eventually(Duration::from_secs(60), || phase() == "Running"),
        "{}",
        node.log()
    );
    let source = cluster
        .kubectl(&[
            "get", "pod", "-n", "kube-system", &mirror, "-o",
            "jsonpath={.metadata.annotations.kubernetes\\.io/config\\.source} {.metadata.ownerReferences[0].kind}",
        ])
        .ok()
        .to_string();
    assert_eq!(source, "file Node");
    // Deleted through the API, the mirror pod comes back; removed from the directory, it goes.
    cluster
        .kubectl(&["delete", "pod", "-n", "kube-system", &mirror])
        .ok();
    assert!(eventually(Duration::from_secs(60), || phase() == "Running"));
    std::fs::remove_file(&manifest).unwrap();
    assert!(eventually(Duration::from_secs(60), || cluster
        .kubectl(&["get", "pod", "-n", "kube-system", &mirror])
        .stderr
        .contains("NotFound")));
}

#[test]
fn an_agent_joins_with_the_node_token_and_a_wrong_ca_pin_is_refused() {
    let cluster = cluster();
    let token = std::fs::read_to_string(cluster.data_dir().join("node-token")).unwrap();
    let token = token.trim();
    assert!(
        token.starts_with("K10") && token.contains("::node:"),
        "{token}"
    );
    // A token pinning another CA: the agent refuses the server before sending it anything.
    let forged = format!("K10{}{}", "0".repeat(64), &token[67..]);
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_rudder"))
        .args(["agent", "--server", &cluster.url(), "--token", &forged])
        .args(["--agent-dir"])
        .arg(cluster.data_dir().join("forged-agent"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("the server's CA does not match the token"),
        "{stderr}"
    );
    let node = cluster.node_joined().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: joined}
spec:
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo on a joined node; sleep 3600"]
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(60), || field(
            &cluster,
            "joined",
            ".status.phase"
        ) == "Running"),
        "{}",
        node.log()
    );
    assert_eq!(
        cluster.kubectl(&["logs", "joined"]).ok(),
        "on a joined node\n"
    );
}
