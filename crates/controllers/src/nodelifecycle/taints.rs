//! The taints a node's conditions call for, and which NoExecute taints a pod tolerates and
//! for how long (upstream's TaintNodeByCondition, taint-based eviction and
//! `GetMatchingTolerations`/`getMinTolerationTime`), without I/O.

use std::time::Duration;

use apimachinery::taints::tolerates;
use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{Node, NodeCondition, Taint, Toleration},
    apimachinery::pkg::apis::meta::v1::Time,
};

/// The taint of a node whose Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint of a node whose Ready condition is Unknown.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint of a cordoned node.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Conditions that, when True, taint the node NoSchedule (upstream's `nodeConditionToTaintKeyStatusMap`).
const PRESSURE: [(&str, &str); 4] = [
    ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "node.kubernetes.io/pid-pressure"),
    (
        "NetworkUnavailable",
        "node.kubernetes.io/network-unavailable",
    ),
];

/// The status of a node condition, if the node has it.
pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether a taint is one this controller manages (it adds and removes them itself).
fn managed(taint: &Taint) -> bool {
    let key = taint.key.as_str();
    match taint.effect.as_str() {
        "NoSchedule" => {
            [NOT_READY, UNREACHABLE, UNSCHEDULABLE].contains(&key)
                || PRESSURE.iter().any(|(_, k)| *k == key)
        }
        "NoExecute" => [NOT_READY, UNREACHABLE].contains(&key),
        _ => false,
    }
}

/// The (key, effect) pairs a node's conditions and cordon call for.
fn wanted(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut wanted = Vec::new();
    match condition(node, "Ready").map(|c| c.status.as_str()) {
        Some("False") => {
            wanted.push((NOT_READY, "NoSchedule"));
            wanted.push((NOT_READY, "NoExecute"));
        }
        Some("Unknown") => {
            wanted.push((UNREACHABLE, "NoSchedule"));
            wanted.push((UNREACHABLE, "NoExecute"));
        }
        _ => {}
    }
    for (type_, key) in PRESSURE {
        if condition(node, type_).is_some_and(|c| c.status == "True") {
            wanted.push((key, "NoSchedule"));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        wanted.push((UNSCHEDULABLE, "NoSchedule"));
    }
    wanted
}

/// The node's taints as its conditions want them, or `None` when they are so already. Other
/// taints stay as they are; a NoExecute taint records when it was added.
pub fn desired(node: &Node, now: Timestamp) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let wanted = wanted(node);
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| !managed(t) || wanted.contains(&(t.key.as_str(), t.effect.as_str())))
        .cloned()
        .collect();
    for (key, effect) in wanted {
        if !taints.iter().any(|t| t.key == key && t.effect == effect) {
            taints.push(Taint {
                key: key.to_string(),
                effect: effect.to_string(),
                time_added: (effect == "NoExecute").then_some(Time(now)),
                value: None,
            });
        }
    }
    (taints != current).then_some(taints)
}

/// What the NoExecute taints of a node mean for a pod on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// No NoExecute taint, or tolerated forever: the pod stays.
    Never,
    /// Some taint is not tolerated: the pod goes now.
    Now,
    /// Every taint is tolerated for a while: the pod goes at this time.
    At(Timestamp),
}

/// When a pod with `tolerations` must leave a node with `taints`: now if some NoExecute
/// taint is not tolerated, else at the earliest `timeAdded` plus the shortest
/// `tolerationSeconds` among the tolerations used (never without one).
pub fn eviction(taints: &[Taint], tolerations: &[Toleration], now: Timestamp) -> Eviction {
    let no_execute: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if no_execute.is_empty() {
        return Eviction::Never;
    }
    let mut shortest: Option<i64> = None;
    for taint in &no_execute {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Eviction::Now;
        }
        for seconds in used.iter().filter_map(|t| t.toleration_seconds) {
            let seconds = seconds.max(0);
            shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
        }
    }
    let Some(seconds) = shortest else {
        return Eviction::Never;
    };
    let since = no_execute
        .iter()
        .filter_map(|t| t.time_added.as_ref().map(|t| t.0))
        .min()
        .unwrap_or(now);
    let at = since
        .checked_add(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
        .unwrap_or(since);
    Eviction::At(at)
}
