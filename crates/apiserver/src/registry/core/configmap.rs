//! ConfigMaps: keys are validated, the total size is bounded and `immutable` freezes the data.

use apimachinery::validation::{self, ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::ConfigMap;

use crate::registry::Strategy;

/// The strategy of `configmaps`.
pub struct ConfigMapStrategy;

/// Upstream's limit on the summed size of a ConfigMap's or Secret's data.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Validates the keys of a data map and its total size.
pub fn validate_keys<'a>(
    field: &str,
    entries: impl Iterator<Item = (&'a String, usize)>,
    errors: &mut ErrorList,
) -> usize {
    let mut total = 0;
    for (key, size) in entries {
        total += size;
        for message in validation::is_config_map_key(key) {
            errors.push(FieldError::invalid(
                &Path::new(field).key(key),
                serde_json::json!(key),
                &message,
            ));
        }
    }
    total
}

impl Strategy for ConfigMapStrategy {
    type Object = ConfigMap;

    fn validate(&self, cm: &ConfigMap) -> ErrorList {
        let mut errors = Vec::new();
        let mut total = 0;
        if let Some(data) = &cm.data {
            total += validate_keys("data", data.iter().map(|(k, v)| (k, v.len())), &mut errors);
        }
        if let Some(data) = &cm.binary_data {
            total += validate_keys(
                "binaryData",
                data.iter().map(|(k, v)| (k, v.0.len())),
                &mut errors,
            );
            for key in data.keys() {
                if cm.data.as_ref().is_some_and(|d| d.contains_key(key)) {
                    errors.push(FieldError::invalid(
                        &Path::new("data").key(key),
                        serde_json::json!(key),
                        "duplicate of key present in binaryData",
                    ));
                }
            }
        }
        if total > MAX_DATA_SIZE {
            errors.push(FieldError::too_long(&Path::new(""), MAX_DATA_SIZE));
        }
        errors
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> ErrorList {
        let mut errors = self.validate(new);
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                errors.push(FieldError::forbidden(
                    &Path::new("immutable"),
                    "field is immutable when `immutable` is set",
                ));
            }
            if new.data != old.data {
                errors.push(FieldError::forbidden(
                    &Path::new("data"),
                    "field is immutable when `immutable` is set",
                ));
            }
            if new.binary_data != old.binary_data {
                errors.push(FieldError::forbidden(
                    &Path::new("binaryData"),
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        errors
    }
}
