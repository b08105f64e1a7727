//! Printers of RoleBindings and ClusterRoleBindings (Roles and ClusterRoles have none
//! upstream, so they get the default NAME / CREATED AT table).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, Column, NAME, Printer, col, doc,
    format::{age, array_at, name, str_at},
    text, wide,
};

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "RoleBinding",
        columns: &[
            NAME,
            col(
                "Role",
                "string",
                doc("io.k8s.api.rbac.v1.RoleBinding", "roleRef"),
            ),
            AGE,
            wide("Users", "string", text("Users in the roleBinding")),
            wide("Groups", "string", text("Groups in the roleBinding")),
            wide(
                "ServiceAccounts",
                "string",
                text("ServiceAccounts in the roleBinding"),
            ),
        ],
        cells: binding,
    },
    Printer {
        group: "rbac.authorization.k8s.io",
        kind: "ClusterRoleBinding",
        columns: CLUSTER_ROLE_BINDING,
        cells: binding,
    },
];

const CLUSTER_ROLE_BINDING: &[Column] = &[
    NAME,
    col(
        "Role",
        "string",
        doc("io.k8s.api.rbac.v1.ClusterRoleBinding", "roleRef"),
    ),
    AGE,
    wide("Users", "string", text("Users in the clusterRoleBinding")),
    wide("Groups", "string", text("Groups in the clusterRoleBinding")),
    wide(
        "ServiceAccounts",
        "string",
        text("ServiceAccounts in the clusterRoleBinding"),
    ),
];

/// The row of upstream's `printRoleBinding` and `printClusterRoleBinding`: the role as
/// `Kind/name` and the subjects by kind (service accounts as `namespace/name`).
fn binding(obj: &Value, now: Timestamp) -> Vec<Value> {
    let subjects = array_at(obj, "/subjects");
    let of_kind = |kind: &str| -> Vec<String> {
        subjects
            .iter()
            .filter(|s| str_at(s, "/kind") == kind)
            .map(|s| match kind {
                "ServiceAccount" => {
                    format!("{}/{}", str_at(s, "/namespace"), str_at(s, "/name"))
                }
                _ => str_at(s, "/name").to_string(),
            })
            .collect()
    };
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            str_at(obj, "/roleRef/kind"),
            str_at(obj, "/roleRef/name")
        )),
        age(obj, now),
        json!(of_kind("User").join(", ")),
        json!(of_kind("Group").join(", ")),
        json!(of_kind("ServiceAccount").join(", ")),
    ]
}
