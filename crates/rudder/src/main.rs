//! rudder: Kubernetes in one binary. This file is the command line; each subcommand wires
//! components from their crates and holds no logic of its own.

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Kubernetes in one binary.
#[derive(Parser)]
#[command(name = "rudder", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the control plane (API server and store) and, later, the node agent.
    Server(ServerArgs),
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
    /// Store backend: `sqlite` (durable, default) or `memory` (lost on exit; for tests).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "memory"])]
    datastore: String,
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
    }
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
    if !args.disable_agent {
        tracing::info!(
            "the node agent is not part of this build yet; running the control plane only"
        );
    }
    let running = apiserver::start(apiserver::Config {
        data_dir: args.data_dir,
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
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    tracing::info!("shutting down");
    Ok(())
}
