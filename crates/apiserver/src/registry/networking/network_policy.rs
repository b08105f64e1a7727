//! NetworkPolicies (light): ports default to `TCP` and policy types to `Ingress` (plus
//! `Egress` with egress rules); selectors, peers, ports and IP blocks are validated (upstream
//! `ValidateNetworkPolicy`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::{
    api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::registry::{
    Strategy,
    common::{self, default_str},
};

/// The strategy of `networkpolicies`.
pub struct NetworkPolicyStrategy;

fn validate_port(port: &NetworkPolicyPort, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if let Some(p) = port.protocol.as_deref()
        && !["SCTP", "TCP", "UDP"].contains(&p)
    {
        errors.push(FieldError::not_supported(
            &path.child("protocol"),
            p,
            &["SCTP", "TCP", "UDP"],
        ));
    }
    match &port.port {
        Some(IntOrString::Int(n)) => {
            for msg in v::is_valid_port_num(*n as i64) {
                errors.push(FieldError::invalid(&path.child("port"), *n, msg));
            }
            if let Some(end) = port.end_port {
                if end < *n {
                    errors.push(FieldError::invalid(
                        &path.child("endPort"),
                        end,
                        "must be greater than or equal to `port`",
                    ));
                }
                for msg in v::is_valid_port_num(end as i64) {
                    errors.push(FieldError::invalid(&path.child("endPort"), end, msg));
                }
            }
        }
        Some(IntOrString::String(s)) => {
            if port.end_port.is_some() {
                errors.push(FieldError::forbidden(
                    &path.child("endPort"),
                    "may not be specified when `port` is non-numeric",
                ));
            }
            errors.extend(common::each_invalid(
                &path.child("port"),
                s,
                v::is_valid_port_name(s),
            ));
        }
        None => {
            if port.end_port.is_some() {
                errors.push(FieldError::forbidden(
                    &path.child("endPort"),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
    errors
}

fn validate_peer(peer: &NetworkPolicyPeer, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let mut count = 0;
    if let Some(s) = &peer.pod_selector {
        count += 1;
        errors.extend(v::validate_label_selector(s, &path.child("podSelector")));
    }
    if let Some(s) = &peer.namespace_selector {
        count += 1;
        errors.extend(v::validate_label_selector(
            s,
            &path.child("namespaceSelector"),
        ));
    }
    if let Some(block) = &peer.ip_block {
        count += 1;
        let p = path.child("ipBlock");
        if block.cidr.is_empty() {
            errors.push(FieldError::required(&p.child("cidr"), ""));
        } else {
            errors.extend(common::valid_cidr(&block.cidr, &p.child("cidr")));
        }
        for (i, e) in block.except.iter().flatten().enumerate() {
            errors.extend(common::valid_cidr(e, &p.child("except").index(i)));
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a peer"));
    } else if peer.ip_block.is_some() && count > 1 {
        errors.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errors
}

impl Strategy for NetworkPolicyStrategy {
    type Object = NetworkPolicy;
    const GENERATION: bool = true;

    fn default(&self, np: &mut NetworkPolicy) {
        let spec = np.spec.get_or_insert_with(Default::default);
        for rule in spec.ingress.iter_mut().flatten() {
            for port in rule.ports.iter_mut().flatten() {
                default_str(&mut port.protocol, "TCP");
            }
        }
        for rule in spec.egress.iter_mut().flatten() {
            for port in rule.ports.iter_mut().flatten() {
                default_str(&mut port.protocol, "TCP");
            }
        }
        if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
            let mut types = vec!["Ingress".to_string()];
            if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
                types.push("Egress".to_string());
            }
            spec.policy_types = Some(types);
        }
    }

    fn validate(&self, np: &NetworkPolicy) -> ErrorList {
        let spec = np.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = Vec::new();
        if let Some(s) = &spec.pod_selector {
            errors.extend(v::validate_label_selector(s, &path.child("podSelector")));
        }
        for (i, rule) in spec.ingress.iter().flatten().enumerate() {
            let p = path.child("ingress").index(i);
            for (j, port) in rule.ports.iter().flatten().enumerate() {
                errors.extend(validate_port(port, &p.child("ports").index(j)));
            }
            for (j, peer) in rule.from.iter().flatten().enumerate() {
                errors.extend(validate_peer(peer, &p.child("from").index(j)));
            }
        }
        for (i, rule) in spec.egress.iter().flatten().enumerate() {
            let p = path.child("egress").index(i);
            for (j, port) in rule.ports.iter().flatten().enumerate() {
                errors.extend(validate_port(port, &p.child("ports").index(j)));
            }
            for (j, peer) in rule.to.iter().flatten().enumerate() {
                errors.extend(validate_peer(peer, &p.child("to").index(j)));
            }
        }
        let types = spec.policy_types.as_deref().unwrap_or_default();
        if types.len() > 2 {
            errors.push(common::invalid_raw(
                &path.child("policyTypes"),
                &common::go_string_slice(Some(types)),
                "may not specify more than two policyTypes",
            ));
        } else {
            for (i, t) in types.iter().enumerate() {
                if t != "Ingress" && t != "Egress" {
                    errors.push(FieldError::not_supported(
                        &path.child("policyTypes").index(i),
                        t.as_str(),
                        &["Ingress", "Egress"],
                    ));
                }
            }
        }
        errors
    }
}
