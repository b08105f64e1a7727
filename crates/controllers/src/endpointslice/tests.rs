//! Tests of the EndpointSlice controller's pure logic.

use std::{collections::HashSet, sync::Arc};

use serde_json::json;

use super::*;
use crate::endpoints::tests::{pod, service};

fn slice(name: &str, ips: &[&str]) -> Arc<EndpointSlice> {
    let endpoints: Vec<serde_json::Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "targetRef": {"kind": "Pod", "uid": format!("uid-{ip}")}}))
        .collect();
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
        }))
        .expect("slice"),
    )
}

fn desired(ips: &[&str]) -> BTreeMap<PortKey, Vec<Endpoint>> {
    let key = vec![("web".to_string(), 8080, "TCP".to_string())];
    let eps = ips
        .iter()
        .map(|ip| Endpoint {
            addresses: vec![ip.to_string()],
            target_ref: Some(k8s_openapi::api::core::v1::ObjectReference {
                kind: Some("Pod".into()),
                uid: Some(format!("uid-{ip}")),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    BTreeMap::from([(key, eps)])
}

#[test]
fn conditions_follow_readiness_and_termination() {
    let mut terminating = (*pod("t", Some("10.0.0.9"), true)).clone();
    terminating.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
    );
    let pods = [
        pod("a", Some("10.0.0.1"), true),
        pod("b", Some("10.0.0.2"), false),
        Arc::new(terminating),
        pod("n", None, true),
    ];
    let groups = desired_endpoints(&service(json!("http"), false), &pods, |_| Some("z1".into()));
    let eps = &groups[&vec![("web".to_string(), 8080, "TCP".to_string())]];
    let conditions: Vec<(&str, bool, bool, bool)> = eps
        .iter()
        .map(|e| {
            let c = e.conditions.as_ref().expect("conditions");
            (
                e.addresses[0].as_str(),
                c.ready == Some(true),
                c.serving == Some(true),
                c.terminating == Some(true),
            )
        })
        .collect();
    assert_eq!(
        conditions,
        [
            ("10.0.0.1", true, true, false),
            ("10.0.0.2", false, false, false),
            ("10.0.0.9", false, true, true),
        ]
    );
    assert_eq!(eps[0].zone.as_deref(), Some("z1"));
    assert_eq!(eps[0].node_name.as_deref(), Some("node-0"));
}

#[test]
fn nothing_changes_when_nothing_changed() {
    let existing = [slice("web-abc", &["10.0.0.1", "10.0.0.2"])];
    let plan = plan(
        &existing,
        &desired(&["10.0.0.1", "10.0.0.2"]),
        100,
        &HashSet::new(),
    );
    assert_eq!(plan, Plan::default());
}

#[test]
fn endpoints_are_updated_in_place_and_new_ones_fill_slices_before_new_slices() {
    let existing = [
        slice("web-a", &["10.0.0.1", "10.0.0.2"]),
        slice("web-b", &["10.0.0.3"]),
    ];
    let plan = plan(
        &existing,
        &desired(&["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]),
        3,
        &HashSet::new(),
    );
    let addresses = |eps: &Vec<Endpoint>| -> Vec<String> {
        eps.iter().map(|e| e.addresses[0].clone()).collect()
    };
    let updates: Vec<(String, Vec<String>)> = plan
        .update
        .iter()
        .map(|(n, e)| (n.clone(), addresses(e)))
        .collect();
    assert_eq!(
        updates,
        [
            (
                "web-a".to_string(),
                vec!["10.0.0.2".to_string(), "10.0.0.4".into(), "10.0.0.5".into()]
            ),
            (
                "web-b".to_string(),
                vec!["10.0.0.3".to_string(), "10.0.0.6".into()]
            ),
        ]
    );
    assert!(plan.create.is_empty() && plan.delete.is_empty());
}

#[test]
fn large_services_are_split_and_empty_services_keep_one_placeholder() {
    let many: Vec<String> = (0..250)
        .map(|i| format!("10.0.{}.{}", i / 200, i % 200))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let plan1 = plan(&[], &desired(&refs), 100, &HashSet::new());
    let sizes: Vec<usize> = plan1.create.iter().map(|(_, e)| e.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);

    let existing = [slice("web-a", &["10.0.0.1"]), slice("web-b", &["10.0.0.2"])];
    let plan2 = plan(&existing, &BTreeMap::new(), 100, &HashSet::new());
    assert_eq!(plan2.delete, ["web-a", "web-b"]);
    assert_eq!(plan2.create, [(Vec::new(), Vec::new())]);
}
