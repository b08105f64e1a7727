//! The status a terminating namespace reports.

use jiff::Timestamp;
use k8s_openapi::{api::core::v1::Namespace, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::{api::DynamicObject, core::PartialObjectMeta, discovery::ApiResource};

use super::status::{Outcome, updated};

fn resource(group: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: if group.is_empty() {
            "v1".into()
        } else {
            format!("{group}/v1")
        },
        kind: String::new(),
        plural: plural.into(),
    }
}

fn object(finalizers: &[&str]) -> PartialObjectMeta<DynamicObject> {
    PartialObjectMeta {
        types: None,
        metadata: ObjectMeta {
            finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
            deletion_grace_period_seconds: Some(30),
            ..Default::default()
        },
        _phantom: std::marker::PhantomData,
    }
}

fn condition(ns: &Namespace, type_: &str) -> (String, String, String) {
    let c = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
        .expect("condition");
    (
        c.status.clone(),
        c.reason.clone().unwrap_or_default(),
        c.message.clone().unwrap_or_default(),
    )
}

#[test]
fn remaining_content_and_finalizers_are_reported_as_upstream_does() {
    let mut outcome = Outcome::default();
    outcome.count(&resource("", "pods"), &[object(&[]), object(&["a/b"])]);
    outcome.count(&resource("apps", "deployments"), &[object(&["a/b"])]);
    assert_eq!(outcome.remaining_estimate(), Some(30));
    assert!(outcome.failure().is_none());
    let ns = updated(&Namespace::default(), &outcome, Timestamp::UNIX_EPOCH).expect("changed");
    assert_eq!(
        ns.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Terminating")
    );
    assert_eq!(
        condition(&ns, "NamespaceContentRemaining"),
        (
            "True".into(),
            "SomeResourcesRemain".into(),
            "Some resources are remaining: deployments.apps has 1 resource instances, pods has 2 resource instances".into()
        )
    );
    assert_eq!(
        condition(&ns, "NamespaceFinalizersRemaining"),
        (
            "True".into(),
            "SomeFinalizersRemain".into(),
            "Some content in the namespace has finalizers remaining: a/b in 2 resource instances"
                .into()
        )
    );
    assert_eq!(
        condition(&ns, "NamespaceDeletionContentFailure").1,
        "ContentDeleted"
    );
    // The same outcome again changes nothing.
    assert!(updated(&ns, &outcome, Timestamp::now()).is_none());
}

#[test]
fn a_clean_pass_keeps_transition_times_of_unchanged_conditions() {
    let first = updated(
        &Namespace::default(),
        &Outcome::default(),
        Timestamp::UNIX_EPOCH,
    )
    .expect("changed");
    assert_eq!(
        condition(&first, "NamespaceContentRemaining"),
        (
            "False".into(),
            "ContentRemoved".into(),
            "All content successfully removed".into()
        )
    );
    let failed = Outcome {
        discovery_failure: Some("boom".into()),
        ..Default::default()
    };
    assert!(failed.failure().is_some());
    let second = updated(&first, &failed, Timestamp::now()).expect("changed");
    let times: Vec<(String, bool)> = second
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| {
            (
                c.type_.clone(),
                c.last_transition_time.as_ref().map(|t| t.0) == Some(Timestamp::UNIX_EPOCH),
            )
        })
        .collect();
    assert!(times.contains(&("NamespaceDeletionDiscoveryFailure".into(), false)));
    assert!(times.contains(&("NamespaceContentRemaining".into(), true)));
    assert_eq!(times.len(), 5);
}
