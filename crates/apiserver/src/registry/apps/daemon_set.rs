//! DaemonSets: `RollingUpdate` with maxUnavailable 1 and maxSurge 0 and 10 revisions by
//! default; the selector is immutable and must select the template's labels; the
//! template's pods always restart (upstream `ValidateDaemonSet[Update]`).

use apimachinery::validation::{ErrorList, FieldError, Path};
use k8s_openapi::{
    api::apps::v1::{DaemonSet, DaemonSetUpdateStrategy, RollingUpdateDaemonSet},
    apimachinery::pkg::util::intstr::IntOrString,
};

use crate::registry::{
    Strategy,
    common::{self, default_str, int_or_percent_value, str_of},
    core::pod_spec,
};

/// The strategy of `daemonsets`.
pub struct DaemonSetStrategy;

fn validate_update_strategy(strategy: &DaemonSetUpdateStrategy, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match str_of(&strategy.type_) {
        "OnDelete" => {}
        "RollingUpdate" => {
            let Some(ru) = &strategy.rolling_update else {
                return vec![FieldError::required(&path.child("rollingUpdate"), "")];
            };
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
            errors.extend(common::is_not_more_than_100_percent(
                max_unavailable,
                &p.child("maxUnavailable"),
            ));
            errors.extend(common::is_not_more_than_100_percent(
                max_surge,
                &p.child("maxSurge"),
            ));
            let has_unavailable = int_or_percent_value(max_unavailable) != 0;
            let has_surge = int_or_percent_value(max_surge) != 0;
            if has_unavailable && has_surge {
                errors.push(FieldError::invalid(
                    &p.child("maxSurge"),
                    common::int_or_string_json(max_surge),
                    "may not be set when maxUnavailable is non-zero",
                ));
            } else if !has_unavailable && !has_surge {
                errors.push(FieldError::required(
                    &p.child("maxUnavailable"),
                    "cannot be 0 when maxSurge is 0",
                ));
            }
        }
        _ => errors.push(common::not_supported_raw(
            path,
            &common::go_value(strategy),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errors
}

impl Strategy for DaemonSetStrategy {
    type Object = DaemonSet;
    const GENERATION: bool = true;

    fn default(&self, ds: &mut DaemonSet) {
        let spec = ds.spec.get_or_insert_with(Default::default);
        let strategy = spec.update_strategy.get_or_insert_with(Default::default);
        default_str(&mut strategy.type_, "RollingUpdate");
        if str_of(&strategy.type_) == "RollingUpdate" {
            let ru = strategy
                .rolling_update
                .get_or_insert_with(RollingUpdateDaemonSet::default);
            ru.max_unavailable.get_or_insert(IntOrString::Int(1));
            ru.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        pod_spec::default_pod_template(&mut spec.template);
    }

    fn validate(&self, ds: &DaemonSet) -> ErrorList {
        let spec = ds.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let template_path = path.child("template");
        // Unlike the other workloads, upstream does not require the selector of a DaemonSet:
        // a missing one only fails to match the template.
        let mut errors = if common::selector_is_empty(&spec.selector) {
            vec![common::template_mismatch(
                &template_path.child("metadata").child("labels"),
                pod_spec::template_labels(&spec.template),
            )]
        } else {
            common::validate_selector_and_template(
                Some(&spec.selector),
                pod_spec::template_labels(&spec.template),
                &path.child("selector"),
                &template_path.child("metadata").child("labels"),
            )
        };
        errors.extend(pod_spec::validate_pod_template(
            &spec.template,
            &template_path,
        ));
        errors.extend(pod_spec::validate_always_restart(
            &spec.template,
            &template_path,
            "DaemonSet",
            true,
        ));
        errors.extend(common::nonnegative(
            spec.min_ready_seconds.map(i64::from),
            &path.child("minReadySeconds"),
        ));
        errors.extend(validate_update_strategy(
            &spec.update_strategy.clone().unwrap_or_default(),
            &path.child("updateStrategy"),
        ));
        errors.extend(common::nonnegative(
            spec.revision_history_limit.map(i64::from),
            &path.child("revisionHistoryLimit"),
        ));
        errors
    }

    fn validate_update(&self, new: &DaemonSet, old: &DaemonSet) -> ErrorList {
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
