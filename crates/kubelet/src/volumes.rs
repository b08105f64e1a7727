//! Pod volumes on the node as host directories bind-mounted into the containers through CRI:
//! emptyDir, hostPath (with its type checks), configMap and secret (files written from the
//! API objects, rewritten when they change so running pods see updates). Everything of a pod
//! lives under its directory in the agent dir.

use std::{
    collections::{BTreeMap, HashMap},
    os::unix::fs::{FileTypeExt, PermissionsExt},
    path::{Path, PathBuf},
};

use k8s_cri::v1::Mount;
use k8s_openapi::api::core::v1::{ConfigMap, Container, KeyToPath, Pod, Secret, Volume};
use kube::{Api, Client};

/// Makes every volume of the pod ready under `pod_dir` and returns each one's host path; an
/// error is the message of upstream's FailedMount event.
pub async fn prepare(
    client: &Client,
    pod: &Pod,
    pod_dir: &Path,
) -> Result<HashMap<String, PathBuf>, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = HashMap::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let path = prepare_one(client, namespace, volume, pod_dir).await?;
        out.insert(volume.name.clone(), path);
    }
    Ok(out)
}

async fn prepare_one(
    client: &Client,
    namespace: &str,
    volume: &Volume,
    pod_dir: &Path,
) -> Result<PathBuf, String> {
    let io = |e: std::io::Error| format!("volume {:?}: {e}", volume.name);
    if let Some(host) = &volume.host_path {
        let path = PathBuf::from(&host.path);
        check_host_path(&path, host.type_.as_deref().unwrap_or(""))?;
        return Ok(path);
    }
    let dir = pod_dir.join("volumes").join(&volume.name);
    if volume.empty_dir.is_some() {
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).map_err(io)?;
        return Ok(dir);
    }
    if let Some(source) = &volume.config_map {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let data = match api.get_opt(&source.name).await.map_err(|e| e.to_string())? {
            Some(cm) => {
                let mut data: BTreeMap<String, Vec<u8>> = cm
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes()))
                    .collect();
                data.extend(
                    cm.binary_data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0)),
                );
                data
            }
            None if source.optional == Some(true) => BTreeMap::new(),
            None => return Err(format!("configmap \"{}\" not found", source.name)),
        };
        write_files(&dir, &data, source.items.as_deref(), source.default_mode).map_err(io)?;
        return Ok(dir);
    }
    if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let data = match api.get_opt(&name).await.map_err(|e| e.to_string())? {
            Some(secret) => {
                let mut data: BTreeMap<String, Vec<u8>> = secret
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect();
                data.extend(
                    secret
                        .string_data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.into_bytes())),
                );
                data
            }
            None if source.optional == Some(true) => BTreeMap::new(),
            None => return Err(format!("secret \"{name}\" not found")),
        };
        write_files(&dir, &data, source.items.as_deref(), source.default_mode).map_err(io)?;
        return Ok(dir);
    }
    Err(format!(
        "volume {:?}: this volume type is not supported by this node yet",
        volume.name
    ))
}

/// Upstream's hostPath type checks; the `OrCreate` types create what is missing.
fn check_host_path(path: &Path, kind: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path);
    let fail = |what: &str| {
        Err(format!(
            "hostPath type check failed: {} is not {what}",
            path.display()
        ))
    };
    match kind {
        "DirectoryOrCreate" if meta.is_err() => {
            std::fs::create_dir_all(path).map_err(|e| format!("creating {}: {e}", path.display()))
        }
        "FileOrCreate" if meta.is_err() => std::fs::File::create(path)
            .map(|_| ())
            .map_err(|e| format!("creating {}: {e}", path.display())),
        "Directory" | "DirectoryOrCreate" if !meta.as_ref().is_ok_and(|m| m.is_dir()) => {
            fail("a directory")
        }
        "File" | "FileOrCreate" if !meta.as_ref().is_ok_and(|m| m.is_file()) => fail("a file"),
        "Socket" if !meta.as_ref().is_ok_and(|m| m.file_type().is_socket()) => {
            fail("a socket file")
        }
        "CharDevice" if !meta.as_ref().is_ok_and(|m| m.file_type().is_char_device()) => {
            fail("a character device")
        }
        "BlockDevice" if !meta.as_ref().is_ok_and(|m| m.file_type().is_block_device()) => {
            fail("a block device")
        }
        _ => Ok(()),
    }
}

/// Writes the keys (or the chosen items) as files, rewriting only what changed, each through
/// a temporary file and a rename so readers never see half a file.
fn write_files(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let files: Vec<(String, &Vec<u8>, i32)> = match items {
        Some(items) => items
            .iter()
            .filter_map(|i| {
                data.get(&i.key)
                    .map(|d| (i.path.clone(), d, i.mode.or(default_mode).unwrap_or(0o644)))
            })
            .collect(),
        None => data
            .iter()
            .map(|(k, d)| (k.clone(), d, default_mode.unwrap_or(0o644)))
            .collect(),
    };
    for (name, content, mode) in files {
        let path = dir.join(&name);
        if std::fs::read(&path).is_ok_and(|old| &old == content) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = dir.join(format!(".{}.tmp", name.replace('/', "_")));
        std::fs::write(&tmp, content)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode as u32))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// The CRI mounts of a container's volumeMounts.
pub fn mounts(
    container: &Container,
    volumes: &HashMap<String, PathBuf>,
) -> Result<Vec<Mount>, String> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            let host = volumes
                .get(&m.name)
                .ok_or_else(|| format!("volume {:?} not found in the pod", m.name))?;
            let host = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                Some(sub) => {
                    let path = host.join(sub);
                    if !path.exists() {
                        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
                    }
                    path
                }
                None => host.clone(),
            };
            Ok(Mount {
                container_path: m.mount_path.clone(),
                host_path: host.to_string_lossy().into_owned(),
                readonly: m.read_only == Some(true),
                ..Default::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_types_are_checked_and_created() {
        let dir = tempfile::tempdir().unwrap();
        let new_dir = dir.path().join("a/b");
        check_host_path(&new_dir, "DirectoryOrCreate").unwrap();
        assert!(new_dir.is_dir());
        let file = dir.path().join("f");
        check_host_path(&file, "FileOrCreate").unwrap();
        assert!(file.is_file());
        assert_eq!(
            check_host_path(&file, "Directory").unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory",
                file.display()
            )
        );
        assert!(check_host_path(&new_dir, "Socket").is_err());
        assert!(check_host_path(Path::new("/dev/null"), "CharDevice").is_ok());
    }

    #[test]
    fn files_follow_items_and_modes_and_are_rewritten_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = BTreeMap::from([("a".to_string(), b"1".to_vec())]);
        let items = [KeyToPath {
            key: "a".into(),
            path: "sub/x".into(),
            mode: Some(0o600),
        }];
        write_files(dir.path(), &data, Some(&items), None).unwrap();
        let x = dir.path().join("sub/x");
        assert_eq!(std::fs::read(&x).unwrap(), b"1");
        assert_eq!(
            std::fs::metadata(&x).unwrap().permissions().mode() & 0o777,
            0o600
        );
        data.insert("a".into(), b"2".to_vec());
        write_files(dir.path(), &data, Some(&items), None).unwrap();
        assert_eq!(std::fs::read(&x).unwrap(), b"2");
    }
}
