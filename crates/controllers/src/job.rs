//! The Job controller: runs pods until `completions` succeed (or, without completions, one
//! succeeds), at most `parallelism` at a time; fails the Job after `backoffLimit` failed pods
//! or `activeDeadlineSeconds`; Indexed completion mode gives each pod its index; finished
//! Jobs are deleted after `ttlSecondsAfterFinished`.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

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

/// The annotation and label holding an Indexed Job pod's index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let jobs = ctx.informers.get::<Job>();
    let pods = ctx.informers.get::<Pod>();
    let controller = Controller::for_shared_stream(jobs.subscribe(), jobs.store())
        .watches_shared_stream(pods.subscribe(), |pod: Arc<Pod>| {
            let owner = pods::controller_of(&pod.metadata)?;
            (owner.kind == "Job").then(|| {
                ObjectRef::new(&owner.name).within(pod.metadata.namespace.as_deref().unwrap_or(""))
            })
        });
    let expectations = Arc::new(Expectations::default());
    crate::drive("job", controller, ctx, move |job, ctx| {
        let expectations = expectations.clone();
        async move { reconcile(job, ctx, &expectations).await }
    })
    .await;
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

/// Upstream's compressed index list: `0-2,4`.
fn compress(indexes: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

fn finished(job: &Job) -> Option<Timestamp> {
    let status = job.status.as_ref()?;
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|t| t.0)
                .unwrap_or_else(Timestamp::now)
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
    if job.metadata.deletion_timestamp.is_some() {
        expectations.forget(&uid);
        return Ok(Action::await_change());
    }
    let spec = job.spec.clone().unwrap_or_default();
    let now = Timestamp::now();
    if let Some(done) = finished(&job) {
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
    let store = ctx.informers.get::<Pod>().store();
    let present = |pod: &str| store.get(&ObjectRef::new(pod).within(&ns)).is_some();
    if !expectations.satisfied(&uid, present) {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let owned: Vec<Arc<Pod>> = store
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|p| pods::controller_of(&p.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    let active: Vec<&Arc<Pod>> = owned.iter().filter(|p| pods::is_active(p)).collect();
    // With restartPolicy OnFailure the kubelet restarts failed containers: each restart
    // counts as a failure toward backoffLimit.
    let on_failure = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");
    let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i32
        + owned
            .iter()
            .filter(|_| on_failure)
            .flat_map(|p| {
                p.status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
            })
            .map(|c| c.restart_count)
            .sum::<i32>();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let succeeded_indexes: BTreeSet<i32> = owned
        .iter()
        .filter(|p| phase(p) == "Succeeded")
        .filter_map(|p| index_of(p))
        .collect();
    let succeeded = if indexed {
        succeeded_indexes.len() as i32
    } else {
        owned.iter().filter(|p| phase(p) == "Succeeded").count() as i32
    };
    let parallelism = spec.parallelism.unwrap_or(1);
    let completions = spec.completions;
    let suspended = spec.suspend.unwrap_or(false);
    let start = job
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0)
        .unwrap_or(now);

    // Has the Job finished?
    let mut outcome: Option<(&str, &str, String)> = None;
    let complete = match completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && active.is_empty(),
    };
    let mut requeue = None;
    if complete {
        outcome = Some((
            "Complete",
            "CompletionsReached",
            "Reached expected number of succeeded pods".into(),
        ));
    } else if failed > spec.backoff_limit.unwrap_or(6) {
        outcome = Some((
            "Failed",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit".into(),
        ));
    } else if let Some(deadline) = spec.active_deadline_seconds.filter(|_| !suspended) {
        let due = start.as_second() + deadline;
        if now.as_second() >= due {
            outcome = Some((
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline".into(),
            ));
        } else {
            requeue = Some(Duration::from_secs((due - now.as_second()).max(1) as u64));
        }
    }

    if outcome.as_ref().is_some_and(|(t, _, _)| *t == "Failed") || suspended {
        for pod in &active {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            expectations.deleted(&uid, &pod_name);
            let _ = pod_api.delete(&pod_name, &DeleteParams::default()).await;
        }
    } else if outcome.is_none() {
        // Start pods up to parallelism and the remaining completions.
        let remaining = completions
            .map(|c| c - succeeded)
            .unwrap_or(if succeeded > 0 { 0 } else { parallelism });
        let want = parallelism.min(remaining).max(0) as usize;
        if active.len() < want {
            let mut missing = want - active.len();
            let busy: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
            let free_indexes: Vec<i32> = if indexed {
                (0..completions.unwrap_or(1))
                    .filter(|i| !succeeded_indexes.contains(i) && !busy.contains(i))
                    .collect()
            } else {
                Vec::new()
            };
            let mut indexes = free_indexes.into_iter();
            while missing > 0 {
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
                let mut pod =
                    pods::from_template(&spec.template, &ns, &prefix, pods::owner_reference(&*job));
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
                        ctx.recorder.normal(
                            &*job,
                            "SuccessfulCreate",
                            format!("Created pod: {pod_name}"),
                        );
                    }
                    Err(kube::Error::Api(e)) => {
                        ctx.recorder.warning(
                            &*job,
                            "FailedCreate",
                            format!("Error creating: {}", e.message),
                        );
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
                missing -= 1;
            }
        } else if active.len() > want {
            for pod in active.iter().skip(want) {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                expectations.deleted(&uid, &pod_name);
                let _ = pod_api.delete(&pod_name, &DeleteParams::default()).await;
            }
        }
    }

    // Status.
    let ready = active.iter().filter(|p| pods::is_ready(p)).count();
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
    let condition = |kind: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": "True", "reason": reason, "message": message,
               "lastProbeTime": stamp, "lastTransitionTime": stamp})
    };
    if suspended {
        conditions.push(condition("Suspended", "JobSuspended", "Job suspended"));
    }
    let mut status = json!({
        "active": active.len(),
        "ready": ready,
        "succeeded": succeeded,
        "failed": owned.iter().filter(|p| phase(p) == "Failed").count(),
        "startTime": job.status.as_ref().and_then(|s| s.start_time.clone()).map(|t| t.0.to_string()).unwrap_or_else(|| stamp.clone()),
        "uncountedTerminatedPods": {},
    });
    if suspended
        && job
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .is_none()
    {
        status["startTime"] = serde_json::Value::Null;
    }
    if indexed {
        status["completedIndexes"] = json!(compress(&succeeded_indexes));
    }
    if let Some((kind, reason, message)) = &outcome {
        let interim = if *kind == "Complete" {
            "SuccessCriteriaMet"
        } else {
            "FailureTarget"
        };
        conditions.push(condition(interim, reason, message));
        conditions.push(condition(kind, reason, message));
        if *kind == "Complete" {
            status["completionTime"] = json!(stamp);
            ctx.recorder
                .normal(&*job, "Completed", "Job completed".into());
        } else {
            ctx.recorder.warning(&*job, reason, message.clone());
        }
    }
    status["conditions"] = json!(conditions);
    let old = serde_json::to_value(&job.status).unwrap_or_default();
    let differs = ["active", "ready", "succeeded", "failed"]
        .iter()
        .any(|k| old[k].as_i64().unwrap_or(0) != status[k].as_i64().unwrap_or(0))
        || old.get("startTime").is_none_or(|v| v.is_null()) != status["startTime"].is_null()
        || outcome.is_some()
        || old["conditions"].as_array().map(|c| c.len()).unwrap_or(0) != conditions.len()
        || (indexed && old["completedIndexes"] != status["completedIndexes"]);
    if differs {
        jobs.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
    }
    Ok(requeue
        .map(Action::requeue)
        .unwrap_or_else(Action::await_change))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_compress_into_ranges() {
        let set: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(compress(&set), "0-2,4,6-7");
        assert_eq!(compress(&BTreeSet::new()), "");
    }
}
