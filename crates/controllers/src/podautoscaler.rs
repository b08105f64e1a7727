//! The HorizontalPodAutoscaler controller (autoscaling/v2): reads each target's scale
//! subresource, keeps its replicas within minReplicas..maxReplicas, and reports the
//! AbleToScale, ScalingActive and ScalingLimited conditions as upstream does.
//!
//! No metrics API (metrics.k8s.io, custom.metrics.k8s.io) exists yet, so [`metric_replicas`]
//! fails every metric the way upstream fails when the API returns nothing; plugging metrics in
//! means implementing that one function.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::autoscaling::v2::{
        HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
        MetricSpec, MetricStatus,
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api,
    api::{ApiResource, DynamicObject, Patch, PatchParams},
    runtime::controller::{Action, Controller},
};
use serde_json::json;

use crate::{Context, Result};

/// How often each autoscaler is re-evaluated (`--horizontal-pod-autoscaler-sync-period`).
const SYNC_PERIOD: Duration = Duration::from_secs(15);

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let hpas = ctx.informers.get::<HorizontalPodAutoscaler>();
    let controller = Controller::for_shared_stream(hpas.subscribe(), hpas.store());
    let evaluations = Arc::new(Evaluations::default());
    crate::drive("podautoscaler", controller, ctx, move |hpa, ctx| {
        reconcile(hpa, ctx, evaluations.clone())
    })
    .await;
}

/// When each autoscaler (by uid) last evaluated its metrics, and at which generation: upstream
/// evaluates once per sync period, however many updates (its own status writes among them)
/// the autoscaler sees in between.
#[derive(Default)]
struct Evaluations(Mutex<HashMap<String, (Instant, Option<i64>)>>);

impl Evaluations {
    /// Whether the metrics are due (not evaluated this period at this generation); records
    /// the evaluation when they are.
    fn due(&self, uid: &str, generation: Option<i64>) -> bool {
        let mut last = self.0.lock().expect("evaluations lock");
        if let Some((at, g)) = last.get(uid)
            && *g == generation
            && at.elapsed() < SYNC_PERIOD
        {
            return false;
        }
        // Autoscalers gone for a while are forgotten.
        last.retain(|_, (at, _)| at.elapsed() < SYNC_PERIOD * 10);
        last.insert(uid.to_string(), (Instant::now(), generation));
        true
    }
}

/// Why a metric could not give a replica count: the ScalingActive reason and the error.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFailure {
    /// The condition and event reason (`FailedGetResourceMetric`, ...).
    pub reason: String,
    /// The error, as upstream words it.
    pub error: String,
}

/// The replica count one metric asks for, with its current status (upstream
/// `computeReplicasForMetric`). Without a metrics API every metric fails.
pub fn metric_replicas(
    metric: &MetricSpec,
    _current_replicas: i32,
) -> std::result::Result<(i32, MetricStatus), MetricFailure> {
    let no_resource_metrics = |resource: &str| {
        format!(
            "unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        )
    };
    let no_custom_metrics = |name: &str| {
        format!(
            "unable to get metric {name}: no custom metrics API (custom.metrics.k8s.io) registered"
        )
    };
    let (reason, error) = match metric.type_.as_str() {
        "Resource" => {
            let source = metric.resource.as_ref();
            let name = source.map(|s| s.name.as_str()).unwrap_or_default();
            let utilization = source.is_some_and(|s| s.target.average_utilization.is_some());
            let what = if utilization { "utilization" } else { "usage" };
            (
                "FailedGetResourceMetric",
                format!("failed to get {name} {what}: {}", no_resource_metrics(name)),
            )
        }
        "ContainerResource" => {
            let name = metric
                .container_resource
                .as_ref()
                .map(|s| s.name.as_str())
                .unwrap_or_default();
            (
                "FailedGetContainerResourceMetric",
                format!(
                    "failed to get {name} utilization: {}",
                    no_resource_metrics(name)
                ),
            )
        }
        "Pods" => (
            "FailedGetPodsMetric",
            no_custom_metrics(
                metric
                    .pods
                    .as_ref()
                    .map(|p| p.metric.name.as_str())
                    .unwrap_or_default(),
            ),
        ),
        "Object" => (
            "FailedGetObjectMetric",
            no_custom_metrics(
                metric
                    .object
                    .as_ref()
                    .map(|p| p.metric.name.as_str())
                    .unwrap_or_default(),
            ),
        ),
        "External" => (
            "FailedGetExternalMetric",
            format!(
                "unable to get external metric {}: no external metrics API (external.metrics.k8s.io) registered",
                metric
                    .external
                    .as_ref()
                    .map(|p| p.metric.name.as_str())
                    .unwrap_or_default()
            ),
        ),
        other => (
            "InvalidMetricSourceType",
            format!("unknown metric source type \"{other}\""),
        ),
    };
    Err(MetricFailure {
        reason: reason.into(),
        error,
    })
}

/// What the metrics ask for: the largest proposal of the valid metrics (upstream
/// `computeReplicasForMetrics`), or, when every metric failed, the first failure with the
/// aggregate error.
pub fn replicas_for_metrics(
    metrics: &[MetricSpec],
    current_replicas: i32,
) -> std::result::Result<(i32, Vec<MetricStatus>), (MetricFailure, String)> {
    let mut best: Option<i32> = None;
    let mut statuses = Vec::new();
    let mut first: Option<(MetricFailure, String)> = None;
    let mut invalid = 0;
    for metric in metrics {
        match metric_replicas(metric, current_replicas) {
            Ok((replicas, status)) => {
                best = Some(best.map_or(replicas, |b| b.max(replicas)));
                statuses.push(status);
            }
            Err(failure) => {
                invalid += 1;
                first.get_or_insert_with(|| (failure, value_context(metric)));
            }
        }
    }
    match (best, first) {
        (Some(replicas), _) => Ok((replicas, statuses)),
        (None, Some((failure, context))) => {
            let aggregate = format!(
                "invalid metrics ({invalid} invalid out of {}), first error is: {context}: {}",
                metrics.len(),
                failure.error
            );
            Err((failure, aggregate))
        }
        (None, None) => Ok((current_replicas, statuses)),
    }
}

/// What upstream says it failed to get for a metric, wrapping the metric's own error.
fn value_context(metric: &MetricSpec) -> String {
    match metric.type_.as_str() {
        "Resource" => format!(
            "failed to get {} resource metric value",
            metric
                .resource
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or_default()
        ),
        "ContainerResource" => format!(
            "failed to get {} container metric value",
            metric
                .container_resource
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or_default()
        ),
        "External" => format!(
            "failed to get {} external metric value",
            metric
                .external
                .as_ref()
                .map(|r| r.metric.name.as_str())
                .unwrap_or_default()
        ),
        "Pods" => "failed to get pods metric value".into(),
        "Object" => "failed to get object metric value".into(),
        other => format!("failed to get {other} metric value"),
    }
}

/// Sets a condition, keeping its transition time when its status did not change.
fn set_condition(
    conditions: &mut Vec<HorizontalPodAutoscalerCondition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
) {
    let status = if status { "True" } else { "False" };
    let old = conditions.iter().position(|c| c.type_ == type_);
    let since = old
        .map(|i| &conditions[i])
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(jiff::Timestamp::now()));
    let condition = HorizontalPodAutoscalerCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(since),
    };
    match old {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

/// The API resource of a scale target, from its apiVersion and kind.
fn target_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = match kind {
        "Deployment" => "deployments".to_string(),
        "ReplicaSet" => "replicasets".into(),
        "StatefulSet" => "statefulsets".into(),
        "ReplicationController" => "replicationcontrollers".into(),
        other => format!("{}s", other.to_lowercase()),
    };
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural,
    }
}

/// The bounds decision for a target at `current` replicas (upstream `reconcileAutoscaler`
/// before and after the metrics): the replicas wanted and why, or `None` when the metrics
/// decide.
pub fn bounds(current: i32, min: i32, max: i32) -> Option<(i32, &'static str)> {
    if current > max {
        Some((max, "Current number of replicas above Spec.MaxReplicas"))
    } else if current < min {
        Some((min, "Current number of replicas below Spec.MinReplicas"))
    } else {
        None
    }
}

async fn reconcile(
    hpa: Arc<HorizontalPodAutoscaler>,
    ctx: Arc<Context>,
    evaluations: Arc<Evaluations>,
) -> Result<Action> {
    if hpa.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = hpa.metadata.namespace.clone().unwrap_or_default();
    let spec = hpa.spec.clone().unwrap_or_default();
    let target = &spec.scale_target_ref;
    let reference = format!("{}/{}", target.kind, target.name);
    let resource = target_resource(target.api_version.as_deref().unwrap_or("v1"), &target.kind);
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &resource);
    let old = hpa.status.clone().unwrap_or_default();
    let mut status = HorizontalPodAutoscalerStatus {
        observed_generation: hpa.metadata.generation,
        ..old.clone()
    };
    let mut conditions = old.conditions.clone().unwrap_or_default();
    let scale = match api.get_scale(&target.name).await {
        Ok(scale) => scale,
        Err(e) => {
            ctx.recorder.warning(&*hpa, "FailedGetScale", e.to_string());
            set_condition(
                &mut conditions,
                "AbleToScale",
                false,
                "FailedGetScale",
                format!("the HPA controller was unable to get the target's current scale: {e}"),
            );
            status.conditions = Some(conditions);
            write_status(&ctx, &hpa, &old, status).await?;
            return Ok(Action::requeue(SYNC_PERIOD));
        }
    };
    set_condition(
        &mut conditions,
        "AbleToScale",
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".into(),
    );
    let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let min = spec.min_replicas.unwrap_or(1);
    status.current_replicas = Some(current);
    let mut wanted: Option<(i32, String)> = None;
    if current == 0 && min != 0 {
        set_condition(
            &mut conditions,
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".into(),
        );
        status.desired_replicas = 0;
    } else if let Some((replicas, reason)) = bounds(current, min, spec.max_replicas) {
        wanted = Some((replicas, reason.into()));
    } else if scale
        .status
        .as_ref()
        .and_then(|s| s.selector.as_deref())
        .unwrap_or_default()
        .is_empty()
    {
        ctx.recorder
            .warning(&*hpa, "SelectorRequired", "selector is required".into());
        set_condition(
            &mut conditions,
            "ScalingActive",
            false,
            "InvalidSelector",
            "the HPA target's scale is missing a selector".into(),
        );
    } else if evaluations.due(
        hpa.metadata.uid.as_deref().unwrap_or_default(),
        hpa.metadata.generation,
    ) {
        let metrics = spec.metrics.clone().unwrap_or_default();
        match replicas_for_metrics(&metrics, current) {
            Ok((proposal, statuses)) => {
                set_condition(
                    &mut conditions,
                    "ScalingActive",
                    true,
                    "ValidMetricFound",
                    "the HPA was able to successfully calculate a replica count".into(),
                );
                let (limited, reason, message) = if proposal > spec.max_replicas {
                    (
                        true,
                        "TooManyReplicas",
                        "the desired replica count is more than the maximum replica count",
                    )
                } else if proposal < min {
                    (
                        true,
                        "TooFewReplicas",
                        "the desired replica count is less than the minimum replica count",
                    )
                } else {
                    (
                        false,
                        "DesiredWithinRange",
                        "the desired count is within the acceptable range",
                    )
                };
                set_condition(
                    &mut conditions,
                    "ScalingLimited",
                    limited,
                    reason,
                    message.into(),
                );
                status.current_metrics = Some(statuses);
                let desired = proposal.clamp(min, spec.max_replicas);
                status.desired_replicas = desired;
                if desired != current {
                    let reason = if desired > current { "above" } else { "below" };
                    wanted = Some((desired, format!("All metrics {reason} target")));
                }
            }
            Err((failure, aggregate)) => {
                ctx.recorder
                    .warning(&*hpa, &failure.reason, failure.error.clone());
                set_condition(
                    &mut conditions,
                    "ScalingActive",
                    false,
                    &failure.reason,
                    format!(
                        "the HPA was unable to compute the replica count: {}",
                        failure.error
                    ),
                );
                ctx.recorder
                    .warning(&*hpa, "FailedComputeMetricsReplicas", aggregate.clone());
                tracing::debug!(hpa = ?hpa.metadata.name, target = reference, error = aggregate, "no replica count from metrics");
            }
        }
    }
    if let Some((desired, reason)) = wanted {
        let patch = json!({"spec": {"replicas": desired}});
        match api
            .patch_scale(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                ctx.recorder.normal(
                    &*hpa,
                    "SuccessfulRescale",
                    format!("New size: {desired}; reason: {reason}"),
                );
                set_condition(
                    &mut conditions,
                    "AbleToScale",
                    true,
                    "SucceededRescale",
                    format!("the HPA controller was able to update the target scale to {desired}"),
                );
                status.desired_replicas = desired;
                status.last_scale_time = Some(Time(jiff::Timestamp::now()));
            }
            Err(e) => {
                ctx.recorder.warning(
                    &*hpa,
                    "FailedRescale",
                    format!("New size: {desired}; reason: {reason}; error: {e}"),
                );
                set_condition(
                    &mut conditions,
                    "AbleToScale",
                    false,
                    "FailedUpdateScale",
                    format!("the HPA controller was unable to update the target scale: {e}"),
                );
            }
        }
    }
    status.conditions = Some(conditions);
    write_status(&ctx, &hpa, &old, status).await?;
    Ok(Action::requeue(SYNC_PERIOD))
}

async fn write_status(
    ctx: &Context,
    hpa: &HorizontalPodAutoscaler,
    old: &HorizontalPodAutoscalerStatus,
    status: HorizontalPodAutoscalerStatus,
) -> Result<()> {
    if &status == old {
        return Ok(());
    }
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(
        ctx.client.clone(),
        hpa.metadata.namespace.as_deref().unwrap_or_default(),
    );
    api.patch_status(
        hpa.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
