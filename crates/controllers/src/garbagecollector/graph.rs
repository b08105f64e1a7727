//! The owner graph of the garbage collector and its decisions, without I/O: which owners of
//! an object are still there, and what to do about an object as a dependent and as an owner.

use std::collections::{HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ApiResource, PropagationPolicy};

/// The finalizer of an owner deleted in the foreground.
pub const FOREGROUND: &str = "foregroundDeletion";

/// The finalizer of an owner whose dependents are orphaned.
pub const ORPHAN: &str = "orphan";

/// One object in the owner graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its resource.
    pub resource: ApiResource,
    /// Its namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// The version observed, sent with patches so that a stale view fails instead of writing.
    pub resource_version: Option<String>,
    /// Its ownerReferences.
    pub owners: Vec<OwnerReference>,
    /// Its `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// Whether it has a deletionTimestamp.
    pub deleting: bool,
}

impl Node {
    /// Whether the object carries `finalizer` while being deleted.
    pub fn deleting_with(&self, finalizer: &str) -> bool {
        self.deleting && self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Whether this object blocks the foreground deletion of `owner`.
    pub fn blocks(&self, owner: &str) -> bool {
        self.owners
            .iter()
            .any(|r| r.uid == owner && r.block_owner_deletion == Some(true))
    }

    /// Whether `reference` names this object: same uid, group, kind and name, and for a
    /// namespaced owner the namespace of its dependent.
    pub fn is(&self, reference: &OwnerReference, dependent_namespace: Option<&str>) -> bool {
        self.uid == reference.uid
            && self.resource.kind == reference.kind
            && self.resource.group == group_of(&reference.api_version)
            && self.name == reference.name
            && (self.namespace.is_none() || self.namespace.as_deref() == dependent_namespace)
    }
}

/// The group of an apiVersion (`apps/v1` -> `apps`, `v1` -> ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// What an owner reference points at, as far as the graph knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is being deleted in the foreground and waits for its dependents.
    Waiting,
    /// The owner does not exist (or is another object than the reference names).
    Dangling,
    /// The graph cannot tell; the API must be asked.
    Unknown,
}

/// What to do about an object as a dependent.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Leave it.
    Keep,
    /// Remove these owner references (its other owners are still there).
    RemoveOwners(Vec<String>),
    /// Delete it with this propagation policy.
    Delete(PropagationPolicy),
}

/// The owner graph: every watched object by uid, and each owner's dependents.
#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uid -> dependent uids.
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// How many objects the graph holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Every object's uid.
    pub fn uids(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// The object with this uid.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// Adds or replaces an object; returns the owners of its previous version.
    pub fn upsert(&mut self, node: Node) -> Vec<String> {
        let before = self.remove(&node.uid).map(|n| n.owners).unwrap_or_default();
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(node.uid.clone());
        }
        self.nodes.insert(node.uid.clone(), node);
        before.into_iter().map(|o| o.uid).collect()
    }

    /// Removes an object, returning it.
    pub fn remove(&mut self, uid: &str) -> Option<Node> {
        let node = self.nodes.remove(uid)?;
        for owner in &node.owners {
            if let Some(d) = self.dependents.get_mut(&owner.uid) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
        }
        Some(node)
    }

    /// The objects that name `uid` as an owner.
    pub fn dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// Whether any object names `uid` as an owner.
    pub fn has_dependents(&self, uid: &str) -> bool {
        self.dependents.get(uid).is_some_and(|d| !d.is_empty())
    }

    /// What the graph knows of the owner `reference` of `dependent`.
    pub fn classify(&self, dependent: &Node, reference: &OwnerReference) -> Owner {
        match self.nodes.get(&reference.uid) {
            Some(owner) if owner.is(reference, dependent.namespace.as_deref()) => {
                if owner.deleting_with(FOREGROUND) {
                    Owner::Waiting
                } else {
                    Owner::Solid
                }
            }
            // The uid is another object than the reference names (another kind, name or
            // namespace): only the API can say whether the named owner exists.
            _ => Owner::Unknown,
        }
    }

    /// Whether the owner `uid`, deleted in the foreground, still waits for a dependent that
    /// blocks it.
    pub fn blocked(&self, uid: &str) -> bool {
        self.dependents_of(uid).iter().any(|d| d.blocks(uid))
    }
}

/// Upstream `attemptToDeleteItem` for a dependent whose owners are classified (none
/// `Unknown`): with a solid owner it stays, losing only references to owners that are gone
/// or waiting; without one it is deleted, in the foreground when an owner waits for it and
/// it has dependents of its own.
pub fn verdict(dependent: &Node, owners: &[(String, Owner)], has_dependents: bool) -> Verdict {
    if owners.is_empty() {
        return Verdict::Keep;
    }
    let solid = owners.iter().any(|(_, o)| *o == Owner::Solid);
    let waiting = owners.iter().any(|(_, o)| *o == Owner::Waiting);
    if solid {
        let gone: Vec<String> = owners
            .iter()
            .filter(|(_, o)| matches!(o, Owner::Dangling | Owner::Waiting))
            .map(|(uid, _)| uid.clone())
            .collect();
        return if gone.is_empty() {
            Verdict::Keep
        } else {
            Verdict::RemoveOwners(gone)
        };
    }
    if waiting && has_dependents {
        return Verdict::Delete(PropagationPolicy::Foreground);
    }
    let policy = if dependent.finalizers.iter().any(|f| f == ORPHAN) {
        PropagationPolicy::Orphan
    } else if dependent.finalizers.iter().any(|f| f == FOREGROUND) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    Verdict::Delete(policy)
}
