//! Pod templates of Deployments: the pod-template-hash that names ReplicaSets, and template
//! equality that ignores the hash label and Go's zero values.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label that makes each ReplicaSet's pods distinct.
pub const HASH_LABEL: &str = "pod-template-hash";

/// FNV-32a, the hash upstream names ReplicaSets with.
fn fnv32a(data: &[u8]) -> u32 {
    data.iter().fold(0x811c9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x01000193)
    })
}

/// Upstream's `rand.SafeEncodeString`: digits and consonants, so names never spell words.
fn safe_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    text.bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The pod-template-hash of a template as [`bare`] gives it, and the collision count.
pub fn template_hash(template: &serde_json::Value, collision_count: i32) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if collision_count > 0 {
        bytes.extend_from_slice(collision_count.to_string().as_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// A template as JSON without the pod-template-hash label, the metadata pods do not get and
/// Go's zero values, so that templates compare as upstream's `EqualIgnoreHash` does.
pub fn bare(template: Option<&PodTemplateSpec>) -> serde_json::Value {
    let mut t = serde_json::to_value(template).unwrap_or_default();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(|l| l.as_object_mut())
    {
        labels.remove(HASH_LABEL);
    }
    // Only labels and annotations of a template's metadata reach its pods.
    if let Some(meta) = t.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.retain(|k, _| k == "labels" || k == "annotations");
    }
    drop_zero_values(&mut t);
    t
}

/// Removes empty strings, `false`, nulls and empty objects and lists, which Go's API types
/// cannot tell from absent fields (kubectl's rollback sends them explicitly).
fn drop_zero_values(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                drop_zero_values(child);
            }
            map.retain(|_, c| match c {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Object(o) => !o.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            });
        }
        Value::Array(items) => items.iter_mut().for_each(drop_zero_values),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9cf968);
    }

    #[test]
    fn template_hashes_are_stable_and_safe() {
        let t = json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let h = template_hash(&t, 0);
        assert_eq!(h, template_hash(&t, 0));
        assert_ne!(h, template_hash(&t, 1));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

    #[test]
    fn templates_with_explicit_zero_values_equal_their_bare_form() {
        let from_rs: PodTemplateSpec = serde_json::from_value(json!({"metadata":{"generateName":"","generation":0,"labels":{"app":"web","pod-template-hash":"54c4768798"},"name":"","namespace":"","resourceVersion":"","selfLink":"","uid":""},"spec":{"containers":[{"image":"nginx:1.0","imagePullPolicy":"IfNotPresent","name":"nginx","resources":{},"stdin":false,"stdinOnce":false,"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","tty":false,"workingDir":""}],"dnsPolicy":"ClusterFirst","hostIPC":false,"hostNetwork":false,"hostPID":false,"hostname":"","nodeName":"","priorityClassName":"","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccountName":"","subdomain":"","terminationGracePeriodSeconds":30}})).unwrap();
        let from_deployment: PodTemplateSpec = serde_json::from_value(json!({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.0","imagePullPolicy":"IfNotPresent","name":"nginx","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}})).unwrap();
        assert_eq!(bare(Some(&from_rs)), bare(Some(&from_deployment)));
        let mut other = from_deployment.clone();
        other.spec.as_mut().unwrap().containers[0].image = Some("nginx:2.0".into());
        assert_ne!(bare(Some(&other)), bare(Some(&from_deployment)));
    }
}
