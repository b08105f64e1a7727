//! Response bodies and content negotiation: JSON, YAML, Table and PartialObjectMetadata, and
//! `Status` bodies for errors.

use std::convert::Infallible;

use apimachinery::status::ApiError;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio_stream::wrappers::ReceiverStream;

/// The body of every response.
pub type Body = BoxBody<Bytes, Infallible>;

/// The media types a client can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain JSON.
    Json,
    /// YAML.
    Yaml,
    /// A `meta.k8s.io/v1` Table.
    Table,
    /// `meta.k8s.io/v1` PartialObjectMetadata (or its list).
    Metadata,
}

/// One media range of an `Accept` header.
#[derive(Debug, Default)]
struct MediaRange<'a> {
    mime: &'a str,
    as_: Option<&'a str>,
    g: Option<&'a str>,
    v: Option<&'a str>,
}

fn ranges(accept: &str) -> impl Iterator<Item = MediaRange<'_>> {
    accept.split(',').map(|part| {
        let mut params = part.split(';').map(str::trim);
        let mut range = MediaRange {
            mime: params.next().unwrap_or(""),
            ..MediaRange::default()
        };
        for p in params {
            match p.split_once('=') {
                Some(("as", v)) => range.as_ = Some(v),
                Some(("g", v)) => range.g = Some(v),
                Some(("v", v)) => range.v = Some(v),
                _ => {}
            }
        }
        range
    })
}

/// Picks the response format from an `Accept` header; `Err` when nothing acceptable is offered.
pub fn negotiate(accept: Option<&str>) -> Result<Format, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Format::Json);
    };
    for r in ranges(accept) {
        let json_like = matches!(r.mime, "application/json" | "*/*" | "application/*");
        match (r.as_, r.g, r.v) {
            (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) if json_like => {
                return Ok(Format::Table);
            }
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1" | "v1beta1"),
            ) if json_like => {
                return Ok(Format::Metadata);
            }
            (Some(_), _, _) => continue,
            _ => {}
        }
        match r.mime {
            "application/json" | "*/*" | "application/*" => return Ok(Format::Json),
            "application/yaml" => return Ok(Format::Yaml),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(accept))
}

/// Which aggregated discovery version the client asked for, if any.
pub fn aggregated_discovery(accept: Option<&str>) -> Option<&'static str> {
    for r in ranges(accept?) {
        if r.g == Some("apidiscovery.k8s.io") && r.as_ == Some("APIGroupDiscoveryList") {
            match r.v {
                Some("v2") => return Some("v2"),
                Some("v2beta1") => return Some("v2beta1"),
                _ => {}
            }
        }
    }
    None
}

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A streamed body fed by a channel.
pub fn streamed(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    use futures::StreamExt;
    BodyExt::boxed(StreamBody::new(
        ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b))),
    ))
}

/// A response with a body and content type.
pub fn bytes(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

/// A JSON (or YAML, if asked) response.
pub fn object(status: StatusCode, format: Format, value: &Value) -> Response<Body> {
    match format {
        Format::Yaml => match serde_yaml::to_string(value) {
            Ok(yaml) => bytes(status, "application/yaml", yaml),
            Err(e) => error(&ApiError::internal(e)),
        },
        _ => bytes(
            status,
            "application/json",
            serde_json::to_vec(value).unwrap_or_default(),
        ),
    }
}

/// The `Status` response of an error.
pub fn error(err: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = bytes(
        status,
        "application/json",
        serde_json::to_vec(&err.to_status()).unwrap_or_default(),
    );
    if let Some(secs) = err.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// Adds `Warning` headers in the format clients print (`299 - "message"`).
pub fn warn(resp: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(accept)).unwrap(), Format::Table);
        assert_eq!(negotiate(None).unwrap(), Format::Json);
        assert_eq!(negotiate(Some("application/yaml")).unwrap(), Format::Yaml);
        assert_eq!(
            negotiate(Some(
                "application/vnd.kubernetes.protobuf, application/json"
            ))
            .unwrap(),
            Format::Json
        );
        assert_eq!(negotiate(Some("text/html")).unwrap_err().code, 406);
        assert_eq!(
            negotiate(Some(
                "application/json;as=Unknown;v=v1;g=meta.k8s.io,application/json"
            ))
            .unwrap(),
            Format::Json
        );
    }

    #[test]
    fn discovery_versions() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_discovery(Some(accept)), Some("v2"));
        assert_eq!(aggregated_discovery(Some("application/json")), None);
    }
}
