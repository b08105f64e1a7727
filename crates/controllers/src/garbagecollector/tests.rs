//! The owner graph's classification of owners and its verdicts on dependents.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ApiResource, PropagationPolicy};

use super::graph::{FOREGROUND, Graph, Node, ORPHAN, Owner, Verdict, verdict};

fn configmap(ns: &str, name: &str, uid: &str, owners: Vec<OwnerReference>) -> Node {
    Node {
        resource: ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
        },
        namespace: Some(ns.into()),
        name: name.into(),
        uid: uid.into(),
        resource_version: Some("1".into()),
        owners,
        finalizers: Vec::new(),
        deleting: false,
    }
}

fn owned_by(owner: &Node, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: owner.resource.api_version.clone(),
        kind: owner.resource.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(block),
    }
}

#[test]
fn an_owner_in_the_graph_is_solid_and_waits_when_deleted_in_the_foreground() {
    let mut graph = Graph::default();
    let owner = configmap("a", "owner", "u1", vec![]);
    let dep = configmap("a", "dep", "u2", vec![owned_by(&owner, true)]);
    graph.upsert(owner.clone());
    graph.upsert(dep.clone());
    assert_eq!(graph.classify(&dep, &dep.owners[0]), Owner::Solid);
    assert!(graph.has_dependents("u1"));
    assert!(graph.blocked("u1"));

    let deleting = Node {
        deleting: true,
        finalizers: vec![FOREGROUND.into()],
        ..owner.clone()
    };
    graph.upsert(deleting);
    assert_eq!(graph.classify(&dep, &dep.owners[0]), Owner::Waiting);

    graph.remove("u2");
    assert!(!graph.blocked("u1"));
    assert!(!graph.has_dependents("u1"));
}

#[test]
fn a_uid_naming_another_object_is_left_to_the_api() {
    let mut graph = Graph::default();
    let owner = configmap("a", "owner", "u1", vec![]);
    graph.upsert(owner.clone());
    // Same uid, other name.
    let mut reference = owned_by(&owner, false);
    reference.name = "other".into();
    let dep = configmap("a", "dep", "u2", vec![reference]);
    assert_eq!(graph.classify(&dep, &dep.owners[0]), Owner::Unknown);
    // Same uid and name, other namespace.
    let elsewhere = configmap("b", "dep", "u3", vec![owned_by(&owner, false)]);
    assert_eq!(
        graph.classify(&elsewhere, &elsewhere.owners[0]),
        Owner::Unknown
    );
    // Not in the graph at all.
    let mut missing = owned_by(&owner, false);
    missing.uid = "u9".into();
    let orphan = configmap("a", "dep", "u4", vec![missing]);
    assert_eq!(graph.classify(&orphan, &orphan.owners[0]), Owner::Unknown);
    // A blocking reference that names another object does not block.
    assert!(!graph.blocked("u9"));
}

#[test]
fn verdicts_follow_upstream() {
    let dep = configmap("a", "dep", "u2", vec![]);
    let o = |owners: &[(&str, Owner)]| -> Vec<(String, Owner)> {
        owners.iter().map(|(u, o)| (u.to_string(), *o)).collect()
    };
    assert_eq!(verdict(&dep, &o(&[]), false), Verdict::Keep);
    assert_eq!(
        verdict(&dep, &o(&[("a", Owner::Solid)]), false),
        Verdict::Keep
    );
    assert_eq!(
        verdict(&dep, &o(&[("a", Owner::Dangling)]), false),
        Verdict::Delete(PropagationPolicy::Background)
    );
    // Another owner stays: only the references to gone and waiting owners go.
    assert_eq!(
        verdict(
            &dep,
            &o(&[
                ("a", Owner::Solid),
                ("b", Owner::Dangling),
                ("c", Owner::Waiting)
            ]),
            false
        ),
        Verdict::RemoveOwners(vec!["b".into(), "c".into()])
    );
    // A waiting owner deletes its dependents; those with dependents of their own in the
    // foreground too.
    assert_eq!(
        verdict(&dep, &o(&[("a", Owner::Waiting)]), true),
        Verdict::Delete(PropagationPolicy::Foreground)
    );
    assert_eq!(
        verdict(&dep, &o(&[("a", Owner::Waiting)]), false),
        Verdict::Delete(PropagationPolicy::Background)
    );
    // A dependent's own finalizers choose its policy.
    let orphaning = Node {
        finalizers: vec![ORPHAN.into()],
        ..dep.clone()
    };
    assert_eq!(
        verdict(&orphaning, &o(&[("a", Owner::Dangling)]), true),
        Verdict::Delete(PropagationPolicy::Orphan)
    );
}
