//! What the garbage collector does through the API once the graph has decided: orphan
//! dependents, release an owner deleted in the foreground, and act on a dependent whose
//! owners are gone (asking the API about owners the graph cannot vouch for).

use std::sync::Arc;

use k8s_openapi::{
    api::core::v1::ObjectReference, apimachinery::pkg::apis::meta::v1::OwnerReference,
};
use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, Preconditions},
};
use serde_json::json;

use super::{
    Kinds,
    graph::{self, FOREGROUND, Node, ORPHAN, Owner, Verdict},
};
use crate::Context;

/// One object's work, with what the graph knew when it was planned.
pub enum Work {
    /// An owner deleted with `orphan`: its dependents lose their references to it, then it
    /// loses the finalizer.
    Orphan {
        /// The owner.
        owner: Node,
        /// Its dependents.
        dependents: Vec<Node>,
    },
    /// An owner deleted in the foreground that nothing blocks any more: it loses the
    /// `foregroundDeletion` finalizer.
    Unblock(Node),
    /// A dependent, with each owner reference as the graph classified it (and whether its
    /// uid is an object in another namespace).
    Dependent {
        /// The dependent.
        node: Node,
        /// Its owner references.
        owners: Vec<(OwnerReference, Owner, bool)>,
        /// Whether it owns objects itself.
        has_dependents: bool,
    },
}

/// Does the work through the API.
pub struct Worker {
    /// The client and recorder.
    pub ctx: Arc<Context>,
    /// Every served kind.
    pub kinds: Kinds,
}

impl Worker {
    /// Does one object's work.
    pub async fn execute(&self, work: Work) -> Result<(), kube::Error> {
        match work {
            Work::Orphan { owner, dependents } => {
                for dep in &dependents {
                    let keep: Vec<&OwnerReference> =
                        dep.owners.iter().filter(|r| r.uid != owner.uid).collect();
                    patch_owners(&self.ctx.client, dep, &keep).await?;
                }
                remove_finalizer(&self.ctx.client, &owner, ORPHAN).await
            }
            Work::Unblock(owner) => remove_finalizer(&self.ctx.client, &owner, FOREGROUND).await,
            Work::Dependent {
                node,
                owners,
                has_dependents,
            } => self.dependent(&node, owners, has_dependents).await,
        }
    }

    async fn dependent(
        &self,
        node: &Node,
        owners: Vec<(OwnerReference, Owner, bool)>,
        has_dependents: bool,
    ) -> Result<(), kube::Error> {
        let mut classified = Vec::with_capacity(owners.len());
        for (reference, owner, elsewhere) in owners {
            let owner = match owner {
                Owner::Unknown => self.verify(node, &reference, elsewhere).await?,
                known => known,
            };
            classified.push((reference.uid, owner));
        }
        match graph::verdict(node, &classified, has_dependents) {
            Verdict::Keep => Ok(()),
            Verdict::RemoveOwners(gone) => {
                let keep: Vec<&OwnerReference> = node
                    .owners
                    .iter()
                    .filter(|r| !gone.contains(&r.uid))
                    .collect();
                patch_owners(&self.ctx.client, node, &keep).await
            }
            Verdict::Delete(policy) => {
                tracing::debug!(
                    kind = node.resource.kind,
                    namespace = node.namespace,
                    name = node.name,
                    ?policy,
                    "deleting an object whose owners are gone"
                );
                let params = DeleteParams {
                    propagation_policy: Some(policy),
                    preconditions: Some(Preconditions {
                        uid: Some(node.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                ignore_missing(
                    api_for(&self.ctx.client, node)
                        .delete(&node.name, &params)
                        .await,
                )
            }
        }
    }

    /// Asks the API whether the owner `reference` of `dependent` exists: by its kind and name
    /// in the dependent's namespace, and with the uid the reference names.
    async fn verify(
        &self,
        dependent: &Node,
        reference: &OwnerReference,
        elsewhere: bool,
    ) -> Result<Owner, kube::Error> {
        let key = (
            graph::group_of(&reference.api_version).to_string(),
            reference.kind.clone(),
        );
        let Some(served) = self.kinds.get(&key) else {
            // A kind the server does not serve cannot be checked; the dependent stays.
            tracing::debug!(kind = reference.kind, "owner of an unknown kind");
            return Ok(Owner::Solid);
        };
        let client = self.ctx.client.clone();
        let api: Api<DynamicObject> = match (&dependent.namespace, served.namespaced) {
            (_, false) => Api::all_with(client, &served.resource),
            (Some(ns), true) => Api::namespaced_with(client, ns, &served.resource),
            (None, true) => {
                // A cluster-scoped object cannot be owned by a namespaced one.
                self.invalid_namespace(dependent, reference);
                return Ok(Owner::Dangling);
            }
        };
        let owner = match api.get_metadata_opt(&reference.name).await? {
            Some(live) if live.metadata.uid.as_deref() == Some(reference.uid.as_str()) => live,
            _ => {
                if elsewhere {
                    self.invalid_namespace(dependent, reference);
                }
                return Ok(Owner::Dangling);
            }
        };
        let deleting = owner.metadata.deletion_timestamp.is_some();
        let foreground = owner
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == FOREGROUND);
        Ok(if deleting && foreground {
            Owner::Waiting
        } else {
            Owner::Solid
        })
    }

    /// Upstream's warning `OwnerRefInvalidNamespace` on the dependent.
    fn invalid_namespace(&self, dependent: &Node, reference: &OwnerReference) {
        let regarding = ObjectReference {
            api_version: Some(dependent.resource.api_version.clone()),
            kind: Some(dependent.resource.kind.clone()),
            name: Some(dependent.name.clone()),
            namespace: dependent.namespace.clone(),
            uid: Some(dependent.uid.clone()),
            ..Default::default()
        };
        let namespace = dependent.namespace.as_deref().unwrap_or_default();
        let message = format!(
            "ownerRef [{}/{}, namespace: {namespace}, name: {}, uid: {}] does not exist in namespace \"{namespace}\"",
            reference.api_version, reference.kind, reference.name, reference.uid,
        );
        self.ctx.recorder.record(
            regarding,
            component::EventType::Warning,
            "OwnerRefInvalidNamespace",
            message,
        );
    }
}

fn api_for(client: &Client, node: &Node) -> Api<DynamicObject> {
    match &node.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &node.resource),
        None => Api::all_with(client.clone(), &node.resource),
    }
}

/// Removes `finalizer` from an object, at the version the graph saw.
async fn remove_finalizer(
    client: &Client,
    node: &Node,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let rest: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": rest, "resourceVersion": node.resource_version}});
    write(client, node, &patch).await
}

/// Sets an object's ownerReferences, removing the field when none remain, at the version the
/// graph saw.
async fn patch_owners(
    client: &Client,
    node: &Node,
    refs: &[&OwnerReference],
) -> Result<(), kube::Error> {
    let refs = if refs.is_empty() {
        json!(null)
    } else {
        json!(refs)
    };
    let patch =
        json!({"metadata": {"ownerReferences": refs, "resourceVersion": node.resource_version}});
    write(client, node, &patch).await
}

/// Writes a merge patch. A conflict means the graph's view is stale; the newer version is on
/// its way through the watch and will be looked at then.
async fn write(client: &Client, node: &Node, patch: &serde_json::Value) -> Result<(), kube::Error> {
    let params = PatchParams::default();
    ignore_missing(
        api_for(client, node)
            .patch(&node.name, &params, &Patch::Merge(patch))
            .await,
    )
}

fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
