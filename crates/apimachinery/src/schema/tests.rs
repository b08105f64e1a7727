//! Tests of the schema registry: definitions, upstream extensions, the walker and strict
//! field validation.

use super::*;

#[test]
fn registers_kinds_and_nested_definitions() {
    let defs = definitions();
    for name in [
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.api.apps.v1.DeploymentList",
        "io.k8s.api.core.v1.Container",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.api.autoscaling.v1.Scale",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    ] {
        assert!(defs.contains_key(name), "{name} missing");
    }
    for r in crate::resources::all() {
        assert!(defs.contains_key(&r.definition), "{} missing", r.definition);
        assert!(
            defs.contains_key(&format!("{}List", r.definition)),
            "{}List missing",
            r.definition
        );
    }
    let text = serde_json::to_string(defs).unwrap();
    assert!(!text.contains("#/$defs"));
}

#[test]
fn annotates_extensions() {
    let pod_spec = definition("io.k8s.api.core.v1.PodSpec").unwrap();
    let containers = &pod_spec["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["items"]["$ref"],
        "#/definitions/io.k8s.api.core.v1.Container"
    );
    assert_eq!(
        pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"],
        "merge,retainKeys"
    );
    let deploy = definition("io.k8s.api.apps.v1.Deployment").unwrap();
    assert_eq!(
        deploy["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert!(deploy.get("required").is_none());
    let list = definition("io.k8s.api.core.v1.PodList").unwrap();
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "PodList"
    );
    assert_eq!(list["description"], "PodList is a list of Pods.");
    let selector = definition("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector").unwrap();
    assert_eq!(selector["x-kubernetes-map-type"], "atomic");
    let delete = definition("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions").unwrap();
    let gvks = delete["x-kubernetes-group-version-kind"]
        .as_array()
        .unwrap();
    assert!(gvks.iter().any(|g| g["group"] == "apps"));
    assert!(
        !gvks
            .iter()
            .any(|g| g["group"] == "flowcontrol.apiserver.k8s.io")
    );
}

#[test]
fn patch_meta_table() {
    let m = patch_meta("io.k8s.api.core.v1.PodSpec", "containers");
    assert!(m.merges());
    assert_eq!(m.merge_key, Some("name"));
    assert_eq!(m.list_semantics(), (ListType::Map, &["name"][..]));
    let m = patch_meta("io.k8s.api.core.v1.Container", "ports");
    assert_eq!(m.merge_key, Some("containerPort"));
    assert_eq!(m.list_map_keys, &["containerPort", "protocol"]);
    let m = patch_meta(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
    );
    assert!(m.merges());
    assert_eq!(m.merge_key, None);
    assert_eq!(m.list_semantics().0, ListType::Set);
    let m = patch_meta("io.k8s.api.core.v1.PodSpec", "tolerations");
    assert!(!m.merges());
    assert_eq!(m.list_semantics().0, ListType::Atomic);
    assert!(patch_meta("io.k8s.api.apps.v1.DeploymentSpec", "strategy").retains_keys());
    assert!(patch_meta("io.k8s.api.apps.v1.DeploymentSpec", "selector").map_atomic());
    assert!(patch_meta("io.k8s.api.core.v1.PodSpec", "nodeSelector").map_atomic());
    assert!(!patch_meta("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels").map_atomic());
}

#[test]
fn walker() {
    assert_eq!(
        property_schema("io.k8s.api.apps.v1.Deployment", "spec"),
        Some(Child::Object("io.k8s.api.apps.v1.DeploymentSpec"))
    );
    assert_eq!(
        property_schema("io.k8s.api.core.v1.PodSpec", "containers"),
        Some(Child::Array(Box::new(Child::Object(
            "io.k8s.api.core.v1.Container"
        ))))
    );
    assert_eq!(
        property_schema("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels"),
        Some(Child::Map(Box::new(Child::Scalar)))
    );
    assert_eq!(
        property_schema("io.k8s.api.core.v1.Container", "args"),
        Some(Child::Array(Box::new(Child::Scalar)))
    );
    assert_eq!(
        property_schema("io.k8s.api.core.v1.ContainerPort", "containerPort"),
        Some(Child::Scalar)
    );
    assert_eq!(
        property_schema("io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge"),
        Some(Child::Scalar)
    );
    assert_eq!(
        property_schema("io.k8s.api.core.v1.ResourceRequirements", "limits"),
        Some(Child::Map(Box::new(Child::Scalar)))
    );
    assert_eq!(
        property_schema("io.k8s.api.apps.v1.ControllerRevision", "data"),
        Some(Child::Free)
    );
    assert_eq!(
        property_schema("io.k8s.api.core.v1.Container", "imagee"),
        None
    );
}

#[test]
fn unknown_fields_paths() {
    let obj = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "bogus": 1},
        "spec": {
            "foo": 1,
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "a", "image": "nginx"},
                        {"name": "b", "imagee": "nginx", "resources": {"limits": {"cpu": "1"}}}
                    ]
                }
            }
        }
    });
    assert_eq!(
        unknown_fields("io.k8s.api.apps.v1.Deployment", &obj),
        vec![
            "metadata.bogus".to_string(),
            "spec.foo".to_string(),
            "spec.template.spec.containers[1].imagee".to_string(),
        ]
    );
    let rev = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "x"},
        "revision": 1, "data": {"anything": {"goes": true}}});
    assert!(unknown_fields("io.k8s.api.apps.v1.ControllerRevision", &rev).is_empty());
}

#[test]
fn ref_prefix_rewrite() {
    let d = definition("io.k8s.api.apps.v1.Deployment").unwrap();
    let v3 = with_ref_prefix(d, "#/components/schemas/");
    assert_eq!(
        v3["properties"]["spec"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
    );
}
