//! The PersistentVolume binder: binds each pending claim to the smallest available volume
//! that satisfies it (class, access modes, size, volume mode, selector, node affinity), gives
//! claims without a class the default StorageClass, hands claims with no volume to their
//! class's provisioner (after the scheduler picked a node when the class waits for the first
//! consumer), and releases volumes whose claim is gone (Retain keeps them `Released`, Delete
//! deletes them unless their external provisioner does).

use std::{collections::BTreeMap, sync::Arc};

use apimachinery::validation::{Quantity, parse_quantity};
use k8s_openapi::api::{
    core::v1::{
        Node, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim,
    },
    storage::v1::StorageClass,
};
use kube::{
    Api, Resource,
    api::{DeleteParams, Patch, PatchParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{Context, Result};

/// Set on both sides once the controller bound them.
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on a side whose binding the controller (not the user) wrote.
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The provisioner asked to create a claim's volume.
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The beta name of [`STORAGE_PROVISIONER`], still set for older provisioners.
pub const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// The node the scheduler chose for a claim's first consumer.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner that created a volume.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Marks the cluster's default StorageClass.
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// Runs the binder: one loop over claims, one over volumes.
pub async fn run(ctx: Arc<Context>) {
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    let volumes = ctx.informers.get::<PersistentVolume>();
    let classes = ctx.informers.get::<StorageClass>();
    // The local-path provisioner has the same primary kinds: with the caches complete before
    // the controllers start, their readiness waits never block.
    claims.ready().await;
    volumes.ready().await;
    classes.ready().await;
    let claim_store = claims.store();
    let claim_loop = Controller::for_shared_stream(claims.subscribe(), claims.store())
        .watches_shared_stream(volumes.subscribe(), |pv: Arc<PersistentVolume>| {
            let r = pv.spec.as_ref()?.claim_ref.as_ref()?;
            Some(ObjectRef::new(r.name.as_deref()?).within(r.namespace.as_deref()?))
        })
        .watches_shared_stream(classes.subscribe(), move |_class: Arc<StorageClass>| {
            claim_store
                .state()
                .iter()
                .filter(|c| volume_name(c).is_empty())
                .map(|c| ObjectRef::from_obj(&**c))
                .collect::<Vec<_>>()
        });
    let volume_store = volumes.store();
    let volume_loop = Controller::for_shared_stream(volumes.subscribe(), volumes.store())
        .watches_shared_stream(
            claims.subscribe(),
            move |pvc: Arc<PersistentVolumeClaim>| {
                let mut refs: Vec<ObjectRef<PersistentVolume>> = volume_store
                    .state()
                    .iter()
                    .filter(|pv| claim_ref_names(pv, &pvc))
                    .map(|pv| ObjectRef::from_obj(&**pv))
                    .collect();
                let name = volume_name(&pvc);
                if !name.is_empty() {
                    refs.push(ObjectRef::new(name));
                }
                refs
            },
        );
    futures::join!(
        crate::drive(
            "persistentvolume-claims",
            claim_loop,
            ctx.clone(),
            sync_claim
        ),
        crate::drive("persistentvolume-volumes", volume_loop, ctx, sync_volume),
    );
}

/// The claim's `spec.volumeName`, empty when unbound.
pub fn volume_name(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or_default()
}

/// The claim's class: `spec.storageClassName`, else the beta annotation; `None` when unset
/// (which the default class fills), `Some("")` when explicitly none.
pub fn class_of(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_CLASS))
        .map(String::as_str)
        .or_else(|| pvc.spec.as_ref()?.storage_class_name.as_deref())
}

fn annotation<'a, K: Resource>(obj: &'a K, key: &str) -> Option<&'a str> {
    obj.meta()
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn phase_of_claim(pvc: &PersistentVolumeClaim) -> &str {
    pvc.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

fn phase_of_volume(pv: &PersistentVolume) -> &str {
    pv.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// Whether the volume's claimRef names this claim (by namespace and name).
fn claim_ref_names(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    pv.spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| r.name == pvc.metadata.name && r.namespace == pvc.metadata.namespace)
}

/// Whether the volume is bound to (or reserved for) this very claim: its claimRef names the
/// claim and carries no uid or the claim's.
pub fn is_bound_to(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    claim_ref_names(pv, pvc)
        && pv
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .and_then(|r| r.uid.as_deref())
            .is_none_or(|uid| uid.is_empty() || Some(uid) == pvc.metadata.uid.as_deref())
}

fn quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Quantity {
    q.and_then(|q| parse_quantity(&q.0).ok())
        .unwrap_or_else(Quantity::zero)
}

fn capacity(pv: &PersistentVolume) -> Quantity {
    quantity(
        pv.spec
            .as_ref()
            .and_then(|s| s.capacity.as_ref()?.get("storage")),
    )
}

/// The storage a claim requests.
pub fn request(pvc: &PersistentVolumeClaim) -> Quantity {
    quantity(
        pvc.spec
            .as_ref()
            .and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage")),
    )
}

fn volume_mode_of_claim(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

fn volume_mode_of_volume(pv: &PersistentVolume) -> &str {
    pv.spec
        .as_ref()
        .and_then(|s| s.volume_mode.as_deref())
        .unwrap_or("Filesystem")
}

/// Whether a node with these labels and name satisfies one selector requirement.
fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !value.is_some_and(|v| values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether the node satisfies a term (all its requirements).
fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let exprs = term
        .match_expressions
        .iter()
        .flatten()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)));
    let fields = term.match_fields.iter().flatten().all(|r| {
        let value = (r.key == "metadata.name")
            .then_some(node.metadata.name.as_deref())
            .flatten();
        requirement_matches(r, value)
    });
    exprs && fields
}

/// Whether the volume's required node affinity admits the node.
pub fn node_admits(pv: &PersistentVolume, node: &Node) -> bool {
    let Some(required) = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref()?.required.as_ref())
    else {
        return true;
    };
    required
        .node_selector_terms
        .iter()
        .any(|t| term_matches(t, node))
}

/// Whether the volume's access modes include every mode the claim asks for.
fn modes_satisfy(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    let offered = pv
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.clone())
        .unwrap_or_default();
    pvc.spec
        .as_ref()
        .and_then(|s| s.access_modes.as_ref())
        .into_iter()
        .flatten()
        .all(|m| offered.contains(m))
}

/// The volume a claim binds to (upstream `FindMatchingVolume`): a volume reserved for the
/// claim if it is large enough; else the smallest volume that is Available, unclaimed, of the
/// claim's class, with its access modes, volume mode, labels its selector asks for, capacity
/// at least the request and, when a node is given, node affinity admitting it. With
/// `delay_binding` and no node, only reserved volumes bind.
pub fn find_match<'a>(
    pvc: &PersistentVolumeClaim,
    volumes: &'a [Arc<PersistentVolume>],
    delay_binding: bool,
    node: Option<&Node>,
) -> Option<&'a Arc<PersistentVolume>> {
    let wanted = request(pvc);
    let class = class_of(pvc).unwrap_or_default();
    let selector = pvc
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(apimachinery::labels::from_label_selector);
    let mut best: Option<&Arc<PersistentVolume>> = None;
    for pv in volumes {
        if pv.metadata.deletion_timestamp.is_some()
            || volume_mode_of_volume(pv) != volume_mode_of_claim(pvc)
            || node.is_some_and(|n| !node_admits(pv, n))
        {
            continue;
        }
        if is_bound_to(pv, pvc) {
            if capacity(pv) >= wanted {
                return Some(pv);
            }
            continue;
        }
        if delay_binding && node.is_none() {
            continue;
        }
        let spec = pv.spec.as_ref();
        let labels = pv.metadata.labels.clone().unwrap_or_default();
        let suitable = spec.is_some_and(|s| s.claim_ref.is_none())
            && matches!(phase_of_volume(pv), "Available" | "Pending" | "")
            && spec
                .and_then(|s| s.storage_class_name.as_deref())
                .unwrap_or_default()
                == class
            && modes_satisfy(pv, pvc)
            && capacity(pv) >= wanted
            && match &selector {
                None => true,
                Some(Ok(s)) => s.matches(&labels),
                Some(Err(_)) => false,
            };
        if suitable && best.is_none_or(|b| capacity(pv) < capacity(b)) {
            best = Some(pv);
        }
    }
    best
}

/// The default StorageClass: the newest class annotated as default (upstream
/// `GetDefaultClass`).
pub fn default_class(classes: &[Arc<StorageClass>]) -> Option<&Arc<StorageClass>> {
    classes
        .iter()
        .filter(|c| {
            annotation(&***c, DEFAULT_CLASS) == Some("true")
                || annotation(&***c, BETA_DEFAULT_CLASS) == Some("true")
        })
        .max_by(|a, b| {
            (
                a.metadata.creation_timestamp.as_ref().map(|t| t.0),
                &a.metadata.name,
            )
                .cmp(&(
                    b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    &b.metadata.name,
                ))
        })
}

fn claims_api(ctx: &Context, pvc: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
    Api::namespaced(
        ctx.client.clone(),
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
    )
}

async fn patch_claim(
    ctx: &Context,
    pvc: &PersistentVolumeClaim,
    patch: serde_json::Value,
    status: bool,
) -> Result<()> {
    let api = claims_api(ctx, pvc);
    let name = pvc.metadata.name.as_deref().unwrap_or_default();
    let params = PatchParams::default();
    if status {
        api.patch_status(name, &params, &Patch::Merge(&patch))
            .await?;
    } else {
        api.patch(name, &params, &Patch::Merge(&patch)).await?;
    }
    Ok(())
}

async fn patch_volume(
    ctx: &Context,
    pv: &PersistentVolume,
    patch: serde_json::Value,
    status: bool,
) -> Result<()> {
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let name = pv.metadata.name.as_deref().unwrap_or_default();
    let params = PatchParams::default();
    if status {
        api.patch_status(name, &params, &Patch::Merge(&patch))
            .await?;
    } else {
        api.patch(name, &params, &Patch::Merge(&patch)).await?;
    }
    Ok(())
}

async fn sync_claim(pvc: Arc<PersistentVolumeClaim>, ctx: Arc<Context>) -> Result<Action> {
    if pvc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let unbound = volume_name(&pvc).is_empty();
    if unbound && class_of(&pvc).is_none() {
        // Retroactive default class assignment.
        let classes = ctx.informers.get::<StorageClass>().store().state();
        if let Some(class) = default_class(&classes) {
            let name = class.metadata.name.clone().unwrap_or_default();
            patch_claim(
                &ctx,
                &pvc,
                json!({"spec": {"storageClassName": name}}),
                false,
            )
            .await?;
            return Ok(Action::await_change());
        }
    }
    if unbound {
        sync_unbound(&pvc, &ctx).await
    } else {
        sync_bound(&pvc, &ctx).await
    }
}

async fn sync_unbound(pvc: &Arc<PersistentVolumeClaim>, ctx: &Context) -> Result<Action> {
    let class_name = class_of(pvc).unwrap_or_default().to_string();
    let class = ctx
        .informers
        .get::<StorageClass>()
        .store()
        .get(&ObjectRef::new(&class_name));
    let delay = class
        .as_ref()
        .and_then(|c| c.volume_binding_mode.as_deref())
        == Some("WaitForFirstConsumer");
    let node_name = annotation(&**pvc, SELECTED_NODE);
    let node = node_name.and_then(|n| ctx.informers.get::<Node>().store().get(&ObjectRef::new(n)));
    let volumes = ctx.informers.get::<PersistentVolume>().store().state();
    if let Some(pv) = find_match(pvc, &volumes, delay, node.as_deref()) {
        bind(ctx, pv, pvc).await?;
        return Ok(Action::await_change());
    }
    if phase_of_claim(pvc) != "Pending" {
        patch_claim(ctx, pvc, json!({"status": {"phase": "Pending"}}), true).await?;
    }
    if class_name.is_empty() {
        ctx.recorder.normal(
            &**pvc,
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set".into(),
        );
        return Ok(Action::await_change());
    }
    let Some(class) = class else {
        ctx.recorder.warning(
            &**pvc,
            "ProvisioningFailed",
            format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
        );
        return Ok(Action::await_change());
    };
    if delay && node_name.is_none() {
        ctx.recorder.normal(
            &**pvc,
            "WaitForFirstConsumer",
            "waiting for first consumer to be created before binding".into(),
        );
        return Ok(Action::await_change());
    }
    // Dynamic provisioning by an external provisioner: name it on the claim and wait.
    let provisioner = class.provisioner.clone();
    if annotation(&**pvc, STORAGE_PROVISIONER) != Some(provisioner.as_str()) {
        patch_claim(
            ctx,
            pvc,
            json!({"metadata": {"annotations": {
                STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner,
            }}}),
            false,
        )
        .await?;
    }
    ctx.recorder.normal(
        &**pvc,
        "ExternalProvisioning",
        format!(
            "Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
        ),
    );
    Ok(Action::await_change())
}

async fn sync_bound(pvc: &Arc<PersistentVolumeClaim>, ctx: &Context) -> Result<Action> {
    let name = volume_name(pvc);
    let Some(pv) = ctx
        .informers
        .get::<PersistentVolume>()
        .store()
        .get(&ObjectRef::new(name))
    else {
        if phase_of_claim(pvc) == "Bound" {
            patch_claim(ctx, pvc, json!({"status": {"phase": "Lost"}}), true).await?;
            ctx.recorder.warning(
                &**pvc,
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!".into(),
            );
        }
        return Ok(Action::await_change());
    };
    let free = pv.spec.as_ref().is_some_and(|s| s.claim_ref.is_none());
    if free || is_bound_to(&pv, pvc) {
        bind(ctx, &pv, pvc).await?;
    } else {
        if phase_of_claim(pvc) != "Pending" {
            patch_claim(ctx, pvc, json!({"status": {"phase": "Pending"}}), true).await?;
        }
        ctx.recorder.warning(
            &**pvc,
            "FailedBinding",
            format!("volume \"{name}\" already bound to a different claim."),
        );
    }
    Ok(Action::await_change())
}

/// Binds both sides, writing only what is missing (upstream `bind`: the volume first, then
/// the claim).
async fn bind(ctx: &Context, pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> Result<()> {
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let claim_uid = pvc.metadata.uid.clone().unwrap_or_default();
    let current_uid = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .and_then(|r| r.uid.clone())
        .unwrap_or_default();
    if current_uid != claim_uid {
        let mut patch = json!({"spec": {"claimRef": {
            "kind": "PersistentVolumeClaim", "apiVersion": "v1",
            "namespace": pvc.metadata.namespace, "name": pvc.metadata.name,
            "uid": claim_uid, "resourceVersion": pvc.metadata.resource_version,
        }}});
        if current_uid.is_empty() && pv.spec.as_ref().is_some_and(|s| s.claim_ref.is_none()) {
            patch["metadata"] = json!({"annotations": {BOUND_BY_CONTROLLER: "yes"}});
        }
        patch_volume(ctx, pv, patch, false).await?;
    }
    if phase_of_volume(pv) != "Bound" {
        patch_volume(ctx, pv, json!({"status": {"phase": "Bound"}}), true).await?;
    }
    if volume_name(pvc) != pv_name || annotation(pvc, BIND_COMPLETED) != Some("yes") {
        let mut annotations = BTreeMap::from([(BIND_COMPLETED, "yes")]);
        if volume_name(pvc).is_empty() {
            annotations.insert(BOUND_BY_CONTROLLER, "yes");
        }
        patch_claim(
            ctx,
            pvc,
            json!({"metadata": {"annotations": annotations}, "spec": {"volumeName": pv_name}}),
            false,
        )
        .await?;
    }
    let spec = pv.spec.as_ref();
    let status = json!({"status": {
        "phase": "Bound",
        "accessModes": spec.and_then(|s| s.access_modes.clone()),
        "capacity": spec.and_then(|s| s.capacity.clone()),
    }});
    let current = pvc.status.as_ref();
    if phase_of_claim(pvc) != "Bound"
        || current.and_then(|s| s.capacity.as_ref()) != spec.and_then(|s| s.capacity.as_ref())
    {
        patch_claim(ctx, pvc, status, true).await?;
        tracing::info!(claim = ?pvc.metadata.name, volume = pv_name, "bound");
    }
    Ok(())
}

async fn sync_volume(pv: Arc<PersistentVolume>, ctx: Arc<Context>) -> Result<Action> {
    if pv.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(claim_ref) = pv.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
        return set_volume_phase(&ctx, &pv, "Available").await;
    };
    let uid = claim_ref.uid.clone().unwrap_or_default();
    if uid.is_empty() {
        // Reserved for a claim that is not bound yet.
        return set_volume_phase(&ctx, &pv, "Available").await;
    }
    let ns = claim_ref.namespace.clone().unwrap_or_default();
    let name = claim_ref.name.clone().unwrap_or_default();
    let cached = ctx
        .informers
        .get::<PersistentVolumeClaim>()
        .store()
        .get(&ObjectRef::new(&name).within(&ns));
    // A claim missing from the cache may be newer than the cache: ask the API server before
    // releasing the volume (as upstream does).
    let claim = match cached {
        Some(c) => Some(c),
        None => Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&name)
            .await?
            .map(Arc::new),
    };
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    match claim.filter(|c| c.metadata.uid.as_deref() == Some(uid.as_str())) {
        Some(claim) if volume_name(&claim) == pv_name => set_volume_phase(&ctx, &pv, "Bound").await,
        // The claim binds through its own loop.
        Some(claim) if volume_name(&claim).is_empty() => Ok(Action::await_change()),
        Some(_) => {
            // The claim is bound to another volume: undo the controller's own half-binding.
            if annotation(&*pv, BOUND_BY_CONTROLLER) == Some("yes") {
                patch_volume(&ctx, &pv, json!({"spec": {"claimRef": null}}), false).await?;
            }
            Ok(Action::await_change())
        }
        None => release(&ctx, &pv).await,
    }
}

async fn set_volume_phase(ctx: &Context, pv: &PersistentVolume, phase: &str) -> Result<Action> {
    if phase_of_volume(pv) != phase {
        patch_volume(ctx, pv, json!({"status": {"phase": phase}}), true).await?;
    }
    Ok(Action::await_change())
}

/// The claim of a bound volume is gone: mark it Released, then reclaim it.
async fn release(ctx: &Context, pv: &PersistentVolume) -> Result<Action> {
    if !matches!(phase_of_volume(pv), "Released" | "Failed") {
        patch_volume(ctx, pv, json!({"status": {"phase": "Released"}}), true).await?;
    }
    let policy = pv
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain");
    match policy {
        "Delete" => {
            // Volumes of an external provisioner are its to delete.
            if annotation(pv, PROVISIONED_BY).is_some_and(|p| !p.starts_with("kubernetes.io/")) {
                return Ok(Action::await_change());
            }
            let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
            match api
                .delete(
                    pv.metadata.name.as_deref().unwrap_or_default(),
                    &DeleteParams::default(),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    ctx.recorder
                        .warning(pv, "VolumeFailedDelete", e.to_string());
                    return Err(e.into());
                }
            }
        }
        "Recycle" => ctx.recorder.warning(
            pv,
            "VolumeFailedRecycle",
            "Recycle is not supported; the volume stays Released".into(),
        ),
        _ => {}
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
