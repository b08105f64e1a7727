//! Prometheus metrics: request counts and latencies by verb, resource and code, rendered in
//! the text exposition format at `/metrics`.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex, time::Duration};

/// Latency buckets in seconds (upstream's `apiserver_request_duration_seconds` buckets, cut).
const BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Request metrics of the API server.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latencies: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, verb: &str, resource: &str, code: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((verb.to_string(), resource.to_string(), code))
            .or_default() += 1;
        // Watches last as long as the client stays; their latency says nothing.
        if verb == "WATCH" {
            return;
        }
        let mut latencies = self.latencies.lock().expect("metrics lock");
        let h = latencies
            .entry((verb.to_string(), resource.to_string()))
            .or_insert_with(|| Histogram {
                counts: vec![0; BUCKETS.len()],
                ..Histogram::default()
            });
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb and resource.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, resource), h) in self.latencies.lock().expect("metrics lock").iter() {
            let labels = format!("verb=\"{verb}\",resource=\"{resource}\"");
            for (bound, n) in BUCKETS.iter().zip(&h.counts) {
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.observe("GET", "pods", 200, Duration::from_millis(3));
        m.observe("GET", "pods", 200, Duration::from_millis(300));
        m.observe("GET", "pods", 404, Duration::from_millis(1));
        let text = m.render();
        assert!(
            text.contains("apiserver_request_total{verb=\"GET\",resource=\"pods\",code=\"200\"} 2")
        );
        assert!(
            text.contains("apiserver_request_total{verb=\"GET\",resource=\"pods\",code=\"404\"} 1")
        );
        assert!(text.contains("apiserver_request_duration_seconds_bucket{verb=\"GET\",resource=\"pods\",le=\"0.005\"} 2"));
        assert!(text.contains(
            "apiserver_request_duration_seconds_count{verb=\"GET\",resource=\"pods\"} 3"
        ));
    }
}
