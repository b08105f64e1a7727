//! Unit tests of the CronJob controller's time arithmetic (schedules themselves are tested
//! with `apimachinery::cron`).

use std::time::Duration;

use apimachinery::cron::parse;
use jiff::{Timestamp, tz::TimeZone};
use k8s_openapi::api::batch::v1::CronJob;

use super::{
    SCHEDULED_TIMESTAMP, due, job_for,
    schedule::{Missed, job_name, most_recent},
    time_zone, wake_after,
};

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

#[test]
fn unknown_time_zones_are_refused() {
    assert!(time_zone(Some("America/New_York")).is_ok());
    assert!(time_zone(Some("Mars/Olympus")).is_err());
}

#[test]
fn the_most_recent_missed_time_and_how_many_were_missed() {
    let every = parse("*/1 * * * *").expect("a schedule");
    let tz = TimeZone::UTC;
    let created = at("2024-01-01T00:00:30Z");
    assert_eq!(
        most_recent(&every, &tz, created, at("2024-01-01T00:00:59Z")),
        (None, Missed::None)
    );
    assert_eq!(
        most_recent(&every, &tz, created, at("2024-01-01T00:01:10Z")),
        (Some(at("2024-01-01T00:01:00Z")), Missed::None)
    );
    assert_eq!(
        most_recent(&every, &tz, created, at("2024-01-01T00:05:10Z")),
        (Some(at("2024-01-01T00:05:00Z")), Missed::Few)
    );
    // Days behind: more than 100 missed, still the right most recent time.
    assert_eq!(
        most_recent(&every, &tz, created, at("2024-01-09T07:42:10Z")),
        (Some(at("2024-01-09T07:42:00Z")), Missed::Many)
    );
}

#[test]
fn starting_deadline_limits_how_far_back_times_count() {
    let every = parse("*/1 * * * *").expect("a schedule");
    let tz = TimeZone::UTC;
    let last = at("2024-01-01T00:00:00Z");
    let now = at("2024-01-01T03:00:30Z");
    // Without a deadline three hours of minutes were missed.
    assert_eq!(
        due(&every, &tz, last, None, now),
        (Some(at("2024-01-01T03:00:00Z")), Missed::Many)
    );
    // With 200 s only the last few count.
    assert_eq!(
        due(&every, &tz, last, Some(200), now),
        (Some(at("2024-01-01T03:00:00Z")), Missed::Few)
    );
    // With 10 s the last time (30 s ago) is out of reach.
    assert_eq!(due(&every, &tz, last, Some(10), now), (None, Missed::None));
}

#[test]
fn the_controller_wakes_just_after_the_next_time() {
    let every = parse("*/1 * * * *").expect("a schedule");
    let tz = TimeZone::UTC;
    let wait = wake_after(
        &every,
        &tz,
        at("2024-01-01T00:00:00Z"),
        at("2024-01-01T00:00:20Z"),
    );
    assert_eq!(wait, Some(Duration::from_millis(40_100)));
    let hourly = parse("@hourly").expect("a schedule");
    let wait = wake_after(
        &hourly,
        &tz,
        at("2024-01-01T00:00:00Z"),
        at("2024-01-01T00:59:59Z"),
    );
    assert_eq!(wait, Some(Duration::from_millis(1_100)));
}

#[test]
fn jobs_are_named_by_their_minute_and_carry_the_scheduled_time() {
    assert_eq!(
        job_name("hello", at("2024-01-01T00:01:00Z")),
        "hello-28401121"
    );
    let cronjob: CronJob = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hello", "namespace": "default", "uid": "u1"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {
            "metadata": {"labels": {"app": "hello"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}}
    }))
    .expect("a CronJob");
    let tz = time_zone(Some("Europe/Berlin")).expect("a zone");
    let job = job_for(&cronjob, at("2024-01-01T00:01:00Z"), &tz);
    assert_eq!(job.metadata.name.as_deref(), Some("hello-28401121"));
    assert_eq!(
        job.metadata.annotations.as_ref().expect("annotations")[SCHEDULED_TIMESTAMP],
        "2024-01-01T01:01:00+01:00"
    );
    assert_eq!(
        job.metadata.labels.as_ref().expect("labels")["app"],
        "hello"
    );
    let owner = &job.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    let utc = job_for(&cronjob, at("2024-01-01T00:01:00Z"), &TimeZone::UTC);
    assert_eq!(
        utc.metadata.annotations.as_ref().expect("annotations")[SCHEDULED_TIMESTAMP],
        "2024-01-01T00:01:00Z"
    );
}
