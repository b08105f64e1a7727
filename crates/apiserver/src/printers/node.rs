//! The Node printer: readiness and cordoning, roles from labels, versions and addresses.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, NAME, Printer, col, doc,
    format::{age, array_at, bool_at, name, or_none, str_at},
    text, wide,
};

const NODE_INFO: &str = "io.k8s.api.core.v1.NodeSystemInfo";
const NODE_STATUS: &str = "io.k8s.api.core.v1.NodeStatus";

/// The label prefix of node roles, `node-role.kubernetes.io/<role>`.
const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The label naming a node's role, `kubernetes.io/role=<role>`.
const ROLE_LABEL: &str = "kubernetes.io/role";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[Printer {
    group: "",
    kind: "Node",
    columns: &[
        NAME,
        col("Status", "string", text("The status of the node")),
        col("Roles", "string", text("The roles of the node")),
        AGE,
        col("Version", "string", doc(NODE_INFO, "kubeletVersion")),
        wide("Internal-IP", "string", doc(NODE_STATUS, "addresses")),
        wide("External-IP", "string", doc(NODE_STATUS, "addresses")),
        wide("OS-Image", "string", doc(NODE_INFO, "osImage")),
        wide("Kernel-Version", "string", doc(NODE_INFO, "kernelVersion")),
        wide(
            "Container-Runtime",
            "string",
            doc(NODE_INFO, "containerRuntimeVersion"),
        ),
    ],
    cells: node,
}];

/// The row of upstream's `printNode`.
fn node(obj: &Value, now: Timestamp) -> Vec<Value> {
    let roles: Vec<&str> = roles(obj).into_iter().collect();
    let info = |field: &str| match str_at(obj, &format!("/status/nodeInfo/{field}")) {
        "" => "<unknown>",
        value => value,
    };
    vec![
        name(obj),
        json!(status(obj)),
        json!(or_none(roles.join(","))),
        age(obj, now),
        json!(str_at(obj, "/status/nodeInfo/kubeletVersion")),
        json!(address(obj, "InternalIP")),
        json!(address(obj, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// `Ready`, `NotReady` or `Unknown` from the Ready condition (the last one listed wins, as
/// in upstream's map), then `SchedulingDisabled` for a cordoned node.
fn status(node: &Value) -> String {
    let ready = array_at(node, "/status/conditions")
        .iter()
        .rfind(|c| str_at(c, "/type") == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, "/status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(node, "/spec/unschedulable", false) {
        status.push("SchedulingDisabled");
    }
    status.join(",")
}

/// The roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role=<role>` labels,
/// sorted.
fn roles(node: &Value) -> BTreeSet<&str> {
    node.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match key.strip_prefix(ROLE_PREFIX) {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if key == ROLE_LABEL => value.as_str().filter(|v| !v.is_empty()),
            None => None,
        })
        .collect()
}

/// The first address of a type, `<none>` if there is none.
fn address<'a>(node: &'a Value, type_: &str) -> &'a str {
    array_at(node, "/status/addresses")
        .iter()
        .find(|a| str_at(a, "/type") == type_)
        .map(|a| str_at(a, "/address"))
        .unwrap_or("<none>")
}
