//! The filter chain every request passes: metrics, authentication, routing and
//! authorization, then the endpoint.

use std::{convert::Infallible, sync::Arc, time::Instant};

use apimachinery::status::ApiError;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::{
    Server,
    authn::User,
    authz, connect, discovery, openapi,
    request::{self, Target, Verb},
    response::{self, Body},
    rest::{self, Call},
    usage, watch,
};

/// The largest request body accepted (upstream's 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Handles one request, whatever happens: failures become `Status` responses.
pub async fn handle(
    server: Arc<Server>,
    cert_user: Option<User>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = request::parse_query(req.uri().query());
    let target = request::parse(&method, &path, &query);
    let (verb, resource) = match &target {
        Target::Resource(p, v) => (
            v.as_str().to_ascii_uppercase(),
            match &p.subresource {
                Some(s) => format!("{}/{s}", p.resource),
                None => p.resource.clone(),
            },
        ),
        _ => (method.as_str().to_string(), String::new()),
    };
    let user = authenticate(&server, cert_user, &req);
    let resp = match route(&server, user.as_ref(), target, req, &query).await {
        Ok(resp) => resp,
        Err(err) => response::error(&err),
    };
    let code = resp.status().as_u16();
    server
        .metrics
        .observe(&verb, &resource, code, started.elapsed());
    tracing::debug!(%method, %path, code, user = user.as_ref().map_or("", |u| u.name.as_str()), elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request");
    Ok(resp)
}

fn authenticate(server: &Server, cert_user: Option<User>, req: &Request<Incoming>) -> Option<User> {
    let bearer = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match bearer {
        // A token that is presented must be valid, even with a certificate.
        Some(token) => server.authn.token(token),
        None => cert_user,
    }
}

/// Paths anyone may read, as upstream's `system:public-info-viewer` (and the cluster CA,
/// which joining agents check against their token).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/cacerts"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

async fn read_body(req: Request<Incoming>) -> Result<(http::request::Parts, Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    if let Some(len) = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > MAX_BODY
    {
        return Err(ApiError::too_large(MAX_BODY));
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large(MAX_BODY))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

async fn route(
    server: &Server,
    user: Option<&User>,
    target: Target,
    req: Request<Incoming>,
    query: &rest::Query,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    if is_public(&path) {
        return Ok(non_resource(server, &path, &req));
    }
    let Some(user) = user else {
        return Err(ApiError::unauthorized());
    };
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let get_only = |resp: Option<serde_json::Value>| -> Result<Response<Body>, ApiError> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Err(ApiError::method_not_allowed());
        }
        resp.map(|v| response::object(StatusCode::OK, response::Format::Json, &v))
            .ok_or_else(ApiError::no_such_resource)
    };
    match target {
        Target::CoreVersions | Target::Groups => {
            authz::authorize_path(server, user, req.method(), &path)?;
            let core = target == Target::CoreVersions;
            if let Some(version) = response::aggregated_discovery(accept.as_deref()) {
                let body =
                    serde_json::to_vec(&discovery::aggregated(core, version)).unwrap_or_default();
                return Ok(response::bytes(
                    StatusCode::OK,
                    &format!(
                        "application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
                    ),
                    body,
                ));
            }
            get_only(Some(if core {
                discovery::core_versions(&server.address)
            } else {
                discovery::group_list()
            }))
        }
        Target::Group(group) => {
            authz::authorize_path(server, user, req.method(), &path)?;
            get_only(discovery::group(&group))
        }
        Target::GroupVersion { group, version } => {
            authz::authorize_path(server, user, req.method(), &path)?;
            get_only(discovery::resource_list(&group, &version))
        }
        Target::NonResource => {
            authz::authorize_path(server, user, req.method(), &path)?;
            Ok(non_resource(server, &path, &req))
        }
        Target::Resource(rpath, verb) if rpath.group == usage::GROUP => {
            authz::authorize(server, user, verb, &rpath)?;
            usage::serve(server, &rpath, verb, query).await
        }
        Target::Resource(rpath, verb) => {
            let info = rest::resource_of(&rpath).ok_or_else(ApiError::no_such_resource)?;
            authz::authorize(server, user, verb, &rpath)?;
            if info.kind == "Pod"
                && matches!(
                    rpath.subresource.as_deref(),
                    Some("log" | "exec" | "attach" | "portforward")
                )
            {
                return connect::serve(server, &rpath, req).await;
            }
            let format = response::negotiate(accept.as_deref())?;
            let (parts, body) = read_body(req).await?;
            let call = Call {
                server,
                user,
                info,
                path: &rpath,
                verb,
                query,
                headers: &parts.headers,
                format,
            };
            if verb == Verb::Watch {
                return watch::serve(call).await;
            }
            rest::serve(call, body).await
        }
    }
}

fn non_resource(server: &Server, path: &str, req: &Request<Incoming>) -> Response<Body> {
    let text =
        |s: &str| response::bytes(StatusCode::OK, "text/plain; charset=utf-8", s.to_string());
    match path {
        "/healthz" | "/livez" | "/readyz" => text("ok"),
        p if p.starts_with("/healthz/")
            || p.starts_with("/livez/")
            || p.starts_with("/readyz/") =>
        {
            text("ok")
        }
        "/cacerts" => response::bytes(
            StatusCode::OK,
            "application/x-pem-file",
            server.ca_pem.clone(),
        ),
        "/version" => response::object(
            StatusCode::OK,
            response::Format::Json,
            &discovery::version(),
        ),
        "/metrics" => response::bytes(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            server.metrics.render(),
        ),
        "/openapi/v2" => {
            let accept = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            // kubectl asks for protobuf first; plain JSON clients get JSON.
            let protobuf = accept
                .split(',')
                .next()
                .is_some_and(|a| a.contains("protobuf"));
            match openapi::v2(protobuf) {
                Some((bytes, content_type)) => response::bytes(StatusCode::OK, content_type, bytes),
                None => response::error(&ApiError::not_acceptable(accept)),
            }
        }
        "/openapi/v3" => response::bytes(StatusCode::OK, "application/json", openapi::v3_index()),
        p if p.starts_with("/openapi/v3/") => match openapi::v3(&p["/openapi/v3/".len()..]) {
            Some(bytes) => response::bytes(StatusCode::OK, "application/json", bytes),
            None => response::error(&ApiError::no_such_resource()),
        },
        _ => response::bytes(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found\n",
        ),
    }
}
