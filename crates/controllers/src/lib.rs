//! The controller manager: one module per controller, each a real API client built the same
//! way (kube-runtime's pipeline): shared informer -> deduplicating queue of keys ->
//! idempotent `reconcile(object, context)` -> requeue with backoff on error.
//!
//! Architecture invariant: controllers read only from the shared informers' caches and write
//! only through the API; they never mutate a cached object.

use std::{sync::Arc, time::Duration};

use component::{Informers, Recorder};
use futures::{FutureExt, StreamExt, future::BoxFuture};
use kube::{
    Client,
    runtime::controller::{Action, Controller},
};

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod expectations;
pub mod garbagecollector;
pub mod job;
pub mod localpath;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod persistentvolume;
pub mod podautoscaler;
pub mod pods;
pub mod replicaset;
pub mod resourcequota;
pub mod rootcacertpublisher;
pub mod serviceaccount;
pub mod statefulset;

/// Settings of the controllers (upstream's kube-controller-manager flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// How long a node's Lease may go unrenewed before the node is marked unhealthy
    /// (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// The CIDR pod networks are carved from (`--cluster-cidr`).
    pub cluster_cidr: String,
    /// The prefix length of each node's pod CIDR (`--node-cidr-mask-size`).
    pub node_cidr_mask_size: u8,
    /// The cluster CA bundle (PEM) published to every namespace (`--root-ca-file`); empty
    /// publishes nothing.
    pub root_ca: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            node_monitor_grace_period: Duration::from_secs(40),
            cluster_cidr: "10.42.0.0/16".into(),
            node_cidr_mask_size: 24,
            root_ca: String::new(),
        }
    }
}

/// What every controller gets: the client, the shared informers and an event recorder.
pub struct Context {
    /// The settings.
    pub options: Options,
    /// The API client.
    pub client: Client,
    /// The caches shared by all controllers.
    pub informers: Informers,
    /// Events with `source.component: <controller>-controller`.
    pub recorder: Recorder,
}

/// Errors of a reconcile; each is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api call failed")]
    Api(#[from] kube::Error),
    /// The object cannot be acted on as it is; retried later in case it changes.
    #[error("{0}")]
    Invalid(String),
}

/// Results of reconciles.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs every controller until the process ends.
pub async fn run(client: Client, options: Options) {
    let ctx = Arc::new(Context {
        options,
        informers: Informers::new(client.clone()),
        recorder: Recorder::new(client.clone(), "controller-manager"),
        client,
    });
    let controllers: Vec<(&str, BoxFuture<'static, ()>)> = vec![
        ("cronjob", cronjob::run(ctx.clone()).boxed()),
        ("daemonset", daemonset::run(ctx.clone()).boxed()),
        ("deployment", deployment::run(ctx.clone()).boxed()),
        ("disruption", disruption::run(ctx.clone()).boxed()),
        ("endpoints", endpoints::run(ctx.clone()).boxed()),
        ("endpointslice", endpointslice::run(ctx.clone()).boxed()),
        (
            "garbagecollector",
            garbagecollector::run(ctx.clone()).boxed(),
        ),
        ("job", job::run(ctx.clone()).boxed()),
        ("localpath", localpath::run(ctx.clone()).boxed()),
        ("namespace", namespace::run(ctx.clone()).boxed()),
        ("nodeipam", nodeipam::run(ctx.clone()).boxed()),
        ("nodelifecycle", nodelifecycle::run(ctx.clone()).boxed()),
        (
            "persistentvolume",
            persistentvolume::run(ctx.clone()).boxed(),
        ),
        ("podautoscaler", podautoscaler::run(ctx.clone()).boxed()),
        ("replicaset", replicaset::run(ctx.clone()).boxed()),
        ("resourcequota", resourcequota::run(ctx.clone()).boxed()),
        (
            "root-ca-cert-publisher",
            rootcacertpublisher::run(ctx.clone()).boxed(),
        ),
        ("serviceaccount", serviceaccount::run(ctx.clone()).boxed()),
        ("statefulset", statefulset::run(ctx.clone()).boxed()),
    ];
    let names: Vec<&str> = controllers.iter().map(|(n, _)| *n).collect();
    tracing::info!(?names, "starting controllers");
    let mut running = tokio::task::JoinSet::new();
    for (name, controller) in controllers {
        running.spawn(async move {
            controller.await;
            name
        });
    }
    while let Some(ended) = running.join_next().await {
        match ended {
            Ok(name) => tracing::debug!(controller = name, "controller ended"),
            Err(error) => tracing::error!(%error, "a controller panicked"),
        }
    }
}

/// Drives a built controller with `reconcile`, logging failures and retrying them after a
/// backoff; the shared tail of every controller module's `run`.
pub async fn drive<K, F, Fut>(
    name: &'static str,
    controller: Controller<K>,
    ctx: Arc<Context>,
    reconcile: F,
) where
    K: component::informer::Kind,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Action>> + Send + 'static,
{
    controller
        .run(reconcile, |_obj, _error, _ctx| Action::requeue(Duration::from_secs(5)), ctx)
        .for_each(|result| async move {
            match result {
                Ok(_) => {}
                Err(kube::runtime::controller::Error::ReconcilerFailed(error, obj)) => {
                    tracing::warn!(controller = name, object = %obj, error = %error_chain(&error), "reconcile failed; retrying");
                }
                Err(error) => tracing::debug!(controller = name, %error, "controller event"),
            }
        })
        .await;
}

/// An error with its sources, one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
