//! A small HTTP client for the benchmarks: a fixed pool of connections, HTTP/2 over TLS with the
//! kubeconfig's client certificate (many requests multiplexed on each connection) or HTTP/1.1
//! (one request at a time per connection), and plain HTTP/1.1 for etcd's JSON gateway.

use std::{
    net::IpAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::{Context, Result, anyhow, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Which HTTP version the pool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// HTTP/2 (ALPN h2): requests are multiplexed over the pool's connections.
    H2,
    /// HTTP/1.1: each connection carries one request at a time.
    H1,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::H2 => "HTTP/2",
            Proto::H1 => "HTTP/1.1",
        }
    }
}

/// Where to connect and how to authenticate.
#[derive(Clone)]
pub struct Target {
    host: String,
    port: u16,
    tls: Option<TlsConnector>,
}

impl Target {
    /// The API server of a kubeconfig's current context, with its CA and client certificate.
    pub fn from_kubeconfig(path: &Path) -> Result<Target> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let current = doc["current-context"].as_str().unwrap_or_default();
        let named = |list: &str, name: &str| -> Option<serde_yaml::Value> {
            let items = doc[list].as_sequence()?;
            items
                .iter()
                .find(|item| name.is_empty() || item["name"].as_str() == Some(name))
                .cloned()
        };
        let context = named("contexts", current).map(|c| c["context"].clone());
        let cluster_name = context
            .as_ref()
            .and_then(|c| c["cluster"].as_str().map(str::to_string))
            .unwrap_or_default();
        let user_name = context
            .as_ref()
            .and_then(|c| c["user"].as_str().map(str::to_string))
            .unwrap_or_default();
        let cluster = named("clusters", &cluster_name)
            .map(|c| c["cluster"].clone())
            .ok_or_else(|| anyhow!("kubeconfig has no cluster"))?;
        let user = named("users", &user_name)
            .map(|u| u["user"].clone())
            .ok_or_else(|| anyhow!("kubeconfig has no user"))?;
        let data = |v: &serde_yaml::Value, key: &str| -> Result<Vec<u8>> {
            let b64 = v[key]
                .as_str()
                .ok_or_else(|| anyhow!("kubeconfig lacks {key}"))?;
            STANDARD
                .decode(b64.trim())
                .with_context(|| format!("decoding {key}"))
        };
        let server = cluster["server"]
            .as_str()
            .ok_or_else(|| anyhow!("kubeconfig cluster has no server"))?;
        let (scheme, host, port) = split_url(server)?;
        if scheme != "https" {
            bail!("kubeconfig server {server} is not https");
        }
        let ca = data(&cluster, "certificate-authority-data")?;
        let cert = data(&user, "client-certificate-data")?;
        let key = data(&user, "client-key-data")?;

        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca.as_slice()) {
            roots.add(c.context("parsing the CA certificate")?)?;
        }
        let chain = rustls_pemfile::certs(&mut cert.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .context("parsing the client certificate")?;
        let key = rustls_pemfile::private_key(&mut key.as_slice())
            .context("parsing the client key")?
            .ok_or_else(|| anyhow!("no private key in client-key-data"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        // Both are offered; `connect` narrows this per pool.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Target {
            host,
            port,
            tls: Some(TlsConnector::from(Arc::new(config))),
        })
    }

    /// A plain-HTTP endpoint such as `http://127.0.0.1:2379`.
    pub fn plain(url: &str) -> Result<Target> {
        let (scheme, host, port) = split_url(url)?;
        if scheme != "http" {
            bail!("{url}: only http:// endpoints are supported here");
        }
        Ok(Target {
            host,
            port,
            tls: None,
        })
    }
}

fn split_url(url: &str) -> Result<(String, String, u16)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("{url}: no scheme"))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("{url}: bad host"))?;
        (h.to_string(), p.trim_start_matches(':').to_string())
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (hostport.to_string(), String::new()),
        }
    };
    let port = if port.is_empty() {
        if scheme == "https" { 443 } else { 80 }
    } else {
        port.parse().with_context(|| format!("{url}: bad port"))?
    };
    Ok((scheme.to_string(), host, port))
}

enum Conn {
    H2(http2::SendRequest<Full<Bytes>>),
    H1(tokio::sync::Mutex<http1::SendRequest<Full<Bytes>>>),
}

/// A fixed pool of connections to one server.
pub struct Client {
    conns: Vec<Conn>,
    authority: String,
    scheme: &'static str,
    next: AtomicUsize,
    pub proto: Proto,
}

/// One response, read to the end.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("decoding a JSON response")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(600)]).into_owned()
    }
}

impl Client {
    /// Opens `connections` connections (in parallel, at most 64 handshakes at a time).
    pub async fn connect(target: &Target, connections: usize, proto: Proto) -> Result<Client> {
        let connections = connections.max(1);
        let conns: Vec<Conn> = futures::stream::iter(0..connections)
            .map(|_| open(target, proto))
            .buffered(64)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        let authority = if target.host.contains(':') {
            format!("[{}]:{}", target.host, target.port)
        } else {
            format!("{}:{}", target.host, target.port)
        };
        Ok(Client {
            conns,
            authority,
            scheme: if target.tls.is_some() {
                "https"
            } else {
                "http"
            },
            next: AtomicUsize::new(0),
            proto,
        })
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(method)
            .header(header::ACCEPT, "application/json");
        // HTTP/2 takes the authority from the URI; HTTP/1.1 needs a Host header.
        builder = match self.proto {
            Proto::H2 => builder.uri(format!("{}://{}{}", self.scheme, self.authority, path)),
            Proto::H1 => builder.uri(path).header(header::HOST, &self.authority),
        };
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(builder.body(Full::new(body.unwrap_or_default()))?)
    }

    /// Sends one request on connection `slot` (modulo the pool size; `None` picks round-robin)
    /// and reads the whole response.
    pub async fn send(
        &self,
        slot: Option<usize>,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply> {
        let req = self.request(method, path, body)?;
        let slot =
            slot.unwrap_or_else(|| self.next.fetch_add(1, Ordering::Relaxed)) % self.conns.len();
        match &self.conns[slot] {
            Conn::H2(sender) => {
                let mut sender = sender.clone();
                sender.ready().await.context("connection closed")?;
                let resp = sender.send_request(req).await?;
                read(resp).await
            }
            Conn::H1(sender) => {
                // Hold the connection until the body is read: HTTP/1.1 has one request in flight.
                let mut sender = sender.lock().await;
                sender.ready().await.context("connection closed")?;
                let resp = sender.send_request(req).await?;
                read(resp).await
            }
        }
    }

    /// One unary gRPC call (HTTP/2 only): `message` is the encoded request protobuf; returns the
    /// encoded response message.
    pub async fn grpc(&self, slot: usize, path: &str, message: &[u8]) -> Result<Bytes> {
        let Conn::H2(sender) = &self.conns[slot % self.conns.len()] else {
            bail!("gRPC needs HTTP/2");
        };
        let mut framed = Vec::with_capacity(5 + message.len());
        framed.push(0);
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(message);
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}://{}{}", self.scheme, self.authority, path))
            .header(header::CONTENT_TYPE, "application/grpc")
            .header(header::TE, "trailers")
            .body(Full::new(Bytes::from(framed)))?;
        let mut sender = sender.clone();
        sender.ready().await.context("connection closed")?;
        let resp = sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        if !parts.status.is_success() {
            bail!("gRPC {path}: HTTP {}", parts.status);
        }
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let body = collected.to_bytes();
        let status = trailers
            .get("grpc-status")
            .or_else(|| parts.headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("missing");
        if status != "0" {
            let message = trailers
                .get("grpc-message")
                .or_else(|| parts.headers.get("grpc-message"))
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            bail!("gRPC {path}: status {status} {message}");
        }
        Ok(body.slice(5.min(body.len())..))
    }

    /// Starts a streaming GET (a watch) on connection `slot`; the caller reads the body.
    /// On HTTP/1.1 the connection is busy until that body ends, so give watches their own slots.
    pub async fn stream(&self, slot: usize, path: &str) -> Result<Response<Incoming>> {
        let req = self.request(Method::GET, path, None)?;
        match &self.conns[slot % self.conns.len()] {
            Conn::H2(sender) => {
                let mut sender = sender.clone();
                sender.ready().await.context("connection closed")?;
                Ok(sender.send_request(req).await?)
            }
            Conn::H1(sender) => {
                let mut sender = sender.lock().await;
                sender.ready().await.context("connection closed")?;
                Ok(sender.send_request(req).await?)
            }
        }
    }
}

async fn read(resp: Response<Incoming>) -> Result<Reply> {
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(Reply { status, body })
}

use futures::StreamExt;

async fn open(target: &Target, proto: Proto) -> Result<Conn> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .with_context(|| format!("connecting to {}:{}", target.host, target.port))?;
    tcp.set_nodelay(true)?;
    match &target.tls {
        Some(tls) => {
            let name = match target.host.parse::<IpAddr>() {
                Ok(ip) => ServerName::IpAddress(ip.into()),
                Err(_) => ServerName::try_from(target.host.clone())?,
            };
            let stream = tls.connect(name, tcp).await.context("TLS handshake")?;
            let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            match proto {
                Proto::H2 => {
                    if alpn.as_deref() != Some(b"h2") {
                        bail!("the server did not negotiate HTTP/2 (ALPN {alpn:?})");
                    }
                    handshake_h2(TokioIo::new(stream)).await
                }
                Proto::H1 => handshake_h1(TokioIo::new(stream)).await,
            }
        }
        None => match proto {
            // Prior-knowledge HTTP/2 over cleartext (h2c).
            Proto::H2 => handshake_h2(TokioIo::new(tcp)).await,
            Proto::H1 => handshake_h1(TokioIo::new(tcp)).await,
        },
    }
}

async fn handshake_h2<T>(io: T) -> Result<Conn>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    // Windows like Go's HTTP/2 transport (client-go): big enough that a LIST of megabytes
    // is not throttled by flow control.
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(64 << 20)
        .max_frame_size(1 << 20)
        .keep_alive_interval(None)
        .handshake(io)
        .await
        .context("HTTP/2 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn::H2(sender))
}

async fn handshake_h1<T>(io: T) -> Result<Conn>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(io)
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn::H1(tokio::sync::Mutex::new(sender)))
}

/// Reads the next data chunk of a streaming body; `None` at its end.
pub async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
