//! The Deployment controller: one ReplicaSet per pod template (named by the template's
//! hash), rolled out with RollingUpdate (maxSurge/maxUnavailable) or Recreate, with revision
//! annotations that `kubectl rollout history|undo` read, `spec.paused`, revisionHistoryLimit,
//! and the Available and Progressing conditions (progressDeadlineSeconds).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet},
    apimachinery::pkg::{apis::meta::v1::Time, util::intstr::IntOrString},
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams},
    runtime::controller::{Action, Controller},
};
use serde_json::json;

use crate::{Context, Result, pods};

/// The annotation holding a ReplicaSet's (and its Deployment's) revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX: &str = "deployment.kubernetes.io/max-replicas";
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
/// The label that makes each ReplicaSet's pods distinct.
pub const HASH_LABEL: &str = "pod-template-hash";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let deployments = ctx.informers.get::<Deployment>();
    let sets = ctx.informers.get::<ReplicaSet>();
    let controller = Controller::for_shared_stream(deployments.subscribe(), deployments.store())
        .owns_shared_stream(sets.subscribe());
    crate::drive("deployment", controller, ctx, reconcile).await;
}

/// FNV-32a, the hash upstream names ReplicaSets with.
fn fnv32a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x01000193)
    })
}

/// Upstream's `rand.SafeEncodeString`: digits and consonants, so names never spell words.
fn safe_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    text.bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The pod-template-hash of a template (and the collision count).
pub fn template_hash(template: &serde_json::Value, collision_count: i32) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if collision_count > 0 {
        bytes.extend_from_slice(collision_count.to_string().as_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// A template as JSON without the pod-template-hash label, to compare templates.
fn bare_template(
    template: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>,
) -> serde_json::Value {
    let mut t = serde_json::to_value(template).unwrap_or_default();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(|l| l.as_object_mut())
    {
        labels.remove(HASH_LABEL);
    }
    // Only labels and annotations of a template's metadata reach its pods.
    if let Some(meta) = t.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.retain(|k, _| k == "labels" || k == "annotations");
    }
    drop_zero_values(&mut t);
    t
}

/// Removes empty strings, `false`, nulls and empty objects and lists, which Go's API types
/// cannot tell from absent fields (kubectl's rollback sends them explicitly).
fn drop_zero_values(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                drop_zero_values(child);
            }
            map.retain(|_, c| match c {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(drop_zero_values),
        _ => {}
    }
}

/// An int-or-percent of `total`, rounded up or down.
pub fn scaled(value: Option<&IntOrString>, total: i32, default: &str, round_up: bool) -> i32 {
    let text = match value {
        Some(IntOrString::Int(i)) => return *i,
        Some(IntOrString::String(s)) => s.clone(),
        None => default.to_string(),
    };
    let Some(percent) = text.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
        return text.parse().unwrap_or(0);
    };
    let product = percent * total as i64;
    (if round_up {
        (product + 99) / 100
    } else {
        product / 100
    }) as i32
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let name = d.metadata.name.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let mut sets: Vec<Arc<ReplicaSet>> = ctx
        .informers
        .get::<ReplicaSet>()
        .store()
        .state()
        .into_iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|rs| pods::controller_of(&rs.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    sets.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let template = bare_template(Some(&spec.template));
    let new = sets
        .iter()
        .find(|rs| bare_template(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == template)
        .cloned();
    let olds: Vec<Arc<ReplicaSet>> = sets
        .iter()
        .filter(|rs| {
            new.as_ref()
                .is_none_or(|n| n.metadata.uid != rs.metadata.uid)
        })
        .cloned()
        .collect();
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let max_revision = sets.iter().map(|rs| revision(rs)).max().unwrap_or(0);
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
    let rolling = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.clone())
        .unwrap_or_default();
    let mut surge = scaled(rolling.max_surge.as_ref(), want, "25%", true);
    let mut unavailable = scaled(rolling.max_unavailable.as_ref(), want, "25%", false);
    if recreate {
        surge = 0;
        unavailable = want;
    } else if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let paused = spec.paused.unwrap_or(false);
    let mut progressed = None;

    // The new ReplicaSet: create it, or make its revision the newest (a rollback).
    let new = match new {
        Some(rs) if paused => Some(rs),
        Some(rs) => {
            if revision(&rs) < max_revision || revision(&rs) == 0 {
                let old_revision = revision(&rs);
                let mut annotations = json!({REVISION: (max_revision + 1).to_string()});
                if old_revision > 0 {
                    annotations[REVISION_HISTORY] = json!(old_revision.to_string());
                }
                copy_change_cause(&d, &mut annotations);
                let rs = api
                    .patch(
                        rs.metadata.name.as_deref().unwrap_or(""),
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"metadata": {"annotations": annotations}})),
                    )
                    .await?;
                Some(Arc::new(rs))
            } else {
                Some(rs)
            }
        }
        None if paused => None,
        None => {
            let collisions = d
                .status
                .as_ref()
                .and_then(|s| s.collision_count)
                .unwrap_or(0);
            let hash = template_hash(&template, collisions);
            let rs_name = format!("{name}-{hash}");
            let total: i32 = sets.iter().map(|rs| replicas(rs)).sum();
            // Recreate starts the new ReplicaSet once the old ones are gone; a rolling update
            // starts it within the surge.
            let initial = if recreate {
                if olds.iter().any(|rs| replicas(rs) > 0) {
                    0
                } else {
                    want
                }
            } else {
                (want + surge - total).clamp(0, want)
            };
            let mut rs_template = spec.template.clone();
            let tmeta = rs_template.metadata.get_or_insert_with(Default::default);
            tmeta
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(HASH_LABEL.into(), hash.clone());
            let mut selector = spec.selector.clone();
            selector
                .match_labels
                .get_or_insert_with(BTreeMap::new)
                .insert(HASH_LABEL.into(), hash.clone());
            let mut labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(HASH_LABEL.into(), hash.clone());
            let mut annotations = BTreeMap::from([
                (REVISION.to_string(), (max_revision + 1).to_string()),
                (DESIRED.to_string(), want.to_string()),
                (MAX.to_string(), (want + surge).to_string()),
            ]);
            if let Some(cause) = d
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(CHANGE_CAUSE))
            {
                annotations.insert(CHANGE_CAUSE.into(), cause.clone());
            }
            let rs = ReplicaSet {
                metadata: ObjectMeta {
                    name: Some(rs_name.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    annotations: Some(annotations),
                    owner_references: Some(vec![pods::owner_reference(&*d)]),
                    ..Default::default()
                },
                spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
                    replicas: Some(initial),
                    min_ready_seconds: spec.min_ready_seconds,
                    selector,
                    template: Some(rs_template),
                }),
                status: None,
            };
            match api.create(&PostParams::default(), &rs).await {
                Ok(created) => {
                    ctx.recorder.normal(
                        &*d,
                        "ScalingReplicaSet",
                        format!("Scaled up replica set {rs_name} from 0 to {initial}"),
                    );
                    progressed = Some((
                        "NewReplicaSetCreated",
                        format!("Created new replica set \"{rs_name}\""),
                    ));
                    Some(Arc::new(created))
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // A ReplicaSet of that name with another template: count the collision.
                    let dapi: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
                    dapi.patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"status": {"collisionCount": collisions + 1}})),
                    )
                    .await?;
                    return Ok(Action::requeue(Duration::from_millis(100)));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };

    if !paused && let Some(new) = &new {
        let scaled_any = if recreate {
            rollout_recreate(&ctx, &d, &api, new, &olds, want).await?
        } else {
            rollout_rolling(&ctx, &d, &api, new, &olds, want, surge, unavailable).await?
        };
        if scaled_any && progressed.is_none() {
            progressed = Some((
                "ReplicaSetUpdated",
                format!(
                    "ReplicaSet \"{}\" is progressing.",
                    new.metadata.name.as_deref().unwrap_or("")
                ),
            ));
        }
        cleanup(&api, &olds, spec.revision_history_limit.unwrap_or(10)).await?;
    } else if paused {
        // A paused deployment still follows `replicas` on its current ReplicaSet.
        if let Some(new) = &new
            && olds.iter().all(|rs| replicas(rs) == 0)
            && replicas(new) != want
        {
            scale(&ctx, &d, &api, new, want, want + surge).await?;
        }
    }
    update_status(
        &ctx,
        &d,
        new.as_deref(),
        &sets,
        want,
        unavailable,
        paused,
        progressed,
    )
    .await
}

fn copy_change_cause(d: &Deployment, annotations: &mut serde_json::Value) {
    if let Some(cause) = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CHANGE_CAUSE))
    {
        annotations[CHANGE_CAUSE] = json!(cause);
    }
}

/// Sets a ReplicaSet's replicas (and the desired/max annotations) with an event.
async fn scale(
    ctx: &Context,
    d: &Deployment,
    api: &Api<ReplicaSet>,
    rs: &ReplicaSet,
    to: i32,
    max: i32,
) -> Result<()> {
    let from = replicas(rs);
    let name = rs.metadata.name.clone().unwrap_or_default();
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let patch = json!({
        "metadata": {"annotations": {DESIRED: want.to_string(), MAX: max.to_string()}},
        "spec": {"replicas": to},
    });
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    if from != to {
        let direction = if to > from { "up" } else { "down" };
        ctx.recorder.normal(
            d,
            "ScalingReplicaSet",
            format!("Scaled {direction} replica set {name} from {from} to {to}"),
        );
    }
    Ok(())
}

/// One step of a rolling update; returns whether anything was scaled.
#[allow(clippy::too_many_arguments)]
async fn rollout_rolling(
    ctx: &Context,
    d: &Deployment,
    api: &Api<ReplicaSet>,
    new: &ReplicaSet,
    olds: &[Arc<ReplicaSet>],
    want: i32,
    surge: i32,
    unavailable: i32,
) -> Result<bool> {
    let total: i32 = replicas(new) + olds.iter().map(|rs| replicas(rs)).sum::<i32>();
    let max_total = want + surge;
    // Scale up the new ReplicaSet within the surge.
    let mut target_new = replicas(new);
    if replicas(new) > want {
        target_new = want;
    } else if total < max_total && replicas(new) < want {
        target_new = replicas(new) + (max_total - total).min(want - replicas(new));
    }
    if target_new != replicas(new) {
        scale(ctx, d, api, new, target_new, max_total).await?;
        return Ok(true);
    }
    // Scale down old ReplicaSets while keeping the minimum available.
    let min_available = want - unavailable;
    let new_unavailable = replicas(new) - available(new);
    let all = total;
    let mut budget = all - min_available - new_unavailable;
    if budget <= 0 {
        return Ok(false);
    }
    let mut scaled_any = false;
    // First the old pods that are not available anyway.
    for rs in olds.iter().filter(|rs| replicas(rs) > available(rs)) {
        if budget <= 0 {
            break;
        }
        let cut = (replicas(rs) - available(rs)).min(budget);
        scale(ctx, d, api, rs, replicas(rs) - cut, max_total).await?;
        budget -= cut;
        scaled_any = true;
    }
    if scaled_any {
        return Ok(true);
    }
    // Then available old pods, oldest ReplicaSet first, down to the minimum available.
    let total_available: i32 = available(new) + olds.iter().map(|rs| available(rs)).sum::<i32>();
    let mut budget = (total_available - min_available).min(budget);
    for rs in olds.iter().filter(|rs| replicas(rs) > 0) {
        if budget <= 0 {
            break;
        }
        let cut = replicas(rs).min(budget);
        scale(ctx, d, api, rs, replicas(rs) - cut, max_total).await?;
        budget -= cut;
        scaled_any = true;
    }
    Ok(scaled_any)
}

/// Recreate: old ReplicaSets to zero, wait for their pods to be gone, then the new one up.
async fn rollout_recreate(
    ctx: &Context,
    d: &Deployment,
    api: &Api<ReplicaSet>,
    new: &ReplicaSet,
    olds: &[Arc<ReplicaSet>],
    want: i32,
) -> Result<bool> {
    let mut scaled_any = false;
    for rs in olds.iter().filter(|rs| replicas(rs) > 0) {
        scale(ctx, d, api, rs, 0, want).await?;
        scaled_any = true;
    }
    let old_pods_left = olds
        .iter()
        .any(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) > 0);
    if scaled_any || old_pods_left {
        return Ok(scaled_any);
    }
    if replicas(new) != want {
        scale(ctx, d, api, new, want, want).await?;
        return Ok(true);
    }
    Ok(false)
}

/// Deletes the oldest empty ReplicaSets beyond `revisionHistoryLimit`.
async fn cleanup(api: &Api<ReplicaSet>, olds: &[Arc<ReplicaSet>], limit: i32) -> Result<()> {
    let mut empty: Vec<&Arc<ReplicaSet>> = olds
        .iter()
        .filter(|rs| replicas(rs) == 0 && rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) == 0)
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    empty.sort_by_key(|rs| revision(rs));
    let excess = empty.len().saturating_sub(limit.max(0) as usize);
    for rs in empty.into_iter().take(excess) {
        let name = rs.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => tracing::debug!(replicaset = name, "deleted an old ReplicaSet"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Status counts, the revision annotation and the Available/Progressing conditions.
#[allow(clippy::too_many_arguments)]
async fn update_status(
    ctx: &Context,
    d: &Deployment,
    new: Option<&ReplicaSet>,
    sets: &[Arc<ReplicaSet>],
    want: i32,
    max_unavailable: i32,
    paused: bool,
    progressed: Option<(&str, String)>,
) -> Result<Action> {
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let name = d.metadata.name.clone().unwrap_or_default();
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let status_of = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let total: i32 = sets.iter().map(|rs| status_of(rs).replicas).sum();
    let ready: i32 = sets
        .iter()
        .map(|rs| status_of(rs).ready_replicas.unwrap_or(0))
        .sum();
    let avail: i32 = sets.iter().map(|rs| available(rs)).sum();
    let updated = new.map(|rs| status_of(rs).replicas).unwrap_or(0);
    let new_name = new
        .and_then(|rs| rs.metadata.name.clone())
        .unwrap_or_default();
    let now = Timestamp::now();
    let old_conditions = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let find = |t: &str| old_conditions.iter().find(|c| c.type_ == t).cloned();
    let condition = |t: &str, status: &str, reason: &str, message: String, keep_update: bool| {
        let old = find(t);
        let same = old.as_ref().is_some_and(|o| o.status == status);
        let same_reason = old
            .as_ref()
            .is_some_and(|o| o.status == status && o.reason.as_deref() == Some(reason));
        DeploymentCondition {
            type_: t.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_transition_time: if same {
                old.as_ref().and_then(|o| o.last_transition_time.clone())
            } else {
                Some(Time(now))
            },
            last_update_time: if keep_update && same_reason {
                old.as_ref().and_then(|o| o.last_update_time.clone())
            } else {
                Some(Time(now))
            },
        }
    };
    let available_condition = if avail >= want - max_unavailable {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            true,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            true,
        )
    };
    let complete = new.is_some()
        && updated == want
        && total == want
        && avail == want
        && new.is_some_and(|rs| replicas(rs) == want);
    let deadline = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    let old_progress = find("Progressing");
    let mut requeue = None;
    let progressing = if paused {
        condition(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused".into(),
            true,
        )
    } else if complete {
        condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            true,
        )
    } else if let Some((reason, message)) = progressed {
        condition("Progressing", "True", reason, message, false)
    } else if old_progress
        .as_ref()
        .is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    {
        condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            format!("ReplicaSet \"{new_name}\" has timed out progressing."),
            true,
        )
    } else {
        let last = old_progress
            .as_ref()
            .and_then(|c| c.last_update_time.as_ref())
            .map(|t| t.0)
            .unwrap_or(now);
        let waited = now.duration_since(last).as_secs();
        if waited >= deadline as i64 {
            ctx.recorder.warning(
                d,
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{new_name}\" has timed out progressing."),
            );
            condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{new_name}\" has timed out progressing."),
                false,
            )
        } else {
            requeue = Some(Duration::from_secs((deadline as i64 - waited).max(1) as u64));
            let reason = old_progress
                .as_ref()
                .and_then(|c| c.reason.clone())
                .filter(|r| {
                    r != "NewReplicaSetAvailable"
                        && r != "DeploymentPaused"
                        && r != "DeploymentResumed"
                })
                .unwrap_or_else(|| "ReplicaSetUpdated".into());
            condition(
                "Progressing",
                "True",
                &reason,
                format!("ReplicaSet \"{new_name}\" is progressing."),
                true,
            )
        }
    };
    let status = json!({
        "observedGeneration": d.metadata.generation,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": avail,
        "unavailableReplicas": (want - avail).max(0),
        "conditions": [available_condition, progressing],
    });
    let old = serde_json::to_value(&d.status).unwrap_or_default();
    let differs = [
        "observedGeneration",
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ]
    .iter()
    .any(|k| old[k].as_i64().unwrap_or(0) != status[k].as_i64().unwrap_or(0))
        || conditions_differ(&old["conditions"], &status["conditions"]);
    if differs {
        let mut status = status;
        if old.get("collisionCount").is_some() {
            status["collisionCount"] = old["collisionCount"].clone();
        }
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
    }
    if let Some(rev) = new.map(revision).filter(|r| *r > 0) {
        let current = d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION))
            .cloned();
        if current.as_deref() != Some(rev.to_string().as_str()) {
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"annotations": {REVISION: rev.to_string()}}})),
            )
            .await?;
        }
    }
    Ok(requeue
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

/// Whether conditions differ in anything but their timestamps.
fn conditions_differ(old: &serde_json::Value, new: &serde_json::Value) -> bool {
    let key = |v: &serde_json::Value| -> Vec<(String, String, String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
                (s("type"), s("status"), s("reason"), s("message"))
            })
            .collect()
    };
    key(old) != key(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(scaled(Some(&pct("25%")), 3, "25%", true), 1);
        assert_eq!(scaled(Some(&pct("25%")), 3, "25%", false), 0);
        assert_eq!(scaled(None, 10, "25%", true), 3);
        assert_eq!(scaled(None, 10, "25%", false), 2);
        assert_eq!(scaled(Some(&IntOrString::Int(2)), 10, "25%", false), 2);
    }

    #[test]
    fn template_hashes_are_stable_and_safe() {
        let t = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let h = template_hash(&t, 0);
        assert_eq!(h, template_hash(&t, 0));
        assert_ne!(h, template_hash(&t, 1));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    #[test]
    fn templates_with_explicit_zero_values_equal_their_bare_form() {
        let rs: k8s_openapi::api::core::v1::PodTemplateSpec = serde_json::from_value(json!({"metadata":{"generateName":"","generation":0,"labels":{"app":"web","pod-template-hash":"54c4768798"},"name":"","namespace":"","resourceVersion":"","selfLink":"","uid":""},"spec":{"containers":[{"image":"nginx:1.0","imagePullPolicy":"IfNotPresent","name":"nginx","resources":{},"stdin":false,"stdinOnce":false,"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","tty":false,"workingDir":""}],"dnsPolicy":"ClusterFirst","hostIPC":false,"hostNetwork":false,"hostPID":false,"hostname":"","nodeName":"","priorityClassName":"","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccountName":"","subdomain":"","terminationGracePeriodSeconds":30}})).unwrap();
        let d: k8s_openapi::api::core::v1::PodTemplateSpec = serde_json::from_value(json!({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.0","imagePullPolicy":"IfNotPresent","name":"nginx","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}})).unwrap();
        assert_eq!(bare_template(Some(&rs)), bare_template(Some(&d)));
    }
}
