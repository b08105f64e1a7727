//! VolumeBinding: what a pod's PersistentVolumeClaims demand of a node, resolved once per
//! scheduling attempt from the claims, volumes and StorageClasses the caller looks up.

use std::sync::Arc;

use k8s_openapi::api::{
    core::v1::{
        NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume,
        PersistentVolumeClaim, Pod,
    },
    storage::v1::StorageClass,
};

use crate::{
    plugins::{Reason, node_selector_matches},
    resources::Resources,
    snapshot::NodeInfo,
};

/// The provisioner of classes whose volumes are only created by hand.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// One claim of the pod.
#[derive(Clone, Debug)]
pub enum Claim {
    /// Bound to a volume; its node affinity, if any, limits the nodes.
    Bound(Option<NodeSelector>),
    /// Unbound, of a WaitForFirstConsumer class: the scheduler picks the node.
    Delayed {
        /// The claim's name.
        name: String,
        /// Whether a provisioner may create a volume, and where (the class's allowed
        /// topologies; `None` means anywhere).
        provision: Option<Option<NodeSelector>>,
        /// The node affinity of each available volume that would satisfy the claim.
        volumes: Vec<Option<NodeSelector>>,
    },
}

/// The pod's claims as VolumeBinding sees them.
#[derive(Clone, Debug, Default)]
pub struct Volumes {
    /// Every claim, resolved.
    pub claims: Vec<Claim>,
    /// Why the pod cannot be scheduled at all yet (upstream's PreFilter message), e.g.
    /// "pod has unbound immediate PersistentVolumeClaims".
    pub error: Option<String>,
}

/// Looks up the objects a pod's claims refer to.
pub trait Lookup {
    /// A claim in the pod's namespace.
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>>;
    /// A volume by name.
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>>;
    /// A StorageClass by name.
    fn class(&self, name: &str) -> Option<Arc<StorageClass>>;
    /// Every volume (for the available ones a delayed claim could bind).
    fn volumes(&self) -> Vec<Arc<PersistentVolume>>;
}

/// The claim names of a pod's volumes (`persistentVolumeClaim` and generic ephemeral
/// volumes, whose claim is `<pod>-<volume>`), with whether each is ephemeral.
pub fn claim_names(pod: &Pod) -> Vec<(String, bool)> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some((c.claim_name.clone(), false))
            } else {
                v.ephemeral
                    .as_ref()
                    .map(|_| (format!("{pod_name}-{}", v.name), true))
            }
        })
        .collect()
}

fn node_affinity(pv: &PersistentVolume) -> Option<NodeSelector> {
    pv.spec.as_ref()?.node_affinity.as_ref()?.required.clone()
}

/// Whether an available volume could be bound to the claim (class, access modes, size).
fn volume_satisfies(pv: &PersistentVolume, claim: &PersistentVolumeClaim, class: &str) -> bool {
    let (Some(spec), Some(want)) = (pv.spec.as_ref(), claim.spec.as_ref()) else {
        return false;
    };
    let available = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available")
        && spec.claim_ref.is_none()
        && pv.metadata.deletion_timestamp.is_none();
    let modes = spec.access_modes.as_deref().unwrap_or(&[]);
    let size = |list: Option<&std::collections::BTreeMap<_, _>>| {
        Resources::from_list(list).scalar.get("storage").copied()
    };
    let requested = size(want.resources.as_ref().and_then(|r| r.requests.as_ref())).unwrap_or(0);
    available
        && spec.storage_class_name.as_deref().unwrap_or("") == class
        && want
            .access_modes
            .iter()
            .flatten()
            .all(|m| modes.contains(m))
        && size(spec.capacity.as_ref()).unwrap_or(0) >= requested
}

/// A class's allowed topologies as a node selector (terms ORed, values of a key ORed).
fn allowed_topologies(class: &StorageClass) -> Option<NodeSelector> {
    let terms = class
        .allowed_topologies
        .as_ref()
        .filter(|t| !t.is_empty())?;
    Some(NodeSelector {
        node_selector_terms: terms
            .iter()
            .map(|t| NodeSelectorTerm {
                match_expressions: Some(
                    t.match_label_expressions
                        .iter()
                        .flatten()
                        .map(|e| NodeSelectorRequirement {
                            key: e.key.clone(),
                            operator: "In".into(),
                            values: Some(e.values.clone()),
                        })
                        .collect(),
                ),
                match_fields: None,
            })
            .collect(),
    })
}

/// Resolves the pod's claims (upstream's VolumeBinding PreFilter).
pub fn resolve(pod: &Pod, lookup: &impl Lookup) -> Volumes {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut volumes = Volumes::default();
    let mut immediate = false;
    for (name, ephemeral) in claim_names(pod) {
        let Some(claim) = lookup.claim(namespace, &name) else {
            volumes.error = Some(if ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\""
                )
            } else {
                format!("persistentvolumeclaim \"{name}\" not found")
            });
            return volumes;
        };
        if claim.metadata.deletion_timestamp.is_some() {
            volumes.error = Some(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            return volumes;
        }
        let spec = claim.spec.clone().unwrap_or_default();
        if let Some(volume) = spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
            let affinity = lookup.volume(volume).and_then(|pv| node_affinity(&pv));
            volumes.claims.push(Claim::Bound(affinity));
            continue;
        }
        let class_name = spec.storage_class_name.clone().unwrap_or_default();
        let class = lookup.class(&class_name);
        let delayed = class
            .as_ref()
            .and_then(|c| c.volume_binding_mode.as_deref())
            == Some("WaitForFirstConsumer");
        if !delayed {
            immediate = true;
            continue;
        }
        let class = class.expect("a delayed class was found");
        let provision = (class.provisioner != NO_PROVISIONER).then(|| allowed_topologies(&class));
        let candidates = lookup
            .volumes()
            .iter()
            .filter(|pv| volume_satisfies(pv, &claim, &class_name))
            .map(|pv| node_affinity(pv))
            .collect();
        volumes.claims.push(Claim::Delayed {
            name,
            provision,
            volumes: candidates,
        });
    }
    if immediate {
        volumes.error = Some("pod has unbound immediate PersistentVolumeClaims".into());
    }
    volumes
}

impl Volumes {
    /// VolumeBinding's Filter: bound volumes must be reachable from the node and every
    /// delayed claim must have a volume there, or a provisioner that may create one.
    pub fn filter(&self, node: &NodeInfo) -> Result<(), Vec<Reason>> {
        let fits = |sel: &Option<NodeSelector>| {
            sel.as_ref().is_none_or(|s| node_selector_matches(s, node))
        };
        let mut reasons = Vec::new();
        for claim in &self.claims {
            match claim {
                Claim::Bound(affinity) if !fits(affinity) => {
                    if !reasons.contains(&Reason::VolumeNodeAffinity) {
                        reasons.push(Reason::VolumeNodeAffinity);
                    }
                }
                Claim::Delayed {
                    provision, volumes, ..
                } => {
                    let provisionable = provision.as_ref().is_some_and(&fits);
                    if !provisionable
                        && !volumes.iter().any(&fits)
                        && !reasons.contains(&Reason::NoVolumes)
                    {
                        reasons.push(Reason::NoVolumes);
                    }
                }
                Claim::Bound(_) => {}
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }

    /// The claims the scheduler must point at the chosen node before binding the pod.
    pub fn delayed(&self) -> impl Iterator<Item = &str> {
        self.claims.iter().filter_map(|c| match c {
            Claim::Delayed { name, .. } => Some(name.as_str()),
            Claim::Bound(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::{Value, json};

    use super::*;
    use crate::snapshot::Snapshot;

    #[derive(Default)]
    struct Fake {
        claims: HashMap<String, Arc<PersistentVolumeClaim>>,
        volumes: HashMap<String, Arc<PersistentVolume>>,
        classes: HashMap<String, Arc<StorageClass>>,
    }

    impl Lookup for Fake {
        fn claim(&self, _: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
            self.claims.get(name).cloned()
        }
        fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
            self.volumes.get(name).cloned()
        }
        fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
            self.classes.get(name).cloned()
        }
        fn volumes(&self) -> Vec<Arc<PersistentVolume>> {
            self.volumes.values().cloned().collect()
        }
    }

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> Arc<T> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn fake() -> Fake {
        let mut f = Fake::default();
        f.classes.insert(
            "local".into(),
            from(
                json!({"metadata": {"name": "local"}, "provisioner": "rudder.dev/local-path",
                "volumeBindingMode": "WaitForFirstConsumer"}),
            ),
        );
        f.classes.insert(
            "manual".into(),
            from(
                json!({"metadata": {"name": "manual"}, "provisioner": NO_PROVISIONER,
                "volumeBindingMode": "WaitForFirstConsumer"}),
            ),
        );
        f.classes.insert(
            "fast".into(),
            from(json!({"metadata": {"name": "fast"}, "provisioner": "x"})),
        );
        let claim = |name: &str, class: &str, volume: Option<&str>| {
            from::<PersistentVolumeClaim>(json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}, "volumeName": volume},
            }))
        };
        for (name, class, volume) in [
            ("bound", "local", Some("pv-a")),
            ("delayed", "local", None),
            ("manual", "manual", None),
            ("immediate", "fast", None),
        ] {
            f.claims.insert(name.into(), claim(name, class, volume));
        }
        let pv = |name: &str, class: &str, host: &str, phase: &str| {
            from::<PersistentVolume>(json!({
                "metadata": {"name": name},
                "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
                         "capacity": {"storage": "2Gi"},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}},
                "status": {"phase": phase},
            }))
        };
        f.volumes
            .insert("pv-a".into(), pv("pv-a", "local", "a", "Bound"));
        f.volumes
            .insert("pv-b".into(), pv("pv-b", "manual", "b", "Available"));
        f
    }

    fn pod_with(claims: &[&str]) -> Pod {
        let volumes: Vec<Value> = claims
            .iter()
            .map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c"}], "volumes": volumes},
        }))
        .unwrap()
    }

    /// The nodes (of a and b) where the pod's claims fit, or the PreFilter message.
    fn check(claims: &[&str]) -> Result<Vec<String>, String> {
        let mut s = Snapshot::default();
        for n in ["a", "b"] {
            s.upsert_node(from(json!({
                "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
                "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"}},
            })));
        }
        let v = resolve(&pod_with(claims), &fake());
        if let Some(e) = v.error {
            return Err(e);
        }
        Ok(s.nodes_from(0)
            .filter(|n| v.filter(n).is_ok())
            .map(|n| n.name().to_string())
            .collect())
    }

    #[test]
    fn claims_limit_nodes_like_upstreams_volume_binding() {
        type Case<'a> = (&'a [&'a str], Result<&'a [&'a str], &'a str>);
        let cases: &[Case] = &[
            (&[], Ok(&["a", "b"])),
            // A bound local volume pins the pod to its node.
            (&["bound"], Ok(&["a"])),
            // A delayed claim of a provisioning class goes anywhere.
            (&["delayed"], Ok(&["a", "b"])),
            // Without a provisioner, only where an available volume is.
            (&["manual"], Ok(&["b"])),
            (&["bound", "manual"], Ok(&[])),
            (
                &["immediate"],
                Err("pod has unbound immediate PersistentVolumeClaims"),
            ),
            (
                &["missing"],
                Err("persistentvolumeclaim \"missing\" not found"),
            ),
        ];
        for (claims, want) in cases {
            let want = want
                .map(|nodes| nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .map_err(str::to_string);
            assert_eq!(check(claims), want, "{claims:?}");
        }
    }

    #[test]
    fn conflicts_are_worded_as_upstream() {
        let v = resolve(&pod_with(&["bound", "manual"]), &fake());
        let mut s = Snapshot::default();
        s.upsert_node(from(json!({"metadata": {"name": "c"}})));
        let node = s.node("c").unwrap();
        let reasons: Vec<String> = v
            .filter(node)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            reasons,
            [
                "node(s) had volume node affinity conflict",
                "node(s) didn't find available persistent volumes to bind"
            ]
        );
        assert_eq!(v.delayed().collect::<Vec<_>>(), ["manual"]);
    }
}
