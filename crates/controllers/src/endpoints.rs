//! The Endpoints controller: for each Service with a selector, an Endpoints object of the same
//! name listing the selected pods' addresses (ready ones in `addresses`, others in
//! `notReadyAddresses`) with the ports their `targetPort`s resolve to; deleted with the Service.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use k8s_openapi::{
    api::core::v1::{
        EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
        ServicePort,
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::{ObjectRef, Store},
    },
};

use crate::{Context, Result, pods};

/// The label naming the controller that manages an Endpoints object.
pub const MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY`].
const CONTROLLER_NAME: &str = "endpoint-controller";
/// When the change that the object reflects happened.
pub const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Set on objects whose Service is headless.
pub const HEADLESS: &str = "service.kubernetes.io/headless";
/// Marks an Endpoints object that had more addresses than it may hold.
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// The most addresses an Endpoints object holds (upstream `maxCapacity`).
const MAX_ADDRESSES: usize = 1000;

/// Runs the controller.
pub async fn run(ctx: Arc<Context>) {
    let services = ctx.informers.get::<Service>();
    let pods = ctx.informers.get::<Pod>();
    let endpoints = ctx.informers.get::<Endpoints>();
    // The endpointslice controller also has Services as its primary kind: with the cache
    // complete before the controller starts, its readiness wait never blocks (see
    // `component::informer`).
    services.ready().await;
    endpoints.ready().await;
    let (service_store, pod_store) = (services.store(), pods.store());
    let mapped = PodServices::default();
    let controller = Controller::for_shared_stream(services.subscribe(), services.store())
        .watches_shared_stream(pods.subscribe(), move |pod: Arc<Pod>| {
            mapped.map(&service_store, &pod_store, &pod)
        })
        .watches_shared_stream(endpoints.subscribe(), |ep: Arc<Endpoints>| {
            Some(service_ref(&ep.metadata))
        });
    let cleanup = delete_with_services(ctx.clone());
    let work = crate::drive("endpoints", controller, ctx, reconcile);
    futures::join!(cleanup, work);
}

/// A reference to the Service of the same name and namespace as an object.
fn service_ref(meta: &ObjectMeta) -> ObjectRef<Service> {
    ObjectRef::new(meta.name.as_deref().unwrap_or_default())
        .within(meta.namespace.as_deref().unwrap_or_default())
}

/// The Services each pod was last mapped to, so that a pod whose labels changed still reaches
/// the Services it left (upstream compares the old and the new pod; the feed carries only the
/// new one).
#[derive(Default)]
pub struct PodServices {
    last: Mutex<HashMap<String, Vec<ObjectRef<Service>>>>,
}

impl PodServices {
    /// The Services a pod's change may affect: those selecting it now and those that selected
    /// it before. A pod gone from `pods` (deleted) is forgotten.
    pub fn map(
        &self,
        services: &Store<Service>,
        pods: &Store<Pod>,
        pod: &Pod,
    ) -> Vec<ObjectRef<Service>> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let now: Vec<ObjectRef<Service>> = services
            .state()
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(&ns))
            .filter(|s| selector_of(s).is_some_and(|sel| selects(sel, &labels)))
            .map(|s| ObjectRef::from_obj(&**s))
            .collect();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let present = pods
            .get(&ObjectRef::from_obj(pod))
            .is_some_and(|p| p.metadata.uid == pod.metadata.uid);
        let mut last = self.last.lock().expect("pod services lock");
        let before = if present {
            last.insert(uid, now.clone())
        } else {
            last.remove(&uid)
        };
        let mut refs = now;
        for r in before.into_iter().flatten() {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
        refs
    }
}

/// The selector a controller acts on: none for Services without one and for ExternalName
/// Services.
pub fn selector_of(service: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Whether the Service publishes pods that are not ready.
pub fn publishes_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The container port a Service port's `targetPort` names on this pod (upstream `FindPort`):
/// a number as it is, a name looked up among the pod's container ports of the same protocol.
pub fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// The hostname a pod has in a headless Service's records: its `spec.hostname` when its
/// `spec.subdomain` is the Service's name.
pub fn hostname_in(service: &Service, pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (is_headless(service) && spec.subdomain.as_deref() == service.metadata.name.as_deref())
        .then(|| hostname.to_string())
}

/// A reference to a pod, as endpoints carry it.
pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// The ports a pod serves for a Service, as a sortable key: (name, port, protocol).
pub type PortKey = Vec<(String, i32, String)>;

/// The subsets of a Service's Endpoints over the given pods (upstream `syncService` then
/// `RepackSubsets`): pods without an IP, finished pods and, unless the Service publishes
/// not-ready addresses, terminating pods are left out; pods with the same ports share a
/// subset; addresses are sorted by IP.
pub fn desired_subsets(service: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let publish = publishes_not_ready(service);
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    // Subsets keyed by their ports, each with (ready, not ready) addresses.
    let mut groups: BTreeMap<PortKey, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for pod in pods {
        let Some(ip) = pods::ipv4(pod) else { continue };
        let terminal = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if terminal || (pod.metadata.deletion_timestamp.is_some() && !publish) {
            continue;
        }
        let resolved: PortKey = ports
            .iter()
            .filter_map(|p| {
                let number = target_port(p, pod)?;
                Some((
                    p.name.clone().unwrap_or_default(),
                    number,
                    p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ))
            })
            .collect();
        // A pod that serves none of the Service's ports is not an endpoint of it (a headless
        // Service without ports takes every pod).
        if resolved.is_empty() && !ports.is_empty() {
            continue;
        }
        let address = EndpointAddress {
            ip: ip.to_string(),
            hostname: hostname_in(service, pod),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(pod_reference(pod)),
        };
        let group = groups.entry(resolved).or_default();
        if publish || pods::is_ready(pod) {
            group.0.push(address);
        } else {
            group.1.push(address);
        }
    }
    groups
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            let by_ip = |a: &EndpointAddress, b: &EndpointAddress| {
                (
                    a.ip.as_str(),
                    a.target_ref.as_ref().and_then(|t| t.uid.as_deref()),
                )
                    .cmp(&(
                        b.ip.as_str(),
                        b.target_ref.as_ref().and_then(|t| t.uid.as_deref()),
                    ))
            };
            ready.sort_by(by_ip);
            not_ready.sort_by(by_ip);
            let app_protocol = |name: &str| {
                service
                    .spec
                    .iter()
                    .flat_map(|s| s.ports.iter().flatten())
                    .find(|p| p.name.as_deref().unwrap_or_default() == name)
                    .and_then(|p| p.app_protocol.clone())
            };
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .into_iter()
                        .map(|(name, port, protocol)| EndpointPort {
                            app_protocol: app_protocol(&name),
                            name: (!name.is_empty()).then_some(name),
                            port,
                            protocol: Some(protocol),
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// Keeps at most [`MAX_ADDRESSES`] addresses, ready ones first; whether any were dropped.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let mut room = MAX_ADDRESSES;
    let mut dropped = false;
    for pick_ready in [true, false] {
        for subset in subsets.iter_mut() {
            let list = if pick_ready {
                &mut subset.addresses
            } else {
                &mut subset.not_ready_addresses
            };
            if let Some(addresses) = list {
                if addresses.len() > room {
                    addresses.truncate(room);
                    dropped = true;
                }
                room -= addresses.len();
            }
        }
    }
    dropped
}

/// The labels of a Service's Endpoints: the Service's own, the headless marker and the
/// managed-by label.
fn desired_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_headless(service) {
        labels.insert(HEADLESS.into(), String::new());
    } else {
        labels.remove(HEADLESS);
    }
    labels.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
    labels
}

async fn reconcile(service: Arc<Service>, ctx: Arc<Context>) -> Result<Action> {
    let Some(selector) = selector_of(&service) else {
        return Ok(Action::await_change());
    };
    let ns = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let selected = pods::matching_set(&ctx.informers.get::<Pod>().store(), &ns, selector);
    let mut subsets = desired_subsets(&service, &selected);
    let over = truncate(&mut subsets);
    let labels = desired_labels(&service);
    let current = ctx
        .informers
        .get::<Endpoints>()
        .store()
        .get(&ObjectRef::new(&name).within(&ns));
    let over_annotation = |e: &Endpoints| {
        e.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(OVER_CAPACITY))
    };
    if let Some(current) = &current
        && current.subsets.clone().unwrap_or_default() == subsets
        && current.metadata.labels.as_ref() == Some(&labels)
        && over_annotation(current) == over
    {
        return Ok(Action::await_change());
    }
    let mut annotations = current
        .as_ref()
        .and_then(|c| c.metadata.annotations.clone())
        .unwrap_or_default();
    annotations.insert(TRIGGER_TIME.into(), component::now());
    if over {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    let object = Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            resource_version: current
                .as_ref()
                .and_then(|c| c.metadata.resource_version.clone()),
            ..Default::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    };
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    let result = match current {
        Some(_) => api.replace(&name, &PostParams::default(), &object).await,
        None => api.create(&PostParams::default(), &object).await,
    };
    match result {
        Ok(_) => Ok(Action::await_change()),
        // The cache was behind: the next event retries with what is current.
        Err(kube::Error::Api(e)) if e.code == 409 => {
            Ok(Action::requeue(std::time::Duration::from_millis(200)))
        }
        // A namespace being deleted refuses new objects; nothing to do.
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(Action::await_change()),
        Err(e) => {
            let reason = if object.metadata.resource_version.is_some() {
                "FailedToUpdateEndpoint"
            } else {
                "FailedToCreateEndpoint"
            };
            ctx.recorder.warning(
                &*service,
                reason,
                format!("Failed to update endpoint {ns}/{name}: {e}"),
            );
            Err(e.into())
        }
    }
}

/// Deletes the Endpoints of each deleted Service (upstream deletes them whatever the
/// selector), and at start the Endpoints this controller manages whose Service is gone.
async fn delete_with_services(ctx: Arc<Context>) {
    let services = ctx.informers.get::<Service>();
    let endpoints = ctx.informers.get::<Endpoints>();
    endpoints.ready().await;
    let store = services.store();
    for ep in endpoints.store().state() {
        let managed = ep.metadata.labels.as_ref().and_then(|l| l.get(MANAGED_BY))
            == Some(&CONTROLLER_NAME.to_string());
        if managed && store.get(&service_ref(&ep.metadata)).is_none() {
            delete_endpoints(&ctx, &ep.metadata).await;
        }
    }
    let mut feed = std::pin::pin!(services.subscribe());
    while let Some(service) = feed.next().await {
        let present = store
            .get(&ObjectRef::from_obj(&*service))
            .is_some_and(|s| s.metadata.uid == service.metadata.uid);
        if !present {
            delete_endpoints(&ctx, &service.metadata).await;
        }
    }
}

async fn delete_endpoints(ctx: &Context, meta: &ObjectMeta) {
    let ns = meta.namespace.as_deref().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), ns);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => tracing::debug!(
            namespace = ns,
            name,
            "deleted the endpoints of a deleted service"
        ),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(error) => tracing::warn!(namespace = ns, name, %error, "could not delete endpoints"),
    }
}

#[cfg(test)]
pub(crate) mod tests;
