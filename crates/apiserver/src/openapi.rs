//! The OpenAPI documents the server publishes: Swagger 2.0 at `/openapi/v2` (JSON, or the
//! protobuf encoding of gnostic's `openapi.v2.Document`) and OpenAPI 3.0 per group version at
//! `/openapi/v3/<api/v1 | apis/<group>/<version>>`, with an index at `/openapi/v3`. Schemas
//! come from [`apimachinery::schema`], paths and operations from the resource registry
//! (`paths`), shaped the way upstream's kube-openapi shapes them.
//!
//! What kubectl 1.27–1.33 reads:
//!
//! - Server-side field validation: before a create, replace, apply or edit, kubectl asks whether
//!   the kind supports the `fieldValidation` query parameter (cli-runtime's
//!   `QueryParamVerifierV3`). It fetches the kind's group-version document and looks, among the
//!   PATCH operations of all paths, for the first one whose `x-kubernetes-group-version-kind`
//!   (an object) is the kind, then for a parameter named `fieldValidation` among that
//!   operation's own parameters. Every PATCH operation carries it, since Go's map order decides
//!   which one is "first". A group version not in the index counts as a custom resource's:
//!   kubectl lists CRDs and, for one, asks the same about core/v1 `Namespace`. Any other failure
//!   (no document, or no PATCH path for the kind) falls back to the v2 `QueryParamVerifier` (see
//!   `V2_PATHS`). Unsupported means client-side validation against the v2 definitions.
//! - `kubectl explain` (plaintext, 1.27+) reads the v3 document: the group-version-kind of the
//!   resource's list or item path, then the schema in `components.schemas` whose
//!   `x-kubernetes-group-version-kind` contains it. Field descriptions show only when a `$ref`
//!   is wrapped in `allOf` (as upstream does), since siblings of a `$ref` are ignored in 3.0.
//! - Patch metadata: `apply` and `diff` compute strategic merge patches from
//!   `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`, from the v3 document
//!   (1.29+, following `allOf[0]`/`$ref`) or from the v2 protobuf (1.27, 1.28).
//! - kubectl 1.27 and 1.28 fetch `/openapi/v2` as protobuf on every create, apply, replace,
//!   edit and diff, and fail the command if it cannot be decoded: client-go's
//!   `OpenAPISchema()` has no JSON fallback. `--output=plaintext-openapiv2` explain reads it too.
//!
//! Each document is built once, on first request, and served as shared bytes after.

mod paths;
mod proto;
mod sha512;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::OnceLock,
};

use apimachinery::{resources, schema};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use paths::{Body, Operation, Param, Route};

/// Where `$ref`s point in OpenAPI v3 documents.
const V3_PREFIX: &str = "#/components/schemas/";
/// Where `$ref`s point in OpenAPI v2 documents.
const V2_PREFIX: &str = "#/definitions/";

/// The media type of the protobuf answer to `/openapi/v2`, as upstream sends it.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

fn info() -> Value {
    json!({"title": "Kubernetes", "version": format!("v1.{}.0", crate::discovery::KUBE_MINOR)})
}

// ---------------------------------------------------------------------------------------------
// Schemas.

/// A definition as published: upstream's shapes for the types whose Go schema is special.
fn definition(name: &str, v3: bool) -> Option<Value> {
    let def = schema::definition(name)?;
    let description = def.get("description").cloned().unwrap_or(Value::Null);
    // IntOrString and Quantity: a string in v2, `oneOf` in v3 (kube-openapi's
    // `OpenAPIV3OneOfTypes`), which is also what makes `kubectl explain` print their names.
    let special = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" if v3 => Some(json!({
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        })),
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            Some(json!({"format": "int-or-string", "type": "string"}))
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" if v3 => {
            Some(json!({"oneOf": [{"type": "string"}, {"type": "number"}]}))
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => Some(json!({"type": "string"})),
        _ => None,
    };
    let mut out = match special {
        Some(mut s) => {
            if !description.is_null() {
                s["description"] = description;
            }
            s
        }
        None => def.clone(),
    };
    if v3 {
        to_v3(&mut out);
    } else {
        retarget_refs(&mut out, V2_PREFIX);
    }
    Some(out)
}

/// The name a `$ref` points at, whatever its prefix.
fn ref_name(r: &str) -> &str {
    r.rsplit('/').next().unwrap_or(r)
}

/// Points every `$ref` below `v` at `prefix`.
fn retarget_refs(v: &mut Value, prefix: &str) {
    match v {
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => *r = format!("{prefix}{}", ref_name(r)),
                    (_, v) => retarget_refs(v, prefix),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| retarget_refs(v, prefix)),
        _ => {}
    }
}

/// Rewrites a v2-style schema the way kube-openapi publishes it in v3: `$ref`s below
/// `#/components/schemas/`, and a `$ref` with siblings (a description, patch extensions)
/// wrapped as `allOf: [{$ref}]` next to them.
fn to_v3(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                let target = format!("{V3_PREFIX}{}", ref_name(r));
                if o.len() == 1 {
                    o.insert("$ref".into(), Value::String(target));
                    return;
                }
                o.remove("$ref");
                o.insert("allOf".into(), json!([{"$ref": target}]));
            }
            // Entries of a fresh `allOf` come out as they are; anything else may be a schema.
            o.values_mut().for_each(to_v3);
        }
        Value::Array(a) => a.iter_mut().for_each(to_v3),
        _ => {}
    }
}

/// Definition names `v` refers to.
fn refs_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(ref_name(r).to_string()),
                    _ => refs_of(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs_of(v, out)),
        _ => {}
    }
}

/// Every definition reachable from `roots`, as published in v3.
fn reachable_v3(roots: Vec<String>) -> BTreeMap<String, Value> {
    let mut seen = BTreeSet::new();
    let mut queue = roots;
    let mut out = BTreeMap::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(def) = definition(&name, true) else {
            continue;
        };
        refs_of(&def, &mut queue);
        out.insert(name, def);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rendering.

fn gvk_json((group, version, kind): paths::Gvk) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

fn body_schema(body: &Body, prefix: &str) -> Value {
    match body {
        Body::Ref(name) => json!({"$ref": format!("{prefix}{name}")}),
        Body::Text => json!({"type": "string"}),
    }
}

fn body_refs(route: &Route, out: &mut Vec<String>) {
    for op in &route.operations {
        let bodies = op
            .request
            .iter()
            .map(|(b, _, _)| b)
            .chain(op.responses.iter().filter_map(|r| r.body.as_ref()));
        for body in bodies {
            if let Body::Ref(name) = body {
                out.push(name.clone());
            }
        }
    }
}

fn v3_param(p: &Param) -> Value {
    let mut out = json!({
        "description": p.description,
        "in": p.location.as_str(),
        "name": p.name,
    });
    if p.required {
        out["required"] = json!(true);
    }
    out["schema"] = json!({"type": p.ty, "uniqueItems": true});
    out
}

fn v2_param(p: &Param) -> Value {
    let mut out = json!({
        "description": p.description,
        "in": p.location.as_str(),
        "name": p.name,
    });
    if p.required {
        out["required"] = json!(true);
    }
    out["type"] = json!(p.ty);
    out["uniqueItems"] = json!(true);
    out
}

fn extensions(op: &Operation, out: &mut Value) {
    if let Some(action) = op.action {
        out["x-kubernetes-action"] = json!(action);
    }
    if let Some(gvk) = op.gvk {
        out["x-kubernetes-group-version-kind"] = gvk_json(gvk);
    }
}

fn v3_operation(op: &Operation) -> Value {
    let mut out = json!({"description": op.description, "operationId": op.id});
    if !op.params.is_empty() {
        out["parameters"] = op.params.iter().map(v3_param).collect();
    }
    if let Some((body, types, required)) = &op.request {
        let schema = body_schema(body, V3_PREFIX);
        let content: Map<String, Value> = types
            .iter()
            .map(|t| (t.to_string(), json!({"schema": schema})))
            .collect();
        out["requestBody"] = json!({"content": content});
        if *required {
            out["requestBody"]["required"] = json!(true);
        }
    }
    let mut responses = Map::new();
    for r in &op.responses {
        let mut response = Map::new();
        if let Some(body) = &r.body {
            let schema = body_schema(body, V3_PREFIX);
            let content: Map<String, Value> = op
                .produces
                .iter()
                .map(|t| (t.to_string(), json!({"schema": schema})))
                .collect();
            response.insert("content".into(), Value::Object(content));
        }
        response.insert("description".into(), json!(r.description));
        responses.insert(r.code.to_string(), Value::Object(response));
    }
    out["responses"] = Value::Object(responses);
    out["tags"] = json!([op.tag]);
    extensions(op, &mut out);
    out
}

fn v2_operation(op: &Operation) -> Value {
    let mut out = json!({});
    if let Some((_, types, _)) = &op.request {
        out["consumes"] = json!(types);
    }
    out["description"] = json!(op.description);
    out["operationId"] = json!(op.id);
    let mut params: Vec<Value> = Vec::new();
    if let Some((body, _, required)) = &op.request {
        let mut p = json!({"in": "body", "name": "body", "schema": body_schema(body, V2_PREFIX)});
        if *required {
            p["required"] = json!(true);
        }
        params.push(p);
    }
    params.extend(op.params.iter().map(v2_param));
    if !params.is_empty() {
        out["parameters"] = Value::Array(params);
    }
    out["produces"] = json!(op.produces);
    let mut responses = Map::new();
    for r in &op.responses {
        let mut response = json!({"description": r.description});
        if let Some(body) = &r.body {
            response["schema"] = body_schema(body, V2_PREFIX);
        }
        responses.insert(r.code.to_string(), response);
    }
    out["responses"] = Value::Object(responses);
    out["schemes"] = json!(["https"]);
    out["tags"] = json!([op.tag]);
    extensions(op, &mut out);
    out
}

fn path_item(route: &Route, v3: bool) -> Value {
    let mut item = Map::new();
    for op in &route.operations {
        let rendered = if v3 {
            v3_operation(op)
        } else {
            v2_operation(op)
        };
        item.insert(op.method.to_string(), rendered);
    }
    if !route.params.is_empty() {
        let params = route
            .params
            .iter()
            .map(|p| if v3 { v3_param(p) } else { v2_param(p) })
            .collect();
        item.insert("parameters".into(), Value::Array(params));
    }
    // Upstream's key order: methods and `parameters` alphabetically.
    item.sort_keys();
    Value::Object(item)
}

/// The OpenAPI 3.0 document of one group version.
fn group_version_document(group: &str, version: &str) -> Value {
    let routes = paths::routes(group, version);
    let mut roots = vec![paths::STATUS.to_string(), paths::DELETE_OPTIONS.to_string()];
    for info in resources::all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        roots.push(info.definition.clone());
        roots.push(format!("{}List", info.definition));
    }
    let mut paths = Map::new();
    for route in &routes {
        body_refs(route, &mut roots);
        paths.insert(route.path.clone(), path_item(route, true));
    }
    json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths,
        "components": {
            "schemas": reachable_v3(roots),
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                },
            },
        },
        "security": [{"BearerToken": []}],
    })
}

/// Whether `/openapi/v2` lists paths, or only definitions.
///
/// With paths, kubectl's v2 `QueryParamVerifier` (the fallback when the v3 lookup fails, which
/// it does for a kind the group version does not have) sees that core/v1 `Namespace` supports
/// `fieldValidation` and then lists `apiextensions.k8s.io/v1` `customresourcedefinitions` to
/// tell whether the kind is a custom resource; as long as the server does not serve that API,
/// the 404 turns `kubectl apply` of a misspelled kind into "failed to check CRD" instead of
/// "no matches for kind". Without paths the fallback answers "unsupported" and kubectl
/// validates client-side against the v2 definitions (and still sends `fieldValidation`).
/// Turn on once the CRD API is served; the paths are built and tested either way.
const V2_PATHS: bool = false;

/// The Swagger 2.0 document: every definition and, `with_paths`, every group version's paths.
fn swagger_document(with_paths: bool) -> Value {
    let mut paths = Map::new();
    for (group, version) in resources::group_versions()
        .into_iter()
        .filter(|_| with_paths)
    {
        for route in paths::routes(group, version) {
            paths.insert(route.path.clone(), path_item(&route, false));
        }
    }
    paths.sort_keys();
    let definitions: Map<String, Value> = schema::definitions()
        .keys()
        .filter_map(|name| Some((name.clone(), definition(name, false)?)))
        .collect();
    json!({
        "swagger": "2.0",
        "info": info(),
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            },
        },
        "security": [{"BearerToken": []}],
    })
}

// ---------------------------------------------------------------------------------------------
// Serving.

/// Sorts the keys of every object below `v`, as Go's JSON encoding of upstream's maps does.
fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.sort_keys();
            o.values_mut().for_each(sort_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

fn encode(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// `GET /openapi/v2`: the Swagger 2.0 document, as JSON or (`protobuf`) as gnostic's
/// `openapi.v2.Document`; with the content type to answer with.
pub fn v2(protobuf: bool) -> Option<(Bytes, &'static str)> {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    static PROTOBUF: OnceLock<Bytes> = OnceLock::new();
    // The document is built again for the second encoding rather than kept as a `Value`,
    // which would take several times the memory of both encodings.
    let doc = || {
        let mut doc = swagger_document(V2_PATHS);
        sort_keys(&mut doc);
        doc
    };
    Some(if protobuf {
        let bytes = PROTOBUF.get_or_init(|| Bytes::from(proto::document(&doc())));
        (bytes.clone(), V2_PROTOBUF)
    } else {
        (
            JSON.get_or_init(|| encode(&doc())).clone(),
            "application/json",
        )
    })
}

/// The URL path of a group version in the v3 index: `api/v1`, `apis/apps/v1`.
fn index_path(group: &str, version: &str) -> String {
    paths::gv_prefix(group, version)
        .trim_start_matches('/')
        .to_string()
}

struct Documents {
    index: Bytes,
    /// Per index path: the document and its hash.
    docs: HashMap<String, (Bytes, String)>,
}

fn documents() -> &'static Documents {
    static DOCS: OnceLock<Documents> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs = HashMap::new();
        let mut paths = Map::new();
        for (group, version) in resources::group_versions() {
            let path = index_path(group, version);
            let mut doc = group_version_document(group, version);
            sort_keys(&mut doc);
            let doc = encode(&doc);
            let hash = sha512::hex_upper(&doc);
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
            );
            docs.insert(path, (doc, hash));
        }
        paths.sort_keys();
        Documents {
            index: encode(&json!({"paths": paths})),
            docs,
        }
    })
}

/// `GET /openapi/v3`: the index, `{"paths": {"api/v1": {"serverRelativeURL":
/// "/openapi/v3/api/v1?hash=<SHA-512>"}, …}}`.
pub fn v3_index() -> Bytes {
    documents().index.clone()
}

/// `GET /openapi/v3/<path>` (`api/v1`, `apis/apps/v1`): one group version's OpenAPI 3.0
/// document as JSON; `None` for a group version the server does not serve.
pub fn v3(path: &str) -> Option<Bytes> {
    documents()
        .docs
        .get(path.trim_matches('/'))
        .map(|(doc, _)| doc.clone())
}

/// The hash of a v3 document (upper-case hex SHA-512 of its bytes, as in the index's
/// `?hash=`), for the `ETag` header. Upstream answers a request whose `hash` matches with
/// `Cache-Control: public, immutable` and a one-year `Expires`, one whose `hash` is stale with
/// a 301 to the current URL; kubectl caches documents by URL.
pub fn v3_hash(path: &str) -> Option<&'static str> {
    documents()
        .docs
        .get(path.trim_matches('/'))
        .map(|(_, hash)| hash.as_str())
}
