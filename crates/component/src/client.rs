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
