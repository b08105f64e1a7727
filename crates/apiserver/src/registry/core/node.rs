//! Nodes: cluster-scoped, allocatable defaults to capacity, taints are validated and unique by
//! key and effect, and `podCIDRs` and `providerID` may only be set once (upstream
//! `ValidateNode[Update]`).

use std::collections::BTreeSet;

use apimachinery::validation::{self as v, ErrorList, ErrorType, FieldError, Path};
use k8s_openapi::api::core::v1::{Node, NodeSpec, Taint};

use super::pod_spec;
use crate::registry::{
    Strategy,
    common::{self, canonicalize_resources, is_empty, str_of},
};

/// The strategy of `nodes`.
pub struct NodeStrategy;

fn go_taint(t: &Taint) -> String {
    format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}",
        v::quote(&t.key),
        v::quote(str_of(&t.value)),
        v::quote(&t.effect)
    )
}

/// Validates taints (upstream `validateNodeTaints`).
pub fn validate_taints(taints: &[Taint], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let idx = path.index(i);
        errors.extend(v::validate_label_name(&t.key, &idx.child("key")));
        let value = str_of(&t.value);
        let msgs = v::is_valid_label_value(value);
        if !msgs.is_empty() {
            errors.push(FieldError::invalid(
                &idx.child("value"),
                value,
                msgs.join(";"),
            ));
        }
        errors.extend(pod_spec::validate_taint_effect(
            &t.effect,
            false,
            &idx.child("effect"),
        ));
        if !seen.insert((t.effect.clone(), t.key.clone())) {
            errors.push(common::raw_error(
                ErrorType::Duplicate,
                &idx,
                &go_taint(t),
                "taints must be unique by key and effect pair",
            ));
        }
    }
    errors
}

fn validate_node(node: &Node) -> ErrorList {
    let mut errors = Vec::new();
    let spec = node.spec.clone().unwrap_or_default();
    let taints = spec.taints.as_deref().unwrap_or_default();
    if !taints.is_empty() {
        // Upstream reports node taints under `metadata`.
        errors.extend(validate_taints(
            taints,
            &Path::new("metadata").child("taints"),
        ));
    }
    if let Some(status) = &node.status {
        for (field, list) in [
            ("capacity", &status.capacity),
            ("allocatable", &status.allocatable),
        ] {
            for (name, q) in list.iter().flatten() {
                let p = Path::new("status").child(field).child(name.as_str());
                pod_spec::validate_resource_quantity(name, q, &p, &mut errors);
            }
        }
    }
    let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
    let cidrs_path = Path::new("spec").child("podCIDRs");
    for (i, cidr) in cidrs.iter().enumerate() {
        errors.extend(common::valid_cidr(cidr, &cidrs_path.index(i)));
    }
    if cidrs.len() > 1 {
        let v6 = |c: &String| c.contains(':');
        if cidrs.len() > 2 || v6(&cidrs[0]) == v6(&cidrs[1]) {
            errors.push(common::invalid_raw(
                &cidrs_path,
                &common::go_string_slice(Some(cidrs)),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, cidr) in cidrs.iter().enumerate() {
            if !seen.insert(cidr) {
                errors.push(FieldError::duplicate(&cidrs_path.index(i), cidr.as_str()));
            }
        }
    }
    errors
}

impl Strategy for NodeStrategy {
    type Object = Node;
    const FIELDS: &'static [&'static str] = &["spec.unschedulable"];

    fn default(&self, node: &mut Node) {
        if let Some(status) = &mut node.status {
            canonicalize_resources(&mut status.capacity);
            canonicalize_resources(&mut status.allocatable);
            if status.allocatable.is_none() && status.capacity.is_some() {
                status.allocatable = status.capacity.clone();
            }
        }
    }

    fn validate(&self, node: &Node) -> ErrorList {
        validate_node(node)
    }

    fn validate_update(&self, new: &Node, old: &Node) -> ErrorList {
        let mut errors = validate_node(new);
        let spec = new.spec.clone().unwrap_or_default();
        let old_spec: NodeSpec = old.spec.clone().unwrap_or_default();
        let mut addresses = BTreeSet::new();
        for (i, a) in new
            .status
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .enumerate()
        {
            if !addresses.insert((a.type_.clone(), a.address.clone())) {
                errors.push(common::duplicate_raw(
                    &Path::new("status").child("addresses").index(i),
                    &format!(
                        "core.NodeAddress{{Type:{}, Address:{}}}",
                        v::quote(&a.type_),
                        v::quote(&a.address)
                    ),
                ));
            }
        }
        let old_cidrs = old_spec.pod_cidrs.as_deref().unwrap_or_default();
        if !old_cidrs.is_empty() && old_cidrs != spec.pod_cidrs.as_deref().unwrap_or_default() {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("podCIDRs"),
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        if !is_empty(&old_spec.provider_id) && old_spec.provider_id != spec.provider_id {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("providerID"),
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        if spec.external_id != old_spec.external_id {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("externalID"),
                "may not be updated",
            ));
        }
        errors
    }
}
