//! Unit tests of the StatefulSet controller's pure parts.

use std::collections::BTreeMap;

use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::PodTemplateSpec};

use super::{
    claim_name, history, new_claims, new_pod, ordinal_of,
    plan::{Op, Slot, Spec, plan},
};

fn healthy(updated: bool) -> Slot {
    Slot {
        terminating: false,
        finished: false,
        healthy: true,
        updated,
    }
}

fn pending() -> Slot {
    Slot {
        healthy: false,
        ..healthy(true)
    }
}

fn ordered(replicas: i32) -> Spec {
    Spec {
        start: 0,
        replicas,
        parallel: false,
        partition: Some(0),
    }
}

fn slots(list: &[(i32, Slot)]) -> BTreeMap<i32, Slot> {
    list.iter().cloned().collect()
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time_after_its_predecessor_is_ready() {
    assert_eq!(plan(&ordered(3), &slots(&[])), vec![Op::Create(0)]);
    assert_eq!(plan(&ordered(3), &slots(&[(0, pending())])), vec![]);
    assert_eq!(
        plan(&ordered(3), &slots(&[(0, healthy(true))])),
        vec![Op::Create(1)]
    );
}

#[test]
fn parallel_creates_and_deletes_everything_at_once() {
    let spec = Spec {
        parallel: true,
        ..ordered(3)
    };
    assert_eq!(
        plan(&spec, &slots(&[(1, pending())])),
        vec![Op::Create(0), Op::Create(2)]
    );
    let spec = Spec {
        replicas: 1,
        ..spec
    };
    assert_eq!(
        plan(
            &spec,
            &slots(&[(0, healthy(true)), (1, pending()), (2, healthy(true))])
        ),
        vec![Op::Delete(2), Op::Delete(1)]
    );
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_and_waits_for_it() {
    let pods = slots(&[(0, healthy(true)), (1, healthy(true)), (2, healthy(true))]);
    assert_eq!(plan(&ordered(1), &pods), vec![Op::Delete(2)]);
    let mut going = pods.clone();
    going.get_mut(&2).expect("web-2").terminating = true;
    assert_eq!(plan(&ordered(1), &going), vec![]);
}

#[test]
fn finished_pods_are_replaced() {
    let done = Slot {
        finished: true,
        ..pending()
    };
    assert_eq!(plan(&ordered(1), &slots(&[(0, done)])), vec![Op::Delete(0)]);
}

#[test]
fn rolling_update_goes_down_from_the_highest_ordinal_to_the_partition() {
    let pods = slots(&[
        (0, healthy(false)),
        (1, healthy(false)),
        (2, healthy(false)),
    ]);
    assert_eq!(plan(&ordered(3), &pods), vec![Op::Delete(2)]);
    let pods = slots(&[(0, healthy(false)), (1, healthy(false)), (2, healthy(true))]);
    assert_eq!(plan(&ordered(3), &pods), vec![Op::Delete(1)]);
    let partitioned = Spec {
        partition: Some(2),
        ..ordered(3)
    };
    assert_eq!(plan(&partitioned, &pods), vec![]);
    let on_delete = Spec {
        partition: None,
        ..ordered(3)
    };
    let pods = slots(&[
        (0, healthy(false)),
        (1, healthy(false)),
        (2, healthy(false)),
    ]);
    assert_eq!(plan(&on_delete, &pods), vec![]);
}

#[test]
fn ordinals_and_claim_names() {
    assert_eq!(ordinal_of("web", "web-2"), Some(2));
    assert_eq!(ordinal_of("web", "web-x"), None);
    assert_eq!(ordinal_of("web", "webby-1"), None);
    assert_eq!(ordinal_of("web", "web--1"), None);
    assert_eq!(claim_name("www", "web", 0), "www-web-0");
}

fn web() -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    }))
    .expect("a StatefulSet")
}

#[test]
fn pods_get_their_identity_and_their_claims() {
    let set = web();
    let template: PodTemplateSpec = set.spec.clone().expect("spec").template;
    let pod = new_pod(&set, &template, "web-abc", 1);
    assert_eq!(pod.metadata.name.as_deref(), Some("web-1"));
    let labels = pod.metadata.labels.clone().expect("labels");
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-1");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "1");
    assert_eq!(labels["controller-revision-hash"], "web-abc");
    let spec = pod.spec.expect("spec");
    assert_eq!(spec.hostname.as_deref(), Some("web-1"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    let volume = &spec.volumes.expect("volumes")[0];
    assert_eq!(
        volume
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("www-web-1")
    );
    let claims = new_claims(&set, 1);
    assert_eq!(claims[0].metadata.name.as_deref(), Some("www-web-1"));
    assert_eq!(
        claims[0].metadata.labels.as_ref().expect("labels")["app"],
        "nginx"
    );
    assert!(
        claims[0].metadata.owner_references.is_none(),
        "Retain keeps claims unowned"
    );
}

#[test]
fn revisions_round_trip_their_template_and_hash_with_the_collision_count() {
    let set = web();
    let template = set.spec.clone().expect("spec").template;
    let data = history::data_of(&template);
    assert_eq!(data["spec"]["template"]["$patch"], "replace");
    let revision = k8s_openapi::api::apps::v1::ControllerRevision {
        data: Some(k8s_openapi::apimachinery::pkg::runtime::RawExtension(
            data.clone(),
        )),
        ..Default::default()
    };
    assert_eq!(history::template_of(&revision), Some(template));
    assert_ne!(history::hash(&data, 0), history::hash(&data, 1));
    assert!(
        history::hash(&data, 0)
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
    );
}
