//! The Deployment controller: one ReplicaSet per pod template (named by the template's
//! hash), rolled out with RollingUpdate (maxSurge/maxUnavailable) or Recreate, scaled
//! proportionally when `spec.replicas` changes mid-rollout, with revision annotations that
//! `kubectl rollout history|undo` read, `spec.paused`, revisionHistoryLimit, and the
//! Available and Progressing conditions (progressDeadlineSeconds). Upstream's
//! `pkg/controller/deployment` is the reference; the decisions live in pure modules
//! (`rolling`, `sync`, `progress`, `template`) and this one does the I/O.

mod progress;
mod rolling;
mod sync;
mod template;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use apimachinery::labels;
use k8s_openapi::api::{
    apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec},
    core::v1::Pod,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::{ObjectRef, Store},
    },
};
use serde_json::json;

pub use rolling::scaled;
pub use template::{HASH_LABEL, template_hash};

use crate::{Context, Error, Result, pods};

/// The annotation holding a ReplicaSet's (and its Deployment's) revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The revisions a ReplicaSet had before a rollback made it the newest again.
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `spec.replicas` when the ReplicaSet was last sized.
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` when the ReplicaSet was last sized (proportional scaling).
const MAX: &str = "deployment.kubernetes.io/max-replicas";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let deployments = ctx.informers.get::<Deployment>();
    let sets = ctx.informers.get::<ReplicaSet>();
    let pod_informer = ctx.informers.get::<Pod>();
    let (d_store, pod_store) = (deployments.store(), pod_informer.store());
    let set_store = sets.store();
    // A ReplicaSet concerns its Deployment, or, as an orphan, every Deployment selecting it.
    let d_for_sets = d_store.clone();
    let set_mapper = move |rs: Arc<ReplicaSet>| -> Vec<ObjectRef<Deployment>> {
        let ns = rs.namespace().unwrap_or_default();
        match pods::controller_of(&rs.metadata) {
            Some(o) if o.kind == "Deployment" => vec![ObjectRef::new(&o.name).within(&ns)],
            Some(_) => Vec::new(),
            None => d_for_sets
                .state()
                .iter()
                .filter(|d| d.namespace().as_deref() == Some(ns.as_str()) && selects(d, &rs))
                .map(|d| ObjectRef::from_obj(&**d))
                .collect(),
        }
    };
    // Recreate waits for the old pods to be gone, so their going concerns it.
    let pod_mapper = move |pod: Arc<Pod>| -> Option<ObjectRef<Deployment>> {
        recreate_waiting_on(&pod, &pod_store, &set_store, &d_store)
    };
    let controller = Controller::for_shared_stream(deployments.subscribe(), deployments.store())
        .watches_shared_stream(sets.subscribe(), set_mapper)
        .watches_shared_stream(pod_informer.subscribe(), pod_mapper);
    crate::drive("deployment", controller, ctx, reconcile).await;
}

/// The Recreate Deployment whose old pod `pod` is finishing or gone, if any.
fn recreate_waiting_on(
    pod: &Pod,
    pods: &Store<Pod>,
    sets: &Store<ReplicaSet>,
    deployments: &Store<Deployment>,
) -> Option<ObjectRef<Deployment>> {
    let gone = !pods::is_active(pod) || pods.get(&ObjectRef::from_obj(pod)).is_none();
    if !gone {
        return None;
    }
    let ns = pod.metadata.namespace.as_deref()?;
    let owner = pods::controller_of(&pod.metadata).filter(|o| o.kind == "ReplicaSet")?;
    let rs = sets.get(&ObjectRef::new(&owner.name).within(ns))?;
    let d_ref = pods::controller_of(&rs.metadata).filter(|o| o.kind == "Deployment")?;
    let d = deployments.get(&ObjectRef::new(&d_ref.name).within(ns))?;
    (!rolling::is_rolling(&d)).then(|| ObjectRef::from_obj(&*d))
}

/// Whether the Deployment's selector matches the ReplicaSet's labels.
fn selects(d: &Deployment, rs: &ReplicaSet) -> bool {
    let Some(spec) = d.spec.as_ref() else {
        return false;
    };
    labels::from_label_selector(&spec.selector)
        .ok()
        .filter(|s| !s.is_empty())
        .is_some_and(|s| s.matches(rs.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())))
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Oldest first, by name among equals (upstream's `ReplicaSetsByCreationTimestamp`).
fn by_age(rs: &ReplicaSet) -> (Option<jiff::Timestamp>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs.name_any(),
    )
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(spec) = d.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    if labels::from_label_selector(&spec.selector).is_ok_and(|s| s.is_empty()) {
        ctx.recorder.warning(
            &*d,
            "SelectingAll",
            "This deployment is selecting all pods. A non-empty selector is required.".into(),
        );
        return Ok(Action::await_change());
    }
    let mut sync = Sync::new(&ctx, &d).await?;
    let result = if spec.paused.unwrap_or(false) || sync.is_scaling_event() {
        sync.sync().await
    } else if rolling::is_rolling(&d) {
        sync.rolling().await
    } else {
        sync.recreate().await
    };
    match result {
        // Our copy of a ReplicaSet or of the Deployment was stale; the cache is about to
        // bring the newer one.
        Err(Error::Api(kube::Error::Api(e))) if e.code == 409 => {
            Ok(Action::requeue(Duration::from_millis(250)))
        }
        other => other,
    }
}

/// One sync of one Deployment: its ReplicaSets, and its status as this sync changes it.
struct Sync<'a> {
    ctx: &'a Context,
    d: &'a Deployment,
    api: Api<ReplicaSet>,
    /// The ReplicaSet whose template is the Deployment's, if one exists.
    new: Option<ReplicaSet>,
    /// The other ReplicaSets, oldest first.
    olds: Vec<ReplicaSet>,
    /// The Deployment's status with the conditions this sync set before the rollout
    /// (paused, resumed, new ReplicaSet created or found).
    base: DeploymentStatus,
}

impl<'a> Sync<'a> {
    /// Claims the Deployment's ReplicaSets (adopting matching orphans, releasing those that
    /// stopped matching) and finds the new one.
    async fn new(ctx: &'a Context, d: &'a Deployment) -> Result<Sync<'a>> {
        let ns = d.namespace().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        let mut sets = Vec::new();
        for rs in ctx.informers.get::<ReplicaSet>().store().state() {
            if rs.namespace().as_deref() != Some(ns.as_str()) {
                continue;
            }
            let matches = selects(d, &rs);
            match pods::controller_of(&rs.metadata) {
                Some(o) if o.uid == uid && matches => sets.push((*rs).clone()),
                Some(o) if o.uid == uid => {
                    let refs: Vec<_> = rs
                        .owner_references()
                        .iter()
                        .filter(|r| r.uid != uid)
                        .cloned()
                        .collect();
                    set_owners(&api, &rs, json!(refs)).await?;
                }
                None if matches && rs.metadata.deletion_timestamp.is_none() => {
                    let mut refs = rs.owner_references().to_vec();
                    refs.push(pods::owner_reference(d));
                    if let Some(adopted) = set_owners(&api, &rs, json!(refs)).await? {
                        sets.push(adopted);
                    }
                }
                _ => {}
            }
        }
        sets.sort_by_key(by_age);
        let wanted = template::bare(d.spec.as_ref().map(|s| &s.template));
        let new_at = sets.iter().position(|rs| {
            template::bare(rs.spec.as_ref().and_then(|s| s.template.as_ref())) == wanted
        });
        let new = new_at.map(|i| sets.remove(i));
        let mut base = d.status.clone().unwrap_or_default();
        progress::paused(d, &mut base, progress::now());
        Ok(Sync {
            ctx,
            d,
            api,
            new,
            olds: sets,
            base,
        })
    }

    fn want(&self) -> i32 {
        rolling::desired(self.d)
    }

    /// Every ReplicaSet, the new one first.
    fn all(&self) -> Vec<&ReplicaSet> {
        self.new.iter().chain(&self.olds).collect()
    }

    fn is_scaling_event(&self) -> bool {
        self.new.is_some() && sync::is_scaling_event(self.d, &self.all())
    }

    /// Upstream's `sync`: a paused Deployment or a change of `spec.replicas` only scales
    /// (proportionally), without rolling anything out.
    async fn sync(&mut self) -> Result<Action> {
        self.sync_revision(false).await?;
        let has_new = self.new.is_some();
        let targets = sync::scale_targets(self.d, &self.all(), has_new);
        let mut index = 0;
        if let Some(new) = self.new.take() {
            self.new = Some(self.scale(new, targets[0]).await?);
            index = 1;
        }
        for i in 0..self.olds.len() {
            let rs = self.olds[i].clone();
            self.olds[i] = self.scale(rs, targets[index + i]).await?;
        }
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.cleanup().await?;
        }
        let now = progress::now();
        let status = progress::calculate(
            self.d,
            &self.base,
            &self.all(),
            self.new.as_ref(),
            rolling::max_unavailable(self.d),
            now,
        );
        self.write_status(status).await?;
        Ok(Action::await_change())
    }

    /// Upstream's `rolloutRolling`: grow the new ReplicaSet within maxSurge, else shrink old
    /// ones within maxUnavailable.
    async fn rolling(&mut self) -> Result<Action> {
        self.sync_revision(true).await?;
        let Some(new) = self.new.clone() else {
            return self.rollout_status().await;
        };
        let want = self.want();
        let (surge, _) = rolling::fenceposts(self.d);
        let all: i32 = self.all().iter().map(|rs| replicas(rs)).sum();
        let target = rolling::new_rs_replicas(want, surge, replicas(&new), all);
        if target != replicas(&new) {
            self.new = Some(self.scale(new, target).await?);
            return self.rollout_status().await;
        }
        let active: Vec<usize> = (0..self.olds.len())
            .filter(|&i| replicas(&self.olds[i]) > 0)
            .collect();
        let sizes: Vec<rolling::Size> = active
            .iter()
            .map(|&i| rolling::Size {
                replicas: replicas(&self.olds[i]),
                available: available(&self.olds[i]),
            })
            .collect();
        let new_size = rolling::Size {
            replicas: replicas(&new),
            available: available(&new),
        };
        let targets =
            rolling::old_rs_targets(want, rolling::max_unavailable(self.d), new_size, &sizes);
        let mut scaled = false;
        for (&i, target) in active.iter().zip(targets) {
            if target != replicas(&self.olds[i]) {
                let rs = self.olds[i].clone();
                self.olds[i] = self.scale(rs, target).await?;
                scaled = true;
            }
        }
        if !scaled && progress::is_complete(self.d, &self.base) {
            self.cleanup().await?;
        }
        self.rollout_status().await
    }

    /// Upstream's `rolloutRecreate`: old ReplicaSets to zero, then, once none of their pods
    /// is left, the new one to the full count.
    async fn recreate(&mut self) -> Result<Action> {
        self.sync_revision(false).await?;
        let mut scaled = false;
        for i in 0..self.olds.len() {
            if replicas(&self.olds[i]) > 0 {
                let rs = self.olds[i].clone();
                self.olds[i] = self.scale(rs, 0).await?;
                scaled = true;
            }
        }
        if scaled || self.old_pods_running() {
            return self.rollout_status().await;
        }
        if self.new.is_none() {
            self.sync_revision(true).await?;
        }
        if let Some(new) = self.new.clone() {
            let want = self.want();
            self.new = Some(self.scale(new, want).await?);
        }
        if progress::is_complete(self.d, &self.base) {
            self.cleanup().await?;
        }
        self.rollout_status().await
    }

    /// Whether any pod of an old ReplicaSet has not finished (upstream's `oldPodsRunning`).
    fn old_pods_running(&self) -> bool {
        let counted: i32 = self
            .olds
            .iter()
            .map(|rs| rs.status.as_ref().map(|s| s.replicas).unwrap_or(0))
            .sum();
        if counted > 0 {
            return true;
        }
        let old_uids: Vec<&str> = self
            .olds
            .iter()
            .filter_map(|rs| rs.metadata.uid.as_deref())
            .collect();
        let ns = self.d.namespace();
        self.ctx
            .informers
            .get::<Pod>()
            .store()
            .state()
            .iter()
            .filter(|p| p.namespace() == ns)
            .filter(|p| {
                pods::controller_of(&p.metadata).is_some_and(|o| old_uids.contains(&o.uid.as_str()))
            })
            .any(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            })
    }

    /// Upstream's `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet's revision becomes
    /// the newest (a rollback renumbers an old template), it is created when missing and
    /// `create` says so, and the Deployment's revision annotation follows it.
    async fn sync_revision(&mut self, create: bool) -> Result<()> {
        let new_revision = self.olds.iter().map(revision).max().unwrap_or(0) + 1;
        let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        match self.new.take() {
            Some(rs) => {
                let annotations = sync::new_rs_annotations(
                    self.d,
                    rs.metadata.annotations.as_ref(),
                    new_revision,
                    true,
                );
                let rs_min_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds);
                if annotations.is_some() || rs_min_ready.unwrap_or(0) != min_ready.unwrap_or(0) {
                    let patch = json!({
                        "metadata": {"resourceVersion": rs.metadata.resource_version,
                                     "annotations": annotations.unwrap_or_default()},
                        "spec": {"minReadySeconds": min_ready},
                    });
                    let updated = self
                        .api
                        .patch(
                            &rs.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await?;
                    self.new = Some(updated);
                } else {
                    self.new = Some(rs);
                }
                if progress::get(&self.base, "Progressing").is_none()
                    && self
                        .d
                        .spec
                        .as_ref()
                        .and_then(|s| s.progress_deadline_seconds)
                        .is_some()
                {
                    let name = self
                        .new
                        .as_ref()
                        .map(|rs| rs.name_any())
                        .unwrap_or_default();
                    progress::set(
                        &mut self.base,
                        progress::condition(
                            "Progressing",
                            "True",
                            progress::reason::FOUND_NEW_RS,
                            format!("Found new replica set \"{name}\""),
                            progress::now(),
                        ),
                    );
                }
            }
            None if create => self.create_new(new_revision).await?,
            None => {}
        }
        if let Some(rev) = self.new.as_ref().map(revision).filter(|r| *r > 0) {
            let current = self.d.annotations().get(REVISION).cloned();
            if current.as_deref() != Some(rev.to_string().as_str()) {
                let deployments: Api<Deployment> = Api::namespaced(
                    self.ctx.client.clone(),
                    &self.d.namespace().unwrap_or_default(),
                );
                let patch = json!({"metadata": {"annotations": {REVISION: rev.to_string()}}});
                deployments
                    .patch(
                        &self.d.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Creates the new ReplicaSet `<deployment>-<pod-template-hash>`, sized within the surge
    /// (or at the full count for Recreate, whose old pods are gone by now).
    async fn create_new(&mut self, new_revision: i64) -> Result<()> {
        let d = self.d;
        let spec = d.spec.clone().unwrap_or_default();
        let collisions = self.base.collision_count.unwrap_or(0);
        let hash = template_hash(&template::bare(Some(&spec.template)), collisions);
        let name = format!("{}-{hash}", d.name_any());
        let mut rs_template = spec.template.clone();
        rs_template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let want = self.want();
        let initial = if rolling::is_rolling(d) {
            let all: i32 = self.olds.iter().map(replicas).sum();
            rolling::new_rs_replicas(want, rolling::max_surge(d), 0, all)
        } else {
            want
        };
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: d.namespace(),
                labels: rs_template.metadata.as_ref().and_then(|m| m.labels.clone()),
                annotations: sync::new_rs_annotations(d, None, new_revision, false),
                owner_references: Some(vec![pods::owner_reference(d)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(initial),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(rs_template),
            }),
            status: None,
        };
        match self.api.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                if initial > 0 {
                    self.ctx.recorder.normal(
                        d,
                        "ScalingReplicaSet",
                        format!("Scaled up replica set {name} from 0 to {initial}"),
                    );
                }
                if spec.progress_deadline_seconds.is_some() {
                    progress::set(
                        &mut self.base,
                        progress::condition(
                            "Progressing",
                            "True",
                            progress::reason::NEW_RS_CREATED,
                            format!("Created new replica set \"{name}\""),
                            progress::now(),
                        ),
                    );
                }
                self.new = Some(created);
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Ours already (a lagging cache), or a hash collision with another template.
                let existing = self.api.get(&name).await?;
                let ours = pods::controller_of(&existing.metadata)
                    .is_some_and(|o| Some(&o.uid) == d.metadata.uid.as_ref());
                let same = template::bare(existing.spec.as_ref().and_then(|s| s.template.as_ref()))
                    == template::bare(Some(&spec.template));
                if ours && same {
                    self.new = Some(existing);
                    return Ok(());
                }
                let deployments: Api<Deployment> =
                    Api::namespaced(self.ctx.client.clone(), &d.namespace().unwrap_or_default());
                let patch = json!({"status": {"collisionCount": collisions + 1}});
                deployments
                    .patch_status(
                        &d.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                Err(Error::Invalid(format!(
                    "replica set {name} exists with another template; collision count raised"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a ReplicaSet's replicas and its desired/max annotations (upstream's
    /// `scaleReplicaSet`), with a ScalingReplicaSet event when the size changes.
    async fn scale(&self, rs: ReplicaSet, to: i32) -> Result<ReplicaSet> {
        let want = self.want();
        let max = want + rolling::max_surge(self.d);
        let from = replicas(&rs);
        let annotation = |k: &str| rs.annotations().get(k).cloned();
        let annotations_current = annotation(DESIRED) == Some(want.to_string())
            && annotation(MAX) == Some(max.to_string());
        if from == to && annotations_current {
            return Ok(rs);
        }
        let patch = json!({
            "metadata": {"resourceVersion": rs.metadata.resource_version,
                         "annotations": {DESIRED: want.to_string(), MAX: max.to_string()}},
            "spec": {"replicas": to},
        });
        let name = rs.name_any();
        let updated = self
            .api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        if from != to {
            let direction = if to > from { "up" } else { "down" };
            self.ctx.recorder.normal(
                self.d,
                "ScalingReplicaSet",
                format!("Scaled {direction} replica set {name} from {from} to {to}"),
            );
        }
        Ok(updated)
    }

    /// Upstream's `cleanupDeployment`: deletes the oldest revisions beyond
    /// revisionHistoryLimit, skipping any that still has pods.
    async fn cleanup(&self) -> Result<()> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut alive: Vec<&ReplicaSet> = self
            .olds
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = alive.len().saturating_sub(limit.max(0) as usize);
        alive.sort_by_key(|rs| revision(rs));
        for rs in alive.into_iter().take(excess) {
            let status = rs.status.clone().unwrap_or_default();
            let observed = status.observed_generation.unwrap_or(0);
            if status.replicas != 0
                || replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            let name = rs.name_any();
            match self.api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => tracing::debug!(replicaset = name, "deleted an old revision"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Upstream's `syncRolloutStatus`: counts, Available, Progressing (with the deadline,
    /// looked at again when due) and ReplicaFailure.
    async fn rollout_status(&self) -> Result<Action> {
        let now = progress::now();
        let all = self.all();
        let new = self.new.as_ref();
        let mut status = progress::calculate(
            self.d,
            &self.base,
            &all,
            new,
            rolling::max_unavailable(self.d),
            now,
        );
        let due = progress::rollout(self.d, &self.base, &mut status, &all, new, now);
        self.write_status(status).await?;
        Ok(due
            .map(Action::requeue)
            .unwrap_or_else(Action::await_change))
    }

    /// Writes the status when it differs from the stored one.
    async fn write_status(&self, status: DeploymentStatus) -> Result<()> {
        let stored = self.d.status.clone().unwrap_or_default();
        if !progress::differs(&stored, &status) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(
            self.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        );
        api.patch_status(
            &self.d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await?;
        Ok(())
    }
}

/// Replaces a ReplicaSet's ownerReferences (adoption or release), guarded by its uid;
/// `None` when it is gone or changed meanwhile.
async fn set_owners(
    api: &Api<ReplicaSet>,
    rs: &ReplicaSet,
    refs: serde_json::Value,
) -> Result<Option<ReplicaSet>> {
    let patch = json!({"metadata": {"ownerReferences": refs, "uid": rs.metadata.uid}});
    match api
        .patch(
            &rs.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(rs) => Ok(Some(rs)),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 || e.code == 422 => Ok(None),
        Err(e) => Err(e.into()),
    }
}
