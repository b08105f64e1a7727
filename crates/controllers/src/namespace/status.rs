//! What deleting a namespace's content found, and the namespace status that reports it:
//! phase Terminating and upstream's five deletion conditions.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{Namespace, NamespaceCondition, NamespaceStatus},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{api::DynamicObject, core::PartialObjectMeta, discovery::ApiResource};

/// What one pass over a terminating namespace's content found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Why discovery failed, if it did.
    pub discovery_failure: Option<String>,
    /// The kinds whose content could not be deleted, with why.
    pub content_failures: Vec<String>,
    /// How many objects remain, by group-resource (`pods`, `deployments.apps`).
    pub remaining: BTreeMap<String, usize>,
    /// How many remaining objects carry each finalizer.
    pub finalizers: BTreeMap<String, usize>,
    /// The longest grace period of the pods that remain, in seconds.
    pub grace: u64,
}

impl Outcome {
    /// Counts the objects of one kind that remain.
    pub fn count(&mut self, resource: &ApiResource, left: &[PartialObjectMeta<DynamicObject>]) {
        if left.is_empty() {
            return;
        }
        *self.remaining.entry(group_resource(resource)).or_default() += left.len();
        for obj in left {
            for f in obj.metadata.finalizers.iter().flatten() {
                *self.finalizers.entry(f.clone()).or_default() += 1;
            }
            if resource.group.is_empty() && resource.plural == "pods" {
                let grace = obj.metadata.deletion_grace_period_seconds.unwrap_or(0);
                self.grace = self.grace.max(u64::try_from(grace).unwrap_or(0));
            }
        }
    }

    /// Why the pass failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.discovery_failure
            .as_ref()
            .map(|e| format!("discovery failed: {e}"))
            .or_else(|| {
                (!self.content_failures.is_empty()).then(|| self.content_failures.join("; "))
            })
    }

    /// With content remaining, how many seconds it may still take (upstream's estimate).
    pub fn remaining_estimate(&self) -> Option<u64> {
        (!self.remaining.is_empty()).then_some(self.grace)
    }

    /// Upstream's five conditions, in upstream's order.
    fn conditions(&self) -> Vec<(&'static str, bool, &'static str, String)> {
        let joined = |m: &BTreeMap<String, usize>, what: &str| {
            m.iter()
                .map(|(k, n)| format!("{k} {what} {n} resource instances"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        vec![
            match &self.discovery_failure {
                Some(e) => (
                    "NamespaceDeletionDiscoveryFailure",
                    true,
                    "DiscoveryFailed",
                    format!("Discovery failed for some groups, 1 failing: {e}"),
                ),
                None => (
                    "NamespaceDeletionDiscoveryFailure",
                    false,
                    "ResourcesDiscovered",
                    "All resources successfully discovered".into(),
                ),
            },
            (
                "NamespaceDeletionGroupVersionParsingFailure",
                false,
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed".into(),
            ),
            if self.content_failures.is_empty() {
                (
                    "NamespaceDeletionContentFailure",
                    false,
                    "ContentDeleted",
                    "All content successfully deleted, may be waiting on finalization".into(),
                )
            } else {
                (
                    "NamespaceDeletionContentFailure",
                    true,
                    "ContentDeletionFailed",
                    format!(
                        "Failed to delete all resource types, {} remaining: {}",
                        self.content_failures.len(),
                        self.content_failures.join(", ")
                    ),
                )
            },
            if self.remaining.is_empty() {
                (
                    "NamespaceContentRemaining",
                    false,
                    "ContentRemoved",
                    "All content successfully removed".into(),
                )
            } else {
                (
                    "NamespaceContentRemaining",
                    true,
                    "SomeResourcesRemain",
                    format!(
                        "Some resources are remaining: {}",
                        joined(&self.remaining, "has")
                    ),
                )
            },
            if self.finalizers.is_empty() {
                (
                    "NamespaceFinalizersRemaining",
                    false,
                    "ContentHasNoFinalizers",
                    "All content-preserving finalizers finished".into(),
                )
            } else {
                (
                    "NamespaceFinalizersRemaining",
                    true,
                    "SomeFinalizersRemain",
                    format!(
                        "Some content in the namespace has finalizers remaining: {}",
                        joined(&self.finalizers, "in")
                    ),
                )
            },
        ]
    }
}

/// A resource as upstream's `GroupResource.String()` prints it: `pods`, `deployments.apps`.
pub fn group_resource(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// The namespace with phase Terminating and the conditions of `outcome`, or `None` when its
/// status says that already. A condition keeps its transition time while its status stays.
pub fn updated(ns: &Namespace, outcome: &Outcome, now: Timestamp) -> Option<Namespace> {
    let old = ns.status.clone().unwrap_or_default();
    let old_conditions = old.conditions.clone().unwrap_or_default();
    let mut conditions: Vec<NamespaceCondition> = old_conditions
        .iter()
        .filter(|c| !c.type_.starts_with("Namespace"))
        .cloned()
        .collect();
    for (type_, status, reason, message) in outcome.conditions() {
        let status = if status { "True" } else { "False" };
        let since = old_conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        conditions.push(NamespaceCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_transition_time: Some(since),
        });
    }
    let status = NamespaceStatus {
        phase: Some("Terminating".into()),
        conditions: Some(conditions),
    };
    if old == status {
        return None;
    }
    let mut updated = ns.clone();
    updated.metadata.managed_fields = None;
    updated.status = Some(status);
    Some(updated)
}
