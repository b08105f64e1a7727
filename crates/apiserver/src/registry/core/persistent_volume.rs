//! PersistentVolumes: reclaim policy `Retain` and volume mode `Filesystem` by default, a
//! `Pending` status on create, exactly one volume source, a storage capacity, and a source that
//! is immutable after creation (upstream `ValidatePersistentVolume[Update]`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus, SecretReference,
};
use serde_json::Value;

use super::{
    persistent_volume_claim::{VOLUME_MODES, validate_access_modes, validate_positive_quantity},
    pod_spec,
};
use crate::registry::{
    Strategy,
    common::{
        self, canonicalize_resources, default_str, go_diff, invalid_raw, is_empty, str_of, to_json,
    },
};

/// The strategy of `persistentvolumes`.
pub struct PersistentVolumeStrategy;

const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];

/// The spec fields that hold the volume source (upstream's `PersistentVolumeSource`).
const SOURCE_FIELDS: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

fn sources(spec: &PersistentVolumeSpec) -> Vec<(&'static str, bool)> {
    vec![
        ("hostPath", spec.host_path.is_some()),
        ("gcePersistentDisk", spec.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            spec.aws_elastic_block_store.is_some(),
        ),
        ("glusterfs", spec.glusterfs.is_some()),
        ("flocker", spec.flocker.is_some()),
        ("nfs", spec.nfs.is_some()),
        ("rbd", spec.rbd.is_some()),
        ("quobyte", spec.quobyte.is_some()),
        ("cephFS", spec.cephfs.is_some()),
        ("iscsi", spec.iscsi.is_some()),
        ("cinder", spec.cinder.is_some()),
        ("fc", spec.fc.is_some()),
        ("flexVolume", spec.flex_volume.is_some()),
        ("azureFile", spec.azure_file.is_some()),
        ("vsphereVolume", spec.vsphere_volume.is_some()),
        (
            "photonPersistentDisk",
            spec.photon_persistent_disk.is_some(),
        ),
        ("portworxVolume", spec.portworx_volume.is_some()),
        ("azureDisk", spec.azure_disk.is_some()),
        ("scaleIO", spec.scale_io.is_some()),
        ("local", spec.local.is_some()),
        ("storageos", spec.storageos.is_some()),
        ("csi", spec.csi.is_some()),
    ]
}

fn validate_secret_reference(r: &SecretReference, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let name = str_of(&r.name);
    if name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    } else {
        errors.extend(common::dns_subdomain(name, &path.child("name")));
    }
    let ns = str_of(&r.namespace);
    if ns.is_empty() {
        errors.push(FieldError::required(&path.child("namespace"), ""));
    } else {
        errors.extend(common::dns_label(ns, &path.child("namespace")));
    }
    errors
}

fn validate_spec(spec: &PersistentVolumeSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        errors.push(FieldError::required(&path.child("accessModes"), ""));
    }
    errors.extend(validate_access_modes(modes, &path.child("accessModes")));
    let cap_path = path.child("capacity");
    let capacity = spec.capacity.clone().unwrap_or_default();
    if capacity.is_empty() {
        errors.push(FieldError::required(&cap_path, ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        let rendered = if spec.capacity.is_none() {
            "core.ResourceList(nil)".to_string()
        } else {
            format!("core.ResourceList{}", common::go_value(&capacity))
        };
        errors.push(common::not_supported_raw(
            &cap_path,
            &rendered,
            &["storage"],
        ));
    }
    for (name, q) in &capacity {
        let p = cap_path.key(name);
        match common::parse_quantity(q) {
            Err(e) => errors.push(FieldError::invalid(&p, q.0.as_str(), e.to_string())),
            Ok(parsed) => {
                if parsed.is_negative() {
                    errors.push(FieldError::invalid(
                        &p,
                        parsed.value() as i64,
                        "must be a valid resource quantity",
                    ));
                }
                errors.extend(validate_positive_quantity(&parsed, &p));
            }
        }
    }
    let policy = str_of(&spec.persistent_volume_reclaim_policy);
    if !policy.is_empty() && !RECLAIM_POLICIES.contains(&policy) {
        errors.push(FieldError::not_supported(
            &path.child("persistentVolumeReclaimPolicy"),
            policy,
            RECLAIM_POLICIES,
        ));
    }
    let mut node_affinity = false;
    if let Some(na) = &spec.node_affinity {
        node_affinity = true;
        match &na.required {
            Some(required) => errors.extend(pod_spec::validate_node_selector(
                required,
                &path.child("nodeAffinity").child("required"),
            )),
            None => errors.push(FieldError::required(
                &path.child("nodeAffinity").child("required"),
                "must specify required node constraints",
            )),
        }
    }
    let mut count = 0;
    for (name, set) in sources(spec) {
        if !set {
            continue;
        }
        if count > 0 && name != "flexVolume" {
            errors.push(FieldError::forbidden(
                &path.child(name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match name {
            "hostPath" => {
                let h = spec.host_path.as_ref().expect("set");
                let p = path.child("hostPath");
                if h.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                } else {
                    if h.path.replace('\\', "/").split('/').any(|s| s == "..") {
                        errors.push(FieldError::invalid(
                            &p.child("path"),
                            h.path.as_str(),
                            "must not contain '..'",
                        ));
                    }
                    errors.extend(pod_spec::validate_host_path_type(
                        h.type_.as_deref(),
                        &p.child("type"),
                    ));
                }
            }
            "nfs" => {
                let n = spec.nfs.as_ref().expect("set");
                let p = path.child("nfs");
                if n.server.is_empty() {
                    errors.push(FieldError::required(&p.child("server"), ""));
                }
                if n.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                }
                if !n.path.starts_with('/') {
                    errors.push(FieldError::invalid(
                        &p.child("path"),
                        n.path.as_str(),
                        "must be an absolute path",
                    ));
                }
            }
            "local" => {
                let l = spec.local.as_ref().expect("set");
                let p = path.child("local");
                if l.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                } else if l.path.replace('\\', "/").split('/').any(|s| s == "..") {
                    errors.push(FieldError::invalid(
                        &p.child("path"),
                        l.path.as_str(),
                        "must not contain '..'",
                    ));
                }
                if !node_affinity {
                    errors.push(FieldError::required(
                        &path.child("nodeAffinity"),
                        "Local volume requires node affinity",
                    ));
                }
            }
            "csi" => {
                let c = spec.csi.as_ref().expect("set");
                let p = path.child("csi");
                errors.extend(pod_spec::validate_csi_driver_name(
                    &c.driver,
                    &p.child("driver"),
                ));
                if c.volume_handle.is_empty() {
                    errors.push(FieldError::required(&p.child("volumeHandle"), ""));
                }
                for (field, r) in [
                    (
                        "controllerPublishSecretRef",
                        &c.controller_publish_secret_ref,
                    ),
                    ("controllerExpandSecretRef", &c.controller_expand_secret_ref),
                    ("nodePublishSecretRef", &c.node_publish_secret_ref),
                    ("nodeExpandSecretRef", &c.node_expand_secret_ref),
                ] {
                    if let Some(r) = r {
                        errors.extend(validate_secret_reference(r, &p.child(field)));
                    }
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a volume type"));
    }
    if spec
        .host_path
        .as_ref()
        .is_some_and(|h| h.path.trim_end_matches('/').is_empty() && h.path.starts_with('/'))
        && policy == "Recycle"
    {
        errors.push(FieldError::forbidden(
            &path.child("persistentVolumeReclaimPolicy"),
            "may not be 'recycle' for a hostPath mount of '/'",
        ));
    }
    let class = str_of(&spec.storage_class_name);
    if !class.is_empty() {
        errors.extend(common::dns_subdomain(
            class,
            &path.child("storageClassName"),
        ));
    }
    if let Some(mode) = spec.volume_mode.as_deref()
        && !VOLUME_MODES.contains(&mode)
    {
        errors.push(FieldError::not_supported(
            &path.child("volumeMode"),
            mode,
            VOLUME_MODES,
        ));
    }
    if let Some(vac) = spec.volume_attributes_class_name.as_deref() {
        if vac.is_empty() {
            errors.push(FieldError::required(
                &path.child("volumeAttributesClassName"),
                "an empty string is disallowed",
            ));
        } else {
            errors.extend(common::dns_subdomain(
                vac,
                &path.child("volumeAttributesClassName"),
            ));
        }
        if spec.csi.is_none() {
            errors.push(FieldError::required(
                &path.child("csi"),
                "has to be specified when using volumeAttributesClassName",
            ));
        }
    }
    errors
}

/// The volume source of a spec as JSON, for the immutability check.
fn source_json(spec: &PersistentVolumeSpec) -> Value {
    let all = to_json(spec);
    let mut out = serde_json::Map::new();
    for field in SOURCE_FIELDS {
        if let Some(v) = all.get(*field) {
            out.insert((*field).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

impl Strategy for PersistentVolumeStrategy {
    type Object = PersistentVolume;

    fn default(&self, pv: &mut PersistentVolume) {
        let spec = pv.spec.get_or_insert_with(Default::default);
        default_str(&mut spec.persistent_volume_reclaim_policy, "Retain");
        default_str(&mut spec.volume_mode, "Filesystem");
        canonicalize_resources(&mut spec.capacity);
        if let Some(h) = &mut spec.host_path {
            h.type_.get_or_insert_with(String::new);
        }
        if let Some(status) = &mut pv.status {
            default_str(&mut status.phase, "Pending");
        }
    }

    fn prepare_for_create(&self, pv: &mut PersistentVolume) {
        pv.status = Some(PersistentVolumeStatus {
            phase: Some("Pending".to_string()),
            last_phase_transition_time: Some(common::now()),
            ..Default::default()
        });
    }

    fn validate(&self, pv: &PersistentVolume) -> ErrorList {
        validate_spec(&pv.spec.clone().unwrap_or_default(), &Path::new("spec"))
    }

    fn validate_update(&self, new: &PersistentVolume, old: &PersistentVolume) -> ErrorList {
        let mut errors = self.validate(new);
        let mut new_spec = new.spec.clone().unwrap_or_default();
        let old_spec = old.spec.clone().unwrap_or_default();
        let volume_mode = (
            to_json(&new_spec.volume_mode),
            to_json(&old_spec.volume_mode),
        );
        if let (Some(o), Some(n)) = (&old_spec.csi, &mut new_spec.csi)
            && o.controller_expand_secret_ref.is_none()
        {
            n.controller_expand_secret_ref = None;
        }
        let (new_source, old_source) = (source_json(&new_spec), source_json(&old_spec));
        if !v::semantic_eq(&new_source, &old_source) {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("persistentvolumesource"),
                format!(
                    "spec.persistentvolumesource is immutable after creation\n{}",
                    go_diff("core.PersistentVolumeSource", &old_source, &new_source)
                ),
            ));
        }
        errors.extend(v::validate_immutable_field(
            &volume_mode.0,
            &volume_mode.1,
            &Path::new("volumeMode"),
        ));
        if old_spec.node_affinity.is_some() {
            let (n, o) = (
                to_json(&new_spec.node_affinity),
                to_json(&old_spec.node_affinity),
            );
            if !v::semantic_eq(&n, &o) {
                errors.push(invalid_raw(
                    &Path::new("nodeAffinity"),
                    &n.to_string(),
                    "field is immutable, except for updating from beta label to GA",
                ));
            }
        }
        if old_spec.volume_attributes_class_name.is_some()
            && is_empty(&new_spec.volume_attributes_class_name)
            && new_spec.volume_attributes_class_name.is_none()
        {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("volumeAttributesClassName"),
                "update from non-nil value to nil is forbidden",
            ));
        }
        errors
    }
}
