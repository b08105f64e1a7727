//! What one DaemonSet sync does, decided from the nodes and their pods alone (upstream's
//! `manage` and `rollingUpdate`): a pod on each node that should run one, none elsewhere,
//! failed pods replaced, duplicates removed; then outdated pods replaced within
//! `maxUnavailable`, or, with `maxSurge`, new pods started beside the old ones first.

use std::collections::BTreeMap;

/// A daemon pod as the plan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    /// Its name.
    pub name: String,
    /// Made from the current template.
    pub updated: bool,
    /// Ready for `minReadySeconds`.
    pub available: bool,
    /// Being deleted.
    pub terminating: bool,
    /// Succeeded or Failed: to be replaced.
    pub finished: bool,
}

/// A node and the daemon pods on it.
#[derive(Clone, Debug, Default)]
pub struct NodeView {
    /// The node exists.
    pub exists: bool,
    /// A pod should be created there.
    pub should_run: bool,
    /// A pod there may stay.
    pub should_continue: bool,
    /// Its daemon pods, oldest first.
    pub pods: Vec<PodView>,
}

/// The update strategy.
#[derive(Clone, Copy, Debug)]
pub enum Update {
    /// Pods are replaced only when someone deletes them.
    OnDelete,
    /// Outdated pods are replaced, at most this many unavailable / surging at once.
    Rolling {
        /// `maxUnavailable` scaled to the desired count.
        max_unavailable: usize,
        /// `maxSurge` scaled to the desired count.
        max_surge: usize,
    },
}

/// One step of a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create a pod (of the current template) for this node.
    Create(String),
    /// Delete this pod.
    Delete(String),
}

/// The operations of one sync.
pub fn plan(nodes: &BTreeMap<String, NodeView>, update: Update) -> Vec<Op> {
    let mut ops = Vec::new();
    let surge = matches!(update, Update::Rolling { max_surge, .. } if max_surge > 0);
    for (node, view) in nodes {
        let live: Vec<&PodView> = view.pods.iter().filter(|p| !p.terminating).collect();
        if !view.exists || !view.should_continue || (!view.should_run && live.is_empty()) {
            ops.extend(live.iter().map(|p| Op::Delete(p.name.clone())));
            continue;
        }
        let mut running: Vec<&PodView> = Vec::new();
        for pod in live {
            if pod.finished {
                ops.push(Op::Delete(pod.name.clone()));
            } else {
                running.push(pod);
            }
        }
        if running.is_empty() {
            if view.should_run {
                ops.push(Op::Create(node.clone()));
            }
            continue;
        }
        // Duplicates go: keep the oldest, or while surging the oldest old and newest new pod.
        let keep: Vec<&str> = if surge {
            let old = running.iter().find(|p| !p.updated);
            let new = running.iter().rev().find(|p| p.updated);
            old.into_iter()
                .chain(new)
                .map(|p| p.name.as_str())
                .collect()
        } else {
            running.iter().take(1).map(|p| p.name.as_str()).collect()
        };
        ops.extend(
            running
                .iter()
                .filter(|p| !keep.contains(&p.name.as_str()))
                .map(|p| Op::Delete(p.name.clone())),
        );
    }
    if let Update::Rolling {
        max_unavailable,
        max_surge,
    } = update
    {
        if surge {
            ops.extend(surge_update(nodes, max_surge));
        } else {
            ops.extend(rolling_update(nodes, max_unavailable));
        }
    }
    ops
}

/// The pods on a node that count: not terminating and not finished.
fn running(view: &NodeView) -> impl Iterator<Item = &PodView> {
    view.pods.iter().filter(|p| !p.terminating && !p.finished)
}

/// Replaces outdated pods, deleting unavailable ones at once and available ones while fewer
/// than `max_unavailable` pods are unavailable.
fn rolling_update(nodes: &BTreeMap<String, NodeView>, max_unavailable: usize) -> Vec<Op> {
    let mut unavailable = 0;
    let mut now = Vec::new();
    let mut candidates = Vec::new();
    for view in nodes.values().filter(|v| v.exists && v.should_run) {
        let new = running(view).find(|p| p.updated);
        let old = running(view).find(|p| !p.updated);
        match (old, new) {
            (_, Some(new)) => unavailable += usize::from(!new.available),
            (Some(old), None) if !old.available => {
                unavailable += 1;
                now.push(Op::Delete(old.name.clone()));
            }
            (Some(old), None) => candidates.push(Op::Delete(old.name.clone())),
            (None, None) => unavailable += 1,
        }
    }
    let room = max_unavailable.saturating_sub(unavailable);
    now.extend(candidates.into_iter().take(room));
    now
}

/// Starts new pods beside available old ones (at most `max_surge` not yet available), and
/// removes old pods whose replacement is available.
fn surge_update(nodes: &BTreeMap<String, NodeView>, max_surge: usize) -> Vec<Op> {
    let mut surging = 0;
    let mut ops = Vec::new();
    let mut candidates = Vec::new();
    for (node, view) in nodes.iter().filter(|(_, v)| v.exists && v.should_run) {
        let new = running(view).filter(|p| p.updated).last();
        let old = running(view).find(|p| !p.updated);
        match (old, new) {
            (Some(old), None) if !old.available => ops.push(Op::Create(node.clone())),
            (Some(_), None) => candidates.push(Op::Create(node.clone())),
            (Some(old), Some(new)) if new.available => ops.push(Op::Delete(old.name.clone())),
            (Some(_), Some(_)) => surging += 1,
            _ => {}
        }
    }
    ops.extend(
        candidates
            .into_iter()
            .take(max_surge.saturating_sub(surging)),
    );
    ops
}
