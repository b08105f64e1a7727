//! Printers of the storage kinds: PersistentVolume, PersistentVolumeClaim, StorageClass,
//! CSIDriver, CSINode, VolumeAttachment and CSIStorageCapacity.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, NAME, Printer, col, doc,
    format::{age, array_at, bool_at, count, has, name, or_none, quantity, str_at},
    text, wide,
};

const PV_SPEC: &str = "io.k8s.api.core.v1.PersistentVolumeSpec";
const PV_STATUS: &str = "io.k8s.api.core.v1.PersistentVolumeStatus";
const PVC_SPEC: &str = "io.k8s.api.core.v1.PersistentVolumeClaimSpec";
const PVC_STATUS: &str = "io.k8s.api.core.v1.PersistentVolumeClaimStatus";
const STORAGE_CLASS: &str = "io.k8s.api.storage.v1.StorageClass";
const CSI_DRIVER_SPEC: &str = "io.k8s.api.storage.v1.CSIDriverSpec";
const ATTACHMENT_SPEC: &str = "io.k8s.api.storage.v1.VolumeAttachmentSpec";
const CAPACITY: &str = "io.k8s.api.storage.v1.CSIStorageCapacity";

/// The annotation that overrides a volume's or claim's storage class.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "PersistentVolume",
        columns: &[
            NAME,
            col("Capacity", "string", doc(PV_SPEC, "capacity")),
            col("Access Modes", "string", doc(PV_SPEC, "accessModes")),
            col(
                "Reclaim Policy",
                "string",
                doc(PV_SPEC, "persistentVolumeReclaimPolicy"),
            ),
            col("Status", "string", doc(PV_STATUS, "phase")),
            col("Claim", "string", doc(PV_SPEC, "claimRef")),
            col("StorageClass", "string", text("StorageClass of the pv")),
            col(
                "VolumeAttributesClass",
                "string",
                text("VolumeAttributesClass of the pv"),
            ),
            col("Reason", "string", doc(PV_STATUS, "reason")),
            AGE,
            wide("VolumeMode", "string", doc(PV_SPEC, "volumeMode")),
        ],
        cells: persistent_volume,
    },
    Printer {
        group: "",
        kind: "PersistentVolumeClaim",
        columns: &[
            NAME,
            col("Status", "string", doc(PVC_STATUS, "phase")),
            col("Volume", "string", doc(PVC_SPEC, "volumeName")),
            col("Capacity", "string", doc(PVC_STATUS, "capacity")),
            col("Access Modes", "string", doc(PVC_STATUS, "accessModes")),
            col("StorageClass", "string", text("StorageClass of the pvc")),
            col(
                "VolumeAttributesClass",
                "string",
                text("VolumeAttributesClass of the pvc"),
            ),
            AGE,
            wide("VolumeMode", "string", doc(PVC_SPEC, "volumeMode")),
        ],
        cells: persistent_volume_claim,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "StorageClass",
        columns: &[
            NAME,
            col("Provisioner", "string", doc(STORAGE_CLASS, "provisioner")),
            col(
                "ReclaimPolicy",
                "string",
                doc(STORAGE_CLASS, "reclaimPolicy"),
            ),
            col(
                "VolumeBindingMode",
                "string",
                doc(STORAGE_CLASS, "volumeBindingMode"),
            ),
            col(
                "AllowVolumeExpansion",
                "string",
                doc(STORAGE_CLASS, "allowVolumeExpansion"),
            ),
            AGE,
        ],
        cells: storage_class,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSIDriver",
        columns: &[
            NAME,
            col(
                "AttachRequired",
                "boolean",
                doc(CSI_DRIVER_SPEC, "attachRequired"),
            ),
            col(
                "PodInfoOnMount",
                "boolean",
                doc(CSI_DRIVER_SPEC, "podInfoOnMount"),
            ),
            col(
                "StorageCapacity",
                "boolean",
                doc(CSI_DRIVER_SPEC, "storageCapacity"),
            ),
            col(
                "TokenRequests",
                "string",
                doc(CSI_DRIVER_SPEC, "tokenRequests"),
            ),
            col(
                "RequiresRepublish",
                "boolean",
                doc(CSI_DRIVER_SPEC, "requiresRepublish"),
            ),
            col(
                "Modes",
                "string",
                doc(CSI_DRIVER_SPEC, "volumeLifecycleModes"),
            ),
            AGE,
        ],
        cells: csi_driver,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSINode",
        columns: &[
            NAME,
            col(
                "Drivers",
                "integer",
                text("Drivers indicates the number of CSI drivers registered on the node"),
            ),
            AGE,
        ],
        cells: csi_node,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "VolumeAttachment",
        columns: &[
            NAME,
            super::Column {
                format: "name",
                ..col("Attacher", "string", doc(ATTACHMENT_SPEC, "attacher"))
            },
            col(
                "PV",
                "string",
                doc(
                    "io.k8s.api.storage.v1.VolumeAttachmentSource",
                    "persistentVolumeName",
                ),
            ),
            col("Node", "string", doc(ATTACHMENT_SPEC, "nodeName")),
            col(
                "Attached",
                "boolean",
                doc("io.k8s.api.storage.v1.VolumeAttachmentStatus", "attached"),
            ),
            AGE,
        ],
        cells: volume_attachment,
    },
    Printer {
        group: "storage.k8s.io",
        kind: "CSIStorageCapacity",
        columns: &[
            NAME,
            col(
                "StorageClassName",
                "string",
                doc(CAPACITY, "storageClassName"),
            ),
            col("Capacity", "string", doc(CAPACITY, "capacity")),
        ],
        cells: csi_storage_capacity,
    },
];

/// Upstream's `GetAccessModesAsString`: `RWO,ROX,RWX,RWOP`, in that order, each once.
fn access_modes(modes: &[Value]) -> String {
    let has_mode = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has_mode(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class of a volume or claim: the beta annotation, else `spec.storageClassName`.
fn storage_class_of(obj: &Value) -> &str {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(BETA_STORAGE_CLASS))
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(obj, "/spec/storageClassName"))
}

/// The phase, or `Terminating` once deletion started.
fn phase(obj: &Value) -> &str {
    if has(obj, "/metadata/deletionTimestamp") {
        "Terminating"
    } else {
        str_at(obj, "/status/phase")
    }
}

/// A string field, `<unset>` when missing.
fn or_unset<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
}

/// The row of upstream's `printPersistentVolume`.
fn persistent_volume(obj: &Value, now: Timestamp) -> Vec<Value> {
    let claim = if has(obj, "/spec/claimRef") {
        format!(
            "{}/{}",
            str_at(obj, "/spec/claimRef/namespace"),
            str_at(obj, "/spec/claimRef/name")
        )
    } else {
        String::new()
    };
    vec![
        name(obj),
        json!(quantity(obj.pointer("/spec/capacity/storage"))),
        json!(access_modes(array_at(obj, "/spec/accessModes"))),
        json!(str_at(obj, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase(obj)),
        json!(claim),
        json!(storage_class_of(obj)),
        json!(or_unset(obj, "/spec/volumeAttributesClassName")),
        json!(str_at(obj, "/status/reason")),
        age(obj, now),
        json!(or_unset(obj, "/spec/volumeMode")),
    ]
}

/// The row of upstream's `printPersistentVolumeClaim`: capacity and access modes only once
/// bound to a volume.
fn persistent_volume_claim(obj: &Value, now: Timestamp) -> Vec<Value> {
    let volume = str_at(obj, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(obj.pointer("/status/capacity/storage")),
            access_modes(array_at(obj, "/status/accessModes")),
        )
    };
    vec![
        name(obj),
        json!(phase(obj)),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(storage_class_of(obj)),
        json!(or_unset(obj, "/spec/volumeAttributesClassName")),
        age(obj, now),
        json!(or_unset(obj, "/spec/volumeMode")),
    ]
}

/// Whether a StorageClass is marked as the default one.
fn is_default_class(obj: &Value) -> bool {
    let annotations = obj.pointer("/metadata/annotations");
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| {
        annotations
            .and_then(|a| a.get(*key))
            .and_then(Value::as_str)
            == Some("true")
    })
}

/// The row of upstream's `printStorageClass`: the default class's name ends `(default)`.
fn storage_class(obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut class = str_at(obj, "/metadata/name").to_string();
    if is_default_class(obj) {
        class.push_str(" (default)");
    }
    let or = |pointer: &str, default: &'static str| match str_at(obj, pointer) {
        "" => default.to_string(),
        value => value.to_string(),
    };
    vec![
        json!(class),
        json!(str_at(obj, "/provisioner")),
        json!(or("/reclaimPolicy", "Delete")),
        json!(or("/volumeBindingMode", "Immediate")),
        json!(bool_at(obj, "/allowVolumeExpansion", false)),
        age(obj, now),
    ]
}

/// The row of upstream's `printCSIDriver`.
fn csi_driver(obj: &Value, now: Timestamp) -> Vec<Value> {
    let modes: Vec<&str> = array_at(obj, "/spec/volumeLifecycleModes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let tokens = match obj.pointer("/spec/tokenRequests").and_then(Value::as_array) {
        None => "<unset>".to_string(),
        Some(requests) => requests
            .iter()
            .map(|t| str_at(t, "/audience"))
            .collect::<Vec<_>>()
            .join(","),
    };
    vec![
        name(obj),
        json!(bool_at(obj, "/spec/attachRequired", true)),
        json!(bool_at(obj, "/spec/podInfoOnMount", false)),
        json!(bool_at(obj, "/spec/storageCapacity", false)),
        json!(tokens),
        json!(bool_at(obj, "/spec/requiresRepublish", false)),
        json!(or_none(modes.join(","))),
        age(obj, now),
    ]
}

/// The row of upstream's `printCSINode`.
fn csi_node(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(obj), json!(count(obj, "/spec/drivers")), age(obj, now)]
}

/// The row of upstream's `printVolumeAttachment`.
fn volume_attachment(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        json!(str_at(obj, "/spec/attacher")),
        json!(str_at(obj, "/spec/source/persistentVolumeName")),
        json!(str_at(obj, "/spec/nodeName")),
        json!(bool_at(obj, "/status/attached", false)),
        age(obj, now),
    ]
}

/// The row of upstream's `printCSIStorageCapacity`.
fn csi_storage_capacity(obj: &Value, _now: Timestamp) -> Vec<Value> {
    let capacity = if has(obj, "/capacity") {
        quantity(obj.pointer("/capacity"))
    } else {
        "<unset>".to_string()
    };
    vec![
        name(obj),
        json!(str_at(obj, "/storageClassName")),
        json!(capacity),
    ]
}
