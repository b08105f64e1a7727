//! Ingresses (light): a default backend or rules; hosts are DNS names (wildcards allowed);
//! every path has a type, an absolute path where required and exactly one backend naming a
//! service port (upstream `ValidateIngress`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};

use crate::registry::{
    Strategy,
    common::{self, str_of},
};

/// The strategy of `ingresses`.
pub struct IngressStrategy;

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

fn validate_host(host: &str, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if v::parse_ip_sloppy(host).is_some() {
        errors.push(FieldError::invalid(
            path,
            host,
            "must be a DNS name, not an IP address",
        ));
    }
    if host.contains('*') {
        errors.extend(common::each_invalid(
            path,
            host,
            common::is_wildcard_dns1123_subdomain(host),
        ));
    } else {
        errors.extend(common::dns_subdomain(host, path));
    }
    errors
}

fn validate_backend(backend: &IngressBackend, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => errors.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            let p = path.child("resource");
            if r.name.is_empty() {
                errors.push(FieldError::required(&p.child("name"), ""));
            }
            if r.kind.is_empty() {
                errors.push(FieldError::required(&p.child("kind"), ""));
            }
            match r.api_group.as_deref() {
                None | Some("") => errors.push(FieldError::invalid(
                    &p.child("apiGroup"),
                    "",
                    "apiGroup is required",
                )),
                Some(g) => errors.extend(common::dns_subdomain(g, &p.child("apiGroup"))),
            }
        }
        (None, Some(s)) => {
            let p = path.child("service");
            if s.name.is_empty() {
                errors.push(FieldError::required(&p.child("name"), ""));
            } else {
                errors.extend(common::dns1035_label(&s.name, &p.child("name")));
            }
            let port = s.port.clone().unwrap_or_default();
            let name = str_of(&port.name);
            let number = port.number.unwrap_or(0);
            if !name.is_empty() && number != 0 {
                errors.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                ));
            } else if !name.is_empty() {
                errors.extend(common::each_invalid(
                    &p.child("port").child("name"),
                    name,
                    v::is_valid_port_name(name),
                ));
            } else if number != 0 {
                for msg in v::is_valid_port_num(number as i64) {
                    errors.push(FieldError::invalid(
                        &p.child("port").child("number"),
                        number,
                        msg,
                    ));
                }
            } else {
                errors.push(FieldError::required(
                    path,
                    "port name or number is required",
                ));
            }
        }
        (None, None) => errors.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
    errors
}

impl Strategy for IngressStrategy {
    type Object = Ingress;
    const GENERATION: bool = true;

    fn validate(&self, ing: &Ingress) -> ErrorList {
        let spec = ing.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = Vec::new();
        let rules = spec.rules.as_deref().unwrap_or_default();
        if rules.is_empty() && spec.default_backend.is_none() {
            errors.push(common::invalid_raw(
                &path,
                "[]networking.IngressRule(nil)",
                "either `defaultBackend` or `rules` must be specified",
            ));
        }
        if let Some(b) = &spec.default_backend {
            errors.extend(validate_backend(b, &path.child("defaultBackend")));
        }
        for (i, rule) in rules.iter().enumerate() {
            let rp = path.child("rules").index(i);
            let host = str_of(&rule.host);
            if !host.is_empty() {
                errors.extend(validate_host(host, &rp.child("host")));
            }
            let Some(http) = &rule.http else { continue };
            let hp = rp.child("http");
            if http.paths.is_empty() {
                errors.push(FieldError::required(&hp.child("paths"), ""));
            }
            for (j, p) in http.paths.iter().enumerate() {
                let pp = hp.child("paths").index(j);
                let value = str_of(&p.path);
                match p.path_type.as_str() {
                    "" => {
                        errors.push(FieldError::required(
                            &pp.child("pathType"),
                            "pathType must be specified",
                        ));
                        continue;
                    }
                    "Exact" | "Prefix" => {
                        if !value.starts_with('/') {
                            errors.push(FieldError::invalid(
                                &pp.child("path"),
                                value,
                                "must be an absolute path",
                            ));
                        }
                        if !value.is_empty() {
                            for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                                if value.contains(seq) {
                                    errors.push(FieldError::invalid(
                                        &pp.child("path"),
                                        value,
                                        format!("must not contain '{seq}'"),
                                    ));
                                }
                            }
                            for suffix in ["/..", "/."] {
                                if value.ends_with(suffix) {
                                    errors.push(FieldError::invalid(
                                        &pp.child("path"),
                                        value,
                                        format!("cannot end with '{suffix}'"),
                                    ));
                                }
                            }
                        }
                    }
                    "ImplementationSpecific" => {
                        if !value.is_empty() && !value.starts_with('/') {
                            errors.push(FieldError::invalid(
                                &pp.child("path"),
                                value,
                                "must be an absolute path",
                            ));
                        }
                    }
                    other => errors.push(FieldError::not_supported(
                        &pp.child("pathType"),
                        other,
                        PATH_TYPES,
                    )),
                }
                errors.extend(validate_backend(&p.backend, &pp.child("backend")));
            }
        }
        for (i, tls) in spec.tls.iter().flatten().enumerate() {
            for (j, host) in tls.hosts.iter().flatten().enumerate() {
                let p = path.child("tls").index(i).child("hosts").index(j);
                if host.contains('*') {
                    errors.extend(common::each_invalid(
                        &p,
                        host,
                        common::is_wildcard_dns1123_subdomain(host),
                    ));
                } else {
                    errors.extend(common::dns_subdomain(host, &p));
                }
            }
        }
        if let Some(class) = spec.ingress_class_name.as_deref().filter(|c| !c.is_empty()) {
            errors.extend(common::dns_subdomain(
                class,
                &path.child("ingressClassName"),
            ));
        }
        errors
    }
}
