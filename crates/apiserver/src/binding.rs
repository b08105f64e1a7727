//! The `pods/binding` and `pods/eviction` subresources: the scheduler assigns a pod to a node
//! by posting a Binding; `kubectl drain` and controllers evict a pod, honouring its
//! PodDisruptionBudgets.

use apimachinery::{
    labels, meta,
    resources::{self, Subresource},
    status::{self, ApiError},
    validation::{FieldError, Path},
};
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    registry::generic::{Change, DeleteOptions, ListOptions},
    response::Body,
    rest::{Call, decode_body},
};

/// POST `pods/<name>/binding`: sets `spec.nodeName` once and marks the pod scheduled.
pub async fn bind(call: &Call<'_>, body: Bytes) -> Result<Response<Body>, ApiError> {
    let info = call.info;
    let name = call.path.name.as_deref().unwrap_or("");
    let namespace = call.path.namespace.as_deref();
    let binding = decode_body(call.headers, &body)?;
    let target = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if target.is_empty() {
        let bindings = resources::find_kind("", "v1", "Binding").unwrap_or(info);
        let path = Path::new("target").child("name");
        return Err(ApiError::invalid(
            bindings,
            name,
            &[FieldError::required(&path, "")],
        ));
    }
    let annotations = binding.pointer("/metadata/annotations").cloned();
    let opts = call.write_options()?;
    call.server
        .store
        .guaranteed_update(
            info,
            namespace,
            name,
            false,
            &opts,
            |current| {
                let Some(pod) = current else {
                    return Err(ApiError::not_found(info, name));
                };
                if meta::is_deleting(pod) {
                    return Err(ApiError::conflict(
                        info,
                        name,
                        &format!("pod {name} is being deleted, cannot be assigned to a host"),
                    ));
                }
                let assigned = pod
                    .pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !assigned.is_empty() {
                    return Err(ApiError::conflict(
                        info,
                        name,
                        &format!("pod {name} is already assigned to node \"{assigned}\""),
                    ));
                }
                let mut pod = pod.clone();
                pod["spec"]["nodeName"] = json!(target);
                if let Some(Value::Object(extra)) = &annotations {
                    let meta = meta::metadata_mut(&mut pod);
                    let existing = meta.entry("annotations").or_insert_with(|| json!({}));
                    for (k, v) in extra {
                        existing[k] = v.clone();
                    }
                }
                set_condition(&mut pod, "PodScheduled", "True", None, None);
                Ok(Change::Update(pod))
            },
            Some(Subresource::Binding),
        )
        .await?;
    Ok(created(call))
}

/// Sets or replaces a pod condition, keeping the transition time when the status stays.
fn set_condition(
    pod: &mut Value,
    kind: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
) {
    let now = meta::now();
    let conditions = pod["status"]
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let conditions = match conditions {
        Some(c) => c,
        None => {
            pod["status"] = json!({"conditions": []});
            &mut pod["status"]["conditions"]
        }
    };
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let mut condition =
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        condition["reason"] = json!(r);
    }
    if let Some(m) = message {
        condition["message"] = json!(m);
    }
    match list.iter_mut().find(|c| c["type"] == kind) {
        Some(existing) => {
            if existing["status"] == status {
                condition["lastTransitionTime"] = existing["lastTransitionTime"].clone();
            }
            *existing = condition;
        }
        None => list.push(condition),
    }
}

/// POST `pods/<name>/eviction`: deletes the pod unless a PodDisruptionBudget forbids it.
pub async fn evict(call: &Call<'_>, body: Bytes) -> Result<Response<Body>, ApiError> {
    let info = call.info;
    let name = call.path.name.as_deref().unwrap_or("");
    let namespace = call.path.namespace.as_deref();
    let eviction = decode_body(call.headers, &body)?;
    let store = &call.server.store;
    let pod = store.get(info, namespace, name).await?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    // A pod that is not running cannot be disrupted further: evicting it is always allowed.
    if !matches!(phase, "Succeeded" | "Failed" | "Pending") {
        let pdbs =
            resources::find("policy", "v1", "poddisruptionbudgets").expect("PDBs are served");
        let page = store
            .list(pdbs, namespace, &ListOptions::default(), &[])
            .await?;
        let pod_labels = meta::labels(&pod);
        for entry in &page.items {
            let pdb = entry.object();
            let Some(selector) = pdb
                .pointer("/spec/selector")
                .cloned()
                .and_then(|s| serde_json::from_value(s).ok())
                .and_then(|s| labels::from_label_selector(&s).ok())
            else {
                continue;
            };
            if selector.is_empty() || !selector.matches_json(pod_labels) {
                continue;
            }
            let allowed = pdb
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if allowed <= 0 {
                let mut err = ApiError::too_many_requests(10);
                err.message =
                    "Cannot evict pod as it would violate the pod's disruption budget.".into();
                err.causes = vec![status::Cause {
                    reason: "DisruptionBudget".into(),
                    message: format!(
                        "The disruption budget {} needs {} healthy pods and has {} currently",
                        meta::name(&pdb),
                        pdb.pointer("/status/desiredHealthy")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                        pdb.pointer("/status/currentHealthy")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                    ),
                    field: String::new(),
                }];
                return Err(err);
            }
        }
    }
    let mut opts = DeleteOptions::default();
    if let Some(grace) = eviction
        .pointer("/deleteOptions/gracePeriodSeconds")
        .and_then(Value::as_i64)
    {
        opts.grace_period = Some(grace);
    }
    store.delete(info, namespace, name, &opts).await?;
    Ok(created(call))
}

/// The `201 Created` Success Status both subresources answer with.
fn created(call: &Call<'_>) -> Response<Body> {
    let mut ok = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    ok["code"] = json!(201);
    call.respond(StatusCode::CREATED, &ok)
}
