//! Secrets: `stringData` is folded into `data`, the type defaults to `Opaque` and is immutable,
//! keys are validated and `immutable` freezes the data.

use apimachinery::validation::{ErrorList, FieldError, Path};
use k8s_openapi::{ByteString, api::core::v1::Secret};

use super::configmap::{MAX_DATA_SIZE, validate_keys};
use crate::registry::Strategy;

/// The strategy of `secrets`.
pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    type Object = Secret;
    const FIELDS: &'static [&'static str] = &["type"];

    fn default(&self, secret: &mut Secret) {
        if let Some(strings) = secret.string_data.take() {
            let data = secret.data.get_or_insert_with(Default::default);
            for (key, value) in strings {
                data.insert(key, ByteString(value.into_bytes()));
            }
        }
        if secret.type_.as_deref().is_none_or(str::is_empty) {
            secret.type_ = Some("Opaque".to_string());
        }
    }

    fn validate(&self, secret: &Secret) -> ErrorList {
        let mut errors = Vec::new();
        if let Some(data) = &secret.data {
            let total = validate_keys(
                "data",
                data.iter().map(|(k, v)| (k, v.0.len())),
                &mut errors,
            );
            if total > MAX_DATA_SIZE {
                errors.push(FieldError::too_long(&Path::new("data"), MAX_DATA_SIZE));
            }
        }
        errors
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> ErrorList {
        let mut errors = self.validate(new);
        if new.type_ != old.type_ {
            errors.push(FieldError::invalid(
                &Path::new("type"),
                serde_json::json!(new.type_),
                "field is immutable",
            ));
        }
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
        }
        errors
    }
}
