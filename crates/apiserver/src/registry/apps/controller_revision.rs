//! ControllerRevisions (light): `data` is required and immutable, `revision` non-negative
//! (upstream `ValidateControllerRevision[Update]`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::apps::v1::ControllerRevision;

use crate::registry::{Strategy, common::to_json};

/// The strategy of `controllerrevisions`.
pub struct ControllerRevisionStrategy;

impl Strategy for ControllerRevisionStrategy {
    type Object = ControllerRevision;

    fn validate(&self, cr: &ControllerRevision) -> ErrorList {
        let mut errors = Vec::new();
        if cr.data.is_none() {
            errors.push(FieldError::required(
                &Path::new("data"),
                "data is mandatory",
            ));
        }
        errors.extend(v::validate_nonnegative_field(
            cr.revision,
            &Path::new("revision"),
        ));
        errors
    }

    fn validate_update(&self, new: &ControllerRevision, old: &ControllerRevision) -> ErrorList {
        let mut errors = self.validate(new);
        errors.extend(v::validate_immutable_field(
            &to_json(&new.data),
            &to_json(&old.data),
            &Path::new("data"),
        ));
        errors
    }
}
