//! ReplicationControllers: the selector and the controller's labels default to the template's
//! labels and replicas to 1; the selector is required and must match the template, whose pods
//! always restart (upstream `ValidateReplicationController`).

use apimachinery::{
    labels::Selector,
    validation::{self as v, ErrorList, FieldError, Path},
};
use k8s_openapi::api::core::v1::{ReplicationController, ReplicationControllerSpec};

use super::pod_spec;
use crate::registry::{Strategy, common};

/// The strategy of `replicationcontrollers`.
pub struct ReplicationControllerStrategy;

fn validate_spec(spec: &ReplicationControllerSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    errors.extend(common::nonnegative(
        spec.min_ready_seconds.map(i64::from),
        &path.child("minReadySeconds"),
    ));
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        errors.push(FieldError::required(&path.child("selector"), ""));
    }
    errors.extend(v::validate_nonnegative_field(
        spec.replicas.unwrap_or(1) as i64,
        &path.child("replicas"),
    ));
    let template_path = path.child("template");
    match &spec.template {
        None => errors.push(FieldError::required(&template_path, "")),
        Some(template) => {
            let labels = pod_spec::template_labels(template);
            if !selector.is_empty()
                && !Selector::from_set(&selector).matches(&labels.cloned().unwrap_or_default())
            {
                errors.push(common::template_mismatch(
                    &template_path.child("metadata").child("labels"),
                    labels,
                ));
            }
            errors.extend(pod_spec::validate_pod_template(template, &template_path));
            errors.extend(pod_spec::validate_always_restart(
                template,
                &template_path,
                "ReplicationController",
                false,
            ));
        }
    }
    errors
}

impl Strategy for ReplicationControllerStrategy {
    type Object = ReplicationController;
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &["status.replicas"];

    fn default(&self, rc: &mut ReplicationController) {
        let spec = rc.spec.get_or_insert_with(Default::default);
        let labels = spec
            .template
            .as_ref()
            .and_then(|t| pod_spec::template_labels(t))
            .cloned();
        if let Some(labels) = labels {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if rc.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                rc.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        if let Some(template) = &mut spec.template {
            pod_spec::default_pod_template(template);
        }
    }

    fn validate(&self, rc: &ReplicationController) -> ErrorList {
        validate_spec(&rc.spec.clone().unwrap_or_default(), &Path::new("spec"))
    }
}
