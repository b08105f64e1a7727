//! The cluster's certificates: a CA, the serving certificate and the admin's client certificate,
//! created on first start under `<data-dir>/server/tls` and reused afterwards, the key that
//! signs service account tokens, and the admin kubeconfig that points kubectl at the server.

use std::{
    fs,
    net::IpAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// Errors creating or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Generating or parsing a certificate failed.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A PEM file could not be parsed.
    #[error("{path}: invalid PEM: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The TLS configuration was refused.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// The service-account key could not be created or used.
    #[error("{path}: {source}")]
    ServiceAccountKey {
        /// The key file.
        path: PathBuf,
        /// What was wrong.
        #[source]
        source: crate::token::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The PEM files of the cluster's PKI.
#[derive(Clone, Debug)]
pub struct Pki {
    /// The directory holding the files.
    pub dir: PathBuf,
    /// The CA certificate in PEM.
    pub ca_pem: String,
    ca_key_pem: String,
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, contents: &str, private: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 });
    std::io::Write::write_all(&mut options.open(&tmp).map_err(io)?, contents.as_bytes())
        .map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn validity(params: &mut CertificateParams, years: i32) {
    let now = jiff::Zoned::now().date();
    let start = now.yesterday().expect("date in range");
    let end = start.saturating_add(jiff::Span::new().years(years));
    params.not_before = rcgen::date_time_ymd(
        i32::from(start.year()),
        start.month() as u8,
        start.day() as u8,
    );
    params.not_after =
        rcgen::date_time_ymd(i32::from(end.year()), end.month() as u8, end.day() as u8);
}

impl Pki {
    /// Loads the CA from `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> Result<Pki> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (cert_path, key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
        if !cert_path.exists() || !key_path.exists() {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::default();
            params.distinguished_name = name("rudder-ca", &[]);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            validity(&mut params, 10);
            let cert = params.self_signed(&key)?;
            write(&key_path, &key.serialize_pem(), true)?;
            write(&cert_path, &cert.pem(), false)?;
        }
        Ok(Pki {
            dir: dir.to_path_buf(),
            ca_pem: read(&cert_path)?,
            ca_key_pem: read(&key_path)?,
        })
    }

    fn issue(&self, mut params: CertificateParams) -> Result<(String, String)> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca_pem, ca_key)?;
        let key = KeyPair::generate()?;
        validity(&mut params, 1);
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issues a client certificate for `user` in `groups` (the subject's CN and O, as upstream
    /// reads them).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<(String, String)> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(user, groups);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params)
    }

    /// Loads the pair `<name>.crt`/`<name>.key`, issuing it with `make` when missing.
    fn pair(
        &self,
        file: &str,
        make: impl FnOnce() -> Result<(String, String)>,
    ) -> Result<(String, String)> {
        let cert_path = self.dir.join(format!("{file}.crt"));
        let key_path = self.dir.join(format!("{file}.key"));
        if cert_path.exists() && key_path.exists() {
            return Ok((read(&cert_path)?, read(&key_path)?));
        }
        let (cert, key) = make()?;
        write(&key_path, &key, true)?;
        write(&cert_path, &cert, false)?;
        Ok((cert, key))
    }

    /// The serving certificate for the API server, valid for the given host names and
    /// addresses plus the in-cluster names of the `kubernetes` service.
    pub fn serving(&self, hosts: &[String]) -> Result<(String, String)> {
        self.pair("serving", || {
            let mut names: Vec<String> = [
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "127.0.0.1",
                "::1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            names.extend(hosts.iter().cloned());
            names.sort();
            names.dedup();
            let mut params = CertificateParams::default();
            params.distinguished_name = name("kube-apiserver", &[]);
            params.subject_alt_names = names
                .iter()
                .map(|n| match n.parse::<IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => Ok(SanType::DnsName(n.clone().try_into()?)),
                })
                .collect::<Result<_, rcgen::Error>>()?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            self.issue(params)
        })
    }

    /// The admin's client certificate (user `system:admin` in group `system:masters`).
    pub fn admin(&self) -> Result<(String, String)> {
        self.pair("admin", || {
            self.issue_client("system:admin", &["system:masters"])
        })
    }

    /// The key that signs service account tokens: `service-account.key` (PKCS#8 PEM, ECDSA
    /// P-256), created on first use with its public half beside it in `service-account.pub`
    /// for whoever verifies tokens outside the API server.
    pub fn service_account_key(&self) -> Result<crate::token::Key> {
        let path = self.dir.join("service-account.key");
        let key_error = |source| Error::ServiceAccountKey {
            path: path.clone(),
            source,
        };
        if !path.exists() {
            let der = crate::token::Key::generate_pkcs8().map_err(key_error)?;
            let key = crate::token::Key::from_pkcs8(&der).map_err(key_error)?;
            write(&path, &pem("PRIVATE KEY", &der), true)?;
            write(
                &self.dir.join("service-account.pub"),
                &pem("PUBLIC KEY", &key.public_key_der()),
                false,
            )?;
        }
        let text = read(&path)?;
        let der = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| Error::Pem {
            path: path.clone(),
            message: e.to_string(),
        })?;
        crate::token::Key::from_pkcs8(der.secret_der()).map_err(key_error)
    }

    /// The node join token, `K10<sha256 of the CA's PEM>::node:<secret>` (k3s' format): the
    /// secret is made on first start (`node-token`); the hash lets an agent check the CA it
    /// fetches from `/cacerts` before trusting the server.
    pub fn node_token(&self) -> Result<String> {
        let path = self.dir.join("node-token");
        let secret = match read(&path) {
            Ok(secret) if !secret.trim().is_empty() => secret.trim().to_string(),
            _ => {
                let secret = format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                );
                write(&path, &secret, true)?;
                secret
            }
        };
        let hash = ring::digest::digest(&ring::digest::SHA256, self.ca_pem.as_bytes());
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("K10{hex}::node:{secret}"))
    }

    /// A rustls client configuration for reaching kubelets: it presents the API server's
    /// kubelet client certificate (`kube-apiserver-kubelet-client` in `system:masters`) and,
    /// as upstream's does without `--kubelet-certificate-authority`, takes the certificate a
    /// kubelet signed for itself without verifying it.
    pub fn kubelet_client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let (cert, key) = self.pair("kubelet-client", || {
            self.issue_client("kube-apiserver-kubelet-client", &["system:masters"])
        })?;
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| Error::Pem {
            path: self.dir.join("kubelet-client.key"),
            message: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SelfSignedKubelet(provider)))
            .with_client_auth_cert(certs(&cert, &self.dir.join("kubelet-client.crt"))?, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A rustls server configuration that serves `serving` and asks for (but does not require)
    /// client certificates signed by the CA, offering HTTP/2 and HTTP/1.1.
    pub fn server_config(&self, serving: &(String, String)) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs(&self.ca_pem, &self.dir.join("ca.crt"))? {
            roots.add(cert)?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Pem {
            path: self.dir.join("ca.crt"),
            message: e.to_string(),
        })?;
        let key = PrivateKeyDer::from_pem_slice(serving.1.as_bytes()).map_err(|e| Error::Pem {
            path: self.dir.join("serving.key"),
            message: e.to_string(),
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs(&serving.0, &self.dir.join("serving.crt"))?, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Accepts any kubelet serving certificate (still checking the handshake's signatures).
#[derive(Debug)]
struct SelfSignedKubelet(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for SelfSignedKubelet {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// PEM armour around DER: base64 in lines of 64 characters.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn certs(pem: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Writes a file only its owner may read.
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    write(path, &format!("{contents}\n"), true)
}

/// Writes a kubeconfig for `server` that authenticates with the given client certificate.
pub fn write_kubeconfig(
    path: &Path,
    server: &str,
    ca_pem: &str,
    client: &(String, String),
    user: &str,
) -> Result<()> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "rudder", "cluster": {
            "server": server,
            "certificate-authority-data": STANDARD.encode(ca_pem),
        }}],
        "users": [{"name": user, "user": {
            "client-certificate-data": STANDARD.encode(&client.0),
            "client-key-data": STANDARD.encode(&client.1),
        }}],
        "contexts": [{"name": "rudder", "context": {"cluster": "rudder", "user": user}}],
        "current-context": "rudder",
        "preferences": {},
    });
    let yaml = serde_yaml::to_string(&config).map_err(|e| Error::Pem {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write(path, &yaml, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_account_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path()).unwrap();
        let first = pki.service_account_key().unwrap();
        let again = Pki::load_or_create(dir.path())
            .unwrap()
            .service_account_key()
            .unwrap();
        assert_eq!(first.kid(), again.kid());
        let public = read(&dir.path().join("service-account.pub")).unwrap();
        assert!(
            public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
            "{public}"
        );
        let private = dir.path().join("service-account.key");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
