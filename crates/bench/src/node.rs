//! The node agent's benchmarks: how long `rudder server` (with its embedded agent) takes to
//! have its node Ready, and, against a server with a separate `rudder agent`, the startup
//! latency of pods created at once (create request sent -> a watch sees the pod Running, with
//! the image present) and the agent's memory with them running. Also renders the node section
//! of docs/benchmarks.md.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Args;
use http::Method;
use serde_json::{Value, json};

use crate::{
    Conn, Output, connect, emit, ensure_namespace,
    schedule::{rss_mib, watch_until},
};

/// Flags of `rudder-bench node-ready`.
#[derive(Args)]
pub struct NodeReadyArgs {
    #[command(flatten)]
    out: Output,
    /// The rudder binary.
    #[arg(long)]
    rudder: PathBuf,
    /// The server's data dir (fresh for the cold start; reused for the warm one).
    #[arg(long)]
    data_dir: PathBuf,
    /// The API port.
    #[arg(long)]
    port: u16,
    /// The kubelet's port.
    #[arg(long)]
    kubelet_port: u16,
    /// The pod network's bridge.
    #[arg(long, default_value = "rdbench")]
    bridge: String,
    /// The cluster CIDR.
    #[arg(long, default_value = "10.250.0.0/16")]
    cluster_cidr: String,
}

/// Flags of `rudder-bench pod-startup`.
#[derive(Args)]
pub struct PodStartupArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Output,
    /// How many pods, created at once.
    #[arg(long, default_value_t = 50)]
    pods: usize,
    /// Namespace (created if missing, emptied at the end).
    #[arg(long, default_value = "bench-startup")]
    namespace: String,
    /// The agent's process id: its RSS is measured with the pods running. Its node must be
    /// named `bench-node`.
    #[arg(long)]
    agent_pid: Option<u32>,
}

const NODE: &str = "bench-node";

/// Starts `rudder server` twice (fresh data dir, then the same one) and times each start to
/// the node Ready.
pub async fn node_ready(args: NodeReadyArgs) -> Result<()> {
    let mut figures = Vec::new();
    for start in ["cold", "warm"] {
        let started = Instant::now();
        let mut server = tokio::process::Command::new(&args.rudder)
            .arg("server")
            .arg("--data-dir")
            .arg(&args.data_dir)
            .args(["--bind-address", "127.0.0.1", "--node-name", NODE])
            .args(["--port", &args.port.to_string()])
            .args(["--kubelet-port", &args.kubelet_port.to_string()])
            .args([
                "--bridge",
                &args.bridge,
                "--cluster-cidr",
                &args.cluster_cidr,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting rudder server")?;
        let ready = wait_ready(&args.data_dir.join("kubeconfig.yaml"), started).await;
        let pid = server.id();
        let rss = pid.and_then(rss_mib);
        if let Some(pid) = pid {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), server.wait()).await;
        let ready = ready?;
        println!(
            "node-ready: {start} start: node Ready {:.3} s after `rudder server` started{}",
            ready.as_secs_f64(),
            rss.map(|(r, _)| format!("; server RSS {r:.1} MiB"))
                .unwrap_or_default()
        );
        figures.push(
            json!({"start": start, "ready_s": ready.as_secs_f64(), "rss_mib": rss.map(|r| r.0)}),
        );
    }
    emit(&args.out, json!({"starts": figures}))
}

/// Polls until the node reports Ready; returns the time since `started`.
async fn wait_ready(kubeconfig: &Path, started: Instant) -> Result<Duration> {
    let deadline = started + Duration::from_secs(60);
    let conn = Conn {
        kubeconfig: kubeconfig.to_path_buf(),
        proto: crate::client::Proto::H1,
        connections: 1,
    };
    let mut client = None;
    while Instant::now() < deadline {
        if client.is_none() && kubeconfig.exists() {
            client = connect(&conn, 1).await.ok().map(|(_, c)| c);
        }
        if let Some(c) = &client {
            match c
                .send(None, Method::GET, &format!("/api/v1/nodes/{NODE}"), None)
                .await
            {
                Ok(reply) if reply.ok() => {
                    let node = reply.json()?;
                    let ready = node["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True");
                    if ready {
                        return Ok(started.elapsed());
                    }
                }
                Ok(_) => {}
                // A kubeconfig left by the previous start: its server is gone.
                Err(_) => client = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("the node was not Ready within 60 s")
}

/// Creates `--pods` pods at once and times each from its create to Running.
pub async fn pod_startup(args: PodStartupArgs) -> Result<()> {
    wait_ready(&args.conn.kubeconfig, Instant::now()).await?;
    let (_, client) = connect(&args.conn, args.pods + 1).await?;
    let client = Arc::new(client);
    let ns = args.namespace.clone();
    ensure_namespace(&client, &ns).await?;
    let pods_path = format!("/api/v1/namespaces/{ns}/pods");
    let list = client
        .send(None, Method::GET, &format!("{pods_path}?limit=1"), None)
        .await?;
    let rv = list.json()?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let watch = tokio::spawn(watch_until(
        client.clone(),
        format!("{pods_path}?watch=true&labelSelector=bench%3Dstartup"),
        rv,
        args.pods,
        |pod| pod["status"]["phase"] == "Running",
    ));
    let creates = (0..args.pods).map(|i| {
        let client = client.clone();
        let path = pods_path.clone();
        let ns = ns.clone();
        async move {
            let name = format!("p-{i:03}");
            let body = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": {"bench": "startup"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": "busybox",
                        "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}],
                },
            });
            let sent = Instant::now();
            let reply = client
                .send(None, Method::POST, &path, Some(body.to_string().into()))
                .await?;
            if !reply.ok() {
                bail!("creating {name}: {} {}", reply.status, reply.text());
            }
            Ok((name, sent))
        }
    });
    let sent: HashMap<String, Instant> = futures::future::try_join_all(creates)
        .await?
        .into_iter()
        .collect();
    let running = tokio::time::timeout(Duration::from_secs(300), watch)
        .await
        .context("not every pod was Running within 5 minutes")???;
    let mut latencies: Vec<f64> = running
        .iter()
        .filter_map(|(name, at)| Some(at.duration_since(*sent.get(name)?).as_secs_f64()))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let i = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let (p50, p90, p99, max) = (quantile(0.5), quantile(0.9), quantile(0.99), quantile(1.0));
    // The agent with every pod running (its pod workers and probes settled).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss = args.agent_pid.and_then(rss_mib);
    println!(
        "pod-startup: {} pods created at once, create -> Running: p50 {p50:.3} s, p90 {p90:.3} s, p99 {p99:.3} s, max {max:.3} s{}",
        args.pods,
        rss.map(|(r, h)| format!("; agent RSS {r:.1} MiB (peak {h:.1} MiB)"))
            .unwrap_or_default()
    );
    // Leave the node empty: delete the pods and wait until the kubelet has removed them.
    client
        .send(None, Method::DELETE, &pods_path, None)
        .await
        .context("deleting the pods")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let left = client.send(None, Method::GET, &pods_path, None).await?;
        if crate::names(&left.body)?.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    emit(
        &args.out,
        json!({
            "pods": args.pods,
            "p50_s": p50, "p90_s": p90, "p99_s": p99, "max_s": max,
            "latencies_s": latencies,
            "agent_rss_mib": rss.map(|r| r.0),
            "agent_hwm_mib": rss.map(|r| r.1),
        }),
    )
}

/// The node agent section of docs/benchmarks.md, from `node-ready.json` and
/// `pod-startup.json` (either may be missing).
pub fn section(dir: &Path) -> Option<String> {
    let load = |name: &str| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let (ready, startup) = (load("node-ready.json"), load("pod-startup.json"));
    if ready.is_none() && startup.is_none() {
        return None;
    }
    let mut out = String::from("## Node agent\n\n");
    out.push_str(
        "Real containers: containerd 1.6 (Debian's) with runc and the bridge CNI plugin, \
         supervised by the agent, images from busybox-static imported at start (no pulls). \
         Node Ready: `rudder server` with its embedded agent, from process start until the \
         Node reports Ready; cold is a fresh data dir (containerd's first start, the sandbox \
         image built and imported), warm a restart on it. Pod startup: a server with \
         `--disable-agent` and a separate `rudder agent`; all pods created at once by \
         concurrent clients, each timed from its create request until a watch sees it \
         Running; the agent's RSS (containerd and the shims not included) is read with every \
         pod running.\n\n",
    );
    out.push_str("| Figure | Target | Measured |\n| --- | --- | --- |\n");
    if let Some(ready) = &ready {
        for start in ready["starts"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "| `rudder server` start -> node Ready ({}) | < 3 s | **{:.2} s** |\n",
                start["start"].as_str().unwrap_or(""),
                start["ready_s"].as_f64().unwrap_or(0.0)
            ));
        }
    }
    if let Some(s) = &startup {
        let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
        let pods = &s["pods"];
        out.push_str(&format!(
            "| Pod startup p50 ({pods} pods at once) | < 0.5 s | **{:.3} s** |\n\
             | Pod startup p99 ({pods} pods at once) | < 2 s | **{:.3} s** (p90 {:.3} s, max {:.3} s) |\n\
             | Agent RSS with {pods} pods running | < 40 MiB | **{:.1} MiB** (peak {:.1} MiB) |\n",
            f("p50_s"),
            f("p99_s"),
            f("p90_s"),
            f("max_s"),
            f("agent_rss_mib"),
            f("agent_hwm_mib"),
        ));
    }
    out.push_str(
        "\nUpstream for comparison: Kubernetes' pod startup SLO is p99 <= 5 s for stateless \
         pods with pre-pulled images, measured the same way (creation to Running, observed \
         through the API).\n\n",
    );
    Some(out)
}
