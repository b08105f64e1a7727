//! Facts about pods that several controllers need: activity, readiness, ownership; and the
//! metadata patches they make to pods: adoption, release.

use k8s_openapi::{
    api::core::v1::Pod,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use crate::Result;

/// The controlling owner of an object (the ownerReference with `controller: true`).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Whether a pod still counts toward its controller: not finished and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// Whether a pod has the condition `Ready=True`.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The ownerReference a controller puts on what it creates.
pub fn owner_reference<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).to_string(),
        kind: K::kind(&()).to_string(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Merge-patches a pod's metadata with `metadata`, which carries its own guard (the pod's
/// `uid` or `resourceVersion`): a pod gone (404) or changed meanwhile (409) is left alone,
/// for the sync its new version brings.
pub async fn patch_metadata(api: &Api<Pod>, pod: &Pod, metadata: Value) -> Result<()> {
    let patch = json!({ "metadata": metadata });
    match api
        .patch(
            pod.metadata.name.as_deref().unwrap_or(""),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The metadata patch that adds `owner` (a controller reference) to an orphan's
/// ownerReferences, guarded by the pod's uid.
pub fn adoption_patch(pod: &Pod, owner: OwnerReference) -> Value {
    let mut refs = pod.metadata.owner_references.clone().unwrap_or_default();
    refs.push(owner);
    json!({"ownerReferences": refs, "uid": pod.metadata.uid})
}

/// The metadata patch that removes the references to `owner_uid` from a pod's
/// ownerReferences, guarded by the pod's uid.
pub fn release_patch(pod: &Pod, owner_uid: &str) -> Value {
    let refs: Vec<&OwnerReference> = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.uid != owner_uid)
        .collect();
    json!({"ownerReferences": refs, "uid": pod.metadata.uid})
}

/// Claims an orphan pod that matches the owner's selector: adds the owner's controller
/// reference (upstream's `ClaimPods` adoption).
pub async fn adopt(api: &Api<Pod>, pod: &Pod, owner: OwnerReference) -> Result<()> {
    patch_metadata(api, pod, adoption_patch(pod, owner)).await
}

/// Lets go of a pod that no longer matches the owner's selector: removes the owner's
/// reference (upstream's `ClaimPods` release).
pub async fn release(api: &Api<Pod>, pod: &Pod, owner_uid: &str) -> Result<()> {
    patch_metadata(api, pod, release_patch(pod, owner_uid)).await
}

/// A pod from a template, owned by `owner`, named `<generate_name><random>`.
pub fn from_template(
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    namespace: &str,
    generate_name: &str,
    owner: OwnerReference,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// When the pod became Ready, if it is.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|t| t.0)
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        })
}

/// Whether the pod has been Ready for at least `min_ready_seconds` at `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    ready_since(pod).is_some_and(|since| {
        min_ready_seconds <= 0 || now.duration_since(since).as_secs() >= min_ready_seconds as i64
    })
}

/// The pods of `namespace` whose labels match every pair of `selector` (a Service's or
/// ReplicationController's equality selector).
pub fn matching_set(
    pods: &kube::runtime::reflector::Store<Pod>,
    namespace: &str,
    selector: &std::collections::BTreeMap<String, String>,
) -> Vec<std::sync::Arc<Pod>> {
    pods.state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .collect()
}

/// The pod's IPv4 address, if it has one.
pub fn ipv4(pod: &Pod) -> Option<&str> {
    let status = pod.status.as_ref()?;
    status
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .chain(status.pod_ip.as_deref())
        .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::core::v1::Pod,
        apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
    };
    use serde_json::json;

    use super::{adoption_patch, release_patch};

    fn reference(kind: &str, uid: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: kind.into(),
            name: uid.into(),
            uid: uid.into(),
            controller: Some(controller),
            block_owner_deletion: Some(controller),
        }
    }

    fn pod(owners: Option<Vec<OwnerReference>>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                uid: Some("pod-uid".into()),
                owner_references: owners,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn adoption_adds_the_controller_reference_guarded_by_uid() {
        let owner = reference("ReplicaSet", "rs-uid", true);
        assert_eq!(
            adoption_patch(&pod(None), owner.clone()),
            json!({"ownerReferences": [owner], "uid": "pod-uid"})
        );
        let other = reference("ConfigMap", "cm-uid", false);
        assert_eq!(
            adoption_patch(&pod(Some(vec![other.clone()])), owner.clone()),
            json!({"ownerReferences": [other, owner], "uid": "pod-uid"})
        );
    }

    #[test]
    fn release_drops_only_the_owners_references() {
        let owner = reference("ReplicaSet", "rs-uid", true);
        let other = reference("ConfigMap", "cm-uid", false);
        assert_eq!(
            release_patch(&pod(Some(vec![other.clone(), owner])), "rs-uid"),
            json!({"ownerReferences": [other], "uid": "pod-uid"})
        );
        assert_eq!(
            release_patch(&pod(None), "rs-uid"),
            json!({"ownerReferences": [], "uid": "pod-uid"})
        );
    }
}
