//! rudder-bench: drives the benchmarks of docs/benchmarks.md against a running `rudder server`
//! (HTTPS with the kubeconfig's client certificate) and, for comparison, against etcd's JSON
//! gateway. Each subcommand prints a human summary and, with `--json-out`, its figures as JSON;
//! `report` renders those files into docs/benchmarks.md. See scripts/bench for the whole run.

mod client;
mod node;
mod report;
mod schedule;
mod stats;

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use client::{Client, Proto, Target};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use stats::{Summary, round};

/// Load generator for rudder's benchmarks.
#[derive(Parser)]
#[command(name = "rudder-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POST small ConfigMaps into a fresh namespace from concurrent clients.
    Creates(CreatesArgs),
    /// Ensure N Pods exist in a namespace, then time consecutive LISTs of it.
    ListPods(ListPodsArgs),
    /// Open many watches on ConfigMaps, write events, and measure write-to-delivery latency.
    Watchers(WatchersArgs),
    /// Count the objects of a resource in a namespace (e.g. after a crash and restart).
    Count(CountArgs),
    /// Resident memory of a process, from /proc/PID/status.
    Rss(RssArgs),
    /// The create workload against etcd: v3 puts through its HTTP/JSON gateway.
    EtcdPuts(EtcdPutsArgs),
    /// Create pods (or one Deployment) against simulated nodes and time until all are bound.
    Schedule(schedule::ScheduleArgs),
    /// Start `rudder server` (with its agent) cold, then warm, and time each to node Ready.
    NodeReady(node::NodeReadyArgs),
    /// Create pods at once on a real node and time each from create to Running.
    PodStartup(node::PodStartupArgs),
    /// Render docs/benchmarks.md from the JSON results of a run.
    Report(report::ReportArgs),
    /// Print a free TCP port on 127.0.0.1 (for scripts/bench).
    FreePort,
}

/// Connection flags shared by the subcommands that talk to rudder.
#[derive(Args, Clone)]
struct Conn {
    /// Kubeconfig with the server, its CA and a client certificate.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// HTTP version: h2 multiplexes the clients over `--connections` connections.
    #[arg(long, value_enum, default_value = "h2")]
    proto: Proto,
    /// Connections in the pool (HTTP/1.1 uses one per client regardless).
    #[arg(long, default_value_t = 8)]
    connections: usize,
}

#[derive(Args)]
struct Output {
    /// Also write the figures to this file as JSON.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// The server's process id: report its CPU time over a load (from /proc/PID/stat).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Args)]
struct CreatesArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Output,
    /// Concurrent clients (tasks), each with one request in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// ConfigMaps to create.
    #[arg(long, default_value_t = 20_000)]
    count: usize,
    /// Namespace to create them in (default: a fresh bench-creates-<time>).
    #[arg(long)]
    namespace: Option<String>,
}

#[derive(Args)]
struct ListPodsArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Output,
    /// Pods that must exist before the LISTs.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    #[arg(long, default_value = "bench-pods")]
    namespace: String,
    /// Consecutive LISTs to time.
    #[arg(long, default_value_t = 10)]
    lists: usize,
    /// Concurrent clients for creating the missing Pods.
    #[arg(long, default_value_t = 64)]
    clients: usize,
}

#[derive(Args)]
struct WatchersArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Output,
    /// Concurrent watches.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Writes (each a ConfigMap create, so one ADDED event per watcher).
    #[arg(long, default_value_t = 200)]
    events: usize,
    /// Writes per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Watches per HTTP/2 connection (the server allows 200 streams per connection).
    #[arg(long, default_value_t = 50)]
    per_connection: usize,
    /// Namespace to watch (default: a fresh bench-watch-<time>).
    #[arg(long)]
    namespace: Option<String>,
}

#[derive(Args)]
struct CountArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: Output,
    #[arg(long)]
    namespace: String,
    /// Resource path segment under /api/v1/namespaces/NS/.
    #[arg(long, default_value = "configmaps")]
    resource: String,
    /// Fail unless exactly this many exist.
    #[arg(long)]
    expect: Option<usize>,
}

#[derive(Args)]
struct RssArgs {
    #[command(flatten)]
    out: Output,
    #[arg(long)]
    pid: u32,
    /// A label stored with the figures.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Args)]
struct EtcdPutsArgs {
    #[command(flatten)]
    out: Output,
    /// etcd client URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:2379")]
    endpoint: String,
    #[arg(long, default_value_t = 64)]
    clients: usize,
    #[arg(long, default_value_t = 20_000)]
    count: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 300)]
    value_size: usize,
    /// Which etcd API: `gateway` (HTTP/JSON, `POST /v3/kv/put`, HTTP/1.1) or `grpc`
    /// (etcd's native API, as kube-apiserver uses it: HTTP/2 cleartext).
    #[arg(long, value_enum, default_value = "gateway")]
    api: EtcdApi,
    /// Connections (default: one per client for the gateway, 8 for gRPC).
    #[arg(long)]
    connections: Option<usize>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EtcdApi {
    Gateway,
    Grpc,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    epoch();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Creates(a) => creates(a).await,
            Command::ListPods(a) => list_pods(a).await,
            Command::Watchers(a) => watchers(a).await,
            Command::Count(a) => count(a).await,
            Command::Rss(a) => rss(a),
            Command::EtcdPuts(a) => etcd_puts(a).await,
            Command::Schedule(a) => schedule::run(a).await,
            Command::NodeReady(a) => node::node_ready(a).await,
            Command::PodStartup(a) => node::pod_startup(a).await,
            Command::Report(a) => report::run(a),
            Command::FreePort => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
                println!("{}", listener.local_addr()?.port());
                Ok(())
            }
        }
    })
}

/// The process's monotonic epoch: write timestamps and receive times are nanoseconds since it.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_nanos() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn emit(out: &Output, value: Value) -> Result<()> {
    if let Some(path) = &out.json_out {
        std::fs::write(path, serde_json::to_vec_pretty(&value)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn connect(conn: &Conn, clients: usize) -> Result<(Target, Client)> {
    let target = Target::from_kubeconfig(&conn.kubeconfig)?;
    let n = match conn.proto {
        Proto::H2 => conn.connections,
        Proto::H1 => clients,
    };
    let client = Client::connect(&target, n, conn.proto).await?;
    Ok((target, client))
}

async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let reply = client
        .send(
            None,
            Method::POST,
            "/api/v1/namespaces",
            Some(body.to_string().into()),
        )
        .await?;
    if reply.ok() || reply.status == StatusCode::CONFLICT {
        Ok(())
    } else {
        bail!(
            "creating namespace {name}: {} {}",
            reply.status,
            reply.text()
        )
    }
}

/// The outcome of a closed-loop load: `clients` tasks, each sending its next request as soon
/// as the previous one is answered, until `count` requests are done.
struct Load {
    elapsed: Duration,
    /// CPU seconds (user + system) the server and this process spent during the load.
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    /// CPU seconds the rest of the machine (other processes, the kernel's own threads) spent
    /// meanwhile: a measure of interference on a shared machine.
    other_cpu: Option<f64>,
    latencies: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
}

impl Load {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// One request of a closed-loop load.
enum Call {
    /// An HTTP POST of a JSON body to a path.
    Post(String, Bytes),
    /// A unary gRPC call: method path and encoded request message.
    Grpc(&'static str, Bytes),
}

type MakeRequest = dyn Fn(usize) -> Call + Send + Sync;

/// Busy CPU seconds of the whole machine so far (all cores; idle and iowait excluded).
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((total - idle) / 100.0)
}

/// User + system CPU seconds of a process (`self` or a pid), from /proc/PID/stat.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks / 100.0)
}

async fn closed_loop(
    server_pid: Option<u32>,
    client: Arc<Client>,
    clients: usize,
    count: usize,
    make: Arc<MakeRequest>,
) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let server = server_pid.map(|p| p.to_string());
    let server_cpu0 = server.as_deref().and_then(cpu_seconds);
    let client_cpu0 = cpu_seconds("self");
    let machine_cpu0 = machine_busy_seconds();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|task| {
            let (client, next, errors, first_error, make) = (
                client.clone(),
                next.clone(),
                errors.clone(),
                first_error.clone(),
                make.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(count / clients + 1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let call = make(i);
                    let t0 = Instant::now();
                    let failure = match call {
                        Call::Post(path, body) => {
                            match client
                                .send(Some(task), Method::POST, &path, Some(body))
                                .await
                            {
                                Ok(reply) if reply.ok() => None,
                                Ok(reply) => Some(format!("{} {}", reply.status, reply.text())),
                                Err(e) => Some(format!("{e:#}")),
                            }
                        }
                        Call::Grpc(path, message) => {
                            match client.grpc(task, path, &message).await {
                                Ok(_) => None,
                                Err(e) => Some(format!("{e:#}")),
                            }
                        }
                    };
                    let took = t0.elapsed().as_nanos() as u64;
                    match failure {
                        None => latencies.push(took),
                        Some(message) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().unwrap().get_or_insert(message);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    let delta = |before: Option<f64>, pid: Option<&str>| Some(cpu_seconds(pid?)? - before?);
    let server_cpu = delta(server_cpu0, server.as_deref());
    let client_cpu = delta(client_cpu0, Some("self"));
    let other_cpu = match (machine_cpu0, machine_busy_seconds(), server_cpu, client_cpu) {
        (Some(a), Some(b), Some(s), Some(c)) => Some((b - a - s - c).max(0.0)),
        _ => None,
    };
    let first_error = first_error.lock().unwrap().take();
    Load {
        elapsed,
        server_cpu,
        client_cpu,
        other_cpu,
        latencies,
        errors: errors.load(Ordering::Relaxed),
        first_error,
    }
}

fn load_json(load: &mut Load) -> Value {
    let summary = Summary::of_nanos(&mut load.latencies);
    json!({
        "ok": summary.count,
        "errors": load.errors,
        "first_error": load.first_error,
        "seconds": round(load.elapsed.as_secs_f64()),
        "per_second": load.rate().round(),
        "latency": summary.json(),
        "server_cpu_seconds": load.server_cpu.map(round),
        "client_cpu_seconds": load.client_cpu.map(round),
        "server_cpu_us_per_request": load.server_cpu.map(|s| (s * 1e6 / summary.count.max(1) as f64).round()),
        "client_cpu_us_per_request": load.client_cpu.map(|s| (s * 1e6 / summary.count.max(1) as f64).round()),
        "other_cpu_seconds": load.other_cpu.map(round),
        "other_cpu_percent_of_machine": load.other_cpu.map(|s| {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
            (100.0 * s / (load.elapsed.as_secs_f64() * cores)).round()
        }),
    })
}

fn print_load(what: &str, load: &mut Load) {
    let rate = load.rate();
    let summary = Summary::of_nanos(&mut load.latencies);
    println!(
        "{what}: {} ok, {} errors in {:.2} s = {:.0}/s; latency {}",
        summary.count,
        load.errors,
        load.elapsed.as_secs_f64(),
        rate,
        summary.line()
    );
    let n = summary.count.max(1) as f64;
    if let Some(cpu) = load.server_cpu {
        println!(
            "  server CPU {cpu:.2} s ({:.0} µs per request, {:.0}% of one core)",
            cpu * 1e6 / n,
            100.0 * cpu / load.elapsed.as_secs_f64()
        );
    }
    if let Some(cpu) = load.client_cpu {
        println!(
            "  client CPU {cpu:.2} s ({:.0} µs per request)",
            cpu * 1e6 / n
        );
    }
    if let Some(cpu) = load.other_cpu {
        println!("  other processes meanwhile: {cpu:.2} CPU s");
    }
    if let Some(e) = &load.first_error {
        println!("  first error: {e}");
    }
}

/// A small ConfigMap: about 300 bytes of JSON on the wire.
fn configmap(namespace: &str, name: &str) -> Bytes {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench", "tier": "config"}},
        "data": {
            "mode": "production",
            "log-level": "info",
            "settings.conf": "listen=0.0.0.0:8080\nworkers=4\ntimeout=30s\nretries=3\ncache=on\n",
        },
    })
    .to_string()
    .into()
}

/// A small, realistic Pod: one container with image, ports, resources, env and a probe.
fn pod(namespace: &str, name: &str) -> Bytes {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "web", "tier": "frontend", "release": "stable"},
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.example.com/team/web:1.25.3",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
            }],
            "restartPolicy": "Always",
        },
    })
    .to_string()
    .into()
}

async fn creates(args: CreatesArgs) -> Result<()> {
    let (_, client) = connect(&args.conn, args.clients).await?;
    let client = Arc::new(client);
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| format!("bench-creates-{}", unix_secs()));
    ensure_namespace(&client, &namespace).await?;
    let request_bytes = configmap(&namespace, "cm-000000").len();
    println!(
        "creates: {} ConfigMaps ({} B each) into {namespace}, {} clients over {} {} connection(s)",
        args.count,
        request_bytes,
        args.clients,
        client.connections(),
        client.proto.name()
    );
    let path = format!("/api/v1/namespaces/{namespace}/configmaps");
    let ns = namespace.clone();
    let make: Arc<MakeRequest> =
        Arc::new(move |i| Call::Post(path.clone(), configmap(&ns, &format!("cm-{i:06}"))));
    let mut load = closed_loop(
        args.out.server_pid,
        client.clone(),
        args.clients,
        args.count,
        make,
    )
    .await;
    print_load("creates", &mut load);
    // The size of what the server stores for one of them (metadata and managedFields added).
    let stored = client
        .send(
            None,
            Method::GET,
            &format!("/api/v1/namespaces/{namespace}/configmaps/cm-000000"),
            None,
        )
        .await
        .map(|r| r.body.len())
        .unwrap_or_default();
    let mut value = load_json(&mut load);
    value["namespace"] = json!(namespace);
    value["clients"] = json!(args.clients);
    value["count"] = json!(args.count);
    value["connections"] = json!(client.connections());
    value["proto"] = json!(client.proto.name());
    value["request_bytes"] = json!(request_bytes);
    value["stored_object_bytes"] = json!(stored);
    emit(&args.out, value)?;
    if load.errors > 0 {
        bail!("{} creates failed", load.errors);
    }
    Ok(())
}

/// The names of a list's items. Decoded into a typed skeleton rather than a `Value` tree:
/// building and freeing a tree of a 20 MiB list leaves glibc's allocator with so many small
/// free chunks that the next large allocation (the next LIST's body) stalls for ~100 ms in
/// `malloc_consolidate`, which would be charged to the server.
fn names(list: &[u8]) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct List {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        metadata: Metadata,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        name: String,
    }
    let list: List = serde_json::from_slice(list).context("decoding a list")?;
    Ok(list.items.into_iter().map(|i| i.metadata.name).collect())
}

async fn list_pods(args: ListPodsArgs) -> Result<()> {
    let (_, client) = connect(&args.conn, args.clients).await?;
    let client = Arc::new(client);
    let ns = args.namespace.clone();
    ensure_namespace(&client, &ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/pods");
    let reply = client.send(Some(0), Method::GET, &path, None).await?;
    if !reply.ok() {
        bail!("listing pods: {} {}", reply.status, reply.text());
    }
    let existing: HashSet<String> = names(&reply.body)?.into_iter().collect();
    let missing: Vec<String> = (0..args.count)
        .map(|i| format!("web-{i:05}"))
        .filter(|name| !existing.contains(name))
        .collect();
    let mut created = Value::Null;
    if !missing.is_empty() {
        println!(
            "list-pods: creating {} Pods in {ns} ({} B each), {} clients",
            missing.len(),
            pod(&ns, "web-00000").len(),
            args.clients
        );
        let missing = Arc::new(missing);
        let (p, n, m) = (path.clone(), ns.clone(), missing.clone());
        let make: Arc<MakeRequest> = Arc::new(move |i| Call::Post(p.clone(), pod(&n, &m[i])));
        let mut load = closed_loop(
            args.out.server_pid,
            client.clone(),
            args.clients,
            missing.len(),
            make,
        )
        .await;
        print_load("pod creates", &mut load);
        created = load_json(&mut load);
        if load.errors > 0 {
            bail!("{} pod creates failed", load.errors);
        }
    }
    let server = args.out.server_pid.map(|p| p.to_string());
    let server_cpu0 = server.as_deref().and_then(cpu_seconds);
    if args.lists == 0 {
        emit(&args.out, json!({"namespace": ns, "created": created}))?;
        return Ok(());
    }
    let mut times = Vec::with_capacity(args.lists);
    let mut bytes = 0;
    let mut last = Bytes::new();
    for _ in 0..args.lists {
        let t0 = Instant::now();
        let reply = client.send(Some(0), Method::GET, &path, None).await?;
        let took = t0.elapsed();
        if !reply.ok() {
            bail!("listing pods: {} {}", reply.status, reply.text());
        }
        times.push(took.as_nanos() as u64);
        if std::env::var_os("BENCH_DEBUG").is_some() {
            eprintln!("list: {:.1} ms", took.as_secs_f64() * 1e3);
        }
        bytes = reply.body.len();
        last = reply.body;
    }
    let list_cpu = server_cpu0
        .zip(server.as_deref().and_then(cpu_seconds))
        .map(|(a, b)| (b - a) / args.lists.max(1) as f64);
    let items = names(&last)?.len();
    let summary = Summary::of_nanos(&mut times);
    println!(
        "list-pods: {} LISTs of {items} Pods ({:.1} MiB JSON): min {:.1} ms, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        summary.count,
        bytes as f64 / (1 << 20) as f64,
        summary.min,
        summary.p50,
        summary.p99,
        summary.max
    );
    if let Some(c) = list_cpu {
        println!("  server CPU {:.1} ms per LIST", c * 1e3);
    }
    let value = json!({
        "namespace": ns,
        "pods": items,
        "bytes": bytes,
        "lists": summary.json(),
        "server_cpu_ms_per_list": list_cpu.map(|c| round(c * 1e3)),
        "created": created,
        "proto": client.proto.name(),
    });
    emit(&args.out, value)?;
    if items < args.count {
        bail!(
            "the LIST returned {items} Pods, expected at least {}",
            args.count
        );
    }
    Ok(())
}

/// Finds `"benchWriteNanos":"<digits>"` in one watch event line.
fn write_stamp(line: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"benchWriteNanos\":\"";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits = &line[at..];
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

async fn watchers(args: WatchersArgs) -> Result<()> {
    let target = Target::from_kubeconfig(&args.conn.kubeconfig)?;
    let writer = Client::connect(&target, 1, args.conn.proto).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| format!("bench-watch-{}", unix_secs()));
    ensure_namespace(&writer, &namespace).await?;
    let path = format!("/api/v1/namespaces/{namespace}/configmaps");
    let reply = writer.send(None, Method::GET, &path, None).await?;
    if !reply.ok() {
        bail!("listing configmaps: {} {}", reply.status, reply.text());
    }
    let rv = reply.json()?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let connections = match args.conn.proto {
        Proto::H2 => args.watchers.div_ceil(args.per_connection.clamp(1, 190)),
        Proto::H1 => args.watchers,
    };
    let t0 = Instant::now();
    let watch_client = Arc::new(Client::connect(&target, connections, args.conn.proto).await?);
    println!(
        "watchers: {} watches on {namespace}/configmaps from resourceVersion {rv} over {connections} {} connection(s) (connected in {:.2} s)",
        args.watchers,
        args.conn.proto.name(),
        t0.elapsed().as_secs_f64()
    );
    let watch_path = format!("{path}?watch=true&resourceVersion={rv}");
    let ready = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let events = args.events;
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..args.watchers)
        .map(|w| {
            let (client, path, ready, delivered, mut stop) = (
                watch_client.clone(),
                watch_path.clone(),
                ready.clone(),
                delivered.clone(),
                stop_rx.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(events);
                let resp = client.stream(w, &path).await?;
                if !resp.status().is_success() {
                    let status = resp.status();
                    let body = http_body_util::BodyExt::collect(resp.into_body())
                        .await?
                        .to_bytes();
                    bail!("watch: {status} {}", String::from_utf8_lossy(&body));
                }
                ready.fetch_add(1, Ordering::Relaxed);
                let mut body = resp.into_body();
                let mut buf: Vec<u8> = Vec::new();
                while latencies.len() < events {
                    let chunk = tokio::select! {
                        chunk = client::next_chunk(&mut body) => chunk?,
                        _ = stop.wait_for(|s| *s) => break,
                    };
                    let received = now_nanos();
                    let Some(chunk) = chunk else { break };
                    buf.extend_from_slice(&chunk);
                    let mut start = 0;
                    while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
                        let line = &buf[start..start + nl];
                        if let Some(stamp) = write_stamp(line) {
                            latencies.push(received.saturating_sub(stamp));
                            delivered.fetch_add(1, Ordering::Relaxed);
                        } else if line.starts_with(b"{\"type\":\"ERROR\"") {
                            bail!("watch error: {}", String::from_utf8_lossy(line));
                        }
                        start += nl + 1;
                    }
                    buf.drain(..start);
                }
                Ok(latencies)
            })
        })
        .collect();

    // Watches answer with headers once registered; start writing when all are (or after 30 s).
    let wait_until = Instant::now() + Duration::from_secs(30);
    while ready.load(Ordering::Relaxed) < args.watchers && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let established = ready.load(Ordering::Relaxed);
    println!(
        "watchers: {established}/{} watches established in {:.2} s",
        args.watchers,
        t0.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut write_latencies = Vec::with_capacity(events);
    let mut write_errors = 0;
    let server = args.out.server_pid.map(|p| p.to_string());
    let server_cpu0 = server.as_deref().and_then(cpu_seconds);
    let writes_started = Instant::now();
    for i in 0..events {
        ticker.tick().await;
        let stamp = now_nanos();
        let body = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("event-{i:05}"), "namespace": namespace},
            "data": {"benchWriteNanos": stamp.to_string()},
        });
        let reply = writer
            .send(Some(0), Method::POST, &path, Some(body.to_string().into()))
            .await;
        match reply {
            Ok(r) if r.ok() => write_latencies.push(now_nanos() - stamp),
            Ok(r) => {
                write_errors += 1;
                eprintln!("write {i}: {} {}", r.status, r.text());
            }
            Err(e) => {
                write_errors += 1;
                eprintln!("write {i}: {e:#}");
            }
        }
    }
    let write_seconds = writes_started.elapsed().as_secs_f64();
    let expected = established * (events - write_errors);
    let wait_until = Instant::now() + Duration::from_secs(30);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let watch_seconds = writes_started.elapsed().as_secs_f64();
    let server_cpu = server_cpu0
        .zip(server.as_deref().and_then(cpu_seconds))
        .map(|(a, b)| b - a);
    let _ = stop_tx.send(true);
    let mut latencies = Vec::with_capacity(expected);
    let mut watch_errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(l)) => latencies.extend(l),
            Ok(Err(e)) => watch_errors.push(format!("{e:#}")),
            Err(e) => watch_errors.push(e.to_string()),
        }
    }
    let deliveries = latencies.len();
    let summary = Summary::of_nanos(&mut latencies);
    let writes = Summary::of_nanos(&mut write_latencies);
    println!(
        "watchers: {} writes in {write_seconds:.1} s ({} failed), write latency {}",
        events,
        write_errors,
        writes.line()
    );
    println!(
        "watchers: {deliveries}/{expected} deliveries; write-to-delivery latency {}",
        summary.line()
    );
    if let Some(c) = server_cpu {
        println!(
            "  server CPU {c:.2} s over {watch_seconds:.1} s ({:.0}% of one core; {:.1} µs per delivery)",
            100.0 * c / watch_seconds,
            c * 1e6 / deliveries.max(1) as f64
        );
    }
    if !watch_errors.is_empty() {
        println!(
            "  {} watches failed; first: {}",
            watch_errors.len(),
            watch_errors[0]
        );
    }
    let value = json!({
        "namespace": namespace,
        "watchers": args.watchers,
        "established": established,
        "events": events,
        "rate": args.rate,
        "connections": connections,
        "proto": args.conn.proto.name(),
        "deliveries": deliveries,
        "expected": expected,
        "write_errors": write_errors,
        "watch_errors": watch_errors.len(),
        "first_watch_error": watch_errors.first(),
        "latency": summary.json(),
        "write_latency": writes.json(),
        "server_cpu_seconds": server_cpu.map(round),
        "seconds": round(watch_seconds),
    });
    emit(&args.out, value)?;
    if deliveries < expected || !watch_errors.is_empty() || established < args.watchers {
        bail!(
            "watchers: {deliveries} of {expected} deliveries, {} watch errors",
            watch_errors.len()
        );
    }
    Ok(())
}

async fn count(args: CountArgs) -> Result<()> {
    let (_, client) = connect(&args.conn, 1).await?;
    let path = format!("/api/v1/namespaces/{}/{}", args.namespace, args.resource);
    let reply = client.send(None, Method::GET, &path, None).await?;
    if !reply.ok() {
        bail!("listing {path}: {} {}", reply.status, reply.text());
    }
    let n = names(&reply.body)?.len();
    println!("count: {n} {} in {}", args.resource, args.namespace);
    emit(
        &args.out,
        json!({"namespace": args.namespace, "resource": args.resource, "count": n, "expect": args.expect}),
    )?;
    match args.expect {
        Some(e) if e != n => bail!("expected {e}, found {n}"),
        _ => Ok(()),
    }
}

fn rss(args: RssArgs) -> Result<()> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", args.pid))
        .with_context(|| format!("reading /proc/{}/status", args.pid))?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let rss_kib = field("VmRSS:").context("no VmRSS")?;
    let hwm_kib = field("VmHWM:").unwrap_or_default();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "rss{}: pid {} VmRSS {:.1} MiB (peak VmHWM {:.1} MiB)",
        if args.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", args.label)
        },
        args.pid,
        mib(rss_kib),
        mib(hwm_kib)
    );
    emit(
        &args.out,
        json!({"pid": args.pid, "label": args.label, "rss_mib": round(mib(rss_kib)), "hwm_mib": round(mib(hwm_kib))}),
    )
}

/// Encodes etcd's `PutRequest{key: 1, value: 2}` as protobuf.
fn put_request(key: &[u8], value: &[u8]) -> Bytes {
    fn field(out: &mut Vec<u8>, tag: u8, data: &[u8]) {
        out.push(tag);
        let mut len = data.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(data);
    }
    let mut out = Vec::with_capacity(key.len() + value.len() + 8);
    field(&mut out, 0x0a, key);
    field(&mut out, 0x12, value);
    out.into()
}

async fn etcd_puts(args: EtcdPutsArgs) -> Result<()> {
    let target = Target::plain(&args.endpoint)?;
    let (proto, default_connections) = match args.api {
        EtcdApi::Gateway => (Proto::H1, args.clients),
        EtcdApi::Grpc => (Proto::H2, 8),
    };
    let connections = args.connections.unwrap_or(default_connections);
    let client = Arc::new(Client::connect(&target, connections, proto).await?);
    let run = unix_secs();
    let raw_value = "v".repeat(args.value_size);
    let make: Arc<MakeRequest> = match args.api {
        EtcdApi::Gateway => {
            let value = STANDARD.encode(&raw_value);
            Arc::new(move |i| {
                let key = STANDARD.encode(format!("/registry/bench/{run}/gw-{i:06}"));
                let body = format!("{{\"key\":\"{key}\",\"value\":\"{value}\"}}");
                Call::Post("/v3/kv/put".to_string(), body.into())
            })
        }
        EtcdApi::Grpc => Arc::new(move |i| {
            let key = format!("/registry/bench/{run}/grpc-{i:06}");
            Call::Grpc(
                "/etcdserverpb.KV/Put",
                put_request(key.as_bytes(), raw_value.as_bytes()),
            )
        }),
    };
    let how = match args.api {
        EtcdApi::Gateway => "HTTP/JSON gateway",
        EtcdApi::Grpc => "gRPC",
    };
    println!(
        "etcd-puts: {} puts of {} B values to {} via {how}, {} clients over {connections} {} connection(s)",
        args.count,
        args.value_size,
        args.endpoint,
        args.clients,
        proto.name()
    );
    let mut load = closed_loop(args.out.server_pid, client, args.clients, args.count, make).await;
    print_load("etcd puts", &mut load);
    let mut value = load_json(&mut load);
    value["endpoint"] = json!(args.endpoint);
    value["api"] = json!(how);
    value["clients"] = json!(args.clients);
    value["count"] = json!(args.count);
    value["connections"] = json!(connections);
    value["proto"] = json!(proto.name());
    value["value_bytes"] = json!(args.value_size);
    emit(&args.out, value)?;
    if load.errors > 0 {
        bail!("{} puts failed", load.errors);
    }
    Ok(())
}
