//! The DefaultTolerationSeconds admission of pods.

use k8s_openapi::api::core::v1::{PodSpec, Toleration};

use super::default_toleration_seconds;

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.to_string()).filter(|k| !k.is_empty()),
        operator: Some("Exists".to_string()),
        effect: Some(effect.to_string()).filter(|e| !e.is_empty()),
        ..Default::default()
    }
}

fn keys(spec: &PodSpec) -> Vec<(String, Option<i64>)> {
    spec.tolerations
        .iter()
        .flatten()
        .map(|t| (t.key.clone().unwrap_or_default(), t.toleration_seconds))
        .collect()
}

#[test]
fn adds_both_tolerations_for_300_seconds() {
    let mut spec = PodSpec::default();
    default_toleration_seconds(&mut spec);
    assert_eq!(
        keys(&spec),
        vec![
            ("node.kubernetes.io/not-ready".to_string(), Some(300)),
            ("node.kubernetes.io/unreachable".to_string(), Some(300)),
        ]
    );
    assert!(spec.tolerations.iter().flatten().all(
        |t| t.effect.as_deref() == Some("NoExecute") && t.operator.as_deref() == Some("Exists")
    ));
}

#[test]
fn keeps_what_the_pod_tolerates_already() {
    let mut spec = PodSpec {
        tolerations: Some(vec![Toleration {
            toleration_seconds: Some(2),
            ..toleration("node.kubernetes.io/unreachable", "NoExecute")
        }]),
        ..Default::default()
    };
    default_toleration_seconds(&mut spec);
    assert_eq!(
        keys(&spec),
        vec![
            ("node.kubernetes.io/unreachable".to_string(), Some(2)),
            ("node.kubernetes.io/not-ready".to_string(), Some(300)),
        ]
    );
    // A toleration of every taint, or of every effect of the key, covers both.
    for existing in [toleration("", ""), toleration("", "NoExecute")] {
        let mut spec = PodSpec {
            tolerations: Some(vec![existing]),
            ..Default::default()
        };
        default_toleration_seconds(&mut spec);
        assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(1));
    }
    // A NoSchedule toleration does not.
    let mut spec = PodSpec {
        tolerations: Some(vec![toleration(
            "node.kubernetes.io/not-ready",
            "NoSchedule",
        )]),
        ..Default::default()
    };
    default_toleration_seconds(&mut spec);
    assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(3));
}
