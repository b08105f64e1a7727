//! Images without a registry: the project builds its own from the host's busybox-static (the
//! sandbox "pause" image and the test images) as docker-archive tarballs, and imports
//! tarballs into containerd's `k8s.io` namespace with `ctr`, as k3s' air-gap import does.

use std::{
    io,
    path::{Path, PathBuf},
};

use serde_json::json;
use sha2::{Digest, Sha256};

/// The sandbox image every pod's network namespace is held by.
pub const PAUSE_IMAGE: &str = "rudder.dev/pause:1";

/// Where Debian's busybox-static installs the static busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// Builds a docker-archive (the `docker save` format) of a single-layer image holding the
/// static busybox at `/bin/busybox` with a link per applet, tagged with each of `tags`, whose
/// default command is `cmd`.
pub fn busybox_archive(busybox: &Path, tags: &[&str], cmd: &[&str]) -> io::Result<Vec<u8>> {
    let binary = std::fs::read(busybox)?;
    let applets = applets(busybox)?;
    let mut layer = tar::Builder::new(Vec::new());
    for dir in [
        "bin/", "tmp/", "etc/", "proc/", "sys/", "dev/", "var/", "root/",
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(if dir == "tmp/" { 0o1777 } else { 0o755 });
        header.set_size(0);
        header.set_mtime(0);
        layer.append_data(&mut header, dir, io::empty())?;
    }
    let mut header = tar::Header::new_ustar();
    header.set_mode(0o755);
    header.set_size(binary.len() as u64);
    header.set_mtime(0);
    layer.append_data(&mut header, "bin/busybox", binary.as_slice())?;
    for applet in applets.iter().filter(|a| a.as_str() != "busybox") {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_mode(0o777);
        header.set_size(0);
        header.set_mtime(0);
        layer.append_link(&mut header, format!("bin/{applet}"), "busybox")?;
    }
    let layer = layer.into_inner()?;
    let diff_id = format!("sha256:{:x}", Sha256::digest(&layer));
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd,
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))?;
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let manifest = serde_json::to_vec(&json!([{
        "Config": config_name,
        "RepoTags": tags,
        "Layers": ["layer.tar"],
    }]))?;
    let mut archive = tar::Builder::new(Vec::new());
    for (name, data) in [
        (config_name.as_str(), &config),
        ("layer.tar", &layer),
        ("manifest.json", &manifest),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_mtime(0);
        archive.append_data(&mut header, name, data.as_slice())?;
    }
    archive.into_inner()
}

/// The applets the static busybox provides (`busybox --list`).
fn applets(busybox: &Path) -> io::Result<Vec<String>> {
    let out = std::process::Command::new(busybox).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} --list failed",
            busybox.display()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .map(str::to_string)
        .collect())
}

/// Talks to containerd's image store with its own `ctr` client, in the CRI's namespace.
#[derive(Clone, Debug)]
pub struct Ctr {
    /// containerd's socket.
    pub address: PathBuf,
}

impl Ctr {
    async fn run(&self, args: &[&str]) -> io::Result<String> {
        let out = tokio::process::Command::new("ctr")
            .arg("--address")
            .arg(&self.address)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()
            .await?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "ctr {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Imports an image tarball (docker-archive or OCI layout).
    pub async fn import(&self, file: &Path) -> io::Result<String> {
        let file = file.to_string_lossy();
        self.run(&["images", "import", "--no-unpack=false", &file])
            .await
    }

    /// The image references in the store.
    pub async fn list(&self) -> io::Result<Vec<String>> {
        Ok(self
            .run(&["images", "list", "--quiet"])
            .await?
            .lines()
            .filter(|l| !l.starts_with("sha256:"))
            .map(str::to_string)
            .collect())
    }

    /// Removes images by reference.
    pub async fn remove(&self, references: &[String]) -> io::Result<()> {
        let mut args = vec!["images", "rm"];
        args.extend(references.iter().map(String::as_str));
        self.run(&args).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_holds_busybox_its_applets_and_a_matching_diff_id() {
        if !Path::new(BUSYBOX).exists() {
            panic!("busybox-static is not installed (scripts/install-deps installs it)");
        }
        let archive = busybox_archive(Path::new(BUSYBOX), &["busybox:latest"], &["sh"]).unwrap();
        let mut outer = tar::Archive::new(archive.as_slice());
        let mut files = std::collections::BTreeMap::new();
        for entry in outer.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(name, data);
        }
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["RepoTags"], json!(["busybox:latest"]));
        let config_name = manifest[0]["Config"].as_str().unwrap();
        let config: serde_json::Value = serde_json::from_slice(&files[config_name]).unwrap();
        let layer = &files["layer.tar"];
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            json!(format!("sha256:{:x}", Sha256::digest(layer)))
        );
        let names: Vec<String> = tar::Archive::new(layer.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"bin/busybox".to_string()));
        assert!(names.contains(&"bin/sh".to_string()));
        assert!(names.contains(&"bin/httpd".to_string()));
    }
}
