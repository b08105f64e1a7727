//! Tests of the published documents: what kubectl looks up in them (field validation support,
//! explain, patch metadata), upstream's names and shapes, and the v2 protobuf encoding read back
//! with a wire-format reader.

use std::collections::{BTreeSet, HashSet};

use apimachinery::resources;
use serde_json::Value;

use super::*;

fn doc(path: &str) -> Value {
    serde_json::from_slice(&v3(path).unwrap_or_else(|| panic!("no document {path}"))).unwrap()
}

fn all_docs() -> Vec<(String, Value)> {
    resources::group_versions()
        .into_iter()
        .map(|(g, v)| {
            let path = index_path(g, v);
            let d = doc(&path);
            (path, d)
        })
        .collect()
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

/// cli-runtime's `supportsQueryParamV3`, for every order Go's map iteration may take: the
/// first PATCH operation whose group-version-kind is `gvk` must list the parameter, so all of
/// them must.
fn supports_field_validation(doc: &Value, gvk: (&str, &str, &str)) -> bool {
    let mut found = false;
    for item in doc["paths"].as_object().unwrap().values() {
        let Some(op) = item.get("patch") else {
            continue;
        };
        let g = &op["x-kubernetes-group-version-kind"];
        if !(g["group"] == gvk.0 && g["version"] == gvk.1 && g["kind"] == gvk.2) {
            continue;
        }
        let has = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "fieldValidation");
        if !has {
            return false;
        }
        found = true;
    }
    found
}

#[test]
fn index_lists_every_group_version_with_its_hash() {
    let index: Value = serde_json::from_slice(&v3_index()).unwrap();
    let paths = index["paths"].as_object().unwrap();
    assert_eq!(paths.len(), resources::group_versions().len());
    for (path, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().unwrap();
        let (base, hash) = url.split_once("?hash=").unwrap();
        assert_eq!(base, format!("/openapi/v3/{path}"));
        assert_eq!(hash.len(), 128);
        assert!(
            hash.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(hash, sha512::hex_upper(&v3(path).unwrap()));
        assert_eq!(v3_hash(path), Some(hash));
        // Served bytes are shared, not rebuilt.
        assert_eq!(v3(path).unwrap().as_ptr(), v3(path).unwrap().as_ptr());
    }
    assert!(paths.contains_key("api/v1"));
    assert!(paths.contains_key("apis/apps/v1"));
    assert!(v3("/apis/apps/v1/").is_some());
    assert!(v3("apis/nope/v1").is_none());
}

#[test]
fn every_ref_resolves() {
    for (path, d) in all_docs() {
        let schemas = d["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        refs_of(&d, &mut refs);
        let mut raw = Vec::new();
        collect_raw_refs(&d, &mut raw);
        for r in raw {
            assert!(r.starts_with(V3_PREFIX), "{path}: {r}");
        }
        for r in refs {
            assert!(schemas.contains_key(&r), "{path}: dangling $ref {r}");
        }
    }
    let d = swagger_with_paths();
    let defs = d["definitions"].as_object().unwrap();
    let mut raw = Vec::new();
    collect_raw_refs(&d, &mut raw);
    for r in raw {
        let name = r
            .strip_prefix(V2_PREFIX)
            .unwrap_or_else(|| panic!("v2: {r}"));
        assert!(defs.contains_key(name), "v2: dangling $ref {r}");
    }
}

fn collect_raw_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_raw_refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_raw_refs(v, out)),
        _ => {}
    }
}

#[test]
fn field_validation_is_detected_for_every_kind_and_namespaces() {
    for info in resources::all() {
        let d = doc(&index_path(info.group, info.version));
        assert!(
            supports_field_validation(&d, (info.group, info.version, info.kind)),
            "{}",
            info.kind
        );
    }
    // Custom resources are judged by core/v1 Namespace.
    assert!(supports_field_validation(
        &doc("api/v1"),
        ("", "v1", "Namespace")
    ));
    // Scale's PATCH operations live in the groups that have /scale.
    assert!(supports_field_validation(
        &doc("apis/apps/v1"),
        ("autoscaling", "v1", "Scale")
    ));
    // Every PATCH everywhere has the parameter and a group-version-kind object.
    for (path, d) in all_docs() {
        for (p, item) in d["paths"].as_object().unwrap() {
            if let Some(op) = item.get("patch") {
                assert!(
                    op["x-kubernetes-group-version-kind"].is_object(),
                    "{path} {p}"
                );
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                assert_eq!(
                    names,
                    ["dryRun", "fieldManager", "fieldValidation", "force"],
                    "{path} {p}"
                );
                let content = op["requestBody"]["content"].as_object().unwrap();
                for t in paths::PATCH_TYPES {
                    assert!(content.contains_key(*t), "{path} {p} {t}");
                }
            }
        }
    }
}

/// What kubectl explain's template does: the group-version-kind from the resource's paths,
/// then the schema that carries it.
#[test]
fn explain_finds_every_resource() {
    for info in resources::all() {
        let d = doc(&index_path(info.group, info.version));
        let prefix = paths::gv_prefix(info.group, info.version);
        let candidates = [
            format!("{prefix}/{}", info.plural),
            format!("{prefix}/{}/{{name}}", info.plural),
            format!("{prefix}/namespaces/{{namespace}}/{}", info.plural),
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", info.plural),
        ];
        let gvk = candidates
            .iter()
            .filter_map(|p| d["paths"].get(p))
            .flat_map(|item| METHODS.iter().filter_map(|m| item.get(*m)))
            .find_map(|op| op.get("x-kubernetes-group-version-kind"))
            .unwrap_or_else(|| panic!("no gvk for {}", info.plural));
        assert_eq!(gvk["kind"], info.kind);
        assert_eq!(gvk["group"], info.group);
        let schemas = d["components"]["schemas"].as_object().unwrap();
        let found: Vec<&String> = schemas
            .iter()
            .filter(|(_, s)| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|l| l.contains(gvk))
            })
            .map(|(n, _)| n)
            .collect();
        assert_eq!(found, [&info.definition], "{}", info.kind);
    }
}

#[test]
fn v3_schemas_follow_upstream_shapes() {
    let d = doc("apis/apps/v1");
    let schemas = &d["components"]["schemas"];
    let spec = &schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
    assert_eq!(
        spec["allOf"],
        json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}])
    );
    assert!(spec.get("$ref").is_none());
    assert!(
        spec["description"]
            .as_str()
            .unwrap()
            .contains("desired behavior")
    );
    let ports = &schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(
        ports["items"],
        json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.ContainerPort"})
    );
    let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["format"], "int-or-string");
    assert_eq!(int_or_string["oneOf"][0]["type"], "integer");
    assert!(schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"].is_array());
    for meta in [
        paths::STATUS,
        paths::DELETE_OPTIONS,
        paths::WATCH_EVENT,
        paths::PATCH,
        paths::API_RESOURCE_LIST,
        "io.k8s.api.autoscaling.v1.Scale",
    ] {
        assert!(schemas.get(meta).is_some(), "{meta}");
    }
    // Only what apps/v1 reaches: no Service, no networking.
    assert!(schemas.get("io.k8s.api.core.v1.Service").is_none());
    assert!(schemas.get("io.k8s.api.networking.v1.Ingress").is_none());
    let core = doc("api/v1");
    let core_schemas = &core["components"]["schemas"];
    for name in [
        "io.k8s.api.core.v1.Pod",
        "io.k8s.api.core.v1.PodList",
        "io.k8s.api.core.v1.Namespace",
        "io.k8s.api.core.v1.Binding",
        "io.k8s.api.policy.v1.Eviction",
        "io.k8s.api.authentication.v1.TokenRequest",
    ] {
        assert!(core_schemas.get(name).is_some(), "{name}");
    }
    assert!(core_schemas.get("io.k8s.api.apps.v1.Deployment").is_none());
}

#[test]
fn operations_have_upstream_ids_and_shapes() {
    let core = doc("api/v1");
    let p = &core["paths"];
    let op = |path: &str, method: &str| p[path][method].clone();
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/pods", "get")["operationId"],
        "listCoreV1NamespacedPod"
    );
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/pods", "delete")["operationId"],
        "deleteCoreV1CollectionNamespacedPod"
    );
    assert_eq!(
        op("/api/v1/pods", "get")["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    assert_eq!(
        op("/api/v1/namespaces/{name}", "patch")["operationId"],
        "patchCoreV1Namespace"
    );
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/pods/{name}/status", "patch")["operationId"],
        "patchCoreV1NamespacedPodStatus"
    );
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/pods/{name}/log", "get")["operationId"],
        "readCoreV1NamespacedPodLog"
    );
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/pods/{name}/exec", "post")["operationId"],
        "connectCoreV1PostNamespacedPodExec"
    );
    assert_eq!(
        op(
            "/api/v1/namespaces/{namespace}/pods/{name}/eviction",
            "post"
        )["x-kubernetes-group-version-kind"],
        json!({"group": "policy", "kind": "Eviction", "version": "v1"})
    );
    assert_eq!(
        op("/api/v1/namespaces/{name}/finalize", "put")["operationId"],
        "replaceCoreV1NamespaceFinalize"
    );
    assert_eq!(
        op("/api/v1/watch/namespaces/{namespace}/pods", "get")["x-kubernetes-action"],
        "watchlist"
    );
    assert_eq!(
        op("/api/v1/", "get")["operationId"],
        "getCoreV1APIResources"
    );

    let create = op("/api/v1/namespaces/{namespace}/configmaps", "post");
    assert_eq!(create["description"], "create a ConfigMap");
    assert_eq!(create["tags"], json!(["core_v1"]));
    assert_eq!(create["x-kubernetes-action"], "post");
    assert_eq!(
        create["requestBody"]["content"]["*/*"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.ConfigMap"
    );
    assert!(
        create["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );
    let list = op("/api/v1/namespaces/{namespace}/pods", "get");
    let names: BTreeSet<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for n in [
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "resourceVersion",
        "watch",
    ] {
        assert!(names.contains(n), "{n}");
    }
    let item_params = &p["/api/v1/namespaces/{namespace}/pods/{name}"]["parameters"];
    assert_eq!(item_params[0]["name"], "name");
    assert_eq!(item_params[0]["in"], "path");
    assert_eq!(item_params[0]["required"], true);
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/endpoints", "post")["description"],
        "create Endpoints"
    );
    assert_eq!(
        op("/api/v1/namespaces/{namespace}/events", "post")["description"],
        "create an Event"
    );

    let apps = doc("apis/apps/v1");
    let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["operationId"],
        "patchAppsV1NamespacedDeploymentScale"
    );
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"]["kind"],
        "Scale"
    );
    assert_eq!(scale["parameters"][0]["description"], "name of the Scale");
    assert_eq!(scale["get"]["tags"], json!(["apps_v1"]));

    let rbac = doc("apis/rbac.authorization.k8s.io/v1");
    let roles = &rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"];
    assert_eq!(roles["operationId"], "listRbacAuthorizationV1ClusterRole");
    assert_eq!(roles["tags"], json!(["rbacAuthorization_v1"]));
    let net = doc("apis/networking.k8s.io/v1");
    assert_eq!(
        net["paths"]["/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses"]["get"]["operationId"],
        "listNetworkingV1NamespacedIngress"
    );
}

#[test]
fn paths_and_operation_ids_are_unique() {
    let mut ids = HashSet::new();
    for (group, version) in resources::group_versions() {
        let routes = paths::routes(group, version);
        let mut seen = HashSet::new();
        for route in &routes {
            assert!(
                seen.insert(route.path.clone()),
                "duplicate path {}",
                route.path
            );
            for op in &route.operations {
                assert!(ids.insert(op.id.clone()), "duplicate operationId {}", op.id);
            }
        }
    }
}

/// The v2 document with paths, whether or not `/openapi/v2` publishes them.
fn swagger_with_paths() -> Value {
    let mut d = swagger_document(true);
    sort_keys(&mut d);
    d
}

#[test]
fn v2_json_has_definitions_and_paths() {
    let (bytes, content_type) = v2(false).unwrap();
    assert_eq!(content_type, "application/json");
    let served: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(served["swagger"], "2.0");
    assert_eq!(served["paths"].as_object().unwrap().is_empty(), !V2_PATHS);
    assert_eq!(served["definitions"], swagger_with_paths()["definitions"]);
    let d = swagger_with_paths();
    let defs = d["definitions"].as_object().unwrap();
    assert_eq!(defs.len(), schema::definitions().len());
    // v2 keeps `$ref` beside its description.
    let spec = &defs["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
    assert_eq!(
        spec["$ref"],
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"],
        "string"
    );
    let patch = &d["paths"]["/api/v1/namespaces/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "Namespace"
    );
    assert_eq!(patch["consumes"][0], "application/json-patch+json");
    let params = patch["parameters"].as_array().unwrap();
    assert_eq!(params[0]["in"], "body");
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
}

// ---------------------------------------------------------------------------------------------
// A protobuf wire-format reader, to check the v2 encoding against gnostic's field numbers.

#[derive(Debug)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed64,
}

fn read_varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

fn fields(b: &[u8]) -> Vec<(u32, Field<'_>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = read_varint(b, &mut i);
        let (number, wire) = ((key >> 3) as u32, key & 7);
        let field = match wire {
            0 => Field::Varint(read_varint(b, &mut i)),
            1 => {
                i += 8;
                Field::Fixed64
            }
            2 => {
                let len = read_varint(b, &mut i) as usize;
                let f = Field::Bytes(&b[i..i + len]);
                i += len;
                f
            }
            other => panic!("wire type {other}"),
        };
        out.push((number, field));
    }
    out
}

fn get(b: &[u8], number: u32) -> Vec<&[u8]> {
    fields(b)
        .into_iter()
        .filter(|(n, _)| *n == number)
        .filter_map(|(_, f)| match f {
            Field::Bytes(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn one(b: &[u8], number: u32) -> &[u8] {
    let all = get(b, number);
    assert_eq!(all.len(), 1, "field {number}");
    all[0]
}

fn text(b: &[u8], number: u32) -> String {
    get(b, number)
        .first()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .unwrap_or_default()
}

/// A `Named*` entry of a repeated field, by name.
fn named<'a>(b: &'a [u8], number: u32, name: &str) -> &'a [u8] {
    get(b, number)
        .into_iter()
        .find(|n| text(n, 1) == name)
        .map(|n| one(n, 2))
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn v2_protobuf_follows_gnostic_field_numbers() {
    let (served, content_type) = v2(true).unwrap();
    assert_eq!(content_type, V2_PROTOBUF);
    assert_eq!(
        get(&served, 9),
        get(&proto::document(&swagger_with_paths()), 9)
    );
    let bytes = proto::document(&swagger_with_paths());
    let doc = &bytes[..];
    assert_eq!(text(doc, 1), "2.0");
    assert_eq!(text(one(doc, 2), 1), "Kubernetes");

    // Definitions (9) → NamedSchema (1) → Schema.
    let definitions = one(doc, 9);
    assert_eq!(get(definitions, 1).len(), schema::definitions().len());
    let deployment = named(definitions, 1, "io.k8s.api.apps.v1.Deployment");
    assert!(text(deployment, 4).contains("Deployment"));
    assert_eq!(text(one(deployment, 22), 1), "object");
    let gvk = named(deployment, 31, "x-kubernetes-group-version-kind");
    let yaml: Value = serde_json::from_str(&text(gvk, 2)).unwrap();
    assert_eq!(yaml[0]["kind"], "Deployment");
    let props = one(deployment, 25);
    let spec = named(props, 1, "spec");
    assert_eq!(
        text(spec, 1),
        "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    );
    let container = named(definitions, 1, "io.k8s.api.core.v1.Container");
    assert!(text(container, 19).contains("name"), "required");
    let ports = named(one(container, 25), 1, "ports");
    assert_eq!(text(one(ports, 22), 1), "array");
    let item = one(one(ports, 23), 1);
    assert_eq!(
        text(item, 1),
        "#/definitions/io.k8s.api.core.v1.ContainerPort"
    );
    let strategy = named(ports, 31, "x-kubernetes-patch-strategy");
    assert_eq!(text(strategy, 2), "\"merge\"");
    let resources = named(definitions, 1, "io.k8s.api.core.v1.ResourceRequirements");
    let limits = named(one(resources, 25), 1, "limits");
    let extra = one(limits, 21);
    assert_eq!(
        text(one(extra, 1), 1),
        "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"
    );

    // Paths (8) → NamedPathItem (2) → PathItem → patch (8) → Operation.
    let paths = one(doc, 8);
    let namespace = named(paths, 2, "/api/v1/namespaces/{name}");
    let patch = one(namespace, 8);
    assert_eq!(text(patch, 5), "patchCoreV1Namespace");
    assert_eq!(text(patch, 1), "core_v1");
    let gvk = named(patch, 13, "x-kubernetes-group-version-kind");
    let yaml: Value = serde_json::from_str(&text(gvk, 2)).unwrap();
    assert_eq!(
        yaml,
        json!({"group": "", "kind": "Namespace", "version": "v1"})
    );
    // Parameters (8): ParametersItem → Parameter (1) → NonBodyParameter (2) →
    // QueryParameterSubSchema (3) → name (4).
    let query_names: Vec<String> = get(patch, 8)
        .into_iter()
        .map(|item| one(item, 1))
        .filter_map(|p| get(p, 2).first().copied())
        .map(|non_body| text(one(non_body, 3), 4))
        .collect();
    assert_eq!(
        query_names,
        ["dryRun", "fieldManager", "fieldValidation", "force"]
    );
    // The body: Parameter → BodyParameter (1) → schema (5).
    let body = get(patch, 8)
        .into_iter()
        .map(|item| one(item, 1))
        .find_map(|p| get(p, 1).first().copied())
        .unwrap();
    assert_eq!(text(body, 3), "body");
    assert_eq!(
        text(one(body, 5), 1),
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    );
    // Path-level parameters (9): PathParameterSubSchema (4), required.
    let name = get(namespace, 9)
        .into_iter()
        .map(|item| one(one(item, 1), 2))
        .find_map(|nb| get(nb, 4).first().copied())
        .unwrap();
    assert_eq!(text(name, 4), "name");
    assert!(matches!(fields(name)[0], (1, Field::Varint(1))));
    // Responses (9) → NamedResponseValue "200" → ResponseValue → Response (1) → SchemaItem (2)
    // → Schema (1).
    let ok = named(one(patch, 9), 1, "200");
    let response = one(ok, 1);
    assert_eq!(text(response, 1), "OK");
    assert_eq!(
        text(one(one(response, 2), 1), 1),
        "#/definitions/io.k8s.api.core.v1.Namespace"
    );
}
