//! Printers of the kinds that bound what workloads get: PodDisruptionBudget,
//! HorizontalPodAutoscaler, ResourceQuota and PriorityClass.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, NAME, Printer, col, doc,
    format::{age, array_at, bool_at, int_at, int_or_string, name, quantity, quantity_ptr, str_at},
    text,
};

const HPA_SPEC: &str = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec";
const PRIORITY_CLASS: &str = "io.k8s.api.scheduling.v1.PriorityClass";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "policy",
        kind: "PodDisruptionBudget",
        columns: &[
            NAME,
            col(
                "Min Available",
                "string",
                text("The minimum number of pods that must be available."),
            ),
            col(
                "Max Unavailable",
                "string",
                text("The maximum number of pods that may be unavailable."),
            ),
            col(
                "Allowed Disruptions",
                "integer",
                text("Calculated number of pods that may be disrupted at this time."),
            ),
            AGE,
        ],
        cells: pod_disruption_budget,
    },
    Printer {
        group: "autoscaling",
        kind: "HorizontalPodAutoscaler",
        columns: &[
            NAME,
            col("Reference", "string", doc(HPA_SPEC, "scaleTargetRef")),
            col("Targets", "string", doc(HPA_SPEC, "metrics")),
            col("MinPods", "string", doc(HPA_SPEC, "minReplicas")),
            col("MaxPods", "string", doc(HPA_SPEC, "maxReplicas")),
            col(
                "Replicas",
                "string",
                doc(
                    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
                    "currentReplicas",
                ),
            ),
            AGE,
        ],
        cells: horizontal_pod_autoscaler,
    },
    Printer {
        group: "",
        kind: "ResourceQuota",
        columns: &[
            NAME,
            col(
                "Request",
                "string",
                text(
                    "Request represents a minimum amount of cpu/memory that a container may \
                     consume.",
                ),
            ),
            col(
                "Limit",
                "string",
                text(
                    "Limits control the maximum amount of cpu/memory that a container may use \
                     independent of contention on the node.",
                ),
            ),
            AGE,
        ],
        cells: resource_quota,
    },
    Printer {
        group: "scheduling.k8s.io",
        kind: "PriorityClass",
        columns: &[
            NAME,
            col("Value", "integer", doc(PRIORITY_CLASS, "value")),
            col(
                "Global-Default",
                "boolean",
                doc(PRIORITY_CLASS, "globalDefault"),
            ),
            AGE,
            col(
                "PreemptionPolicy",
                "string",
                doc(PRIORITY_CLASS, "preemptionPolicy"),
            ),
        ],
        cells: priority_class,
    },
];

/// The row of upstream's `printPodDisruptionBudget`.
fn pod_disruption_budget(obj: &Value, now: Timestamp) -> Vec<Value> {
    let bound = |pointer: &str| match obj.pointer(pointer) {
        Some(v) if !v.is_null() => int_or_string(v),
        _ => "N/A".to_string(),
    };
    vec![
        name(obj),
        json!(bound("/spec/minAvailable")),
        json!(bound("/spec/maxUnavailable")),
        json!(int_at(obj, "/status/disruptionsAllowed")),
        age(obj, now),
    ]
}

/// The row of upstream's `printHorizontalPodAutoscaler`.
fn horizontal_pod_autoscaler(obj: &Value, now: Timestamp) -> Vec<Value> {
    let min_pods = match obj.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(min) => min.to_string(),
        None => "<unset>".to_string(),
    };
    vec![
        name(obj),
        json!(format!(
            "{}/{}",
            str_at(obj, "/spec/scaleTargetRef/kind"),
            str_at(obj, "/spec/scaleTargetRef/name")
        )),
        json!(hpa_metrics(
            array_at(obj, "/spec/metrics"),
            array_at(obj, "/status/currentMetrics")
        )),
        json!(min_pods),
        json!(int_at(obj, "/spec/maxReplicas")),
        json!(int_at(obj, "/status/currentReplicas")),
        age(obj, now),
    ]
}

/// Upstream's `formatHPAMetrics`: `current/target` per metric (the status at the same index is
/// the current value), at most two, then `+ N more...`.
fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    const MAX: usize = 2;
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| metric(spec, statuses.get(i)))
        .collect();
    let shown = list
        .iter()
        .take(MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > MAX {
        format!("{shown} + {} more...", list.len() - MAX)
    } else {
        shown
    }
}

/// One metric of an HPA as `current/target`.
fn metric(spec: &Value, status: Option<&Value>) -> String {
    let kind = str_at(spec, "/type");
    let source = match kind {
        "External" => "external",
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".to_string(),
    };
    // The status's `current` of the same source, when the status has that source.
    let current = status
        .and_then(|s| s.get(source))
        .filter(|s| !s.is_null())
        .map(|s| s.get("current").unwrap_or(&Value::Null));
    let unknown = "<unknown>".to_string();
    let target = spec.pointer(&format!("/{source}/target"));
    let target_average = present_value(target.and_then(|t| t.get("averageValue")));
    // A `*Quantity` of the current value: `<nil>` when missing.
    let current_ptr = |field: &str| current.map(|c| quantity_ptr(c.get(field)));
    // A current value upstream checks for nil first: `<unknown>` when missing.
    let current_checked = |field: &str| present_value(current.and_then(|c| c.get(field)));
    match kind {
        "External" | "Object" => match target_average {
            Some(average) => {
                let now = current_checked("averageValue")
                    .map(|v| quantity(Some(v)))
                    .unwrap_or(unknown);
                format!("{now}/{} (avg)", quantity(Some(average)))
            }
            None => {
                let now = current_ptr("value").unwrap_or(unknown);
                format!(
                    "{now}/{}",
                    quantity_ptr(target.and_then(|t| t.get("value")))
                )
            }
        },
        "Pods" => {
            let now = current_ptr("averageValue").unwrap_or(unknown);
            format!("{now}/{}", quantity_ptr(target_average))
        }
        _ => {
            let resource = str_at(spec, &format!("/{source}/name"));
            match target_average {
                Some(average) => {
                    let now = current_ptr("averageValue").unwrap_or(unknown);
                    format!("{resource}: {now}/{}", quantity(Some(average)))
                }
                None => {
                    let now = current_checked("averageUtilization")
                        .and_then(Value::as_i64)
                        .map(|p| format!("{p}%"))
                        .unwrap_or(unknown);
                    let goal = match target
                        .and_then(|t| t.get("averageUtilization"))
                        .and_then(Value::as_i64)
                    {
                        Some(percent) => format!("{percent}%"),
                        None => "<auto>".to_string(),
                    };
                    format!("{resource}: {now}/{goal}")
                }
            }
        }
    }
}

/// The row of upstream's `printResourceQuota`: `resource: used/hard` per hard limit, sorted,
/// `limits.*` in the LIMIT column and the rest in REQUEST.
fn resource_quota(obj: &Value, now: Timestamp) -> Vec<Value> {
    let hard: BTreeMap<&str, &Value> = obj
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (resource, limit) in hard {
        let used = quantity(obj.pointer("/status/used").and_then(|u| u.get(resource)));
        let entry = format!("{resource}: {used}/{}", quantity(Some(limit)));
        match resource.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    vec![
        name(obj),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        age(obj, now),
    ]
}

/// The row of upstream's `printPriorityClass`.
fn priority_class(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        json!(int_at(obj, "/value")),
        json!(bool_at(obj, "/globalDefault", false)),
        age(obj, now),
        json!(str_at(obj, "/preemptionPolicy")),
    ]
}

/// The value unless it is missing or null (a non-nil Go pointer).
fn present_value(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}
