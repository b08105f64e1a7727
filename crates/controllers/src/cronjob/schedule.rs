//! Cron schedules as upstream's CronJob controller reads them (`robfig/cron/v3`'s standard
//! parser): five fields (minute, hour, day of month, month, day of week) with `*`, `?`, lists,
//! ranges, steps and month/weekday names, or a descriptor (`@hourly`, `@daily`, `@every 90s`,
//! ...); times are found in the CronJob's time zone, and the controller's arithmetic over
//! them (the most recent missed time, how many were missed) lives here too.

use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime},
    tz::TimeZone,
};

/// The bit set when a field was `*` or `?` (it matters for day of month vs. day of week).
const STAR: u64 = 1 << 63;

/// Why a schedule does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Not five fields.
    #[error("expected exactly 5 fields, found {0}: {1}")]
    FieldCount(usize, String),
    /// A field's value is not a number or a name.
    #[error("failed to parse int from {0}: {1}")]
    Int(String, String),
    /// A value out of the field's bounds.
    #[error("{0}")]
    Range(String),
    /// An unknown `@` descriptor.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Five fields, each a bit set of the values it allows.
    Cron {
        /// Minutes 0-59.
        minute: u64,
        /// Hours 0-23.
        hour: u64,
        /// Days of the month 1-31.
        dom: u64,
        /// Months 1-12.
        month: u64,
        /// Days of the week 0-6 (Sunday is 0).
        dow: u64,
    },
    /// `@every <duration>`: a fixed delay, at least a second.
    Every(SignedDuration),
}

fn value(text: &str, bounds: &Bounds) -> Result<u32, Error> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = bounds.names.iter().position(|n| *n == lower) {
        return Ok(bounds.min + i as u32);
    }
    text.parse::<u32>()
        .map_err(|e| Error::Int(text.into(), e.to_string()))
}

fn field(text: &str, bounds: &Bounds) -> Result<u64, Error> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let (start, mut end, mut extra, single) = if range == "*" || range == "?" {
            (bounds.min, bounds.max, STAR, false)
        } else {
            match range.split_once('-') {
                Some((a, b)) => (value(a, bounds)?, value(b, bounds)?, 0, false),
                None => {
                    let v = value(range, bounds)?;
                    (v, v, 0, true)
                }
            }
        };
        let step = match step {
            None => 1,
            Some(s) => {
                let step = s
                    .parse::<u32>()
                    .map_err(|e| Error::Int(s.into(), e.to_string()))?;
                // `N/step` means `N-max/step`.
                if single {
                    end = bounds.max;
                }
                if step > 1 {
                    extra = 0;
                }
                step
            }
        };
        if start < bounds.min {
            return Err(Error::Range(format!(
                "beginning of range ({start}) below minimum ({}): {part}",
                bounds.min
            )));
        }
        if end > bounds.max {
            return Err(Error::Range(format!(
                "end of range ({end}) above maximum ({}): {part}",
                bounds.max
            )));
        }
        if start > end {
            return Err(Error::Range(format!(
                "beginning of range ({start}) beyond end of range ({end}): {part}"
            )));
        }
        if step == 0 {
            return Err(Error::Range(format!(
                "step of range should be a positive number: {part}"
            )));
        }
        let mut v = start;
        while v <= end {
            bits |= 1 << v;
            v += step;
        }
        bits |= extra;
    }
    Ok(bits)
}

/// A Go duration (`1h30m`, `90s`, `1.5h`) as robfig's `@every` takes it.
fn go_duration(text: &str) -> Option<SignedDuration> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Some(SignedDuration::from_secs_f64(total))
}

/// Parses a schedule as upstream does.
pub fn parse(spec: &str) -> Result<Schedule, Error> {
    let spec = spec.trim();
    if let Some(descriptor) = spec.strip_prefix('@') {
        let fields = match descriptor {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            other => {
                let every = other
                    .strip_prefix("every ")
                    .and_then(|d| go_duration(d.trim()))
                    .ok_or_else(|| Error::Descriptor(spec.into()))?;
                // Under a second rounds up to a second; fractions of a second drop.
                let secs = every.as_secs().max(1);
                return Ok(Schedule::Every(SignedDuration::from_secs(secs)));
            }
        };
        return parse(fields);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(Error::FieldCount(fields.len(), spec.into()));
    }
    Ok(Schedule::Cron {
        minute: field(fields[0], &MINUTES)?,
        hour: field(fields[1], &HOURS)?,
        dom: field(fields[2], &DOM)?,
        month: field(fields[3], &MONTHS)?,
        dow: field(fields[4], &DOW)?,
    })
}

fn has(bits: u64, v: i8) -> bool {
    bits & (1 << v as u32) != 0
}

impl Schedule {
    /// The first time strictly after `after` the schedule fires, in `tz`; `None` if it never
    /// does within five years (`0 0 30 2 *`).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let (minute, hour, dom, month, dow) = match self {
            Schedule::Every(delay) => {
                let whole = after.as_second();
                return Timestamp::from_second(whole).ok()?.checked_add(*delay).ok();
            }
            Schedule::Cron {
                minute,
                hour,
                dom,
                month,
                dow,
            } => (*minute, *hour, *dom, *month, *dow),
        };
        let local = after.to_zoned(tz.clone()).datetime();
        // The next whole minute after `after`.
        let mut t = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(SignedDuration::from_mins(1))
            .ok()?;
        let limit = t.year() + 5;
        let day_matches = |d: Date| {
            let dom_ok = has(dom, d.day());
            let dow_ok = has(dow, d.weekday().to_sunday_zero_offset());
            if dom & STAR != 0 || dow & STAR != 0 {
                dom_ok && dow_ok
            } else {
                dom_ok || dow_ok
            }
        };
        while t.year() <= limit {
            if !has(month, t.month()) {
                let first = t
                    .date()
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok()?;
                t = first.to_datetime(jiff::civil::time(0, 0, 0, 0));
                continue;
            }
            if !day_matches(t.date()) {
                t = t
                    .date()
                    .tomorrow()
                    .ok()?
                    .to_datetime(jiff::civil::time(0, 0, 0, 0));
                continue;
            }
            if !has(hour, t.hour()) {
                t = next_hour(t)?;
                continue;
            }
            if !has(minute, t.minute()) {
                t = t.checked_add(SignedDuration::from_mins(1)).ok()?;
                continue;
            }
            // A local time skipped by a daylight-saving jump does not fire (as robfig).
            let instant = tz.to_ambiguous_timestamp(t).compatible().ok()?;
            if instant > after && instant.to_zoned(tz.clone()).datetime() == t {
                return Some(instant);
            }
            t = t.checked_add(SignedDuration::from_mins(1)).ok()?;
        }
        None
    }
}

fn next_hour(t: DateTime) -> Option<DateTime> {
    t.with()
        .minute(0)
        .build()
        .ok()?
        .checked_add(SignedDuration::from_hours(1))
        .ok()
}

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
