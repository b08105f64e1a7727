//! Cluster controllers with simulated nodes: namespaces, node lifecycle and eviction, pod CIDRs, garbage collection.

use std::{collections::HashSet, path::Path, time::Duration};

use serde_json::Value;
use testkit::{Cluster, eventually};

/// How long an object may take to appear or go.
const WAIT: Duration = Duration::from_secs(30);

/// The simulator renews Leases every 10 s, so the grace period must be longer than that for
/// healthy nodes to stay Ready; 15 s keeps the tests short.
const GRACE: &str = "15s";

fn start(flags: &[&str]) -> Cluster {
    let mut all = vec!["--datastore", "memory"];
    all.extend_from_slice(flags);
    Cluster::start_with(Path::new(env!("CARGO_BIN_EXE_rudder")), &all).expect("starting rudder")
}

fn exists(c: &Cluster, args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    c.kubectl(&all).success
}

fn get(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    c.kubectl(&all).json()
}

fn uid(c: &Cluster, kind: &str, name: &str) -> String {
    get(c, &[kind, name])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A ConfigMap owned by the ConfigMap `owner` (uid `uid`).
fn owned_configmap(name: &str, owner: &str, uid: &str, block: bool, extra: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: {owner}
    uid: {uid}
    blockOwnerDeletion: {block}
{extra}
"#
    )
}

fn apply(c: &Cluster, name: &str, manifest: &str) {
    let file = c.file(name, manifest);
    c.kubectl(&["apply", "-f", file.to_str().unwrap()]).ok();
}

fn condition(obj: &Value, type_: &str) -> Value {
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap_or(Value::Null)
}

fn taints(c: &Cluster, node: &str) -> Vec<String> {
    get(c, &["node", node])["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap(),
                t["effect"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn owners_take_their_dependents_along_in_the_background() {
    let c = start(&[]);
    c.kubectl(&["create", "configmap", "owner"]).ok();
    let owner = uid(&c, "configmap", "owner");
    apply(
        &c,
        "a.yaml",
        &owned_configmap("child-a", "owner", &owner, false, ""),
    );
    apply(
        &c,
        "b.yaml",
        &owned_configmap("child-b", "owner", &owner, true, ""),
    );
    let child = uid(&c, "configmap", "child-a");
    apply(
        &c,
        "grand.yaml",
        &owned_configmap("grandchild", "child-a", &child, false, ""),
    );
    // Another kind as a dependent: a pod no scheduler will bind.
    apply(
        &c,
        "pod.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: owned-pod
  ownerReferences:
  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner}}}
spec:
  schedulerName: nobody
  containers: [{{name: c, image: busybox}}]
"#
        ),
    );
    // A second owner keeps a dependent alive, without the reference to the one that went.
    c.kubectl(&["create", "configmap", "other"]).ok();
    let other = uid(&c, "configmap", "other");
    apply(
        &c,
        "shared.yaml",
        &format!(
            r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  ownerReferences:
  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner}}}
  - {{apiVersion: v1, kind: ConfigMap, name: other, uid: {other}}}
"#
        ),
    );
    // A reference to an object that never existed is dangling from the start.
    apply(
        &c,
        "dangling.yaml",
        &owned_configmap(
            "dangling",
            "ghost",
            "00000000-0000-0000-0000-000000000000",
            false,
            "",
        ),
    );
    // A uid that exists, named as another object, does not count as that owner.
    apply(
        &c,
        "impostor.yaml",
        &owned_configmap("impostor", "not-other", &other, false, ""),
    );

    c.kubectl(&["delete", "configmap", "owner"]).ok();
    for name in ["child-a", "child-b", "grandchild", "dangling", "impostor"] {
        assert!(
            eventually(WAIT, || !exists(&c, &["configmap", name])),
            "{name} was not collected"
        );
    }
    assert!(eventually(WAIT, || !exists(&c, &["pod", "owned-pod"])));
    assert!(eventually(WAIT, || {
        let refs = get(&c, &["configmap", "shared"])["metadata"]["ownerReferences"].clone();
        refs.as_array().map(Vec::len) == Some(1) && refs[0]["name"] == "other"
    }));
    assert!(exists(&c, &["configmap", "other"]));
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let c = start(&[]);
    c.kubectl(&["create", "configmap", "owner"]).ok();
    let owner = uid(&c, "configmap", "owner");
    // The dependent holds on with a finalizer of its own, so the owner must wait.
    apply(
        &c,
        "held.yaml",
        &owned_configmap(
            "held",
            "owner",
            &owner,
            true,
            "  finalizers: [example.com/hold]",
        ),
    );
    apply(
        &c,
        "free.yaml",
        &owned_configmap("free", "owner", &owner, false, ""),
    );
    c.kubectl(&[
        "delete",
        "configmap",
        "owner",
        "--cascade=foreground",
        "--wait=false",
    ])
    .ok();
    assert!(eventually(WAIT, || !exists(&c, &["configmap", "free"])));
    assert!(eventually(WAIT, || {
        get(&c, &["configmap", "held"])["metadata"]["deletionTimestamp"].is_string()
    }));
    let waiting = get(&c, &["configmap", "owner"]);
    assert!(waiting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        waiting["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    c.kubectl(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .ok();
    assert!(eventually(WAIT, || !exists(&c, &["configmap", "held"])));
    assert!(eventually(WAIT, || !exists(&c, &["configmap", "owner"])));
}

#[test]
fn orphaning_leaves_dependents_without_the_reference() {
    let c = start(&[]);
    c.kubectl(&["create", "configmap", "owner"]).ok();
    let owner = uid(&c, "configmap", "owner");
    apply(
        &c,
        "a.yaml",
        &owned_configmap("kept-a", "owner", &owner, true, ""),
    );
    apply(
        &c,
        "b.yaml",
        &owned_configmap("kept-b", "owner", &owner, false, ""),
    );
    c.kubectl(&["delete", "configmap", "owner", "--cascade=orphan"])
        .ok();
    assert!(eventually(WAIT, || !exists(&c, &["configmap", "owner"])));
    for name in ["kept-a", "kept-b"] {
        let dep = get(&c, &["configmap", name]);
        assert!(dep["metadata"]["ownerReferences"].is_null(), "{dep}");
        assert!(dep["metadata"]["deletionTimestamp"].is_null(), "{dep}");
    }
}

#[test]
fn deleting_a_namespace_deletes_its_content_then_the_namespace() {
    let c = start(&[]);
    c.kubectl(&["create", "namespace", "team"]).ok();
    c.kubectl(&["create", "configmap", "settings", "-n", "team"])
        .ok();
    c.kubectl(&["create", "secret", "generic", "token", "-n", "team"])
        .ok();
    c.kubectl(&[
        "run",
        "web",
        "-n",
        "team",
        "--image=nginx",
        "--overrides",
        r#"{"spec":{"schedulerName":"nobody"}}"#,
    ])
    .ok();
    apply(
        &c,
        "held.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: team
  finalizers: [example.com/hold]
"#,
    );
    c.kubectl(&["delete", "namespace", "team", "--wait=false"])
        .ok();
    // The namespace says what holds it up.
    assert!(eventually(WAIT, || {
        let ns = get(&c, &["namespace", "team"]);
        condition(&ns, "NamespaceFinalizersRemaining")["message"]
            == "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    }));
    let ns = get(&c, &["namespace", "team"]);
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert_eq!(
        condition(&ns, "NamespaceContentRemaining")["message"],
        "Some resources are remaining: configmaps has 1 resource instances"
    );
    assert_eq!(
        condition(&ns, "NamespaceDeletionDiscoveryFailure")["reason"],
        "ResourcesDiscovered"
    );
    for (kind, name) in [
        ("secret", "token"),
        ("pod", "web"),
        ("configmap", "settings"),
    ] {
        assert!(!exists(&c, &[kind, name, "-n", "team"]), "{kind}/{name}");
    }
    c.kubectl(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "team",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .ok();
    assert!(eventually(WAIT, || !exists(&c, &["namespace", "team"])));
    // The name can be used again at once.
    c.kubectl(&["create", "namespace", "team"]).ok();
}

#[test]
fn nodes_get_distinct_pod_cidrs() {
    let c = start(&[]);
    let mut nodes = c.simulate_nodes(&["--count", "3"]).unwrap();
    let mut seen = HashSet::new();
    for i in 0..3 {
        let name = format!("sim-node-{i}");
        let mut cidr = String::new();
        assert!(eventually(WAIT, || {
            let node = get(&c, &["node", &name]);
            cidr = node["spec"]["podCIDR"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            !cidr.is_empty() && node["spec"]["podCIDRs"] == serde_json::json!([cidr])
        }));
        assert!(
            cidr.starts_with("10.42.") && cidr.ends_with(".0/24"),
            "{cidr}"
        );
        seen.insert(cidr);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");

    // A deleted node's heartbeat Lease is collected with it (Node -> Lease).
    nodes.stop();
    c.kubectl(&["delete", "node", "sim-node-0"]).ok();
    assert!(eventually(WAIT, || !exists(
        &c,
        &["lease", "-n", "kube-node-lease", "sim-node-0"]
    )));
    assert!(exists(
        &c,
        &["lease", "-n", "kube-node-lease", "sim-node-1"]
    ));
}

#[test]
fn cordon_taints_a_node_and_new_pods_tolerate_unready_nodes() {
    let c = start(&[]);
    let _nodes = c.simulate_nodes(&["--count", "1"]).unwrap();
    c.kubectl(&["cordon", "sim-node-0"]).ok();
    let unschedulable = "node.kubernetes.io/unschedulable:NoSchedule".to_string();
    assert!(eventually(WAIT, || taints(&c, "sim-node-0").contains(&unschedulable)));
    c.kubectl(&["uncordon", "sim-node-0"]).ok();
    assert!(eventually(WAIT, || !taints(&c, "sim-node-0").contains(&unschedulable)));

    // The DefaultTolerationSeconds admission.
    c.kubectl(&["run", "web", "--image=nginx"]).ok();
    let pod = get(&c, &["pod", "web"]);
    let tolerations: Vec<(String, String, i64)> = pod["spec"]["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["effect"].as_str().unwrap().to_string(),
                t["tolerationSeconds"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tolerations,
        [
            (
                "node.kubernetes.io/not-ready".into(),
                "NoExecute".into(),
                300
            ),
            (
                "node.kubernetes.io/unreachable".into(),
                "NoExecute".into(),
                300
            ),
        ]
    );
}

/// A pod bound to `node` that tolerates its being unreachable for `seconds` (forever without).
fn bound_pod(name: &str, node: &str, seconds: Option<u32>) -> String {
    let seconds = seconds.map_or(String::new(), |s| format!(", tolerationSeconds: {s}"));
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: {node}
  tolerations:
  - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute{seconds}}}
  containers: [{{name: c, image: busybox}}]
"#
    )
}

fn phase(c: &Cluster, pod: &str) -> String {
    get(c, &["pod", pod])["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn silent_nodes_become_unknown_are_tainted_and_lose_their_pods() {
    let c = start(&["--node-monitor-grace-period", GRACE]);
    let mut lost = c
        .simulate_nodes(&["--count", "1", "--prefix", "lost"])
        .unwrap();
    let _kept = c
        .simulate_nodes(&["--count", "1", "--prefix", "kept"])
        .unwrap();
    apply(&c, "short.yaml", &bound_pod("short", "lost-0", Some(2)));
    apply(&c, "forever.yaml", &bound_pod("forever", "lost-0", None));
    apply(&c, "healthy.yaml", &bound_pod("healthy", "kept-0", Some(2)));
    for pod in ["short", "forever", "healthy"] {
        assert!(eventually(WAIT, || phase(&c, pod) == "Running"), "{pod}");
    }
    lost.stop();

    let unreachable = [
        "node.kubernetes.io/unreachable:NoSchedule".to_string(),
        "node.kubernetes.io/unreachable:NoExecute".to_string(),
    ];
    assert!(eventually(Duration::from_secs(60), || {
        let t = taints(&c, "lost-0");
        unreachable.iter().all(|u| t.contains(u))
    }));
    let node = get(&c, &["node", "lost-0"]);
    let ready = condition(&node, "Ready");
    assert_eq!(ready["status"], "Unknown");
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    // The pod tolerating the taint for 2 s is deleted (it stays Terminating, as nothing on
    // the silent node confirms it); the one tolerating it forever stays, not Ready.
    assert!(eventually(WAIT, || {
        get(&c, &["pod", "short"])["metadata"]["deletionTimestamp"].is_string()
    }));
    let short = get(&c, &["pod", "short"]);
    assert_eq!(
        condition(&short, "DisruptionTarget")["reason"],
        "DeletionByTaintManager"
    );
    let events = c
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=short",
            "-o",
            "jsonpath={.items[*].reason} {.items[*].message}",
        ])
        .ok()
        .to_string();
    assert!(events.contains("TaintManagerEviction"), "{events}");
    assert!(
        events.contains("Marking for deletion Pod default/short"),
        "{events}"
    );
    assert!(eventually(WAIT, || condition(
        &get(&c, &["pod", "forever"]),
        "Ready"
    )["status"]
        == "False"));
    let forever = get(&c, &["pod", "forever"]);
    assert!(forever["metadata"]["deletionTimestamp"].is_null());
    // The node that kept renewing its Lease is untouched.
    let kept = get(&c, &["node", "kept-0"]);
    assert_eq!(condition(&kept, "Ready")["status"], "True");
    assert!(taints(&c, "kept-0").is_empty());
    assert!(get(&c, &["pod", "healthy"])["metadata"]["deletionTimestamp"].is_null());

    // Back again, the node posts Ready and its taints go.
    let _back = c
        .simulate_nodes(&["--count", "1", "--prefix", "lost"])
        .unwrap();
    assert!(eventually(WAIT, || taints(&c, "lost-0").is_empty()));
    let node = get(&c, &["node", "lost-0"]);
    assert_eq!(condition(&node, "Ready")["status"], "True");
}

#[test]
fn a_deployment_replaces_its_pods_from_a_silent_node_on_another() {
    let c = start(&["--node-monitor-grace-period", GRACE]);
    // Only node a-0 exists while the Deployment rolls out, so every pod lands there.
    let mut a = c
        .simulate_nodes(&["--count", "1", "--prefix", "a"])
        .unwrap();
    apply(
        &c,
        "web.yaml",
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers: [{name: web, image: nginx}]
"#,
    );
    c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .ok();
    let _b = c
        .simulate_nodes(&["--count", "1", "--prefix", "b"])
        .unwrap();
    a.stop();
    // Live pods (not being deleted), by node.
    let live = || -> Vec<(String, String)> {
        get(&c, &["pods", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                (
                    p["spec"]["nodeName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    p["status"]["phase"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    };
    let replaced = eventually(Duration::from_secs(90), || {
        let pods = live();
        pods.len() == 2
            && pods
                .iter()
                .all(|(node, phase)| node == "b-0" && phase == "Running")
    });
    assert!(replaced, "{:?}", live());
    c.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .ok();
}
