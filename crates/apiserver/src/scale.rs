//! The `scale` subresource: an `autoscaling/v1` Scale view of a workload's `spec.replicas`.

use apimachinery::{
    labels, meta,
    patch::{self, PatchType},
    resources::ResourceInfo,
    status::ApiError,
    validation::{FieldError, Path},
};
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    request::Verb,
    response::{self, Body},
    rest::{Call, decode_body},
};

/// The label selector of a workload in its string form.
fn selector(info: &ResourceInfo, obj: &Value) -> String {
    let Some(sel) = obj.pointer("/spec/selector") else {
        return String::new();
    };
    if info.kind == "ReplicationController" {
        let map = sel.as_object().cloned().unwrap_or_default();
        return map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(",");
    }
    serde_json::from_value(sel.clone())
        .ok()
        .and_then(|s| labels::from_label_selector(&s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The Scale of a workload object.
pub fn scale_of(info: &ResourceInfo, obj: &Value) -> Value {
    let m = meta::metadata(obj).cloned().unwrap_or_default();
    let mut metadata = serde_json::Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = m.get(field) {
            metadata.insert(field.into(), v.clone());
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector(info, obj),
        },
    })
}

fn scale_invalid(name: &str, replicas: i64) -> ApiError {
    let mut err = ApiError::invalid(
        crate::rest::resource_of(&crate::request::ResourcePath {
            group: "apps".into(),
            version: "v1".into(),
            resource: "deployments".into(),
            ..Default::default()
        })
        .expect("deployments are served"),
        name,
        &[FieldError::invalid(
            &Path::new("spec").child("replicas"),
            json!(replicas),
            "must be greater than or equal to 0",
        )],
    );
    err.message = err
        .message
        .replacen("Deployment.apps", "Scale.autoscaling", 1);
    err.group = Some("autoscaling".into());
    err.kind = Some("Scale".into());
    err
}

/// Serves GET, PUT and PATCH of `<resource>/scale`.
pub async fn serve(call: &Call<'_>, body: Bytes) -> Result<Response<Body>, ApiError> {
    let info = call.info;
    let store = &call.server.store;
    let namespace = call.path.namespace.as_deref();
    let name = call.path.name.as_deref().unwrap_or("");
    let current = store.get(info, namespace, name).await?;
    if call.verb == Verb::Get {
        return Ok(response::object(
            StatusCode::OK,
            call.format,
            &scale_of(info, &current),
        ));
    }
    let scale = scale_of(info, &current);
    let wanted = match call.verb {
        Verb::Update => decode_body(call.headers, &body)?,
        _ => {
            let content_type = call
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let patch_doc = decode_body(call.headers, &body)?;
            match PatchType::from_content_type(content_type).map_err(|e| e.to_api_error())? {
                PatchType::Json => patch::json::apply(&scale, &patch_doc),
                PatchType::Merge | PatchType::Strategic => patch::merge::apply(&scale, &patch_doc),
                PatchType::Apply => return Err(ApiError::unsupported_media_type(content_type)),
            }
            .map_err(|e| e.to_api_error())?
        }
    };
    let replicas = wanted
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(scale_invalid(name, replicas));
    }
    let mut change = json!({"spec": {"replicas": replicas}});
    let rv = meta::resource_version(&wanted);
    if !rv.is_empty() {
        change["metadata"] = json!({"resourceVersion": rv});
    }
    let opts = call.write_options()?;
    let written = store
        .patch(
            info,
            namespace,
            name,
            PatchType::Merge,
            &change,
            None,
            &opts,
        )
        .await?;
    Ok(response::object(
        StatusCode::OK,
        call.format,
        &scale_of(info, &written.object),
    ))
}
