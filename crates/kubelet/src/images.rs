//! Images without a registry: the project builds its own from the host's busybox-static (the
//! sandbox "pause" image and the test images) as docker-archive tarballs, and imports
//! tarballs into containerd's `k8s.io` namespace with `ctr`, as k3s' air-gap import does;
//! and unused images are garbage collected when the disk fills up.

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

/// Upstream's image garbage collection thresholds: above 85% of the image filesystem used,
/// unused images are removed until 80% is.
const GC_HIGH_PERCENT: u64 = 85;
const GC_LOW_PERCENT: u64 = 80;
/// How long an image must have been unused before it may go (upstream's ImageMinimumGCAge).
const GC_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(120);
/// How often the image filesystem is checked (upstream's ImageGCPeriod).
const GC_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

/// Removes unused images when the filesystem holding `root` (containerd's) fills up, longest
/// unused first; never the sandbox image. Runs forever.
pub async fn gc_forever(cri: crate::cri::Cri, root: PathBuf) {
    let mut unused_since: std::collections::HashMap<String, std::time::Instant> =
        std::collections::HashMap::new();
    loop {
        tokio::time::sleep(GC_PERIOD).await;
        if let Err(error) = gc(&cri, &root, &mut unused_since).await {
            tracing::warn!(%error, "image garbage collection failed");
        }
    }
}

async fn gc(
    cri: &crate::cri::Cri,
    root: &Path,
    unused_since: &mut std::collections::HashMap<String, std::time::Instant>,
) -> Result<(), tonic::Status> {
    use k8s_cri::v1::{ImageSpec, ListContainersRequest, ListImagesRequest, RemoveImageRequest};
    let in_use: std::collections::HashSet<String> = cri
        .runtime
        .clone()
        .list_containers(ListContainersRequest { filter: None })
        .await?
        .into_inner()
        .containers
        .into_iter()
        .map(|c| c.image_ref)
        .collect();
    let images = cri
        .images
        .clone()
        .list_images(ListImagesRequest { filter: None })
        .await?
        .into_inner()
        .images;
    let now = std::time::Instant::now();
    let mut candidates: Vec<(std::time::Instant, String, u64)> = Vec::new();
    for image in &images {
        let pause = image.repo_tags.iter().any(|t| t == PAUSE_IMAGE);
        if pause || in_use.contains(&image.id) {
            unused_since.remove(&image.id);
            continue;
        }
        let since = *unused_since.entry(image.id.clone()).or_insert(now);
        if now.duration_since(since) >= GC_MIN_AGE {
            candidates.push((since, image.id.clone(), image.size));
        }
    }
    let Ok(fs) = rustix::fs::statvfs(root) else {
        return Ok(());
    };
    let total = fs.f_blocks * fs.f_frsize;
    let mut used = total - fs.f_bavail * fs.f_frsize;
    if total == 0 || used * 100 / total < GC_HIGH_PERCENT {
        return Ok(());
    }
    candidates.sort();
    for (_, id, size) in candidates {
        if used * 100 / total < GC_LOW_PERCENT {
            break;
        }
        cri.images
            .clone()
            .remove_image(RemoveImageRequest {
                image: Some(ImageSpec {
                    image: id.clone(),
                    ..Default::default()
                }),
            })
            .await?;
        unused_since.remove(&id);
        used = used.saturating_sub(size);
        tracing::info!(image = id, size, "unused image removed to free disk space");
    }
    Ok(())
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
