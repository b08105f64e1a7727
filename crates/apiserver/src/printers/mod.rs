//! Table printers: the columns `kubectl get` shows for each kind and the cells of one row, as
//! upstream's printers print them.

use serde_json::{Value, json};

/// One column of a table.
pub struct Column {
    /// The header, e.g. `READY`.
    pub name: &'static str,
    /// `string`, `integer`, `date`, `number` or `boolean`.
    pub type_: &'static str,
    /// `name` for the name column, empty otherwise.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: i32,
}

const fn col(name: &'static str, type_: &'static str, priority: i32) -> Column {
    Column {
        name,
        type_,
        format: "",
        description: "",
        priority,
    }
}

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: "Name must be unique within a namespace.",
    priority: 0,
};
const AGE: Column = col("Age", "string", 0);

const NAMESPACE_COLUMNS: &[Column] = &[NAME, col("Status", "string", 0), AGE];
const CONFIGMAP_COLUMNS: &[Column] = &[NAME, col("Data", "integer", 0), AGE];
const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", 0),
    col("Data", "integer", 0),
    AGE,
];
const POD_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", 0),
    col("Status", "string", 0),
    col("Restarts", "string", 0),
    AGE,
    col("IP", "string", 1),
    col("Node", "string", 1),
    col("Nominated Node", "string", 1),
    col("Readiness Gates", "string", 1),
];
const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col("Type", "string", 0),
    col("Cluster-IP", "string", 0),
    col("External-IP", "string", 0),
    col("Port(s)", "string", 0),
    AGE,
    col("Selector", "string", 1),
];
const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", 0),
    col("Up-to-date", "string", 0),
    col("Available", "string", 0),
    AGE,
    col("Containers", "string", 1),
    col("Images", "string", 1),
    col("Selector", "string", 1),
];
const REPLICASET_COLUMNS: &[Column] = &[
    NAME,
    col("Desired", "integer", 0),
    col("Current", "integer", 0),
    col("Ready", "integer", 0),
    AGE,
    col("Containers", "string", 1),
    col("Images", "string", 1),
    col("Selector", "string", 1),
];
const DEFAULT_COLUMNS: &[Column] = &[NAME, AGE];

/// The columns of a kind (group `""` is core).
pub fn columns(group: &str, kind: &str) -> &'static [Column] {
    match (group, kind) {
        ("", "Namespace") => NAMESPACE_COLUMNS,
        ("", "ConfigMap") => CONFIGMAP_COLUMNS,
        ("", "Secret") => SECRET_COLUMNS,
        ("", "Pod") => POD_COLUMNS,
        ("", "Service") => SERVICE_COLUMNS,
        ("apps", "Deployment") => DEPLOYMENT_COLUMNS,
        ("apps", "ReplicaSet") => REPLICASET_COLUMNS,
        _ => DEFAULT_COLUMNS,
    }
}

/// Upstream's human duration of the time since `timestamp`: `45s`, `5m30s`, `2d3h`, `3y`.
pub fn age(timestamp: Option<&str>, now: jiff::Timestamp) -> String {
    let Some(then) = timestamp.and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".to_string();
    };
    let secs = now.as_second() - then.as_second();
    if secs < 0 {
        return "<invalid>".to_string();
    }
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    match secs {
        s if s < 120 => format!("{s}s"),
        _ if m < 10 => match secs % 60 {
            0 => format!("{m}m"),
            s => format!("{m}m{s}s"),
        },
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => match m % 60 {
            0 => format!("{h}h"),
            mm => format!("{h}h{mm}m"),
        },
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => match h % 24 {
            0 => format!("{d}d"),
            hh => format!("{d}d{hh}h"),
        },
        _ if d < 365 * 2 => format!("{d}d"),
        _ if d < 365 * 8 => match d % 365 {
            0 => format!("{}y", d / 365),
            dd => format!("{}y{dd}d", d / 365),
        },
        _ => format!("{}y", d / 365),
    }
}

fn s<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn n(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn len(obj: &Value, pointer: &str) -> usize {
    match obj.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn or_none(v: String) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v
    }
}

fn containers(spec: &Value) -> (String, String) {
    let list = spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = list.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = list.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".to_string();
    };
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let key = s(e, "/key");
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    or_none(parts.join(","))
}

fn pod_status(pod: &Value) -> String {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".to_string();
    }
    let mut reason = s(pod, "/status/reason").to_string();
    if reason.is_empty() {
        reason = s(pod, "/status/phase").to_string();
    }
    for c in pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            reason = r.to_string();
        } else if let Some(r) = c
            .pointer("/state/terminated/reason")
            .and_then(Value::as_str)
        {
            reason = r.to_string();
        }
    }
    or_none(reason)
}

/// The cells of one row of a kind's table.
pub fn cells(group: &str, kind: &str, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let name = json!(s(obj, "/metadata/name"));
    let age = json!(age(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now
    ));
    match (group, kind) {
        ("", "Namespace") => vec![name, json!(s(obj, "/status/phase")), age],
        ("", "ConfigMap") => vec![
            name,
            json!(len(obj, "/data") + len(obj, "/binaryData")),
            age,
        ],
        ("", "Secret") => vec![name, json!(s(obj, "/type")), json!(len(obj, "/data")), age],
        ("", "Pod") => {
            let total = len(obj, "/spec/containers");
            let statuses = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready") == Some(&json!(true)))
                .count();
            let restarts: i64 = statuses.iter().map(|c| n(c, "/restartCount")).sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts.to_string()),
                age,
                json!(or_none(s(obj, "/status/podIP").to_string())),
                json!(or_none(s(obj, "/spec/nodeName").to_string())),
                json!(or_none(s(obj, "/status/nominatedNodeName").to_string())),
                json!("<none>"),
            ]
        }
        ("", "Service") => {
            let type_ = match s(obj, "/spec/type") {
                "" => "ClusterIP",
                t => t,
            };
            let ports: Vec<String> = obj
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let proto = match s(p, "/protocol") {
                        "" => "TCP",
                        p => p,
                    };
                    match n(p, "/nodePort") {
                        0 => format!("{}/{proto}", n(p, "/port")),
                        node => format!("{}:{node}/{proto}", n(p, "/port")),
                    }
                })
                .collect();
            let external = match type_ {
                "ExternalName" => s(obj, "/spec/externalName").to_string(),
                "LoadBalancer" => {
                    let ips: Vec<&str> = obj
                        .pointer("/status/loadBalancer/ingress")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|i| s(i, "/ip"))
                        .collect();
                    if ips.is_empty() {
                        "<pending>".to_string()
                    } else {
                        ips.join(",")
                    }
                }
                _ => "<none>".to_string(),
            };
            let sel = obj
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            vec![
                name,
                json!(type_),
                json!(or_none(s(obj, "/spec/clusterIP").to_string())),
                json!(external),
                json!(or_none(ports.join(","))),
                age,
                json!(or_none(sel)),
            ]
        }
        ("apps", "Deployment") => {
            let (names, images) =
                containers(obj.pointer("/spec/template/spec").unwrap_or(&Value::Null));
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    n(obj, "/status/readyReplicas"),
                    n(obj, "/spec/replicas")
                )),
                json!(n(obj, "/status/updatedReplicas")),
                json!(n(obj, "/status/availableReplicas")),
                age,
                json!(names),
                json!(images),
                json!(selector(obj.pointer("/spec/selector"))),
            ]
        }
        ("apps", "ReplicaSet") => {
            let (names, images) =
                containers(obj.pointer("/spec/template/spec").unwrap_or(&Value::Null));
            vec![
                name,
                json!(n(obj, "/spec/replicas")),
                json!(n(obj, "/status/replicas")),
                json!(n(obj, "/status/readyReplicas")),
                age,
                json!(names),
                json!(images),
                json!(selector(obj.pointer("/spec/selector"))),
            ]
        }
        _ => vec![name, age],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_upstream() {
        let now: jiff::Timestamp = "2024-01-10T00:00:00Z".parse().unwrap();
        for (then, want) in [
            ("2024-01-09T23:59:15Z", "45s"),
            ("2024-01-09T23:54:30Z", "5m30s"),
            ("2024-01-09T22:00:00Z", "120m"),
            ("2024-01-09T19:30:00Z", "4h30m"),
            ("2024-01-07T21:00:00Z", "2d3h"),
        ] {
            assert_eq!(age(Some(then), now), want, "{then}");
        }
    }

    #[test]
    fn service_ports_and_deployment_readiness() {
        let now = jiff::Timestamp::now();
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.43.0.5", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let row = cells("", "Service", &svc, now);
        assert_eq!(row[4], "80:30080/TCP");
        let deploy = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}}, "status": {"readyReplicas": 2}});
        let row = cells("apps", "Deployment", &deploy, now);
        assert_eq!(row[1], "2/3");
        assert_eq!(row[7], "app=web");
        assert_eq!(columns("apps", "Deployment").len(), row.len());
    }
}
