//! Container probes as upstream's prober runs them: exec (through CRI ExecSync), httpGet (a
//! GET to the pod's IP, 200-399 succeeds) and tcpSocket (a connection), each with its
//! initialDelaySeconds, periodSeconds, timeoutSeconds and success/failure thresholds.
//! Startup gates the other two; readiness makes a container ready; liveness failing
//! failureThreshold times in a row gets the container killed (and restarted as its pod's
//! restartPolicy says).

use std::time::{Duration, Instant};

use k8s_cri::v1::ExecSyncRequest;
use k8s_openapi::{api::core::v1::Probe, apimachinery::pkg::util::intstr::IntOrString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cri::Cri;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// startupProbe.
    Startup,
    /// readinessProbe.
    Readiness,
    /// livenessProbe.
    Liveness,
}

/// What a probe has seen of one container run.
#[derive(Clone, Debug)]
pub struct State {
    /// The container run (its id) this state belongs to.
    pub container_id: String,
    /// Consecutive successes and failures.
    successes: i32,
    failures: i32,
    /// When it last ran.
    last: Option<Instant>,
    /// The current verdict: readiness starts false, startup false, liveness true.
    pub passing: bool,
}

impl State {
    /// A fresh state for a container run.
    pub fn new(kind: Kind, container_id: &str) -> State {
        State {
            container_id: container_id.to_string(),
            successes: 0,
            failures: 0,
            last: None,
            passing: kind == Kind::Liveness,
        }
    }

    /// Whether the probe is due: after the initial delay (counted from `running_for`), then
    /// every period.
    pub fn due(&self, probe: &Probe, running_for: Duration, now: Instant) -> bool {
        let initial = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
        let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
        running_for >= initial && self.last.is_none_or(|l| now.duration_since(l) >= period)
    }

    /// Records one result; returns whether the verdict changed.
    pub fn record(&mut self, probe: &Probe, ok: bool, now: Instant) -> bool {
        self.last = Some(now);
        if ok {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        let before = self.passing;
        if ok && self.successes >= probe.success_threshold.unwrap_or(1).max(1) {
            self.passing = true;
        }
        if !ok && self.failures >= probe.failure_threshold.unwrap_or(3).max(1) {
            self.passing = false;
        }
        before != self.passing
    }
}

/// Runs a probe once against a running container of a pod at `pod_ip`.
pub async fn run(cri: &Cri, probe: &Probe, container_id: &str, pod_ip: &str) -> bool {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => Some(*n as u16),
        IntOrString::String(s) => s.parse().ok(),
    };
    if let Some(exec) = &probe.exec {
        let request = ExecSyncRequest {
            container_id: container_id.to_string(),
            cmd: exec.command.clone().unwrap_or_default(),
            timeout: timeout.as_secs() as i64,
        };
        return matches!(
            tokio::time::timeout(timeout + Duration::from_secs(1), cri.runtime.clone().exec_sync(request)).await,
            Ok(Ok(reply)) if reply.get_ref().exit_code == 0
        );
    }
    if let Some(http) = &probe.http_get {
        let Some(port) = port(&http.port) else {
            return false;
        };
        let host = http
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        let path = http.path.clone().unwrap_or_else(|| "/".into());
        let get = async {
            let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .ok()?;
            let mut request = format!(
                "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.33\r\n"
            );
            for header in http.http_headers.iter().flatten() {
                request.push_str(&format!("{}: {}\r\n", header.name, header.value));
            }
            request.push_str("\r\n");
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut head = [0u8; 64];
            let n = stream.read(&mut head).await.ok()?;
            let line = String::from_utf8_lossy(&head[..n]).into_owned();
            line.split_whitespace().nth(1)?.parse::<u16>().ok()
        };
        return matches!(tokio::time::timeout(timeout, get).await, Ok(Some(code)) if (200..400).contains(&code));
    }
    if let Some(tcp) = &probe.tcp_socket {
        let Some(port) = port(&tcp.port) else {
            return false;
        };
        let host = tcp
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        return matches!(
            tokio::time::timeout(
                timeout,
                tokio::net::TcpStream::connect((host.as_str(), port))
            )
            .await,
            Ok(Ok(_))
        );
    }
    // gRPC and probes without a handler: not supported yet, counted as failing.
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_decide_the_verdict() {
        let probe = Probe {
            failure_threshold: Some(2),
            success_threshold: Some(1),
            period_seconds: Some(1),
            ..Default::default()
        };
        let now = Instant::now();
        let mut live = State::new(Kind::Liveness, "c");
        assert!(live.passing);
        assert!(!live.record(&probe, false, now));
        assert!(live.record(&probe, false, now));
        assert!(!live.passing);
        let mut ready = State::new(Kind::Readiness, "c");
        assert!(!ready.passing);
        assert!(ready.record(&probe, true, now));
        assert!(!ready.due(&probe, Duration::from_secs(5), now));
        assert!(ready.due(&probe, Duration::from_secs(5), now + Duration::from_secs(1)));
    }
}
