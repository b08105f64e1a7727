//! The REST verbs of resources: decodes the request, calls the generic store and encodes the
//! answer in the format the client asked for.

use std::collections::HashMap;

use apimachinery::{
    fields, labels, meta,
    patch::PatchType,
    resources::{self, ResourceInfo, Subresource},
    status::{self, ApiError},
};
use bytes::Bytes;
use http::{Response, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

use crate::{
    Server,
    authn::User,
    registry::{
        generic::{
            DeleteOptions, FieldValidation, ListOptions, ListPage, WriteOptions, decode_continue,
            set_type,
        },
        strategy,
    },
    request::{ResourcePath, Verb},
    response::{self, Body, Format},
    table::{self, IncludeObject},
};

/// The query parameters of a request.
pub type Query = HashMap<String, String>;

/// One resource request, decoded.
pub struct Call<'a> {
    /// The server.
    pub server: &'a Server,
    /// Who asks.
    pub user: &'a User,
    /// The resource.
    pub info: &'static ResourceInfo,
    /// The parsed path.
    pub path: &'a ResourcePath,
    /// The verb.
    pub verb: Verb,
    /// The query.
    pub query: &'a Query,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The response format.
    pub format: Format,
}

impl Call<'_> {
    fn namespace(&self) -> Option<&str> {
        if self.info.namespaced {
            self.path.namespace.as_deref()
        } else {
            None
        }
    }

    fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or("")
    }

    fn subresource(&self) -> Result<Option<Subresource>, ApiError> {
        match &self.path.subresource {
            None => Ok(None),
            Some(name) => match Subresource::from_name(name) {
                Some(sub) if self.info.has(sub) => Ok(Some(sub)),
                _ => Err(ApiError::no_such_resource()),
            },
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The write options of the query (`dryRun`, `fieldManager`, `fieldValidation`, `force`).
    pub fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let validation = match self.query.get("fieldValidation").map(String::as_str) {
            None | Some("") | Some("Warn") => FieldValidation::Warn,
            Some("Ignore") => FieldValidation::Ignore,
            Some("Strict") => FieldValidation::Strict,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation parameter unsupported: {other}"
                )));
            }
        };
        let dry_run = match self.query.get("dryRun").map(String::as_str) {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "dryRun parameter unsupported: {other}: supported values: \"All\""
                )));
            }
        };
        let field_manager = match self.query.get("fieldManager") {
            Some(m) if !m.is_empty() => m.clone(),
            _ => default_manager(self.header("user-agent").unwrap_or("")),
        };
        if field_manager.len() > 128 {
            return Err(ApiError::bad_request(
                "fieldManager must be at most 128 characters",
            ));
        }
        Ok(WriteOptions {
            dry_run,
            field_manager,
            validation,
            force: self.query.get("force").is_some_and(|f| f == "true"),
        })
    }

    fn list_options(&self) -> Result<ListOptions, ApiError> {
        let labels =
            match self.query.get("labelSelector").filter(|s| !s.is_empty()) {
                Some(s) => Some(labels::parse(s).map_err(|e| {
                    ApiError::bad_request(format!("unable to parse requirement: {e}"))
                })?),
                None => None,
            };
        let fields = match self.query.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(s) => Some(fields::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?),
            None => None,
        };
        let limit = match self.query.get("limit").filter(|s| !s.is_empty()) {
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
                .max(0) as usize,
            None => 0,
        };
        let continue_after = match self.query.get("continue").filter(|s| !s.is_empty()) {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        Ok(ListOptions {
            labels,
            fields,
            limit,
            continue_after,
            resource_version: self.query.get("resourceVersion").cloned(),
        })
    }

    pub(crate) fn respond(&self, status: StatusCode, obj: &Value) -> Response<Body> {
        match self.format {
            Format::Table if obj.get("kind").and_then(Value::as_str) != Some("Status") => {
                let list_meta = json!({"resourceVersion": meta::resource_version(obj)});
                let table = table::table(
                    self.info,
                    std::iter::once(obj),
                    list_meta,
                    IncludeObject::parse(self.query.get("includeObject").map(String::as_str)),
                );
                response::object(status, Format::Json, &table)
            }
            Format::Metadata => {
                response::object(status, Format::Json, &table::partial_metadata(obj))
            }
            format => response::object(status, format, obj),
        }
    }
}

/// The field manager upstream derives from a user agent: `kubectl/v1.33.0 (linux/amd64) …`
/// becomes `kubectl`.
fn default_manager(user_agent: &str) -> String {
    let manager = user_agent.split('/').next().unwrap_or("").trim();
    if manager.is_empty() {
        "unknown".to_string()
    } else {
        manager.chars().take(128).collect()
    }
}

/// Decodes a request body as JSON or YAML.
pub fn decode_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if body.is_empty() {
        return Err(ApiError::bad_request("request body is empty"));
    }
    match mime {
        "application/yaml"
        | "application/apply-patch+yaml"
        | "application/x-yaml"
        | "text/yaml" => {
            let value: serde_yaml::Value = serde_yaml::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("error converting YAML to JSON: {e}"))
            })?;
            serde_json::to_value(value).map_err(|e| ApiError::bad_request(e.to_string()))
        }
        "application/json"
        | "application/json-patch+json"
        | "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        }),
        "application/vnd.kubernetes.protobuf" => apimachinery::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("decoding the protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn delete_options(call: &Call<'_>, body: &Bytes) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions::default();
    if !body.is_empty() {
        let v = decode_body(call.headers, body)?;
        opts.grace_period = v.get("gracePeriodSeconds").and_then(Value::as_i64);
        opts.propagation = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        if v.get("orphanDependents") == Some(&json!(true)) && opts.propagation.is_none() {
            opts.propagation = Some("Orphan".into());
        }
        opts.uid = v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.resource_version = v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.dry_run = v
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    }
    if let Some(g) = call.query.get("gracePeriodSeconds") {
        opts.grace_period = Some(
            g.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds: {g}")))?,
        );
    }
    if let Some(p) = call.query.get("propagationPolicy") {
        opts.propagation = Some(p.clone());
    }
    if call.query.get("dryRun").is_some_and(|d| d == "All") {
        opts.dry_run = true;
    }
    if let Some(p) = &opts.propagation
        && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
    {
        return Err(ApiError::invalid(
            call.info,
            call.name(),
            &[apimachinery::validation::FieldError::not_supported(
                &apimachinery::validation::Path::new("propagationPolicy"),
                json!(p),
                &["Foreground", "Background", "Orphan"],
            )],
        ));
    }
    Ok(opts)
}

fn list_object(info: &ResourceInfo, page: &ListPage) -> Bytes {
    // The list is assembled from each object's cached encoding.
    let mut meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(token) = &page.continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(n) = page.remaining {
        meta["remainingItemCount"] = json!(n);
    }
    let mut out =
        Vec::with_capacity(page.items.iter().map(|e| e.json.len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            info.list_kind,
            info.api_version(),
            meta
        )
        .as_bytes(),
    );
    for (i, e) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&e.json);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

/// Serves a resource request (all verbs but watch).
pub async fn serve(call: Call<'_>, body: Bytes) -> Result<Response<Body>, ApiError> {
    let store = &call.server.store;
    let info = call.info;
    let sub = call.subresource()?;
    if info.namespaced
        && call.path.namespace.is_none()
        && !matches!(call.verb, Verb::List | Verb::Watch)
    {
        return Err(ApiError::no_such_resource());
    }
    let namespace = call.namespace();
    let name = call.name().to_string();
    // Verbs on one object need its name; creates never take one (subresources aside).
    match (call.verb, call.path.name.is_some(), sub.is_some()) {
        (Verb::Get | Verb::Update | Verb::Patch | Verb::Delete, false, _) => {
            return Err(ApiError::method_not_allowed());
        }
        (Verb::Create, true, false) => return Err(ApiError::method_not_allowed()),
        _ => {}
    }
    match (call.verb, sub) {
        (Verb::List, None) => {
            let opts = call.list_options()?;
            let page = store
                .list(info, namespace, &opts, strategy(info).fields())
                .await?;
            Ok(match call.format {
                Format::Json => {
                    response::bytes(StatusCode::OK, "application/json", list_object(info, &page))
                }
                Format::Yaml => {
                    let v: Value = serde_json::from_slice(&list_object(info, &page))
                        .map_err(ApiError::internal)?;
                    response::object(StatusCode::OK, Format::Yaml, &v)
                }
                Format::Table | Format::Metadata => {
                    let mut list_meta = json!({"resourceVersion": page.revision.to_string()});
                    if let Some(token) = &page.continue_token {
                        list_meta["continue"] = json!(token);
                    }
                    let decoded: Vec<Value> = page.items.iter().map(|e| e.object()).collect();
                    let objects = decoded.iter();
                    let v = if call.format == Format::Table {
                        table::table(
                            info,
                            objects,
                            list_meta,
                            IncludeObject::parse(
                                call.query.get("includeObject").map(String::as_str),
                            ),
                        )
                    } else {
                        table::partial_metadata_list(objects, list_meta)
                    };
                    response::object(StatusCode::OK, Format::Json, &v)
                }
            })
        }
        (Verb::Get, None | Some(Subresource::Status)) => {
            let obj = store.get(info, namespace, &name).await?;
            Ok(call.respond(StatusCode::OK, &obj))
        }
        (Verb::Create, None) => {
            let obj = decode_body(call.headers, &body)?;
            let opts = call.write_options()?;
            let written = store.create(info, namespace, obj, &opts).await?;
            let mut resp = call.respond(StatusCode::CREATED, &written.object);
            response::warn(&mut resp, &written.warnings);
            Ok(resp)
        }
        (Verb::Update, None | Some(Subresource::Status)) => {
            let obj = decode_body(call.headers, &body)?;
            let opts = call.write_options()?;
            let written = store
                .update(info, namespace, &name, obj, sub, &opts)
                .await?;
            let code = if written.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut resp = call.respond(code, &written.object);
            response::warn(&mut resp, &written.warnings);
            Ok(resp)
        }
        (Verb::Patch, None | Some(Subresource::Status)) => {
            let content_type = call.header("content-type").unwrap_or("");
            let patch_type =
                PatchType::from_content_type(content_type).map_err(|e| e.to_api_error())?;
            let patch = decode_body(call.headers, &body)?;
            let mut opts = call.write_options()?;
            if patch_type == PatchType::Apply && !call.query.contains_key("fieldManager") {
                return Err(ApiError::bad_request(
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            if patch_type != PatchType::Apply && opts.force {
                return Err(ApiError::bad_request(
                    "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
                ));
            }
            if patch_type != PatchType::Apply {
                opts.force = false;
            }
            let written = store
                .patch(info, namespace, &name, patch_type, &patch, sub, &opts)
                .await?;
            let code = if written.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut resp = call.respond(code, &written.object);
            response::warn(&mut resp, &written.warnings);
            Ok(resp)
        }
        (Verb::Delete, None) => {
            let opts = delete_options(&call, &body)?;
            let (obj, gone) = store.delete(info, namespace, &name, &opts).await?;
            let code = if !gone && opts.propagation.as_deref() == Some("Foreground") {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            if gone && call.format == Format::Json && info.kind == "Namespace" {
                return Ok(call.respond(code, &status::success(info, &name, meta::uid(&obj))));
            }
            Ok(call.respond(code, &obj))
        }
        (Verb::DeleteCollection, None) => {
            let opts = delete_options(&call, &body)?;
            let list = call.list_options()?;
            let deleted = store
                .delete_collection(info, namespace, &list, &opts)
                .await?;
            let v = json!({
                "kind": info.list_kind,
                "apiVersion": info.api_version(),
                "metadata": {},
                "items": deleted,
            });
            Ok(response::object(StatusCode::OK, call.format.min_json(), &v))
        }
        (Verb::Get | Verb::Update | Verb::Patch, Some(Subresource::Scale)) => {
            crate::scale::serve(&call, body).await
        }
        (Verb::Create, Some(Subresource::Binding)) => crate::binding::bind(&call, body).await,
        (Verb::Create, Some(Subresource::Eviction)) => crate::binding::evict(&call, body).await,
        (Verb::Create, Some(Subresource::Token)) => crate::token_request::create(&call, body).await,
        (Verb::Update, Some(Subresource::Finalize)) => {
            let obj = decode_body(call.headers, &body)?;
            let opts = call.write_options()?;
            let written = store.update(info, None, &name, obj, sub, &opts).await?;
            Ok(call.respond(StatusCode::OK, &written.object))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

impl Format {
    /// Tables do not apply to this response: JSON unless YAML was asked.
    fn min_json(self) -> Format {
        if self == Format::Yaml {
            Format::Yaml
        } else {
            Format::Json
        }
    }
}

/// Looks up the resource of a path.
pub fn resource_of(path: &ResourcePath) -> Option<&'static ResourceInfo> {
    resources::find(&path.group, &path.version, &path.resource)
}

/// Fills `apiVersion`/`kind` on an object for a response.
pub fn typed(info: &ResourceInfo, mut obj: Value) -> Value {
    set_type(info, &mut obj);
    obj
}
