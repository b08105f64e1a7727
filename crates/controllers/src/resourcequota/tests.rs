//! Tests of the quota usage evaluators.

use std::sync::Arc;

use serde_json::json;

use super::*;

fn pod(containers: serde_json::Value, init: serde_json::Value) -> Arc<Pod> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": containers, "initContainers": init},
        }))
        .expect("pod"),
    )
}

fn container(requests: serde_json::Value, limits: serde_json::Value) -> serde_json::Value {
    json!({"name": "c", "image": "i", "resources": {"requests": requests, "limits": limits}})
}

#[test]
fn compute_usage_sums_containers_and_honours_init_containers() {
    let ns = Namespace {
        pods: vec![
            pod(
                json!([
                    container(
                        json!({"cpu": "100m", "memory": "64Mi"}),
                        json!({"cpu": "1"})
                    ),
                    container(json!({"cpu": "200m", "memory": "64Mi"}), json!({}))
                ]),
                json!([container(json!({"cpu": "500m"}), json!({}))]),
            ),
            pod(
                json!([container(json!({"cpu": "50m"}), json!({"memory": "1Gi"}))]),
                json!([]),
            ),
        ],
        ..Default::default()
    };
    let text = |r: &str| usage(&ns, r).map(|q| q.canonical());
    // The first pod's init container (500m) outweighs its containers (300m).
    assert_eq!(text("requests.cpu").as_deref(), Some("550m"));
    assert_eq!(text("cpu").as_deref(), Some("550m"));
    assert_eq!(text("requests.memory").as_deref(), Some("128Mi"));
    assert_eq!(text("limits.cpu").as_deref(), Some("1"));
    assert_eq!(text("limits.memory").as_deref(), Some("1Gi"));
    assert_eq!(text("pods").as_deref(), Some("2"));
    assert_eq!(text("count/pods").as_deref(), Some("2"));
}

#[test]
fn object_counts_storage_and_unknown_resources() {
    let claim = |class: &str, size: &str| -> Arc<PersistentVolumeClaim> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "c", "namespace": "default"},
                "spec": {"storageClassName": class, "resources": {"requests": {"storage": size}}},
            }))
            .expect("claim"),
        )
    };
    let ns = Namespace {
        claims: vec![claim("fast", "1Gi"), claim("slow", "2Gi")],
        counts: BTreeMap::from([
            ("configmaps".to_string(), 3),
            ("deployments.apps".to_string(), 1),
        ]),
        ..Default::default()
    };
    let text = |r: &str| usage(&ns, r).map(|q| q.canonical());
    assert_eq!(text("configmaps").as_deref(), Some("3"));
    assert_eq!(text("count/configmaps").as_deref(), Some("3"));
    assert_eq!(text("count/deployments.apps").as_deref(), Some("1"));
    assert_eq!(text("persistentvolumeclaims").as_deref(), Some("2"));
    assert_eq!(text("requests.storage").as_deref(), Some("3Gi"));
    assert_eq!(
        text("fast.storageclass.storage.k8s.io/requests.storage").as_deref(),
        Some("1Gi")
    );
    assert_eq!(
        text("slow.storageclass.storage.k8s.io/persistentvolumeclaims").as_deref(),
        Some("1")
    );
    assert_eq!(text("count/widgets.example.com"), None);
}

#[test]
fn scopes_select_the_pods_a_quota_counts() {
    let spec =
        |v: serde_json::Value| -> ResourceQuotaSpec { serde_json::from_value(v).expect("spec") };
    let best_effort = pod(json!([{"name": "c", "image": "i"}]), json!([]));
    let burstable = pod(
        json!([container(json!({"cpu": "100m"}), json!({}))]),
        json!([]),
    );
    let mut deadline = (*burstable).clone();
    deadline
        .spec
        .as_mut()
        .expect("spec")
        .active_deadline_seconds = Some(60);
    deadline.spec.as_mut().expect("spec").priority_class_name = Some("high".into());
    let scoped = |v: serde_json::Value| {
        let s = spec(v);
        [&best_effort, &burstable, &Arc::new(deadline.clone())]
            .iter()
            .map(|p| in_scope(&s, p))
            .collect::<Vec<bool>>()
    };
    assert_eq!(scoped(json!({})), [true, true, true]);
    assert_eq!(
        scoped(json!({"scopes": ["BestEffort"]})),
        [true, false, false]
    );
    assert_eq!(
        scoped(json!({"scopes": ["NotBestEffort", "NotTerminating"]})),
        [false, true, false]
    );
    assert_eq!(
        scoped(json!({"scopes": ["Terminating"]})),
        [false, false, true]
    );
    assert_eq!(
        scoped(json!({"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}})),
        [false, false, true]
    );
}
