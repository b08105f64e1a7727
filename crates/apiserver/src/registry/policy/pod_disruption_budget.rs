//! PodDisruptionBudgets (light): `minAvailable` and `maxUnavailable` are exclusive
//! non-negative integers or percentages of at most 100%, the selector is valid and the
//! unhealthy-pod eviction policy known (upstream `ValidatePodDisruptionBudget`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::registry::{Strategy, common};

/// The strategy of `poddisruptionbudgets`.
pub struct PodDisruptionBudgetStrategy;

impl Strategy for PodDisruptionBudgetStrategy {
    type Object = PodDisruptionBudget;
    const GENERATION: bool = true;

    fn validate(&self, pdb: &PodDisruptionBudget) -> ErrorList {
        let spec = pdb.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = Vec::new();
        if spec.min_available.is_some() && spec.max_unavailable.is_some() {
            errors.push(common::invalid_raw(
                &path,
                &format!("policy.PodDisruptionBudgetSpec{}", common::go_value(&spec)),
                "minAvailable and maxUnavailable cannot be both set",
            ));
        }
        for (field, value) in [
            ("minAvailable", &spec.min_available),
            ("maxUnavailable", &spec.max_unavailable),
        ] {
            if let Some(value) = value {
                errors.extend(common::validate_positive_int_or_percent(
                    value,
                    &path.child(field),
                ));
                errors.extend(common::is_not_more_than_100_percent(
                    value,
                    &path.child(field),
                ));
            }
        }
        if let Some(selector) = &spec.selector {
            errors.extend(v::validate_label_selector(
                selector,
                &path.child("selector"),
            ));
        }
        if let Some(policy) = spec.unhealthy_pod_eviction_policy.as_deref()
            && policy != "AlwaysAllow"
            && policy != "IfHealthyBudget"
        {
            errors.push(FieldError::not_supported(
                &path.child("unhealthyPodEvictionPolicy"),
                policy,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
        errors
    }
}
