//! PriorityClasses (light): `PreemptLowerPriority` by default; user-defined values are at most
//! one billion, `system-` names are reserved for the built-in classes, and the value and
//! preemption policy are immutable (upstream `ValidatePriorityClass[Update]`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::registry::{
    Strategy,
    common::{default_str, str_of, to_json},
    core::pod_spec,
};

/// The strategy of `priorityclasses`.
pub struct PriorityClassStrategy;

/// The highest priority a user-defined class may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The built-in system classes and their values.
pub const SYSTEM_CLASSES: &[(&str, i32)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

impl Strategy for PriorityClassStrategy {
    type Object = PriorityClass;

    fn default(&self, pc: &mut PriorityClass) {
        default_str(&mut pc.preemption_policy, "PreemptLowerPriority");
    }

    fn validate(&self, pc: &PriorityClass) -> ErrorList {
        let mut errors = Vec::new();
        let name = str_of(&pc.metadata.name);
        if name.starts_with("system-") {
            let reason = match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
                None => Some(format!("{name} is not a known system priority class")),
                Some((_, value)) if *value != pc.value => {
                    Some(format!("value of {name} PriorityClass must be {value}"))
                }
                Some(_) if pc.global_default == Some(true) => Some(format!(
                    "globalDefault of {name} PriorityClass must be false"
                )),
                Some(_) => None,
            };
            if let Some(reason) = reason {
                errors.push(FieldError::forbidden(
                    &Path::new("metadata").child("name"),
                    format!("priority class names with 'system-' prefix are reserved for system use only. error: {reason}"),
                ));
            }
        } else if pc.value > HIGHEST_USER_DEFINABLE_PRIORITY {
            errors.push(FieldError::forbidden(
                &Path::new("value"),
                format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
            ));
        }
        if let Some(policy) = pc.preemption_policy.as_deref() {
            errors.extend(pod_spec::validate_preemption_policy(
                policy,
                &Path::new("preemptionPolicy"),
            ));
        }
        errors
    }

    fn validate_update(&self, new: &PriorityClass, old: &PriorityClass) -> ErrorList {
        let mut errors = self.validate(new);
        if new.value != old.value {
            errors.push(FieldError::forbidden(
                &Path::new("value"),
                "may not be changed in an update.",
            ));
        }
        errors.extend(v::validate_immutable_field(
            &to_json(&new.preemption_policy),
            &to_json(&old.preemption_policy),
            &Path::new("preemptionPolicy"),
        ));
        errors
    }
}
