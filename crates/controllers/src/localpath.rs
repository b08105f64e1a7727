//! The local-path provisioner (k3s' local-path-provisioner, built in): keeps the default
//! StorageClass `local-path`, creates a hostPath PersistentVolume pinned to the node the
//! scheduler chose for each claim of a class it provisions, and deletes released volumes whose
//! reclaim policy is Delete.
//!
//! The kubelet creates the volume's directory when it mounts it (`DirectoryOrCreate`); no
//! helper pod runs. FIXME: the directory of a deleted volume stays on its node.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::{
    api::{
        core::v1::{
            HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
            ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec,
            VolumeNodeAffinity,
        },
        storage::v1::StorageClass,
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};

use crate::{
    Context, Result,
    persistentvolume::{self as binder, PROVISIONED_BY, SELECTED_NODE, STORAGE_PROVISIONER},
};

/// The provisioner's name, as StorageClasses and volumes name it.
pub const PROVISIONER: &str = "rudder.dev/local-path";
/// The StorageClass created at start.
pub const CLASS: &str = "local-path";
/// Where the volumes' directories live on each node.
pub const BASE_DIR: &str = "/var/lib/rudder/storage";

/// Runs the provisioner.
pub async fn run(ctx: Arc<Context>) {
    ensure_class(&ctx).await;
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    let volumes = ctx.informers.get::<PersistentVolume>();
    // The binder has the same primary kinds: with the caches complete before the controllers
    // start, their readiness waits never block.
    claims.ready().await;
    volumes.ready().await;
    let claim_loop = Controller::for_shared_stream(claims.subscribe(), claims.store());
    let volume_loop = Controller::for_shared_stream(volumes.subscribe(), volumes.store());
    futures::join!(
        crate::drive("localpath-claims", claim_loop, ctx.clone(), provision),
        crate::drive("localpath-volumes", volume_loop, ctx, delete_released),
    );
}

/// The StorageClass `local-path`, the cluster's default.
pub fn storage_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(CLASS.into()),
            annotations: Some(BTreeMap::from([(
                binder::DEFAULT_CLASS.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        provisioner: PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..Default::default()
    }
}

/// Creates the StorageClass unless it exists, retrying until the API server answers.
async fn ensure_class(ctx: &Context) {
    let api: Api<StorageClass> = Api::all(ctx.client.clone());
    loop {
        match api.create(&PostParams::default(), &storage_class()).await {
            Ok(_) => {
                tracing::info!(class = CLASS, "created the default storage class");
                return;
            }
            Err(kube::Error::Api(e)) if e.code == 409 => return,
            Err(error) => {
                tracing::warn!(%error, "could not create the local-path storage class; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The name of the volume provisioned for a claim.
pub fn volume_name_for(pvc: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", pvc.metadata.uid.as_deref().unwrap_or_default())
}

/// The volume for a claim on `hostname` (the node's `kubernetes.io/hostname` label).
pub fn volume_for(
    pvc: &PersistentVolumeClaim,
    class: &StorageClass,
    hostname: &str,
) -> PersistentVolume {
    let name = volume_name_for(pvc);
    let ns = pvc.metadata.namespace.clone().unwrap_or_default();
    let claim = pvc.metadata.name.clone().unwrap_or_default();
    let spec = pvc.spec.clone().unwrap_or_default();
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref()?.get("storage").cloned())
        .unwrap_or_else(|| Quantity("0".into()));
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([(
                PROVISIONED_BY.to_string(),
                PROVISIONER.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_string(), storage)])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(ns.clone()),
                name: Some(claim.clone()),
                uid: pvc.metadata.uid.clone(),
                resource_version: pvc.metadata.resource_version.clone(),
                ..Default::default()
            }),
            host_path: Some(HostPathVolumeSource {
                path: format!("{BASE_DIR}/{name}_{ns}_{claim}"),
                type_: Some("DirectoryOrCreate".into()),
            }),
            mount_options: class.mount_options.clone(),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![hostname.to_string()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".into()),
            ),
            storage_class_name: class.metadata.name.clone(),
            volume_mode: spec.volume_mode.clone(),
            ..Default::default()
        }),
        status: None,
    }
}

/// Provisions a volume for a claim that the binder handed to this provisioner.
async fn provision(pvc: Arc<PersistentVolumeClaim>, ctx: Arc<Context>) -> Result<Action> {
    let annotations = pvc.metadata.annotations.clone().unwrap_or_default();
    if pvc.metadata.deletion_timestamp.is_some()
        || !binder::volume_name(&pvc).is_empty()
        || annotations.get(STORAGE_PROVISIONER).map(String::as_str) != Some(PROVISIONER)
    {
        return Ok(Action::await_change());
    }
    let class_name = binder::class_of(&pvc).unwrap_or_default();
    let Some(class) = ctx
        .informers
        .get::<StorageClass>()
        .store()
        .get(&ObjectRef::new(class_name))
        .filter(|c| c.provisioner == PROVISIONER)
    else {
        return Ok(Action::await_change());
    };
    let name = volume_name_for(&pvc);
    let volumes = ctx.informers.get::<PersistentVolume>().store();
    if volumes.get(&ObjectRef::new(&name)).is_some() {
        return Ok(Action::await_change());
    }
    let Some(node) = annotations.get(SELECTED_NODE) else {
        ctx.recorder.warning(
            &*pvc,
            "ProvisioningFailed",
            "failed to provision volume with StorageClass \"local-path\": configuration error, no node was specified".into(),
        );
        return Ok(Action::await_change());
    };
    let hostname = ctx
        .informers
        .get::<Node>()
        .store()
        .get(&ObjectRef::new(node))
        .and_then(|n| {
            n.metadata
                .labels
                .as_ref()?
                .get("kubernetes.io/hostname")
                .cloned()
        })
        .unwrap_or_else(|| node.clone());
    let claim = format!(
        "{}/{}",
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
        pvc.metadata.name.as_deref().unwrap_or_default()
    );
    ctx.recorder.normal(
        &*pvc,
        "Provisioning",
        format!("External provisioner is provisioning volume for claim \"{claim}\""),
    );
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api
        .create(&PostParams::default(), &volume_for(&pvc, &class, &hostname))
        .await
    {
        Ok(_) => {
            ctx.recorder.normal(
                &*pvc,
                "ProvisioningSucceeded",
                format!("Successfully provisioned volume {name}"),
            );
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Action::await_change()),
        Err(e) => {
            ctx.recorder.warning(
                &*pvc,
                "ProvisioningFailed",
                format!("failed to provision volume with StorageClass \"{class_name}\": {e}"),
            );
            Err(e.into())
        }
    }
}

/// Deletes a volume of this provisioner once it is Released with reclaim policy Delete.
async fn delete_released(pv: Arc<PersistentVolume>, ctx: Arc<Context>) -> Result<Action> {
    let ours = pv
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROVISIONED_BY))
        .map(String::as_str)
        == Some(PROVISIONER);
    let released = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
    let delete = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        == Some("Delete");
    if !(ours && released && delete) || pv.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = pv.metadata.name.clone().unwrap_or_default();
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => tracing::info!(volume = name, "deleted a released local-path volume"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => {
            ctx.recorder
                .warning(&*pv, "VolumeFailedDelete", e.to_string());
            return Err(e.into());
        }
    }
    Ok(Action::await_change())
}
