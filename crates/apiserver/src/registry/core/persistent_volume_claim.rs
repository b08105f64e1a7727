//! PersistentVolumeClaims: `volumeMode` defaults to `Filesystem`, claims start `Pending`, and
//! the spec is immutable after creation except the storage request of bound claims, a first
//! `volumeName` and a first `storageClassName` (upstream `ValidatePersistentVolumeClaimUpdate`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
};

use crate::registry::{
    Strategy,
    common::{self, canonicalize_resources, default_str, go_diff, is_empty, str_of, to_json},
};

/// The strategy of `persistentvolumeclaims`.
pub struct PersistentVolumeClaimStrategy;

/// The access modes volumes and claims support, sorted as upstream lists them.
pub const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// The volume modes, sorted.
pub const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];

/// The beta annotation that named a claim's storage class before `storageClassName`.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// Validates access modes: each supported, `ReadWriteOncePod` alone.
pub fn validate_access_modes(modes: &[String], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let (mut rwop, mut other) = (false, false);
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            errors.push(FieldError::not_supported(path, mode.as_str(), ACCESS_MODES));
        }
        if mode == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(&mode.as_str()) {
            other = true;
        }
    }
    if rwop && other {
        errors.push(FieldError::forbidden(
            path,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errors
}

/// `Invalid value: "<q>": must be greater than zero` unless the quantity is positive.
pub fn validate_positive_quantity(q: &v::Quantity, path: &Path) -> ErrorList {
    if *q <= v::Quantity::zero() {
        vec![FieldError::invalid(
            path,
            q.canonical(),
            "must be greater than zero",
        )]
    } else {
        Vec::new()
    }
}

/// Validates a claim spec (upstream `ValidatePersistentVolumeClaimSpec`); also used for the
/// templates of ephemeral volumes and StatefulSets.
pub fn validate_claim_spec(spec: &PersistentVolumeClaimSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        errors.push(FieldError::required(
            &path.child("accessModes"),
            "at least 1 access mode is required",
        ));
    }
    if let Some(selector) = &spec.selector {
        errors.extend(v::validate_label_selector(
            selector,
            &path.child("selector"),
        ));
    }
    errors.extend(validate_access_modes(modes, &path.child("accessModes")));
    let storage_path = path.child("resources").key("storage");
    match spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
    {
        None => errors.push(FieldError::required(&storage_path, "")),
        Some(q) => match common::parse_quantity(q) {
            Err(e) => errors.push(FieldError::invalid(
                &storage_path,
                q.0.as_str(),
                e.to_string(),
            )),
            Ok(parsed) => {
                let positive = validate_positive_quantity(&parsed, &storage_path);
                if positive.is_empty() {
                    errors.extend(v::validate_nonnegative_quantity(&parsed, &storage_path));
                } else {
                    errors.extend(positive);
                }
            }
        },
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
    for (field, kind, name, group, namespace) in [
        (
            "dataSource",
            spec.data_source.as_ref().map(|d| d.kind.as_str()),
            spec.data_source.as_ref().map(|d| d.name.as_str()),
            spec.data_source
                .as_ref()
                .and_then(|d| d.api_group.as_deref()),
            None,
        ),
        (
            "dataSourceRef",
            spec.data_source_ref.as_ref().map(|d| d.kind.as_str()),
            spec.data_source_ref.as_ref().map(|d| d.name.as_str()),
            spec.data_source_ref
                .as_ref()
                .and_then(|d| d.api_group.as_deref()),
            spec.data_source_ref
                .as_ref()
                .and_then(|d| d.namespace.as_deref()),
        ),
    ] {
        let (Some(kind), Some(name)) = (kind, name) else {
            continue;
        };
        let p = path.child(field);
        if name.is_empty() {
            errors.push(FieldError::required(&p.child("name"), ""));
        }
        if kind.is_empty() {
            errors.push(FieldError::required(&p.child("kind"), ""));
        }
        let group = group.unwrap_or("");
        if group.is_empty() && kind != "PersistentVolumeClaim" {
            errors.push(FieldError::invalid(
                &p,
                kind,
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            ));
        }
        if !group.is_empty() {
            errors.extend(common::dns_subdomain(group, &p.child("apiGroup")));
        }
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            errors.extend(common::each_invalid(
                &p.child("namespace"),
                ns,
                v::validate_namespace_name(ns),
            ));
        }
    }
    if let (Some(ds), Some(dsr)) = (&spec.data_source, &spec.data_source_ref) {
        if dsr.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
            errors.push(FieldError::invalid(
                path,
                path.child("dataSource").to_string(),
                "may not be specified when dataSourceRef.namespace is specified",
            ));
        } else if ds.api_group != dsr.api_group || ds.kind != dsr.kind || ds.name != dsr.name {
            errors.push(FieldError::invalid(
                path,
                path.child("dataSource").to_string(),
                "must match dataSourceRef",
            ));
        }
    }
    let vac = str_of(&spec.volume_attributes_class_name);
    if !vac.is_empty() {
        errors.extend(common::dns_subdomain(
            vac,
            &path.child("volumeAttributesClassName"),
        ));
    }
    errors
}

/// Defaults of a claim spec (upstream `SetDefaults_PersistentVolumeClaimSpec`).
pub fn default_claim_spec(spec: &mut PersistentVolumeClaimSpec) {
    default_str(&mut spec.volume_mode, "Filesystem");
    if let Some(r) = &mut spec.resources {
        canonicalize_resources(&mut r.requests);
        canonicalize_resources(&mut r.limits);
    }
}

impl Strategy for PersistentVolumeClaimStrategy {
    type Object = PersistentVolumeClaim;

    fn default(&self, pvc: &mut PersistentVolumeClaim) {
        default_claim_spec(pvc.spec.get_or_insert_with(Default::default));
        if let Some(status) = &mut pvc.status {
            default_str(&mut status.phase, "Pending");
        }
    }

    fn prepare_for_create(&self, pvc: &mut PersistentVolumeClaim) {
        pvc.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Pending".to_string()),
            ..Default::default()
        });
    }

    fn validate(&self, pvc: &PersistentVolumeClaim) -> ErrorList {
        validate_claim_spec(&pvc.spec.clone().unwrap_or_default(), &Path::new("spec"))
    }

    fn validate_update(
        &self,
        new: &PersistentVolumeClaim,
        old: &PersistentVolumeClaim,
    ) -> ErrorList {
        let mut errors = self.validate(new);
        let new_spec = new.spec.clone().unwrap_or_default();
        let old_spec = old.spec.clone().unwrap_or_default();
        let mut new_clone = new_spec.clone();
        let mut old_clone = old_spec.clone();
        if is_empty(&old_spec.volume_name) {
            old_clone.volume_name = new_spec.volume_name.clone();
        }
        let old_annotation = old
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(BETA_STORAGE_CLASS));
        let new_annotation = new
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(BETA_STORAGE_CLASS));
        let from_annotation = old_annotation.is_some()
            && old_spec.storage_class_name.is_none()
            && new_spec.storage_class_name.as_ref() == old_annotation
            && (new_annotation.is_none() || new_annotation == old_annotation);
        if from_annotation {
            new_clone.storage_class_name = None;
        } else {
            if new_annotation != old_annotation {
                errors.push(FieldError::invalid(
                    &Path::new("metadata")
                        .child("annotations")
                        .child(BETA_STORAGE_CLASS),
                    new_annotation.cloned().unwrap_or_default(),
                    v::FIELD_IMMUTABLE_ERROR_MSG,
                ));
            }
            if new_spec.storage_class_name.is_some()
                && old_spec.storage_class_name.is_none()
                && old_annotation.is_none_or(|a| Some(a) == new_spec.storage_class_name.as_ref())
            {
                new_clone.storage_class_name = old_clone.storage_class_name.clone();
            }
        }
        let bound = new.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if bound {
            if let Some(requests) = new_clone
                .resources
                .as_mut()
                .and_then(|r| r.requests.as_mut())
            {
                match old_spec
                    .resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get("storage"))
                {
                    Some(q) => {
                        requests.insert("storage".to_string(), q.clone());
                    }
                    None => {
                        requests.remove("storage");
                    }
                }
            }
            if new_clone.volume_attributes_class_name.is_some() {
                new_clone.volume_attributes_class_name =
                    old_clone.volume_attributes_class_name.clone();
            }
        }
        let (new_json, old_json) = (to_json(&new_clone), to_json(&old_clone));
        if !v::semantic_eq(&new_json, &old_json) {
            errors.push(FieldError::forbidden(
                &Path::new("spec"),
                format!(
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                    go_diff("core.PersistentVolumeClaimSpec", &old_json, &new_json)
                ),
            ));
        }
        let storage = |spec: &PersistentVolumeClaimSpec| {
            spec.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .and_then(|q| common::parse_quantity(q).ok())
                .unwrap_or_else(v::Quantity::zero)
        };
        let (new_size, old_size) = (storage(&new_spec), storage(&old_spec));
        let status_size = old
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .and_then(|q| common::parse_quantity(q).ok())
            .unwrap_or_else(v::Quantity::zero);
        if new_size < old_size && new_size <= status_size {
            errors.push(FieldError::forbidden(
                &Path::new("spec")
                    .child("resources")
                    .child("requests")
                    .child("storage"),
                "field can not be less than status.capacity",
            ));
        }
        errors.extend(v::validate_immutable_field(
            &to_json(&new_spec.volume_mode),
            &to_json(&old_spec.volume_mode),
            &Path::new("volumeMode"),
        ));
        if old_spec.volume_attributes_class_name.is_some()
            && new_spec.volume_attributes_class_name != old_spec.volume_attributes_class_name
        {
            match new_spec.volume_attributes_class_name.as_deref() {
                None => errors.push(FieldError::forbidden(
                    &Path::new("spec").child("volumeAttributesClassName"),
                    "update from non-nil value to nil is forbidden",
                )),
                Some("") => errors.push(FieldError::forbidden(
                    &Path::new("spec").child("volumeAttributesClassName"),
                    "update from non-nil value to an empty string is forbidden",
                )),
                Some(_) => {}
            }
        }
        errors
    }
}
