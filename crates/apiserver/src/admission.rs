//! Mutating admission that needs other objects than the one written (strategies see only
//! that one): upstream's ServiceAccount plugin, which on pod creation checks the pod's service
//! account exists, copies its image pull secrets and, unless automounting is turned off,
//! mounts a projected volume with an API token, the cluster CA and the namespace at
//! `/var/run/secrets/kubernetes.io/serviceaccount` in every container.

use std::time::Duration;

use apimachinery::{meta, resources, status::ApiError};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath,
    LocalObjectReference, ObjectFieldSelector, Pod, ProjectedVolumeSource, ServiceAccount,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use serde_json::Value;

use crate::{registry::generic::GenericStore, token::WARN_ONLY_EXPIRATION_SECONDS};

/// Where the API credentials are mounted (upstream's `DefaultAPITokenMountPath`).
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The prefix of the generated volume's name (upstream's `ServiceAccountVolumeName`).
pub const VOLUME_PREFIX: &str = "kube-api-access-";

/// The ConfigMap the root CA publisher keeps in every namespace, and its key.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// The key of the CA bundle in [`ROOT_CA_CONFIG_MAP`].
pub const ROOT_CA_KEY: &str = "ca.crt";

/// The annotation of mirror (static) pods, which admission leaves alone.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Whether new objects of `info` go through this admission (after the namespace check, as
/// upstream's NamespaceLifecycle plugin comes first).
pub fn needed(info: &resources::ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Pod"
}

/// Admits a new object of `info` in `namespace`, changing it in place.
pub async fn admit_create(
    store: &GenericStore,
    info: &resources::ResourceInfo,
    namespace: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if info.group.is_empty() && info.kind == "Pod" {
        service_account(store, info, namespace.unwrap_or(""), obj).await?;
    }
    Ok(())
}

/// The name admission errors give the object: its name, else its generateName, else
/// `Unknown` (upstream's `extractResourceName`).
fn error_name(obj: &Value) -> &str {
    [meta::name(obj), meta::str_field(obj, "generateName")]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or("Unknown")
}

/// The ServiceAccount admission plugin on pod creation.
async fn service_account(
    store: &GenericStore,
    info: &resources::ResourceInfo,
    namespace: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .is_some()
    {
        return Ok(());
    }
    let mut pod: Pod = serde_json::from_value(obj.clone()).map_err(|e| {
        ApiError::bad_request(format!(
            "Pod in version \"v1\" cannot be handled as a Pod: {e}"
        ))
    })?;
    let spec = pod.spec.get_or_insert_with(Default::default);
    let name = spec
        .service_account_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| spec.service_account.clone().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| "default".to_string());
    spec.service_account_name = Some(name.clone());
    let account = lookup(store, namespace, &name).await?.ok_or_else(|| {
        ApiError::forbidden_because(
            info,
            error_name(obj),
            format!(
                "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
            ),
        )
    })?;
    if should_automount(&account, &pod) {
        mount_token(&mut pod, &random_suffix());
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    if spec.image_pull_secrets.as_ref().is_none_or(Vec::is_empty)
        && let Some(secrets) = account
            .image_pull_secrets
            .as_ref()
            .filter(|s| !s.is_empty())
    {
        spec.image_pull_secrets = Some(
            secrets
                .iter()
                .map(|s| LocalObjectReference {
                    name: s.name.clone(),
                })
                .collect(),
        );
    }
    *obj = serde_json::to_value(&pod).map_err(ApiError::internal)?;
    Ok(())
}

/// Finds a service account: in the watch cache, then in the store, where the `default`
/// account is looked for ten times over a second or two, since the service account
/// controller creates it just after its namespace (upstream's `getServiceAccount`).
async fn lookup(
    store: &GenericStore,
    namespace: &str,
    name: &str,
) -> Result<Option<ServiceAccount>, ApiError> {
    let info = resources::find("", "v1", "serviceaccounts").expect("serviceaccounts are served");
    let decode = |v: Value| serde_json::from_value::<ServiceAccount>(v).map_err(ApiError::internal);
    if let Some(entry) = store.cache().resource(info).get(Some(namespace), name) {
        return decode(entry.object()).map(Some);
    }
    let attempts = if name == "default" { 10 } else { 1 };
    for attempt in 0..attempts {
        if attempt > 0 {
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 100;
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
        match store.get(info, Some(namespace), name).await {
            Ok(found) => return decode(found).map(Some),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The pod's choice wins, then the service account's; mounting is the default.
fn should_automount(account: &ServiceAccount, pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.automount_service_account_token)
        .or(account.automount_service_account_token)
        .unwrap_or(true)
}

/// Five characters of upstream's name generator alphabet.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The projected volume of the API credentials (upstream's `TokenVolumeSource`).
pub fn token_volume_source() -> ProjectedVolumeSource {
    ProjectedVolumeSource {
        default_mode: Some(0o644),
        sources: Some(vec![
            VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    path: "token".into(),
                    expiration_seconds: Some(WARN_ONLY_EXPIRATION_SECONDS),
                    audience: None,
                }),
                ..Default::default()
            },
            VolumeProjection {
                config_map: Some(ConfigMapProjection {
                    name: ROOT_CA_CONFIG_MAP.into(),
                    items: Some(vec![KeyToPath {
                        key: ROOT_CA_KEY.into(),
                        path: ROOT_CA_KEY.into(),
                        mode: None,
                    }]),
                    optional: None,
                }),
                ..Default::default()
            },
            VolumeProjection {
                downward_api: Some(DownwardAPIProjection {
                    items: Some(vec![DownwardAPIVolumeFile {
                        path: "namespace".into(),
                        field_ref: Some(ObjectFieldSelector {
                            api_version: Some("v1".into()),
                            field_path: "metadata.namespace".into(),
                        }),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            },
        ]),
    }
}

/// Mounts the credentials volume read-only at [`TOKEN_MOUNT_PATH`] in every init container
/// and container that does not mount something there already, adding the volume (named
/// `kube-api-access-<suffix>` unless the pod has one by that prefix) when one does (upstream's
/// `mountServiceAccountToken`).
fn mount_token(pod: &mut Pod, suffix: &str) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    let existing = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with(VOLUME_PREFIX))
        .map(|v| v.name.clone());
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{suffix}"));
    let mount = VolumeMount {
        name: volume_name.clone(),
        read_only: Some(true),
        mount_path: TOKEN_MOUNT_PATH.into(),
        ..Default::default()
    };
    let mut needed = false;
    let mut add = |containers: &mut [Container]| {
        for c in containers {
            let mounts = c.volume_mounts.get_or_insert_with(Vec::new);
            if !mounts.iter().any(|m| m.mount_path == TOKEN_MOUNT_PATH) {
                mounts.push(mount.clone());
                needed = true;
            }
        }
    };
    add(spec.init_containers.as_deref_mut().unwrap_or_default());
    add(&mut spec.containers);
    if existing.is_none() && needed {
        spec.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: volume_name,
            projected: Some(token_volume_source()),
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn every_container_mounts_the_credentials_volume() {
        let mut p = pod(json!({
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [
                {"name": "a", "image": "busybox"},
                {"name": "b", "image": "busybox", "volumeMounts": [
                    {"name": "own", "mountPath": TOKEN_MOUNT_PATH}
                ]},
            ],
            "volumes": [{"name": "own", "emptyDir": {}}],
        }));
        mount_token(&mut p, "x2b4d");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v["spec"]["volumes"][1],
            json!({"name": "kube-api-access-x2b4d", "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                    {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}},
                ],
            }})
        );
        let mount = json!({"mountPath": TOKEN_MOUNT_PATH, "name": "kube-api-access-x2b4d", "readOnly": true});
        assert_eq!(
            v["spec"]["initContainers"][0]["volumeMounts"],
            json!([mount])
        );
        assert_eq!(v["spec"]["containers"][0]["volumeMounts"], json!([mount]));
        // A container that mounts its own volume at the path keeps it.
        assert_eq!(
            v["spec"]["containers"][1]["volumeMounts"],
            json!([{"mountPath": TOKEN_MOUNT_PATH, "name": "own"}])
        );
    }

    #[test]
    fn an_existing_volume_is_reused_and_nothing_is_added_when_no_container_needs_it() {
        let mut p = pod(json!({
            "containers": [{"name": "a", "image": "busybox"}],
            "volumes": [{"name": "kube-api-access-abcde", "emptyDir": {}}],
        }));
        mount_token(&mut p, "zzzzz");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["spec"]["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(
            v["spec"]["containers"][0]["volumeMounts"][0]["name"],
            "kube-api-access-abcde"
        );
        let mut p = pod(json!({"containers": [{"name": "a", "image": "busybox",
            "volumeMounts": [{"name": "own", "mountPath": TOKEN_MOUNT_PATH}]}]}));
        mount_token(&mut p, "zzzzz");
        assert!(p.spec.unwrap().volumes.is_none());
    }

    #[test]
    fn the_pod_then_the_account_decide_on_automounting() {
        let account = |automount: Option<bool>| ServiceAccount {
            automount_service_account_token: automount,
            ..Default::default()
        };
        let with = |automount: Option<bool>| {
            pod(json!({"containers": [], "automountServiceAccountToken": automount}))
        };
        assert!(should_automount(&account(None), &with(None)));
        assert!(!should_automount(&account(Some(false)), &with(None)));
        assert!(should_automount(&account(Some(false)), &with(Some(true))));
        assert!(!should_automount(&account(None), &with(Some(false))));
    }

    #[test]
    fn suffixes_use_the_name_generator_alphabet() {
        let s = random_suffix();
        assert_eq!(s.len(), 5);
        assert!(
            s.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{s}"
        );
    }
}
