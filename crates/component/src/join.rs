//! Joining a cluster with a server URL and a join token, as `rudder agent --server URL
//! --token T` does (k3s' scheme): the token `K10<sha256 of the CA's PEM>::<id>:<secret>` pins
//! the cluster CA, so the agent can fetch the CA from the server's public `/cacerts` over a
//! connection it cannot verify yet, check it against the pin, check the server's certificate
//! against it, and only then trust the server with the token. The result is a kubeconfig.

use std::{path::Path, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why joining failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The token is not `K10<hash>::<id>:<secret>`.
    #[error("the token is not a join token (K10<CA hash>::<id>:<secret>)")]
    Token,
    /// The server URL is not `https://host:port`.
    #[error("the server URL {0:?} is not https://host[:port]")]
    Url(String),
    /// The server could not be reached.
    #[error("fetching the cluster CA from {url}: {source}")]
    Fetch {
        /// Where.
        url: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA the server sent is not the one the token pins, or the server's certificate is
    /// not signed by it: someone else answered.
    #[error("the server's CA does not match the token: {0}")]
    Untrusted(String),
    /// Writing the kubeconfig failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Fetches and checks the cluster CA of `server` with `token`, then writes a kubeconfig for
/// it at `kubeconfig` that authenticates with the token.
pub async fn join(server: &str, token: &str, kubeconfig: &Path) -> Result<(), JoinError> {
    let pin = token
        .strip_prefix("K10")
        .and_then(|rest| rest.split_once("::"))
        .map(|(hash, _)| hash.to_ascii_lowercase())
        .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or(JoinError::Token)?;
    let authority = server
        .strip_prefix("https://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| JoinError::Url(server.to_string()))?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_matches(|c| c == '[' || c == ']'),
            p.parse::<u16>()
                .map_err(|_| JoinError::Url(server.to_string()))?,
        ),
        _ => (authority, 443),
    };
    let fetch = |source| JoinError::Fetch {
        url: format!("{server}/cacerts"),
        source,
    };
    let (ca_pem, presented) = fetch_ca(host, port).await.map_err(fetch)?;
    let hash = format!("{:x}", Sha256::digest(ca_pem.as_bytes()));
    if hash != pin {
        return Err(JoinError::Untrusted(format!(
            "its hash is {hash}, the token's {pin}"
        )));
    }
    verify(&ca_pem, &presented, host).map_err(JoinError::Untrusted)?;
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "rudder", "cluster": {
            "server": server,
            "certificate-authority-data": STANDARD.encode(&ca_pem),
        }}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": "rudder", "context": {"cluster": "rudder", "user": "agent"}}],
        "current-context": "rudder",
    });
    let write = |source| JoinError::Write {
        path: kubeconfig.display().to_string(),
        source,
    };
    if let Some(dir) = kubeconfig.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    std::fs::write(
        kubeconfig,
        serde_json::to_vec_pretty(&config).expect("JSON"),
    )
    .map_err(write)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(kubeconfig, std::fs::Permissions::from_mode(0o600))
            .map_err(write)?;
    }
    Ok(())
}

/// GETs `/cacerts` without verifying the server (the caller checks what comes back); returns
/// the body and the certificate the server presented.
async fn fetch_ca(host: &str, port: u16) -> std::io::Result<(String, CertificateDer<'static>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let capture = Arc::new(Capture {
        provider: provider.clone(),
        presented: std::sync::Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect((host, port)).await?;
    let name = ServerName::try_from(host.to_string()).map_err(std::io::Error::other)?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    tls.write_all(
        format!("GET /cacerts HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(std::io::Error::other(format!(
            "the server answered {status}"
        )));
    }
    let presented = capture
        .presented
        .lock()
        .expect("capture")
        .clone()
        .ok_or_else(|| std::io::Error::other("the server presented no certificate"))?;
    Ok((body.to_string(), presented))
}

/// Checks that `presented` is a valid serving certificate for `host` signed by the CA.
fn verify(ca_pem: &str, presented: &CertificateDer<'static>, host: &str) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(presented, &[], &name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|e| format!("the server's certificate: {e}"))
}

/// Accepts any server certificate, remembering it (the handshake's signatures are checked).
#[derive(Debug)]
struct Capture {
    provider: Arc<rustls::crypto::CryptoProvider>,
    presented: std::sync::Mutex<Option<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.presented.lock().expect("capture") = Some(end_entity.clone().into_owned());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
