//! OpenAPI v3 documents generated from the resource registry and the schemas of the types:
//! what `kubectl explain` reads and where kubectl looks for server-side field validation.
//!
//! Each document is built once, on first request, and served as shared bytes. OpenAPI v2 is
//! served with the definitions only, in JSON or in the protobuf encoding of gnostic's
//! `openapi.v2.Document` that kubectl asks for (`kubectl explain` before 1.30 and client-side
//! validation read it).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    hash::{Hash, Hasher},
    sync::OnceLock,
};

use apimachinery::{
    resources::{self, ResourceInfo, Subresource},
    schema,
};
use bytes::Bytes;
use serde_json::{Map, Value, json};

const V3_PREFIX: &str = "#/components/schemas/";

/// `GET /openapi/v2`: the Swagger 2.0 document with every definition, as JSON or protobuf.
pub fn v2(protobuf: bool) -> Option<(Bytes, &'static str)> {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    static PROTOBUF: OnceLock<Bytes> = OnceLock::new();
    let doc = || {
        json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": format!("v1.{}.0", crate::discovery::KUBE_MINOR)},
            "paths": {},
            "definitions": schema::definitions(),
        })
    };
    Some(if protobuf {
        let bytes = PROTOBUF.get_or_init(|| Bytes::from(proto::document(&doc())));
        (bytes.clone(), "application/octet-stream")
    } else {
        let bytes =
            JSON.get_or_init(|| Bytes::from(serde_json::to_vec(&doc()).unwrap_or_default()));
        (bytes.clone(), "application/json")
    })
}

/// The protobuf encoding of gnostic's OpenAPI v2 messages, for the parts rudder publishes.
mod proto {
    use serde_json::Value;

    /// A protobuf message being written.
    #[derive(Default)]
    struct Message(Vec<u8>);

    impl Message {
        fn varint(&mut self, mut v: u64) {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    self.0.push(b);
                    return;
                }
                self.0.push(b | 0x80);
            }
        }

        fn bytes(&mut self, tag: u32, b: &[u8]) {
            self.varint(u64::from(tag << 3 | 2));
            self.varint(b.len() as u64);
            self.0.extend_from_slice(b);
        }

        fn string(&mut self, tag: u32, s: &str) {
            if !s.is_empty() {
                self.bytes(tag, s.as_bytes());
            }
        }

        fn message(&mut self, tag: u32, m: Message) {
            self.bytes(tag, &m.0);
        }

        fn int(&mut self, tag: u32, v: u64) {
            self.varint(u64::from(tag << 3));
            self.varint(v);
        }
    }

    /// `NamedAny { name, value: Any { yaml } }` for a vendor extension (JSON is valid YAML).
    fn named_any(name: &str, value: &Value) -> Message {
        let mut any = Message::default();
        any.string(2, &value.to_string());
        let mut named = Message::default();
        named.string(1, name);
        named.message(2, any);
        named
    }

    /// A `Schema` message from a JSON schema.
    fn schema(v: &Value) -> Message {
        let mut m = Message::default();
        let Some(o) = v.as_object() else { return m };
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
        m.string(1, s("$ref"));
        m.string(2, s("format"));
        m.string(4, s("description"));
        for r in o
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            m.string(19, r.as_str().unwrap_or(""));
        }
        if let Some(extra) = o.get("additionalProperties") {
            let mut item = Message::default();
            match extra {
                Value::Bool(b) => item.int(2, u64::from(*b)),
                other => item.message(1, schema(other)),
            }
            m.message(21, item);
        }
        if let Some(t) = o.get("type") {
            let mut item = Message::default();
            match t {
                Value::Array(types) => types
                    .iter()
                    .for_each(|t| item.string(1, t.as_str().unwrap_or(""))),
                t => item.string(1, t.as_str().unwrap_or("")),
            }
            m.message(22, item);
        }
        if let Some(items) = o.get("items") {
            let mut item = Message::default();
            item.message(1, schema(items));
            m.message(23, item);
        }
        for all in o
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            m.message(24, schema(all));
        }
        if let Some(props) = o.get("properties").and_then(Value::as_object) {
            let mut properties = Message::default();
            for (name, p) in props {
                let mut named = Message::default();
                named.string(1, name);
                named.message(2, schema(p));
                properties.message(1, named);
            }
            m.message(25, properties);
        }
        for (k, v) in o.iter().filter(|(k, _)| k.starts_with("x-")) {
            m.message(31, named_any(k, v));
        }
        m
    }

    /// The `Document` message of a Swagger 2.0 document (info and definitions).
    pub(super) fn document(doc: &Value) -> Vec<u8> {
        let mut m = Message::default();
        m.string(1, doc["swagger"].as_str().unwrap_or("2.0"));
        let mut info = Message::default();
        info.string(1, doc["info"]["title"].as_str().unwrap_or(""));
        info.string(2, doc["info"]["version"].as_str().unwrap_or(""));
        m.message(2, info);
        m.message(8, Message::default());
        let mut definitions = Message::default();
        for (name, def) in doc["definitions"].as_object().into_iter().flatten() {
            let mut named = Message::default();
            named.string(1, name);
            named.message(2, schema(def));
            definitions.message(1, named);
        }
        m.message(9, definitions);
        m.0
    }
}

/// The URL path of a group version in the v3 index: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

struct Documents {
    index: Bytes,
    docs: HashMap<String, Bytes>,
}

fn documents() -> &'static Documents {
    static DOCS: OnceLock<Documents> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs = HashMap::new();
        let mut paths = Map::new();
        for (group, version) in resources::group_versions() {
            let path = gv_path(group, version);
            let doc = Bytes::from(serde_json::to_vec(&group_version(group, version)).unwrap_or_default());
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            doc.hash(&mut hasher);
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={:016X}", hasher.finish())}),
            );
            docs.insert(path, doc);
        }
        let index = Bytes::from(serde_json::to_vec(&json!({"paths": paths})).unwrap_or_default());
        Documents { index, docs }
    })
}

/// `GET /openapi/v3`: the index of group-version documents.
pub fn v3_index() -> Bytes {
    documents().index.clone()
}

/// `GET /openapi/v3/<path>`: one group-version document.
pub fn v3(path: &str) -> Option<Bytes> {
    documents().docs.get(path.trim_matches('/')).cloned()
}

fn gvk(info: &ResourceInfo) -> Value {
    json!({"group": info.group, "version": info.version, "kind": info.kind})
}

fn query(name: &str, description: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": kind, "uniqueItems": true}})
}

fn body_ref(definition: &str) -> Value {
    json!({"$ref": format!("{V3_PREFIX}{definition}")})
}

fn content(schema: Value, types: &[&str]) -> Value {
    let mut map = Map::new();
    for t in types {
        map.insert(t.to_string(), json!({"schema": schema}));
    }
    Value::Object(map)
}

fn operation(
    info: &ResourceInfo,
    id: &str,
    action: &str,
    params: Vec<Value>,
    body: Option<(Value, &[&str])>,
    response: Value,
) -> Value {
    let mut op = json!({
        "operationId": id,
        "tags": [info.api_version()],
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": content(response, &["application/json", "application/yaml"])}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(info),
    });
    if let Some((schema, types)) = body {
        op["requestBody"] = json!({"content": content(schema, types), "required": true});
    }
    op
}

fn camel(group: &str, version: &str) -> String {
    let mut out = String::new();
    let group = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    for part in [group, version] {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn paths_of(info: &ResourceInfo, paths: &mut Map<String, Value>) {
    let base = format!("/{}", gv_path(info.group, info.version));
    let gv = camel(info.group, info.version);
    let ns = if info.namespaced { "Namespaced" } else { "" };
    let kind = info.kind;
    let write_params = || {
        vec![
            query(
                "dryRun",
                "When present, indicates that modifications should not be persisted.",
                "string",
            ),
            query(
                "fieldManager",
                "fieldManager is a name associated with the actor or entity that is making these changes.",
                "string",
            ),
            query(
                "fieldValidation",
                "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
                "string",
            ),
        ]
    };
    let list_params = || {
        vec![
            query(
                "labelSelector",
                "A selector to restrict the list of returned objects by their labels.",
                "string",
            ),
            query(
                "fieldSelector",
                "A selector to restrict the list of returned objects by their fields.",
                "string",
            ),
            query(
                "limit",
                "limit is a maximum number of responses to return for a list call.",
                "integer",
            ),
            query(
                "continue",
                "The continue option should be set when retrieving more results from the server.",
                "string",
            ),
            query(
                "resourceVersion",
                "resourceVersion sets a constraint on what resource versions a request may be served from.",
                "string",
            ),
            query(
                "watch",
                "Watch for changes to the described resources.",
                "boolean",
            ),
        ]
    };
    let object = body_ref(&info.definition);
    let list = body_ref(&format!("{}List", info.definition));
    let collection = if info.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", info.plural)
    } else {
        format!("{base}/{}", info.plural)
    };
    let mut coll = Map::new();
    coll.insert(
        "get".into(),
        operation(
            info,
            &format!("list{gv}{ns}{kind}"),
            "list",
            list_params(),
            None,
            list.clone(),
        ),
    );
    coll.insert(
        "post".into(),
        operation(
            info,
            &format!("create{gv}{ns}{kind}"),
            "post",
            write_params(),
            Some((object.clone(), &["*/*"])),
            object.clone(),
        ),
    );
    coll.insert(
        "delete".into(),
        operation(
            info,
            &format!("deletecollection{gv}{ns}{kind}"),
            "deletecollection",
            list_params(),
            None,
            body_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
        ),
    );
    paths.insert(collection.clone(), Value::Object(coll));
    let mut patch_params = write_params();
    patch_params.push(query(
        "force",
        "Force is going to \"force\" Apply requests.",
        "boolean",
    ));
    let patch_types: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    let mut item = Map::new();
    item.insert(
        "get".into(),
        operation(
            info,
            &format!("read{gv}{ns}{kind}"),
            "get",
            vec![],
            None,
            object.clone(),
        ),
    );
    item.insert(
        "put".into(),
        operation(
            info,
            &format!("replace{gv}{ns}{kind}"),
            "put",
            write_params(),
            Some((object.clone(), &["*/*"])),
            object.clone(),
        ),
    );
    item.insert(
        "patch".into(),
        operation(
            info,
            &format!("patch{gv}{ns}{kind}"),
            "patch",
            patch_params.clone(),
            Some((
                body_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch"),
                patch_types,
            )),
            object.clone(),
        ),
    );
    item.insert(
        "delete".into(),
        operation(
            info,
            &format!("delete{gv}{ns}{kind}"),
            "delete",
            vec![
                query(
                    "gracePeriodSeconds",
                    "The duration in seconds before the object should be deleted.",
                    "integer",
                ),
                query(
                    "propagationPolicy",
                    "Whether and how garbage collection will be performed.",
                    "string",
                ),
            ],
            None,
            body_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
        ),
    );
    paths.insert(format!("{collection}/{{name}}"), Value::Object(item));
    for sub in info.subresources {
        if !matches!(sub, Subresource::Status | Subresource::Scale) {
            continue;
        }
        let response = match sub {
            Subresource::Scale => body_ref("io.k8s.api.autoscaling.v1.Scale"),
            _ => object.clone(),
        };
        let suffix = match sub {
            Subresource::Scale => "Scale",
            _ => "Status",
        };
        let mut s = Map::new();
        s.insert(
            "get".into(),
            operation(
                info,
                &format!("read{gv}{ns}{kind}{suffix}"),
                "get",
                vec![],
                None,
                response.clone(),
            ),
        );
        s.insert(
            "put".into(),
            operation(
                info,
                &format!("replace{gv}{ns}{kind}{suffix}"),
                "put",
                write_params(),
                Some((response.clone(), &["*/*"])),
                response.clone(),
            ),
        );
        s.insert(
            "patch".into(),
            operation(
                info,
                &format!("patch{gv}{ns}{kind}{suffix}"),
                "patch",
                patch_params.clone(),
                Some((
                    body_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch"),
                    patch_types,
                )),
                response,
            ),
        );
        paths.insert(
            format!("{collection}/{{name}}/{}", sub.name()),
            Value::Object(s),
        );
    }
    if info.namespaced {
        let mut all = Map::new();
        all.insert(
            "get".into(),
            operation(
                info,
                &format!("list{gv}{kind}ForAllNamespaces"),
                "list",
                list_params(),
                None,
                list,
            ),
        );
        paths.insert(format!("{base}/{}", info.plural), Value::Object(all));
    }
}

/// Every definition reachable from `roots`, with v3 `$ref`s.
fn reachable(roots: impl Iterator<Item = String>) -> BTreeMap<String, Value> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            if let Some(name) = r.rsplit('/').next() {
                                out.push(name.to_string());
                            }
                        }
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = roots.collect();
    let mut out = BTreeMap::new();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(def) = schema::definition(&name) else {
            continue;
        };
        refs(def, &mut queue);
        out.insert(name, schema::with_ref_prefix(def, V3_PREFIX));
    }
    out
}

fn group_version(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut roots = vec![
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status".to_string(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".to_string(),
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions".to_string(),
    ];
    for info in resources::all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        paths_of(info, &mut paths);
        roots.push(info.definition.clone());
        roots.push(format!("{}List", info.definition));
        if info.has(Subresource::Scale) {
            roots.push("io.k8s.api.autoscaling.v1.Scale".to_string());
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", crate::discovery::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": reachable(roots.into_iter())},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_documents_that_exist() {
        let index: Value = serde_json::from_slice(&v3_index()).unwrap();
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc: Value = serde_json::from_slice(&v3("apis/apps/v1").unwrap()).unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let deployment = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert!(deployment["properties"]["spec"].is_object());
        assert!(doc["components"]["schemas"]["io.k8s.api.core.v1.Container"].is_object());
    }
}

#[cfg(test)]
mod scratch_dump {
    #[test]
    fn dump() {
        let d = apimachinery::schema::definitions();
        let names: Vec<_> = d.keys().collect();
        eprintln!(
            "{} {:?}",
            names.len(),
            names
                .iter()
                .filter(|n| n.contains("meta")
                    || n.contains("runtime")
                    || n.contains("intstr")
                    || n.contains("resource."))
                .collect::<Vec<_>>()
        );
        for n in [
            "io.k8s.apimachinery.pkg.runtime.RawExtension",
            "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
            "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
            "io.k8s.apimachinery.pkg.api.resource.Quantity",
        ] {
            eprintln!(
                "{n}: {}",
                serde_json::to_string(&d.get(n))
                    .unwrap()
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
        for (n, v) in d.iter().filter(|(n, _)| n.contains("Watch")) {
            eprintln!("{n}: {v}");
        }
        std::fs::write("/tmp/oa/defs.json", serde_json::to_vec_pretty(d).unwrap()).unwrap();
    }
}
