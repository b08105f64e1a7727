//! HTTP/1.1 upgrades joined across hops, as upstream's upgrade-aware proxy does: kubectl's
//! `exec`, `attach` and `port-forward` open an upgraded connection (SPDY) to the API server,
//! which carries it to the pod's kubelet, which carries it to the runtime's streaming server.
//! Neither hop reads the streams; each only checks who asks and where the target is.
//!
//! Also the plain request over a connection the caller dialled (`send`), which the API
//! server uses for streamed container logs.

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::Empty;
use hyper::{body::Incoming, upgrade::OnUpgrade};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Whether the request asks to switch protocols.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// Whether the request asks for a WebSocket.
pub fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The headers of an upgrade request (or response) that the next hop needs: the upgrade
/// itself and the stream protocol versions the client offers.
pub fn upgrade_headers(from: &HeaderMap) -> HeaderMap {
    let mut to = HeaderMap::new();
    for (name, value) in from {
        let keep = name == header::CONNECTION
            || name == header::UPGRADE
            || name.as_str().starts_with("x-stream-protocol")
            || name.as_str().starts_with("sec-websocket");
        if keep {
            to.append(name.clone(), value.clone());
        }
    }
    to
}

/// Sends `request` over `io`, a connection the caller dialled (TCP or TLS), and returns the
/// response with its body streaming from the connection.
pub async fn send<T>(
    io: T,
    request: Request<Empty<Bytes>>,
) -> Result<Response<Incoming>, hyper::Error>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "upstream connection ended");
        }
    });
    sender.send_request(request).await
}

/// Sends the upgrade `request` over `io`; when the far side switches protocols, joins
/// `client`, the upgraded connection of whoever asked, to it and copies bytes both ways
/// until either side closes. Returns the far side's response for the caller to relay: its
/// `101 Switching Protocols` headers, or its refusal with body.
pub async fn join<T>(
    client: OnUpgrade,
    request: Request<Empty<Bytes>>,
    io: T,
) -> Result<Response<Incoming>, hyper::Error>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut response = send(io, request).await?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let upstream = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            let (client, upstream) = match tokio::try_join!(client, upstream) {
                Ok(both) => both,
                Err(error) => {
                    tracing::debug!(%error, "upgrade failed");
                    return;
                }
            };
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                Ok((up, down)) => tracing::debug!(up, down, "stream closed"),
                Err(error) => tracing::debug!(%error, "stream broken"),
            }
        });
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn upgrade_detection_and_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        h.append(
            "X-Stream-Protocol-Version",
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        h.append(
            "X-Stream-Protocol-Version",
            HeaderValue::from_static("v3.channel.k8s.io"),
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert!(is_upgrade(&h));
        assert!(!is_websocket(&h));
        let kept = upgrade_headers(&h);
        assert_eq!(kept.get_all("x-stream-protocol-version").iter().count(), 2);
        assert!(
            !kept.contains_key(header::AUTHORIZATION),
            "credentials stay on their hop"
        );
        h.remove(header::CONNECTION);
        assert!(!is_upgrade(&h));
    }
}
