//! What a new cluster starts with: the four default namespaces, the `kubernetes` service and
//! the bootstrap RBAC roles and bindings. Existing objects are left alone, so a restart
//! keeps whatever the user changed.

use apimachinery::{resources, status::ApiError};
use serde_json::{Value, json};

use crate::registry::generic::{GenericStore, WriteOptions};

/// The namespaces every cluster has.
pub const NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn objects() -> Vec<(&'static str, &'static str, Value)> {
    let mut out: Vec<(&str, &str, Value)> = NAMESPACES
        .iter()
        .map(|ns| ("", "namespaces", json!({"metadata": {"name": ns}})))
        .collect();
    let rbac = "rbac.authorization.k8s.io";
    let bootstrap = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    out.push((
        rbac,
        "clusterroles",
        json!({
            "metadata": {"name": "cluster-admin", "labels": bootstrap},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                {"nonResourceURLs": ["*"], "verbs": ["*"]},
            ],
        }),
    ));
    out.push((
        rbac,
        "clusterrolebindings",
        json!({
            "metadata": {"name": "cluster-admin", "labels": bootstrap},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": rbac, "kind": "Group", "name": "system:masters"}],
        }),
    ));
    out.push((rbac, "clusterroles", json!({
        "metadata": {"name": "system:discovery", "labels": bootstrap},
        "rules": [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
            "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}],
    })));
    out.push((
        rbac,
        "clusterrolebindings",
        json!({
            "metadata": {"name": "system:discovery", "labels": bootstrap},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "system:discovery"},
            "subjects": [{"apiGroup": rbac, "kind": "Group", "name": "system:authenticated"}],
        }),
    ));
    let read = json!(["get", "list", "watch"]);
    let write = json!([
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch"
    ]);
    let workloads = json!([
        {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/log",
            "services", "endpoints", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers",
            "replicationcontrollers/scale", "serviceaccounts", "events"], "verbs": write},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale", "replicasets", "replicasets/scale",
            "statefulsets", "statefulsets/scale", "daemonsets"], "verbs": write},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": write},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": write},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": write},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": write},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        {"apiGroups": [""], "resources": ["namespaces", "limitranges", "resourcequotas"], "verbs": read},
    ]);
    out.push((
        rbac,
        "clusterroles",
        json!({
            "metadata": {"name": "edit", "labels": bootstrap},
            "rules": workloads,
        }),
    ));
    let mut admin_rules = workloads.as_array().cloned().unwrap_or_default();
    admin_rules
        .push(json!({"apiGroups": [rbac], "resources": ["roles", "rolebindings"], "verbs": write}));
    out.push((
        rbac,
        "clusterroles",
        json!({
            "metadata": {"name": "admin", "labels": bootstrap},
            "rules": admin_rules,
        }),
    ));
    out.push((rbac, "clusterroles", json!({
        "metadata": {"name": "view", "labels": bootstrap},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "endpoints", "configmaps",
                "persistentvolumeclaims", "replicationcontrollers", "serviceaccounts", "events",
                "namespaces", "limitranges", "resourcequotas"], "verbs": read},
            {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"], "verbs": read},
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": read},
            {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": read},
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": read},
            {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        ],
    })));
    out
}

/// Creates every bootstrap object that does not exist yet.
pub async fn run(store: &GenericStore) -> Result<(), ApiError> {
    let opts = WriteOptions {
        field_manager: "rudder-bootstrap".to_string(),
        ..WriteOptions::default()
    };
    for (group, plural, obj) in objects() {
        let info = resources::find(group, "v1", plural).expect("bootstrap kinds are served");
        match store.create(info, None, obj, &opts).await {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
