//! The pod network: a CNI config for the node's pod CIDR (bridge with host-local IPAM, then
//! portmap), which containerd applies to each sandbox. Pods on the node share the bridge and
//! reach each other; nothing masquerades traffic out of the machine, and blackhole routes for
//! the cluster's pod and service CIDRs keep a packet for an address without a more specific
//! route (another node's pods, a service without rules) from ever leaving it.

use serde_json::{Value, json};

/// The CNI network config list for a node whose pods get addresses from `pod_cidr`, on a
/// Linux bridge named `bridge` (at most 15 characters), with IPAM state in `ipam_dir`.
pub fn conflist(pod_cidr: &str, bridge: &str, ipam_dir: &str) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "rudder",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": ipam_dir,
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    })
}

/// Installs a blackhole route for each CIDR (replacing one already there).
pub async fn blackhole(cidrs: &[String]) -> std::io::Result<()> {
    for cidr in cidrs {
        let out = tokio::process::Command::new("ip")
            .args(["route", "replace", "blackhole", cidr])
            .output()
            .await?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "ip route replace blackhole {cidr}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_serves_the_node_pod_cidr() {
        let c = conflist("10.42.3.0/24", "rudder0", "/var/lib/rudder/agent/ipam");
        assert_eq!(c["plugins"][0]["bridge"], "rudder0");
        assert_eq!(
            c["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.42.3.0/24"
        );
        assert_eq!(c["plugins"][0]["ipMasq"], false);
    }
}
