//! Latency summaries.

use serde_json::{Value, json};

/// Percentiles of a set of samples in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Summarizes samples given in nanoseconds; the figures are in milliseconds.
    pub fn of_nanos(samples: &mut [u64]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        samples.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        let at = |q: f64| {
            // Nearest-rank percentile.
            let rank = (q * samples.len() as f64).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        let sum: u128 = samples.iter().map(|&s| s as u128).sum();
        Summary {
            count: samples.len(),
            min: ms(samples[0]),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: ms(samples[samples.len() - 1]),
            mean: sum as f64 / samples.len() as f64 / 1e6,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "min_ms": round(self.min),
            "p50_ms": round(self.p50),
            "p90_ms": round(self.p90),
            "p99_ms": round(self.p99),
            "max_ms": round(self.max),
            "mean_ms": round(self.mean),
        })
    }

    pub fn line(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
            self.p50, self.p90, self.p99, self.max, self.count
        )
    }
}

/// Three decimals are plenty for milliseconds.
pub fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
