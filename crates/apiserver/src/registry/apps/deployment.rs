//! Deployments: upstream's apps/v1 defaults (1 replica, `RollingUpdate` 25%/25%, 10 revisions,
//! 600s progress deadline); the selector is required, immutable and must select the template's
//! labels; the rollout strategy is validated (upstream `ValidateDeployment[Update]`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentStrategy as RolloutStrategy, RollingUpdateDeployment},
    apimachinery::pkg::util::intstr::IntOrString,
};

use super::validate_replicated_template;
use crate::registry::{
    Strategy,
    common::{self, default_str, int_or_percent_value, str_of},
    core::pod_spec,
};

/// The strategy of `deployments`.
pub struct DeploymentStrategy;

fn validate_strategy(strategy: &RolloutStrategy, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match str_of(&strategy.type_) {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errors.push(FieldError::forbidden(
                    &path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errors.push(FieldError::required(
                &path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let max_unavailable = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let max_surge = ru.max_surge.as_ref().unwrap_or(&zero);
                errors.extend(common::validate_positive_int_or_percent(
                    max_unavailable,
                    &p.child("maxUnavailable"),
                ));
                errors.extend(common::validate_positive_int_or_percent(
                    max_surge,
                    &p.child("maxSurge"),
                ));
                if int_or_percent_value(max_unavailable) == 0
                    && int_or_percent_value(max_surge) == 0
                {
                    errors.push(FieldError::invalid(
                        &p.child("maxUnavailable"),
                        common::int_or_string_json(max_unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errors.extend(common::is_not_more_than_100_percent(
                    max_unavailable,
                    &p.child("maxUnavailable"),
                ));
            }
        },
        other => errors.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    errors
}

impl Strategy for DeploymentStrategy {
    type Object = Deployment;
    const GENERATION: bool = true;

    fn default(&self, d: &mut Deployment) {
        let spec = d.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(Default::default);
        default_str(&mut strategy.type_, "RollingUpdate");
        if str_of(&strategy.type_) == "RollingUpdate" {
            let ru = strategy
                .rolling_update
                .get_or_insert_with(RollingUpdateDeployment::default);
            ru.max_unavailable
                .get_or_insert_with(|| IntOrString::String("25%".to_string()));
            ru.max_surge
                .get_or_insert_with(|| IntOrString::String("25%".to_string()));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        pod_spec::default_pod_template(&mut spec.template);
    }

    fn validate(&self, d: &Deployment) -> ErrorList {
        let spec = d.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = v::validate_nonnegative_field(
            spec.replicas.unwrap_or(1) as i64,
            &path.child("replicas"),
        );
        errors.extend(validate_replicated_template(
            &spec.selector,
            &spec.template,
            &path,
            "ReplicaSet",
        ));
        errors.extend(validate_strategy(
            &spec.strategy.clone().unwrap_or_default(),
            &path.child("strategy"),
        ));
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        errors.extend(v::validate_nonnegative_field(
            min_ready as i64,
            &path.child("minReadySeconds"),
        ));
        errors.extend(common::nonnegative(
            spec.revision_history_limit.map(i64::from),
            &path.child("revisionHistoryLimit"),
        ));
        if let Some(pds) = spec.progress_deadline_seconds {
            errors.extend(v::validate_nonnegative_field(
                pds as i64,
                &path.child("progressDeadlineSeconds"),
            ));
            if pds <= min_ready {
                errors.push(FieldError::invalid(
                    &path.child("progressDeadlineSeconds"),
                    pds,
                    "must be greater than minReadySeconds",
                ));
            }
        }
        errors
    }

    fn validate_update(&self, new: &Deployment, old: &Deployment) -> ErrorList {
        let mut errors = self.validate(new);
        let (n, o) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        errors.extend(common::validate_immutable_selector(
            &n.selector,
            &o.selector,
            &Path::new("spec").child("selector"),
        ));
        errors
    }
}
