//! Leases (light): a positive duration, non-negative transitions, and a preferred holder only
//! with a strategy (upstream `ValidateLease`).

use apimachinery::validation::{ErrorList, FieldError, Path};
use k8s_openapi::api::coordination::v1::Lease;

use crate::registry::{Strategy, common::is_empty};

/// The strategy of `leases`.
pub struct LeaseStrategy;

impl Strategy for LeaseStrategy {
    type Object = Lease;

    fn validate(&self, lease: &Lease) -> ErrorList {
        let spec = lease.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = Vec::new();
        if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errors.push(FieldError::invalid(
                &path.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
        if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
            errors.push(FieldError::invalid(
                &path.child("leaseTransitions"),
                t,
                "must be greater than or equal to 0",
            ));
        }
        if let Some(s) = spec.strategy.as_deref()
            && s != "OldestEmulationVersion"
        {
            errors.push(FieldError::not_supported(
                &path.child("strategy"),
                s,
                &["OldestEmulationVersion"],
            ));
        }
        if !is_empty(&spec.preferred_holder) && is_empty(&spec.strategy) {
            errors.push(FieldError::forbidden(
                &path.child("preferredHolder"),
                "may only be specified if `strategy` is defined",
            ));
        }
        errors
    }
}
