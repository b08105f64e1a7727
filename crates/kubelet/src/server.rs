//! The kubelet's HTTPS server (port 10250, upstream's): the API server comes here for
//! container logs and to open exec, attach and port-forward streams, which this server joins
//! to the runtime's streaming server (CRI `Exec`, `Attach` and `PortForward` hand out its
//! URLs), and resource usage (`/stats/summary`, for `metrics.k8s.io`). Only clients with a certificate from the cluster's CA in group `system:masters`
//! (the API server's kubelet client, an admin) get in.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::BoxBody};
use hyper::{body::Frame, body::Incoming};
use hyper_util::rt::TokioIo;
use k8s_cri::v1::{
    AttachRequest, ContainerFilter, ContainerState, ContainerStatusRequest, ExecRequest,
    ListContainersRequest, ListPodSandboxRequest, PortForwardRequest,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::{cri::Cri, logs, stats};

type Body = BoxBody<Bytes, hyper::Error>;

/// The group whose members may use this server.
const ALLOWED_GROUP: &str = "system:masters";

/// What the handlers share.
struct State {
    cri: Cri,
    node_name: String,
    stats: stats::Sampler,
}

/// Serves on `listener` until the process ends.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    cri: Cri,
    node_name: String,
) {
    let acceptor = TlsAcceptor::from(tls);
    let state = Arc::new(State {
        cri,
        node_name,
        stats: stats::Sampler::default(),
    });
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    return;
                }
            };
            let allowed = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .is_some_and(|c| in_group(c, ALLOWED_GROUP));
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, allowed, peer, req).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended");
            }
        });
    }
}

/// A TLS configuration with a certificate this kubelet signs for itself (as upstream's does
/// by default) that requires client certificates from `client_ca`.
pub fn tls_config(
    names: &[String],
    client_ca: &[Vec<u8>],
) -> Result<Arc<rustls::ServerConfig>, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    for name in names {
        params.subject_alt_names.push(match name.parse() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName(
                name.clone()
                    .try_into()
                    .map_err(|e: rcgen::Error| e.to_string())?,
            ),
        });
    }
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for der in client_ca {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| e.to_string())?;
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Whether a client certificate's subject names `group` as an organization (how upstream
/// reads groups from certificates).
fn in_group(cert: &rustls::pki_types::CertificateDer<'_>, group: &str) -> bool {
    x509_parser::parse_x509_certificate(cert).is_ok_and(|(_, cert)| {
        cert.subject()
            .iter_organization()
            .any(|o| o.as_str() == Ok(group))
    })
}

fn text(code: StatusCode, message: impl Into<String>) -> Response<Body> {
    let mut message = message.into();
    message.push('\n');
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(
            Full::new(Bytes::from(message))
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a valid response")
}

/// A request's failure: the status code and the message the client sees.
type Failure = (StatusCode, String);

async fn handle(
    state: &State,
    allowed: bool,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    if !allowed {
        return text(
            StatusCode::FORBIDDEN,
            "Forbidden: a client certificate in group system:masters is required",
        );
    }
    let path: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .skip(1)
        .map(percent_decode)
        .collect();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let cri = &state.cri;
    tracing::debug!(%peer, path = req.uri().path(), "kubelet request");
    let result = match (req.method(), segments.as_slice()) {
        (&Method::GET, ["healthz"]) => Ok(text(StatusCode::OK, "ok")),
        (&Method::GET, ["stats", "summary"]) => {
            match state.stats.summary(cri, &state.node_name).await {
                Ok(summary) => Ok(Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(
                        Full::new(Bytes::from(summary.to_string()))
                            .map_err(|never| match never {})
                            .boxed(),
                    )
                    .expect("a valid response")),
                Err(status) => Err(runtime_failure(status)),
            }
        }
        (&Method::GET, ["containerLogs", ns, pod, container]) => {
            container_logs(cri, ns, pod, container, &query).await
        }
        (_, ["exec", ns, pod, container]) => {
            let id = running_container(cri, ns, pod, container).await;
            match id {
                Ok(id) => {
                    let request = ExecRequest {
                        container_id: id,
                        cmd: values(&query, "command"),
                        tty: flag(&query, "tty"),
                        stdin: flag(&query, "stdin"),
                        stdout: flag(&query, "stdout"),
                        stderr: flag(&query, "stderr"),
                    };
                    match cri.runtime.clone().exec(request).await {
                        Ok(r) => join(req, &r.into_inner().url).await,
                        Err(status) => Err(runtime_failure(status)),
                    }
                }
                Err(failure) => Err(failure),
            }
        }
        (_, ["attach", ns, pod, container]) => {
            match running_container(cri, ns, pod, container).await {
                Ok(id) => {
                    let request = AttachRequest {
                        container_id: id,
                        stdin: flag(&query, "stdin"),
                        tty: flag(&query, "tty"),
                        stdout: flag(&query, "stdout"),
                        stderr: flag(&query, "stderr"),
                    };
                    match cri.runtime.clone().attach(request).await {
                        Ok(r) => join(req, &r.into_inner().url).await,
                        Err(status) => Err(runtime_failure(status)),
                    }
                }
                Err(failure) => Err(failure),
            }
        }
        (_, ["portForward", ns, pod]) => match sandbox(cri, ns, pod).await {
            Ok(id) => {
                let request = PortForwardRequest {
                    pod_sandbox_id: id,
                    port: Vec::new(),
                };
                match cri.runtime.clone().port_forward(request).await {
                    Ok(r) => join(req, &r.into_inner().url).await,
                    Err(status) => Err(runtime_failure(status)),
                }
            }
            Err(failure) => Err(failure),
        },
        _ => Err((StatusCode::NOT_FOUND, "404 page not found".into())),
    };
    result.unwrap_or_else(|(code, message)| text(code, message))
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn flag(query: &[(String, String)], name: &str) -> bool {
    query
        .iter()
        .any(|(k, v)| k == name && (v == "1" || v == "true"))
}

fn values(query: &[(String, String)], name: &str) -> Vec<String> {
    query
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

fn runtime_failure(status: tonic::Status) -> Failure {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the container runtime refused: {}", status.message()),
    )
}

/// The newest sandbox of the pod (a finished pod's sandbox is stopped but still there).
async fn sandbox(cri: &Cri, namespace: &str, pod: &str) -> Result<String, Failure> {
    let sandboxes = cri
        .runtime
        .clone()
        .list_pod_sandbox(ListPodSandboxRequest { filter: None })
        .await
        .map_err(runtime_failure)?
        .into_inner()
        .items;
    sandboxes
        .into_iter()
        .filter(|s| {
            s.metadata
                .as_ref()
                .is_some_and(|m| m.namespace == namespace && m.name == pod)
        })
        .max_by_key(|s| s.created_at)
        .map(|s| s.id)
        .ok_or_else(|| {
            (
                StatusCode::NOT_FOUND,
                format!("pod \"{pod}\" in namespace \"{namespace}\" has no sandbox on this node"),
            )
        })
}

/// The attempts of a container of the pod, newest first: (id, attempt).
async fn attempts(
    cri: &Cri,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<Vec<String>, Failure> {
    let sandbox = sandbox(cri, namespace, pod).await?;
    let mut list: Vec<(u32, String)> = cri
        .runtime
        .clone()
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: sandbox,
                ..Default::default()
            }),
        })
        .await
        .map_err(runtime_failure)?
        .into_inner()
        .containers
        .into_iter()
        .filter_map(|c| {
            let m = c.metadata?;
            (m.name == container).then_some((m.attempt, c.id))
        })
        .collect();
    list.sort_by_key(|(attempt, _)| std::cmp::Reverse(*attempt));
    Ok(list.into_iter().map(|(_, id)| id).collect())
}

async fn running_container(
    cri: &Cri,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<String, Failure> {
    let newest = attempts(cri, namespace, pod, container)
        .await?
        .into_iter()
        .next();
    let not_running = || {
        (
            StatusCode::BAD_REQUEST,
            format!("container {container} is not running in pod {pod}"),
        )
    };
    let id = newest.ok_or_else(not_running)?;
    let (state, _) = status(cri, &id).await?;
    if state != ContainerState::ContainerRunning as i32 {
        return Err(not_running());
    }
    Ok(id)
}

/// A container's state and log file.
async fn status(cri: &Cri, id: &str) -> Result<(i32, String), Failure> {
    let status = cri
        .runtime
        .clone()
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        })
        .await
        .map_err(runtime_failure)?
        .into_inner()
        .status
        .unwrap_or_default();
    Ok((status.state, status.log_path))
}

async fn container_logs(
    cri: &Cri,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &[(String, String)],
) -> Result<Response<Body>, Failure> {
    let options = logs::Options::from_query(query).map_err(|m| (StatusCode::BAD_REQUEST, m))?;
    let attempts = attempts(cri, namespace, pod, container).await?;
    let id = if flag(query, "previous") {
        attempts.get(1).cloned().ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"),
            )
        })?
    } else {
        attempts.first().cloned().ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                format!("container \"{container}\" in pod \"{pod}\" is waiting to start: ContainerCreating"),
            )
        })?
    };
    let (_, log_path) = status(cri, &id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let cri = cri.clone();
    tokio::spawn(async move {
        let running = || {
            let cri = cri.clone();
            let id = id.clone();
            async move {
                status(&cri, &id)
                    .await
                    .is_ok_and(|(s, _)| s == ContainerState::ContainerRunning as i32)
            }
        };
        if let Err(error) = logs::stream(log_path.clone().into(), options, tx, running).await {
            tracing::debug!(%error, log_path, "reading a container log failed");
        }
    });
    let body = StreamBody::new(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, hyper::Error>(Frame::data(chunk)), rx))
    }));
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(BodyExt::boxed(body))
        .expect("a valid response"))
}

/// Joins the client's upgrade request to the runtime's streaming server at `url`
/// (`http://127.0.0.1:<port>/<exec|attach|portforward>/<token>`).
async fn join(mut req: Request<Incoming>, url: &str) -> Result<Response<Body>, Failure> {
    let bad_url = || {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the runtime's streaming URL {url:?} is not http://host:port/path"),
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad_url)?;
    let (authority, path) = rest.split_once('/').ok_or_else(bad_url)?;
    let tcp = TcpStream::connect(authority).await.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("connecting to the runtime's streaming server at {authority}: {e}"),
        )
    })?;
    let mut upstream = Request::builder()
        .method(req.method())
        .uri(format!("/{path}"))
        .header(header::HOST, authority)
        .body(Empty::new())
        .map_err(|_| bad_url())?;
    *upstream.headers_mut() = httpstream::upgrade_headers(req.headers());
    upstream
        .headers_mut()
        .insert(header::HOST, authority.parse().map_err(|_| bad_url())?);
    let client = hyper::upgrade::on(&mut req);
    let response = httpstream::join(client, upstream, tcp).await.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the runtime's streaming server: {e}"),
        )
    })?;
    Ok(response.map(BodyExt::boxed))
}
