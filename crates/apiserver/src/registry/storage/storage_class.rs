//! StorageClasses (light): reclaim policy `Delete` and binding mode `Immediate` by default; a
//! provisioner is required; parameters, provisioner, reclaim policy and binding mode are
//! immutable (upstream `ValidateStorageClass[Update]`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::registry::{
    Strategy,
    common::{self, default_str, to_json},
};

/// The strategy of `storageclasses`.
pub struct StorageClassStrategy;

impl Strategy for StorageClassStrategy {
    type Object = StorageClass;

    fn default(&self, sc: &mut StorageClass) {
        default_str(&mut sc.reclaim_policy, "Delete");
        default_str(&mut sc.volume_binding_mode, "Immediate");
    }

    fn validate(&self, sc: &StorageClass) -> ErrorList {
        let mut errors = Vec::new();
        let provisioner = Path::new("provisioner");
        if sc.provisioner.is_empty() {
            errors.push(FieldError::required(&provisioner, ""));
        } else {
            errors.extend(common::qualified_name(
                &sc.provisioner.to_lowercase(),
                &provisioner,
            ));
        }
        let mut size = 0;
        for (k, val) in sc.parameters.iter().flatten() {
            if k.is_empty() {
                errors.push(FieldError::invalid(
                    &Path::new("parameters"),
                    common::to_json(&sc.parameters),
                    "key must be a non-empty string",
                ));
            }
            size += k.len() + val.len();
        }
        if size > 256 * 1024 {
            errors.push(FieldError::too_long(&Path::new("parameters"), 256 * 1024));
        }
        if let Some(policy) = sc.reclaim_policy.as_deref()
            && !policy.is_empty()
            && policy != "Delete"
            && policy != "Retain"
        {
            errors.push(FieldError::not_supported(
                &Path::new("reclaimPolicy"),
                policy,
                &["Delete", "Retain"],
            ));
        }
        match sc.volume_binding_mode.as_deref() {
            None => errors.push(FieldError::required(&Path::new("volumeBindingMode"), "")),
            Some("Immediate" | "WaitForFirstConsumer") => {}
            Some(other) => errors.push(FieldError::not_supported(
                &Path::new("volumeBindingMode"),
                other,
                &["Immediate", "WaitForFirstConsumer"],
            )),
        }
        errors
    }

    fn validate_update(&self, new: &StorageClass, old: &StorageClass) -> ErrorList {
        let mut errors = self.validate(new);
        if new.parameters.clone().unwrap_or_default() != old.parameters.clone().unwrap_or_default()
        {
            errors.push(FieldError::forbidden(
                &Path::new("parameters"),
                "updates to parameters are forbidden.",
            ));
        }
        if new.provisioner != old.provisioner {
            errors.push(FieldError::forbidden(
                &Path::new("provisioner"),
                "updates to provisioner are forbidden.",
            ));
        }
        if new.reclaim_policy != old.reclaim_policy {
            errors.push(FieldError::forbidden(
                &Path::new("reclaimPolicy"),
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        errors.extend(v::validate_immutable_field(
            &to_json(&new.volume_binding_mode),
            &to_json(&old.volume_binding_mode),
            &Path::new("volumeBindingMode"),
        ));
        errors
    }
}
