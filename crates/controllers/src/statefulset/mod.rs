//! The StatefulSet controller: pods with stable identities `<set>-<ordinal>` (hostname,
//! subdomain, labels), each with its own PersistentVolumeClaims `<claim>-<set>-<ordinal>`
//! created before it and kept after it; `OrderedReady` creates and removes one pod at a time
//! in ordinal order, `Parallel` all at once; templates are recorded as ControllerRevisions and
//! rolled out from the highest ordinal down to the partition (or on delete).

pub mod history;
pub mod plan;

#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use apimachinery::labels;
use jiff::Timestamp;
use k8s_openapi::{
    api::{
        apps::v1::{ControllerRevision, StatefulSet},
        core::v1::{
            PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
        },
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};
use serde_json::json;

use crate::{Context, Result, pods};
use plan::{Op, Slot};

/// The label naming a StatefulSet pod.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label holding a StatefulSet pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label holding the revision a pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let sets = ctx.informers.get::<StatefulSet>();
    let pod_informer = ctx.informers.get::<Pod>();
    let revisions = ctx.informers.get::<ControllerRevision>();
    let claims = ctx.informers.get::<PersistentVolumeClaim>();
    pod_informer.ready().await;
    revisions.ready().await;
    claims.ready().await;
    let set_store = sets.store();
    let mapper = move |pod: Arc<Pod>| -> Vec<ObjectRef<StatefulSet>> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        match pods::controller_of(&pod.metadata) {
            Some(owner) if owner.kind == "StatefulSet" => {
                vec![ObjectRef::new(&owner.name).within(&ns)]
            }
            Some(_) => Vec::new(),
            None => {
                let empty = BTreeMap::new();
                let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
                set_store
                    .state()
                    .iter()
                    .filter(|s| s.metadata.namespace.as_deref() == Some(ns.as_str()))
                    .filter(|s| selector_matches(s, labels))
                    .map(|s| ObjectRef::from_obj(&**s))
                    .collect()
            }
        }
    };
    let controller = Controller::for_shared_stream(sets.subscribe(), sets.store())
        .watches_shared_stream(pod_informer.subscribe(), mapper)
        .owns_shared_stream(revisions.subscribe());
    crate::drive("statefulset", controller, ctx, reconcile).await;
}

fn selector_matches(set: &StatefulSet, labels: &BTreeMap<String, String>) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| labels::from_label_selector(&s.selector).ok())
        .is_some_and(|sel| !sel.is_empty() && sel.matches(labels))
}

/// The ordinal of a pod named `<set>-<ordinal>`.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let rest = pod.strip_prefix(set)?.strip_prefix('-')?;
    if rest.starts_with('+') || rest.starts_with('-') {
        return None;
    }
    rest.parse().ok()
}

/// The name of a pod's claim from the template named `template`.
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

/// What a sync needs to know about the set, derived once.
struct Set<'a> {
    obj: &'a StatefulSet,
    name: String,
    ns: String,
    uid: String,
}

impl Set<'_> {
    fn spec(&self) -> k8s_openapi::api::apps::v1::StatefulSetSpec {
        self.obj.spec.clone().unwrap_or_default()
    }
    fn pod_name(&self, ordinal: i32) -> String {
        format!("{}-{ordinal}", self.name)
    }
}

/// The pod of `ordinal` from `template`, with its identity and storage.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let name = set.metadata.name.clone().unwrap_or_default();
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let pod_name = format!("{name}-{ordinal}");
    let mut pod = pods::from_template(template, &ns, "", pods::owner_reference(set));
    pod.metadata.generate_name = None;
    pod.metadata.name = Some(pod_name.clone());
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(POD_NAME_LABEL.into(), pod_name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let spec = set.spec.clone().unwrap_or_default();
    let pod_spec = pod.spec.get_or_insert_with(Default::default);
    pod_spec.hostname = Some(pod_name);
    if !spec.service_name.as_deref().unwrap_or("").is_empty() {
        pod_spec.subdomain = spec.service_name.clone();
    }
    for claim in spec.volume_claim_templates.iter().flatten() {
        let template_name = claim.metadata.name.clone().unwrap_or_default();
        let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
        volumes.retain(|v| v.name != template_name);
        volumes.push(Volume {
            name: template_name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&template_name, &name, ordinal),
                read_only: None,
            }),
            ..Default::default()
        });
    }
    pod
}

/// The claims of `ordinal`, from the claim templates.
pub fn new_claims(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let name = set.metadata.name.clone().unwrap_or_default();
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let delete_with_set = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .and_then(|p| p.when_deleted.as_deref())
        == Some("Delete");
    let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .iter()
        .flatten()
        .map(|template| {
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            let owners = delete_with_set.then(|| {
                vec![OwnerReference {
                    controller: None,
                    ..pods::owner_reference(set)
                }]
            });
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(
                        template.metadata.name.as_deref().unwrap_or(""),
                        &name,
                        ordinal,
                    )),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    owner_references: owners,
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn revision_of(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
        .unwrap_or("")
}

async fn reconcile(obj: Arc<StatefulSet>, ctx: Arc<Context>) -> Result<Action> {
    let set = Set {
        obj: &obj,
        name: obj.metadata.name.clone().unwrap_or_default(),
        ns: obj.metadata.namespace.clone().unwrap_or_default(),
        uid: obj.metadata.uid.clone().unwrap_or_default(),
    };
    if obj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let spec = set.spec();
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &set.ns);

    // Revisions: the current template's, and the one the pods were last fully rolled to.
    let revisions = history::owned(&ctx, &set.ns, &set.uid);
    let status = obj.status.clone().unwrap_or_default();
    let ensured = history::ensure(
        &ctx,
        &*obj,
        spec.selector.match_labels.clone().unwrap_or_default(),
        history::data_of(&spec.template),
        &revisions,
        status.collision_count.unwrap_or(0),
    )
    .await?;
    let update_revision = ensured.revision;
    let update_name = update_revision.metadata.name.clone().unwrap_or_default();
    let current_revision = status
        .current_revision
        .as_ref()
        .and_then(|c| {
            revisions
                .iter()
                .find(|r| r.metadata.name.as_ref() == Some(c))
                .map(|r| (**r).clone())
        })
        .unwrap_or_else(|| update_revision.clone());
    let current_name = current_revision.metadata.name.clone().unwrap_or_default();

    // The set's pods by ordinal; orphans that match are adopted.
    let mut by_ordinal: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
    let empty = BTreeMap::new();
    for pod in ctx.informers.get::<Pod>().store().state() {
        if pod.metadata.namespace.as_deref() != Some(set.ns.as_str()) {
            continue;
        }
        let Some(ordinal) = ordinal_of(&set.name, pod.metadata.name.as_deref().unwrap_or(""))
        else {
            continue;
        };
        match pods::controller_of(&pod.metadata) {
            Some(owner) if owner.uid == set.uid => {}
            None if selector_matches(&obj, pod.metadata.labels.as_ref().unwrap_or(&empty))
                && pod.metadata.deletion_timestamp.is_none() =>
            {
                pods::adopt(&pod_api, &pod, pods::owner_reference(&*obj)).await?;
            }
            _ => continue,
        }
        by_ordinal.insert(ordinal, pod);
    }

    let now = Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let healthy = |p: &Pod| {
        phase(p) == "Running"
            && p.metadata.deletion_timestamp.is_none()
            && pods::is_available(p, min_ready, now)
    };
    let slots: BTreeMap<i32, Slot> = by_ordinal
        .iter()
        .map(|(o, p)| {
            (
                *o,
                Slot {
                    terminating: p.metadata.deletion_timestamp.is_some(),
                    finished: matches!(phase(p), "Succeeded" | "Failed"),
                    healthy: healthy(p),
                    updated: revision_of(p) == update_name,
                },
            )
        })
        .collect();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let rolling = strategy.type_.as_deref() != Some("OnDelete");
    let partition = strategy
        .rolling_update
        .as_ref()
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let plan_spec = plan::Spec {
        start: spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0),
        replicas: spec.replicas.unwrap_or(1),
        parallel: spec.pod_management_policy.as_deref() == Some("Parallel"),
        partition: rolling.then_some(partition),
    };
    for op in plan::plan(&plan_spec, &slots) {
        match op {
            Op::Create(ordinal) => {
                // Below the partition pods keep the current revision.
                let (revision, name) = if rolling && ordinal < plan_spec.start + partition {
                    (&current_revision, &current_name)
                } else {
                    (&update_revision, &update_name)
                };
                let template = history::template_of(revision).unwrap_or(spec.template.clone());
                create_pod(&ctx, &set, &template, name, ordinal).await?;
            }
            Op::Delete(ordinal) => {
                let pod_name = set.pod_name(ordinal);
                let condemned = ordinal < plan_spec.start
                    || ordinal >= plan_spec.start + plan_spec.replicas.max(0);
                if condemned && let Some(pod) = by_ordinal.get(&ordinal) {
                    release_claims_on_scale_down(&ctx, &set, pod, ordinal).await?;
                }
                match pod_api.delete(&pod_name, &DeleteParams::default()).await {
                    Ok(_) => ctx.recorder.normal(
                        &*obj,
                        "SuccessfulDelete",
                        format!(
                            "delete Pod {pod_name} in StatefulSet {} successful",
                            set.name
                        ),
                    ),
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    // History beyond the limit goes, except revisions pods still use.
    let mut in_use: Vec<&str> = by_ordinal.values().map(|p| revision_of(p)).collect();
    in_use.push(&current_name);
    in_use.push(&update_name);
    let limit = spec.revision_history_limit.unwrap_or(10);
    history::truncate(
        &ctx,
        &set.ns,
        &history::owned(&ctx, &set.ns, &set.uid),
        &in_use,
        limit,
    )
    .await?;

    update_status(
        &ctx,
        &set,
        &by_ordinal,
        (&current_name, &update_name),
        ensured.collision_count,
        rolling,
    )
    .await?;
    // A pod becomes available minReadySeconds after it became ready: look again then.
    let waiting = by_ordinal
        .values()
        .any(|p| pods::is_ready(p) && !pods::is_available(p, min_ready, now));
    Ok(if waiting {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}

/// Creates the claims of `ordinal` that are missing, then its pod.
async fn create_pod(
    ctx: &Context,
    set: &Set<'_>,
    template: &PodTemplateSpec,
    revision: &str,
    ordinal: i32,
) -> Result<()> {
    let pod_name = set.pod_name(ordinal);
    let claim_store = ctx.informers.get::<PersistentVolumeClaim>().store();
    let claim_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &set.ns);
    for claim in new_claims(set.obj, ordinal) {
        let claim_name = claim.metadata.name.clone().unwrap_or_default();
        if claim_store
            .get(&ObjectRef::new(&claim_name).within(&set.ns))
            .is_some()
        {
            continue;
        }
        match claim_api.create(&PostParams::default(), &claim).await {
            Ok(_) => ctx.recorder.normal(
                set.obj,
                "SuccessfulCreate",
                format!(
                    "create Claim {claim_name} Pod {pod_name} in StatefulSet {} success",
                    set.name
                ),
            ),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(kube::Error::Api(e)) => {
                ctx.recorder.warning(
                    set.obj,
                    "FailedCreate",
                    format!(
                        "create Claim {claim_name} for Pod {pod_name} in StatefulSet {} failed error: {}",
                        set.name, e.message
                    ),
                );
                return Err(kube::Error::Api(e).into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let pod = new_pod(set.obj, template, revision, ordinal);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &set.ns);
    match api.create(&PostParams::default(), &pod).await {
        Ok(_) => {
            ctx.recorder.normal(
                set.obj,
                "SuccessfulCreate",
                format!(
                    "create Pod {pod_name} in StatefulSet {} successful",
                    set.name
                ),
            );
            Ok(())
        }
        // A lagging cache: the pod exists already.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(kube::Error::Api(e)) => {
            ctx.recorder.warning(
                set.obj,
                "FailedCreate",
                format!(
                    "create Pod {pod_name} in StatefulSet {} failed error: {}",
                    set.name, e.message
                ),
            );
            Err(kube::Error::Api(e).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// With `whenScaled: Delete`, a condemned pod's claims get the pod as owner, so the garbage
/// collector removes them after the pod (upstream's claim ownership on scale-down).
async fn release_claims_on_scale_down(
    ctx: &Context,
    set: &Set<'_>,
    pod: &Pod,
    ordinal: i32,
) -> Result<()> {
    let when_scaled = set
        .spec()
        .persistent_volume_claim_retention_policy
        .and_then(|p| p.when_scaled);
    if when_scaled.as_deref() != Some("Delete") {
        return Ok(());
    }
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &set.ns);
    let store = ctx.informers.get::<PersistentVolumeClaim>().store();
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Pod".into(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        controller: None,
        block_owner_deletion: Some(true),
    };
    for claim in new_claims(set.obj, ordinal) {
        let claim_name = claim.metadata.name.unwrap_or_default();
        let Some(existing) = store.get(&ObjectRef::new(&claim_name).within(&set.ns)) else {
            continue;
        };
        let mut refs = existing
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default();
        if refs.iter().any(|r| r.uid == owner.uid) {
            continue;
        }
        refs.push(owner.clone());
        let patch = json!({"metadata": {"ownerReferences": refs}});
        match api
            .patch(&claim_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Counts the pods into the status and writes it if it changed; a finished rolling update
/// makes the update revision current.
async fn update_status(
    ctx: &Context,
    set: &Set<'_>,
    pods_by_ordinal: &BTreeMap<i32, Arc<Pod>>,
    (current, update): (&str, &str),
    collision_count: i32,
    rolling: bool,
) -> Result<()> {
    let spec = set.spec();
    let now = Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let all: Vec<&Arc<Pod>> = pods_by_ordinal.values().collect();
    let live: Vec<&&Arc<Pod>> = all
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let running_ready = |p: &Pod| phase(p) == "Running" && pods::is_ready(p);
    let replicas = all.len() as i32;
    let ready = all.iter().filter(|p| running_ready(p)).count() as i32;
    let available = all
        .iter()
        .filter(|p| running_ready(p) && pods::is_available(p, min_ready, now))
        .count() as i32;
    let mut current_replicas = live.iter().filter(|p| revision_of(p) == current).count() as i32;
    let updated = live.iter().filter(|p| revision_of(p) == update).count() as i32;
    let mut current = current.to_string();
    if rolling && updated == replicas && ready == replicas {
        current = update.to_string();
        current_replicas = updated;
    }
    let status = json!({
        "observedGeneration": set.obj.metadata.generation,
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": available,
        "currentReplicas": current_replicas,
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": collision_count,
    });
    let old = serde_json::to_value(&set.obj.status).unwrap_or_default();
    let changed = status
        .as_object()
        .into_iter()
        .flatten()
        .any(|(k, v)| match v {
            serde_json::Value::Number(n) => old[k].as_i64().unwrap_or(0) != n.as_i64().unwrap_or(0),
            other => &old[k] != other,
        });
    if changed {
        let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &set.ns);
        api.patch_status(
            &set.name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
    }
    Ok(())
}
