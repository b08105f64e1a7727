//! Tests of schedule parsing (robfig's syntax and messages) and of the next run time.

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

use super::{Error, Schedule, parse, parse_fields, split_time_zone};

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn next(spec: &str, after: &str) -> Option<String> {
    parse(spec)
        .expect("a schedule")
        .next(at(after), &TimeZone::UTC)
        .map(|t| t.to_string())
}

fn error(spec: &str) -> String {
    parse(spec).expect_err(spec).to_string()
}

#[test]
fn accepts_standard_schedules() {
    for s in [
        "*/5 * * * *",
        "0 0 * * *",
        "@hourly",
        "@every 1h30m",
        "0 9-17 * jan-mar mon-fri",
        "15,45 * ? * SUN",
        "0 0 1 */2 *",
        "1,,2 * * * *",
        "*-5 * * * *",
        " 0  0 * * * ",
    ] {
        assert!(parse(s).is_ok(), "{s}");
    }
}

#[test]
fn rejects_with_robfigs_messages() {
    let cases = [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("foo", "expected exactly 5 fields, found 1: [foo]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        (
            "x * * * *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "99999999999999999999 * * * *",
            "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "-1 * * * *",
            "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax",
        ),
        ("*/-1 * * * *", "negative number (-1) not allowed: -1"),
        (
            "5-1 * * * *",
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/2/3 * * * *", "too many slashes: */2/3"),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@every", "unrecognized descriptor: @every"),
        (
            "@every 1x",
            "failed to parse duration @every 1x: time: invalid duration \"1x\"",
        ),
        (
            "@every ",
            "failed to parse duration @every : time: invalid duration \"\"",
        ),
    ];
    for (s, want) in cases {
        assert_eq!(error(s), want, "{s}");
    }
    assert!(matches!(parse("* * * *"), Err(Error::FieldCount(4, _))));
    assert!(matches!(parse("x * * * *"), Err(Error::Int(..))));
    assert!(matches!(parse("@fortnightly"), Err(Error::Descriptor(_))));
}

#[test]
fn time_zone_prefixes_are_split_off() {
    assert_eq!(split_time_zone("0 * * * *"), None);
    assert_eq!(
        split_time_zone("TZ=Europe/Berlin 0 * * * *"),
        Some(("Europe/Berlin", "0 * * * *"))
    );
    assert_eq!(
        split_time_zone("CRON_TZ=UTC  @hourly "),
        Some(("UTC", "@hourly"))
    );
    assert_eq!(split_time_zone("TZ=UTC"), Some(("UTC", "")));
    assert_eq!(
        parse_fields("").expect_err("no fields").to_string(),
        "expected exactly 5 fields, found 0: []"
    );
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
fn every_takes_go_durations_in_whole_seconds_of_at_least_one() {
    let every = |d: &str| match parse(&format!("@every {d}")) {
        Ok(Schedule::Every(delay)) => Some(delay),
        _ => None,
    };
    let secs = |s: i64| Some(SignedDuration::from_secs(s));
    assert_eq!(every("90s"), secs(90));
    assert_eq!(every("1.5h"), secs(5400));
    assert_eq!(every(".5m"), secs(30));
    assert_eq!(every("1m30.9s"), secs(90));
    assert_eq!(every("1500ms"), secs(1));
    assert_eq!(every("2000000us"), secs(2));
    assert_eq!(every("3000000µs"), secs(3));
    assert_eq!(every("100ns"), secs(1));
    assert_eq!(every("0"), secs(1));
    assert_eq!(every("-1h"), secs(1));
    assert_eq!(every("+2s"), secs(2));
    for bad in ["1", "h", ".", "1.2.3s", "1h 30m", "-", "1d"] {
        assert_eq!(every(bad), None, "{bad}");
    }
}

#[test]
fn impossible_dates_never_fire() {
    assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00Z"), None);
}

#[test]
fn time_zones_move_the_schedule_with_daylight_saving() {
    let tz = TimeZone::get("America/New_York").expect("a zone");
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
}
