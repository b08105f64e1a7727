//! The Kubernetes API server: HTTPS with client-certificate and token authentication, RBAC,
//! generic REST over the store for every built-in kind, watch from an in-memory cache,
//! discovery, OpenAPI and server-side tables; container logs and streams proxied to kubelets.
//!
//! Architecture invariant: this is the only crate that serves the API. Everything else in
//! rudder reaches the cluster as a client of the API this crate serves (the kubelet's own
//! HTTPS server serves only what the API server proxies to it).

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    sync::Arc,
};

use hyper_util::rt::{TokioExecutor, TokioIo};
use store::Storage;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub mod admission;
pub mod authn;
pub mod authz;
pub mod binding;
pub mod bootstrap;
pub mod cache;
pub mod connect;
pub mod discovery;
pub mod handler;
pub mod metrics;
pub mod openapi;
pub mod pki;
pub mod printers;
pub mod registry;
pub mod request;
pub mod response;
pub mod rest;
pub mod scale;
pub mod table;
pub mod token;
pub mod token_request;
pub mod usage;
pub mod watch;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Certificates could not be created or loaded.
    #[error("pki: {0}")]
    Pki(#[from] pki::Error),
    /// The token file is invalid.
    #[error("authentication: {0}")]
    Authn(#[from] authn::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// Creating the bootstrap objects failed.
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] apimachinery::status::ApiError),
    /// The listening socket could not be opened.
    #[error("listening on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How to run the API server.
pub struct Config {
    /// The data directory (`server/tls` and `kubeconfig.yaml` live here).
    pub data_dir: PathBuf,
    /// The address to listen on.
    pub bind_address: IpAddr,
    /// The port to listen on (0 picks a free one).
    pub port: u16,
    /// The static token file, if any.
    pub token_file: Option<PathBuf>,
    /// The storage backend.
    pub storage: Arc<dyn Storage>,
}

/// The state shared by every request.
pub struct Server {
    /// The generic store over the storage and the watch cache.
    pub store: Arc<registry::generic::GenericStore>,
    /// The authenticator.
    pub authn: authn::Authenticator,
    /// Request metrics.
    pub metrics: metrics::Metrics,
    /// `host:port` clients reach the server at.
    pub address: String,
    /// How the server reaches kubelets (logs, exec, attach, port-forward).
    pub kubelets: connect::Kubelets,
    /// The cluster CA's certificate (PEM), served at `/cacerts` for agents joining.
    pub ca_pem: String,
    /// Issues service account tokens.
    pub tokens: Arc<token::Issuer>,
}

/// A running API server.
pub struct Running {
    /// The address it listens on.
    pub address: SocketAddr,
    /// The admin kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    /// The shared state.
    pub server: Arc<Server>,
}

/// Starts the API server: certificates, watch cache, bootstrap objects, then the listener.
pub async fn start(config: Config) -> Result<Running, Error> {
    let tls_dir = config.data_dir.join("server").join("tls");
    let pki = pki::Pki::load_or_create(&tls_dir)?;
    let mut hosts = vec![config.bind_address.to_string()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        hosts.push(host.trim().to_string());
    }
    let serving = pki.serving(&hosts)?;
    let tls = pki.server_config(&serving)?;
    let mut authn = authn::Authenticator::with_token_file(config.token_file.as_deref())?;
    // Agents join with the node token (`rudder agent --server URL --token T`). Until a node
    // authorizer exists, an agent is an admin.
    let node_token = pki.node_token()?;
    authn.add_token(
        &node_token,
        "rudder:agent",
        &["system:nodes", "system:masters"],
    );
    let tokens = Arc::new(token::Issuer::new(pki.service_account_key()?));

    let cache = cache::Cache::start(config.storage.clone()).await?;
    let store = Arc::new(registry::generic::GenericStore::new(
        config.storage.clone(),
        cache,
    ));
    bootstrap::run(&store).await?;
    authn.set_service_accounts(authn::ServiceAccountTokens::new(
        tokens.clone(),
        store.cache().clone(),
    ));

    let bind = SocketAddr::new(config.bind_address, config.port);
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| Error::Listen {
            address: bind,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| Error::Listen {
        address: bind,
        source,
    })?;
    let client_host = if config.bind_address.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match config.bind_address {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        }
    };
    let server_address = format!("{client_host}:{}", address.port());
    let kubeconfig = config.data_dir.join("kubeconfig.yaml");
    pki::write_secret(&config.data_dir.join("node-token"), &node_token)?;
    pki::write_kubeconfig(
        &kubeconfig,
        &format!("https://{server_address}"),
        &pki.ca_pem,
        &pki.admin()?,
        "admin",
    )?;
    let server = Arc::new(Server {
        store: store.clone(),
        authn,
        metrics: metrics::Metrics::default(),
        address: server_address,
        kubelets: connect::Kubelets::new(pki.kubelet_client_config()?),
        ca_pem: pki.ca_pem.clone(),
        tokens,
    });
    tokio::spawn(serve(listener, TlsAcceptor::from(tls), server.clone()));
    tracing::info!(%address, kubeconfig = %kubeconfig.display(), "API server listening");
    Ok(Running {
        address,
        kubeconfig,
        server,
    })
}

/// Accepts connections forever: TLS, then HTTP/2 or HTTP/1.1 as negotiated.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, server: Arc<Server>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let cert_user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(authn::from_certificate);
            let service = hyper::service::service_fn(move |req| {
                handler::handle(server.clone(), cert_user.clone(), req)
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}
