//! CronJobs: `Allow` concurrency, not suspended, 3 successful and 1 failed jobs kept by
//! default; the schedule is a valid cron expression (robfig's standard syntax, without `TZ=`),
//! the time zone a known one, and the job template a valid job spec whose selector is left to
//! be generated (upstream `ValidateCronJob{Create,Update}`).

use apimachinery::validation::{ErrorList, FieldError, Path};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec};

use super::{cron, job};
use crate::registry::{
    Strategy,
    common::{self, default_str, str_of},
    core::pod_spec,
};

/// The strategy of `cronjobs`.
pub struct CronJobStrategy;

/// Whether a time zone name is known: `UTC`, or a file of the system's zoneinfo database when
/// there is one.
pub fn time_zone_exists(name: &str) -> bool {
    if name == "UTC" || name.is_empty() {
        return true;
    }
    let db = std::path::Path::new("/usr/share/zoneinfo");
    if !db.is_dir() {
        return true;
    }
    !name.contains("..") && db.join(name).is_file()
}

fn valid_time_zone_part(part: &str) -> bool {
    (1..=14).contains(&part.len())
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

fn validate_time_zone(tz: Option<&str>, path: &Path) -> ErrorList {
    let Some(tz) = tz else { return Vec::new() };
    if tz.is_empty() {
        return vec![FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        )];
    }
    for part in tz.split('/') {
        if part == "." || part == ".." || part.starts_with('-') || !valid_time_zone_part(part) {
            return vec![FieldError::invalid(
                path,
                tz,
                format!("unknown time zone {tz}"),
            )];
        }
    }
    let mut errors = Vec::new();
    if tz.eq_ignore_ascii_case("Local") {
        errors.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    } else if !time_zone_exists(tz) {
        errors.push(FieldError::invalid(
            path,
            tz,
            format!("unknown time zone {tz}"),
        ));
    }
    errors
}

fn validate_spec(spec: &CronJobSpec, old: Option<&CronJobSpec>, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let schedule_path = path.child("schedule");
    if spec.schedule.is_empty() {
        errors.push(FieldError::required(&schedule_path, ""));
    } else {
        let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
        if let Err(e) = cron::parse_standard(&spec.schedule) {
            errors.push(FieldError::invalid(
                &schedule_path,
                spec.schedule.as_str(),
                e,
            ));
        }
        if allow_tz && spec.schedule.contains("TZ") && spec.time_zone.is_some() {
            errors.push(FieldError::invalid(
                &schedule_path,
                spec.schedule.as_str(),
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && spec.schedule.contains("TZ") {
            errors.push(FieldError::invalid(
                &schedule_path,
                spec.schedule.as_str(),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    errors.extend(common::nonnegative(
        spec.starting_deadline_seconds,
        &path.child("startingDeadlineSeconds"),
    ));
    if old.is_none_or(|o| o.time_zone != spec.time_zone) {
        errors.extend(validate_time_zone(
            spec.time_zone.as_deref(),
            &path.child("timeZone"),
        ));
    }
    match str_of(&spec.concurrency_policy) {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errors.push(FieldError::required(&path.child("concurrencyPolicy"), "")),
        other => errors.push(FieldError::not_supported(
            &path.child("concurrencyPolicy"),
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let template_path = path.child("jobTemplate");
    let job_spec = spec.job_template.spec.clone().unwrap_or_default();
    errors.extend(job::validate_job_spec(
        &job_spec,
        &template_path.child("spec"),
    ));
    if let Some(selector) = &job_spec.selector {
        errors.push(common::invalid_raw(
            &template_path.child("spec").child("selector"),
            &common::go_label_selector(Some(selector)),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.manual_selector == Some(true) {
        errors.push(FieldError::not_supported(
            &template_path.child("spec").child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errors.extend(common::nonnegative(
        spec.successful_jobs_history_limit.map(i64::from),
        &path.child("successfulJobsHistoryLimit"),
    ));
    errors.extend(common::nonnegative(
        spec.failed_jobs_history_limit.map(i64::from),
        &path.child("failedJobsHistoryLimit"),
    ));
    errors
}

impl Strategy for CronJobStrategy {
    type Object = CronJob;
    const GENERATION: bool = true;

    fn default(&self, cj: &mut CronJob) {
        let spec = cj.spec.get_or_insert_with(Default::default);
        default_str(&mut spec.concurrency_policy, "Allow");
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        let job_spec = spec.job_template.spec.get_or_insert_with(Default::default);
        pod_spec::default_pod_template(&mut job_spec.template);
    }

    fn validate(&self, cj: &CronJob) -> ErrorList {
        let mut errors = validate_spec(
            &cj.spec.clone().unwrap_or_default(),
            None,
            &Path::new("spec"),
        );
        let name = cj.metadata.name.clone().unwrap_or_default();
        if name.len() > 52 {
            errors.push(FieldError::invalid(
                &Path::new("metadata").child("name"),
                name.as_str(),
                "must be no more than 52 characters",
            ));
        }
        errors
    }

    fn validate_update(&self, new: &CronJob, old: &CronJob) -> ErrorList {
        let old_spec = old.spec.clone().unwrap_or_default();
        validate_spec(
            &new.spec.clone().unwrap_or_default(),
            Some(&old_spec),
            &Path::new("spec"),
        )
    }
}
