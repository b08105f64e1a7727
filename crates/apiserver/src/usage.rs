//! `metrics.k8s.io/v1beta1`, what `kubectl top` reads: NodeMetrics and PodMetrics built from
//! the kubelets' `/stats/summary` at request time (upstream runs metrics-server for this and
//! aggregates it; here the API server asks the nodes itself, which is all a small cluster
//! needs).

use std::collections::BTreeMap;

use apimachinery::{labels, resources, status::ApiError};
use http::{Response, StatusCode};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use crate::{
    Server, connect,
    request::{ResourcePath, Verb},
    response::{self, Body},
    rest::Query,
};

/// The group and version.
pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";

/// The resources of the group: (plural, singular, kind, namespaced).
pub const RESOURCES: &[(&str, &str, &str, bool)] = &[
    ("nodes", "node", "NodeMetrics", false),
    ("pods", "pod", "PodMetrics", true),
];

/// The verbs the group serves.
pub const VERBS: &[&str] = &["get", "list"];

/// The window the usage rates are averaged over, as metrics-server reports it.
const WINDOW: &str = "1s";

/// Serves a get or list of node or pod metrics (already authorized).
pub async fn serve(
    server: &Server,
    path: &ResourcePath,
    verb: Verb,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    if path.version != VERSION || !matches!(verb, Verb::Get | Verb::List) {
        return Err(ApiError::no_such_resource());
    }
    let selector = match query.get("labelSelector") {
        Some(s) => Some(labels::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?),
        None => None,
    };
    let nodes = list::<Node>(server, "nodes", None).await?;
    let summaries = futures::future::join_all(nodes.iter().map(|node| async move {
        let name = node.metadata.name.clone().unwrap_or_default();
        let summary = connect::get_json(server, &name, "/stats/summary").await;
        (node, summary)
    }))
    .await;
    let now = jiff::Timestamp::now().to_string();
    let mut items = Vec::new();
    match path.resource.as_str() {
        "nodes" => {
            for (node, summary) in &summaries {
                let Ok(summary) = summary else { continue };
                let labels = node.metadata.labels.clone().unwrap_or_default();
                if selector.as_ref().is_some_and(|s| !s.matches(&labels)) {
                    continue;
                }
                items.push(json!({
                    "metadata": {"name": node.metadata.name, "labels": labels, "creationTimestamp": now},
                    "timestamp": summary["node"]["cpu"]["time"],
                    "window": WINDOW,
                    "usage": usage(&summary["node"]),
                }));
            }
        }
        "pods" => {
            let pods = list::<Pod>(server, "pods", path.namespace.as_deref()).await?;
            let labels_of: BTreeMap<(String, String), BTreeMap<String, String>> = pods
                .into_iter()
                .map(|p| {
                    let key = (
                        p.metadata.namespace.clone().unwrap_or_default(),
                        p.metadata.name.clone().unwrap_or_default(),
                    );
                    (key, p.metadata.labels.unwrap_or_default())
                })
                .collect();
            for (_, summary) in &summaries {
                let Ok(summary) = summary else { continue };
                for pod in summary["pods"].as_array().into_iter().flatten() {
                    let namespace = pod["podRef"]["namespace"].as_str().unwrap_or_default();
                    let name = pod["podRef"]["name"].as_str().unwrap_or_default();
                    let Some(labels) = labels_of.get(&(namespace.to_string(), name.to_string()))
                    else {
                        continue;
                    };
                    if selector.as_ref().is_some_and(|s| !s.matches(labels)) {
                        continue;
                    }
                    let containers: Vec<Value> = pod["containers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| json!({"name": c["name"], "usage": usage(c)}))
                        .collect();
                    items.push(json!({
                        "metadata": {"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": now},
                        "timestamp": pod["containers"][0]["cpu"]["time"],
                        "window": WINDOW,
                        "containers": containers,
                    }));
                }
            }
        }
        _ => return Err(ApiError::no_such_resource()),
    }
    let (_, _, kind, _) = RESOURCES
        .iter()
        .find(|(plural, ..)| *plural == path.resource)
        .expect("matched above");
    let with_type = |mut v: Value| {
        v["kind"] = json!(kind);
        v["apiVersion"] = json!(format!("{GROUP}/{VERSION}"));
        v
    };
    let body = match &path.name {
        Some(name) => {
            let found = items
                .into_iter()
                .find(|i| i["metadata"]["name"] == name.as_str())
                .ok_or_else(|| {
                    ApiError::from_response(
                        404,
                        format!("{}.{GROUP} \"{name}\" not found", path.resource),
                    )
                })?;
            with_type(found)
        }
        None => json!({
            "kind": format!("{kind}List"),
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "metadata": {},
            "items": items,
        }),
    };
    Ok(response::object(
        StatusCode::OK,
        response::Format::Json,
        &body,
    ))
}

/// A summary entry's usage as quantities: CPU in nanocores, memory in kibibytes.
fn usage(entry: &Value) -> Value {
    let cpu = entry["cpu"]["usageNanoCores"].as_u64().unwrap_or(0);
    let memory = entry["memory"]["workingSetBytes"].as_u64().unwrap_or(0);
    json!({"cpu": format!("{cpu}n"), "memory": format!("{}Ki", memory / 1024)})
}

async fn list<T: serde::de::DeserializeOwned>(
    server: &Server,
    plural: &str,
    namespace: Option<&str>,
) -> Result<Vec<T>, ApiError> {
    let info = resources::find("", "v1", plural).expect("a core resource");
    let cache = server.store.cache();
    let revision = cache.sync().await?;
    let snapshot = cache.resource(info).snapshot(namespace, revision);
    Ok(snapshot
        .objects
        .iter()
        .filter_map(|e| serde_json::from_value(e.object()).ok())
        .collect())
}
