//! Unit tests of schedules and the CronJob controller's time arithmetic.

use std::time::Duration;

use jiff::{Timestamp, tz::TimeZone};
use k8s_openapi::api::batch::v1::CronJob;

use super::{
    SCHEDULED_TIMESTAMP, due, job_for,
    schedule::{Error, Missed, job_name, most_recent, parse},
    time_zone, wake_after,
};

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn next(spec: &str, after: &str) -> Option<String> {
    parse(spec)
        .expect("a schedule")
        .next(at(after), &TimeZone::UTC)
        .map(|t| t.to_string())
}

#[test]
fn every_minute_fires_at_the_next_whole_minute() {
    assert_eq!(
        next("*/1 * * * *", "2024-05-01T10:00:00Z").as_deref(),
        Some("2024-05-01T10:01:00Z")
    );
    assert_eq!(
        next("* * * * *", "2024-05-01T10:00:30.5Z").as_deref(),
        Some("2024-05-01T10:01:00Z")
    );
}

#[test]
fn fields_take_ranges_steps_lists_and_names() {
    // Weekdays at 09:00; 2024-05-04 is a Saturday.
    assert_eq!(
        next("0 9 * * mon-fri", "2024-05-03T09:00:00Z").as_deref(),
        Some("2024-05-06T09:00:00Z")
    );
    assert_eq!(
        next("5/15 * * * *", "2024-05-01T10:21:00Z").as_deref(),
        Some("2024-05-01T10:35:00Z")
    );
    assert_eq!(
        next("0 0 1,15 JAN *", "2024-01-02T00:00:00Z").as_deref(),
        Some("2024-01-15T00:00:00Z")
    );
    assert_eq!(
        next("30 2-4/2 * * *", "2024-01-01T02:30:00Z").as_deref(),
        Some("2024-01-01T04:30:00Z")
    );
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_restricted() {
    // The 13th or any Friday: 2024-09-06 is a Friday, before the 13th.
    assert_eq!(
        next("0 0 13 * 5", "2024-09-01T00:00:00Z").as_deref(),
        Some("2024-09-06T00:00:00Z")
    );
    // With a star in one of them, both must match: only Fridays the 13th.
    assert_eq!(
        next("0 0 13 * ?", "2024-09-01T00:00:00Z").as_deref(),
        Some("2024-09-13T00:00:00Z")
    );
}

#[test]
fn macros_and_every() {
    assert_eq!(parse("@hourly"), parse("0 * * * *"));
    assert_eq!(parse("@daily"), parse("0 0 * * *"));
    assert_eq!(parse("@midnight"), parse("0 0 * * *"));
    assert_eq!(parse("@weekly"), parse("0 0 * * 0"));
    assert_eq!(parse("@monthly"), parse("0 0 1 * *"));
    assert_eq!(parse("@yearly"), parse("@annually"));
    assert_eq!(
        next("@every 1h30m", "2024-01-01T00:00:10Z").as_deref(),
        Some("2024-01-01T01:30:10Z")
    );
}

#[test]
fn impossible_dates_never_fire_and_bad_schedules_say_why() {
    assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00Z"), None);
    assert!(matches!(parse("* * * *"), Err(Error::FieldCount(4, _))));
    assert_eq!(
        parse("60 * * * *").err().map(|e| e.to_string()).as_deref(),
        Some("end of range (60) above maximum (59): 60")
    );
    assert!(matches!(parse("x * * * *"), Err(Error::Int(..))));
    assert!(matches!(parse("@fortnightly"), Err(Error::Descriptor(_))));
}

#[test]
fn time_zones_move_the_schedule_with_daylight_saving() {
    let tz = time_zone(Some("America/New_York")).expect("a zone");
    let nine = parse("0 9 * * *").expect("a schedule");
    // 09:00 EST is 14:00 UTC in winter, 09:00 EDT 13:00 UTC in summer.
    assert_eq!(
        nine.next(at("2024-01-10T00:00:00Z"), &tz)
            .map(|t| t.to_string())
            .as_deref(),
        Some("2024-01-10T14:00:00Z")
    );
    assert_eq!(
        nine.next(at("2024-07-10T00:00:00Z"), &tz)
            .map(|t| t.to_string())
            .as_deref(),
        Some("2024-07-10T13:00:00Z")
    );
    // 02:30 does not exist on 2024-03-10 in New York: that day is skipped.
    let skipped = parse("30 2 * * *").expect("a schedule");
    assert_eq!(
        skipped
            .next(at("2024-03-10T05:00:00Z"), &tz)
            .map(|t| t.to_string())
            .as_deref(),
        Some("2024-03-11T06:30:00Z")
    );
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
