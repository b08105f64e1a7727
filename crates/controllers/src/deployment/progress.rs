//! A Deployment's status, as upstream's `progress.go` and `calculateStatus` compute it: the
//! counts summed over its ReplicaSets, the Available condition, the Progressing condition
//! with its deadline, and ReplicaFailure copied from the ReplicaSets.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::Time,
};

use super::{available, replicas, rolling::desired};

/// Reasons of the Progressing condition (upstream's deploymentutil constants).
pub mod reason {
    /// A new ReplicaSet was created.
    pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
    /// An existing ReplicaSet became the new one.
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    /// The rollout made progress.
    pub const RS_UPDATED: &str = "ReplicaSetUpdated";
    /// The rollout is complete.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// No progress within progressDeadlineSeconds.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// `spec.paused` was set.
    pub const PAUSED: &str = "DeploymentPaused";
    /// `spec.paused` was cleared.
    pub const RESUMED: &str = "DeploymentResumed";
}

/// Now, to the second (what the API keeps of a time).
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// A condition stamped `now`.
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_transition_time: Some(Time(now)),
        last_update_time: Some(Time(now)),
    }
}

/// The condition of a type.
pub fn get<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(c) = status.conditions.as_mut() {
        c.retain(|c| c.type_ != type_);
    }
}

/// Upstream's `SetDeploymentCondition`: no change when status and reason are the same; the
/// transition time survives when only the reason changes.
pub fn set(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = get(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove(status, &new.type_);
    status.conditions.get_or_insert_with(Vec::new).push(new);
}

/// Upstream's `calculateStatus`: counts from the ReplicaSets and the Available condition;
/// other conditions are carried over from `base`.
pub fn calculate(
    d: &Deployment,
    base: &DeploymentStatus,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    max_unavailable: i32,
    now: Timestamp,
) -> DeploymentStatus {
    let st = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let avail: i32 = all.iter().map(|rs| available(rs)).sum();
    let total: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|rs| st(rs).replicas).sum()),
        updated_replicas: Some(new.map(|rs| st(rs).replicas).unwrap_or(0)),
        ready_replicas: Some(
            all.iter()
                .map(|rs| st(rs).ready_replicas.unwrap_or(0))
                .sum(),
        ),
        available_replicas: Some(avail),
        unavailable_replicas: Some((total - avail).max(0)),
        collision_count: base.collision_count,
        conditions: base.conditions.clone(),
        terminating_replicas: None,
    };
    let available_condition = if avail >= desired(d) - max_unavailable {
        condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    set(&mut status, available_condition);
    status
}

/// `spec.progressDeadlineSeconds`, unless unset or "never" (MaxInt32).
fn deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()?
        .progress_deadline_seconds
        .filter(|s| *s != i32::MAX)
}

/// Upstream's `DeploymentComplete`.
pub fn is_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = desired(d);
    status.updated_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Upstream's `DeploymentProgressing`: more updated, ready or available pods, or fewer old
/// ones, than `old` recorded.
fn is_progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_olds = n(old.replicas) - n(old.updated_replicas);
    let new_olds = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_olds < old_olds
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// Upstream's `syncRolloutStatus` (Progressing) and `getReplicaFailures`: sets the
/// conditions of a rollout on `status`, computed against `old` (the Deployment's status as
/// this sync found it); returns when the deadline falls due, to look again then.
pub fn rollout(
    d: &Deployment,
    old: &DeploymentStatus,
    status: &mut DeploymentStatus,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> Option<Duration> {
    let rs_name = new.and_then(|rs| rs.metadata.name.clone());
    let subject = match &rs_name {
        Some(n) => format!("ReplicaSet \"{n}\""),
        None => format!(
            "Deployment \"{}\"",
            d.metadata.name.as_deref().unwrap_or("")
        ),
    };
    let mut due = None;
    match deadline(d) {
        None => remove(status, "Progressing"),
        Some(seconds) => {
            let current = get(old, "Progressing").cloned();
            let done = status.replicas == status.updated_replicas
                && current.as_ref().and_then(|c| c.reason.as_deref())
                    == Some(reason::NEW_RS_AVAILABLE);
            if !done {
                if is_complete(d, status) {
                    set(
                        status,
                        condition(
                            "Progressing",
                            "True",
                            reason::NEW_RS_AVAILABLE,
                            format!("{subject} has successfully progressed."),
                            now,
                        ),
                    );
                } else if is_progressing(old, status) {
                    let mut c = condition(
                        "Progressing",
                        "True",
                        reason::RS_UPDATED,
                        format!("{subject} is progressing."),
                        now,
                    );
                    if let Some(cur) = current.as_ref().filter(|c| c.status == "True") {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove(status, "Progressing");
                    status.conditions.get_or_insert_with(Vec::new).push(c);
                } else if timed_out(current.as_ref(), seconds, now) {
                    set(
                        status,
                        condition(
                            "Progressing",
                            "False",
                            reason::TIMED_OUT,
                            format!("{subject} has timed out progressing."),
                            now,
                        ),
                    );
                }
            }
            // Upstream's requeueStuckDeployment: look again when the deadline falls due.
            let cond = get(status, "Progressing");
            let settled = cond.is_none_or(|c| {
                matches!(
                    c.reason.as_deref(),
                    Some(reason::NEW_RS_AVAILABLE | reason::TIMED_OUT)
                )
            });
            if !settled && !is_complete(d, status) {
                let from = cond
                    .and_then(|c| c.last_update_time.as_ref())
                    .map(|t| t.0)
                    .unwrap_or(now);
                let left = from.as_second() + seconds as i64 - now.as_second();
                due = Some(Duration::from_secs(left.max(1) as u64));
            }
        }
    }
    let failure = new.into_iter().chain(all.iter().copied()).find_map(|rs| {
        rs.status
            .as_ref()?
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure")
            .cloned()
    });
    match failure {
        Some(f) => set(
            status,
            DeploymentCondition {
                type_: f.type_,
                status: f.status,
                reason: f.reason,
                message: f.message,
                last_transition_time: f.last_transition_time.clone(),
                last_update_time: f.last_transition_time,
            },
        ),
        None => remove(status, "ReplicaFailure"),
    }
    due
}

/// Upstream's `DeploymentTimedOut`.
fn timed_out(current: Option<&DeploymentCondition>, seconds: i32, now: Timestamp) -> bool {
    let Some(c) = current else { return false };
    match c.reason.as_deref() {
        Some(reason::NEW_RS_AVAILABLE) => false,
        Some(reason::TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| t.0.as_second() + (seconds as i64) < now.as_second()),
    }
}

/// Upstream's `checkPausedConditions`: Progressing becomes Unknown with DeploymentPaused or
/// DeploymentResumed when `spec.paused` changes (never over a timed-out rollout).
pub fn paused(d: &Deployment, status: &mut DeploymentStatus, now: Timestamp) {
    if deadline(d).is_none() {
        return;
    }
    let reason = get(status, "Progressing").and_then(|c| c.reason.clone());
    if reason.as_deref() == Some(reason::TIMED_OUT) {
        return;
    }
    let is_paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let shown = reason.as_deref() == Some(reason::PAUSED);
    if is_paused && !shown {
        set(
            status,
            condition(
                "Progressing",
                "Unknown",
                reason::PAUSED,
                "Deployment is paused".into(),
                now,
            ),
        );
    } else if !is_paused && shown {
        set(
            status,
            condition(
                "Progressing",
                "Unknown",
                reason::RESUMED,
                "Deployment is resumed".into(),
                now,
            ),
        );
    }
}

/// Whether two statuses differ (zero counts equal missing ones, as Go omits them).
pub fn differs(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    fn norm(s: &DeploymentStatus) -> DeploymentStatus {
        let z = |v: Option<i32>| v.filter(|n| *n != 0);
        DeploymentStatus {
            observed_generation: s.observed_generation.filter(|n| *n != 0),
            replicas: z(s.replicas),
            updated_replicas: z(s.updated_replicas),
            ready_replicas: z(s.ready_replicas),
            available_replicas: z(s.available_replicas),
            unavailable_replicas: z(s.unavailable_replicas),
            terminating_replicas: z(s.terminating_replicas),
            collision_count: z(s.collision_count),
            conditions: s.conditions.clone().filter(|c| !c.is_empty()),
        }
    }
    norm(a) != norm(b)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "template": {},
                     "progressDeadlineSeconds": 60},
            "status": status,
        }))
        .unwrap()
    }

    fn rs(name: &str, replicas: i32, available: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": replicas, "readyReplicas": available,
                       "availableReplicas": available},
        }))
        .unwrap()
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    fn progressing(s: &DeploymentStatus) -> (String, String) {
        let c = get(s, "Progressing").unwrap();
        (c.status.clone(), c.reason.clone().unwrap_or_default())
    }

    #[test]
    fn a_rollout_progresses_completes_and_times_out() {
        let d = deployment(json!({}));
        let old = d.status.clone().unwrap();
        let new = rs("web-abc", 1, 0);
        let olds = rs("web-old", 3, 3);
        let all = [&new, &olds];
        let mut s = calculate(&d, &old, &all, Some(&new), 0, at(0));
        assert_eq!(s.unavailable_replicas, Some(1));
        assert_eq!(get(&s, "Available").unwrap().status, "True");
        let due = rollout(&d, &old, &mut s, &all, Some(&new), at(0));
        assert_eq!(progressing(&s), ("True".into(), reason::RS_UPDATED.into()));
        assert_eq!(due, Some(Duration::from_secs(60)));

        // No progress for longer than the deadline.
        let d = deployment(serde_json::to_value(&s).unwrap());
        let old = s.clone();
        let mut s = calculate(&d, &old, &all, Some(&new), 0, at(61));
        let due = rollout(&d, &old, &mut s, &all, Some(&new), at(61));
        assert_eq!(progressing(&s), ("False".into(), reason::TIMED_OUT.into()));
        assert_eq!(due, None);

        // Complete.
        let new = rs("web-abc", 3, 3);
        let mut s = calculate(&d, &old, &[&new], Some(&new), 0, at(70));
        rollout(&d, &old, &mut s, &[&new], Some(&new), at(70));
        assert_eq!(
            progressing(&s),
            ("True".into(), reason::NEW_RS_AVAILABLE.into())
        );
        assert!(!differs(&s, &s.clone()));
    }

    #[test]
    fn available_needs_all_but_max_unavailable() {
        let d = deployment(json!({}));
        let old = DeploymentStatus::default();
        let new = rs("web-abc", 3, 1);
        let s = calculate(&d, &old, &[&new], Some(&new), 1, at(0));
        assert_eq!(get(&s, "Available").unwrap().status, "False");
        let s = calculate(&d, &old, &[&new], Some(&new), 2, at(0));
        assert_eq!(
            get(&s, "Available").unwrap().reason.as_deref(),
            Some("MinimumReplicasAvailable")
        );
    }

    #[test]
    fn pausing_shows_unknown_progress() {
        let mut d = deployment(json!({}));
        d.spec.as_mut().unwrap().paused = Some(true);
        let mut s = DeploymentStatus::default();
        paused(&d, &mut s, at(0));
        assert_eq!(progressing(&s), ("Unknown".into(), reason::PAUSED.into()));
        d.spec.as_mut().unwrap().paused = Some(false);
        paused(&d, &mut s, at(1));
        assert_eq!(progressing(&s), ("Unknown".into(), reason::RESUMED.into()));
    }
}
