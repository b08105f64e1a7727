//! Tests of the Endpoints controller's pure logic.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::json;

use super::*;

/// A pod on node-0 with `ip`, ready or not, with a named container port `http: 8080`.
pub fn pod(name: &str, ip: Option<&str>, ready: bool) -> Arc<Pod> {
    let mut status = json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    });
    if let Some(ip) = ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "node-0", "containers": [
                {"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": status,
        }))
        .expect("pod"),
    )
}

/// A Service selecting `app=web` with one port whose targetPort is `target`.
pub fn service(target: serde_json::Value, publish: bool) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"},
        "spec": {"selector": {"app": "web"}, "publishNotReadyAddresses": publish,
                 "ports": [{"name": "web", "port": 80, "targetPort": target, "protocol": "TCP"}]},
    }))
    .expect("service")
}

fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
    list.iter().flatten().map(|a| a.ip.as_str()).collect()
}

#[test]
fn ready_and_not_ready_pods_split_and_pods_without_ip_are_skipped() {
    let pods = [
        pod("b", Some("10.0.0.2"), true),
        pod("a", Some("10.0.0.1"), true),
        pod("c", Some("10.0.0.3"), false),
        pod("d", None, true),
    ];
    let subsets = desired_subsets(&service(json!(8080), false), &pods);
    assert_eq!(subsets.len(), 1);
    assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.3"]);
    let port = &subsets[0].ports.as_ref().expect("ports")[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("web"), 8080));
    let first = &subsets[0].addresses.as_ref().expect("addresses")[0];
    assert_eq!(first.node_name.as_deref(), Some("node-0"));
    assert_eq!(
        first.target_ref.as_ref().and_then(|t| t.name.as_deref()),
        Some("a")
    );
}

#[test]
fn named_target_ports_resolve_and_unknown_names_drop_the_pod() {
    let pods = [pod("a", Some("10.0.0.1"), true)];
    let subsets = desired_subsets(&service(json!("http"), false), &pods);
    assert_eq!(subsets[0].ports.as_ref().expect("ports")[0].port, 8080);
    assert!(desired_subsets(&service(json!("nope"), false), &pods).is_empty());
}

#[test]
fn terminating_and_finished_pods_are_excluded_unless_published() {
    let mut terminating = (*pod("a", Some("10.0.0.1"), true)).clone();
    terminating.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
    );
    let mut done = (*pod("b", Some("10.0.0.2"), false)).clone();
    done.status.as_mut().expect("status").phase = Some("Succeeded".into());
    let pods = [
        Arc::new(terminating),
        Arc::new(done),
        pod("c", Some("10.0.0.3"), false),
    ];
    let subsets = desired_subsets(&service(json!(8080), false), &pods);
    assert_eq!(ips(&subsets[0].addresses), Vec::<&str>::new());
    assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.3"]);
    // publishNotReadyAddresses takes terminating and not-ready pods as ready.
    let subsets = desired_subsets(&service(json!(8080), true), &pods);
    assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1", "10.0.0.3"]);
}

#[test]
fn truncation_keeps_ready_addresses_first() {
    let address = |i: usize| EndpointAddress {
        ip: format!("10.0.{}.{}", i / 256, i % 256),
        ..Default::default()
    };
    let mut subsets = vec![EndpointSubset {
        addresses: Some((0..900).map(address).collect()),
        not_ready_addresses: Some((900..1200).map(address).collect()),
        ports: None,
    }];
    assert!(truncate(&mut subsets));
    assert_eq!(subsets[0].addresses.as_ref().map(Vec::len), Some(900));
    assert_eq!(
        subsets[0].not_ready_addresses.as_ref().map(Vec::len),
        Some(100)
    );
}

#[test]
fn a_relabelled_pod_still_reaches_the_service_it_left_once() {
    use kube::runtime::{reflector, watcher::Event};
    let (services, mut service_writer) = reflector::store::<Service>();
    service_writer.apply_watcher_event(&Event::Apply(service(json!(8080), false)));
    let (pods, mut pod_writer) = reflector::store::<Pod>();
    let mapped = PodServices::default();
    let names = |refs: Vec<ObjectRef<Service>>| -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    };
    let web = (*pod("a", Some("10.0.0.1"), true)).clone();
    pod_writer.apply_watcher_event(&Event::Apply(web.clone()));
    assert_eq!(names(mapped.map(&services, &pods, &web)), ["web"]);
    let mut moved = web.clone();
    moved.metadata.labels = Some([("app".to_string(), "other".to_string())].into());
    pod_writer.apply_watcher_event(&Event::Apply(moved.clone()));
    assert_eq!(names(mapped.map(&services, &pods, &moved)), ["web"]);
    assert!(mapped.map(&services, &pods, &moved).is_empty());
    // A deleted pod reaches the Services that selected it, then is forgotten.
    pod_writer.apply_watcher_event(&Event::Apply(web.clone()));
    mapped.map(&services, &pods, &web);
    pod_writer.apply_watcher_event(&Event::Delete(web.clone()));
    assert_eq!(names(mapped.map(&services, &pods, &web)), ["web"]);
    assert!(mapped.last.lock().expect("lock").is_empty());
}
