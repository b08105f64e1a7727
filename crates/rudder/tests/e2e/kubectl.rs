//! The everyday kubectl workflow against rudder: apply, get in every output format, watch,
//! describe, edit, label, scale, patch, delete, create, discovery and explain.

use std::{io::Read, process::Stdio, time::Duration};

use serde_json::Value;
use testkit::eventually;

use super::cluster;

const APP_V1: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: one
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels:
    app: web
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  labels:
    app: web
type: Opaque
stringData:
  password: s3cret
"#;

#[test]
fn default_namespaces_and_discovery() {
    let c = cluster();
    for version in ["1.33", "1.27"] {
        let out = c
            .kubectl_v(version, &["get", "namespaces"])
            .ok()
            .to_string();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(out.contains(ns), "kubectl {version} get namespaces: {out}");
        }
        assert!(out.contains("Active"), "{out}");
    }
    let resources = c.kubectl(&["api-resources"]).ok().to_string();
    for line in [
        "deployments",
        "deploy",
        "apps/v1",
        "Deployment",
        "configmaps",
        "cm",
    ] {
        assert!(
            resources.contains(line),
            "api-resources lacks {line}: {resources}"
        );
    }
    let cluster_scoped = c
        .kubectl(&["api-resources", "--namespaced=false", "-o", "name"])
        .ok()
        .to_string();
    assert!(
        cluster_scoped.lines().any(|l| l == "namespaces"),
        "{cluster_scoped}"
    );
    assert!(
        cluster_scoped.lines().any(|l| l == "nodes"),
        "{cluster_scoped}"
    );
    assert!(
        !cluster_scoped.lines().any(|l| l == "pods"),
        "{cluster_scoped}"
    );
    let versions = c.kubectl(&["api-versions"]).ok().to_string();
    for gv in [
        "v1",
        "apps/v1",
        "batch/v1",
        "networking.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "api-versions lacks {gv}: {versions}"
        );
    }
    let info = c.kubectl(&["cluster-info"]).ok().to_string();
    assert!(info.contains("is running at"), "{info}");
    assert!(info.contains(&c.url()), "{info}");
    let version = c.kubectl(&["version", "-o", "json"]).json();
    assert_eq!(version["serverVersion"]["minor"], "33");
}

#[test]
fn explain_reads_the_openapi_schema() {
    let c = cluster();
    for version in ["1.33", "1.27"] {
        let out = c
            .kubectl_v(version, &["explain", "pod.spec.containers"])
            .ok()
            .to_string();
        assert!(
            out.contains("KIND:") && out.contains("Pod"),
            "kubectl {version}: {out}"
        );
        assert!(out.contains("image"), "kubectl {version}: {out}");
        assert!(out.contains("name"), "kubectl {version}: {out}");
    }
    let out = c
        .kubectl(&["explain", "deployment.spec.strategy"])
        .ok()
        .to_string();
    assert!(out.contains("rollingUpdate"), "{out}");
}

#[test]
fn apply_get_update_delete() {
    let c = cluster();
    let v1 = c.file("app.yaml", APP_V1);
    let out = c
        .kubectl(&["apply", "-f", v1.to_str().unwrap()])
        .ok()
        .to_string();
    for line in [
        "deployment.apps/web created",
        "service/web created",
        "configmap/web-config created",
        "secret/web-secret created",
    ] {
        assert!(out.contains(line), "{out}");
    }
    // Applying the same file again changes nothing.
    let out = c
        .kubectl(&["apply", "-f", v1.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");

    // Someone else adds a sidecar; the next apply must merge containers by name, not replace.
    c.kubectl(&[
        "patch",
        "deployment",
        "web",
        "--type=strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"log","image":"busybox"}]}}}}"#,
    ])
    .ok();
    let v2 = c.file(
        "app-v2.yaml",
        &APP_V1
            .replace("image: nginx:1.25", "image: nginx:1.26")
            .replace(
                "          value: one\n",
                "          value: one\n        - name: LEVEL\n          value: debug\n",
            )
            .replace("greeting: hello", "greeting: hi"),
    );
    let out = c
        .kubectl(&["apply", "-f", v2.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/web-config configured"), "{out}");
    let deploy = c
        .kubectl(&["get", "deployment", "web", "-o", "json"])
        .json();
    let containers = deploy["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let mut names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["log", "web"], "{containers:?}");
    let web = containers.iter().find(|c| c["name"] == "web").unwrap();
    assert_eq!(web["image"], "nginx:1.26");
    let env: Vec<&str> = web["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(env, ["MODE", "LEVEL"]);
    assert_eq!(deploy["metadata"]["generation"], 3, "{deploy}");
    // Defaults were filled in by the server.
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        c.kubectl(&["get", "cm", "web-config", "-o", "jsonpath={.data.greeting}"])
            .ok(),
        "hi"
    );
    // stringData was folded into data.
    let secret = c
        .kubectl(&["get", "secret", "web-secret", "-o", "json"])
        .json();
    assert_eq!(secret["data"]["password"], "czNjcmV0");
    assert!(secret.get("stringData").is_none());

    // Output formats.
    let yaml = c
        .kubectl(&["get", "deploy", "web", "-o", "yaml"])
        .ok()
        .to_string();
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let wide = c.kubectl(&["get", "deploy", "-o", "wide"]).ok().to_string();
    for column in [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ] {
        assert!(wide.contains(column), "{wide}");
    }
    assert!(
        wide.contains("nginx:1.26") && wide.contains("busybox"),
        "{wide}"
    );
    let svc = c.kubectl(&["get", "svc", "web"]).ok().to_string();
    assert!(svc.contains("ClusterIP") && svc.contains("80/TCP"), "{svc}");
    let names = c
        .kubectl(&["get", "all", "-l", "app=web", "-o", "name"])
        .ok()
        .to_string();
    assert!(
        names.contains("deployment.apps/web") && names.contains("service/web"),
        "{names}"
    );
    let selected = c
        .kubectl(&[
            "get",
            "cm,secret",
            "-l",
            "app in (web),app!=db",
            "-o",
            "name",
        ])
        .ok()
        .to_string();
    assert_eq!(selected.lines().count(), 2, "{selected}");
    let none = c
        .kubectl(&["get", "cm", "-l", "app=nothing"])
        .ok()
        .to_string();
    assert!(none.is_empty(), "{none}");
    let all = c.kubectl(&["get", "configmaps", "-A"]).ok().to_string();
    assert!(
        all.contains("NAMESPACE") && all.contains("web-config"),
        "{all}"
    );
    let other = c
        .kubectl(&["get", "configmaps", "-n", "kube-public", "-o", "name"])
        .ok()
        .to_string();
    assert!(!other.contains("web-config"), "{other}");
    let jsonpath = c
        .kubectl(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])
        .ok()
        .to_string();
    assert_eq!(jsonpath, "2");

    // describe.
    let described = c
        .kubectl(&["describe", "deployment", "web"])
        .ok()
        .to_string();
    assert!(
        described.contains("Name:") && described.contains("web") && described.contains("Replicas:"),
        "{described}"
    );
    let described = c
        .kubectl(&["describe", "configmap", "web-config"])
        .ok()
        .to_string();
    assert!(described.contains("greeting"), "{described}");

    // label, annotate, scale, and the three patch types.
    c.kubectl(&["label", "deployment", "web", "tier=frontend"])
        .ok();
    c.kubectl(&["annotate", "deployment", "web", "owner=team-a"])
        .ok();
    let out = c
        .kubectl(&["scale", "deployment", "web", "--replicas=4"])
        .ok()
        .to_string();
    assert!(out.contains("scaled"), "{out}");
    c.kubectl(&[
        "patch",
        "configmap",
        "web-config",
        "--type=merge",
        "-p",
        r#"{"data":{"extra":"1"}}"#,
    ])
    .ok();
    c.kubectl(&[
        "patch",
        "configmap",
        "web-config",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/data/greeting","value":"hey"}]"#,
    ])
    .ok();
    c.kubectl(&[
        "patch",
        "service",
        "web",
        "-p",
        r#"{"spec":{"ports":[{"port":80,"name":"http"}]}}"#,
    ])
    .ok();
    let deploy = c.kubectl(&["get", "deploy", "web", "-o", "json"]).json();
    assert_eq!(deploy["metadata"]["labels"]["tier"], "frontend");
    assert_eq!(deploy["metadata"]["annotations"]["owner"], "team-a");
    assert_eq!(deploy["spec"]["replicas"], 4);
    let cm = c.kubectl(&["get", "cm", "web-config", "-o", "json"]).json();
    assert_eq!(
        cm["data"],
        serde_json::json!({"greeting": "hey", "extra": "1"})
    );
    let svc = c.kubectl(&["get", "svc", "web", "-o", "json"]).json();
    assert_eq!(svc["spec"]["ports"].as_array().unwrap().len(), 1, "{svc}");
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");

    // delete -l and delete -f.
    let out = c
        .kubectl(&["delete", "cm,secret", "-l", "app=web"])
        .ok()
        .to_string();
    assert!(out.contains("configmap \"web-config\" deleted"), "{out}");
    let out = c
        .kubectl(&["delete", "-f", v2.to_str().unwrap(), "--ignore-not-found"])
        .ok()
        .to_string();
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let left = c
        .kubectl(&["get", "deploy,svc,cm,secret", "-l", "app=web", "-o", "name"])
        .ok()
        .to_string();
    assert!(left.is_empty(), "{left}");
}

#[test]
fn server_side_apply_dry_run_and_diff() {
    let c = cluster();
    let cm = c.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n  b: \"2\"\n",
    );
    let out = c
        .kubectl(&["apply", "--server-side", "-f", cm.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(out.contains("configmap/ssa serverside-applied"), "{out}");
    let live = c
        .kubectl(&["get", "cm", "ssa", "-o", "json", "--show-managed-fields"])
        .json();
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"kubectl"), "{live}");
    // Dropping a field from the applied config removes it.
    let cm2 = c.file(
        "cm2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n",
    );
    c.kubectl(&["apply", "--server-side", "-f", cm2.to_str().unwrap()])
        .ok();
    let live = c.kubectl(&["get", "cm", "ssa", "-o", "json"]).json();
    assert_eq!(live["data"], serde_json::json!({"a": "1"}));
    // Another manager owning a field makes a conflicting apply fail without --force-conflicts.
    let cm3 = c.file(
        "cm3.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"other\"\n",
    );
    let err = c
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            cm3.to_str().unwrap(),
        ])
        .fails()
        .to_string();
    assert!(err.contains("conflict"), "{err}");
    c.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        cm3.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        c.kubectl(&["get", "cm", "ssa", "-o", "jsonpath={.data.a}"])
            .ok(),
        "other"
    );

    // A server-side dry run validates and stores nothing.
    let dry = c.file(
        "dry.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata:\n  k: v\n",
    );
    let out = c
        .kubectl(&["apply", "--dry-run=server", "-f", dry.to_str().unwrap()])
        .ok()
        .to_string();
    assert!(
        out.contains("configmap/dry created (server dry run)"),
        "{out}"
    );
    c.kubectl(&["get", "cm", "dry"]).fails();

    // diff shows what an apply would change and exits 1.
    let changed = c.file(
        "cm4.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"changed\"\n",
    );
    let run = c.kubectl(&["diff", "-f", changed.to_str().unwrap()]);
    assert!(
        !run.success,
        "diff should exit 1 when there are differences"
    );
    assert!(
        run.stdout.contains("-  a: other") && run.stdout.contains("+  a: changed"),
        "{}",
        run.stdout
    );
}

#[test]
fn create_edit_and_watch() {
    let c = cluster();
    c.kubectl(&["create", "namespace", "team"]).ok();
    c.kubectl(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team",
        "--from-literal=color=blue",
        "--from-literal=size=2",
    ])
    .ok();
    c.kubectl(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "team",
        "--from-literal=user=admin",
    ])
    .ok();
    let out = c
        .kubectl(&[
            "create",
            "deployment",
            "api",
            "-n",
            "team",
            "--image=nginx:1.25",
            "--replicas=3",
        ])
        .ok()
        .to_string();
    assert!(out.contains("deployment.apps/api created"), "{out}");
    let deploy = c
        .kubectl(&["get", "deploy", "api", "-n", "team", "-o", "json"])
        .json();
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    let secret = c
        .kubectl(&[
            "get",
            "secret",
            "creds",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.user}",
        ])
        .ok()
        .to_string();
    assert_eq!(secret, "YWRtaW4=");

    // edit with an EDITOR script.
    let editor = c.file(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/color: blue/color: green/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = c
        .kubectl_cmd("1.33")
        .env("EDITOR", &editor)
        .args(["edit", "configmap", "settings", "-n", "team"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        c.kubectl(&[
            "get",
            "cm",
            "settings",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.color}"
        ])
        .ok(),
        "green"
    );

    // get -w prints changes made after it started.
    let mut watch = c
        .kubectl_cmd("1.33")
        .args(["get", "configmaps", "-n", "team", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    c.kubectl(&[
        "create",
        "configmap",
        "later",
        "-n",
        "team",
        "--from-literal=a=b",
    ])
    .ok();
    c.kubectl(&["label", "configmap", "settings", "-n", "team", "seen=yes"])
        .ok();
    std::thread::sleep(Duration::from_millis(700));
    watch.kill().unwrap();
    watch.wait().unwrap();
    let mut printed = String::new();
    watch
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert!(printed.contains("settings"), "{printed}");
    assert!(
        printed.contains("later"),
        "watch did not print the new ConfigMap: {printed}"
    );

    // Deleting a namespace deletes what is in it, then the namespace.
    c.kubectl(&["delete", "namespace", "team"]).ok();
    assert!(eventually(Duration::from_secs(20), || !c
        .kubectl(&["get", "namespace", "team"])
        .success));
    let left: Value = c.kubectl(&["get", "configmaps", "-A", "-o", "json"]).json();
    assert!(
        left["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["metadata"]["namespace"] != "team"),
        "{left}"
    );
}
