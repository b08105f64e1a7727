//! Services: names are DNS-1035 labels; upstream's defaults (`ClusterIP` type, `None` session
//! affinity, `TCP` ports targeting themselves, `Cluster` traffic policies, IP families for a
//! given cluster IP); validation of ports, types, cluster IPs and traffic policies; and, on
//! update, the allocated `clusterIP`, `clusterIPs` and node ports are kept when the new object
//! omits them, as upstream does so that `kubectl apply` of a manifest without them works.
//!
//! Cluster IPs and node ports are not allocated here: a service created without a cluster IP
//! keeps it empty until an allocator assigns one (and sets the IP families).

use std::collections::BTreeSet;

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::{
    api::core::v1::{ClientIPConfig, Service, ServicePort, ServiceSpec, SessionAffinityConfig},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::registry::{
    NameRule, Strategy,
    common::{self, default_str, each_invalid, invalid_raw, is_empty, str_of},
};

/// The strategy of `services`.
pub struct ServiceStrategy;

/// The default node port range of the API server.
pub const NODE_PORT_RANGE: (i32, i32) = (30000, 32767);

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn spec_type(spec: &ServiceSpec) -> &str {
    str_of(&spec.type_)
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    spec_type(spec) != "ExternalName"
}

fn needs_node_port(spec: &ServiceSpec) -> bool {
    match spec_type(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.allocate_load_balancer_node_ports != Some(false),
        _ => false,
    }
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    matches!(spec_type(spec), "LoadBalancer" | "NodePort")
        || (spec_type(spec) == "ClusterIP"
            && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    spec_type(spec) == "LoadBalancer" && str_of(&spec.external_traffic_policy) == "Local"
}

fn cluster_ips(spec: &ServiceSpec) -> &[String] {
    spec.cluster_ips.as_deref().unwrap_or_default()
}

fn is_headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec) == ["None"]
}

fn ip_family(ip: &str) -> &'static str {
    match v::parse_ip_sloppy(ip) {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => "IPv6",
        _ => "IPv4",
    }
}

/// Upstream `NormalizeClusterIPs` for creates: `clusterIPs` follows a lone `clusterIP`.
fn normalize_cluster_ips(spec: &mut ServiceSpec, old: Option<&ServiceSpec>) {
    let ip = str_of(&spec.cluster_ip).to_string();
    match old {
        None => {
            if !ip.is_empty() && cluster_ips(spec).is_empty() {
                spec.cluster_ips = Some(vec![ip]);
            }
        }
        Some(old) => {
            if ip != str_of(&old.cluster_ip) && cluster_ips(spec) == cluster_ips(old) {
                spec.cluster_ips = if ip.is_empty() { None } else { Some(vec![ip]) };
            }
        }
    }
}

/// Upstream `patchAllocatedValues`: keeps the allocated values the new object omits.
fn patch_allocated_values(new: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        if is_empty(&new.cluster_ip) {
            new.cluster_ip = old.cluster_ip.clone();
        }
        if cluster_ips(new).is_empty() && !cluster_ips(old).is_empty() {
            new.cluster_ips = old.cluster_ips.clone();
        }
        if cluster_ips(new) == cluster_ips(old) {
            if new.ip_families.as_ref().is_none_or(Vec::is_empty) {
                new.ip_families = old.ip_families.clone();
            }
            if new.ip_family_policy.is_none() {
                new.ip_family_policy = old.ip_family_policy.clone();
            }
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let used = |spec: &ServiceSpec| -> BTreeSet<i32> {
            spec.ports
                .iter()
                .flatten()
                .filter_map(|p| p.node_port)
                .filter(|n| *n != 0)
                .collect()
        };
        let in_use: BTreeSet<i32> = used(old).intersection(&used(new)).copied().collect();
        let by_name: std::collections::BTreeMap<String, i32> = old
            .ports
            .iter()
            .flatten()
            .map(|p| (str_of(&p.name).to_string(), p.node_port.unwrap_or(0)))
            .collect();
        for p in new.ports.iter_mut().flatten() {
            if p.node_port.unwrap_or(0) == 0 {
                let old_value = by_name.get(str_of(&p.name)).copied().unwrap_or(0);
                if old_value != 0 && !in_use.contains(&old_value) {
                    p.node_port = Some(old_value);
                }
            }
        }
    }
    if needs_health_check(old)
        && needs_health_check(new)
        && new.health_check_node_port.unwrap_or(0) == 0
    {
        new.health_check_node_port = old.health_check_node_port;
    }
}

/// Upstream `dropTypeDependentFields`: what the old type needed and the new one does not is
/// dropped when the client left it unchanged.
fn drop_type_dependent_fields(new: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if new.cluster_ip == old.cluster_ip && cluster_ips(new) == cluster_ips(old) {
            new.cluster_ip = None;
            new.cluster_ips = None;
        }
        if new.ip_families == old.ip_families {
            new.ip_families = None;
        }
        if new.ip_family_policy == old.ip_family_policy {
            new.ip_family_policy = None;
        }
    }
    if needs_node_port(old) && !needs_node_port(new) {
        let ports = |s: &ServiceSpec| -> Vec<i32> {
            s.ports
                .iter()
                .flatten()
                .map(|p| p.node_port.unwrap_or(0))
                .collect()
        };
        if ports(new) == ports(old) {
            for p in new.ports.iter_mut().flatten() {
                p.node_port = None;
            }
        }
    }
    if needs_health_check(old)
        && !needs_health_check(new)
        && new.health_check_node_port == old.health_check_node_port
    {
        new.health_check_node_port = None;
    }
    if spec_type(old) == "LoadBalancer" && spec_type(new) != "LoadBalancer" {
        if new.allocate_load_balancer_node_ports.is_some()
            && new.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports
        {
            new.allocate_load_balancer_node_ports = None;
        }
        if new.load_balancer_class == old.load_balancer_class {
            new.load_balancer_class = None;
        }
    }
    if externally_accessible(old)
        && !externally_accessible(new)
        && new.external_traffic_policy == old.external_traffic_policy
    {
        new.external_traffic_policy = None;
    }
}

/// How upstream prints the `(protocol, port)` key of a duplicate service port.
fn go_service_port_key(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        v::quote(protocol)
    )
}

fn validate_service_port(
    sp: &ServicePort,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let name = str_of(&sp.name);
    if require_name && name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        errors.extend(common::dns_label(name, &path.child("name")));
        if !names.insert(name.to_string()) {
            errors.push(FieldError::duplicate(&path.child("name"), name));
        }
    }
    for msg in v::is_valid_port_num(sp.port as i64) {
        errors.push(FieldError::invalid(&path.child("port"), sp.port, msg));
    }
    let protocol = str_of(&sp.protocol);
    if protocol.is_empty() {
        errors.push(FieldError::required(&path.child("protocol"), ""));
    } else if !PROTOCOLS.contains(&protocol) {
        errors.push(FieldError::not_supported(
            &path.child("protocol"),
            protocol,
            PROTOCOLS,
        ));
    }
    match sp.target_port.as_ref().unwrap_or(&IntOrString::Int(0)) {
        IntOrString::Int(i) => {
            for msg in v::is_valid_port_num(*i as i64) {
                errors.push(FieldError::invalid(&path.child("targetPort"), *i, msg));
            }
        }
        IntOrString::String(s) => errors.extend(each_invalid(
            &path.child("targetPort"),
            s,
            v::is_valid_port_name(s),
        )),
    }
    if let Some(ap) = &sp.app_protocol {
        errors.extend(common::qualified_name(ap, &path.child("appProtocol")));
    }
    errors
}

/// Upstream `ValidateNonSpecialIP`.
pub fn validate_non_special_ip(ip: &str, path: &Path) -> ErrorList {
    let Some(addr) = v::parse_ip_sloppy(ip) else {
        return vec![FieldError::invalid(path, ip, "must be a valid IP address")];
    };
    let mut errors = Vec::new();
    if addr.is_unspecified() {
        errors.push(FieldError::invalid(
            path,
            ip,
            format!("may not be unspecified ({ip})"),
        ));
    }
    if addr.is_loopback() {
        errors.push(FieldError::invalid(
            path,
            ip,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let link_local_unicast = match addr {
        std::net::IpAddr::V4(a) => a.is_link_local(),
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local_unicast {
        errors.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    let link_local_multicast = match addr {
        std::net::IpAddr::V4(a) => a.octets()[0] == 224 && a.octets()[1] == 0 && a.octets()[2] == 0,
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff02,
    };
    if link_local_multicast {
        errors.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errors
}

fn validate_cluster_ips_related(spec: &ServiceSpec) -> ErrorList {
    if spec_type(spec) == "ExternalName" {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let spec_path = Path::new("spec");
    let ips_path = spec_path.child("clusterIPs");
    let families_path = spec_path.child("ipFamilies");
    let ips = cluster_ips(spec);
    let rendered = common::go_string_slice(spec.cluster_ips.as_deref());
    if !is_empty(&spec.cluster_ip) {
        if ips.is_empty() {
            errors.push(FieldError::required(&ips_path, ""));
        } else if ips[0] != str_of(&spec.cluster_ip) {
            errors.push(invalid_raw(
                &ips_path,
                &rendered,
                "first value must match `clusterIP`",
            ));
        }
    } else if !ips.is_empty() {
        errors.push(invalid_raw(
            &ips_path,
            &rendered,
            "must be empty when `clusterIP` is not specified",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        if family != "IPv4" && family != "IPv6" {
            errors.push(FieldError::not_supported(
                &families_path.index(i),
                family.as_str(),
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(family.clone()) {
            errors.push(FieldError::duplicate(
                &families_path.index(i),
                family.as_str(),
            ));
        }
    }
    if let Some(policy) = spec.ip_family_policy.as_deref() {
        const POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&policy) {
            errors.push(FieldError::not_supported(
                &spec_path.child("ipFamilyPolicy"),
                policy,
                POLICIES,
            ));
        }
    }
    let mut invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid = true;
                errors.push(invalid_raw(
                    &ips_path,
                    &rendered,
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let e = common::valid_ip(ip, &ips_path.index(i));
        invalid |= !e.is_empty();
        errors.extend(e);
    }
    if ips.len() > 2 {
        errors.push(invalid_raw(
            &ips_path,
            &rendered,
            "may only hold up to 2 values",
        ));
    }
    if invalid {
        return errors;
    }
    if ips.len() > 1 && ip_family(&ips[0]) == ip_family(&ips[1]) {
        errors.push(invalid_raw(
            &ips_path,
            &rendered,
            "may specify no more than one IP for each IP family",
        ));
    }
    if !is_headless(spec) {
        for (i, (ip, family)) in ips
            .iter()
            .zip(spec.ip_families.iter().flatten())
            .enumerate()
        {
            if family == "IPv4" && ip_family(ip) == "IPv6" {
                errors.push(FieldError::invalid(
                    &ips_path.index(i),
                    ip.as_str(),
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
            if family == "IPv6" && ip_family(ip) != "IPv6" {
                errors.push(FieldError::invalid(
                    &ips_path.index(i),
                    ip.as_str(),
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errors
}

fn validate_service(svc: &Service) -> ErrorList {
    let mut errors = Vec::new();
    let default_spec = ServiceSpec::default();
    let spec = svc.spec.as_ref().unwrap_or(&default_spec);
    let spec_path = Path::new("spec");
    let ports = spec.ports.as_deref().unwrap_or_default();
    let t = spec_type(spec);
    if ports.is_empty() && !is_headless(spec) && t != "ExternalName" {
        errors.push(FieldError::required(&spec_path.child("ports"), ""));
    }
    match t {
        "LoadBalancer" | "NodePort" if is_headless(spec) => errors.push(FieldError::invalid(
            &spec_path.child("clusterIPs").index(0),
            "None",
            format!("may not be set to 'None' for {t} services"),
        )),
        "ExternalName" => {
            if !cluster_ips(spec).is_empty() {
                errors.push(FieldError::forbidden(
                    &spec_path.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errors.push(FieldError::forbidden(
                    &spec_path.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errors.push(FieldError::forbidden(
                    &spec_path.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let cname = str_of(&spec.external_name);
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                errors.push(FieldError::required(&spec_path.child("externalName"), ""));
            } else {
                errors.extend(common::dns_subdomain(
                    cname,
                    &spec_path.child("externalName"),
                ));
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        errors.extend(validate_service_port(
            port,
            ports.len() > 1,
            &mut names,
            &spec_path.child("ports").index(i),
        ));
    }
    if let Some(selector) = &spec.selector {
        errors.extend(v::validate_labels(selector, &spec_path.child("selector")));
    }
    let affinity = str_of(&spec.session_affinity);
    match affinity {
        "" => errors.push(FieldError::required(
            &spec_path.child("sessionAffinity"),
            "",
        )),
        "ClientIP" => {
            let p = spec_path.child("sessionAffinityConfig");
            let msg = "when session affinity type is ClientIP";
            match spec.session_affinity_config.as_ref().map(|c| &c.client_ip) {
                None => errors.push(FieldError::required(&p, msg)),
                Some(None) => errors.push(FieldError::required(&p.child("clientIP"), msg)),
                Some(Some(c)) => match c.timeout_seconds {
                    None => errors.push(FieldError::required(
                        &p.child("clientIP").child("timeoutSeconds"),
                        msg,
                    )),
                    Some(t) if t <= 0 || t > 86400 => errors.push(FieldError::invalid(
                        &p.child("clientIP").child("timeoutSeconds"),
                        t,
                        "must be greater than 0 and less than 86400",
                    )),
                    Some(_) => {}
                },
            }
        }
        "None" => {
            if spec.session_affinity_config.is_some() {
                errors.push(FieldError::forbidden(
                    &spec_path.child("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            &spec_path.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    errors.extend(validate_cluster_ips_related(spec));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        let p = spec_path.child("externalIPs").index(i);
        let e = common::valid_ip(ip, &p);
        if e.is_empty() {
            errors.extend(validate_non_special_ip(ip, &p));
        } else {
            errors.extend(e);
        }
    }
    if t.is_empty() {
        errors.push(FieldError::required(&spec_path.child("type"), ""));
    } else if !TYPES.contains(&t) {
        errors.push(FieldError::not_supported(
            &spec_path.child("type"),
            t,
            TYPES,
        ));
    }
    for (i, port) in ports.iter().enumerate() {
        let np = port.node_port.unwrap_or(0);
        if np == 0 {
            continue;
        }
        let p = spec_path.child("ports").index(i).child("nodePort");
        if t == "ClusterIP" {
            errors.push(FieldError::forbidden(
                &p,
                "may not be used when `type` is 'ClusterIP'",
            ));
        } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&np) {
            errors.push(FieldError::invalid(
                &p,
                np,
                format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                ),
            ));
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let np = port.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((str_of(&port.protocol).to_string(), np)) {
            errors.push(FieldError::duplicate(
                &spec_path.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
    }
    let mut seen_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let key = (str_of(&port.protocol).to_string(), port.port);
        if !seen_ports.insert(key.clone()) {
            errors.push(common::duplicate_raw(
                &spec_path.child("ports").index(i),
                &go_service_port_key(&key.0, key.1),
            ));
        }
    }
    let ranges = spec
        .load_balancer_source_ranges
        .as_deref()
        .unwrap_or_default();
    if !ranges.is_empty() {
        let p = spec_path.child("LoadBalancerSourceRanges");
        if t != "LoadBalancer" {
            errors.push(FieldError::forbidden(
                &p,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            errors.extend(common::valid_cidr(r.trim(), &p.index(i)));
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && t != "LoadBalancer" {
        errors.push(FieldError::forbidden(
            &spec_path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if t == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        errors.push(FieldError::required(
            &Path::new("allocateLoadBalancerNodePorts"),
            "",
        ));
    }
    if let Some(class) = &spec.load_balancer_class {
        if t == "LoadBalancer" {
            errors.extend(common::qualified_name(
                class,
                &spec_path.child("loadBalancerClass"),
            ));
        } else {
            errors.push(FieldError::forbidden(
                &spec_path.child("loadBalancerClass"),
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
    }
    let etp = str_of(&spec.external_traffic_policy);
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errors.push(FieldError::invalid(
                &spec_path.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errors.push(FieldError::required(
            &spec_path.child("externalTrafficPolicy"),
            "",
        ));
    } else if etp != "Cluster" && etp != "Local" {
        errors.push(FieldError::not_supported(
            &spec_path.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if hc != 0 {
            errors.push(FieldError::invalid(
                &spec_path.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc != 0 {
        // A zero port waits for the allocator, which is not part of the strategy.
        for msg in v::is_valid_port_num(hc as i64) {
            errors.push(FieldError::invalid(
                &spec_path.child("healthCheckNodePort"),
                hc,
                msg,
            ));
        }
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(t, "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errors.push(FieldError::required(
                &spec_path.child("internalTrafficPolicy"),
                "",
            ));
        }
        Some(p) if p != "Cluster" && p != "Local" => {
            errors.push(FieldError::not_supported(
                &spec_path.child("internalTrafficPolicy"),
                p,
                &["Cluster", "Local"],
            ));
        }
        _ => {}
    }
    if let Some(td) = spec.traffic_distribution.as_deref()
        && td != "PreferClose"
    {
        errors.push(FieldError::not_supported(
            &spec_path.child("trafficDistribution"),
            td,
            &["PreferClose"],
        ));
    }
    errors
}

fn validate_upgrade_downgrade(new: &ServiceSpec, old: &ServiceSpec) -> ErrorList {
    let mut errors = Vec::new();
    if spec_type(new) == "ExternalName" || spec_type(old) == "ExternalName" {
        return errors;
    }
    let (new_headless, old_headless) = (is_headless(new), is_headless(old));
    let ips_path = Path::new("spec").child("clusterIPs");
    let rendered = common::go_string_slice(new.cluster_ips.as_deref());
    let (new_ips, old_ips) = (cluster_ips(new), cluster_ips(old));
    if !(old_headless && new_headless) {
        if old_ips.len() == new_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != new_ips[i] {
                    errors.push(invalid_raw(
                        &ips_path.index(i),
                        &rendered,
                        "may not change once set",
                    ));
                }
            }
        } else if old_ips.len() > new_ips.len() {
            if new_ips.is_empty() {
                errors.push(invalid_raw(
                    &ips_path.index(0),
                    &rendered,
                    "primary clusterIP can not be unset",
                ));
            }
            if !old_ips.is_empty() && !new_ips.is_empty() && new_ips[0] != old_ips[0] {
                errors.push(invalid_raw(
                    &ips_path.index(0),
                    &rendered,
                    "may not change once set",
                ));
            }
            if new_ips.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
                errors.push(FieldError::invalid(
                    &Path::new("spec").child("ipFamilyPolicy"),
                    common::to_json(&new.ip_family_policy),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                ));
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errors.push(invalid_raw(
                &ips_path.index(0),
                &rendered,
                "may not change once set",
            ));
        }
    }
    if new_headless != old_headless || new_headless {
        return errors;
    }
    let families_path = Path::new("spec").child("ipFamilies");
    let new_families = new.ip_families.as_deref().unwrap_or_default();
    let old_families = old.ip_families.as_deref().unwrap_or_default();
    let families_rendered = format!(
        "[]core.IPFamily{{{}}}",
        new_families
            .iter()
            .map(|f| v::quote(f))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if new_families.len() == old_families.len() {
        if new_families != old_families {
            errors.push(invalid_raw(
                &families_path.index(0),
                &families_rendered,
                "may not change once set",
            ));
        }
    } else if old_families.len() > new_families.len() {
        if new_ips.is_empty() {
            errors.push(invalid_raw(
                &families_path.index(0),
                &families_rendered,
                "primary ipFamily can not be unset",
            ));
        }
        if !new_families.is_empty() && new_families[0] != old_families[0] {
            errors.push(invalid_raw(
                &families_path.index(0),
                &rendered,
                "may not change once set",
            ));
        }
        if new_families.len() == 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
            errors.push(FieldError::invalid(
                &Path::new("spec").child("ipFamilyPolicy"),
                common::to_json(&new.ip_family_policy),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !old_families.is_empty()
        && !new_families.is_empty()
        && new_families[0] != old_families[0]
    {
        errors.push(invalid_raw(
            &families_path.index(0),
            &rendered,
            "may not change once set",
        ));
    }
    errors
}

impl Strategy for ServiceStrategy {
    type Object = Service;
    const NAMES: NameRule = NameRule::Dns1035Label;
    const FIELDS: &'static [&'static str] = &["spec.clusterIP", "spec.type"];

    fn default(&self, svc: &mut Service) {
        let spec = svc.spec.get_or_insert_with(Default::default);
        default_str(&mut spec.session_affinity, "None");
        match str_of(&spec.session_affinity) {
            "None" => spec.session_affinity_config = None,
            "ClientIP" => {
                let missing = spec
                    .session_affinity_config
                    .as_ref()
                    .and_then(|c| c.client_ip.as_ref())
                    .and_then(|c| c.timeout_seconds)
                    .is_none();
                if missing {
                    spec.session_affinity_config = Some(SessionAffinityConfig {
                        client_ip: Some(ClientIPConfig {
                            timeout_seconds: Some(10800),
                        }),
                    });
                }
            }
            _ => {}
        }
        default_str(&mut spec.type_, "ClusterIP");
        for port in spec.ports.iter_mut().flatten() {
            default_str(&mut port.protocol, "TCP");
            let unset = match &port.target_port {
                None => true,
                Some(IntOrString::Int(0)) => true,
                Some(IntOrString::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if unset {
                port.target_port = Some(IntOrString::Int(port.port));
            }
        }
        if externally_accessible(spec) {
            default_str(&mut spec.external_traffic_policy, "Cluster");
        }
        if spec.internal_traffic_policy.is_none()
            && matches!(spec_type(spec), "NodePort" | "LoadBalancer" | "ClusterIP")
        {
            spec.internal_traffic_policy = Some("Cluster".to_string());
        }
        if spec_type(spec) == "LoadBalancer" {
            spec.allocate_load_balancer_node_ports.get_or_insert(true);
        }
        if needs_cluster_ip(spec) {
            if is_empty(&spec.cluster_ip)
                && let Some(first) = cluster_ips(spec).first()
            {
                spec.cluster_ip = Some(first.clone());
            }
            normalize_cluster_ips(spec, None);
            let ip = str_of(&spec.cluster_ip).to_string();
            if ip == "None" {
                let selectorless = spec.selector.as_ref().is_none_or(|s| s.is_empty());
                if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
                    spec.ip_families = Some(vec!["IPv4".to_string()]);
                }
                if spec.ip_family_policy.is_none() {
                    let policy = if selectorless {
                        "RequireDualStack"
                    } else {
                        "SingleStack"
                    };
                    spec.ip_family_policy = Some(policy.to_string());
                }
            } else if !ip.is_empty() && v::parse_ip_sloppy(&ip).is_some() {
                if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
                    spec.ip_families = Some(
                        cluster_ips(spec)
                            .iter()
                            .map(|i| ip_family(i).to_string())
                            .collect(),
                    );
                }
                if spec.ip_family_policy.is_none() {
                    let policy = if cluster_ips(spec).len() > 1 {
                        "RequireDualStack"
                    } else {
                        "SingleStack"
                    };
                    spec.ip_family_policy = Some(policy.to_string());
                }
            }
        }
    }

    fn prepare_for_update(&self, new: &mut Service, old: &Service) {
        // Upstream defaults the new object at decode time, before these steps.
        self.default(new);
        let old_spec = old.spec.clone().unwrap_or_default();
        let spec = new.spec.get_or_insert_with(Default::default);
        patch_allocated_values(spec, &old_spec);
        normalize_cluster_ips(spec, Some(&old_spec));
        drop_type_dependent_fields(spec, &old_spec);
    }

    fn validate(&self, svc: &Service) -> ErrorList {
        validate_service(svc)
    }

    fn validate_update(&self, new: &Service, old: &Service) -> ErrorList {
        let default_spec = ServiceSpec::default();
        let new_spec = new.spec.as_ref().unwrap_or(&default_spec);
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let mut errors = validate_upgrade_downgrade(new_spec, old_spec);
        if spec_type(old_spec) == "LoadBalancer"
            && spec_type(new_spec) == "LoadBalancer"
            && old_spec.load_balancer_class != new_spec.load_balancer_class
        {
            errors.push(FieldError::invalid(
                &Path::new("spec").child("loadBalancerClass"),
                common::to_json(&new_spec.load_balancer_class),
                "may not change once set",
            ));
        }
        if needs_health_check(old_spec)
            && needs_health_check(new_spec)
            && old_spec.health_check_node_port != new_spec.health_check_node_port
        {
            errors.push(FieldError::forbidden(
                &Path::new("spec").child("healthCheckNodePort"),
                "field is immutable",
            ));
        }
        errors.extend(validate_service(new));
        errors
    }
}
