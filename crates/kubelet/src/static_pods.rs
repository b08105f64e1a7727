//! Static pods: pod manifests in a directory of the node (`--pod-manifest-path`, default
//! `<agent-dir>/manifests`) that the kubelet runs without a scheduler, as upstream's does for
//! control planes. Each becomes a mirror pod in the API named `<name>-<node>`, bound to this
//! node, owned by the Node and annotated as upstream's (`kubernetes.io/config.source: file`,
//! `kubernetes.io/config.mirror` with the manifest's hash), which the pod workers then run
//! like any other pod. A changed manifest replaces its pod; a removed one deletes it; a mirror
//! pod deleted through the API comes back.
//!
//! Unlike upstream, the pod runs through its mirror: a node that cannot reach the API server
//! does not start new static pods (it keeps running the ones it has).

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    time::Duration,
};

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client,
    api::{DeleteParams, ListParams, PostParams},
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The annotations upstream puts on mirror pods.
const SOURCE: &str = "kubernetes.io/config.source";
const HASH: &str = "kubernetes.io/config.hash";
const MIRROR: &str = "kubernetes.io/config.mirror";
/// How often the directory is read.
const PERIOD: Duration = Duration::from_secs(2);

/// Keeps the mirror pods of `dir`'s manifests in the API, forever.
pub async fn run(client: Client, dir: PathBuf, node: String, node_uid: String) {
    if let Err(error) = std::fs::create_dir_all(&dir) {
        tracing::warn!(%error, dir = %dir.display(), "cannot create the static pod directory");
    }
    loop {
        if let Err(error) = sync(&client, &dir, &node, &node_uid).await {
            tracing::warn!(%error, "static pod sync failed");
        }
        tokio::time::sleep(PERIOD).await;
    }
}

async fn sync(client: &Client, dir: &Path, node: &str, node_uid: &str) -> Result<(), kube::Error> {
    let mut wanted: HashMap<(String, String), Value> = HashMap::new();
    for (file, manifest) in read_manifests(dir) {
        match mirror_pod(&manifest, node, node_uid) {
            Ok(pod) => {
                let key = (
                    pod["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    pod["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
                wanted.insert(key, pod);
            }
            Err(why) => tracing::warn!(file = %file.display(), why, "not a static pod manifest"),
        }
    }
    let all: Api<Pod> = Api::all(client.clone());
    let existing = all
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?;
    for pod in existing.items {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        if annotations.get(SOURCE).map(String::as_str) != Some("file") {
            continue;
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let key = (namespace.clone(), name.clone());
        let current = wanted
            .get(&key)
            .map(|w| &w["metadata"]["annotations"][HASH]);
        if current.is_some_and(|h| annotations.get(HASH).map(String::as_str) == h.as_str()) {
            wanted.remove(&key);
            continue;
        }
        if pod.metadata.deletion_timestamp.is_none() {
            // Gone from the directory, or changed: the old pod goes (and a new one comes).
            tracing::info!(pod = %name, "static pod manifest removed or changed");
            let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            api.delete(&name, &DeleteParams::default()).await?;
        }
        wanted.remove(&key);
    }
    for ((namespace, name), pod) in wanted {
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let pod: Pod = serde_json::from_value(pod).map_err(kube::Error::SerdeError)?;
        match api.create(&PostParams::default(), &pod).await {
            Ok(_) => tracing::info!(pod = %name, namespace, "mirror pod created for a static pod"),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(error) => tracing::warn!(pod = %name, %error, "could not create a mirror pod"),
        }
    }
    Ok(())
}

/// Every document of the directory's `.yaml`, `.yml` and `.json` files, by file.
fn read_manifests(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for document in serde_yaml::Deserializer::from_str(&text) {
            match Value::deserialize(document) {
                Ok(Value::Null) => {}
                Ok(value) => out.push((file.clone(), value)),
                Err(error) => {
                    tracing::warn!(file = %file.display(), %error, "unreadable static pod manifest")
                }
            }
        }
    }
    out
}

/// The mirror pod of a manifest: named `<name>-<node>`, bound to the node, owned by it, and
/// annotated with the manifest's hash.
fn mirror_pod(manifest: &Value, node: &str, node_uid: &str) -> Result<Value, String> {
    if manifest["kind"] != "Pod" || manifest["apiVersion"] != "v1" {
        return Err(format!(
            "kind {} apiVersion {} is not a v1 Pod",
            manifest["kind"], manifest["apiVersion"]
        ));
    }
    let name = manifest["metadata"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or("metadata.name is missing")?;
    let hash = format!(
        "{:x}",
        Sha256::digest(serde_json::to_vec(manifest).unwrap_or_default())
    );
    let hash = &hash[..32];
    let mut pod = manifest.clone();
    let metadata = &mut pod["metadata"];
    metadata["name"] = json!(format!("{name}-{node}"));
    if metadata["namespace"].as_str().is_none_or(str::is_empty) {
        metadata["namespace"] = json!("default");
    }
    let mut annotations: BTreeMap<String, Value> =
        serde_json::from_value(metadata["annotations"].take()).unwrap_or_default();
    annotations.insert(SOURCE.into(), json!("file"));
    annotations.insert(HASH.into(), json!(hash));
    annotations.insert(MIRROR.into(), json!(hash));
    metadata["annotations"] = json!(annotations);
    metadata["ownerReferences"] = json!([{
        "apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid, "controller": true,
    }]);
    pod["spec"]["nodeName"] = json!(node);
    Ok(pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_become_mirror_pods_of_the_node() {
        let manifest = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "annotations": {"team": "a"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        });
        let pod = mirror_pod(&manifest, "node-1", "uid-1").unwrap();
        assert_eq!(pod["metadata"]["name"], "web-node-1");
        assert_eq!(pod["metadata"]["namespace"], "default");
        assert_eq!(pod["spec"]["nodeName"], "node-1");
        let annotations = &pod["metadata"]["annotations"];
        assert_eq!(annotations["team"], "a");
        assert_eq!(annotations[SOURCE], "file");
        assert_eq!(annotations[HASH], annotations[MIRROR]);
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Node");
        let mut changed = manifest.clone();
        changed["spec"]["containers"][0]["image"] = json!("nginx");
        let other = mirror_pod(&changed, "node-1", "uid-1").unwrap();
        assert_ne!(other["metadata"]["annotations"][HASH], annotations[HASH]);
        assert!(
            mirror_pod(
                &json!({"apiVersion": "apps/v1", "kind": "Deployment"}),
                "n",
                "u"
            )
            .is_err()
        );
        assert!(
            mirror_pod(
                &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}}),
                "n",
                "u"
            )
            .is_err()
        );
    }

    #[test]
    fn every_document_of_every_manifest_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("c.json"),
            r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
        let names: Vec<String> = read_manifests(dir.path())
            .iter()
            .map(|(_, v)| v["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
