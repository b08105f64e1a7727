//! Container lifecycle hooks, as upstream's kubelet runs them: `postStart` right after the
//! container starts (it is not running for the pod until the hook returns; a failing hook
//! gets the container killed, and restarted as its pod's restartPolicy says) and `preStop`
//! before the container is stopped, within its pod's grace period. Handlers: exec, httpGet,
//! sleep (tcpSocket is accepted by the API for compatibility and does nothing, as upstream).

use std::time::Duration;

use k8s_openapi::api::core::v1::LifecycleHandler;

use crate::{cri::Cri, probes};

/// Runs a hook's handler against a container of a pod at `pod_ip`, for at most `limit`.
pub async fn run(
    cri: &Cri,
    handler: &LifecycleHandler,
    container_id: &str,
    pod_ip: &str,
    limit: Duration,
) -> Result<(), String> {
    let limit = limit.max(Duration::from_secs(1));
    if let Some(exec) = &handler.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        return probes::exec(cri, container_id, cmd, limit).await;
    }
    if let Some(http) = &handler.http_get {
        return probes::http_get(http, pod_ip, limit).await;
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64).min(limit)).await;
    }
    Ok(())
}
