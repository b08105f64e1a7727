//! Strategies of the `apps` group: Deployments, ReplicaSets, StatefulSets, DaemonSets and
//! ControllerRevisions.

pub mod controller_revision;
pub mod daemon_set;
pub mod deployment;
pub mod replica_set;
pub mod stateful_set;

use apimachinery::validation::{ErrorList, Path};
use k8s_openapi::{
    api::core::v1::PodTemplateSpec, apimachinery::pkg::apis::meta::v1::LabelSelector,
};

use crate::registry::{common, core::pod_spec};

/// Validates a ReplicaSet-like template (upstream `ValidatePodTemplateSpecForReplicaSet`,
/// preceded by the selector checks): the selector is required and selects the template's
/// labels, the template is a valid pod template whose pods always restart.
pub fn validate_replicated_template(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    spec_path: &Path,
    kind: &str,
) -> ErrorList {
    let template_path = spec_path.child("template");
    let mut errors = common::validate_selector_and_template(
        Some(selector),
        pod_spec::template_labels(template),
        &spec_path.child("selector"),
        &template_path.child("metadata").child("labels"),
    );
    errors.extend(pod_spec::validate_pod_template(template, &template_path));
    errors.extend(pod_spec::validate_always_restart(
        template,
        &template_path,
        kind,
        false,
    ));
    errors
}
