//! Tests of the patch engines, with the patches kubectl 1.27–1.33 sends and the server-side
//! apply flows it drives.

use serde_json::{Value, json};

use super::*;

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
const SERVICE: &str = "io.k8s.api.core.v1.Service";
const CONFIGMAP: &str = "io.k8s.api.core.v1.ConfigMap";
const POD: &str = "io.k8s.api.core.v1.Pod";
const NOW: &str = "2024-05-01T10:00:00Z";
const LATER: &str = "2024-05-01T11:00:00Z";

fn deployment(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers, "restartPolicy": "Always"}
            }
        }
    })
}

fn containers_of(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]["containers"]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Content types and errors.

#[test]
fn content_types() {
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Ok(PatchType::Json)
    );
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
        Ok(PatchType::Merge)
    );
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json"),
        Ok(PatchType::Strategic)
    );
    assert_eq!(
        PatchType::from_content_type("application/apply-patch+yaml"),
        Ok(PatchType::Apply)
    );
    let err = PatchType::from_content_type("application/apply-patch+cbor").unwrap_err();
    assert_eq!(err.code(), 415);
    assert_eq!(
        err.to_string(),
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, \
         application/strategic-merge-patch+json, application/apply-patch+yaml"
    );
    assert!(PatchType::from_content_type("application/json").is_err());
    assert_eq!(
        PatchType::Strategic.content_type(),
        "application/strategic-merge-patch+json"
    );
}

#[test]
fn errors_map_to_statuses() {
    let e = Error::Unprocessable("test failed".into()).to_api_error();
    assert_eq!((e.code, e.reason), (422, "Invalid"));
    assert_eq!(
        e.message,
        "the server rejected our request due to an error in our request"
    );
    let e = Error::BadRequest("invalid patch format of retainKeys".into()).to_api_error();
    assert_eq!(
        (e.code, e.reason, e.message.as_str()),
        (400, "BadRequest", "invalid patch format of retainKeys")
    );
    let e = Error::TooManyOperations {
        max: 10000,
        got: 10001,
    }
    .to_api_error();
    assert_eq!(e.code, 413);
    assert_eq!(e.reason, "RequestEntityTooLarge");
    let e = Error::Internal("boom".into()).to_api_error();
    assert_eq!((e.code, e.reason), (500, ""));
}

// ---------------------------------------------------------------------------------------------
// JSON patch and merge patch.

#[test]
fn json_patch() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
    let out = patch(
        PatchType::Json,
        &cm,
        br#"[{"op":"test","path":"/data/k","value":"v"},{"op":"replace","path":"/data/k","value":"w"},{"op":"add","path":"/data/n","value":"1"}]"#,
        CONFIGMAP,
    )
    .unwrap();
    assert_eq!(out["data"], json!({"k": "w", "n": "1"}));

    let failed = patch(
        PatchType::Json,
        &cm,
        br#"[{"op":"test","path":"/data/k","value":"x"}]"#,
        CONFIGMAP,
    );
    assert_eq!(failed.unwrap_err().code(), 422);
    let missing = patch(
        PatchType::Json,
        &cm,
        br#"[{"op":"remove","path":"/data/nope"}]"#,
        CONFIGMAP,
    );
    assert_eq!(missing.unwrap_err().code(), 422);
    let unknown_op = patch(
        PatchType::Json,
        &cm,
        br#"[{"op":"frobnicate","path":"/data"}]"#,
        CONFIGMAP,
    );
    assert_eq!(unknown_op.unwrap_err().code(), 422);
    let not_a_list = patch(PatchType::Json, &cm, br#"{"op":"add"}"#, CONFIGMAP).unwrap_err();
    assert_eq!(not_a_list.code(), 400);
    assert_eq!(
        not_a_list.to_string(),
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
    assert_eq!(
        patch(PatchType::Json, &cm, b"[{", CONFIGMAP)
            .unwrap_err()
            .code(),
        400
    );
    let many: Vec<Value> = (0..10_001)
        .map(|_| json!({"op": "test", "path": "/kind", "value": "ConfigMap"}))
        .collect();
    let too_many = json::apply(&cm, &Value::Array(many)).unwrap_err();
    assert_eq!(too_many.code(), 413);
}

#[test]
fn merge_patch() {
    let d = deployment(
        json!([{"name": "nginx", "image": "nginx:1.14"}, {"name": "log", "image": "busybox"}]),
    );
    let out = patch(
        PatchType::Merge,
        &d,
        br#"{"metadata":{"labels":{"tier":null}},"spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16"}]}}}}"#,
        DEPLOYMENT,
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(out["spec"]["replicas"], 5);
    // Lists are replaced wholesale.
    assert_eq!(
        containers_of(&out),
        &json!([{"name": "nginx", "image": "nginx:1.16"}])
    );
    assert_eq!(
        patch(PatchType::Merge, &d, b"null", DEPLOYMENT)
            .unwrap_err()
            .code(),
        400
    );
    assert_eq!(
        patch(PatchType::Merge, &d, b"3", DEPLOYMENT)
            .unwrap_err()
            .code(),
        400
    );
    assert_eq!(
        patch(PatchType::Merge, &d, b"{", DEPLOYMENT)
            .unwrap_err()
            .to_string(),
        "Invalid JSON Patch"
    );
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch: what kubectl sends.

struct Case {
    name: &'static str,
    definition: &'static str,
    original: Value,
    patch: Value,
    expected: Value,
}

fn strategic_cases() -> Vec<Case> {
    let nginx = json!({"name": "nginx", "image": "nginx:1.14", "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": 80, "protocol": "TCP"}]});
    let sidecar = json!({"name": "log", "image": "busybox"});
    vec![
        Case {
            name: "kubectl apply: image changed and env added",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx])),
            patch: json!({
                "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
                "spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [{"env": [{"name": "MODE", "value": "prod"}], "image": "nginx:1.16", "name": "nginx"}]
                }}}
            }),
            expected: {
                let mut d = deployment(
                    json!([{"name": "nginx", "image": "nginx:1.16", "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}], "env": [{"name": "MODE", "value": "prod"}]}]),
                );
                d["metadata"]["annotations"] =
                    json!({"kubectl.kubernetes.io/last-applied-configuration": "{}"});
                d
            },
        },
        Case {
            name: "kubectl apply: env var added to an existing env list, merged by name",
            definition: DEPLOYMENT,
            original: deployment(
                json!([{"name": "nginx", "image": "nginx", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
            ),
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                    "env": [{"name": "C", "value": "3"}, {"name": "B", "value": "20"}], "name": "nginx"}]
            }}}}),
            expected: deployment(json!([{"name": "nginx", "image": "nginx", "env": [
                {"name": "A", "value": "1"}, {"name": "C", "value": "3"}, {"name": "B", "value": "20"}]}])),
        },
        Case {
            name: "kubectl apply: container removed with $setElementOrder and $patch: delete",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx, sidecar])),
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"$patch": "delete", "name": "log"}]
            }}}}),
            expected: deployment(json!([nginx])),
        },
        Case {
            name: "kubectl apply: container added keeps a server-only container in place",
            definition: DEPLOYMENT,
            original: deployment(json!([{"name": "a"}, {"name": "injected"}, {"name": "b"}])),
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                "containers": [{"name": "c", "image": "redis"}]
            }}}}),
            expected: deployment(
                json!([{"name": "a"}, {"name": "injected"}, {"name": "b"}, {"name": "c", "image": "redis"}]),
            ),
        },
        Case {
            name: "$setElementOrder alone reorders",
            definition: DEPLOYMENT,
            original: deployment(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]
            }}}}),
            expected: deployment(json!([{"name": "c"}, {"name": "a"}, {"name": "b"}])),
        },
        Case {
            name: "kubectl patch: a new container without order goes first, as upstream",
            definition: DEPLOYMENT,
            original: deployment(json!([{"name": "nginx", "image": "nginx"}])),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "redis", "image": "redis"}]}}}}),
            expected: deployment(
                json!([{"name": "redis", "image": "redis"}, {"name": "nginx", "image": "nginx"}]),
            ),
        },
        Case {
            name: "kubectl set image: one container changed, others untouched",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx, sidecar])),
            patch: json!({"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox:2"}]}}}}),
            expected: deployment(json!([nginx, {"name": "log", "image": "busybox:2"}])),
        },
        Case {
            name: "container ports merged by containerPort",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx])),
            patch: json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "nginx"}],
                "containers": [{"$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
                    "name": "nginx", "ports": [{"containerPort": 443, "protocol": "TCP"}]}]
            }}}}),
            expected: deployment(
                json!([{"name": "nginx", "image": "nginx:1.14", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}]}]),
            ),
        },
        Case {
            name: "labels: null removes, new keys add",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx])),
            patch: json!({"metadata": {"labels": {"tier": null, "env": "prod"}}}),
            expected: {
                let mut d = deployment(json!([nginx]));
                d["metadata"]["labels"] = json!({"app": "web", "env": "prod"});
                d
            },
        },
        Case {
            name: "kubectl scale",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx])),
            patch: json!({"spec": {"replicas": 7}}),
            expected: {
                let mut d = deployment(json!([nginx]));
                d["spec"]["replicas"] = json!(7);
                d
            },
        },
        Case {
            name: "$retainKeys: rolling update to recreate",
            definition: DEPLOYMENT,
            original: deployment(json!([nginx])),
            patch: json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}}),
            expected: {
                let mut d = deployment(json!([nginx]));
                d["spec"]["strategy"] = json!({"type": "Recreate"});
                d
            },
        },
        Case {
            name: "$retainKeys in a volume: emptyDir to configMap",
            definition: POD,
            original: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
                "containers": [{"name": "c"}],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]}}),
            patch: json!({"spec": {
                "$setElementOrder/volumes": [{"name": "data"}, {"name": "tmp"}],
                "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "emptyDir": null, "name": "data"}]}}),
            expected: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
                "containers": [{"name": "c"}],
                "volumes": [{"name": "data", "configMap": {"name": "cfg"}}, {"name": "tmp", "emptyDir": {}}]}}),
        },
        Case {
            name: "tolerations have no strategy: replaced",
            definition: POD,
            original: json!({"spec": {"containers": [{"name": "c"}], "tolerations": [{"key": "a", "operator": "Exists"}]}}),
            patch: json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}),
            expected: json!({"spec": {"containers": [{"name": "c"}], "tolerations": [{"key": "b", "operator": "Exists"}]}}),
        },
        Case {
            name: "service ports merged by port",
            definition: SERVICE,
            original: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {
                "type": "ClusterIP", "clusterIP": "10.0.0.10",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}),
            patch: json!({"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                "ports": [{"port": 80, "targetPort": 9090}, {"name": "https", "port": 443, "targetPort": 8443}]}}),
            expected: json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {
                "type": "ClusterIP", "clusterIP": "10.0.0.10",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 9090},
                          {"name": "https", "port": 443, "targetPort": 8443}]}}),
        },
        Case {
            name: "finalizers: a merged set with $deleteFromPrimitiveList and $setElementOrder",
            definition: CONFIGMAP,
            original: json!({"metadata": {"name": "c", "finalizers": ["a", "b"]}}),
            patch: json!({"metadata": {"$setElementOrder/finalizers": ["b", "c"],
                "$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}}),
            expected: json!({"metadata": {"name": "c", "finalizers": ["b", "c"]}}),
        },
        Case {
            name: "finalizers: union without order",
            definition: CONFIGMAP,
            original: json!({"metadata": {"name": "c", "finalizers": ["a"]}}),
            patch: json!({"metadata": {"finalizers": ["a", "b"]}}),
            expected: json!({"metadata": {"name": "c", "finalizers": ["a", "b"]}}),
        },
        Case {
            name: "$patch: replace on a map",
            definition: CONFIGMAP,
            original: json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}}),
            patch: json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            expected: json!({"metadata": {"name": "c", "labels": {"c": "3"}}}),
        },
        Case {
            name: "$patch: delete on a map",
            definition: POD,
            original: json!({"spec": {"containers": [{"name": "c"}], "securityContext": {"runAsUser": 1}}}),
            patch: json!({"spec": {"securityContext": {"$patch": "delete"}}}),
            expected: json!({"spec": {"containers": [{"name": "c"}], "securityContext": {}}}),
        },
        Case {
            name: "$patch: replace item replaces the whole list",
            definition: POD,
            original: json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            patch: json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "x"}]}}),
            expected: json!({"spec": {"containers": [{"name": "z", "image": "x"}]}}),
        },
        Case {
            name: "new fields are cleaned of directives and nulls",
            definition: POD,
            original: json!({"spec": {"containers": [{"name": "a"}]}}),
            patch: json!({"spec": {
                "initContainers": [{"name": "init", "image": "x", "args": null}, {"name": "gone", "$patch": "delete"}],
                "nodeSelector": {"disk": "ssd", "zone": null}}}),
            expected: json!({"spec": {"containers": [{"name": "a"}],
                "initContainers": [{"name": "init", "image": "x"}], "nodeSelector": {"disk": "ssd"}}}),
        },
        Case {
            name: "conditions merged by type",
            definition: POD,
            original: json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}}),
            patch: json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            expected: json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]}}),
        },
    ]
}

#[test]
fn strategic_merge_table() {
    for case in strategic_cases() {
        let out = strategic_merge(&case.original, &case.patch, case.definition)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(out, case.expected, "{}", case.name);
    }
}

#[test]
fn strategic_merge_keeps_list_order_exactly() {
    // Value equality ignores object key order but not list order; check names explicitly.
    let out = strategic_merge(
        &deployment(json!([{"name": "a"}, {"name": "injected"}, {"name": "b"}])),
        &json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "x"}]}}}}),
        DEPLOYMENT,
    )
    .unwrap();
    // Upstream's mergeSortedSlice: the server-only item came before `b` in the live list.
    assert_eq!(names(containers_of(&out)), ["injected", "b", "a"]);
}

#[test]
fn strategic_merge_errors() {
    let d = deployment(json!([{"name": "a"}]));
    let bad_retain = strategic_merge(
        &d,
        &json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}}),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(
        (bad_retain.code(), bad_retain.to_string().as_str()),
        (400, "invalid patch format of retainKeys")
    );

    let bad_order = strategic_merge(
        &d,
        &json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "b"}]}}}}),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(bad_order.code(), 400);
    assert!(
        bad_order
            .to_string()
            .starts_with("The order in patch list:")
    );

    let bad_directive = strategic_merge(
        &d,
        &json!({"metadata": {"labels": {"$patch": "frob"}}}),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert_eq!(bad_directive.code(), 400);
    assert!(
        bad_directive
            .to_string()
            .starts_with("unknown patch type: frob in map:")
    );

    let no_key = strategic_merge(
        &d,
        &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
        DEPLOYMENT,
    )
    .unwrap_err();
    assert!(
        no_key
            .to_string()
            .contains("does not contain declared merge key: name")
    );

    let lists_of_lists = strategic_merge(
        &json!({"metadata": {"finalizers": ["a"]}}),
        &json!({"metadata": {"finalizers": [["b"]]}}),
        CONFIGMAP,
    )
    .unwrap_err();
    assert_eq!(
        (lists_of_lists.code(), lists_of_lists.reason()),
        (422, "Invalid")
    );

    let not_an_object = patch(PatchType::Strategic, &d, b"[1]", DEPLOYMENT).unwrap_err();
    assert_eq!(not_an_object.code(), 400);
}

// ---------------------------------------------------------------------------------------------
// Server-side apply.

fn applied_deployment(labels: Value, replicas: u32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

fn managed(obj: &Value) -> &Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
}

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    managed(obj).iter().find(|e| e["manager"] == manager)
}

#[test]
fn apply_creates_with_upstream_fields_v1() {
    let config = applied_deployment(json!({"app": "web"}), 2, "nginx:1.14");
    let out = apply(None, &config, DEPLOYMENT, "kubectl", false, NOW).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(containers_of(&out)[0]["image"], "nginx:1.14");
    let entries = managed(&out);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0],
        json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": NOW,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                        }}}
                    }
                }
            }
        })
    );
    // Upstream's key order inside FieldsV1: "." first, then fields by name.
    let container = &entries[0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
    let keys: Vec<&String> = container.as_object().unwrap().keys().collect();
    assert_eq!(keys, [".", "f:image", "f:name", "f:ports"]);
}

#[test]
fn reapply_removes_what_the_manager_no_longer_applies() {
    let first = apply(
        None,
        &applied_deployment(json!({"app": "web", "tier": "front"}), 2, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl",
        false,
        NOW,
    )
    .unwrap();
    assert_eq!(
        first["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );
    let second = apply(
        Some(&first),
        &applied_deployment(json!({"app": "web"}), 2, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl",
        false,
        LATER,
    )
    .unwrap();
    assert_eq!(second["metadata"]["labels"], json!({"app": "web"}));
    let e = entry(&second, "kubectl").unwrap();
    assert_eq!(
        e["fieldsV1"]["f:metadata"],
        json!({"f:labels": {"f:app": {}}})
    );
    assert_eq!(e["time"], LATER);

    // A no-op apply keeps the entry's time.
    let third = apply(
        Some(&second),
        &applied_deployment(json!({"app": "web"}), 2, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl",
        false,
        "2024-05-01T12:00:00Z",
    )
    .unwrap();
    assert_eq!(entry(&third, "kubectl").unwrap()["time"], LATER);
    assert_eq!(third, second);
}

#[test]
fn apply_removes_a_container_dropped_from_the_configuration() {
    let mut config = applied_deployment(json!({"app": "web"}), 1, "nginx");
    config["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "nginx", "image": "nginx"}, {"name": "log", "image": "busybox"}]);
    let first = apply(None, &config, DEPLOYMENT, "kubectl", false, NOW).unwrap();
    assert_eq!(names(containers_of(&first)), ["nginx", "log"]);
    config["spec"]["template"]["spec"]["containers"] = json!([{"name": "nginx", "image": "nginx"}]);
    let second = apply(Some(&first), &config, DEPLOYMENT, "kubectl", false, LATER).unwrap();
    assert_eq!(names(containers_of(&second)), ["nginx"]);
}

#[test]
fn apply_conflicts_with_an_updater_unless_forced() {
    // `kubectl create` recorded an Update by kubectl-create.
    let created = update_managed_fields(
        None,
        &applied_deployment(json!({"app": "web"}), 1, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl-create",
        "apps/v1",
        NOW,
    );
    let creator = entry(&created, "kubectl-create").unwrap();
    assert_eq!(creator["operation"], "Update");
    assert_eq!(
        creator["fieldsV1"]["f:metadata"],
        json!({"f:labels": {".": {}, "f:app": {}}})
    );

    // Same values: no conflict, shared ownership.
    let same = apply(
        Some(&created),
        &applied_deployment(json!({"app": "web"}), 1, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl",
        false,
        LATER,
    )
    .unwrap();
    assert!(
        entry(&same, "kubectl-create").unwrap()["fieldsV1"]["f:spec"]["f:replicas"].is_object()
    );
    assert!(entry(&same, "kubectl").unwrap()["fieldsV1"]["f:spec"]["f:replicas"].is_object());
    // Apply entries sort before Update entries.
    assert_eq!(managed(&same)[0]["operation"], "Apply");

    // A different value: conflict.
    let err = apply(
        Some(&created),
        &applied_deployment(json!({"app": "web"}), 3, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl",
        false,
        LATER,
    )
    .unwrap_err();
    let Error::Conflict(conflicts) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].path, ".spec.replicas");
    assert_eq!(
        err.to_string(),
        format!(
            "Apply failed with 1 conflict: conflict with \"kubectl-create\" using apps/v1 at {NOW}: .spec.replicas"
        )
    );
    let status = err.to_api_error();
    assert_eq!((status.code, status.reason), (409, "Conflict"));
    assert_eq!(status.causes[0].reason, "FieldManagerConflict");
    assert_eq!(status.causes[0].field, ".spec.replicas");
    assert_eq!(
        status.causes[0].message,
        format!("conflict with \"kubectl-create\" using apps/v1 at {NOW}")
    );

    // Forced: the field moves to the applier.
    let forced = apply(
        Some(&created),
        &applied_deployment(json!({"app": "web"}), 3, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl",
        true,
        LATER,
    )
    .unwrap();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(
        entry(&forced, "kubectl-create").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    assert!(entry(&forced, "kubectl").unwrap()["fieldsV1"]["f:spec"]["f:replicas"].is_object());
}

#[test]
fn apply_conflicts_between_appliers_and_shared_fields_survive() {
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    let a = apply(
        None,
        &cm(json!({"x": "1", "shared": "s"})),
        CONFIGMAP,
        "a",
        false,
        NOW,
    )
    .unwrap();
    let b = apply(
        Some(&a),
        &cm(json!({"y": "2", "shared": "s"})),
        CONFIGMAP,
        "b",
        false,
        NOW,
    )
    .unwrap();
    assert_eq!(b["data"], json!({"x": "1", "shared": "s", "y": "2"}));

    let err = apply(
        Some(&b),
        &cm(json!({"x": "9"})),
        CONFIGMAP,
        "b",
        false,
        LATER,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"a\": .data.x"
    );

    // `a` stops applying `shared`: `b` still owns it, so it stays.
    let a2 = apply(
        Some(&b),
        &cm(json!({"x": "1"})),
        CONFIGMAP,
        "a",
        false,
        LATER,
    )
    .unwrap();
    assert_eq!(a2["data"], json!({"x": "1", "shared": "s", "y": "2"}));
    // `b` stops too: now it goes.
    let b2 = apply(
        Some(&a2),
        &cm(json!({"y": "2"})),
        CONFIGMAP,
        "b",
        false,
        LATER,
    )
    .unwrap();
    assert_eq!(b2["data"], json!({"x": "1", "y": "2"}));
}

#[test]
fn two_conflicts_list_managers() {
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    let a = apply(
        None,
        &cm(json!({"x": "1", "y": "1"})),
        CONFIGMAP,
        "a",
        false,
        NOW,
    )
    .unwrap();
    let err = apply(
        Some(&a),
        &cm(json!({"x": "2", "y": "2"})),
        CONFIGMAP,
        "b",
        false,
        NOW,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .data.x\n- .data.y"
    );
}

#[test]
fn apply_rejects_bad_configurations() {
    let mut unknown = applied_deployment(json!({"app": "web"}), 1, "nginx");
    unknown["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("x");
    let err = apply(None, &unknown, DEPLOYMENT, "kubectl", false, NOW).unwrap_err();
    assert_eq!(err.code(), 500);
    assert_eq!(
        err.to_string(),
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
         .spec.template.spec.containers[name=\"nginx\"].imagee: field not declared in schema"
    );

    let mut wrong_version = applied_deployment(json!({"app": "web"}), 1, "nginx");
    wrong_version["apiVersion"] = json!("apps/v1beta1");
    let err = apply(None, &wrong_version, DEPLOYMENT, "kubectl", false, NOW).unwrap_err();
    assert_eq!(err.code(), 400);
    assert_eq!(
        err.to_string(),
        "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"
    );

    let mut with_managed = applied_deployment(json!({"app": "web"}), 1, "nginx");
    with_managed["metadata"]["managedFields"] = json!([]);
    let err = apply(None, &with_managed, DEPLOYMENT, "kubectl", false, NOW).unwrap_err();
    assert_eq!(err.to_string(), "metadata.managedFields must be nil");

    let mut no_key = applied_deployment(json!({"app": "web"}), 1, "nginx");
    no_key["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    assert_eq!(
        apply(None, &no_key, DEPLOYMENT, "kubectl", false, NOW)
            .unwrap_err()
            .code(),
        500
    );
}

#[test]
fn apply_keyed_lists_keep_live_only_items() {
    // Another manager added a container; the applier's list merges around it.
    let first = apply(
        None,
        &applied_deployment(json!({"app": "web"}), 1, "nginx"),
        DEPLOYMENT,
        "kubectl",
        false,
        NOW,
    )
    .unwrap();
    let mut edited = first.clone();
    edited["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "envoy"}));
    let edited = update_managed_fields(
        Some(&first),
        &edited,
        DEPLOYMENT,
        "kubectl-edit",
        "apps/v1",
        LATER,
    );
    let again = apply(
        Some(&edited),
        &applied_deployment(json!({"app": "web"}), 1, "nginx:2"),
        DEPLOYMENT,
        "kubectl",
        false,
        LATER,
    )
    .unwrap();
    assert_eq!(names(containers_of(&again)), ["nginx", "sidecar"]);
    assert_eq!(containers_of(&again)[0]["image"], "nginx:2");
}

#[test]
fn apply_with_reset_fields_ignores_status() {
    let mut config = applied_deployment(json!({"app": "web"}), 1, "nginx");
    config["status"] = json!({"replicas": 5});
    let out = apply_with(
        None,
        &config,
        DEPLOYMENT,
        &ApplyOptions {
            manager: "kubectl",
            force: false,
            now: NOW,
            subresource: None,
            reset_fields: &[&["status"]],
        },
    )
    .unwrap();
    assert!(
        entry(&out, "kubectl").unwrap()["fieldsV1"]
            .get("f:status")
            .is_none()
    );
}

#[test]
fn updates_move_changed_fields_to_their_manager() {
    let created = update_managed_fields(
        None,
        &applied_deployment(json!({"app": "web"}), 1, "nginx:1.14"),
        DEPLOYMENT,
        "kubectl-create",
        "apps/v1",
        NOW,
    );
    let create_fields = &entry(&created, "kubectl-create").unwrap()["fieldsV1"];
    assert_eq!(
        create_fields["f:spec"]["f:template"]["f:spec"]["f:containers"],
        json!({"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {},
            "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}})
    );
    assert!(create_fields.get("f:apiVersion").is_none());
    assert_eq!(create_fields["f:metadata"].get("f:name"), None);

    let mut edited = created.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.16");
    let edited = update_managed_fields(
        Some(&created),
        &edited,
        DEPLOYMENT,
        "kubectl-edit",
        "apps/v1",
        LATER,
    );
    let editor = entry(&edited, "kubectl-edit").unwrap();
    assert_eq!(editor["time"], LATER);
    assert_eq!(
        editor["fieldsV1"],
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}})
    );
    let creator = entry(&edited, "kubectl-create").unwrap();
    assert!(creator["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"].get("f:image").is_none());
    assert_eq!(creator["time"], NOW);

    // An update that changes nothing leaves managedFields alone.
    let noop = update_managed_fields(
        Some(&edited),
        &edited,
        DEPLOYMENT,
        "someone",
        "apps/v1",
        "2030-01-01T00:00:00Z",
    );
    assert_eq!(
        noop["metadata"]["managedFields"],
        edited["metadata"]["managedFields"]
    );

    // Sending `managedFields: [{}]` clears them (then the update's own changes are recorded).
    let mut cleared = edited.clone();
    cleared["metadata"]["managedFields"] = json!([{}]);
    cleared["metadata"]["labels"]["x"] = json!("y");
    let cleared = update_managed_fields(
        Some(&edited),
        &cleared,
        DEPLOYMENT,
        "kubectl-label",
        "apps/v1",
        LATER,
    );
    assert_eq!(managed(&cleared).len(), 1);
    assert_eq!(
        managed(&cleared)[0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:x": {}}}})
    );
}

#[test]
fn status_updates_record_the_subresource() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let mut with_status = pod.clone();
    with_status["status"] =
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    let out = update_managed_fields_with(
        Some(&pod),
        &with_status,
        POD,
        &UpdateOptions {
            manager: "kubelet",
            api_version: "v1",
            now: NOW,
            subresource: Some("status"),
            reset_fields: &[&["spec"]],
        },
    );
    let e = entry(&out, "kubelet").unwrap();
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {"f:conditions": {".": {}, "k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:phase": {}}})
    );
}

#[test]
fn fields_v1_roundtrip_and_sets() {
    let v = json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}, "f:ownerReferences": {"k:{\"uid\":\"1\"}": {}}}});
    assert_eq!(apply::internals::roundtrip_fields_v1(&v), v);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a", "b"]}});
    assert_eq!(
        apply::internals::fields_of(&cm, CONFIGMAP),
        json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}}})
    );
}

#[test]
fn apply_sets_and_service_ports() {
    let svc = |ports: Value, finalizers: Value| {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "namespace": "default", "finalizers": finalizers},
            "spec": {"selector": {"app": "web"}, "ports": ports}})
    };
    let first = apply(
        None,
        &svc(
            json!([{"name": "http", "port": 80, "targetPort": 8080}]),
            json!(["a", "b"]),
        ),
        SERVICE,
        "kubectl",
        false,
        NOW,
    )
    .unwrap();
    let fields = &entry(&first, "kubectl").unwrap()["fieldsV1"];
    assert_eq!(
        fields["f:metadata"]["f:finalizers"],
        json!({"v:\"a\"": {}, "v:\"b\"": {}})
    );
    assert_eq!(
        fields["f:spec"]["f:ports"],
        json!({"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}})
    );
    // `selector` of a Service is an atomic map (`x-kubernetes-map-type: atomic`).
    assert_eq!(fields["f:spec"]["f:selector"], json!({}));

    // The server defaults the protocol; the keyed item still matches.
    let mut live = first.clone();
    live["spec"]["ports"][0]["protocol"] = json!("TCP");
    live["spec"]["clusterIP"] = json!("10.0.0.1");
    let second = apply(
        Some(&live),
        &svc(
            json!([{"name": "http", "port": 80, "targetPort": 9090}]),
            json!(["b"]),
        ),
        SERVICE,
        "kubectl",
        false,
        LATER,
    )
    .unwrap();
    assert_eq!(
        second["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}])
    );
    assert_eq!(second["spec"]["clusterIP"], "10.0.0.1");
    assert_eq!(second["metadata"]["finalizers"], json!(["b"]));
}

#[test]
fn strategic_patch_then_update_bookkeeping() {
    // The flow of a PATCH: strategic merge, then managedFields for the patcher.
    let created = update_managed_fields(
        None,
        &applied_deployment(json!({"app": "web"}), 1, "nginx"),
        DEPLOYMENT,
        "kubectl-create",
        "apps/v1",
        NOW,
    );
    let patched = patch(
        PatchType::Strategic,
        &created,
        br#"{"spec":{"replicas":4}}"#,
        DEPLOYMENT,
    )
    .unwrap();
    // managedFields ride along unchanged in the patched object.
    assert_eq!(
        patched["metadata"]["managedFields"],
        created["metadata"]["managedFields"]
    );
    let recorded = update_managed_fields(
        Some(&created),
        &patched,
        DEPLOYMENT,
        "kubectl",
        "apps/v1",
        LATER,
    );
    assert_eq!(
        entry(&recorded, "kubectl").unwrap()["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(
        entry(&recorded, "kubectl-create").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );
}
