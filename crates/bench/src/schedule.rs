//! The scheduling benchmark: create plain pods (or one big Deployment) against a cluster of
//! simulated nodes and time, from the first create, until a watch has seen every pod bound
//! to a node (`spec.nodeName` set). Starts nothing itself: scripts/bench runs the server and
//! `rudder simulate-nodes`. Also renders the scheduling section of docs/benchmarks.md.

use std::{
    collections::HashSet,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Args;
use http::Method;
use serde_json::{Value, json};

use crate::{
    Call, Conn, MakeRequest, Output, client, closed_loop, connect, emit, ensure_namespace,
};

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
    /// Nodes that must be Ready before starting (0: don't wait).
    #[arg(long, default_value_t = 0)]
    nodes: usize,
}

fn pod_spec() -> Value {
    json!({"containers": [{"name": "c", "image": "busybox",
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]})
}

fn pod(namespace: &str, name: &str) -> bytes::Bytes {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"bench": "schedule"}},
        "spec": pod_spec(),
    })
    .to_string()
    .into()
}

/// Waits until `want` nodes exist (the simulator registers them in the background).
async fn wait_for_nodes(client: &client::Client, want: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let reply = client
            .send(None, Method::GET, "/api/v1/nodes", None)
            .await?;
        let n = crate::names(&reply.body)?.len();
        if n >= want {
            println!("schedule: {n} nodes registered");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {n} of {want} nodes registered after 10 minutes");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Follows a watch on the namespace's bench pods (`path` without the resourceVersion),
/// resuming from the last seen version when the server ends it, until `want` distinct pods
/// were seen in the state `reached` looks for; returns each pod's name and when it was first
/// seen there, in order.
pub async fn watch_until(
    client: Arc<client::Client>,
    path: String,
    mut rv: String,
    want: usize,
    reached: fn(&Value) -> bool,
) -> Result<Vec<(String, Instant)>> {
    let mut bound: HashSet<String> = HashSet::new();
    let mut times = Vec::with_capacity(want);
    while bound.len() < want {
        let resp = client
            .stream(
                0,
                &format!("{path}&allowWatchBookmarks=true&resourceVersion={rv}"),
            )
            .await?;
        if !resp.status().is_success() {
            bail!("watch: {}", resp.status());
        }
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while bound.len() < want {
            let Some(chunk) = client::next_chunk(&mut body).await? else {
                break;
            };
            buf.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
                let event: Value = serde_json::from_slice(&buf[start..start + nl])?;
                start += nl + 1;
                let object = &event["object"];
                if event["type"] == "ERROR" {
                    bail!("watch error: {object}");
                }
                if let Some(v) = object["metadata"]["resourceVersion"].as_str() {
                    rv = v.to_string();
                }
                if reached(object)
                    && let Some(name) = object["metadata"]["name"].as_str()
                    && bound.insert(name.to_string())
                {
                    times.push((name.to_string(), Instant::now()));
                }
            }
            buf.drain(..start);
        }
    }
    Ok(times)
}

/// Pods bound in each whole second from the first binding to the last (upstream
/// scheduler_perf's SchedulingThroughput samples), sorted.
fn per_second(times: &[Instant]) -> Vec<f64> {
    let Some(first) = times.first() else {
        return Vec::new();
    };
    let mut buckets: Vec<f64> = Vec::new();
    for t in times {
        let second = t.duration_since(*first).as_secs() as usize;
        if buckets.len() <= second {
            buckets.resize(second + 1, 0.0);
        }
        buckets[second] += 1.0;
    }
    // The last second is partial.
    if buckets.len() > 1 {
        buckets.pop();
    }
    buckets.sort_by(f64::total_cmp);
    buckets
}

/// VmRSS and VmHWM of a process in MiB.
pub fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Runs the benchmark.
pub async fn run(args: ScheduleArgs) -> Result<()> {
    let (_, client) = connect(&args.conn, args.clients + 1).await?;
    let client = Arc::new(client);
    let ns = args.namespace.clone();
    if args.nodes > 0 {
        wait_for_nodes(&client, args.nodes).await?;
    }
    ensure_namespace(&client, &ns).await?;
    let pods_path = format!("/api/v1/namespaces/{ns}/pods");
    let selector = "labelSelector=bench%3Dschedule";
    let list = client
        .send(
            None,
            Method::GET,
            &format!("{pods_path}?{selector}&limit=1"),
            None,
        )
        .await?;
    if !list.ok() {
        bail!("listing pods: {} {}", list.status, list.text());
    }
    let rv = list.json()?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let watch = tokio::spawn(watch_until(
        client.clone(),
        format!("{pods_path}?watch=true&{selector}"),
        rv,
        args.pods,
        |pod| !pod["spec"]["nodeName"].as_str().unwrap_or("").is_empty(),
    ));
    let started = Instant::now();
    if args.deployment {
        let body = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench", "namespace": ns},
            "spec": {
                "replicas": args.pods,
                "selector": {"matchLabels": {"bench": "schedule"}},
                "template": {"metadata": {"labels": {"bench": "schedule"}}, "spec": pod_spec()},
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
    } else {
        let namespace = ns.clone();
        let path = pods_path.clone();
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
    }
    let created = started.elapsed();
    let times: Vec<Instant> = tokio::time::timeout(Duration::from_secs(600), watch)
        .await
        .context("not every pod was bound within 10 minutes")???
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let all_bound = times
        .last()
        .map_or(Duration::ZERO, |t| t.duration_since(started));
    let rate = args.pods as f64 / all_bound.as_secs_f64();
    let samples = per_second(&times);
    let average = if samples.is_empty() {
        rate
    } else {
        samples.iter().sum::<f64>() / samples.len() as f64
    };
    let p50 = samples.get(samples.len() / 2).copied().unwrap_or(rate);
    let rss = args.out.server_pid.and_then(rss_mib);
    let what = if args.deployment {
        "pods of one Deployment"
    } else {
        "plain pods"
    };
    println!(
        "schedule: {} {what}: created in {:.2} s, all bound {:.2} s after the first create: {:.0} pods/s; scheduling throughput per second: average {average:.0}, median {p50:.0}{}",
        args.pods,
        created.as_secs_f64(),
        all_bound.as_secs_f64(),
        rate,
        rss.map(|(now, peak)| format!("; server RSS {now:.1} MiB (peak {peak:.1} MiB)"))
            .unwrap_or_default()
    );
    emit(
        &args.out,
        json!({
            "pods": args.pods,
            "nodes": args.nodes,
            "deployment": args.deployment,
            "created_s": created.as_secs_f64(),
            "all_bound_s": all_bound.as_secs_f64(),
            "pods_per_s": rate,
            "throughput_average": average,
            "throughput_p50": p50,
            "throughput_samples": samples,
            "rss_mib": rss.map(|r| r.0),
            "hwm_mib": rss.map(|r| r.1),
        }),
    )
}

/// The scheduling section of docs/benchmarks.md, from `schedule-{sqlite,memory}-{pods,
/// deployment}.json` (any may be missing).
pub fn section(dir: &Path) -> Option<String> {
    let load = |name: &str| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let runs: Vec<(String, Option<Value>)> = ["sqlite", "memory"]
        .iter()
        .flat_map(|store| {
            [("Plain pods", "pods"), ("One Deployment", "deployment")].map(|(label, file)| {
                (
                    format!("{label}, {store} store"),
                    load(&format!("schedule-{store}-{file}.json")),
                )
            })
        })
        .collect();
    if runs.iter().all(|(_, v)| v.is_none()) {
        return None;
    }
    let mut out = String::from("## Scheduling\n\n");
    out.push_str(
        "A separate `rudder server` per store (the default sqlite store, whose fsyncs pace the \
         creates, then the memory store; the scheduler and controller manager embedded, each \
         on its own thread), 5,000 nodes from `rudder simulate-nodes --count \
         5000` renewing their Leases every 10 s, then pods requesting 10m CPU and 16 MiB: \
         10,000 plain pods created by 64 concurrent clients, then one Deployment of 10,000 \
         replicas. End to end is timed from the first create until a watch has seen every pod \
         with `spec.nodeName`; scheduling throughput counts the pods bound in each second \
         from the first binding to the last, as upstream's scheduler_perf does \
         (SchedulingThroughput).\n\n",
    );
    out.push_str(
        "| Workload | Pods | Created in | All bound after | End to end | Scheduling throughput, per second (average / median) | Server RSS after (peak) |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for (label, v) in &runs {
        let Some(v) = v else {
            out.push_str(&format!("| {label} | (not run) | | | | | |\n"));
            continue;
        };
        let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
        out.push_str(&format!(
            "| {label} | {} | {:.2} s | {:.2} s | {:.0} pods/s | **{:.0}** / {:.0} pods/s | {:.1} MiB ({:.1} MiB) |\n",
            v["pods"],
            f("created_s"),
            f("all_bound_s"),
            f("pods_per_s"),
            f("throughput_average"),
            f("throughput_p50"),
            f("rss_mib"),
            f("hwm_mib"),
        ));
    }
    out.push_str(
        "\nUpstream for comparison: kube-scheduler's own scheduler_perf suite reports a few \
         hundred pods/s for this kind of workload (SchedulingBasic with 5,000 nodes and 10,000 \
         pods, kwok-style fake nodes); see the reading below for the sources.\n\n",
    );
    Some(out)
}
