//! Filter and score plugins, named and worded as upstream's: each filter says why a node
//! cannot take a pod, each score ranks the nodes that can.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
};

use apimachinery::labels::{self, Selector};
use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, PodAffinityTerm, Taint, Toleration,
};

use crate::{
    resources::Resources,
    snapshot::{NodeInfo, PodInfo, Snapshot},
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
}

impl Reason {
    /// Whether evicting pods could remove this reason (resources and ports are freed by
    /// evicting; the rest are properties of the node or of the pod).
    pub fn preemption_helps(&self) -> bool {
        matches!(
            self,
            Reason::Insufficient(_) | Reason::TooManyPods | Reason::Ports
        )
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

/// Everything about the pod being scheduled that the plugins need, computed once.
pub struct Query {
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
    /// Topology domains (key, value) holding pods that match each affinity term.
    affinity_domains: Vec<HashSet<String>>,
    /// Per anti-affinity term, the domains holding matching pods.
    anti_domains: Vec<HashSet<String>>,
    /// Domains (key=value) where existing pods' anti-affinity forbids this pod.
    forbidden_domains: HashSet<(String, String)>,
    /// Per spread constraint: matching pods per domain value, and the minimum.
    spread_counts: Vec<(HashMap<String, i64>, i64)>,
    /// Pods of the same controller per node (spreading score).
    siblings: HashMap<String, i64>,
}

impl Query {
    /// Prepares the plugins' view of `info` against the snapshot.
    pub fn new(info: PodInfo, snapshot: &Snapshot) -> Query {
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
        let weighted = |list: Option<Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| {
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
            affinity_domains: Vec::new(),
            anti_domains: Vec::new(),
            forbidden_domains: HashSet::new(),
            spread_counts: Vec::new(),
            siblings: HashMap::new(),
            info,
        };
        q.index(snapshot);
        q
    }

    /// Walks the placed pods once for whatever the pod's terms need.
    fn index(&mut self, snapshot: &Snapshot) {
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
        if let Some(siblings) = self.info.owner().and_then(|o| snapshot.siblings(o)) {
            self.siblings = siblings.clone();
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
            for (i, t) in self.affinity.iter().enumerate() {
                if t.matches(pod)
                    && let Some(v) = labels.get(&t.topology_key)
                {
                    self.affinity_domains[i].insert(v.clone());
                }
            }
            for (i, t) in self.anti_affinity.iter().enumerate() {
                if t.matches(pod)
                    && let Some(v) = labels.get(&t.topology_key)
                {
                    self.anti_domains[i].insert(v.clone());
                }
            }
            for (i, s) in self.spreads.iter().enumerate() {
                if pod.namespace() == self.info.namespace()
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
        self.tolerations
            .iter()
            .any(|t| toleration_matches(t, taint))
    }

    fn node_affinity_ok(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        self.node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .required
                .as_ref()
                .is_none_or(|sel| node_selector_matches(sel, node))
    }

    /// Runs the filters in upstream's order (NodeUnschedulable, TaintToleration, NodeAffinity,
    /// NodePorts, NodeResourcesFit, InterPodAffinity/PodTopologySpread); the first failing
    /// plugin gives the reasons.
    pub fn filter(&self, node: &NodeInfo) -> Result<(), Vec<Reason>> {
        let Some(n) = node.node.as_ref() else {
            return Err(vec![Reason::NodeAffinity]);
        };
        let spec = n.spec.as_ref();
        if spec.and_then(|s| s.unschedulable).unwrap_or(false) {
            let cordon = Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            };
            if !self.tolerates(&cordon) {
                return Err(vec![Reason::Unschedulable]);
            }
        }
        for taint in spec.and_then(|s| s.taints.as_deref()).unwrap_or(&[]) {
            if (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
                && !self.tolerates(taint)
            {
                return Err(vec![Reason::Taint(format!(
                    "{{{}: {}}}",
                    taint.key,
                    taint.value.as_deref().unwrap_or("")
                ))]);
            }
        }
        if !self.node_affinity_ok(node) {
            return Err(vec![Reason::NodeAffinity]);
        }
        if !self.info.ports.is_empty() && self.info.ports.iter().any(|p| port_conflict(p, node)) {
            return Err(vec![Reason::Ports]);
        }
        let fit = fit(&self.info.requests, node, 1);
        if !fit.is_empty() {
            return Err(fit);
        }
        self.filter_pod_affinity(node).map_err(|r| vec![r])
    }

    fn filter_pod_affinity(&self, node: &NodeInfo) -> Result<(), Reason> {
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
        for (i, s) in self.spreads.iter().enumerate() {
            if !s.hard {
                continue;
            }
            let Some(value) = labels.get(&s.topology_key) else {
                return Err(Reason::TopologySpread);
            };
            let (counts, min) = &self.spread_counts[i];
            let here = counts.get(value).copied().unwrap_or(0);
            if here + 1 - min > s.max_skew {
                return Err(Reason::TopologySpread);
            }
        }
        Ok(())
    }

    /// Scores a feasible node (higher is better): LeastAllocated, BalancedAllocation,
    /// preferred node and pod affinity, PreferNoSchedule taints and spreading of siblings.
    pub fn score(&self, node: &NodeInfo) -> i64 {
        let alloc = &node.allocatable;
        let mut requested = node.requested.clone();
        requested.add(&self.info.requests);
        let share = |req: i64, cap: i64| {
            if cap <= 0 {
                1.0
            } else {
                (req as f64 / cap as f64).min(1.0)
            }
        };
        let cpu = share(requested.milli_cpu, alloc.milli_cpu);
        let mem = share(requested.memory, alloc.memory);
        let least = ((1.0 - cpu) * 50.0 + (1.0 - mem) * 50.0) as i64;
        let balanced = ((1.0 - (cpu - mem).abs()) * 100.0) as i64;
        let labels = node.labels();
        let preferred_total: i32 = self.preferred.iter().map(|(w, _)| *w).sum();
        let preferred = if preferred_total > 0 {
            let matched: i32 = self
                .preferred
                .iter()
                .filter(|(_, sel)| node_selector_matches(sel, node))
                .map(|(w, _)| *w)
                .sum();
            100 * matched as i64 / preferred_total as i64
        } else {
            0
        };
        let mut pod_affinity = 0i64;
        for t in &self.preferred_affinity {
            if let Some(v) = labels.get(&t.topology_key)
                && self.domain_has_match(t, v, node)
            {
                pod_affinity += t.weight as i64;
            }
        }
        for t in &self.preferred_anti_affinity {
            if let Some(v) = labels.get(&t.topology_key)
                && self.domain_has_match(t, v, node)
            {
                pod_affinity -= t.weight as i64;
            }
        }
        let untolerated_soft = node
            .node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_deref())
            .unwrap_or(&[])
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !self.tolerates(t))
            .count() as i64;
        let siblings = self.siblings.get(node.name()).copied().unwrap_or(0);
        let spread = 100 / (1 + siblings);
        least + balanced + preferred + pod_affinity - 100 * untolerated_soft + 2 * spread
    }

    /// Whether the topology domain `value` (of `node`) holds a pod matching `term`; only the
    /// node itself is checked for non-hostname keys, which keeps scoring cheap.
    fn domain_has_match(&self, term: &Term, _value: &str, node: &NodeInfo) -> bool {
        node.pods.values().any(|p| term.matches(p))
    }
}

/// The reasons the node's free resources don't hold `requests` (`pods` more pods).
pub fn fit(requests: &Resources, node: &NodeInfo, pods: i64) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + pods > node.allowed_pods {
        reasons.push(Reason::TooManyPods);
    }
    let alloc = &node.allocatable;
    let used = &node.requested;
    if requests.milli_cpu > 0 && used.milli_cpu + requests.milli_cpu > alloc.milli_cpu {
        reasons.push(Reason::Insufficient("cpu".into()));
    }
    if requests.memory > 0 && used.memory + requests.memory > alloc.memory {
        reasons.push(Reason::Insufficient("memory".into()));
    }
    if requests.ephemeral_storage > 0
        && used.ephemeral_storage + requests.ephemeral_storage > alloc.ephemeral_storage
    {
        reasons.push(Reason::Insufficient("ephemeral-storage".into()));
    }
    for (name, want) in &requests.scalar {
        if *want <= 0 {
            continue;
        }
        let have = alloc.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0);
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

/// Whether a toleration tolerates a taint (upstream's `ToleratesTaint`).
pub fn toleration_matches(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => {
            // An empty key with Equal matches nothing but an empty-keyed taint.
            (!key.is_empty() || taint.key.is_empty())
                && t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
    }
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

/// Upstream's FitError message: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had
/// untolerated taint {k: v}. preemption: ...".
pub fn fit_error(nodes: usize, reasons: &HashMap<Reason, usize>, preemption: &str) -> String {
    let mut counted: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    // Upstream sorts the "<count> <reason>" strings themselves.
    counted.sort();
    let mut message = format!("0/{nodes} nodes are available");
    if !counted.is_empty() {
        message.push_str(": ");
        message.push_str(&counted.join(", "));
    }
    message.push('.');
    if !preemption.is_empty() {
        message.push_str(" preemption: ");
        message.push_str(preemption);
    }
    message
}

#[cfg(test)]
mod tests;
