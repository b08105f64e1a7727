//! DefaultPreemption: when a pod fits nowhere, the node where evicting pods of lower
//! priority makes it fit with the least harm, and upstream's account of why none does.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use k8s_openapi::api::core::v1::Pod;

use crate::{
    plugins::{Query, Reason},
    snapshot::{NodeInfo, PodInfo, Snapshot},
};

/// Upstream's reason for nodes where evicting pods cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Upstream's reason for nodes without pods of lower priority.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// What preemption decided.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The node to nominate and the pods to evict from it.
    pub victims: Option<(String, Vec<Arc<Pod>>)>,
    /// The PostFilter message for the FitError ("preemption: ..."), empty on success.
    pub message: String,
}

/// Upstream's `PodEligibleToPreemptOthers`: a pod with `preemptionPolicy: Never` never
/// preempts, and a pod whose nominated node still has its victims terminating waits.
pub fn eligible(
    info: &PodInfo,
    never: bool,
    nominated: Option<&str>,
    snapshot: &Snapshot,
) -> Result<(), String> {
    if never {
        return Err("preemption: not eligible due to preemptionPolicy=Never.".into());
    }
    let waiting = nominated
        .and_then(|n| snapshot.node(n))
        .is_some_and(|node| {
            node.pods
                .values()
                .any(|p| p.terminating() && p.priority < info.priority)
        });
    if waiting {
        return Err(
            "preemption: not eligible due to a terminating pod on the nominated node.".into(),
        );
    }
    Ok(())
}

/// The PostFilter message when no node may help (e.g. after a PreFilter failure).
pub fn not_helpful(nodes: usize) -> String {
    format!("preemption: 0/{nodes} nodes are available: {nodes} {NOT_HELPFUL}.")
}

/// The victims on one node: every pod of lower priority is removed, then as many as
/// possible are reprieved, highest priority first. `Err` is why the node cannot help.
fn victims_on(query: &Query, node: &NodeInfo) -> Result<Vec<PodInfo>, Vec<String>> {
    let mut candidates: Vec<&PodInfo> = node
        .pods
        .values()
        .filter(|p| p.priority < query.info.priority && !p.terminating())
        .collect();
    if candidates.is_empty() {
        return Err(vec![NO_VICTIMS.to_string()]);
    }
    let mut trial = node.clone();
    for c in &candidates {
        trial.remove(c.uid());
    }
    query
        .filter(&trial)
        .map_err(|rs| rs.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    candidates.sort_by_key(|p| (Reverse(p.priority), p.uid().to_string()));
    let mut victims = Vec::new();
    for c in candidates {
        trial.add(c.clone());
        if query.filter(&trial).is_err() {
            trial.remove(c.uid());
            victims.push(c.clone());
        }
    }
    Ok(victims)
}

/// A node where preemption helps: its rank (highest victim priority, sum of victim
/// priorities, victim count; lower is better), its name and the victims.
type Candidate = ((i32, i64, usize), String, Vec<PodInfo>);

/// Runs preemption over the nodes that failed the filters (with their reasons) and picks
/// the node whose victims have the lowest highest priority, then the lowest sum of
/// priorities, then are fewest.
pub fn preempt(snapshot: &Snapshot, query: &Query, failed: &[(String, Vec<Reason>)]) -> Outcome {
    let mut summary: HashMap<String, usize> = HashMap::new();
    let mut best: Option<Candidate> = None;
    for (name, reasons) in failed {
        let node = snapshot.node(name);
        let Some(node) = node.filter(|_| reasons.iter().all(Reason::preemption_helps)) else {
            *summary.entry(NOT_HELPFUL.to_string()).or_default() += 1;
            continue;
        };
        match victims_on(query, node) {
            Ok(victims) if victims.is_empty() => {
                *summary.entry(NO_VICTIMS.to_string()).or_default() += 1;
            }
            Ok(victims) => {
                let rank = (
                    victims.iter().map(|v| v.priority).max().unwrap_or(i32::MIN),
                    victims.iter().map(|v| v.priority as i64).sum(),
                    victims.len(),
                );
                if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
                    best = Some((rank, name.clone(), victims));
                }
            }
            Err(why) => {
                for r in why {
                    *summary.entry(r).or_default() += 1;
                }
            }
        }
    }
    if let Some((_, node, victims)) = best {
        return Outcome {
            victims: Some((node, victims.into_iter().map(|v| v.pod).collect())),
            message: String::new(),
        };
    }
    let mut counted: Vec<String> = summary.iter().map(|(r, n)| format!("{n} {r}")).collect();
    counted.sort();
    Outcome {
        victims: None,
        message: format!(
            "preemption: 0/{} nodes are available: {}.",
            snapshot.len(),
            counted.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn node(name: &str, cpu: &str) -> Arc<k8s_openapi::api::core::v1::Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "10"}},
            }))
            .unwrap(),
        )
    }

    fn pod(name: &str, cpu: &str, priority: i32, extra: Value) -> PodInfo {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"priority": priority, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
        });
        if let (Some(m), Value::Object(e)) = (p["metadata"].as_object_mut(), extra) {
            m.extend(e);
        }
        PodInfo::new(Arc::new(serde_json::from_value(p).unwrap()))
    }

    /// Runs preemption for `incoming` after filtering every node.
    fn run(s: &Snapshot, incoming: PodInfo) -> Outcome {
        let q = Query::new(incoming, s);
        let failed: Vec<(String, Vec<Reason>)> = s
            .nodes_from(0)
            .filter_map(|n| Some((n.name().to_string(), q.filter(n).err()?)))
            .collect();
        preempt(s, &q, &failed)
    }

    fn victims(o: &Outcome) -> (String, Vec<String>) {
        let (node, pods) = o.victims.clone().unwrap_or_default();
        let mut names: Vec<String> = pods
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        (node, names)
    }

    #[test]
    fn evicts_the_fewest_lowest_priority_pods() {
        let mut s = Snapshot::default();
        s.upsert_node(node("a", "2"));
        s.upsert_node(node("b", "2"));
        // a: two small low pods; b: one big pod of middling priority.
        s.add(pod("a1", "1", 1, json!({})), "a");
        s.add(pod("a2", "1", 1, json!({})), "a");
        s.add(pod("b1", "2", 5, json!({})), "b");
        let o = run(&s, pod("p", "1", 10, json!({})));
        // One victim of priority 1 on a beats one of priority 5 on b.
        assert_eq!(victims(&o).0, "a");
        assert_eq!(victims(&o).1.len(), 1);
        assert_eq!(o.message, "");
    }

    #[test]
    fn explains_why_nothing_helps() {
        let mut s = Snapshot::default();
        s.upsert_node(node("a", "1"));
        s.upsert_node(node("b", "1"));
        s.add(pod("high", "1", 100, json!({})), "a");
        let o = run(&s, pod("p", "2", 10, json!({})));
        assert!(o.victims.is_none());
        assert_eq!(
            o.message,
            "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        );
        // With a low pod to evict, the node is still too small: the filter's reason.
        s.add(pod("low", "500m", 0, json!({})), "b");
        let o = run(&s, pod("p", "2", 10, json!({})));
        assert_eq!(
            o.message,
            "preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn terminating_victims_make_the_preemptor_wait() {
        let mut s = Snapshot::default();
        s.upsert_node(node("a", "1"));
        let going = pod(
            "going",
            "1",
            0,
            json!({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
        );
        s.add(going, "a");
        let p = pod("p", "1", 10, json!({}));
        assert_eq!(
            eligible(&p, false, Some("a"), &s),
            Err("preemption: not eligible due to a terminating pod on the nominated node.".into())
        );
        assert!(eligible(&p, false, None, &s).is_ok());
        assert_eq!(
            eligible(&p, true, None, &s),
            Err("preemption: not eligible due to preemptionPolicy=Never.".into())
        );
    }
}
