//! rudder: Kubernetes in one binary. This file is the command line; each subcommand wires
//! components from their crates and holds no logic of its own.

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the API server allocates and frees many small JSON
/// values per request from several threads, which glibc serves slower and with more
/// fragmentation (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kubernetes in one binary.
#[derive(Parser)]
#[command(name = "rudder", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the control plane (API server, store, controller manager, scheduler) and, later,
    /// the node agent.
    Server(ServerArgs),
    /// Runs the controller manager alone against a cluster, with leader election.
    ControllerManager(ControllerManagerArgs),
    /// Runs the scheduler alone against a cluster, with leader election.
    Scheduler(ClientArgs),
    /// Registers simulated nodes whose pods go Running without containers (like kwok).
    SimulateNodes(SimulateArgs),
    /// Runs the node agent: registers this machine as a Node and runs its pods in containers
    /// through CRI (containerd, runc, CNI).
    Agent(AgentArgs),
    /// Manages the images of this node's container runtime (air-gapped: no registry needed).
    Image(ImageArgs),
}

/// Flags of `rudder agent` (the agent embedded in `rudder server` takes the server's).
#[derive(clap::Args)]
struct AgentArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    node: NodeArgs,
    /// The cluster's pod CIDR (the server's --cluster-cidr): blackholed on this machine but
    /// for its own pods.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// The cluster's service CIDR: blackholed on this machine but for what the proxy
    /// translates.
    #[arg(long, default_value = SERVICE_CIDR)]
    service_cidr: String,
    /// Join the cluster of this server (`https://host:port`) with `--token` instead of using
    /// a kubeconfig; the agent writes its own kubeconfig in its directory.
    #[arg(long, requires = "token")]
    server: Option<String>,
    /// The join token the server wrote to `<data-dir>/node-token`.
    #[arg(
        long,
        env = "RUDDER_TOKEN",
        requires = "server",
        hide_env_values = true
    )]
    token: Option<String>,
}

/// The service CIDR (upstream's and k3s' default).
const SERVICE_CIDR: &str = "10.43.0.0/16";

/// Where the agent keeps its state and how it names and wires the node.
#[derive(clap::Args)]
struct NodeArgs {
    /// The agent's directory: containerd's root and socket, CNI state, pod logs, and
    /// `images/`, whose tarballs are imported at start (default: `/var/lib/rudder/agent`;
    /// for `rudder server`, `agent/` in its data dir).
    #[arg(long = "agent-dir")]
    agent_dir: Option<PathBuf>,
    /// The node's name (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// The node's address: its InternalIP and its pods' hostIP.
    #[arg(long, default_value = "127.0.0.1")]
    node_ip: String,
    /// The socket of a running CRI runtime to use instead of starting containerd.
    #[arg(long)]
    container_runtime_endpoint: Option<PathBuf>,
    /// The Linux bridge of the pod network.
    #[arg(long, default_value = "rudder0")]
    bridge: String,
    /// The port of the kubelet's HTTPS server (logs, exec, attach, port-forward); 0 picks a
    /// free one.
    #[arg(long, default_value_t = 10250)]
    kubelet_port: u16,
    /// Pull a registry's images from a mirror instead, never from the registry itself:
    /// `REGISTRY=URL`, e.g. `docker.io=http://127.0.0.1:5000` (repeatable).
    #[arg(long = "registry-mirror", value_name = "REGISTRY=URL", value_parser = parse_mirror)]
    registry_mirrors: Vec<(String, String)>,
    /// The directory of static pod manifests (default: `manifests/` in the agent's directory).
    #[arg(long)]
    pod_manifest_path: Option<PathBuf>,
}

fn parse_mirror(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((registry, url))
            if !registry.is_empty()
                && (url.starts_with("http://") || url.starts_with("https://")) =>
        {
            Ok((registry.to_string(), url.to_string()))
        }
        _ => Err(format!(
            "{s:?} is not REGISTRY=URL with an http:// or https:// URL"
        )),
    }
}

impl NodeArgs {
    /// The kubelet's options; `client_ca` is the cluster CA read from its kubeconfig,
    /// `blackhole` the cluster's pod and service CIDRs.
    fn options(
        &self,
        default_dir: &std::path::Path,
        client_ca: Vec<Vec<u8>>,
        blackhole: Vec<String>,
    ) -> kubelet::Options {
        let data_dir = self.agent_dir.clone().unwrap_or_else(|| default_dir.into());
        kubelet::Options {
            node_name: self.node_name.clone().unwrap_or_else(hostname),
            address: self.node_ip.clone(),
            manifest_dir: self
                .pod_manifest_path
                .clone()
                .unwrap_or_else(|| data_dir.join("manifests")),
            data_dir,
            runtime_endpoint: self.container_runtime_endpoint.clone(),
            bridge: self.bridge.clone(),
            port: self.kubelet_port,
            client_ca,
            registry_mirrors: self.registry_mirrors.clone(),
            blackhole,
        }
    }
}

/// This machine's host name, lower-cased as node names must be.
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_lowercase())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rudder".into())
}

/// Flags of `rudder image`.
#[derive(clap::Args)]
struct ImageArgs {
    /// The agent's directory (its containerd's socket is found there).
    #[arg(long = "agent-dir", default_value = "/var/lib/rudder/agent")]
    agent_dir: PathBuf,
    /// The socket of a running containerd to use instead of the agent's.
    #[arg(long)]
    container_runtime_endpoint: Option<PathBuf>,
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Imports image tarballs (docker-archive or OCI layout).
    Import {
        /// The tarballs.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Lists the images.
    Ls,
    /// Removes images.
    Rm {
        /// Image references, e.g. docker.io/library/busybox:latest.
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Writes a busybox image built from the host's busybox-static, with the given tags.
    BuildBusybox {
        /// Where to write the docker-archive tarball.
        #[arg(long)]
        output: PathBuf,
        /// Tags, e.g. busybox:latest.
        #[arg(required = true)]
        tags: Vec<String>,
        /// The image's command, run with `sh -c` (default: `sh` itself).
        #[arg(long)]
        cmd: Option<String>,
    },
}

/// Flags of components that reach the cluster through a kubeconfig.
#[derive(clap::Args)]
struct ClientArgs {
    /// The kubeconfig of the cluster.
    #[arg(
        long,
        env = "KUBECONFIG",
        default_value = "/var/lib/rudder/kubeconfig.yaml"
    )]
    kubeconfig: PathBuf,
}

/// Flags of `rudder controller-manager`.
#[derive(clap::Args)]
struct ControllerManagerArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    controllers: ControllerArgs,
}

/// Settings of the controllers, shared by `server` and `controller-manager`.
#[derive(clap::Args)]
struct ControllerArgs {
    /// How long a node's heartbeat may be missing before the node is marked NotReady/Unknown.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    node_monitor_grace_period: std::time::Duration,
    /// The CIDR each node's pod CIDR is allocated from.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// The prefix length of each node's pod CIDR.
    #[arg(long, default_value_t = 24)]
    node_cidr_mask_size: u8,
}

impl ControllerArgs {
    fn options(&self) -> controllers::Options {
        controllers::Options {
            node_monitor_grace_period: self.node_monitor_grace_period,
            cluster_cidr: self.cluster_cidr.clone(),
            node_cidr_mask_size: self.node_cidr_mask_size,
            ..controllers::Options::default()
        }
    }
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    simulator::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration like 40s or 500ms"))
}

/// Flags of `rudder simulate-nodes`.
#[derive(clap::Args)]
struct SimulateArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Node names are `<prefix>-<index>`.
    #[arg(long, default_value = "sim-node")]
    prefix: String,
    /// CPU capacity of each node.
    #[arg(long, default_value = "4")]
    cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "16Gi")]
    memory: String,
    /// Pod capacity of each node.
    #[arg(long, default_value_t = 110)]
    pods: u32,
    /// Labels of each node: `k=v,k2=v2`.
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    labels: Vec<(String, String)>,
    /// Taints of each node: `key=value:Effect,key:Effect`.
    #[arg(long, value_delimiter = ',', value_parser = parse_taint)]
    taints: Vec<(String, String, String)>,
    /// Extended resources of each node: `nvidia.com/gpu=2`.
    #[arg(long, value_delimiter = ',', value_parser = parse_label)]
    extended_resources: Vec<(String, String)>,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not key=value"))?;
    Ok((k.to_string(), v.to_string()))
}

fn parse_taint(text: &str) -> Result<(String, String, String), String> {
    let (kv, effect) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not key[=value]:Effect"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(format!(
            "taint effect {effect:?} must be NoSchedule, PreferNoSchedule or NoExecute"
        ));
    }
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    Ok((k.to_string(), v.to_string(), effect.to_string()))
}

/// Flags of `rudder server`.
#[derive(clap::Args)]
struct ServerArgs {
    /// Directory for the store, certificates and the admin kubeconfig.
    #[arg(long, default_value = "/var/lib/rudder", env = "RUDDER_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// Port of the API server (HTTPS).
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// Static token file (CSV: token,user,uid,"group1,group2") for bearer-token authentication.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Run the control plane only, without the embedded node agent.
    #[arg(long)]
    disable_agent: bool,
    #[command(flatten)]
    node: NodeArgs,
    /// Store backend: `sqlite` (durable, default) or `memory` (lost on exit; for tests).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "memory"])]
    datastore: String,
    #[command(flatten)]
    controllers: ControllerArgs,
    /// Do not run the controller manager in this process.
    #[arg(long)]
    disable_controller_manager: bool,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    disable_scheduler: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server(args)),
        Command::ControllerManager(args) => runtime.block_on(async {
            let client =
                component::client(&args.client.kubeconfig, "kube-controller-manager").await?;
            let mut options = args.controllers.options();
            options.root_ca = component::client::cluster_ca_pem(&args.client.kubeconfig).await?;
            elected(client, "kube-controller-manager", |c| {
                controllers::run(c, options)
            })
            .await
        }),
        Command::Scheduler(args) => runtime.block_on(async {
            let client = component::client(&args.kubeconfig, "kube-scheduler").await?;
            elected(client, "kube-scheduler", scheduler::run).await
        }),
        Command::Agent(args) => runtime.block_on(async {
            let blackhole = vec![args.cluster_cidr.clone(), args.service_cidr.clone()];
            let options =
                args.node
                    .options("/var/lib/rudder/agent".as_ref(), Vec::new(), blackhole);
            let kubeconfig = match (&args.server, &args.token) {
                (Some(server), Some(token)) => {
                    let path = options.data_dir.join("kubeconfig.yaml");
                    component::join::join(server, token, &path)
                        .await
                        .context("joining the cluster")?;
                    path
                }
                _ => args.client.kubeconfig.clone(),
            };
            let client = component::client(&kubeconfig, "kubelet").await?;
            let client_ca = component::client::cluster_ca(&kubeconfig).await?;
            let options = kubelet::Options {
                client_ca,
                ..options
            };
            tokio::select! {
                result = kubelet::run(client, options) => Ok(result?),
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }),
        Command::Image(args) => runtime.block_on(image(args)),
        Command::SimulateNodes(args) => runtime.block_on(async {
            let client = component::client(&args.client.kubeconfig, "rudder-simulator").await?;
            let options = simulator::Options {
                count: args.count,
                prefix: args.prefix,
                cpu: args.cpu,
                memory: args.memory,
                pods: args.pods,
                labels: args.labels,
                taints: args.taints,
                extended: args.extended_resources,
            };
            tokio::select! {
                result = simulator::run(client, options) => Ok(result?),
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }),
    }
}

/// Runs a control-plane component while this process holds its lease in `kube-system`.
async fn elected<F, Fut>(client: kube::Client, lease: &str, component: F) -> anyhow::Result<()>
where
    F: FnOnce(kube::Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let identity = format!(
        "{}_{}",
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "rudder".into()),
        uuid_like()
    );
    component::lease::run_elected(client.clone(), lease, &identity, component(client))
        .await
        .with_context(|| format!("running {lease}"))
}

/// Runs a control-plane component embedded in the server on a thread and runtime of its own,
/// as if it were a separate process: the OS then shares the cores between it and the API
/// server, where in one runtime its loops would queue behind every request being served.
async fn on_own_thread(
    name: &str,
    component: impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
) -> anyhow::Result<()> {
    let (done, ended) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(component));
            let _ = done.send(result);
        })
        .with_context(|| format!("starting the {name} thread"))?;
    ended
        .await
        .with_context(|| format!("the {name} panicked"))?
}

/// `rudder image ...`.
async fn image(args: ImageArgs) -> anyhow::Result<()> {
    let ctr = kubelet::images::Ctr {
        address: args
            .container_runtime_endpoint
            .clone()
            .unwrap_or_else(|| kubelet::containerd::Layout::under(&args.agent_dir).socket),
    };
    match args.command {
        ImageCommand::Import { files } => {
            for file in files {
                print!("{}", ctr.import(&file).await?);
            }
        }
        ImageCommand::Ls => {
            for image in ctr.list().await? {
                println!("{image}");
            }
        }
        ImageCommand::Rm { images } => ctr.remove(&images).await?,
        ImageCommand::BuildBusybox { output, tags, cmd } => {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let cmd: Vec<&str> = match &cmd {
                Some(script) => vec!["sh", "-c", script],
                None => vec!["sh"],
            };
            let archive = kubelet::images::busybox_archive(
                std::path::Path::new(kubelet::images::BUSYBOX),
                &tags,
                &cmd,
            )
            .context("building the busybox image (is busybox-static installed?)")?;
            std::fs::write(&output, archive)
                .with_context(|| format!("writing {}", output.display()))?;
        }
    }
    Ok(())
}

/// A process-unique suffix for lease identities.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:x}{:08x}", std::process::id(), nanos)
}

async fn server(args: ServerArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let storage: Arc<dyn store::Storage> = match args.datastore.as_str() {
        "memory" => Arc::new(store::MemoryStore::new()),
        _ => {
            let dir = args.data_dir.join("server").join("db");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            Arc::new(
                store::SqliteStore::open(&dir.join("state.db"))
                    .with_context(|| format!("opening the store in {}", dir.display()))?,
            )
        }
    };
    // Upstream compacts etcd every five minutes; keep a window of history for watches.
    store::compact::spawn_compactor(storage.clone(), std::time::Duration::from_secs(300), 10_000);
    let running = apiserver::start(apiserver::Config {
        data_dir: args.data_dir.clone(),
        bind_address: args.bind_address,
        port: args.port,
        token_file: args.token_file,
        storage,
    })
    .await?;
    tracing::info!(
        address = %running.address,
        kubeconfig = %running.kubeconfig.display(),
        startup_ms = started.elapsed().as_millis() as u64,
        "rudder server ready"
    );
    let mut components = tokio::task::JoinSet::new();
    if !args.disable_controller_manager {
        let kubeconfig = running.kubeconfig.clone();
        let mut options = args.controllers.options();
        components.spawn(on_own_thread("controller-manager", async move {
            let client = component::client(&kubeconfig, "kube-controller-manager").await?;
            options.root_ca = component::client::cluster_ca_pem(&kubeconfig).await?;
            elected(client, "kube-controller-manager", |c| {
                controllers::run(c, options)
            })
            .await
        }));
    }
    if !args.disable_scheduler {
        let kubeconfig = running.kubeconfig.clone();
        components.spawn(on_own_thread("scheduler", async move {
            let client = component::client(&kubeconfig, "kube-scheduler").await?;
            elected(client, "kube-scheduler", scheduler::run).await
        }));
    }
    if !args.disable_agent {
        let kubeconfig = running.kubeconfig.clone();
        let node = args.node;
        let dir = args.data_dir.join("agent");
        let blackhole = vec![
            args.controllers.cluster_cidr.clone(),
            SERVICE_CIDR.to_string(),
        ];
        components.spawn(on_own_thread("agent", async move {
            let client = component::client(&kubeconfig, "kubelet").await?;
            let ca = component::client::cluster_ca(&kubeconfig).await?;
            Ok(kubelet::run(client, node.options(&dir, ca, blackhole)).await?)
        }));
    }
    let ended = tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.context("waiting for ctrl-c"),
        // A component that lost its lease (or whose agent failed) stops the server, as
        // upstream's do.
        Some(ended) = components.join_next() => {
            ended.context("a control-plane component panicked").and_then(|r| r)
        }
    };
    tracing::info!("shutting down");
    kubelet::containerd::stop_all();
    ended
}
