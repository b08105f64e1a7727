//! ResourceQuotas (light): hard limits name standard or qualified resources with non-negative
//! quantities, scopes are known and not conflicting, and scopes are immutable (upstream
//! `ValidateResourceQuota[Update]`).

use std::collections::BTreeSet;

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec};

use super::pod_spec::{validate_resource_name, validate_resource_quantity};
use crate::registry::{
    Strategy,
    common::{self, canonicalize_resources},
};

/// The strategy of `resourcequotas`.
pub struct ResourceQuotaStrategy;

const QUOTA_RESOURCES: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];

const SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
];

fn go_scopes(scopes: &[String]) -> String {
    format!(
        "[]core.ResourceQuotaScope{{{}}}",
        scopes
            .iter()
            .map(|s| v::quote(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn validate_spec(spec: &ResourceQuotaSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (name, q) in spec.hard.iter().flatten() {
        let p = path.child("hard").key(name);
        errors.extend(validate_resource_name(name, &p));
        let quota_resource = QUOTA_RESOURCES.contains(&name.as_str())
            || name.starts_with("hugepages-")
            || name.starts_with("requests.hugepages-");
        if !name.contains('/') && !quota_resource {
            errors.push(FieldError::invalid(
                &p,
                name.as_str(),
                "must be a standard resource for quota",
            ));
        }
        validate_resource_quantity(name, q, &p, &mut errors);
    }
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    let scopes_path = path.child("scopes");
    let mut set = BTreeSet::new();
    for scope in scopes {
        if !SCOPES.contains(&scope.as_str()) {
            errors.push(common::invalid_raw(
                &scopes_path,
                &go_scopes(scopes),
                "unsupported scope",
            ));
        }
        set.insert(scope.as_str());
    }
    for (a, b) in [
        ("BestEffort", "NotBestEffort"),
        ("Terminating", "NotTerminating"),
    ] {
        if set.contains(a) && set.contains(b) {
            errors.push(common::invalid_raw(
                &scopes_path,
                &go_scopes(scopes),
                "conflicting scopes",
            ));
        }
    }
    if let Some(selector) = &spec.scope_selector {
        let p = path.child("scopeSelector").child("matchExpressions");
        for req in selector.match_expressions.iter().flatten() {
            if !SCOPES.contains(&req.scope_name.as_str()) {
                errors.push(FieldError::invalid(
                    &p.child("scopeName"),
                    req.scope_name.as_str(),
                    "unsupported scope",
                ));
            }
            let values = req.values.as_deref().unwrap_or_default();
            match req.operator.as_str() {
                "In" | "NotIn" => {
                    if values.is_empty() {
                        errors.push(FieldError::required(&p.child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !values.is_empty() {
                        errors.push(common::invalid_raw(&p.child("values"), &common::go_string_slice(Some(values)), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
                    }
                }
                other => errors.push(FieldError::invalid(
                    &p.child("operator"),
                    other,
                    "not a valid selector operator",
                )),
            }
        }
    }
    errors
}

impl Strategy for ResourceQuotaStrategy {
    type Object = ResourceQuota;

    fn default(&self, rq: &mut ResourceQuota) {
        if let Some(spec) = &mut rq.spec {
            canonicalize_resources(&mut spec.hard);
        }
    }

    fn validate(&self, rq: &ResourceQuota) -> ErrorList {
        validate_spec(&rq.spec.clone().unwrap_or_default(), &Path::new("spec"))
    }

    fn validate_update(&self, new: &ResourceQuota, old: &ResourceQuota) -> ErrorList {
        let mut errors = self.validate(new);
        let scopes = |rq: &ResourceQuota| -> BTreeSet<String> {
            rq.spec
                .iter()
                .flat_map(|s| s.scopes.iter().flatten())
                .cloned()
                .collect()
        };
        if scopes(new) != scopes(old) {
            let list = new
                .spec
                .as_ref()
                .and_then(|s| s.scopes.clone())
                .unwrap_or_default();
            errors.push(common::invalid_raw(
                &Path::new("spec").child("scopes"),
                &go_scopes(&list),
                v::FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
        errors
    }
}
