//! HorizontalPodAutoscalers (light): `minReplicas` 1 and an 80% CPU utilization metric by
//! default, behavior rules completed when present; the scale target is named, replica bounds
//! are consistent and metric types known (upstream `ValidateHorizontalPodAutoscaler`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, MetricSpec, MetricTarget,
    ResourceMetricSource,
};

use crate::registry::{Strategy, common};

/// The strategy of `horizontalpodautoscalers`.
pub struct HorizontalPodAutoscalerStrategy;

fn policy(type_: &str, value: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: type_.to_string(),
        value,
        period_seconds: 15,
    }
}

/// Upstream `GenerateHPAScaleUpRules` / `GenerateHPAScaleDownRules`.
fn default_rules(rules: &mut Option<HPAScalingRules>, up: bool) {
    let r = rules.get_or_insert_with(Default::default);
    if r.policies.as_ref().is_none_or(Vec::is_empty) {
        r.policies = Some(if up {
            vec![policy("Pods", 4), policy("Percent", 100)]
        } else {
            vec![policy("Percent", 100)]
        });
    }
    r.select_policy.get_or_insert_with(|| "Max".to_string());
    r.stabilization_window_seconds
        .get_or_insert(if up { 0 } else { 300 });
}

fn validate_rules(rules: Option<&HPAScalingRules>, path: &Path) -> ErrorList {
    let Some(r) = rules else { return Vec::new() };
    let mut errors = Vec::new();
    if let Some(w) = r.stabilization_window_seconds
        && !(0..=3600).contains(&w)
    {
        errors.push(FieldError::invalid(
            &path.child("stabilizationWindowSeconds"),
            w,
            "must be less than or equal to 3600",
        ));
    }
    if let Some(p) = r.select_policy.as_deref()
        && !["Disabled", "Max", "Min"].contains(&p)
    {
        errors.push(FieldError::not_supported(
            &path.child("selectPolicy"),
            p,
            &["Disabled", "Max", "Min"],
        ));
    }
    let policies = r.policies.as_deref().unwrap_or_default();
    if policies.is_empty() {
        errors.push(FieldError::required(
            &path.child("policies"),
            "must specify at least one Policy",
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        let pp = path.child("policies").index(i);
        if p.type_ != "Pods" && p.type_ != "Percent" {
            errors.push(FieldError::not_supported(
                &pp.child("type"),
                p.type_.as_str(),
                &["Percent", "Pods"],
            ));
        }
        if p.value <= 0 {
            errors.push(FieldError::invalid(
                &pp.child("value"),
                p.value,
                "must be greater than zero",
            ));
        }
        if p.period_seconds <= 0 {
            errors.push(FieldError::invalid(
                &pp.child("periodSeconds"),
                p.period_seconds,
                "must be greater than zero",
            ));
        }
        if p.period_seconds > 1800 {
            errors.push(FieldError::invalid(
                &pp.child("periodSeconds"),
                p.period_seconds,
                "must be less than or equal to 1800",
            ));
        }
    }
    errors
}

impl Strategy for HorizontalPodAutoscalerStrategy {
    type Object = HorizontalPodAutoscaler;

    fn default(&self, hpa: &mut HorizontalPodAutoscaler) {
        let spec = hpa.spec.get_or_insert_with(Default::default);
        spec.min_replicas.get_or_insert(1);
        if spec.metrics.as_ref().is_none_or(Vec::is_empty) {
            spec.metrics = Some(vec![MetricSpec {
                type_: "Resource".to_string(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_string(),
                    target: MetricTarget {
                        type_: "Utilization".to_string(),
                        average_utilization: Some(80),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]);
        }
        if let Some(behavior) = &mut spec.behavior {
            default_rules(&mut behavior.scale_up, true);
            default_rules(&mut behavior.scale_down, false);
        }
    }

    fn validate(&self, hpa: &HorizontalPodAutoscaler) -> ErrorList {
        let spec = hpa.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = Vec::new();
        if let Some(min) = spec.min_replicas
            && min < 1
        {
            errors.push(FieldError::invalid(
                &path.child("minReplicas"),
                min,
                "must be greater than or equal to 1",
            ));
        }
        if spec.max_replicas < 1 {
            errors.push(FieldError::invalid(
                &path.child("maxReplicas"),
                spec.max_replicas,
                "must be greater than 0",
            ));
        }
        if spec.min_replicas.is_some_and(|min| spec.max_replicas < min) {
            errors.push(FieldError::invalid(
                &path.child("maxReplicas"),
                spec.max_replicas,
                "must be greater than or equal to `minReplicas`",
            ));
        }
        let target = path.child("scaleTargetRef");
        let mut ref_errors = Vec::new();
        for (field, value) in [
            ("kind", &spec.scale_target_ref.kind),
            ("name", &spec.scale_target_ref.name),
        ] {
            if value.is_empty() {
                ref_errors.push(FieldError::required(&target.child(field), ""));
            } else {
                ref_errors.extend(common::each_invalid(
                    &target.child(field),
                    value,
                    v::is_valid_path_segment_name(value),
                ));
            }
        }
        if !ref_errors.is_empty() {
            errors.extend(ref_errors);
            return errors;
        }
        const TYPES: &[&str] = &[
            "ContainerResource",
            "External",
            "Object",
            "Pods",
            "Resource",
        ];
        for (i, m) in spec.metrics.iter().flatten().enumerate() {
            let p = path.child("metrics").index(i);
            if m.type_.is_empty() {
                errors.push(FieldError::required(
                    &p.child("type"),
                    "must specify a metric source type",
                ));
            } else if !TYPES.contains(&m.type_.as_str()) {
                errors.push(FieldError::not_supported(
                    &p.child("type"),
                    m.type_.as_str(),
                    TYPES,
                ));
            }
        }
        if let Some(b) = &spec.behavior {
            let p = path.child("behavior");
            errors.extend(validate_rules(b.scale_up.as_ref(), &p.child("scaleUp")));
            errors.extend(validate_rules(b.scale_down.as_ref(), &p.child("scaleDown")));
        }
        errors
    }
}
