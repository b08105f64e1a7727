//! Tests of toleration matching.

use k8s_openapi::api::core::v1::{Taint, Toleration};
use serde_json::{Value, json};

use super::tolerates;

fn toleration(v: Value) -> Toleration {
    serde_json::from_value(v).expect("a toleration")
}

#[test]
fn equal_compares_values_and_exists_takes_any() {
    let taint = Taint {
        key: "k".into(),
        value: Some("v".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    assert!(tolerates(
        &toleration(json!({"key": "k", "value": "v"})),
        &taint
    ));
    assert!(tolerates(
        &toleration(json!({"key": "k", "operator": "Equal", "value": "v"})),
        &taint
    ));
    // No operator, or an empty one, is Equal.
    assert!(tolerates(
        &toleration(json!({"key": "k", "operator": "", "value": "v"})),
        &taint
    ));
    assert!(!tolerates(
        &toleration(json!({"key": "k", "value": "w"})),
        &taint
    ));
    assert!(tolerates(
        &toleration(json!({"operator": "Exists"})),
        &taint
    ));
    assert!(tolerates(
        &toleration(json!({"key": "k", "operator": "Exists"})),
        &taint
    ));
    assert!(!tolerates(
        &toleration(json!({"key": "j", "operator": "Exists"})),
        &taint
    ));
}

#[test]
fn a_given_effect_must_be_the_taints() {
    let taint = Taint {
        key: "k".into(),
        value: Some("x".into()),
        effect: "NoExecute".into(),
        ..Default::default()
    };
    assert!(!tolerates(
        &toleration(json!({"key": "k", "operator": "Exists", "effect": "NoSchedule"})),
        &taint
    ));
    assert!(tolerates(
        &toleration(json!({"key": "k", "operator": "Exists", "effect": "NoExecute"})),
        &taint
    ));
    assert!(tolerates(
        &toleration(json!({"key": "k", "value": "x", "effect": ""})),
        &taint
    ));
}

#[test]
fn an_empty_key_with_equal_matches_only_an_empty_keyed_taint() {
    let keyed = Taint {
        key: "k".into(),
        value: Some("v".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    let unkeyed = Taint {
        key: String::new(),
        ..keyed.clone()
    };
    let equal = toleration(json!({"value": "v"}));
    assert!(!tolerates(&equal, &keyed));
    assert!(tolerates(&equal, &unkeyed));
}
