//! The scheduling benchmark: create plain pods (or one big Deployment) against a cluster of
//! simulated nodes and time how long until every pod is bound to a node.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use clap::Args;
use http::Method;
use serde_json::json;

use crate::{Call, Conn, MakeRequest, Output, closed_loop, connect, emit, ensure_namespace};

/// Flags of `rudder-bench schedule`.
#[derive(Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Output,
    /// How many pods.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Create one Deployment of `--pods` replicas instead of plain pods.
    #[arg(long)]
    deployment: bool,
    /// Concurrent clients creating pods.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Namespace (created if missing).
    #[arg(long, default_value = "bench-schedule")]
    namespace: String,
}

fn pod(namespace: &str, name: &str) -> bytes::Bytes {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"bench": "schedule"}},
        "spec": {"containers": [{"name": "c", "image": "busybox",
                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    })
    .to_string()
    .into()
}

/// How many pods of the namespace are bound to a node.
async fn bound(client: &crate::client::Client, namespace: &str) -> Result<usize> {
    let reply = client
        .send(
            None,
            Method::GET,
            &format!(
                "/api/v1/namespaces/{namespace}/pods?fieldSelector=spec.nodeName%21%3D&labelSelector=bench%3Dschedule"
            ),
            None,
        )
        .await?;
    Ok(crate::names(&reply.body)?.len())
}

/// Runs the benchmark.
pub async fn run(args: ScheduleArgs) -> Result<()> {
    let (_, client) = connect(&args.conn, args.clients).await?;
    let client = Arc::new(client);
    let ns = args.namespace.clone();
    ensure_namespace(&client, &ns).await?;
    let started = Instant::now();
    let created_after = if args.deployment {
        let body = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench", "namespace": ns},
            "spec": {
                "replicas": args.pods,
                "selector": {"matchLabels": {"bench": "schedule"}},
                "template": {
                    "metadata": {"labels": {"bench": "schedule"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox",
                             "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
                },
            },
        });
        let reply = client
            .send(
                None,
                Method::POST,
                &format!("/apis/apps/v1/namespaces/{ns}/deployments"),
                Some(body.to_string().into()),
            )
            .await?;
        if !reply.ok() {
            bail!("creating the deployment: {} {}", reply.status, reply.text());
        }
        started.elapsed()
    } else {
        let path = format!("/api/v1/namespaces/{ns}/pods");
        let namespace = ns.clone();
        let make: Arc<MakeRequest> =
            Arc::new(move |i| Call::Post(path.clone(), pod(&namespace, &format!("p-{i:06}"))));
        let load = closed_loop(
            args.out.server_pid,
            client.clone(),
            args.clients,
            args.pods,
            make,
        )
        .await;
        if load.errors > 0 {
            bail!("{} pod creates failed", load.errors);
        }
        started.elapsed()
    };
    let deadline = started + Duration::from_secs(600);
    let mut last = 0;
    loop {
        let n = bound(&client, &ns).await?;
        if n != last {
            last = n;
        }
        if n >= args.pods {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {n} of {} pods bound after 10 minutes", args.pods);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_bound = started.elapsed();
    let rate = args.pods as f64 / all_bound.as_secs_f64();
    println!(
        "schedule: {} pods{} created in {:.2} s, all bound after {:.2} s: {:.0} pods/s",
        args.pods,
        if args.deployment {
            " (one Deployment)"
        } else {
            ""
        },
        created_after.as_secs_f64(),
        all_bound.as_secs_f64(),
        rate
    );
    emit(
        &args.out,
        json!({
            "pods": args.pods,
            "deployment": args.deployment,
            "created_s": created_after.as_secs_f64(),
            "all_bound_s": all_bound.as_secs_f64(),
            "pods_per_s": rate,
        }),
    )
}
