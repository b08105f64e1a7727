//! Printers of the networking kinds: Service, Endpoints, EndpointSlice, Ingress, IngressClass
//! and NetworkPolicy.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, NAME, Printer, col, doc,
    format::{
        age, array_at, format_label_selector, format_labels, int_at, list_with_more,
        load_balancer_ingress, name, or_none, str_at,
    },
    text, wide,
};

const SERVICE_SPEC: &str = "io.k8s.api.core.v1.ServiceSpec";
const SLICE: &str = "io.k8s.api.discovery.v1.EndpointSlice";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Service",
        columns: &[
            NAME,
            col("Type", "string", doc(SERVICE_SPEC, "type")),
            col("Cluster-IP", "string", doc(SERVICE_SPEC, "clusterIP")),
            col("External-IP", "string", doc(SERVICE_SPEC, "externalIPs")),
            col("Port(s)", "string", doc(SERVICE_SPEC, "ports")),
            AGE,
            wide("Selector", "string", doc(SERVICE_SPEC, "selector")),
        ],
        cells: service,
    },
    Printer {
        group: "",
        kind: "Endpoints",
        columns: &[
            NAME,
            col(
                "Endpoints",
                "string",
                doc("io.k8s.api.core.v1.Endpoints", "subsets"),
            ),
            AGE,
        ],
        cells: endpoints,
    },
    Printer {
        group: "discovery.k8s.io",
        kind: "EndpointSlice",
        columns: &[
            NAME,
            col("AddressType", "string", doc(SLICE, "addressType")),
            col("Ports", "string", doc(SLICE, "ports")),
            col("Endpoints", "string", doc(SLICE, "endpoints")),
            AGE,
        ],
        cells: endpoint_slice,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "Ingress",
        columns: &[
            NAME,
            col(
                "Class",
                "string",
                text(
                    "The name of the IngressClass resource that should be used for \
                     additional configuration",
                ),
            ),
            col(
                "Hosts",
                "string",
                text("Hosts that incoming requests are matched against before the ingress rule"),
            ),
            col(
                "Address",
                "string",
                text("Address is a list containing ingress points for the load-balancer"),
            ),
            col(
                "Ports",
                "string",
                text("Ports of TLS configurations that open"),
            ),
            AGE,
        ],
        cells: ingress,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "IngressClass",
        columns: &[
            NAME,
            col(
                "Controller",
                "string",
                text("Controller that is responsible for handling this class"),
            ),
            col(
                "Parameters",
                "string",
                text("A reference to a resource with additional parameters"),
            ),
            AGE,
        ],
        cells: ingress_class,
    },
    Printer {
        group: "networking.k8s.io",
        kind: "NetworkPolicy",
        columns: &[
            NAME,
            col(
                "Pod-Selector",
                "string",
                doc("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector"),
            ),
            AGE,
        ],
        cells: network_policy,
    },
];

/// The row of upstream's `printService`.
fn service(obj: &Value, now: Timestamp) -> Vec<Value> {
    let cluster_ip = match str_at(obj, "/spec/clusterIPs/0") {
        "" => "<none>",
        ip => ip,
    };
    let ports: Vec<String> = array_at(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let (port, protocol) = (int_at(p, "/port"), str_at(p, "/protocol"));
            match int_at(p, "/nodePort") {
                node if node > 0 => format!("{port}:{node}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        name(obj),
        json!(str_at(obj, "/spec/type")),
        json!(cluster_ip),
        json!(external_ip(obj)),
        json!(or_none(ports.join(","))),
        age(obj, now),
        json!(format_labels(obj.pointer("/spec/selector"))),
    ]
}

/// Upstream's `getServiceExternalIP`.
fn external_ip(svc: &Value) -> String {
    let external: Vec<&str> = array_at(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match str_at(svc, "/spec/type") {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let lb = load_balancer_ingress(array_at(svc, "/status/loadBalancer/ingress"));
            let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
            all.extend(external);
            match all.join(",") {
                s if s.is_empty() => "<pending>".to_string(),
                s => s,
            }
        }
        "ExternalName" => str_at(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// `ip:port`, bracketing IPv6 addresses (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The row of upstream's `printEndpoints`: up to three `ip:port`, then `+ N more...`.
fn endpoints(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(obj), json!(format_endpoints(obj)), age(obj, now)]
}

/// Upstream's `formatEndpoints` for all ports.
fn format_endpoints(obj: &Value) -> String {
    const MAX: usize = 3;
    let subsets = array_at(obj, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list = Vec::new();
    let mut more = false;
    let mut count = 0;
    for ss in subsets {
        let addresses = array_at(ss, "/addresses");
        let ports = array_at(ss, "/ports");
        // Headless services may have no ports: list the bare IPs.
        let port_numbers: Vec<Option<i64>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(|p| Some(int_at(p, "/port"))).collect()
        };
        for port in port_numbers {
            count += addresses.len();
            for addr in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = str_at(addr, "/ip");
                list.push(match port {
                    Some(port) => join_host_port(ip, port),
                    None => ip.to_string(),
                });
            }
        }
    }
    let shown = list.join(",");
    if more {
        format!("{shown} + {} more...", count - MAX)
    } else {
        shown
    }
}

/// The row of upstream's `printEndpointSlice`.
fn endpoint_slice(obj: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = array_at(obj, "/ports")
        .iter()
        .map(
            |p| match (p.get("port").and_then(Value::as_i64), str_at(p, "/name")) {
                (Some(port), _) => port.to_string(),
                (None, name) if p.get("name").is_some_and(|n| !n.is_null()) => name.to_string(),
                (None, _) => "*".to_string(),
            },
        )
        .collect();
    let addresses: Vec<String> = array_at(obj, "/endpoints")
        .iter()
        .flat_map(|e| array_at(e, "/addresses"))
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    vec![
        name(obj),
        json!(str_at(obj, "/addressType")),
        json!(list_with_more(&ports, 3)),
        json!(list_with_more(&addresses, 3)),
        age(obj, now),
    ]
}

/// The row of upstream's `printIngress`.
fn ingress(obj: &Value, now: Timestamp) -> Vec<Value> {
    let class = obj
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let ports = if array_at(obj, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(obj),
        json!(class),
        json!(hosts(array_at(obj, "/spec/rules"))),
        json!(load_balancer_ingress(array_at(
            obj,
            "/status/loadBalancer/ingress"
        ))),
        json!(ports),
        age(obj, now),
    ]
}

/// Upstream's `formatHosts`: the first three rules' hosts, `*` if none names one.
fn hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, "/host");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let shown = list.join(",");
    if more {
        format!("{shown} + {} more...", rules.len() - MAX)
    } else {
        shown
    }
}

/// The row of upstream's `printIngressClass`.
fn ingress_class(obj: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match obj.pointer("/spec/parameters").filter(|p| !p.is_null()) {
        None => "<none>".to_string(),
        Some(p) => {
            let kind = match p.get("apiGroup").and_then(Value::as_str) {
                Some(group) => format!("{}.{group}", str_at(p, "/kind")),
                None => str_at(p, "/kind").to_string(),
            };
            format!("{kind}/{}", str_at(p, "/name"))
        }
    };
    vec![
        name(obj),
        json!(str_at(obj, "/spec/controller")),
        json!(parameters),
        age(obj, now),
    ]
}

/// The row of upstream's `printNetworkPolicy`; a missing pod selector is the empty one.
fn network_policy(obj: &Value, now: Timestamp) -> Vec<Value> {
    let selector = obj
        .pointer("/spec/podSelector")
        .cloned()
        .unwrap_or_else(|| json!({}));
    vec![
        name(obj),
        json!(format_label_selector(Some(&selector))),
        age(obj, now),
    ]
}
