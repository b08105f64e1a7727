//! What one StatefulSet sync does, decided from the pods alone (upstream's
//! `defaultStatefulSetControl.updateStatefulSet` order): replace finished pods and create
//! missing ones (in ordinal order, one at a time for `OrderedReady`), then remove ordinals
//! beyond `replicas` from the highest down, then roll pods to the update revision from the
//! highest ordinal down to the partition.

use std::collections::BTreeMap;

/// The state of the pod at one ordinal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The pod is being deleted.
    pub terminating: bool,
    /// The pod ended (Succeeded or Failed) and must be replaced.
    pub finished: bool,
    /// Running, Ready and available for `minReadySeconds`.
    pub healthy: bool,
    /// Whether its `controller-revision-hash` is the update revision.
    pub updated: bool,
}

/// The parameters of a sync.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The first ordinal (`spec.ordinals.start`).
    pub start: i32,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `podManagementPolicy: Parallel`.
    pub parallel: bool,
    /// The rolling update's partition, or `None` for `OnDelete`.
    pub partition: Option<i32>,
}

/// One step of a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create the pod of this ordinal (and its claims).
    Create(i32),
    /// Delete the pod of this ordinal.
    Delete(i32),
}

/// The operations of one sync, in order.
pub fn plan(spec: &Spec, pods: &BTreeMap<i32, Slot>) -> Vec<Op> {
    let mut ops = Vec::new();
    let end = spec.start + spec.replicas.max(0);
    let monotonic = !spec.parallel;
    for ordinal in spec.start..end {
        let Some(pod) = pods.get(&ordinal) else {
            ops.push(Op::Create(ordinal));
            if monotonic {
                return ops;
            }
            continue;
        };
        if pod.finished {
            if !pod.terminating {
                ops.push(Op::Delete(ordinal));
            }
            if monotonic {
                return ops;
            }
            continue;
        }
        if (pod.terminating || !pod.healthy) && monotonic {
            return ops;
        }
    }
    // Ordinals beyond the replicas go, highest first.
    let condemned: Vec<(&i32, &Slot)> = pods
        .iter()
        .rev()
        .filter(|(o, _)| **o < spec.start || **o >= end)
        .collect();
    // In order, only the lowest unhealthy condemned pod may go while unhealthy.
    let first_unhealthy = condemned
        .iter()
        .rev()
        .find(|(_, p)| !p.healthy)
        .map(|(o, _)| **o);
    for (ordinal, pod) in &condemned {
        if pod.terminating {
            if monotonic {
                return ops;
            }
            continue;
        }
        if monotonic && !pod.healthy && Some(**ordinal) != first_unhealthy {
            return ops;
        }
        ops.push(Op::Delete(**ordinal));
        if monotonic {
            return ops;
        }
    }
    if !condemned.is_empty() && monotonic {
        return ops;
    }
    // The rolling update: the highest outdated pod at or above the partition goes, once the
    // pods above it are healthy.
    let Some(partition) = spec.partition else {
        return ops;
    };
    let floor = spec.start + partition.max(0);
    for ordinal in (floor..end).rev() {
        let Some(pod) = pods.get(&ordinal) else {
            continue;
        };
        if !pod.updated && !pod.terminating {
            ops.push(Op::Delete(ordinal));
            return ops;
        }
        if !pod.healthy || pod.terminating {
            return ops;
        }
    }
    ops
}
