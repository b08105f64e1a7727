//! The Job controller: runs pods until `completions` succeed (or, without completions, one
//! succeeds), at most `parallelism` at a time; fails the Job after `backoffLimit` failed pods
//! or `activeDeadlineSeconds`; Indexed completion mode gives each pod its index; pods are
//! tracked with the `batch.kubernetes.io/job-tracking` finalizer (see [`tracking`]); finished
//! Jobs are deleted after `ttlSecondsAfterFinished`.

pub mod tracking;

#[cfg(test)]
mod tests;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::{batch::v1::Job, core::v1::Pod};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{Context, Result, expectations::Expectations, pods};
use tracking::{FINALIZER, PodFacts, Tally};

/// The annotation and label holding an Indexed Job pod's index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// Runs the controller, and the sweeper that frees pods whose Job is gone.
pub async fn run(ctx: Arc<Context>) {
    let jobs = ctx.informers.get::<Job>();
    let pods = ctx.informers.get::<Pod>();
    pods.ready().await;
    jobs.ready().await;
    let controller = Controller::for_shared_stream(jobs.subscribe(), jobs.store())
        .watches_shared_stream(pods.subscribe(), |pod: Arc<Pod>| {
            let owner = pods::controller_of(&pod.metadata)?;
            (owner.kind == "Job").then(|| {
                ObjectRef::new(&owner.name).within(pod.metadata.namespace.as_deref().unwrap_or(""))
            })
        });
    let expectations = Arc::new(Expectations::default());
    tokio::join!(
        crate::drive("job", controller, ctx.clone(), move |job, ctx| {
            let expectations = expectations.clone();
            async move { reconcile(job, ctx, &expectations).await }
        }),
        release_orphans(ctx.clone()),
    );
}

/// Removes the tracking finalizer from pods whose Job no longer exists (deleted Jobs leave
/// their pods to the garbage collector, which could not otherwise remove them).
async fn release_orphans(ctx: Arc<Context>) {
    let jobs = ctx.informers.get::<Job>().store();
    let mut feed = std::pin::pin!(ctx.informers.get::<Pod>().subscribe());
    while let Some(pod) = feed.next().await {
        if !has_finalizer(&pod) {
            continue;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let alive = pods::controller_of(&pod.metadata).is_some_and(|owner| {
            owner.kind == "Job"
                && jobs
                    .get(&ObjectRef::new(&owner.name).within(&ns))
                    .is_some_and(|j| j.metadata.uid.as_deref() == Some(owner.uid.as_str()))
        });
        if !alive {
            let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            if let Err(error) = remove_finalizer(&api, &pod).await {
                tracing::debug!(pod = ?pod.metadata.name, error = %crate::error_chain(&error), "releasing an orphan pod failed");
            }
        }
    }
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == FINALIZER)
}

/// Drops the tracking finalizer, guarded by the pod's resourceVersion (a conflict means a
/// newer version is on its way, and with it another sync).
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<()> {
    let remaining: Vec<&String> = pod
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != FINALIZER)
        .collect();
    let metadata = json!({
        "finalizers": if remaining.is_empty() { serde_json::Value::Null } else { json!(remaining) },
        "resourceVersion": pod.metadata.resource_version,
    });
    pods::patch_metadata(api, pod, metadata).await
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn index_of(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX)?
        .parse()
        .ok()
}

/// How a pod ended, for tracking: a pod deleted before it ended counts as failed (upstream's
/// `isPodFailed`).
fn outcome(pod: &Pod) -> Option<bool> {
    match phase(pod) {
        "Succeeded" => Some(true),
        "Failed" => Some(false),
        _ if pod.metadata.deletion_timestamp.is_some() => Some(false),
        _ => None,
    }
}

fn condition_time(job: &Job, types: &[&str]) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| types.contains(&c.type_.as_str()) && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|t| t.0)
                .unwrap_or_else(Timestamp::now)
        })
}

/// When the Job finished, if it did.
fn finished(job: &Job) -> Option<Timestamp> {
    condition_time(job, &["Complete", "Failed"])
}

/// The tally the Job's status holds.
fn tally_of(job: &Job) -> Tally {
    let Some(status) = job.status.as_ref() else {
        return Tally::default();
    };
    let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    Tally {
        succeeded: status.succeeded.unwrap_or(0),
        failed: status.failed.unwrap_or(0),
        uncounted_succeeded: uncounted.succeeded.unwrap_or_default(),
        uncounted_failed: uncounted.failed.unwrap_or_default(),
        completed_indexes: tracking::expand(status.completed_indexes.as_deref().unwrap_or("")),
    }
}

/// A Job's terminal state: the interim condition, the final one, its reason and message.
struct Outcome {
    interim: &'static str,
    kind: &'static str,
    reason: String,
    message: String,
}

impl Outcome {
    fn complete() -> Outcome {
        Outcome {
            interim: "SuccessCriteriaMet",
            kind: "Complete",
            reason: "CompletionsReached".into(),
            message: "Reached expected number of succeeded pods".into(),
        }
    }
    fn failed(reason: &str, message: &str) -> Outcome {
        Outcome {
            interim: "FailureTarget",
            kind: "Failed",
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The outcome an earlier sync decided (its interim condition), if any.
fn decided(job: &Job) -> Option<Outcome> {
    let status = job.status.as_ref()?;
    let c = status.conditions.iter().flatten().find(|c| {
        (c.type_ == "SuccessCriteriaMet" || c.type_ == "FailureTarget") && c.status == "True"
    })?;
    let reason = c.reason.clone().unwrap_or_default();
    let message = c.message.clone().unwrap_or_default();
    Some(if c.type_ == "SuccessCriteriaMet" {
        Outcome::complete()
    } else {
        Outcome::failed(&reason, &message)
    })
}

async fn reconcile(
    job: Arc<Job>,
    ctx: Arc<Context>,
    expectations: &Expectations,
) -> Result<Action> {
    let ns = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let store = ctx.informers.get::<Pod>().store();
    let owned: Vec<Arc<Pod>> = store
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|p| pods::controller_of(&p.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    if job.metadata.deletion_timestamp.is_some() {
        expectations.forget(&uid);
        for pod in owned.iter().filter(|p| has_finalizer(p)) {
            remove_finalizer(&pod_api, pod).await?;
        }
        return Ok(Action::await_change());
    }
    let spec = job.spec.clone().unwrap_or_default();
    let now = Timestamp::now();
    if let Some(done) = finished(&job) {
        // Counted long ago; whatever still holds the finalizer is let go.
        for pod in owned.iter().filter(|p| has_finalizer(p)) {
            remove_finalizer(&pod_api, pod).await?;
        }
        let Some(ttl) = spec.ttl_seconds_after_finished else {
            return Ok(Action::await_change());
        };
        let due = done.as_second() + ttl as i64;
        if now.as_second() >= due {
            match jobs.delete(&name, &DeleteParams::background()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(Action::await_change());
        }
        return Ok(Action::requeue(Duration::from_secs(
            (due - now.as_second()).max(1) as u64,
        )));
    }
    let present = |pod: &str| store.get(&ObjectRef::new(pod).within(&ns)).is_some();
    if !expectations.satisfied(&uid, present) {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let facts: Vec<PodFacts> = owned
        .iter()
        .map(|p| PodFacts {
            uid: p.metadata.uid.clone().unwrap_or_default(),
            finalizer: has_finalizer(p),
            outcome: outcome(p),
            index: index_of(p),
        })
        .collect();
    let tally = tally_of(&job).track(&facts, indexed);
    let active: Vec<&Arc<Pod>> = owned.iter().filter(|p| pods::is_active(p)).collect();
    // With restartPolicy OnFailure the kubelet restarts failed containers: each restart
    // counts as a failure toward backoffLimit.
    let on_failure = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");
    let restarts: i32 = if on_failure {
        owned
            .iter()
            .flat_map(|p| {
                p.status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
            })
            .map(|c| c.restart_count)
            .sum()
    } else {
        0
    };
    let succeeded = tally.total_succeeded(indexed);
    let completions = spec.completions;
    let suspended = spec.suspend.unwrap_or(false);
    let start = job
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0)
        .unwrap_or(now);

    // Has the Job reached its end?
    let mut requeue = None;
    let outcome = decided(&job).or_else(|| {
        let complete = match completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active.is_empty(),
        };
        if complete {
            return Some(Outcome::complete());
        }
        if tally.total_failed() + restarts > spec.backoff_limit.unwrap_or(6) {
            return Some(Outcome::failed(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
        }
        let deadline = spec.active_deadline_seconds.filter(|_| !suspended)?;
        let due = start.as_second() + deadline;
        if now.as_second() >= due {
            return Some(Outcome::failed(
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ));
        }
        requeue = Some(Duration::from_secs((due - now.as_second()).max(1) as u64));
        None
    });

    if outcome.is_some() || suspended {
        for pod in &active {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            expectations.deleted(&uid, &pod_name);
            match pod_api.delete(&pod_name, &DeleteParams::default()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    } else {
        sync_pods(&ctx, &job, &active, &tally, expectations).await?;
    }

    // Status first, so every pod the tally records is saved before its finalizer goes.
    let stamp = component::now();
    let mut conditions: Vec<serde_json::Value> = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "Suspended")
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .collect();
    let has =
        |conditions: &[serde_json::Value], kind: &str| conditions.iter().any(|c| c["type"] == kind);
    let condition = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "True", "reason": reason, "message": message,
               "lastProbeTime": stamp, "lastTransitionTime": stamp})
    };
    if suspended && outcome.is_none() {
        conditions.push(condition("Suspended", "JobSuspended", "Job suspended"));
    }
    let ready = active.iter().filter(|p| pods::is_ready(p)).count();
    let mut status = json!({
        "active": active.len(),
        "ready": ready,
        "succeeded": tally.succeeded,
        "failed": tally.failed,
        "uncountedTerminatedPods": {
            "succeeded": if tally.uncounted_succeeded.is_empty() { serde_json::Value::Null } else { json!(tally.uncounted_succeeded) },
            "failed": if tally.uncounted_failed.is_empty() { serde_json::Value::Null } else { json!(tally.uncounted_failed) },
        },
    });
    let started = job.status.as_ref().and_then(|s| s.start_time.clone());
    match started {
        Some(t) => status["startTime"] = json!(t.0.to_string()),
        None if !suspended => status["startTime"] = json!(stamp),
        None => {}
    }
    if indexed {
        status["completedIndexes"] = json!(tracking::compress(&tally.completed_indexes));
    }
    // The terminal condition waits until every pod has ended and been counted.
    if let Some(o) = &outcome {
        if !has(&conditions, o.interim) {
            conditions.push(condition(o.interim, &o.reason, &o.message));
        }
        if tally.settled() && active.is_empty() && !has(&conditions, o.kind) {
            conditions.push(condition(o.kind, &o.reason, &o.message));
            if o.kind == "Complete" {
                status["completionTime"] = json!(stamp);
                ctx.recorder
                    .normal(&*job, "Completed", "Job completed".into());
            } else {
                ctx.recorder.warning(&*job, &o.reason, o.message.clone());
            }
        }
    }
    status["conditions"] = json!(conditions);
    let old = serde_json::to_value(&job.status).unwrap_or_default();
    let differs = ["active", "ready", "succeeded", "failed"]
        .iter()
        .any(|k| old[k].as_i64().unwrap_or(0) != status[k].as_i64().unwrap_or(0))
        || old.get("startTime").is_none_or(|v| v.is_null()) != status.get("startTime").is_none()
        || old["conditions"].as_array().map(|c| c.len()).unwrap_or(0) != conditions.len()
        || tally != tally_of(&job);
    if differs {
        jobs.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
    }
    for facts in tally.releasable(&facts, indexed) {
        if let Some(pod) = owned
            .iter()
            .find(|p| p.metadata.uid.as_deref() == Some(facts.uid.as_str()))
        {
            remove_finalizer(&pod_api, pod).await?;
        }
    }
    Ok(requeue
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

/// Starts pods up to parallelism and the remaining completions, or removes the surplus.
async fn sync_pods(
    ctx: &Context,
    job: &Job,
    active: &[&Arc<Pod>],
    tally: &Tally,
    expectations: &Expectations,
) -> Result<()> {
    let ns = job.metadata.namespace.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let spec = job.spec.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let succeeded = tally.total_succeeded(indexed);
    let parallelism = spec.parallelism.unwrap_or(1);
    let completions = spec.completions;
    let remaining = completions
        .map(|c| c - succeeded)
        .unwrap_or(if succeeded > 0 { 0 } else { parallelism });
    let want = parallelism.min(remaining).max(0) as usize;
    if active.len() > want {
        for pod in active.iter().skip(want) {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            expectations.deleted(&uid, &pod_name);
            match pod_api.delete(&pod_name, &DeleteParams::default()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(());
    }
    let busy: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
    let mut indexes = (0..completions.unwrap_or(1))
        .filter(|i| !tally.completed_indexes.contains(i) && !busy.contains(i));
    for _ in active.len()..want {
        let index = if indexed {
            match indexes.next() {
                Some(i) => Some(i),
                None => break,
            }
        } else {
            None
        };
        let prefix = match index {
            Some(i) => format!("{name}-{i}-"),
            None => format!("{name}-"),
        };
        let mut pod = pods::from_template(&spec.template, &ns, &prefix, pods::owner_reference(job));
        pod.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(FINALIZER.into());
        if let Some(i) = index {
            pod.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(COMPLETION_INDEX.into(), i.to_string());
            pod.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(COMPLETION_INDEX.into(), i.to_string());
            if let Some(s) = pod.spec.as_mut() {
                s.hostname = Some(format!("{name}-{i}"));
            }
        }
        match pod_api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                let pod_name = created.metadata.name.unwrap_or_default();
                expectations.created(&uid, &pod_name);
                ctx.recorder
                    .normal(job, "SuccessfulCreate", format!("Created pod: {pod_name}"));
            }
            Err(kube::Error::Api(e)) => {
                ctx.recorder.warning(
                    job,
                    "FailedCreate",
                    format!("Error creating: {}", e.message),
                );
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
