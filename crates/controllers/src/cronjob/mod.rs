//! The CronJob controller (upstream's `ControllerV2`): creates a Job named
//! `<cronjob>-<minutes since the epoch>` at each schedule time in the CronJob's time zone,
//! honouring `concurrencyPolicy`, `startingDeadlineSeconds` and `suspend`; tracks its active
//! Jobs and the last successful one; keeps `successfulJobsHistoryLimit` and
//! `failedJobsHistoryLimit` finished Jobs; and wakes exactly at the next schedule time.

pub mod schedule;

#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use apimachinery::cron::{self, Schedule};
use jiff::{Timestamp, tz::TimeZone};
use k8s_openapi::{
    api::{
        batch::v1::{CronJob, Job},
        core::v1::ObjectReference,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{Context, Result, pods};
use schedule::Missed;

/// The annotation holding the time a Job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// How long after a schedule time the controller wakes (upstream's `nextScheduleDelta`).
const DELTA: Duration = Duration::from_millis(100);

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let cronjobs = ctx.informers.get::<CronJob>();
    let jobs = ctx.informers.get::<Job>();
    jobs.ready().await;
    let controller = Controller::for_shared_stream(cronjobs.subscribe(), cronjobs.store())
        .watches_shared_stream(jobs.subscribe(), |job: Arc<Job>| {
            let owner = pods::controller_of(&job.metadata)?;
            (owner.kind == "CronJob").then(|| {
                ObjectRef::new(&owner.name).within(job.metadata.namespace.as_deref().unwrap_or(""))
            })
        });
    crate::drive("cronjob", controller, ctx, reconcile).await;
}

/// Whether a Job finished, and how (`Complete` or `Failed`).
fn finished(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

/// The time zone a CronJob's schedule is read in: `spec.timeZone`, or the controller's own.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None | Some("") => Ok(TimeZone::system()),
        Some(name) => TimeZone::get(name).map_err(|e| e.to_string()),
    }
}

/// The schedule time due now, if any, and whether too many were missed (upstream's
/// `nextScheduleTime`): times before `startingDeadlineSeconds` ago are not considered.
pub fn due(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    deadline: Option<i64>,
    now: Timestamp,
) -> (Option<Timestamp>, Missed) {
    let mut from = earliest;
    if let Some(d) = deadline
        && let Ok(limit) = now.checked_sub(jiff::SignedDuration::from_secs(d))
        && limit > from
    {
        from = limit;
    }
    if from > now {
        return (None, Missed::None);
    }
    schedule::most_recent(schedule, tz, from, now)
}

/// How long until the controller should look again (upstream's `nextScheduleTimeDuration`):
/// just after the schedule time following the most recent one.
pub fn wake_after(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> Option<Duration> {
    let (recent, _) = schedule::most_recent(schedule, tz, earliest, now);
    let next = schedule.next(recent.unwrap_or(earliest).max(earliest), tz)?;
    let wait = next.duration_since(now).max(jiff::SignedDuration::ZERO);
    Some(Duration::try_from(wait).unwrap_or_default() + DELTA)
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// The Job for the schedule time `scheduled`, from the CronJob's template.
pub fn job_for(cronjob: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let name = cronjob.metadata.name.clone().unwrap_or_default();
    let spec = cronjob.spec.clone().unwrap_or_default();
    let template = spec.job_template;
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let stamp = scheduled
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
        .replace("+00:00", "Z");
    annotations.insert(SCHEDULED_TIMESTAMP.into(), stamp);
    Job {
        metadata: ObjectMeta {
            name: Some(schedule::job_name(&name, scheduled)),
            namespace: cronjob.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![pods::owner_reference(cronjob)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

async fn reconcile(cronjob: Arc<CronJob>, ctx: Arc<Context>) -> Result<Action> {
    if cronjob.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = cronjob.metadata.namespace.clone().unwrap_or_default();
    let name = cronjob.metadata.name.clone().unwrap_or_default();
    let uid = cronjob.metadata.uid.clone().unwrap_or_default();
    let job_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let spec = cronjob.spec.clone().unwrap_or_default();
    let mut children: Vec<Arc<Job>> = ctx
        .informers
        .get::<Job>()
        .store()
        .state()
        .into_iter()
        .filter(|j| j.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|j| pods::controller_of(&j.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    children.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut old_status = cronjob.status.clone().unwrap_or_default();
    let listed = |status: &k8s_openapi::api::batch::v1::CronJobStatus, job: &Job| {
        status
            .active
            .iter()
            .flatten()
            .any(|r| r.uid == job.metadata.uid)
    };
    // An unfinished Job missing from the active list may only be newer than the cached
    // status: read the CronJob itself before calling the Job unexpected.
    if children
        .iter()
        .any(|j| finished(j).is_none() && !listed(&old_status, j))
    {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        match api.get_opt(&name).await? {
            Some(fresh) if fresh.metadata.uid.as_deref() == Some(uid.as_str()) => {
                old_status = fresh.status.unwrap_or_default();
            }
            _ => return Ok(Action::await_change()),
        }
    }
    let mut active = old_status.active.clone().unwrap_or_default();
    let mut last_successful = old_status.last_successful_time.clone().map(|t| t.0);
    let mut last_schedule = old_status.last_schedule_time.clone().map(|t| t.0);

    // Reconcile the active list with the Jobs that exist.
    for job in &children {
        let job_name = job.metadata.name.clone().unwrap_or_default();
        let listed = active.iter().any(|r| r.uid == job.metadata.uid);
        match finished(job) {
            None if !listed => ctx.recorder.warning(
                &*cronjob,
                "UnexpectedJob",
                format!("Saw a job that the controller did not create or forgot: {job_name}"),
            ),
            Some(condition) if listed => {
                active.retain(|r| r.uid != job.metadata.uid);
                ctx.recorder.normal(
                    &*cronjob,
                    "SawCompletedJob",
                    format!("Saw completed job: {job_name}, condition: {condition}"),
                );
            }
            _ => {}
        }
        if finished(job) == Some("Complete")
            && let Some(done) = job.status.as_ref().and_then(|s| s.completion_time.as_ref())
            && last_successful.is_none_or(|t| t < done.0)
        {
            last_successful = Some(done.0);
        }
    }
    // Active Jobs missing from the cache may be too new for it: ask the API server.
    let mut kept = Vec::new();
    for r in active {
        let in_cache = children.iter().any(|j| j.metadata.uid == r.uid);
        if in_cache {
            kept.push(r);
            continue;
        }
        let job_name = r.name.clone().unwrap_or_default();
        match job_api.get_opt(&job_name).await? {
            Some(job) if job.metadata.uid == r.uid && finished(&job).is_none() => kept.push(r),
            _ => ctx.recorder.normal(
                &*cronjob,
                "MissingJob",
                format!("Active job went missing: {job_name}"),
            ),
        }
    }
    let mut active = kept;

    let now = Timestamp::now();
    let mut requeue = None;
    let parsed = time_zone(spec.time_zone.as_deref())
        .map_err(|e| {
            ctx.recorder.warning(
                &*cronjob,
                "UnknownTimeZone",
                format!(
                    "invalid timeZone: {:?}: {e}",
                    spec.time_zone.clone().unwrap_or_default()
                ),
            )
        })
        .and_then(|tz| {
            // Trimmed, as this controller always has (robfig takes no blanks around `@...`).
            cron::parse(spec.schedule.trim())
                .map(|s| (tz, s))
                .map_err(|e| {
                    ctx.recorder.warning(
                        &*cronjob,
                        "UnparseableSchedule",
                        format!("unparseable schedule: {:?} : {e}", spec.schedule),
                    )
                })
        });
    if let (Ok((tz, sched)), false) = (&parsed, spec.suspend.unwrap_or(false)) {
        let earliest = last_schedule
            .or(cronjob.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .unwrap_or(now);
        requeue = wake_after(sched, tz, earliest, now);
        let (scheduled, missed) = due(sched, tz, earliest, spec.starting_deadline_seconds, now);
        if missed == Missed::Many {
            ctx.recorder.warning(
                &*cronjob,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
            );
        }
        if let Some(scheduled) = scheduled {
            let job_name = schedule::job_name(&name, scheduled);
            let too_late = spec.starting_deadline_seconds.is_some_and(|d| {
                scheduled
                    .checked_add(jiff::SignedDuration::from_secs(d))
                    .is_ok_and(|limit| limit < now)
            });
            let already = active.iter().any(|r| r.name.as_deref() == Some(&job_name))
                || last_schedule == Some(scheduled);
            let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
            if too_late {
                ctx.recorder.warning(
                    &*cronjob,
                    "MissSchedule",
                    format!(
                        "Missed scheduled time to start a job: {}",
                        scheduled.strftime("%a, %d %b %Y %H:%M:%S %z")
                    ),
                );
            } else if already {
            } else if policy == "Forbid" && !active.is_empty() {
                ctx.recorder.normal(
                    &*cronjob,
                    "JobAlreadyActive",
                    "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
                );
            } else {
                if policy == "Replace" {
                    for r in std::mem::take(&mut active) {
                        let old = r.name.clone().unwrap_or_default();
                        delete_job(&ctx, &cronjob, &job_api, &old).await?;
                    }
                }
                let job = job_for(&cronjob, scheduled, tz);
                match job_api.create(&PostParams::default(), &job).await {
                    Ok(created) => {
                        ctx.recorder.normal(
                            &*cronjob,
                            "SuccessfulCreate",
                            format!("Created job {job_name}"),
                        );
                        active.push(reference(&created));
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        // Created before a lost status update: ours if it names us.
                        let existing = job_api.get(&job_name).await?;
                        if pods::controller_of(&existing.metadata).is_some_and(|o| o.uid == uid)
                            && finished(&existing).is_none()
                            && !active.iter().any(|r| r.uid == existing.metadata.uid)
                        {
                            active.push(reference(&existing));
                        }
                    }
                    Err(kube::Error::Api(e)) => {
                        ctx.recorder.warning(
                            &*cronjob,
                            "FailedCreate",
                            format!("Error creating job: {}", e.message),
                        );
                        return Err(kube::Error::Api(e).into());
                    }
                    Err(e) => return Err(e.into()),
                }
                last_schedule = Some(scheduled);
                requeue = wake_after(sched, tz, scheduled, now);
            }
        }
    }

    // Finished Jobs beyond the history limits go, oldest first.
    let successful_limit = spec.successful_jobs_history_limit.unwrap_or(3);
    let failed_limit = spec.failed_jobs_history_limit.unwrap_or(1);
    for (kind, limit) in [("Complete", successful_limit), ("Failed", failed_limit)] {
        let mut done: Vec<&Arc<Job>> = children
            .iter()
            .filter(|j| finished(j) == Some(kind))
            .collect();
        done.sort_by(|a, b| start_order(a, b));
        let surplus = done.len().saturating_sub(limit.max(0) as usize);
        for job in done.into_iter().take(surplus) {
            let job_name = job.metadata.name.clone().unwrap_or_default();
            delete_job(&ctx, &cronjob, &job_api, &job_name).await?;
            active.retain(|r| r.uid != job.metadata.uid);
        }
    }

    let stamp = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let status = json!({
        "active": if active.is_empty() { serde_json::Value::Null } else { json!(active) },
        "lastScheduleTime": stamp(last_schedule),
        "lastSuccessfulTime": stamp(last_successful),
    });
    let uids = |list: &[ObjectReference]| -> Vec<Option<String>> {
        list.iter().map(|r| r.uid.clone()).collect()
    };
    let changed = uids(&active) != uids(old_status.active.as_deref().unwrap_or(&[]))
        || last_schedule != old_status.last_schedule_time.as_ref().map(|t| t.0)
        || last_successful != old_status.last_successful_time.as_ref().map(|t| t.0);
    if changed {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        api.patch_status(
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

/// Upstream's `byJobStartTime`: by start time (unstarted last), then name.
fn start_order(a: &Job, b: &Job) -> std::cmp::Ordering {
    let start = |j: &Job| {
        j.status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0)
    };
    match (start(a), start(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => a.metadata.name.cmp(&b.metadata.name),
    }
}

/// Deletes a Job and its pods (background propagation), with upstream's event.
async fn delete_job(ctx: &Context, cronjob: &CronJob, api: &Api<Job>, name: &str) -> Result<()> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            ctx.recorder
                .normal(cronjob, "SuccessfulDelete", format!("Deleted job {name}"));
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(kube::Error::Api(e)) => {
            ctx.recorder.warning(
                cronjob,
                "FailedDelete",
                format!("Deleted job: {}", e.message),
            );
            Err(kube::Error::Api(e).into())
        }
        Err(e) => Err(e.into()),
    }
}
