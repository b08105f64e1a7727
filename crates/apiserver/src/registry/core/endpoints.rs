//! Endpoints: ports default to `TCP`; every subset has addresses, valid non-special IPs and
//! valid ports (upstream `ValidateEndpoints`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Endpoints};

use super::service::validate_non_special_ip;
use crate::registry::{
    Strategy,
    common::{self, default_str, str_of},
};

/// The strategy of `endpoints`.
pub struct EndpointsStrategy;

fn validate_address(a: &EndpointAddress, path: &Path) -> ErrorList {
    let mut errors = common::valid_ip(&a.ip, &path.child("ip"));
    let hostname = str_of(&a.hostname);
    if !hostname.is_empty() {
        errors.extend(common::dns_label(hostname, &path.child("hostname")));
    }
    if let Some(node) = &a.node_name {
        errors.extend(common::dns_subdomain(node, &path.child("nodeName")));
    }
    errors.extend(validate_non_special_ip(&a.ip, &path.child("ip")));
    errors
}

fn validate_port(p: &EndpointPort, require_name: bool, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let name = str_of(&p.name);
    if require_name && name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errors.extend(common::dns_label(name, &path.child("name")));
    }
    for msg in v::is_valid_port_num(p.port as i64) {
        errors.push(FieldError::invalid(&path.child("port"), p.port, msg));
    }
    let protocol = str_of(&p.protocol);
    if protocol.is_empty() {
        errors.push(FieldError::required(&path.child("protocol"), ""));
    } else if !["SCTP", "TCP", "UDP"].contains(&protocol) {
        errors.push(FieldError::not_supported(
            &path.child("protocol"),
            protocol,
            &["SCTP", "TCP", "UDP"],
        ));
    }
    if let Some(ap) = &p.app_protocol {
        errors.extend(common::qualified_name(ap, &path.child("appProtocol")));
    }
    errors
}

impl Strategy for EndpointsStrategy {
    type Object = Endpoints;

    fn default(&self, ep: &mut Endpoints) {
        for subset in ep.subsets.iter_mut().flatten() {
            for port in subset.ports.iter_mut().flatten() {
                default_str(&mut port.protocol, "TCP");
            }
        }
    }

    fn validate(&self, ep: &Endpoints) -> ErrorList {
        let mut errors = Vec::new();
        let path = Path::new("subsets");
        for (i, ss) in ep.subsets.iter().flatten().enumerate() {
            let idx = path.index(i);
            let addresses = ss.addresses.as_deref().unwrap_or_default();
            let not_ready = ss.not_ready_addresses.as_deref().unwrap_or_default();
            if addresses.is_empty() && not_ready.is_empty() {
                errors.push(FieldError::required(
                    &idx,
                    "must specify `addresses` or `notReadyAddresses`",
                ));
            }
            for (j, a) in addresses.iter().enumerate() {
                errors.extend(validate_address(a, &idx.child("addresses").index(j)));
            }
            for (j, a) in not_ready.iter().enumerate() {
                errors.extend(validate_address(
                    a,
                    &idx.child("notReadyAddresses").index(j),
                ));
            }
            let ports = ss.ports.as_deref().unwrap_or_default();
            for (j, p) in ports.iter().enumerate() {
                errors.extend(validate_port(
                    p,
                    ports.len() > 1,
                    &idx.child("ports").index(j),
                ));
            }
        }
        errors
    }
}
