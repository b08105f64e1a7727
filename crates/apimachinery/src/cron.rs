//! Cron schedules in the syntax of `robfig/cron/v3`'s standard parser, which upstream uses
//! both to validate `CronJob.spec.schedule` and in the CronJob controller: five fields
//! (minute, hour, day of month, month, day of week) with `*`, `?`, lists, ranges, steps and
//! month/weekday names, or a descriptor (`@hourly`, `@daily`, `@every 1h30m`, ...). Errors
//! carry robfig's messages; [`Schedule::next`] finds the next time in a time zone.

#[cfg(test)]
mod tests;

use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime},
    tz::TimeZone,
};

use crate::validation::quote;

/// The bit set when a field was `*` or `?` (it matters for day of month vs. day of week).
const STAR: u64 = 1 << 63;

/// Why a schedule does not parse; the message is robfig's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// An empty schedule.
    #[error("empty spec string")]
    Empty,
    /// Not five fields: how many, and the fields joined by spaces.
    #[error("expected exactly 5 fields, found {0}: [{1}]")]
    FieldCount(usize, String),
    /// A value that is neither a number nor a name: the value and Go's `strconv.Atoi` reason.
    #[error("failed to parse int from {0}: strconv.Atoi: parsing {q}: {1}", q = quote(.0))]
    Int(String, String),
    /// A negative number: the number and the value it came from.
    #[error("negative number ({0}) not allowed: {1}")]
    Negative(i64, String),
    /// A malformed or out-of-bounds range (hyphens, slashes, bounds or step).
    #[error("{0}")]
    Range(String),
    /// An unknown `@` descriptor.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    /// An `@every` whose duration does not parse: the descriptor and the duration.
    #[error("failed to parse duration {0}: time: invalid duration {q}", q = quote(.1))]
    Duration(String, String),
}

struct Bounds {
    min: u64,
    max: u64,
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
    /// `@every <duration>`: a fixed delay, whole seconds, at least one.
    Every(SignedDuration),
}

/// Go's `strconv.Atoi` followed by robfig's negativity check.
fn must_parse_int(expr: &str) -> Result<u64, Error> {
    let num: i64 = expr.parse().map_err(|e: std::num::ParseIntError| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        Error::Int(expr.into(), reason.into())
    })?;
    if num < 0 {
        return Err(Error::Negative(num, expr.into()));
    }
    Ok(num as u64)
}

fn parse_int_or_name(expr: &str, bounds: &Bounds) -> Result<u64, Error> {
    let lower = expr.to_lowercase();
    if let Some(i) = bounds.names.iter().position(|n| *n == lower) {
        return Ok(i as u64 + bounds.min);
    }
    must_parse_int(expr)
}

/// One range of a field (`*`, `5`, `1-5`, `*/10`, `mon-fri/2`) as its bits.
fn get_range(expr: &str, bounds: &Bounds) -> Result<u64, Error> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = bounds.min;
        end = bounds.max;
        extra = STAR;
    } else {
        start = parse_int_or_name(low_and_high[0], bounds)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds)?,
            _ => return Err(Error::Range(format!("too many hyphens: {expr}"))),
        };
        extra = 0;
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            // `N/step` means `N-max/step`.
            if single {
                end = bounds.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(Error::Range(format!("too many slashes: {expr}"))),
    };
    if start < bounds.min {
        return Err(Error::Range(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        )));
    }
    if end > bounds.max {
        return Err(Error::Range(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        )));
    }
    if start > end {
        return Err(Error::Range(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(Error::Range(format!(
            "step of range should be a positive number: {expr}"
        )));
    }
    let mut bits = extra;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v += step;
    }
    Ok(bits)
}

/// A field: its comma-separated ranges (empty ones skipped, as robfig does) ORed.
fn get_field(field: &str, bounds: &Bounds) -> Result<u64, Error> {
    let mut bits = 0;
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        bits |= get_range(expr, bounds)?;
    }
    Ok(bits)
}

/// Go's `time.ParseDuration` (`1h30m`, `90s`, `1.5h`, `-2m`, `0`); `None` where Go fails,
/// except that a duration too long for Go saturates instead.
fn go_duration(s: &str) -> Option<SignedDuration> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (whole, fraction) = rest[..digits]
            .split_once('.')
            .unwrap_or((&rest[..digits], ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let digits_value = |text: &str| {
            text.bytes().fold(0u128, |n, d| {
                n.saturating_mul(10).saturating_add(u128::from(d - b'0'))
            })
        };
        // Digits past the twentieth are below a nanosecond even in hours.
        let fraction = &fraction[..fraction.len().min(20)];
        let part = digits_value(whole)
            .saturating_mul(unit)
            .saturating_add(digits_value(fraction) * unit / 10u128.pow(fraction.len() as u32));
        nanos = nanos.saturating_add(part);
    }
    let secs = i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
    let duration = SignedDuration::new(secs, (nanos % 1_000_000_000) as i32);
    Some(if negative { -duration } else { duration })
}

/// The zone a schedule names with a `TZ=` or `CRON_TZ=` prefix, and the schedule after it
/// (as robfig reads it); `None` without such a prefix. Upstream rejects the prefix in new
/// schedules, so [`parse`] does not take it.
pub fn split_time_zone(spec: &str) -> Option<(&str, &str)> {
    if !spec.starts_with("TZ=") && !spec.starts_with("CRON_TZ=") {
        return None;
    }
    let eq = spec.find('=').unwrap_or(0);
    let end = spec.find(' ').unwrap_or(spec.len());
    Some((&spec[eq + 1..end], spec[end..].trim()))
}

/// Parses a schedule as robfig's `ParseStandard` does, without a time zone prefix.
pub fn parse(spec: &str) -> Result<Schedule, Error> {
    if spec.is_empty() {
        return Err(Error::Empty);
    }
    parse_fields(spec)
}

/// Parses what follows a time zone prefix (see [`split_time_zone`]): a descriptor or five
/// fields; unlike [`parse`], an empty rest is a count of no fields.
pub fn parse_fields(spec: &str) -> Result<Schedule, Error> {
    if let Some(descriptor) = spec.strip_prefix('@') {
        let fields = match descriptor {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                let Some(text) = spec.strip_prefix("@every ") else {
                    return Err(Error::Descriptor(spec.into()));
                };
                let every =
                    go_duration(text).ok_or_else(|| Error::Duration(spec.into(), text.into()))?;
                // Under a second rounds up to a second; fractions of a second drop.
                let secs = every.as_secs().max(1);
                return Ok(Schedule::Every(SignedDuration::from_secs(secs)));
            }
        };
        return parse_fields(fields);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(Error::FieldCount(fields.len(), fields.join(" ")));
    }
    Ok(Schedule::Cron {
        minute: get_field(fields[0], &MINUTES)?,
        hour: get_field(fields[1], &HOURS)?,
        dom: get_field(fields[2], &DOM)?,
        month: get_field(fields[3], &MONTHS)?,
        dow: get_field(fields[4], &DOW)?,
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
