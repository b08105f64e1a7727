//! The kubelet: registers this machine as a Node, keeps its Lease fresh, and runs the pods
//! bound to it in real containers through the Container Runtime Interface: containerd (a
//! child of the agent unless `--container-runtime-endpoint` names a running runtime), runc,
//! and the standard CNI plugins for the pod network.
//!
//! `containerd` starts the runtime, `cri` speaks to it, `images` builds and imports images
//! without a registry, `network` writes the CNI config, `node` is the Node object, `pods`
//! the pod workers, `env`, `volumes` and `resources` what a container is started with,
//! `probes` its startup, readiness and liveness probes, `hooks` its postStart and preStop,
//! `server` the HTTPS server the API server comes to
//! for `logs`, `stats` and the exec, attach and port-forward streams, `static_pods` the
//! pods of the node's manifest directory.

pub mod containerd;
pub mod cri;
pub mod env;
pub mod hooks;
pub mod images;
pub mod logs;
pub mod network;
pub mod node;
pub mod pods;
pub mod probes;
pub mod resources;
pub mod server;
pub mod static_pods;
pub mod stats;
pub mod volumes;

use std::{path::PathBuf, sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The node's name.
    pub node_name: String,
    /// The node's address, reported as its InternalIP and the pods' hostIP.
    pub address: String,
    /// The agent's data dir (containerd, CNI state, pod logs, air-gap images).
    pub data_dir: PathBuf,
    /// An existing CRI runtime's socket; `None` starts containerd as a child.
    pub runtime_endpoint: Option<PathBuf>,
    /// The Linux bridge of the pod network (at most 15 characters).
    pub bridge: String,
    /// The port of the kubelet's HTTPS server (0 picks a free one).
    pub port: u16,
    /// The certificates (DER) of the CA whose clients the HTTPS server lets in: the cluster's.
    pub client_ca: Vec<Vec<u8>>,
    /// Registries whose images are pulled from a mirror instead: (`docker.io`, URL).
    pub registry_mirrors: Vec<(String, String)>,
    /// The cluster's pod and service CIDRs, routed nowhere but to this machine's pods.
    pub blackhole: Vec<String>,
    /// The directory of static pod manifests.
    pub manifest_dir: PathBuf,
}

/// Errors that stop the kubelet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API refused.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// Starting or reaching the runtime failed.
    #[error("runtime: {0}")]
    Io(#[from] std::io::Error),
    /// The CRI connection failed.
    #[error("cri: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The runtime refused.
    #[error("cri: {0}")]
    Cri(#[from] tonic::Status),
    /// The HTTPS server's certificate could not be made.
    #[error("kubelet server TLS: {0}")]
    Tls(String),
    /// The control plane gave the node no pod CIDR.
    #[error("node {0} got no spec.podCIDR within 30 s (is the controller manager running?)")]
    NoPodCidr(String),
}

/// Runs the kubelet until the process ends.
pub async fn run(client: Client, options: Options) -> Result<(), Error> {
    std::fs::create_dir_all(&options.data_dir)?;
    let layout = containerd::Layout::under(&options.data_dir);
    containerd::write_mirrors(&layout, &options.registry_mirrors)?;
    let (_containerd, socket) = match &options.runtime_endpoint {
        Some(socket) => (None, socket.clone()),
        // The containerd of an agent that died: its containers keep running, and the pod
        // workers adopt them from the runtime's state.
        None if tokio::net::UnixStream::connect(&layout.socket)
            .await
            .is_ok() =>
        {
            tracing::info!(socket = %layout.socket.display(), "reusing the running containerd");
            (None, layout.socket.clone())
        }
        None => (
            Some(containerd::Containerd::start(&layout).await?),
            layout.socket.clone(),
        ),
    };
    let cri = cri::Cri::connect(&socket).await?;
    let ctr = images::Ctr {
        address: socket.clone(),
    };
    ensure_pause_image(&cri, &ctr, &options).await?;
    import_air_gap(&ctr, &options.data_dir.join("images")).await;

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", options.port)).await?;
    let port = listener.local_addr()?.port();
    let tls = server::tls_config(
        &[options.node_name.clone(), options.address.clone()],
        &options.client_ca,
    )
    .map_err(Error::Tls)?;
    tokio::spawn(server::serve(
        listener,
        tls,
        cri.clone(),
        options.node_name.clone(),
    ));
    tracing::info!(port, "kubelet server listening");
    tokio::spawn(logs::rotate_forever(cri.clone()));
    tokio::spawn(images::gc_forever(cri.clone(), layout.root.clone()));

    let uid = node::register(&client, &options.node_name, &options.address, port).await?;
    tokio::spawn(static_pods::run(
        client.clone(),
        options.manifest_dir.clone(),
        options.node_name.clone(),
        uid.clone(),
    ));
    let pod_cidr = wait_for_pod_cidr(&client, &options.node_name).await?;
    let conflist = network::conflist(
        &pod_cidr,
        &options.bridge,
        &options.data_dir.join("ipam").to_string_lossy(),
    );
    std::fs::write(
        layout.cni_conf_dir.join("10-rudder.conflist"),
        serde_json::to_vec_pretty(&conflist).expect("JSON"),
    )?;
    network::blackhole(&options.blackhole).await?;
    tracing::info!(node = options.node_name, pod_cidr, "node registered");

    let heartbeat = {
        let client = client.clone();
        let name = options.node_name.clone();
        async move {
            let mut tick = tokio::time::interval(component::lease::NODE_RENEW_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(error) =
                    component::lease::renew_node_lease(client.clone(), &name, &uid).await
                {
                    tracing::warn!(%error, "could not renew the node lease");
                }
            }
        }
    };
    let kubelet = Arc::new(pods::Kubelet::new(
        client,
        cri,
        options.node_name.clone(),
        options.address.clone(),
        options.data_dir.join("pods"),
    ));
    tokio::select! {
        _ = heartbeat => {}
        _ = pods::run(kubelet) => {}
    }
    Ok(())
}

/// Builds the sandbox image from the host's busybox and imports it, unless present.
async fn ensure_pause_image(
    cri: &cri::Cri,
    ctr: &images::Ctr,
    options: &Options,
) -> Result<(), Error> {
    let present = cri.has_image(images::PAUSE_IMAGE).await?;
    if present {
        return Ok(());
    }
    let archive = images::busybox_archive(
        std::path::Path::new(images::BUSYBOX),
        &[images::PAUSE_IMAGE],
        &["sleep", "2147483647"],
    )?;
    let file = options.data_dir.join("pause.tar");
    std::fs::write(&file, archive)?;
    ctr.import(&file).await?;
    tracing::info!(
        image = images::PAUSE_IMAGE,
        "sandbox image built and imported"
    );
    Ok(())
}

/// Imports every tarball of the air-gap directory (a missing directory is fine).
async fn import_air_gap(ctr: &images::Ctr, dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tar") {
            match ctr.import(&path).await {
                Ok(_) => tracing::info!(file = %path.display(), "air-gap images imported"),
                Err(error) => tracing::warn!(file = %path.display(), %error, "import failed"),
            }
        }
    }
}

/// Waits for the node IPAM controller to give the node its pod CIDR.
async fn wait_for_pod_cidr(client: &Client, name: &str) -> Result<String, Error> {
    let api: Api<Node> = Api::all(client.clone());
    for _ in 0..150 {
        let node = api.get(name).await?;
        if let Some(cidr) = node.spec.and_then(|s| s.pod_cidr).filter(|c| !c.is_empty()) {
            return Ok(cidr);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(Error::NoPodCidr(name.to_string()))
}
