//! Filter and score plugins, named and worded as upstream's: each filter says why a node
//! cannot take a pod, each score ranks the nodes that can.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
};

use apimachinery::{
    labels::{self, Selector},
    taints,
};
use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, PodAffinityTerm, Taint, Toleration,
    WeightedPodAffinityTerm,
};

use crate::{
    resources::Resources,
    snapshot::{NodeInfo, PodInfo, Snapshot},
    volumes::Volumes,
};

/// Why a node cannot take a pod (upstream's wording).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// NodeUnschedulable: the node is cordoned.
    Unschedulable,
    /// NodeAffinity: nodeSelector or required node affinity.
    NodeAffinity,
    /// TaintToleration: a NoSchedule/NoExecute taint the pod does not tolerate.
    Taint(String),
    /// NodeResourcesFit: not enough of a resource.
    Insufficient(String),
    /// NodeResourcesFit: the node's pod count is reached.
    TooManyPods,
    /// NodePorts: a requested host port is taken.
    Ports,
    /// InterPodAffinity: the pod's required affinity is not met.
    PodAffinity,
    /// InterPodAffinity: the pod's required anti-affinity is violated.
    PodAntiAffinity,
    /// InterPodAffinity: an existing pod's anti-affinity forbids this pod.
    ExistingAntiAffinity,
    /// PodTopologySpread: the spread constraint would be exceeded.
    TopologySpread,
    /// PodTopologySpread: the node lacks a constraint's topology key.
    TopologySpreadMissingLabel,
    /// VolumeBinding: a bound volume's node affinity excludes the node.
    VolumeNodeAffinity,
    /// VolumeBinding: no volume for an unbound delayed claim can be used on the node.
    NoVolumes,
}

impl Reason {
    /// Whether evicting pods could remove this reason (upstream's Unschedulable as opposed
    /// to UnschedulableAndUnresolvable).
    pub fn preemption_helps(&self) -> bool {
        matches!(
            self,
            Reason::Insufficient(_)
                | Reason::TooManyPods
                | Reason::Ports
                | Reason::PodAntiAffinity
                | Reason::ExistingAntiAffinity
                | Reason::TopologySpread
        )
    }

    /// Whether a pod that failed for this reason may fit once another pod is placed (the
    /// queue wakes such pods when pods are added, not only when they go).
    pub fn waits_for_pods(&self) -> bool {
        matches!(self, Reason::PodAffinity | Reason::TopologySpread)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::NodeAffinity => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Reason::Taint(t) => write!(f, "node(s) had untolerated taint {t}"),
            Reason::Insufficient(r) => write!(f, "Insufficient {r}"),
            Reason::TooManyPods => f.write_str("Too many pods"),
            Reason::Ports => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Reason::PodAffinity => f.write_str("node(s) didn't match pod affinity rules"),
            Reason::PodAntiAffinity => f.write_str("node(s) didn't match pod anti-affinity rules"),
            Reason::ExistingAntiAffinity => {
                f.write_str("node(s) didn't satisfy existing pods anti-affinity rules")
            }
            Reason::TopologySpread => {
                f.write_str("node(s) didn't match pod topology spread constraints")
            }
            Reason::TopologySpreadMissingLabel => f.write_str(
                "node(s) didn't match pod topology spread constraints (missing required label)",
            ),
            Reason::VolumeNodeAffinity => f.write_str("node(s) had volume node affinity conflict"),
            Reason::NoVolumes => {
                f.write_str("node(s) didn't find available persistent volumes to bind")
            }
        }
    }
}

/// A pod-affinity term, parsed once per scheduling attempt.
#[derive(Debug)]
pub struct Term {
    selector: Selector,
    /// `None` means every namespace.
    namespaces: Option<HashSet<String>>,
    topology_key: String,
    weight: i32,
}

impl Term {
    fn parse(term: &PodAffinityTerm, own_namespace: &str, weight: i32) -> Option<Term> {
        let selector = match &term.label_selector {
            Some(s) => labels::from_label_selector(s).ok()?,
            // A term without a selector matches no pod.
            None => return None,
        };
        let namespaces = match (&term.namespaces, &term.namespace_selector) {
            (_, Some(sel)) if sel.match_labels.is_none() && sel.match_expressions.is_none() => None,
            (Some(list), _) if !list.is_empty() => Some(list.iter().cloned().collect()),
            _ => Some(HashSet::from([own_namespace.to_string()])),
        };
        Some(Term {
            selector,
            namespaces,
            topology_key: term.topology_key.clone(),
            weight,
        })
    }

    fn matches(&self, pod: &PodInfo) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|ns| ns.contains(pod.namespace()))
            && self.selector.matches(pod.labels())
    }
}

/// A topology spread constraint, parsed.
#[derive(Debug)]
struct Spread {
    selector: Selector,
    topology_key: String,
    max_skew: i64,
    hard: bool,
}

/// The weights of the score plugins in upstream's default profile.
mod weight {
    pub const TAINT_TOLERATION: i64 = 3;
    pub const NODE_AFFINITY: i64 = 2;
    pub const POD_TOPOLOGY_SPREAD: i64 = 2;
    pub const INTER_POD_AFFINITY: i64 = 2;
    pub const NODE_RESOURCES_FIT: i64 = 1;
    pub const BALANCED_ALLOCATION: i64 = 1;
}

/// The highest score a plugin gives a node (upstream's `MaxNodeScore`).
const MAX_NODE_SCORE: i64 = 100;

/// One feasible node's raw scores, before normalisation across the feasible nodes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// NodeResourcesFit (LeastAllocated), already 0..=100.
    pub fit: i64,
    /// NodeResourcesBalancedAllocation, already 0..=100.
    pub balanced: i64,
    /// NodeAffinity: the summed weights of the matching preferred terms.
    pub node_affinity: i64,
    /// TaintToleration: how many PreferNoSchedule taints the pod does not tolerate.
    pub taints: i64,
    /// InterPodAffinity: preferred affinity minus preferred anti-affinity weights.
    pub pod_affinity: i64,
    /// PodTopologySpread: matching pods in the node's domains (fewer is better).
    pub spread: f64,
}

/// Upstream's `DefaultNormalizeScore`: scale to 0..=100 by the maximum, reversed if asked.
fn normalize(values: &[i64], reverse: bool) -> Vec<i64> {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            if max == 0 {
                if reverse { MAX_NODE_SCORE } else { 0 }
            } else {
                let s = MAX_NODE_SCORE * v / max;
                if reverse { MAX_NODE_SCORE - s } else { s }
            }
        })
        .collect()
}

/// Normalises each plugin's scores across the feasible nodes and returns each node's
/// weighted sum, as upstream's framework does.
pub fn total(scores: &[Scores]) -> Vec<i64> {
    let node_affinity = normalize(
        &scores.iter().map(|s| s.node_affinity).collect::<Vec<_>>(),
        false,
    );
    let taints = normalize(&scores.iter().map(|s| s.taints).collect::<Vec<_>>(), true);
    // InterPodAffinity scales from the minimum to the maximum.
    let (min, max) = scores.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| {
        (lo.min(s.pod_affinity), hi.max(s.pod_affinity))
    });
    // PodTopologySpread: fewer matching pods is better, relative to the best and worst.
    let (spread_min, spread_max) = scores.iter().fold((f64::MAX, 0f64), |(lo, hi), s| {
        (lo.min(s.spread), hi.max(s.spread))
    });
    scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let pod_affinity = if max > min {
                MAX_NODE_SCORE * (s.pod_affinity - min) / (max - min)
            } else {
                0
            };
            let spread = if spread_max <= 0.0 {
                MAX_NODE_SCORE
            } else {
                (MAX_NODE_SCORE as f64 * (spread_max + spread_min - s.spread) / spread_max) as i64
            };
            weight::NODE_RESOURCES_FIT * s.fit
                + weight::BALANCED_ALLOCATION * s.balanced
                + weight::NODE_AFFINITY * node_affinity[i]
                + weight::TAINT_TOLERATION * taints[i]
                + weight::INTER_POD_AFFINITY * pod_affinity
                + weight::POD_TOPOLOGY_SPREAD * spread
        })
        .collect()
}

/// Everything about the pod being scheduled that the plugins need, computed once.
pub struct Query<'a> {
    /// The pod.
    pub info: PodInfo,
    tolerations: Vec<Toleration>,
    node_selector: BTreeMap<String, String>,
    required: Option<NodeSelector>,
    preferred: Vec<(i32, NodeSelector)>,
    affinity: Vec<Term>,
    anti_affinity: Vec<Term>,
    preferred_affinity: Vec<Term>,
    preferred_anti_affinity: Vec<Term>,
    spreads: Vec<Spread>,
    /// The pod's volumes as VolumeBinding sees them.
    volumes: Volumes,
    /// Topology domains (key, value) holding pods that match each affinity term.
    affinity_domains: Vec<HashSet<String>>,
    /// Per anti-affinity term, the domains holding matching pods.
    anti_domains: Vec<HashSet<String>>,
    /// Domains (key=value) where existing pods' anti-affinity forbids this pod.
    forbidden_domains: HashSet<(String, String)>,
    /// Per spread constraint: matching pods per domain value, and the minimum over the
    /// domains of eligible nodes.
    spread_counts: Vec<(HashMap<String, i64>, i64)>,
    /// Per preferred (anti-)affinity term, matching pods per domain value.
    preferred_counts: Vec<HashMap<String, i64>>,
    preferred_anti_counts: Vec<HashMap<String, i64>>,
    /// Pods of the same controller per node (upstream's default spreading constraint on
    /// the hostname for pods of a ReplicaSet, StatefulSet or ReplicationController).
    siblings: Option<&'a HashMap<String, i64>>,
    /// How many nodes exist (the hostname domains of the default spreading).
    node_count: usize,
    /// Room kept on each node for nominated pods of at least this pod's priority: the
    /// resources and the pod count.
    nominated: HashMap<String, (Resources, i64)>,
}

impl<'a> Query<'a> {
    /// Prepares the plugins' view of `info` (its priority resolved) against the snapshot.
    pub fn new(info: PodInfo, snapshot: &'a Snapshot) -> Query<'a> {
        Query::with_volumes(info, snapshot, Volumes::default())
    }

    /// As [`Query::new`], with the pod's claims resolved by the caller.
    pub fn with_volumes(info: PodInfo, snapshot: &'a Snapshot, volumes: Volumes) -> Query<'a> {
        let spec = info.pod.spec.clone().unwrap_or_default();
        let ns = info.namespace().to_string();
        let affinity = spec.affinity.clone().unwrap_or_default();
        let node_affinity = affinity.node_affinity.unwrap_or_default();
        let pod_affinity = affinity.pod_affinity.unwrap_or_default();
        let pod_anti = affinity.pod_anti_affinity.unwrap_or_default();
        let terms = |list: Option<Vec<PodAffinityTerm>>| -> Vec<Term> {
            list.into_iter()
                .flatten()
                .filter_map(|t| Term::parse(&t, &ns, 1))
                .collect()
        };
        let weighted = |list: Option<Vec<WeightedPodAffinityTerm>>| {
            list.into_iter()
                .flatten()
                .filter_map(|w| Term::parse(&w.pod_affinity_term, &ns, w.weight))
                .collect::<Vec<_>>()
        };
        let mut q = Query {
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required: node_affinity.required_during_scheduling_ignored_during_execution,
            preferred: node_affinity
                .preferred_during_scheduling_ignored_during_execution
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p.weight,
                        NodeSelector {
                            node_selector_terms: vec![p.preference],
                        },
                    )
                })
                .collect(),
            affinity: terms(pod_affinity.required_during_scheduling_ignored_during_execution),
            anti_affinity: terms(pod_anti.required_during_scheduling_ignored_during_execution),
            preferred_affinity: weighted(
                pod_affinity.preferred_during_scheduling_ignored_during_execution,
            ),
            preferred_anti_affinity: weighted(
                pod_anti.preferred_during_scheduling_ignored_during_execution,
            ),
            spreads: spec
                .topology_spread_constraints
                .iter()
                .flatten()
                .filter_map(|c| {
                    Some(Spread {
                        selector: labels::from_label_selector(c.label_selector.as_ref()?).ok()?,
                        topology_key: c.topology_key.clone(),
                        max_skew: c.max_skew as i64,
                        hard: c.when_unsatisfiable == "DoNotSchedule",
                    })
                })
                .collect(),
            volumes,
            affinity_domains: Vec::new(),
            anti_domains: Vec::new(),
            forbidden_domains: HashSet::new(),
            spread_counts: Vec::new(),
            preferred_counts: Vec::new(),
            preferred_anti_counts: Vec::new(),
            siblings: None,
            node_count: snapshot.len(),
            nominated: HashMap::new(),
            info,
        };
        q.index(snapshot);
        q
    }

    /// The message of a failure before any node is looked at (upstream's PreFilter
    /// statuses), e.g. an unbound immediate claim.
    pub fn prefilter(&self) -> Option<&str> {
        self.volumes.error.as_deref()
    }

    /// The pod's volumes.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    /// Walks the placed pods once for whatever the pod's terms need.
    fn index(&mut self, snapshot: &'a Snapshot) {
        for (node, p) in snapshot.nominated_before(self.info.uid(), self.info.priority) {
            let room = self.nominated.entry(node.to_string()).or_default();
            room.0.add(&p.requests);
            room.1 += 1;
        }
        for (node, pod) in snapshot.anti_affinity_pods() {
            let spec = pod.pod.spec.as_ref();
            let terms = spec
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.pod_anti_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                });
            for t in terms.into_iter().flatten() {
                if let Some(term) = Term::parse(t, pod.namespace(), 1)
                    && term.matches(&self.info)
                    && let Some(value) = node.labels().get(&term.topology_key)
                {
                    self.forbidden_domains
                        .insert((term.topology_key.clone(), value.clone()));
                }
            }
        }
        if self.spreads.is_empty() {
            self.siblings = self.info.owner().and_then(|o| snapshot.siblings(o));
        }
        let needs_walk = !self.affinity.is_empty()
            || !self.anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
            || !self.spreads.is_empty();
        if !needs_walk {
            return;
        }
        self.affinity_domains = vec![HashSet::new(); self.affinity.len()];
        self.anti_domains = vec![HashSet::new(); self.anti_affinity.len()];
        self.preferred_counts = vec![HashMap::new(); self.preferred_affinity.len()];
        self.preferred_anti_counts = vec![HashMap::new(); self.preferred_anti_affinity.len()];
        self.spread_counts = self
            .spreads
            .iter()
            .map(|s| {
                // Every eligible node's domain starts at zero.
                let counts = snapshot
                    .nodes_from(0)
                    .filter(|n| self.node_affinity_ok(n))
                    .filter_map(|n| n.labels().get(&s.topology_key).cloned())
                    .map(|d| (d, 0))
                    .collect();
                (counts, 0)
            })
            .collect();
        for (node, pod) in snapshot.pods() {
            let labels = node.labels();
            let domains = |terms: &[Term], sets: &mut [HashSet<String>]| {
                for (i, t) in terms.iter().enumerate() {
                    if let Some(v) = labels.get(&t.topology_key)
                        && t.matches(pod)
                    {
                        sets[i].insert(v.clone());
                    }
                }
            };
            domains(&self.affinity, &mut self.affinity_domains);
            domains(&self.anti_affinity, &mut self.anti_domains);
            let counts = |terms: &[Term], maps: &mut [HashMap<String, i64>]| {
                for (i, t) in terms.iter().enumerate() {
                    if let Some(v) = labels.get(&t.topology_key)
                        && t.matches(pod)
                    {
                        *maps[i].entry(v.clone()).or_default() += 1;
                    }
                }
            };
            counts(&self.preferred_affinity, &mut self.preferred_counts);
            counts(
                &self.preferred_anti_affinity,
                &mut self.preferred_anti_counts,
            );
            for (i, s) in self.spreads.iter().enumerate() {
                if pod.namespace() == self.info.namespace()
                    && !pod.terminating()
                    && s.selector.matches(pod.labels())
                    && let Some(count) = labels
                        .get(&s.topology_key)
                        .and_then(|d| self.spread_counts[i].0.get_mut(d))
                {
                    *count += 1;
                }
            }
        }
        for (counts, min) in &mut self.spread_counts {
            *min = counts.values().copied().min().unwrap_or(0);
        }
    }

    fn tolerates(&self, taint: &Taint) -> bool {
        self.tolerations.iter().any(|t| taints::tolerates(t, taint))
    }

    fn node_affinity_ok(&self, node: &NodeInfo) -> bool {
        if self.node_selector.is_empty() && self.required.is_none() {
            return true;
        }
        let labels = node.labels();
        self.node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .required
                .as_ref()
                .is_none_or(|sel| node_selector_matches(sel, node))
    }

    /// Runs the filters in upstream's order (NodeUnschedulable, TaintToleration,
    /// NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding, PodTopologySpread,
    /// InterPodAffinity); the first failing plugin gives the reasons.
    pub fn filter(&self, node: &NodeInfo) -> Result<(), Vec<Reason>> {
        if node.node.is_none() {
            return Err(vec![Reason::NodeAffinity]);
        }
        if node.unschedulable && !self.tolerates(&CORDON) {
            return Err(vec![Reason::Unschedulable]);
        }
        if let Some(taint) = node.hard_taints.iter().find(|t| !self.tolerates(t)) {
            return Err(vec![Reason::Taint(format!(
                "{{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            ))]);
        }
        if !self.node_affinity_ok(node) {
            return Err(vec![Reason::NodeAffinity]);
        }
        if !self.info.ports.is_empty() && self.info.ports.iter().any(|p| port_conflict(p, node)) {
            return Err(vec![Reason::Ports]);
        }
        let reserved = if self.nominated.is_empty() {
            None
        } else {
            self.nominated.get(node.name())
        };
        let fit = fit(&self.info.requests, node, reserved);
        if !fit.is_empty() {
            return Err(fit);
        }
        self.volumes.filter(node)?;
        self.filter_spread(node)?;
        self.filter_pod_affinity(node).map_err(|r| vec![r])
    }

    fn filter_spread(&self, node: &NodeInfo) -> Result<(), Vec<Reason>> {
        if self.spreads.is_empty() {
            return Ok(());
        }
        let labels = node.labels();
        for (i, s) in self.spreads.iter().enumerate() {
            if !s.hard {
                continue;
            }
            let Some(value) = labels.get(&s.topology_key) else {
                return Err(vec![Reason::TopologySpreadMissingLabel]);
            };
            let (counts, min) = &self.spread_counts[i];
            let here = counts.get(value).copied().unwrap_or(0);
            if here + 1 - min > s.max_skew {
                return Err(vec![Reason::TopologySpread]);
            }
        }
        Ok(())
    }

    fn filter_pod_affinity(&self, node: &NodeInfo) -> Result<(), Reason> {
        if self.affinity.is_empty()
            && self.anti_affinity.is_empty()
            && self.forbidden_domains.is_empty()
        {
            return Ok(());
        }
        let labels = node.labels();
        for (i, t) in self.affinity.iter().enumerate() {
            let Some(value) = labels.get(&t.topology_key) else {
                return Err(Reason::PodAffinity);
            };
            // A pod matching its own affinity may go anywhere when no such pod exists yet.
            let first_of_its_kind =
                self.affinity_domains.iter().all(HashSet::is_empty) && t.matches(&self.info);
            if !self.affinity_domains[i].contains(value) && !first_of_its_kind {
                return Err(Reason::PodAffinity);
            }
        }
        for (i, t) in self.anti_affinity.iter().enumerate() {
            if let Some(value) = labels.get(&t.topology_key)
                && self.anti_domains[i].contains(value)
            {
                return Err(Reason::PodAntiAffinity);
            }
        }
        if self
            .forbidden_domains
            .iter()
            .any(|(k, v)| labels.get(k) == Some(v))
        {
            return Err(Reason::ExistingAntiAffinity);
        }
        Ok(())
    }

    /// A feasible node's raw scores (see [`total`] for how they combine).
    pub fn score(&self, node: &NodeInfo) -> Scores {
        let alloc = &node.allocatable;
        // LeastAllocated over the non-zero requests of cpu and memory, weighted 1 each.
        let least = |requested: i64, capacity: i64| {
            if capacity <= 0 || requested > capacity {
                0
            } else {
                (capacity - requested) * MAX_NODE_SCORE / capacity
            }
        };
        let cpu = node.non_zero_requested.0 + self.info.non_zero.0;
        let memory = node.non_zero_requested.1 + self.info.non_zero.1;
        let fit = (least(cpu, alloc.milli_cpu) + least(memory, alloc.memory)) / 2;
        // BalancedAllocation over the actual requests: 1 - the standard deviation of the
        // cpu and memory fractions.
        let fraction = |req: i64, cap: i64| {
            if cap <= 0 {
                1.0
            } else {
                (req as f64 / cap as f64).min(1.0)
            }
        };
        let cpu_fraction = fraction(
            node.requested.milli_cpu + self.info.requests.milli_cpu,
            alloc.milli_cpu,
        );
        let memory_fraction = fraction(
            node.requested.memory + self.info.requests.memory,
            alloc.memory,
        );
        let std = (cpu_fraction - memory_fraction).abs() / 2.0;
        let balanced = ((1.0 - std) * MAX_NODE_SCORE as f64) as i64;
        let node_affinity = self
            .preferred
            .iter()
            .filter(|(_, sel)| node_selector_matches(sel, node))
            .map(|(w, _)| *w as i64)
            .sum();
        let taints = node
            .soft_taints
            .iter()
            .filter(|t| !self.tolerates(t))
            .count() as i64;
        let weighted = |terms: &[Term], counts: &[HashMap<String, i64>]| -> i64 {
            if terms.is_empty() {
                return 0;
            }
            let labels = node.labels();
            terms
                .iter()
                .zip(counts)
                .filter_map(|(t, c)| Some(t.weight as i64 * c.get(labels.get(&t.topology_key)?)?))
                .sum()
        };
        let pod_affinity = weighted(&self.preferred_affinity, &self.preferred_counts)
            - weighted(&self.preferred_anti_affinity, &self.preferred_anti_counts);
        Scores {
            fit,
            balanced,
            node_affinity,
            taints,
            pod_affinity,
            spread: self.spread_score(node),
        }
    }

    /// PodTopologySpread's raw score: per soft constraint, matching pods in the node's
    /// domain weighted by log(domains + 2), plus maxSkew - 1; without constraints, the
    /// default hostname constraint (maxSkew 3) over the pod's siblings.
    fn spread_score(&self, node: &NodeInfo) -> f64 {
        if self.spreads.is_empty() {
            let siblings = self
                .siblings
                .and_then(|s| s.get(node.name()))
                .copied()
                .unwrap_or(0);
            return siblings as f64 * (self.node_count as f64 + 2.0).ln() + 2.0;
        }
        let labels = node.labels();
        self.spreads
            .iter()
            .zip(&self.spread_counts)
            .filter(|(s, _)| !s.hard)
            .map(|(s, (counts, _))| {
                let here = labels
                    .get(&s.topology_key)
                    .and_then(|d| counts.get(d))
                    .copied()
                    .unwrap_or(0);
                here as f64 * (counts.len() as f64 + 2.0).ln() + (s.max_skew - 1) as f64
            })
            .sum()
    }
}

/// The taint a cordoned node counts as having (upstream's NodeUnschedulable plugin lets
/// pods that tolerate it through).
static CORDON: std::sync::LazyLock<Taint> = std::sync::LazyLock::new(|| Taint {
    key: "node.kubernetes.io/unschedulable".into(),
    effect: "NoSchedule".into(),
    ..Default::default()
});

/// The reasons the node's free resources don't hold `requests`, with room kept for
/// nominated pods (`reserved`: resources and pod count).
pub fn fit(
    requests: &Resources,
    node: &NodeInfo,
    reserved: Option<&(Resources, i64)>,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    let (kept, kept_pods) = match reserved {
        Some((r, n)) => (Some(r), *n),
        None => (None, 0),
    };
    if node.pods.len() as i64 + kept_pods + 1 > node.allowed_pods {
        reasons.push(Reason::TooManyPods);
    }
    let alloc = &node.allocatable;
    let used = &node.requested;
    let kept_of = |f: fn(&Resources) -> i64| kept.map(f).unwrap_or(0);
    if requests.milli_cpu > 0
        && used.milli_cpu + kept_of(|r| r.milli_cpu) + requests.milli_cpu > alloc.milli_cpu
    {
        reasons.push(Reason::Insufficient("cpu".into()));
    }
    if requests.memory > 0 && used.memory + kept_of(|r| r.memory) + requests.memory > alloc.memory {
        reasons.push(Reason::Insufficient("memory".into()));
    }
    if requests.ephemeral_storage > 0
        && used.ephemeral_storage + kept_of(|r| r.ephemeral_storage) + requests.ephemeral_storage
            > alloc.ephemeral_storage
    {
        reasons.push(Reason::Insufficient("ephemeral-storage".into()));
    }
    for (name, want) in &requests.scalar {
        if *want <= 0 {
            continue;
        }
        let have = alloc.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0)
            + kept.and_then(|k| k.scalar.get(name)).copied().unwrap_or(0);
        if taken + want > have {
            reasons.push(Reason::Insufficient(name.clone()));
        }
    }
    reasons
}

fn port_conflict(port: &(String, i32, String), node: &NodeInfo) -> bool {
    let (proto, number, ip) = port;
    node.used_ports.iter().any(|(p, n, i)| {
        p == proto && n == number && (i == ip || i == "0.0.0.0" || ip == "0.0.0.0")
    })
}

/// Whether a node matches a NodeSelector (terms ORed, requirements ANDed).
pub fn node_selector_matches(selector: &NodeSelector, node: &NodeInfo) -> bool {
    let labels = node.labels();
    selector.node_selector_terms.iter().any(|term| {
        let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
        let fields = term.match_fields.as_deref().unwrap_or(&[]);
        if exprs.is_empty() && fields.is_empty() {
            return false;
        }
        exprs
            .iter()
            .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
            && fields.iter().all(|r| {
                let value = (r.key == "metadata.name").then(|| node.name());
                requirement_matches(r, value)
            })
    })
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => match (
            value.and_then(number),
            values.first().and_then(|x| number(x)),
        ) {
            (Some(v), Some(x)) => v > x,
            _ => false,
        },
        "Lt" => match (
            value.and_then(number),
            values.first().and_then(|x| number(x)),
        ) {
            (Some(v), Some(x)) => v < x,
            _ => false,
        },
        _ => false,
    }
}

/// The message when the cluster has no node at all (upstream's `ErrNoNodesAvailable`).
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// Upstream's FitError message: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had
/// untolerated taint {k: v}. preemption: ...". `prefilter` is a failure before any node was
/// looked at (then no per-node reasons exist); `postfilter` is the preemption's message.
pub fn fit_error(
    nodes: usize,
    prefilter: Option<&str>,
    reasons: &HashMap<Reason, usize>,
    postfilter: &str,
) -> String {
    if nodes == 0 {
        return NO_NODES.to_string();
    }
    let mut message = format!("0/{nodes} nodes are available:");
    if let Some(pre) = prefilter {
        message.push_str(&format!(" {pre}."));
    } else {
        let mut counted: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        // Upstream sorts the "<count> <reason>" strings themselves.
        counted.sort();
        if !counted.is_empty() {
            message.push_str(&format!(" {}.", counted.join(", ")));
        }
    }
    if !postfilter.is_empty() {
        message.push(' ');
        message.push_str(postfilter);
    }
    message
}

#[cfg(test)]
mod tests;
