//! The ResourceQuota controller: `status.hard` mirrors `spec.hard` and `status.used` counts
//! what the namespace holds of each constrained resource (object counts, pod compute requests
//! and limits, claimed storage), recomputed whenever a counted object changes.
//!
//! Quota `scopes` and `scopeSelector` (Terminating, NotTerminating, BestEffort, NotBestEffort,
//! PriorityClass) narrow the pods counted. Enforcement belongs to the API server's admission,
//! which rudder does not have yet (FIXME).

use std::{collections::BTreeMap, sync::Arc};

use apimachinery::validation::{Quantity, parse_quantity};
use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{
            ConfigMap, Container, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota,
            ResourceQuotaSpec, ScopedResourceSelectorRequirement, Secret, Service,
        },
    },
    apimachinery::pkg::api::resource::Quantity as ApiQuantity,
};
use kube::{
    Api,
    api::{Patch, PatchParams},
    runtime::{
        controller::{Action, Controller},
        reflector::{ObjectRef, Store},
    },
};
use serde_json::json;

use component::informer::Kind;

use crate::{Context, Result};

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let quotas = ctx.informers.get::<ResourceQuota>();
    let store = quotas.store();
    let controller = Controller::for_shared_stream(quotas.subscribe(), quotas.store());
    let controller = watch::<Pod>(controller, &ctx, &store);
    let controller = watch::<Service>(controller, &ctx, &store);
    let controller = watch::<ConfigMap>(controller, &ctx, &store);
    let controller = watch::<Secret>(controller, &ctx, &store);
    let controller = watch::<PersistentVolumeClaim>(controller, &ctx, &store);
    let controller = watch::<ReplicationController>(controller, &ctx, &store);
    let controller = watch::<Deployment>(controller, &ctx, &store);
    let controller = watch::<ReplicaSet>(controller, &ctx, &store);
    let controller = watch::<StatefulSet>(controller, &ctx, &store);
    let controller = watch::<DaemonSet>(controller, &ctx, &store);
    let controller = watch::<Job>(controller, &ctx, &store);
    let controller = watch::<CronJob>(controller, &ctx, &store);
    crate::drive("resourcequota", controller, ctx, reconcile).await;
}

/// Re-evaluates every quota of an object's namespace when the object changes.
fn watch<K: Kind>(
    controller: Controller<ResourceQuota>,
    ctx: &Context,
    quotas: &Store<ResourceQuota>,
) -> Controller<ResourceQuota> {
    let quotas = quotas.clone();
    controller.watches_shared_stream(ctx.informers.get::<K>().subscribe(), move |obj: Arc<K>| {
        let ns = obj.meta().namespace.clone();
        quotas
            .state()
            .iter()
            .filter(|q| q.metadata.namespace == ns)
            .map(|q| ObjectRef::from_obj(&**q))
            .collect::<Vec<_>>()
    })
}

/// Whether a pod still counts against quota (upstream `QuotaV1Pod`): not finished.
fn counts_against_quota(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn parse(q: &ApiQuantity) -> Quantity {
    parse_quantity(&q.0).unwrap_or_else(|_| Quantity::zero())
}

/// Whether a pod is a best-effort one: no container requests or limits any CPU or memory.
fn best_effort(pod: &Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .all(|c| {
            c.resources.as_ref().is_none_or(|r| {
                [r.requests.as_ref(), r.limits.as_ref()]
                    .into_iter()
                    .flatten()
                    .all(|m| !m.contains_key("cpu") && !m.contains_key("memory"))
            })
        })
}

/// Whether a pod matches one scope (upstream `podMatchesScopeFunc`); unknown scopes match
/// nothing.
fn scope_matches(requirement: &ScopedResourceSelectorRequirement, pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let terminating = spec
        .and_then(|s| s.active_deadline_seconds)
        .is_some_and(|d| d >= 0);
    match requirement.scope_name.as_str() {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => {
            let class = spec.and_then(|s| s.priority_class_name.as_deref());
            let values = requirement.values.as_deref().unwrap_or_default();
            match requirement.operator.as_str() {
                "In" => class.is_some_and(|c| values.iter().any(|v| v == c)),
                "NotIn" => !class.is_some_and(|c| values.iter().any(|v| v == c)),
                "Exists" => class.is_some_and(|c| !c.is_empty()),
                "DoesNotExist" => class.is_none_or(str::is_empty),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a pod falls under the quota's `scopes` and `scopeSelector` (all must match).
pub fn in_scope(spec: &ResourceQuotaSpec, pod: &Pod) -> bool {
    let scopes = spec
        .scopes
        .iter()
        .flatten()
        .map(|s| ScopedResourceSelectorRequirement {
            scope_name: s.clone(),
            operator: "Exists".into(),
            values: None,
        });
    let selected = spec
        .scope_selector
        .iter()
        .flat_map(|s| s.match_expressions.iter().flatten().cloned());
    scopes.chain(selected).all(|r| scope_matches(&r, pod))
}

/// One container's `requests` or `limits` of a resource.
fn container_amount(c: &Container, limits: bool, resource: &str) -> Quantity {
    c.resources
        .as_ref()
        .and_then(|r| {
            if limits {
                r.limits.as_ref()
            } else {
                r.requests.as_ref()
            }
        })
        .and_then(|m| m.get(resource))
        .map(parse)
        .unwrap_or_else(Quantity::zero)
}

/// A pod's effective request or limit of a resource (upstream `PodRequests`/`PodLimits`): the
/// sum over its containers, at least each init container's, plus the pod overhead.
pub fn pod_amount(pod: &Pod, limits: bool, resource: &str) -> Quantity {
    let Some(spec) = pod.spec.as_ref() else {
        return Quantity::zero();
    };
    let sum = spec.containers.iter().fold(Quantity::zero(), |acc, c| {
        acc.add(&container_amount(c, limits, resource))
    });
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| container_amount(c, limits, resource))
        .max()
        .unwrap_or_else(Quantity::zero);
    let overhead = spec
        .overhead
        .as_ref()
        .and_then(|o| o.get(resource))
        .map(parse)
        .unwrap_or_else(Quantity::zero);
    sum.max(init).add(&overhead)
}

/// What a namespace holds, as the usage evaluators see it.
#[derive(Default)]
pub struct Namespace {
    /// Pods that count against quota.
    pub pods: Vec<Arc<Pod>>,
    /// Services.
    pub services: Vec<Arc<Service>>,
    /// Claims.
    pub claims: Vec<Arc<PersistentVolumeClaim>>,
    /// Object counts by resource (`configmaps`, `deployments.apps`, ...).
    pub counts: BTreeMap<String, i64>,
}

fn count(n: usize) -> Quantity {
    Quantity::new(
        n as i128,
        0,
        apimachinery::validation::QuantityFormat::DecimalSI,
    )
}

fn claim_request(pvc: &PersistentVolumeClaim) -> Quantity {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage"))
        .map(parse)
        .unwrap_or_else(Quantity::zero)
}

/// The usage of one quota resource name, if rudder knows how to measure it.
pub fn usage(ns: &Namespace, resource: &str) -> Option<Quantity> {
    let object_count = |name: &str| ns.counts.get(name).map(|n| count(*n as usize));
    match resource {
        "pods" | "count/pods" => return Some(count(ns.pods.len())),
        "services" | "count/services" => return Some(count(ns.services.len())),
        "persistentvolumeclaims" | "count/persistentvolumeclaims" => {
            return Some(count(ns.claims.len()));
        }
        "services.loadbalancers" => {
            let n = ns
                .services
                .iter()
                .filter(|s| {
                    s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
                })
                .count();
            return Some(count(n));
        }
        "services.nodeports" => {
            // Each port of a NodePort Service, and of a LoadBalancer Service that allocates
            // node ports, takes a node port.
            let n: usize = ns
                .services
                .iter()
                .filter_map(|s| s.spec.as_ref())
                .filter(|s| match s.type_.as_deref() {
                    Some("NodePort") => true,
                    Some("LoadBalancer") => s.allocate_load_balancer_node_ports != Some(false),
                    _ => false,
                })
                .map(|s| s.ports.as_ref().map_or(0, Vec::len))
                .sum();
            return Some(count(n));
        }
        "requests.storage" => {
            return Some(
                ns.claims
                    .iter()
                    .fold(Quantity::zero(), |a, c| a.add(&claim_request(c))),
            );
        }
        _ => {}
    }
    if let Some((class, what)) = resource.split_once(".storageclass.storage.k8s.io/") {
        let of_class: Vec<&Arc<PersistentVolumeClaim>> = ns
            .claims
            .iter()
            .filter(|c| crate::persistentvolume::class_of(c) == Some(class))
            .collect();
        return match what {
            "persistentvolumeclaims" => Some(count(of_class.len())),
            "requests.storage" => Some(
                of_class
                    .iter()
                    .fold(Quantity::zero(), |a, c| a.add(&claim_request(c))),
            ),
            _ => None,
        };
    }
    if let Some(name) = resource.strip_prefix("count/") {
        return object_count(name);
    }
    if let Some(name) = object_count(resource) {
        return Some(name);
    }
    let (limits, compute) = match resource.split_once('.') {
        Some(("requests", r)) => (false, r),
        Some(("limits", r)) => (true, r),
        _ if matches!(resource, "cpu" | "memory" | "ephemeral-storage") => (false, resource),
        _ => return None,
    };
    Some(ns.pods.iter().fold(Quantity::zero(), |a, p| {
        a.add(&pod_amount(p, limits, compute))
    }))
}

/// Objects of kind `K` in the namespace.
fn in_namespace<K: Kind>(ctx: &Context, ns: &str) -> Vec<Arc<K>> {
    ctx.informers
        .get::<K>()
        .store()
        .state()
        .into_iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(ns))
        .collect()
}

fn gather(ctx: &Context, ns: &str, spec: &ResourceQuotaSpec) -> Namespace {
    let mut counts = BTreeMap::new();
    let mut put = |name: &str, n: usize| {
        counts.insert(name.to_string(), n as i64);
    };
    put("configmaps", in_namespace::<ConfigMap>(ctx, ns).len());
    put("secrets", in_namespace::<Secret>(ctx, ns).len());
    put(
        "replicationcontrollers",
        in_namespace::<ReplicationController>(ctx, ns).len(),
    );
    put(
        "resourcequotas",
        in_namespace::<ResourceQuota>(ctx, ns).len(),
    );
    put(
        "deployments.apps",
        in_namespace::<Deployment>(ctx, ns).len(),
    );
    put(
        "replicasets.apps",
        in_namespace::<ReplicaSet>(ctx, ns).len(),
    );
    put(
        "statefulsets.apps",
        in_namespace::<StatefulSet>(ctx, ns).len(),
    );
    put("daemonsets.apps", in_namespace::<DaemonSet>(ctx, ns).len());
    put("jobs.batch", in_namespace::<Job>(ctx, ns).len());
    put("cronjobs.batch", in_namespace::<CronJob>(ctx, ns).len());
    Namespace {
        pods: in_namespace::<Pod>(ctx, ns)
            .into_iter()
            .filter(|p| counts_against_quota(p) && in_scope(spec, p))
            .collect(),
        services: in_namespace::<Service>(ctx, ns),
        claims: in_namespace::<PersistentVolumeClaim>(ctx, ns),
        counts,
    }
}

async fn reconcile(quota: Arc<ResourceQuota>, ctx: Arc<Context>) -> Result<Action> {
    if quota.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = quota.metadata.namespace.clone().unwrap_or_default();
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let held = gather(&ctx, &ns, &quota.spec.clone().unwrap_or_default());
    let old = quota.status.clone().unwrap_or_default();
    let old_used = old.used.clone().unwrap_or_default();
    let used: BTreeMap<String, ApiQuantity> = hard
        .keys()
        .filter_map(|name| {
            // Resources rudder cannot measure keep what they had.
            let value = usage(&held, name)
                .map(|q| ApiQuantity(q.canonical()))
                .or_else(|| old_used.get(name).cloned())?;
            Some((name.clone(), value))
        })
        .collect();
    let same = |a: &BTreeMap<String, ApiQuantity>, b: &BTreeMap<String, ApiQuantity>| {
        a.len() == b.len()
            && a.iter()
                .all(|(k, v)| b.get(k).is_some_and(|w| parse(v) == parse(w)))
    };
    if same(&hard, &old.hard.clone().unwrap_or_default()) && same(&used, &old_used) {
        return Ok(Action::await_change());
    }
    let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &ns);
    // A merge patch cannot drop keys by omission: replace the whole status.
    let patch = json!({"status": {"hard": hard, "used": used}});
    let mut removed = serde_json::Map::new();
    for key in old_used.keys().filter(|k| !used.contains_key(*k)) {
        removed.insert(key.clone(), serde_json::Value::Null);
    }
    let mut patch = patch;
    if let Some(u) = patch
        .pointer_mut("/status/used")
        .and_then(|u| u.as_object_mut())
    {
        u.extend(removed);
    }
    let mut hard_removed = serde_json::Map::new();
    for key in old
        .hard
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| !hard.contains_key(*k))
    {
        hard_removed.insert(key.clone(), serde_json::Value::Null);
    }
    if let Some(h) = patch
        .pointer_mut("/status/hard")
        .and_then(|h| h.as_object_mut())
    {
        h.extend(hard_removed);
    }
    api.patch_status(
        quota.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
