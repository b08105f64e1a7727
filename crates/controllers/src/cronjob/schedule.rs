//! The CronJob controller's arithmetic over schedule times (parsed by
//! [`apimachinery::cron`], in the CronJob's time zone): the most recent missed time, how many
//! were missed, and the names of the Jobs made for them.

use apimachinery::cron::Schedule;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};

/// How many schedule times passed unmet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    /// At most one.
    None,
    /// A few (up to 100).
    Few,
    /// More than 100: upstream warns with `TooManyMissedTimes`.
    Many,
}

/// The most recent schedule time in `(earliest, now]` and how many there were (upstream's
/// `mostRecentScheduleTime`).
pub fn most_recent(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> (Option<Timestamp>, Missed) {
    let Some(t1) = schedule.next(earliest, tz) else {
        return (None, Missed::None);
    };
    if now < t1 {
        return (None, Missed::None);
    }
    let Some(t2) = schedule.next(t1, tz) else {
        return (Some(t1), Missed::None);
    };
    if now < t2 {
        return (Some(t1), Missed::None);
    }
    // Count by stepping; far behind, jump by the interval between the first two times and
    // step from there.
    let interval = t2.duration_since(t1);
    let behind = now.duration_since(t1);
    let count = behind.as_secs() / interval.as_secs().max(1) + 1;
    let missed = if count > 100 {
        Missed::Many
    } else {
        Missed::Few
    };
    let mut last = t1;
    if count > 1000 {
        // The first schedule time at or after the jump, if it has passed.
        let jumped = interval
            .checked_mul((count - 2) as i32)
            .and_then(|d| t1.checked_add(d).ok())
            .and_then(|t| t.checked_sub(SignedDuration::from_secs(1)).ok())
            .and_then(|t| schedule.next(t, tz))
            .filter(|t| *t <= now);
        if let Some(jumped) = jumped {
            last = jumped;
        }
    }
    while let Some(next) = schedule.next(last, tz).filter(|n| *n <= now) {
        last = next;
    }
    (Some(last), missed)
}

/// The name of the Job for a scheduled time: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}
