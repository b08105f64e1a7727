//! Pod volumes on the node as host directories bind-mounted into the containers through CRI:
//! emptyDir, hostPath (with its type checks), configMap, secret, downwardAPI and projected
//! (files written from the API objects, the pod itself and service account tokens, rewritten
//! when they change so running pods see updates). Everything of a pod lives under its
//! directory in the agent dir.

use std::{
    collections::{BTreeMap, HashMap},
    os::unix::fs::{FileTypeExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{LazyLock, Mutex},
};

use apimachinery::validation::parse_quantity;
use k8s_cri::v1::Mount;
use k8s_openapi::api::{
    authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec},
    core::v1::{
        ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Node, Pod, Secret, ServiceAccount,
        ServiceAccountTokenProjection, Volume,
    },
};
use kube::{Api, Client, api::PostParams};

/// The mode of files of secret, configMap, downwardAPI and projected volumes without one.
const DEFAULT_MODE: i32 = 0o644;

/// One file of a volume: its path in the volume, its content and its mode.
type File = (String, Vec<u8>, i32);

/// Makes every volume of the pod ready under `pod_dir` and returns each one's host path; an
/// error is the message of upstream's FailedMount event.
pub async fn prepare(
    client: &Client,
    pod: &Pod,
    pod_dir: &Path,
) -> Result<HashMap<String, PathBuf>, String> {
    let mut out = HashMap::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let path = prepare_one(client, pod, volume, pod_dir).await?;
        out.insert(volume.name.clone(), path);
    }
    Ok(out)
}

async fn prepare_one(
    client: &Client,
    pod: &Pod,
    volume: &Volume,
    pod_dir: &Path,
) -> Result<PathBuf, String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
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
        let data = config_map(client, namespace, &source.name, source.optional).await?;
        write_files(&dir, &data, source.items.as_deref(), source.default_mode).map_err(io)?;
        return Ok(dir);
    }
    if let Some(source) = &volume.secret {
        let name = source.secret_name.clone().unwrap_or_default();
        let data = secret(client, namespace, &name, source.optional).await?;
        write_files(&dir, &data, source.items.as_deref(), source.default_mode).map_err(io)?;
        return Ok(dir);
    }
    if let Some(source) = &volume.downward_api {
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        let mut node = NodeAllocatable::new(client, pod);
        let files = downward_files(
            pod,
            source.items.as_deref().unwrap_or_default(),
            mode,
            &mut node,
        )
        .await?;
        write_entries(&dir, &files).map_err(io)?;
        return Ok(dir);
    }
    if let Some(source) = &volume.projected {
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        let mut node = NodeAllocatable::new(client, pod);
        let mut files: Vec<File> = Vec::new();
        for projection in source.sources.iter().flatten() {
            if let Some(s) = &projection.config_map {
                let data = config_map(client, namespace, &s.name, s.optional).await?;
                files.extend(select(&data, s.items.as_deref(), Some(mode)));
            } else if let Some(s) = &projection.secret {
                let data = secret(client, namespace, &s.name, s.optional).await?;
                files.extend(select(&data, s.items.as_deref(), Some(mode)));
            } else if let Some(s) = &projection.downward_api {
                let items = s.items.as_deref().unwrap_or_default();
                files.extend(downward_files(pod, items, mode, &mut node).await?);
            } else if let Some(s) = &projection.service_account_token {
                let token = service_account_token(client, pod, s).await?;
                files.push((s.path.clone(), token.into_bytes(), mode));
            } else if projection.cluster_trust_bundle.is_some() {
                return Err(format!(
                    "volume {:?}: clusterTrustBundle projections are not supported by this node",
                    volume.name
                ));
            }
        }
        write_entries(&dir, &files).map_err(io)?;
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

/// The data of a ConfigMap (`data` and `binaryData`); none for a missing optional one.
async fn config_map(
    client: &Client,
    namespace: &str,
    name: &str,
    optional: Option<bool>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await.map_err(|e| e.to_string())? {
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
            Ok(data)
        }
        None if optional == Some(true) => Ok(BTreeMap::new()),
        None => Err(format!("configmap \"{name}\" not found")),
    }
}

/// The data of a Secret; none for a missing optional one.
async fn secret(
    client: &Client,
    namespace: &str,
    name: &str,
    optional: Option<bool>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await.map_err(|e| e.to_string())? {
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
            Ok(data)
        }
        None if optional == Some(true) => Ok(BTreeMap::new()),
        None => Err(format!("secret \"{name}\" not found")),
    }
}

/// The files of the keys, or of the chosen items, with their modes.
fn select(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
) -> Vec<File> {
    let default_mode = default_mode.unwrap_or(DEFAULT_MODE);
    match items {
        Some(items) => items
            .iter()
            .filter_map(|i| {
                data.get(&i.key)
                    .map(|d| (i.path.clone(), d.clone(), i.mode.unwrap_or(default_mode)))
            })
            .collect(),
        None => data
            .iter()
            .map(|(k, d)| (k.clone(), d.clone(), default_mode))
            .collect(),
    }
}

/// Writes the keys (or the chosen items) as files; see [`write_entries`].
fn write_files(
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
) -> std::io::Result<()> {
    write_entries(dir, &select(data, items, default_mode))
}

/// Writes files, rewriting only what changed, each through a temporary file and a rename so
/// readers never see half a file.
fn write_entries(dir: &Path, files: &[File]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, content, mode) in files {
        let path = dir.join(name);
        let mode = std::fs::Permissions::from_mode(*mode as u32);
        if std::fs::read(&path).is_ok_and(|old| &old == content) {
            if std::fs::metadata(&path)
                .is_ok_and(|m| m.permissions().mode() & 0o7777 != mode.mode())
            {
                std::fs::set_permissions(&path, mode)?;
            }
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = dir.join(format!(".{}.tmp", name.replace('/', "_")));
        std::fs::write(&tmp, content)?;
        std::fs::set_permissions(&tmp, mode)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// The node's allocatable resources, fetched once and only when a resourceFieldRef asks for a
/// limit the container does not set (upstream falls back to the node's allocatable).
struct NodeAllocatable<'a> {
    client: &'a Client,
    node: Option<String>,
    fetched: Option<BTreeMap<String, String>>,
}

impl<'a> NodeAllocatable<'a> {
    fn new(client: &'a Client, pod: &Pod) -> NodeAllocatable<'a> {
        NodeAllocatable {
            client,
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            fetched: None,
        }
    }

    async fn get(&mut self, resource: &str) -> Result<Option<String>, String> {
        if self.fetched.is_none() {
            let allocatable = match &self.node {
                Some(name) => Api::<Node>::all(self.client.clone())
                    .get_opt(name)
                    .await
                    .map_err(|e| e.to_string())?
                    .and_then(|n| n.status)
                    .and_then(|s| s.allocatable)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect(),
                None => BTreeMap::new(),
            };
            self.fetched = Some(allocatable);
        }
        Ok(self.fetched.as_ref().and_then(|a| a.get(resource)).cloned())
    }
}

/// The files of a downwardAPI volume or projection.
async fn downward_files(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
    node: &mut NodeAllocatable<'_>,
) -> Result<Vec<File>, String> {
    let mut files = Vec::new();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            pod_field(pod, &f.field_path)?
        } else if let Some(r) = &item.resource_field_ref {
            let container = r.container_name.as_deref().unwrap_or("");
            let spec = pod.spec.as_ref();
            let found = spec
                .iter()
                .flat_map(|s| {
                    s.containers
                        .iter()
                        .chain(s.init_containers.iter().flatten())
                })
                .find(|c| c.name == container)
                .ok_or_else(|| format!("container {container} not found"))?;
            let fallback = match r.resource.strip_prefix("limits.") {
                Some(name) if limit(found, name).is_none() => node.get(name).await?,
                _ => None,
            };
            let divisor = r.divisor.as_ref().map(|d| d.0.as_str());
            container_resource(found, &r.resource, divisor, fallback.as_deref())?
        } else {
            continue;
        };
        files.push((
            item.path.clone(),
            value.into_bytes(),
            item.mode.unwrap_or(default_mode),
        ));
    }
    Ok(files)
}

/// A pod field as a downwardAPI volume shows it: labels and annotations as `key="value"`
/// lines (upstream's `fieldpath.ExtractFieldPathAsString` and `FormatMap`).
fn pod_field(pod: &Pod, path: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        _ => keyed("metadata.labels['", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref()))
            .ok_or_else(|| format!("unsupported fieldPath: {path}"))?,
    })
}

/// `key="value"` lines in key order, values quoted as Go's `%q` does, no final newline.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `strconv.Quote`: double quotes, with escapes for quotes, backslashes and what is not
/// printable.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A container's limit of a resource, if set.
fn limit<'c>(container: &'c Container, name: &str) -> Option<&'c str> {
    container
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get(name)
        .map(|q| q.0.as_str())
}

/// A resourceFieldRef's value: the request or limit (or `fallback` for a missing limit)
/// divided by the divisor and rounded up; cpu in thousandths (upstream's
/// `ExtractContainerResourceValue`).
fn container_resource(
    container: &Container,
    resource: &str,
    divisor: Option<&str>,
    fallback: Option<&str>,
) -> Result<String, String> {
    let unsupported = || format!("unsupported container resource : {resource}");
    let (kind, name) = resource.split_once('.').ok_or_else(unsupported)?;
    let resources = container.resources.as_ref();
    let set = match kind {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => return Err(unsupported()),
    }
    .and_then(|m| m.get(name))
    .map(|q| q.0.as_str());
    let quantity = |text: &str| parse_quantity(text).map_err(|e| format!("{text:?}: {e}"));
    let value = match set.or(fallback) {
        Some(text) => quantity(text)?,
        None => quantity("0")?,
    };
    let divisor = match divisor.map(quantity).transpose()? {
        Some(d) if !d.is_zero() => d,
        _ => quantity("1")?,
    };
    let (n, d) = if name == "cpu" {
        (value.milli_value(), divisor.milli_value())
    } else {
        (value.value(), divisor.value())
    };
    if d == 0 {
        return Err(format!("divisor of {resource} is too small"));
    }
    Ok(((n + d - 1).div_euclid(d)).to_string())
}

/// A service account token of the cached ones and when it needs to be replaced.
#[derive(Clone, Debug, PartialEq)]
struct CachedToken {
    token: String,
    /// `status.expirationTimestamp`, in seconds since the epoch.
    expires: i64,
    /// The lifetime asked for.
    expiration_seconds: i64,
}

/// Tokens are refreshed at the latest a day after they were issued.
const MAX_TOKEN_AGE: i64 = 24 * 60 * 60;

impl CachedToken {
    /// Whether the token is due for replacement: 80% of its lifetime is over, or it is a day
    /// old (upstream's token manager, without its jitter).
    fn requires_refresh(&self, now: i64) -> bool {
        let issued = self.expires - self.expiration_seconds;
        now > issued + MAX_TOKEN_AGE || now > self.expires - self.expiration_seconds * 20 / 100
    }
}

/// The tokens this kubelet holds, by service account, audience, lifetime and pod.
static TOKENS: LazyLock<Mutex<HashMap<String, CachedToken>>> = LazyLock::new(Default::default);

/// A token for the pod's service account bound to the pod, from the cache while it is fresh,
/// else from a TokenRequest; a failed request falls back on an unexpired cached token.
async fn service_account_token(
    client: &Client,
    pod: &Pod,
    projection: &ServiceAccountTokenProjection,
) -> Result<String, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let account = spec
        .and_then(|s| s.service_account_name.clone().or(s.service_account.clone()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let audience = projection.audience.clone().filter(|a| !a.is_empty());
    let expiration_seconds = projection.expiration_seconds.unwrap_or(3600);
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
    let key = format!(
        "{namespace}/{account}/{}/{expiration_seconds}/{pod_uid}",
        audience.as_deref().unwrap_or("")
    );
    let now = jiff::Timestamp::now().as_second();
    let cached = {
        let mut tokens = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
        tokens.retain(|_, t| t.expires > now);
        tokens.get(&key).cloned()
    };
    if let Some(t) = &cached
        && !t.requires_refresh(now)
    {
        return Ok(t.token.clone());
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.into_iter().collect(),
            expiration_seconds: Some(expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod_name),
                uid: Some(pod_uid),
            }),
        },
        ..Default::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let answer: Result<TokenRequest, _> = api
        .create_subresource("token", &account, &PostParams::default(), &request)
        .await;
    let status = match answer.map(|a| a.status) {
        Ok(Some(status)) => status,
        Ok(None) => return Err(format!("no token in the TokenRequest for {account}")),
        Err(e) => {
            return match cached {
                Some(t) if t.expires > now => {
                    tracing::warn!(%e, account, "token refresh failed; using the current token");
                    Ok(t.token)
                }
                _ => Err(format!("failed to fetch token: {e}")),
            };
        }
    };
    let fresh = CachedToken {
        token: status.token,
        expires: status.expiration_timestamp.0.as_second(),
        expiration_seconds,
    };
    TOKENS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, fresh.clone());
    Ok(fresh.token)
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
    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u-1",
                "labels": {"tier": "front", "app": "web"},
                "annotations": {"note": "say \"hi\"\n"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {
                "requests": {"cpu": "250m", "memory": "64Mi"},
                "limits": {"memory": "128Mi"}}}]},
        }))
        .unwrap()
    }

    #[test]
    fn pod_fields_read_as_a_downward_api_volume_shows_them() {
        let pod = pod();
        assert_eq!(pod_field(&pod, "metadata.name").unwrap(), "web");
        assert_eq!(pod_field(&pod, "metadata.namespace").unwrap(), "ns");
        assert_eq!(pod_field(&pod, "metadata.uid").unwrap(), "u-1");
        assert_eq!(
            pod_field(&pod, "metadata.labels").unwrap(),
            "app=\"web\"\ntier=\"front\""
        );
        assert_eq!(
            pod_field(&pod, "metadata.annotations").unwrap(),
            r#"note="say \"hi\"\n""#
        );
        assert_eq!(pod_field(&pod, "metadata.labels['tier']").unwrap(), "front");
        assert_eq!(pod_field(&pod, "metadata.labels['none']").unwrap(), "");
        assert_eq!(
            pod_field(&pod, "status.podIP").unwrap_err(),
            "unsupported fieldPath: status.podIP"
        );
        assert_eq!(go_quote("a\u{1}\u{7f}é"), r#""a\x01\x7fé""#);
    }

    #[test]
    fn resources_are_divided_and_rounded_up() {
        let pod = pod();
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let value = |resource: &str, divisor: Option<&str>, fallback: Option<&str>| {
            container_resource(c, resource, divisor, fallback).unwrap()
        };
        assert_eq!(value("requests.cpu", None, None), "1");
        assert_eq!(value("requests.cpu", Some("1m"), None), "250");
        assert_eq!(value("requests.memory", Some("1Mi"), None), "64");
        assert_eq!(value("limits.memory", None, None), "134217728");
        assert_eq!(value("limits.cpu", Some("1m"), Some("4")), "4000");
        assert_eq!(value("requests.ephemeral-storage", None, None), "0");
        assert!(container_resource(c, "bogus", None, None).is_err());
    }

    #[test]
    fn tokens_are_refreshed_after_80_percent_of_their_life_or_a_day() {
        let token = CachedToken {
            token: "t".into(),
            expires: 1000 + 3600,
            expiration_seconds: 3600,
        };
        assert!(!token.requires_refresh(1000));
        assert!(!token.requires_refresh(1000 + 2880));
        assert!(token.requires_refresh(1000 + 2881));
        let long = CachedToken {
            token: "t".into(),
            expires: 1000 + 7 * 86_400,
            expiration_seconds: 7 * 86_400,
        };
        assert!(!long.requires_refresh(1000 + 86_400));
        assert!(long.requires_refresh(1000 + 86_401));
    }

    #[test]
    fn projected_files_take_the_default_mode_unless_an_item_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = BTreeMap::from([
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ]);
        let mut files = select(&data, None, Some(0o400));
        files.push(("token".into(), b"jwt".to_vec(), 0o644));
        write_entries(dir.path(), &files).unwrap();
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!((mode("a"), mode("token")), (0o400, 0o644));
        // A changed mode alone is applied too.
        files[0].2 = 0o440;
        write_entries(dir.path(), &files).unwrap();
        assert_eq!(mode("a"), 0o440);
    }
}
