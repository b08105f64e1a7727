//! Printers of the workload controllers: Deployment, ReplicaSet, ReplicationController,
//! StatefulSet, DaemonSet and ControllerRevision.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, CONTAINERS, IMAGES, NAME, Printer, col, doc,
    format::{
        age, containers, controller_of, format_label_selector, format_labels, group_of, int_at,
        name, selector_string, str_at,
    },
    text, wide,
};

const RC_SPEC: &str = "io.k8s.api.core.v1.ReplicationControllerSpec";
const RC_STATUS: &str = "io.k8s.api.core.v1.ReplicationControllerStatus";
const RS_SPEC: &str = "io.k8s.api.apps.v1.ReplicaSetSpec";
const RS_STATUS: &str = "io.k8s.api.apps.v1.ReplicaSetStatus";
const DS_SPEC: &str = "io.k8s.api.apps.v1.DaemonSetSpec";
const DS_STATUS: &str = "io.k8s.api.apps.v1.DaemonSetStatus";
const DEPLOYMENT_SPEC: &str = "io.k8s.api.apps.v1.DeploymentSpec";
const DEPLOYMENT_STATUS: &str = "io.k8s.api.apps.v1.DeploymentStatus";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "apps",
        kind: "Deployment",
        columns: &[
            NAME,
            col(
                "Ready",
                "string",
                text("Number of the pod with ready state"),
            ),
            col(
                "Up-to-date",
                "string",
                doc(DEPLOYMENT_STATUS, "updatedReplicas"),
            ),
            col(
                "Available",
                "string",
                doc(DEPLOYMENT_STATUS, "availableReplicas"),
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", doc(DEPLOYMENT_SPEC, "selector")),
        ],
        cells: deployment,
    },
    Printer {
        group: "apps",
        kind: "ReplicaSet",
        columns: &[
            NAME,
            col("Desired", "integer", doc(RS_SPEC, "replicas")),
            col("Current", "integer", doc(RS_STATUS, "replicas")),
            col("Ready", "integer", doc(RS_STATUS, "readyReplicas")),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", doc(RS_SPEC, "selector")),
        ],
        cells: replica_set,
    },
    Printer {
        group: "",
        kind: "ReplicationController",
        columns: &[
            NAME,
            col("Desired", "integer", doc(RC_SPEC, "replicas")),
            col("Current", "integer", doc(RC_STATUS, "replicas")),
            col("Ready", "integer", doc(RC_STATUS, "readyReplicas")),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", doc(RC_SPEC, "selector")),
        ],
        cells: replication_controller,
    },
    Printer {
        group: "apps",
        kind: "StatefulSet",
        columns: &[
            NAME,
            col(
                "Ready",
                "string",
                text("Number of the pod with ready state"),
            ),
            AGE,
            CONTAINERS,
            IMAGES,
        ],
        cells: stateful_set,
    },
    Printer {
        group: "apps",
        kind: "DaemonSet",
        columns: &[
            NAME,
            col(
                "Desired",
                "integer",
                doc(DS_STATUS, "desiredNumberScheduled"),
            ),
            col(
                "Current",
                "integer",
                doc(DS_STATUS, "currentNumberScheduled"),
            ),
            col("Ready", "integer", doc(DS_STATUS, "numberReady")),
            col(
                "Up-to-date",
                "integer",
                doc(DS_STATUS, "updatedNumberScheduled"),
            ),
            col("Available", "integer", doc(DS_STATUS, "numberAvailable")),
            col(
                "Node Selector",
                "string",
                doc("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", doc(DS_SPEC, "selector")),
        ],
        cells: daemon_set,
    },
    Printer {
        group: "apps",
        kind: "ControllerRevision",
        columns: &[
            NAME,
            col("Controller", "string", text("Controller of the object")),
            col(
                "Revision",
                "string",
                doc("io.k8s.api.apps.v1.ControllerRevision", "revision"),
            ),
            AGE,
        ],
        cells: controller_revision,
    },
];

/// The row of upstream's `printDeployment`.
fn deployment(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj.pointer("/spec/template/spec"));
    let selector =
        selector_string(obj.pointer("/spec/selector")).unwrap_or_else(|| "<invalid>".to_string());
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int_at(obj, "/status/readyReplicas"),
            int_at(obj, "/spec/replicas")
        )),
        json!(int_at(obj, "/status/updatedReplicas")),
        json!(int_at(obj, "/status/availableReplicas")),
        age(obj, now),
        names,
        images,
        json!(selector),
    ]
}

/// The row of upstream's `printReplicaSet`.
fn replica_set(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj.pointer("/spec/template/spec"));
    vec![
        name(obj),
        json!(int_at(obj, "/spec/replicas")),
        json!(int_at(obj, "/status/replicas")),
        json!(int_at(obj, "/status/readyReplicas")),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(obj.pointer("/spec/selector"))),
    ]
}

/// The row of upstream's `printReplicationController` (its selector is a plain label map).
fn replication_controller(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj.pointer("/spec/template/spec"));
    vec![
        name(obj),
        json!(int_at(obj, "/spec/replicas")),
        json!(int_at(obj, "/status/replicas")),
        json!(int_at(obj, "/status/readyReplicas")),
        age(obj, now),
        names,
        images,
        json!(format_labels(obj.pointer("/spec/selector"))),
    ]
}

/// The row of upstream's `printStatefulSet`.
fn stateful_set(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj.pointer("/spec/template/spec"));
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            int_at(obj, "/status/readyReplicas"),
            int_at(obj, "/spec/replicas")
        )),
        age(obj, now),
        names,
        images,
    ]
}

/// The row of upstream's `printDaemonSet`.
fn daemon_set(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj.pointer("/spec/template/spec"));
    vec![
        name(obj),
        json!(int_at(obj, "/status/desiredNumberScheduled")),
        json!(int_at(obj, "/status/currentNumberScheduled")),
        json!(int_at(obj, "/status/numberReady")),
        json!(int_at(obj, "/status/updatedNumberScheduled")),
        json!(int_at(obj, "/status/numberAvailable")),
        json!(format_labels(
            obj.pointer("/spec/template/spec/nodeSelector")
        )),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(obj.pointer("/spec/selector"))),
    ]
}

/// The row of upstream's `printControllerRevision`: the controller as `kind.group/name`.
fn controller_revision(obj: &Value, now: Timestamp) -> Vec<Value> {
    let controller = match controller_of(obj) {
        None => "<none>".to_string(),
        Some(owner) => {
            let kind = str_at(owner, "/kind");
            let group = group_of(str_at(owner, "/apiVersion"));
            let owner_name = str_at(owner, "/name");
            match (group, kind) {
                ("", "") => owner_name.to_string(),
                ("", kind) => format!("{}/{owner_name}", kind.to_lowercase()),
                (group, kind) => {
                    format!("{}/{owner_name}", format!("{kind}.{group}").to_lowercase())
                }
            }
        }
    };
    vec![
        name(obj),
        json!(controller),
        json!(int_at(obj, "/revision")),
        age(obj, now),
    ]
}
