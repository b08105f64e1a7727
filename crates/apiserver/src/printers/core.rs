//! Printers of the small core and coordination kinds: Namespace, ConfigMap, Secret,
//! ServiceAccount and Lease.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, NAME, Printer, col, doc,
    format::{age, count, name, str_at},
    text,
};

const CONFIGMAP: &str = "io.k8s.api.core.v1.ConfigMap";
const SECRET: &str = "io.k8s.api.core.v1.Secret";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Namespace",
        columns: &[
            NAME,
            col("Status", "string", text("The status of the namespace")),
            AGE,
        ],
        cells: namespace,
    },
    Printer {
        group: "",
        kind: "ConfigMap",
        columns: &[NAME, col("Data", "string", doc(CONFIGMAP, "data")), AGE],
        cells: configmap,
    },
    Printer {
        group: "",
        kind: "Secret",
        columns: &[
            NAME,
            col("Type", "string", doc(SECRET, "type")),
            col("Data", "string", doc(SECRET, "data")),
            AGE,
        ],
        cells: secret,
    },
    Printer {
        group: "",
        kind: "ServiceAccount",
        columns: &[
            NAME,
            col(
                "Secrets",
                "string",
                doc("io.k8s.api.core.v1.ServiceAccount", "secrets"),
            ),
            AGE,
        ],
        cells: service_account,
    },
    Printer {
        group: "coordination.k8s.io",
        kind: "Lease",
        columns: &[
            NAME,
            col(
                "Holder",
                "string",
                doc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity"),
            ),
            AGE,
        ],
        cells: lease,
    },
];

fn namespace(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, "/status/phase")),
        age(obj, now),
    ]
}

fn configmap(obj: &Value, now: Timestamp) -> Vec<Value> {
    let data = count(obj, "/data") + count(obj, "/binaryData");
    vec![name(obj), json!(data), age(obj, now)]
}

fn secret(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, "/type")),
        json!(count(obj, "/data")),
        age(obj, now),
    ]
}

fn service_account(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(obj), json!(count(obj, "/secrets")), age(obj, now)]
}

fn lease(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, "/spec/holderIdentity")),
        age(obj, now),
    ]
}
