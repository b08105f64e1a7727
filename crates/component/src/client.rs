//! An API client from a kubeconfig file, identified by its component name.

use std::path::Path;

use http::{HeaderName, HeaderValue};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{Error, Result};

/// A client for the cluster of `kubeconfig`. The `component` name becomes the User-Agent, so
/// the API server records it as the field manager of the component's writes, as upstream's
/// `kube-controller-manager` and `kube-scheduler` are.
pub async fn client(kubeconfig: &Path, component: &str) -> Result<kube::Client> {
    let mut config = config(kubeconfig).await?;
    let agent = format!("{component}/v1.33.0 (linux/amd64) rudder");
    if let Ok(value) = HeaderValue::from_str(&agent) {
        config
            .headers
            .push((HeaderName::from_static("user-agent"), value));
    }
    kube::Client::try_from(config).map_err(Error::Client)
}

/// The certificates (DER) of the CA that `kubeconfig` trusts for the cluster: the kubelet lets
/// in the clients this CA signed.
pub async fn cluster_ca(kubeconfig: &Path) -> Result<Vec<Vec<u8>>> {
    Ok(config(kubeconfig).await?.root_cert.unwrap_or_default())
}

/// The CA that `kubeconfig` trusts for the cluster as a PEM bundle (what upstream's
/// `--root-ca-file` holds): the controller manager publishes it to every namespace.
pub async fn cluster_ca_pem(kubeconfig: &Path) -> Result<String> {
    Ok(cluster_ca(kubeconfig)
        .await?
        .iter()
        .map(|der| pem_certificate(der))
        .collect())
}

/// A DER certificate in PEM armour: base64 in lines of 64 characters.
fn pem_certificate(der: &[u8]) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let encoded = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

async fn config(kubeconfig: &Path) -> Result<kube::Config> {
    let error = |source| Error::Kubeconfig {
        path: kubeconfig.display().to_string(),
        source,
    };
    let file = Kubeconfig::read_from(kubeconfig).map_err(error)?;
    kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_armoured_in_64_character_lines() {
        let pem = pem_certificate(&[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        // 100 bytes are 136 base64 characters.
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 8);
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert!(pem.ends_with("-----\n"));
    }
}
