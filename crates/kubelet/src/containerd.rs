//! containerd as the agent's child: a generated config (its own root, state dir and socket
//! under the agent's data dir; runc with cgroupfs; `restrict_oom_score_adj`, since these
//! machines lack CAP_SYS_RESOURCE; CNI from `/usr/lib/cni` with a config dir of the agent's),
//! started, waited for, and killed with the agent.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use tokio::process::{Child, Command};

use crate::images::PAUSE_IMAGE;

/// Where the standard CNI plugins live on Debian (containernetworking-plugins).
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";

/// The paths of an agent's containerd.
#[derive(Clone, Debug)]
pub struct Layout {
    /// containerd's persistent root (images, snapshots).
    pub root: PathBuf,
    /// containerd's state dir (sockets, running tasks).
    pub state: PathBuf,
    /// The gRPC socket.
    pub socket: PathBuf,
    /// Where the agent writes the CNI network config.
    pub cni_conf_dir: PathBuf,
    /// The generated config file.
    pub config: PathBuf,
    /// containerd's registry hosts dir (`<registry>/hosts.toml`, the `certs.d` layout).
    pub registries: PathBuf,
}

impl Layout {
    /// The layout under an agent data dir.
    pub fn under(agent_dir: &Path) -> Layout {
        let dir = agent_dir.join("containerd");
        Layout {
            root: dir.join("root"),
            state: dir.join("state"),
            socket: dir.join("containerd.sock"),
            cni_conf_dir: agent_dir.join("cni"),
            config: dir.join("config.toml"),
            registries: dir.join("certs.d"),
        }
    }
}

/// containerd's config (version 2 schema, containerd 1.6 and 1.7).
pub fn config(layout: &Layout) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"

[grpc]
  address = "{socket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{registries}"
"#,
        root = layout.root.display(),
        state = layout.state.display(),
        socket = layout.socket.display(),
        pause = PAUSE_IMAGE,
        cni_bin = CNI_BIN_DIR,
        cni_conf = layout.cni_conf_dir.display(),
        registries = layout.registries.display(),
    )
}

/// Writes where containerd pulls each mirrored registry's images from: `mirrors` maps a
/// registry host (`docker.io`) to a URL (`http://127.0.0.1:5000`) that replaces it, so a pull
/// never falls back to the registry itself. Mirrors no longer named are removed.
pub fn write_mirrors(layout: &Layout, mirrors: &[(String, String)]) -> std::io::Result<()> {
    if layout.registries.exists() {
        std::fs::remove_dir_all(&layout.registries)?;
    }
    for (registry, url) in mirrors {
        let dir = layout.registries.join(registry);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("hosts.toml"),
            format!(
                "server = \"{url}\"\n\n[host.\"{url}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
            ),
        )?;
    }
    Ok(())
}

/// The containerd processes this process started and has not stopped.
static STARTED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Stops (SIGTERM) every containerd this process started: for a process ending while its
/// agent runs on another thread, whose `Containerd` is never dropped. Containers keep running
/// in their shims, as they do when upstream's kubelet restarts.
pub fn stop_all() {
    for pid in STARTED.lock().expect("started").drain(..) {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
}

/// A running containerd; killed when dropped.
pub struct Containerd {
    child: Child,
}

impl Containerd {
    /// Writes the config and starts containerd, logging to `containerd.log` beside it; returns
    /// once its socket answers.
    pub async fn start(layout: &Layout) -> std::io::Result<Containerd> {
        for dir in [&layout.root, &layout.state, &layout.cni_conf_dir] {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&layout.config, config(layout))?;
        let _ = std::fs::remove_file(&layout.socket);
        let log = std::fs::File::create(layout.config.with_file_name("containerd.log"))?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&layout.config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting containerd: {e}")))?;
        if let Some(pid) = child.id() {
            STARTED.lock().expect("started").push(pid);
        }
        let mut containerd = Containerd { child };
        for _ in 0..200 {
            if tokio::net::UnixStream::connect(&layout.socket)
                .await
                .is_ok()
            {
                return Ok(containerd);
            }
            if let Some(status) = containerd.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "containerd exited with {status}; see {}",
                    layout.config.with_file_name("containerd.log").display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(std::io::Error::other(
            "containerd did not open its socket in 10 s",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_everything_under_the_agent_dir() {
        let layout = Layout::under(Path::new("/var/lib/rudder/agent"));
        let text = config(&layout);
        assert!(text.contains(r#"root = "/var/lib/rudder/agent/containerd/root""#));
        assert!(text.contains(r#"address = "/var/lib/rudder/agent/containerd/containerd.sock""#));
        assert!(text.contains(r#"conf_dir = "/var/lib/rudder/agent/cni""#));
        assert!(text.contains("restrict_oom_score_adj = true"));
        assert!(text.contains("SystemdCgroup = false"));
    }
}
