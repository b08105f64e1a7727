//! ControllerRevisions, as upstream's `pkg/controller/history` keeps them for StatefulSets and
//! DaemonSets: one immutable snapshot of the pod template per distinct template, named
//! `<owner>-<hash>`, numbered in the order the templates were used; going back to an older
//! template renumbers its revision instead of writing a new one.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::{
    api::{apps::v1::ControllerRevision, core::v1::PodTemplateSpec},
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, runtime::RawExtension},
};
use kube::{
    Api, Resource,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::{Context, Result, pods};

/// The label a ControllerRevision carries its hash in.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// FNV-32a, the hash upstream names revisions with.
fn fnv32a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x01000193)
    })
}

/// The hash of revision data and the collision count, encoded as upstream's
/// `rand.SafeEncodeString` does (digits and consonants only).
pub fn hash(data: &Value, collision_count: i32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    bytes.extend_from_slice(collision_count.to_string().as_bytes());
    fnv32a(&bytes)
        .to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The data of a template's revision: the patch that restores it,
/// `{"spec":{"template":{..., "$patch":"replace"}}}`.
pub fn data_of(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or_default();
    if let Some(map) = t.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The pod template a revision holds.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    if let Some(map) = t.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// The revisions `owner_uid` controls in `namespace`, oldest first.
pub fn owned(ctx: &Context, namespace: &str, owner_uid: &str) -> Vec<Arc<ControllerRevision>> {
    let mut revisions: Vec<Arc<ControllerRevision>> = ctx
        .informers
        .get::<ControllerRevision>()
        .store()
        .state()
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some(namespace))
        .filter(|r| pods::controller_of(&r.metadata).is_some_and(|o| o.uid == owner_uid))
        .collect();
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then(a.metadata.name.cmp(&b.metadata.name))
    });
    revisions
}

/// What [`ensure`] settled on.
pub struct Ensured {
    /// The revision holding the owner's current template.
    pub revision: ControllerRevision,
    /// The collision count to record in the owner's status.
    pub collision_count: i32,
}

/// Finds the revision equal to `data` among `existing` (renumbering it as the newest when it
/// is not) or creates one, raising the collision count past names taken by other data.
pub async fn ensure<K>(
    ctx: &Context,
    owner: &K,
    labels: BTreeMap<String, String>,
    data: Value,
    existing: &[Arc<ControllerRevision>],
    mut collision_count: i32,
) -> Result<Ensured>
where
    K: Resource<DynamicType = ()>,
{
    let ns = owner.meta().namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let newest = existing.iter().map(|r| r.revision).max().unwrap_or(0);
    if let Some(found) = existing
        .iter()
        .rev()
        .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
    {
        if found.revision == newest {
            return Ok(Ensured {
                revision: (**found).clone(),
                collision_count,
            });
        }
        // A rollback: the old template becomes the newest revision again.
        let name = found.metadata.name.clone().unwrap_or_default();
        let revision = api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"revision": newest + 1})),
            )
            .await?;
        return Ok(Ensured {
            revision,
            collision_count,
        });
    }
    let owner_name = owner.meta().name.clone().unwrap_or_default();
    loop {
        let hash = hash(&data, collision_count);
        let mut labels = labels.clone();
        labels.insert(HASH_LABEL.into(), hash.clone());
        let revision = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(format!("{owner_name}-{hash}")),
                namespace: Some(ns.clone()),
                labels: Some(labels),
                owner_references: Some(vec![pods::owner_reference(owner)]),
                ..Default::default()
            },
            data: Some(RawExtension(data.clone())),
            revision: newest + 1,
        };
        match api.create(&PostParams::default(), &revision).await {
            Ok(created) => {
                return Ok(Ensured {
                    revision: created,
                    collision_count,
                });
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Ours already (a lagging cache) or another template with the same hash.
                let taken = api.get(&format!("{owner_name}-{hash}")).await?;
                let ours = pods::controller_of(&taken.metadata)
                    .is_some_and(|o| Some(&o.uid) == owner.meta().uid.as_ref());
                if ours && taken.data.as_ref().map(|d| &d.0) == Some(&data) {
                    return Ok(Ensured {
                        revision: taken,
                        collision_count,
                    });
                }
                collision_count += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Deletes the oldest revisions beyond `limit`, sparing those `in_use` names.
pub async fn truncate(
    ctx: &Context,
    namespace: &str,
    revisions: &[Arc<ControllerRevision>],
    in_use: &[&str],
    limit: i32,
) -> Result<()> {
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), namespace);
    let spare: Vec<&Arc<ControllerRevision>> = revisions
        .iter()
        .filter(|r| !in_use.contains(&r.metadata.name.as_deref().unwrap_or("")))
        .collect();
    let surplus = spare.len().saturating_sub(limit.max(0) as usize);
    for revision in spare.into_iter().take(surplus) {
        let name = revision.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
