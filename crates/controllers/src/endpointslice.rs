//! The EndpointSlice controller: for each Service with a selector, discovery.k8s.io/v1
//! EndpointSlices (`<service>-<random>`, owned by the Service, at most 100 endpoints each, one
//! set of ports per slice) listing the selected pods with their ready/serving/terminating
//! conditions, node and zone. Slices are updated in place and left alone when nothing changed;
//! a Service without endpoints keeps one empty placeholder slice.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
    time::Duration,
};

use k8s_openapi::api::{
    core::v1::{Node, Pod, Service},
    discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice},
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::{ObjectRef, Store},
    },
};

use crate::{
    Context, Result,
    endpoints::{self, HEADLESS, PortKey, TRIGGER_TIME},
    expectations::Expectations,
    pods,
};

/// The label naming a slice's Service.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming the controller that manages a slice.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// The most endpoints a slice holds (upstream `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS: usize = 100;
/// The node label giving its zone.
const ZONE: &str = "topology.kubernetes.io/zone";

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let services = ctx.informers.get::<Service>();
    let pods = ctx.informers.get::<Pod>();
    let slices = ctx.informers.get::<EndpointSlice>();
    // The endpoints controller also has Services as its primary kind: with the cache complete
    // before the controller starts, its readiness wait never blocks.
    services.ready().await;
    slices.ready().await;
    let (service_store, pod_store) = (services.store(), pods.store());
    let mapped = endpoints::PodServices::default();
    let controller = Controller::for_shared_stream(services.subscribe(), services.store())
        .watches_shared_stream(pods.subscribe(), move |pod: Arc<Pod>| {
            mapped.map(&service_store, &pod_store, &pod)
        })
        .watches_shared_stream(ctx.informers.get::<Node>().subscribe(), {
            let slices = slices.store();
            move |node: Arc<Node>| zone_changed(&slices, &node)
        })
        .watches_shared_stream(slices.subscribe(), |slice: Arc<EndpointSlice>| {
            let ns = slice.metadata.namespace.clone().unwrap_or_default();
            managed_service(&slice).map(|name| ObjectRef::<Service>::new(&name).within(&ns))
        });
    let expectations = Arc::new(Expectations::default());
    crate::drive("endpointslice", controller, ctx, move |service, ctx| {
        reconcile(service, ctx, expectations.clone())
    })
    .await;
}

/// The Service of a slice this controller manages.
fn managed_service(slice: &EndpointSlice) -> Option<String> {
    let labels = slice.metadata.labels.as_ref()?;
    (labels.get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME))
        .then(|| labels.get(SERVICE_NAME).cloned())
        .flatten()
}

/// The Services whose slices give endpoints on this node another zone than the node's.
fn zone_changed(store: &Store<EndpointSlice>, node: &Node) -> Vec<ObjectRef<Service>> {
    let name = node.metadata.name.as_deref();
    let zone = node.metadata.labels.as_ref().and_then(|l| l.get(ZONE));
    store
        .state()
        .iter()
        .filter(|s| {
            s.endpoints
                .iter()
                .any(|e| e.node_name.as_deref() == name && e.zone.as_ref() != zone)
        })
        .filter_map(|s| {
            let ns = s.metadata.namespace.as_deref().unwrap_or_default();
            managed_service(s).map(|svc| ObjectRef::new(&svc).within(ns))
        })
        .collect()
}

/// The endpoints a Service should have, grouped by the ports they serve (upstream
/// `podToEndpoint` and `getEndpointPorts`): finished pods and pods without an IPv4 address
/// are left out; terminating pods are kept with `terminating: true`.
pub fn desired_endpoints(
    service: &Service,
    pods: &[Arc<Pod>],
    zone_of: impl Fn(&str) -> Option<String>,
) -> BTreeMap<PortKey, Vec<Endpoint>> {
    let publish = endpoints::publishes_not_ready(service);
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    let mut groups: BTreeMap<PortKey, Vec<Endpoint>> = BTreeMap::new();
    for pod in pods {
        let Some(ip) = pods::ipv4(pod) else { continue };
        if matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        ) {
            continue;
        }
        let key: PortKey = ports
            .iter()
            .filter_map(|p| {
                Some((
                    p.name.clone().unwrap_or_default(),
                    endpoints::target_port(p, pod)?,
                    p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ))
            })
            .collect();
        let serving = publish || pods::is_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        groups.entry(key).or_default().push(Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(serving && (publish || !terminating)),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            hostname: endpoints::hostname_in(service, pod),
            zone: node.as_deref().and_then(&zone_of),
            node_name: node,
            target_ref: Some(endpoints::pod_reference(pod)),
            ..Default::default()
        });
    }
    for list in groups.values_mut() {
        list.sort_by(|a, b| a.addresses.cmp(&b.addresses));
    }
    groups
}

/// The ports of a slice from its key, with the Service's appProtocols.
fn slice_ports(service: &Service, key: &PortKey) -> Vec<EndpointPort> {
    key.iter()
        .map(|(name, port, protocol)| EndpointPort {
            name: Some(name.clone()),
            port: Some(*port),
            protocol: Some(protocol.clone()),
            app_protocol: service
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .find(|p| p.name.as_deref().unwrap_or_default() == name)
                .and_then(|p| p.app_protocol.clone()),
        })
        .collect()
}

fn port_key(slice: &EndpointSlice) -> PortKey {
    slice
        .ports
        .iter()
        .flatten()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            )
        })
        .collect()
}

/// What identifies an endpoint across syncs: the pod it stands for, or its address.
fn endpoint_key(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|t| t.uid.clone())
        .unwrap_or_else(|| e.addresses.join(","))
}

/// The writes that bring a Service's slices to the desired state.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// New slices: their ports and endpoints.
    pub create: Vec<(PortKey, Vec<Endpoint>)>,
    /// Existing slices (by name) with their new endpoints.
    pub update: Vec<(String, Vec<Endpoint>)>,
    /// Existing slices (by name) to delete.
    pub delete: Vec<String>,
}

/// Plans the slices (a simplified upstream `reconciler.reconcileByAddressType`): endpoints
/// stay in the slice that holds them, updated there when they changed; new endpoints fill
/// slices with room, then new slices of at most `max` endpoints; slices left empty go, except
/// one placeholder when the Service has no endpoints at all. `relabel` names slices whose
/// labels need an update even if their endpoints do not.
pub fn plan(
    existing: &[Arc<EndpointSlice>],
    desired: &BTreeMap<PortKey, Vec<Endpoint>>,
    max: usize,
    relabel: &HashSet<String>,
) -> Plan {
    let mut plan = Plan::default();
    let total: usize = desired.values().map(Vec::len).sum();
    if total == 0 {
        let keep = existing
            .iter()
            .find(|s| s.endpoints.is_empty() && port_key(s).is_empty());
        for slice in existing {
            let name = slice.metadata.name.clone().unwrap_or_default();
            if keep.is_some_and(|k| Arc::ptr_eq(k, slice)) {
                if relabel.contains(&name) {
                    plan.update.push((name, Vec::new()));
                }
            } else {
                plan.delete.push(name);
            }
        }
        if keep.is_none() {
            plan.create.push((Vec::new(), Vec::new()));
        }
        return plan;
    }
    let wanted: BTreeMap<String, &Endpoint> = desired
        .values()
        .flatten()
        .map(|e| (endpoint_key(e), e))
        .collect();
    let mut placed: HashSet<String> = HashSet::new();
    // Per port key, the slices kept: name, new endpoints, whether they changed.
    let mut kept: BTreeMap<PortKey, Vec<(String, Vec<Endpoint>, bool)>> = BTreeMap::new();
    for slice in existing {
        let name = slice.metadata.name.clone().unwrap_or_default();
        let key = port_key(slice);
        let Some(group) = desired.get(&key) else {
            plan.delete.push(name);
            continue;
        };
        let group_keys: HashSet<String> = group.iter().map(endpoint_key).collect();
        let mut next = Vec::new();
        for e in &slice.endpoints {
            let k = endpoint_key(e);
            if group_keys.contains(&k) && placed.insert(k.clone()) {
                next.push((*wanted[&k]).clone());
            }
        }
        let changed = next != slice.endpoints || relabel.contains(&name);
        kept.entry(key).or_default().push((name, next, changed));
    }
    for (key, group) in desired {
        let mut fresh: Vec<Endpoint> = group
            .iter()
            .filter(|e| !placed.contains(&endpoint_key(e)))
            .cloned()
            .collect();
        let slices = kept.entry(key.clone()).or_default();
        for (_, endpoints, changed) in slices.iter_mut() {
            while endpoints.len() < max && !fresh.is_empty() {
                endpoints.push(fresh.remove(0));
                *changed = true;
            }
        }
        for chunk in fresh.chunks(max) {
            plan.create.push((key.clone(), chunk.to_vec()));
        }
    }
    for (_, slices) in kept {
        for (name, endpoints, changed) in slices {
            if endpoints.is_empty() {
                plan.delete.push(name);
            } else if changed {
                plan.update.push((name, endpoints));
            }
        }
    }
    plan
}

/// The labels of a Service's slices (upstream `setEndpointSliceLabels`).
fn desired_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.remove(HEADLESS);
    if endpoints::is_headless(service) {
        labels.insert(HEADLESS.into(), String::new());
    }
    labels.insert(
        SERVICE_NAME.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
    labels
}

async fn reconcile(
    service: Arc<Service>,
    ctx: Arc<Context>,
    expectations: Arc<Expectations>,
) -> Result<Action> {
    let Some(selector) = endpoints::selector_of(&service) else {
        return Ok(Action::await_change());
    };
    if service.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let selected = pods::matching_set(&ctx.informers.get::<Pod>().store(), &ns, selector);
    let nodes = ctx.informers.get::<Node>().store();
    let desired = desired_endpoints(&service, &selected, |node| {
        nodes
            .get(&ObjectRef::new(node))
            .and_then(|n| n.metadata.labels.as_ref()?.get(ZONE).cloned())
    });
    let slices = ctx.informers.get::<EndpointSlice>().store();
    let uid = service.metadata.uid.clone().unwrap_or_default();
    // Until the cache shows this controller's last creations and deletions, acting again
    // could create duplicates; the slices' own events bring the Service back.
    if !expectations.satisfied(&uid, |slice| {
        slices.get(&ObjectRef::new(slice).within(&ns)).is_some()
    }) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let existing: Vec<Arc<EndpointSlice>> = slices
        .state()
        .into_iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(&ns))
        .filter(|s| managed_service(s).as_deref() == Some(&name))
        .collect();
    let labels = desired_labels(&service);
    let relabel: HashSet<String> = existing
        .iter()
        .filter(|s| s.metadata.labels.as_ref() != Some(&labels))
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    let plan = plan(&existing, &desired, MAX_ENDPOINTS, &relabel);
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let now = component::now();
    let meta = |base: Option<&ObjectMeta>| {
        let mut meta = base.cloned().unwrap_or_else(|| ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: Some(ns.clone()),
            owner_references: Some(vec![pods::owner_reference(&*service)]),
            ..Default::default()
        });
        meta.labels = Some(labels.clone());
        meta.annotations
            .get_or_insert_with(Default::default)
            .insert(TRIGGER_TIME.into(), now.clone());
        meta.managed_fields = None;
        meta
    };
    for slice in &plan.delete {
        match api.delete(slice, &DeleteParams::default()).await {
            Ok(_) => expectations.deleted(&uid, slice),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for (slice_name, new_endpoints) in plan.update {
        let Some(old) = existing
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(&slice_name))
        else {
            continue;
        };
        let mut slice = (**old).clone();
        slice.metadata = meta(Some(&old.metadata));
        slice.endpoints = new_endpoints;
        match api
            .replace(&slice_name, &PostParams::default(), &slice)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    for (key, new_endpoints) in plan.create {
        let slice = EndpointSlice {
            metadata: meta(None),
            address_type: "IPv4".into(),
            endpoints: new_endpoints,
            ports: (!key.is_empty()).then(|| slice_ports(&service, &key)),
        };
        match api.create(&PostParams::default(), &slice).await {
            Ok(created) => {
                expectations.created(&uid, created.metadata.name.as_deref().unwrap_or_default())
            }
            Err(kube::Error::Api(e)) if e.code == 403 => return Ok(Action::await_change()),
            Err(e) => {
                ctx.recorder.warning(
                    &*service,
                    "FailedToUpdateEndpointSlices",
                    format!("Error updating Endpoint Slices for Service {ns}/{name}: {e}"),
                );
                return Err(e.into());
            }
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
