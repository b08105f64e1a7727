//! The pod subresources a node serves: `pods/log` streams from the kubelet, and `pods/exec`,
//! `pods/attach` and `pods/portforward` are upgraded connections (SPDY) this server checks and
//! joins to the kubelet's, which joins them to the container runtime. As upstream's, the
//! server validates the pod and container first, so that the common mistakes get a `Status`
//! without a trip to the node.

use std::sync::Arc;

use apimachinery::{resources, status::ApiError};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use k8s_openapi::api::core::v1::{Node, Pod};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{
    Server,
    request::ResourcePath,
    response::{self, Body},
};

/// How this server reaches kubelets.
pub struct Kubelets {
    tls: TlsConnector,
}

impl Kubelets {
    /// Reaches kubelets with `tls` (see `Pki::kubelet_client_config`).
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Kubelets {
        Kubelets {
            tls: TlsConnector::from(tls),
        }
    }
}

/// Serves a pod's `log`, `exec`, `attach` or `portforward` subresource (already authorized).
pub async fn serve(
    server: &Server,
    path: &ResourcePath,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let sub = path.subresource.as_deref().unwrap_or_default();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let pods = resources::find("", "v1", "pods").expect("pods are served");
    let namespace = path.namespace.as_deref().unwrap_or("default");
    let name = path.name.as_deref().unwrap_or_default();
    let pod: Pod = serde_json::from_value(server.store.get(pods, Some(namespace), name).await?)
        .map_err(ApiError::internal)?;
    let spec = pod.spec.clone().unwrap_or_default();
    let node_name = spec.node_name.clone().unwrap_or_default();
    if node_name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let streaming = sub != "log";
    if streaming {
        if req.method() != http::Method::GET && req.method() != http::Method::POST {
            return Err(ApiError::method_not_allowed());
        }
        if !httpstream::is_upgrade(req.headers()) {
            return Err(ApiError::bad_request("Upgrade request required"));
        }
        // kubectl offers WebSockets first and falls back to SPDY when the upgrade is refused.
        if httpstream::is_websocket(req.headers()) {
            return Err(ApiError::bad_request(
                "WebSocket streams are not served; use SPDY/3.1",
            ));
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if sub != "portforward"
            && let Some(phase @ ("Succeeded" | "Failed")) = phase
        {
            return Err(ApiError::bad_request(format!(
                "cannot {sub} into a container in a completed pod; current phase is {phase}"
            )));
        }
    }
    let kubelet_path = match sub {
        "portforward" => format!("/portForward/{namespace}/{name}"),
        _ => {
            let container = container(&pod, get("container"))?;
            let verb = if sub == "log" { "containerLogs" } else { sub };
            format!("/{verb}/{namespace}/{name}/{container}")
        }
    };
    let uri = match req.uri().query() {
        Some(q) => format!("{kubelet_path}?{q}"),
        None => kubelet_path,
    };
    let io = dial(server, &node_name).await?;
    let mut upstream = Request::builder()
        .method(req.method())
        .uri(uri)
        .header(header::HOST, &node_name)
        .body(Empty::<Bytes>::new())
        .map_err(ApiError::internal)?;
    if streaming {
        let headers = httpstream::upgrade_headers(req.headers());
        upstream.headers_mut().extend(headers);
        let mut req = req;
        let client = hyper::upgrade::on(&mut req);
        let response = httpstream::join(client, upstream, io)
            .await
            .map_err(|e| node_error(&node_name, e))?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(refusal(response).await);
        }
        let (parts, _) = response.into_parts();
        return Ok(Response::from_parts(parts, response::full(Bytes::new())));
    }
    let response = httpstream::send(io, upstream)
        .await
        .map_err(|e| node_error(&node_name, e))?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let mut body = response.into_body();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data()
                && tx.send(data).await.is_err()
            {
                break;
            }
        }
    });
    let mut resp = Response::new(response::streamed(rx));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    Ok(resp)
}

/// The container a request names, or the pod's only one; upstream's messages otherwise.
fn container(pod: &Pod, asked: Option<&str>) -> Result<String, ApiError> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let names = |list: &[k8s_openapi::api::core::v1::Container]| {
        list.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
    };
    let regular = names(&spec.containers);
    let init = names(spec.init_containers.as_deref().unwrap_or_default());
    let ephemeral: Vec<String> = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone())
        .collect();
    match asked.filter(|c| !c.is_empty()) {
        Some(c)
            if regular
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c) =>
        {
            Ok(c.to_string())
        }
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if regular.len() == 1 => Ok(regular[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                regular.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

/// GETs `path` from the kubelet of `node_name` and decodes its JSON.
pub async fn get_json(
    server: &Server,
    node_name: &str,
    path: &str,
) -> Result<serde_json::Value, ApiError> {
    let io = dial(server, node_name).await?;
    let request = Request::builder()
        .uri(path)
        .header(header::HOST, node_name)
        .body(Empty::<Bytes>::new())
        .map_err(ApiError::internal)?;
    let response = httpstream::send(io, request)
        .await
        .map_err(|e| node_error(node_name, e))?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| node_error(node_name, e))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| node_error(node_name, e))
}

/// A TLS connection to the kubelet of `node_name`, at its InternalIP and the port it reports.
async fn dial(
    server: &Server,
    node_name: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ApiError> {
    let nodes = resources::find("", "v1", "nodes").expect("nodes are served");
    let node: Node = serde_json::from_value(server.store.get(nodes, None, node_name).await?)
        .map_err(ApiError::internal)?;
    let status = node.status.unwrap_or_default();
    let address = status
        .addresses
        .iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
        .ok_or_else(|| {
            ApiError::bad_request(format!("node {node_name} reports no InternalIP address"))
        })?;
    let port = status
        .daemon_endpoints
        .and_then(|d| d.kubelet_endpoint)
        .map_or(10250, |e| e.port);
    let tcp = TcpStream::connect((address.as_str(), port as u16))
        .await
        .map_err(|e| node_error(node_name, e))?;
    let name = rustls::pki_types::ServerName::try_from(address.clone())
        .map_err(|e| node_error(node_name, e))?;
    server
        .kubelets
        .tls
        .connect(name, tcp)
        .await
        .map_err(|e| node_error(node_name, e))
}

/// The node could not be reached: upstream's 500 with the dial error.
fn node_error(node: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("error dialing the kubelet of node {node}: {error}"))
}

/// The kubelet's refusal as a `Status`: its code and its text.
async fn refusal(response: Response<Incoming>) -> ApiError {
    let code = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    ApiError::from_response(code.as_u16(), String::from_utf8_lossy(&body).trim())
}
