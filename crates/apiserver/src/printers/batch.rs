//! Printers of Jobs and CronJobs.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, CONTAINERS, IMAGES, NAME, Printer, col, doc,
    format::{
        age, array_at, bool_ptr, condition_true, containers, format_label_selector, has,
        human_duration, int_at, name, nanos_between, since, str_at, timestamp,
    },
    text, wide,
};

const JOB_SPEC: &str = "io.k8s.api.batch.v1.JobSpec";
const CRONJOB_SPEC: &str = "io.k8s.api.batch.v1.CronJobSpec";
const CRONJOB_STATUS: &str = "io.k8s.api.batch.v1.CronJobStatus";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "batch",
        kind: "Job",
        columns: &[
            NAME,
            col("Status", "string", text("Status of the job.")),
            col(
                "Completions",
                "string",
                doc("io.k8s.api.batch.v1.JobStatus", "succeeded"),
            ),
            col(
                "Duration",
                "string",
                text("Time required to complete the job."),
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", doc(JOB_SPEC, "selector")),
        ],
        cells: job,
    },
    Printer {
        group: "batch",
        kind: "CronJob",
        columns: &[
            NAME,
            col("Schedule", "string", doc(CRONJOB_SPEC, "schedule")),
            col("Timezone", "string", doc(CRONJOB_SPEC, "timeZone")),
            col("Suspend", "boolean", doc(CRONJOB_SPEC, "suspend")),
            col("Active", "integer", doc(CRONJOB_STATUS, "active")),
            col(
                "Last Schedule",
                "string",
                doc(CRONJOB_STATUS, "lastScheduleTime"),
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", doc(JOB_SPEC, "selector")),
        ],
        cells: cron_job,
    },
];

/// The STATUS of a Job: its terminal condition, Terminating, or the condition it is heading
/// for. `SuccessCriteriaMet` is printed as upstream does since 1.34.
fn job_status(obj: &Value) -> &'static str {
    let is = |type_: &str| condition_true(obj, "/status/conditions", type_);
    if is("Complete") {
        "Complete"
    } else if is("Failed") {
        "Failed"
    } else if has(obj, "/metadata/deletionTimestamp") {
        "Terminating"
    } else if is("Suspended") {
        "Suspended"
    } else if is("FailureTarget") {
        "FailureTarget"
    } else if is("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

/// The row of upstream's `printJob`.
fn job(obj: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int_at(obj, "/status/succeeded");
    let completions = if has(obj, "/spec/completions") {
        format!("{succeeded}/{}", int_at(obj, "/spec/completions"))
    } else {
        match int_at(obj, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        }
    };
    let start = timestamp(obj.pointer("/status/startTime"));
    let completion = timestamp(obj.pointer("/status/completionTime"));
    let duration = match (start, completion) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(nanos_between(start, now)),
        (Some(start), Some(end)) => human_duration(nanos_between(start, end)),
    };
    let (names, images) = containers(obj.pointer("/spec/template/spec"));
    vec![
        name(obj),
        json!(job_status(obj)),
        json!(completions),
        json!(duration),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(obj.pointer("/spec/selector"))),
    ]
}

/// The row of upstream's `printCronJob`.
fn cron_job(obj: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = if has(obj, "/status/lastScheduleTime") {
        since(obj.pointer("/status/lastScheduleTime"), now)
    } else {
        "<none>".to_string()
    };
    let time_zone = obj
        .pointer("/spec/timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let (names, images) = containers(obj.pointer("/spec/jobTemplate/spec/template/spec"));
    vec![
        name(obj),
        json!(str_at(obj, "/spec/schedule")),
        json!(time_zone),
        json!(bool_ptr(obj.pointer("/spec/suspend"))),
        json!(array_at(obj, "/status/active").len()),
        json!(last_schedule),
        age(obj, now),
        names,
        images,
        json!(format_label_selector(
            obj.pointer("/spec/jobTemplate/spec/selector")
        )),
    ]
}
