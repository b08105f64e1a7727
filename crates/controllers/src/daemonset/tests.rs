//! Unit tests of the DaemonSet controller's pure parts.

use std::collections::BTreeMap;

use k8s_openapi::api::{apps::v1::DaemonSet, core::v1::Node};

use super::{
    effective_template, new_pod,
    nodes::fit,
    plan::{NodeView, Op, PodView, Update, plan},
    target_node,
};

fn node(name: &str, labels: serde_json::Value, taints: serde_json::Value) -> Node {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints}
    }))
    .expect("a node")
}

fn daemon(spec_extra: serde_json::Value) -> DaemonSet {
    let mut pod_spec = serde_json::json!({"containers": [{"name": "c", "image": "agent"}]});
    if let (Some(p), Some(extra)) = (pod_spec.as_object_mut(), spec_extra.as_object()) {
        p.extend(extra.clone());
    }
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "agent", "namespace": "default", "uid": "u1", "generation": 2},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": pod_spec}
        }
    }))
    .expect("a DaemonSet")
}

fn fits(set: &DaemonSet, node: &Node) -> (bool, bool) {
    let spec = effective_template(set).spec.expect("spec");
    let f = fit(&spec, node);
    (f.should_run, f.should_continue)
}

#[test]
fn taints_need_tolerations_and_daemon_pods_tolerate_the_node_conditions() {
    let set = daemon(serde_json::json!({}));
    let plain = node("a", serde_json::json!({}), serde_json::json!([]));
    assert_eq!(fits(&set, &plain), (true, true));
    let tainted = node(
        "b",
        serde_json::json!({}),
        serde_json::json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    );
    assert_eq!(fits(&set, &tainted), (false, true));
    let evicting = node(
        "c",
        serde_json::json!({}),
        serde_json::json!([{"key": "dedicated", "effect": "NoExecute"}]),
    );
    assert_eq!(fits(&set, &evicting), (false, false));
    let cordoned = node(
        "d",
        serde_json::json!({}),
        serde_json::json!([
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
        ]),
    );
    assert_eq!(fits(&set, &cordoned), (true, true));
    let tolerant = daemon(serde_json::json!({
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    }));
    assert_eq!(fits(&tolerant, &tainted), (true, true));
}

#[test]
fn node_selectors_and_affinity_choose_nodes() {
    let set = daemon(serde_json::json!({"nodeSelector": {"disk": "ssd"}}));
    assert_eq!(
        fits(
            &set,
            &node(
                "a",
                serde_json::json!({"disk": "ssd"}),
                serde_json::json!([])
            )
        ),
        (true, true)
    );
    assert_eq!(
        fits(
            &set,
            &node("b", serde_json::json!({}), serde_json::json!([]))
        ),
        (false, false)
    );
    let affine = daemon(serde_json::json!({"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}}));
    assert_eq!(
        fits(
            &affine,
            &node(
                "a",
                serde_json::json!({"zone": "z1"}),
                serde_json::json!([])
            )
        ),
        (true, true)
    );
    assert_eq!(
        fits(
            &affine,
            &node(
                "b",
                serde_json::json!({"zone": "z2"}),
                serde_json::json!([])
            )
        ),
        (false, false)
    );
}

#[test]
fn pods_are_pinned_to_their_node_by_affinity() {
    let set = daemon(serde_json::json!({}));
    let pod = new_pod(&set, &effective_template(&set), "abc", "node-1");
    assert_eq!(target_node(&pod).as_deref(), Some("node-1"));
    let labels = pod.metadata.labels.clone().expect("labels");
    assert_eq!(labels["controller-revision-hash"], "abc");
    assert_eq!(labels["pod-template-generation"], "2");
    let tolerations = pod.spec.expect("spec").tolerations.expect("tolerations");
    assert!(
        tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unschedulable"))
    );
}

fn pod(name: &str, updated: bool, available: bool) -> PodView {
    PodView {
        name: name.into(),
        updated,
        available,
        terminating: false,
        finished: false,
    }
}

fn view(should_run: bool, pods: Vec<PodView>) -> NodeView {
    NodeView {
        exists: true,
        should_run,
        should_continue: should_run,
        pods,
    }
}

fn rolling(max_unavailable: usize, max_surge: usize) -> Update {
    Update::Rolling {
        max_unavailable,
        max_surge,
    }
}

#[test]
fn every_fitting_node_gets_one_pod_and_others_lose_theirs() {
    let nodes: BTreeMap<String, NodeView> = [
        ("a".to_string(), view(true, vec![])),
        ("b".to_string(), view(false, vec![pod("p-b", true, true)])),
        (
            "c".to_string(),
            view(true, vec![pod("p-c1", true, true), pod("p-c2", true, true)]),
        ),
        (
            "gone".to_string(),
            NodeView {
                exists: false,
                ..view(true, vec![pod("p-gone", true, true)])
            },
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        plan(&nodes, rolling(1, 0)),
        vec![
            Op::Create("a".into()),
            Op::Delete("p-b".into()),
            Op::Delete("p-c2".into()),
            Op::Delete("p-gone".into()),
        ]
    );
}

#[test]
fn rolling_updates_stay_within_max_unavailable() {
    let nodes: BTreeMap<String, NodeView> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                view(true, vec![pod(&format!("p-{n}"), false, true)]),
            )
        })
        .collect();
    assert_eq!(plan(&nodes, rolling(1, 0)), vec![Op::Delete("p-a".into())]);
    assert_eq!(
        plan(&nodes, rolling(2, 0)),
        vec![Op::Delete("p-a".into()), Op::Delete("p-b".into())]
    );
    assert_eq!(plan(&nodes, Update::OnDelete), vec![]);
    // A node whose new pod is not yet available uses up the budget.
    let mut busy = nodes.clone();
    busy.insert("a".into(), view(true, vec![pod("p-a2", true, false)]));
    assert_eq!(plan(&busy, rolling(1, 0)), vec![]);
}

#[test]
fn surge_starts_new_pods_beside_old_ones_first() {
    let nodes: BTreeMap<String, NodeView> = ["a", "b"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                view(true, vec![pod(&format!("p-{n}"), false, true)]),
            )
        })
        .collect();
    assert_eq!(plan(&nodes, rolling(0, 1)), vec![Op::Create("a".into())]);
    let mut surged = nodes.clone();
    surged.insert(
        "a".into(),
        view(true, vec![pod("p-a", false, true), pod("p-a2", true, true)]),
    );
    assert_eq!(
        plan(&surged, rolling(0, 1)),
        vec![Op::Delete("p-a".into()), Op::Create("b".into())]
    );
}
