//! Container probes as upstream's prober runs them: exec (through CRI ExecSync), httpGet (a
//! GET to the pod's IP, 200-399 succeeds), tcpSocket (a connection) and grpc (the standard
//! health checking protocol, SERVING succeeds), each with its
//! initialDelaySeconds, periodSeconds, timeoutSeconds and success/failure thresholds.
//! Startup gates the other two; readiness makes a container ready; liveness failing
//! failureThreshold times in a row gets the container killed (and restarted as its pod's
//! restartPolicy says).

use std::time::{Duration, Instant};

use k8s_cri::v1::ExecSyncRequest;
use k8s_openapi::{
    api::core::v1::{GRPCAction, HTTPGetAction, Probe, TCPSocketAction},
    apimachinery::pkg::util::intstr::IntOrString,
};
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

/// Runs a probe once against a running container of a pod at `pod_ip`; a failure says why
/// (the message of upstream's Unhealthy event).
pub async fn run(cri: &Cri, probe: &Probe, container_id: &str, pod_ip: &str) -> Result<(), String> {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(action) = &probe.exec {
        let cmd = action.command.clone().unwrap_or_default();
        return exec(cri, container_id, cmd, timeout).await;
    }
    if let Some(action) = &probe.http_get {
        return http_get(action, pod_ip, timeout).await;
    }
    if let Some(action) = &probe.tcp_socket {
        return tcp_socket(action, pod_ip, timeout).await;
    }
    if let Some(action) = &probe.grpc {
        return grpc(action, pod_ip, timeout).await;
    }
    Err("the probe has no handler".into())
}

fn port(p: &IntOrString) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(s) => s
            .parse()
            .map_err(|_| format!("named port {s:?} is not resolved")),
    }
}

fn host_or(host: &Option<String>, pod_ip: &str) -> String {
    host.clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| pod_ip.to_string())
}

/// Runs `cmd` in the container (CRI ExecSync); exit code 0 succeeds.
pub async fn exec(
    cri: &Cri,
    container_id: &str,
    cmd: Vec<String>,
    timeout: Duration,
) -> Result<(), String> {
    let request = ExecSyncRequest {
        container_id: container_id.to_string(),
        cmd,
        timeout: timeout.as_secs() as i64,
    };
    let mut runtime = cri.runtime.clone();
    match tokio::time::timeout(timeout + Duration::from_secs(1), runtime.exec_sync(request)).await {
        Err(_) => Err(format!("command timed out after {}s", timeout.as_secs())),
        Ok(Err(status)) => Err(status.message().to_string()),
        Ok(Ok(reply)) => {
            let reply = reply.into_inner();
            if reply.exit_code == 0 {
                Ok(())
            } else {
                let output = String::from_utf8_lossy(&[reply.stdout, reply.stderr].concat())
                    .trim()
                    .to_string();
                Err(format!("command exited with {}: {output}", reply.exit_code))
            }
        }
    }
}

/// GETs the action's path at the pod (or its host); 200-399 succeeds.
pub async fn http_get(
    action: &HTTPGetAction,
    pod_ip: &str,
    timeout: Duration,
) -> Result<(), String> {
    let port = port(&action.port)?;
    let host = host_or(&action.host, pod_ip);
    let path = action.path.clone().unwrap_or_else(|| "/".into());
    let get = async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("Get \"http://{host}:{port}{path}\": {e}"))?;
        let mut request = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.33\r\n"
        );
        for header in action.http_headers.iter().flatten() {
            request.push_str(&format!("{}: {}\r\n", header.name, header.value));
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 64];
        let n = stream.read(&mut head).await.map_err(|e| e.to_string())?;
        let line = String::from_utf8_lossy(&head[..n]).into_owned();
        match line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
        {
            Some(code) if (200..400).contains(&code) => Ok(()),
            Some(code) => Err(format!("HTTP probe failed with statuscode: {code}")),
            None => Err("not an HTTP response".to_string()),
        }
    };
    tokio::time::timeout(timeout, get)
        .await
        .unwrap_or_else(|_| Err(format!("Get \"http://{host}:{port}{path}\": timeout")))
}

/// Opens a TCP connection to the port.
pub async fn tcp_socket(
    action: &TCPSocketAction,
    pod_ip: &str,
    timeout: Duration,
) -> Result<(), String> {
    let port = port(&action.port)?;
    let host = host_or(&action.host, pod_ip);
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("dial tcp {host}:{port}: {e}")),
        Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
    }
}

/// The messages of the gRPC health checking protocol (`grpc.health.v1`).
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    /// 1 is SERVING.
    #[prost(int32, tag = "1")]
    status: i32,
}

/// Calls `grpc.health.v1.Health/Check` on the pod's port; SERVING succeeds.
pub async fn grpc(action: &GRPCAction, pod_ip: &str, timeout: Duration) -> Result<(), String> {
    let address = format!("http://{pod_ip}:{}", action.port);
    let service = action.service.clone().unwrap_or_default();
    let check = async {
        let channel = tonic::transport::Endpoint::from_shared(address.clone())
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("failed to connect service {address:?}: {e}"))?;
        let mut client = tonic::client::Grpc::new(channel);
        client.ready().await.map_err(|e| e.to_string())?;
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
        let reply: tonic::Response<HealthCheckResponse> = client
            .unary(
                tonic::Request::new(HealthCheckRequest { service }),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
            .map_err(|s| format!("rpc error: code = {:?} desc = {}", s.code(), s.message()))?;
        match reply.into_inner().status {
            1 => Ok(()),
            other => Err(format!(
                "service unhealthy (responded with {})",
                match other {
                    2 => "NOT_SERVING",
                    3 => "SERVICE_UNKNOWN",
                    _ => "UNKNOWN",
                }
            )),
        }
    };
    tokio::time::timeout(timeout, check)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "timeout: health rpc did not complete within {}s",
                timeout.as_secs()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn grpc_probes_speak_the_health_checking_protocol() {
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        reporter
            .set_service_status("db", tonic_health::ServingStatus::NotServing)
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let action = |service: Option<&str>| GRPCAction {
            port: i32::from(port),
            service: service.map(str::to_string),
        };
        let timeout = Duration::from_secs(2);
        assert_eq!(grpc(&action(None), "127.0.0.1", timeout).await, Ok(()));
        let not_serving = grpc(&action(Some("db")), "127.0.0.1", timeout).await;
        assert!(not_serving.unwrap_err().contains("NOT_SERVING"));
        let unknown = grpc(&action(Some("nope")), "127.0.0.1", timeout).await;
        assert!(
            unknown.unwrap_err().contains("NotFound"),
            "unknown services are NOT_FOUND"
        );
    }

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
