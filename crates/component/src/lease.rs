//! coordination.k8s.io Leases: leader election for control-plane components (several servers
//! may run the controller manager and the scheduler; one of each works at a time) and the
//! heartbeats nodes renew in `kube-node-lease`.

use std::{future::Future, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{Api, Client, api::PostParams};

use crate::{Error, Result};

/// How long a lease is valid without renewal (upstream's `--leader-elect-lease-duration`).
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long a leader keeps trying to renew before it gives up (`--leader-elect-renew-deadline`).
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often a candidate tries to acquire and a leader renews (`--leader-elect-retry-period`).
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Where a candidate stands after one attempt on the lease.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// The candidate holds the lease and has just renewed it.
    Leading,
    /// Someone else holds a lease that has not expired.
    Following(String),
}

/// Runs `work` while holding the lease `kube-system/<name>` as `identity`: waits to acquire
/// it, renews it while `work` runs, and returns `Error::LostLease` if renewal fails for
/// longer than the renew deadline (the caller must then stop, as upstream components exit).
pub async fn run_elected<F>(client: Client, name: &str, identity: &str, work: F) -> Result<()>
where
    F: Future<Output = ()>,
{
    let api: Api<Lease> = Api::namespaced(client, "kube-system");
    let mut announced = None;
    loop {
        match try_acquire_or_renew(&api, name, identity).await {
            Ok(State::Leading) => break,
            Ok(State::Following(holder)) => {
                if announced.as_ref() != Some(&holder) {
                    tracing::info!(lease = name, %holder, "waiting for the lease");
                    announced = Some(holder);
                }
            }
            Err(error) => tracing::warn!(lease = name, %error, "could not acquire the lease"),
        }
        tokio::time::sleep(RETRY_PERIOD).await;
    }
    tracing::info!(lease = name, identity, "acquired the lease; leading");
    let renew = async {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(RETRY_PERIOD).await;
            match try_acquire_or_renew(&api, name, identity).await {
                Ok(State::Leading) => last_renewed = tokio::time::Instant::now(),
                Ok(State::Following(holder)) => {
                    tracing::error!(lease = name, %holder, "the lease was taken over");
                    return Error::LostLease(name.to_string());
                }
                Err(error) => tracing::warn!(lease = name, %error, "could not renew the lease"),
            }
            if last_renewed.elapsed() > RENEW_DEADLINE {
                return Error::LostLease(name.to_string());
            }
        }
    };
    tokio::select! {
        () = work => Ok(()),
        lost = renew => Err(lost),
    }
}

/// One attempt: create the lease, renew it if ours, or take it over if it expired.
async fn try_acquire_or_renew(api: &Api<Lease>, name: &str, identity: &str) -> Result<State> {
    let now = Timestamp::now();
    let Some(mut lease) = api.get_opt(name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(identity.to_string()),
                lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(State::Leading),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(State::Following(String::new())),
            Err(e) => Err(e.into()),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(15).max(1) as u64);
    let renewed = spec
        .renew_time
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let expired = now.duration_since(renewed).as_secs_f64() > duration.as_secs_f64();
    if holder != identity && !holder.is_empty() && !expired {
        return Ok(State::Following(holder));
    }
    if holder != identity {
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.acquire_time = Some(MicroTime(now));
        spec.holder_identity = Some(identity.to_string());
    }
    spec.lease_duration_seconds = Some(LEASE_DURATION.as_secs() as i32);
    spec.renew_time = Some(MicroTime(now));
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(State::Leading),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(State::Following(holder)),
        Err(e) => Err(e.into()),
    }
}

/// How long a node's lease is valid (upstream kubelet's `nodeLeaseDurationSeconds`).
pub const NODE_LEASE_DURATION: Duration = Duration::from_secs(40);
/// How often a node renews its lease: a quarter of the duration, as the kubelet does.
pub const NODE_RENEW_INTERVAL: Duration = Duration::from_secs(10);

/// Creates or renews the heartbeat lease `kube-node-lease/<node>`, owned by the Node object
/// (`node_uid`) so that deleting the node deletes its lease.
pub async fn renew_node_lease(client: Client, node: &str, node_uid: &str) -> Result<()> {
    let api: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let now = MicroTime(Timestamp::now());
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(node.to_string()),
            namespace: Some("kube-node-lease".into()),
            owner_references: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.to_string(),
                    uid: node_uid.to_string(),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.to_string()),
            lease_duration_seconds: Some(NODE_LEASE_DURATION.as_secs() as i32),
            renew_time: Some(now),
            ..Default::default()
        }),
    };
    // PUT creates a missing Lease (upstream allows create-on-update for Leases).
    api.replace(node, &PostParams::default(), &lease).await?;
    Ok(())
}
