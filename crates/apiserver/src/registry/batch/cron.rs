//! The check of `CronJob.spec.schedule`: upstream validates it with `robfig/cron/v3`'s
//! standard parser ([`apimachinery::cron`], which has its syntax and error messages), where a
//! `TZ=` or `CRON_TZ=` prefix must name a known time zone.

use apimachinery::cron;

/// Checks a schedule like robfig's `cron.ParseStandard`; the error is its message.
pub fn parse_standard(spec: &str) -> Result<(), String> {
    let parsed = match cron::split_time_zone(spec) {
        Some((location, _)) if !super::cron_job::time_zone_exists(location) => {
            return Err(format!(
                "provided bad location {location}: unknown time zone {location}"
            ));
        }
        Some((_, rest)) => cron::parse_fields(rest),
        None => cron::parse(spec),
    };
    parsed.map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_standard;

    #[test]
    fn accepts_standard_schedules() {
        for s in [
            "*/5 * * * *",
            "@hourly",
            "TZ=UTC 0 0 * * *",
            "CRON_TZ=UTC @daily",
        ] {
            assert_eq!(parse_standard(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn rejects_like_robfig() {
        let cases = [
            ("", "empty spec string"),
            ("foo", "expected exactly 5 fields, found 1: [foo]"),
            ("TZ=UTC", "expected exactly 5 fields, found 0: []"),
            (
                "TZ=UTC 60 * * * *",
                "end of range (60) above maximum (59): 60",
            ),
            (
                "TZ=Mars/Olympus * * * * *",
                "provided bad location Mars/Olympus: unknown time zone Mars/Olympus",
            ),
        ];
        for (s, want) in cases {
            if s.starts_with("TZ=Mars") && !std::path::Path::new("/usr/share/zoneinfo").is_dir() {
                continue;
            }
            assert_eq!(parse_standard(s), Err(want.to_string()), "{s}");
        }
    }
}
