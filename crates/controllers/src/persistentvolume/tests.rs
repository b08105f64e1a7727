//! Tests of the binder's matching.

use std::sync::Arc;

use serde_json::json;

use super::*;

fn pv(name: &str, size: &str, class: &str, extra: serde_json::Value) -> Arc<PersistentVolume> {
    let mut v = json!({
        "metadata": {"name": name, "labels": {"tier": "fast"}},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                 "storageClassName": class, "hostPath": {"path": "/x"}},
        "status": {"phase": "Available"},
    });
    merge(&mut v, extra);
    Arc::new(serde_json::from_value(v).expect("pv"))
}

fn pvc(size: &str, class: Option<&str>, extra: serde_json::Value) -> PersistentVolumeClaim {
    let mut v = json!({
        "metadata": {"name": "data", "namespace": "default", "uid": "claim-uid"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    });
    if let Some(class) = class {
        v["spec"]["storageClassName"] = json!(class);
    }
    merge(&mut v, extra);
    serde_json::from_value(v).expect("pvc")
}

fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
    if let (Some(b), serde_json::Value::Object(p)) = (base.as_object_mut(), patch) {
        for (k, v) in p {
            match b.get_mut(&k) {
                Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                _ => {
                    b.insert(k, v);
                }
            }
        }
    }
}

fn name(found: Option<&Arc<PersistentVolume>>) -> Option<&str> {
    found.and_then(|v| v.metadata.name.as_deref())
}

#[test]
fn the_smallest_sufficient_volume_of_the_class_wins() {
    let volumes = [
        pv("big", "10Gi", "", json!({})),
        pv("small", "1Gi", "", json!({})),
        pv("tiny", "500Mi", "", json!({})),
        pv("other-class", "1Gi", "fast", json!({})),
    ];
    assert_eq!(
        name(find_match(
            &pvc("1Gi", Some(""), json!({})),
            &volumes,
            false,
            None
        )),
        Some("small")
    );
    assert_eq!(
        name(find_match(
            &pvc("1Gi", Some("fast"), json!({})),
            &volumes,
            false,
            None
        )),
        Some("other-class")
    );
    assert_eq!(
        name(find_match(
            &pvc("20Gi", Some(""), json!({})),
            &volumes,
            false,
            None
        )),
        None
    );
}

#[test]
fn modes_volume_mode_selector_and_claimed_volumes_are_respected() {
    let volumes = [
        pv(
            "rwx-only",
            "1Gi",
            "",
            json!({"spec": {"accessModes": ["ReadWriteMany"]}}),
        ),
        pv("block", "1Gi", "", json!({"spec": {"volumeMode": "Block"}})),
        pv(
            "taken",
            "1Gi",
            "",
            json!({"spec": {"claimRef": {"namespace": "x", "name": "y", "uid": "u"}}}),
        ),
        pv(
            "released",
            "1Gi",
            "",
            json!({"status": {"phase": "Released"}}),
        ),
    ];
    assert_eq!(
        name(find_match(
            &pvc("1Gi", Some(""), json!({})),
            &volumes,
            false,
            None
        )),
        None
    );
    let block = pvc("1Gi", Some(""), json!({"spec": {"volumeMode": "Block"}}));
    assert_eq!(
        name(find_match(&block, &volumes, false, None)),
        Some("block")
    );
    let slow = pvc(
        "1Gi",
        Some(""),
        json!({"spec": {"volumeMode": "Block", "selector": {"matchLabels": {"tier": "slow"}}}}),
    );
    assert_eq!(name(find_match(&slow, &volumes, false, None)), None);
}

#[test]
fn reserved_volumes_bind_first_and_delayed_binding_needs_a_node() {
    let reserved = json!({"spec": {"claimRef": {"namespace": "default", "name": "data"}}});
    let volumes = [
        pv("any", "1Gi", "local", json!({})),
        pv("mine", "5Gi", "local", reserved),
    ];
    let claim = pvc("1Gi", Some("local"), json!({}));
    assert_eq!(
        name(find_match(&claim, &volumes, false, None)),
        Some("mine")
    );
    assert_eq!(name(find_match(&claim, &volumes[..1], true, None)), None);

    let pinned = json!({"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}});
    let volumes = [pv("on-n1", "1Gi", "local", pinned)];
    let node = |n: &str| -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}}),
        )
        .expect("node")
    };
    assert_eq!(
        name(find_match(&claim, &volumes, true, Some(&node("n1")))),
        Some("on-n1")
    );
    assert_eq!(
        name(find_match(&claim, &volumes, true, Some(&node("n2")))),
        None
    );
}

#[test]
fn the_newest_default_class_is_the_default() {
    let class = |name: &str, default: bool, created: &str| -> Arc<StorageClass> {
        let mut v =
            json!({"metadata": {"name": name, "creationTimestamp": created}, "provisioner": "p"});
        if default {
            v["metadata"]["annotations"] = json!({DEFAULT_CLASS: "true"});
        }
        Arc::new(serde_json::from_value(v).expect("class"))
    };
    let classes = [
        class("old", true, "2024-01-01T00:00:00Z"),
        class("new", true, "2025-01-01T00:00:00Z"),
        class("plain", false, "2026-01-01T00:00:00Z"),
    ];
    assert_eq!(
        default_class(&classes).and_then(|c| c.metadata.name.as_deref()),
        Some("new")
    );
    assert!(default_class(&classes[2..]).is_none());
}
