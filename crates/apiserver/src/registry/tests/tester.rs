//! The registry tester: admits objects through `strategy(info)` the way the generic store
//! does (metadata validated by the kind's name rule, a uid set before the strategy runs, the
//! status of kinds with a status subresource kept on update) and compares the errors with
//! expected field paths or messages.
//!
//! An expected entry matches an error when it equals the error's field path or its full
//! message (`spec.containers[0].image: Required value`); an entry ending in `...` matches a
//! message that starts with the rest. Every expected entry must match an error and every
//! error must be matched.

use apimachinery::{
    resources::{self, ResourceInfo, Subresource},
    validation::{self, ErrorList, FieldError, Path},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::registry::{strategy, validate_name};

/// The served resource of a group and kind.
pub fn info(group: &str, kind: &str) -> &'static ResourceInfo {
    resources::all()
        .iter()
        .find(|r| r.group == group && r.kind == kind)
        .unwrap_or_else(|| panic!("{group}/{kind} is not served"))
}

fn meta_errors(info: &ResourceInfo, obj: &Value) -> ErrorList {
    let meta: ObjectMeta = obj
        .get("metadata")
        .cloned()
        .and_then(|m| serde_json::from_value(m).ok())
        .unwrap_or_default();
    let rule = strategy(info).names();
    validation::validate_object_meta(
        &meta,
        info.namespaced,
        |n| validate_name(rule, n),
        &Path::new("metadata"),
    )
}

/// Fills what the generic store would: namespace, uid, apiVersion and kind.
fn prepare(info: &ResourceInfo, mut obj: Value) -> Value {
    let map = obj.as_object_mut().expect("an object");
    map.insert("apiVersion".into(), json!(info.api_version()));
    map.insert("kind".into(), json!(info.kind));
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    let meta = meta.as_object_mut().expect("metadata is an object");
    meta.entry("name").or_insert_with(|| json!("x"));
    if info.namespaced {
        meta.entry("namespace").or_insert_with(|| json!("default"));
    }
    meta.entry("uid")
        .or_insert_with(|| json!("0b2e5e4b-7d6f-4f7a-9d3c-1a2b3c4d5e6f"));
    if info.has(Subresource::Status) {
        map.remove("status");
    }
    obj
}

/// Admits a new object: returns it as stored and the errors (metadata's included).
pub fn create(info: &ResourceInfo, obj: Value) -> (Value, ErrorList) {
    let mut obj = prepare(info, obj);
    let mut errors = meta_errors(info, &obj);
    errors.extend(
        strategy(info)
            .admit_create(info, &mut obj)
            .expect("decodes"),
    );
    (obj, errors)
}

/// Admits a valid object; panics on errors.
pub fn created(info: &ResourceInfo, obj: Value) -> Value {
    let (obj, errors) = create(info, obj);
    assert!(
        errors.is_empty(),
        "unexpected errors creating {}: {}",
        info.kind,
        render(&errors)
    );
    obj
}

/// Admits an update of `old` (as stored) to `new`: returns the new object and the errors.
pub fn update(info: &ResourceInfo, old: &Value, new: Value) -> (Value, ErrorList) {
    let mut new = prepare(info, new);
    for field in ["uid", "name", "namespace"] {
        if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
            new["metadata"][field] = v.clone();
        }
    }
    new["metadata"]["resourceVersion"] = json!("1");
    if info.has(Subresource::Status) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                new.as_object_mut().map(|m| m.remove("status"));
            }
        }
    }
    let mut errors = meta_errors(info, &new);
    errors.extend(
        strategy(info)
            .admit_update(info, &mut new, old)
            .expect("decodes"),
    );
    (new, errors)
}

fn render(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("\n  {e}")).collect()
}

fn matches(expected: &str, e: &FieldError) -> bool {
    match expected.strip_suffix("...") {
        Some(prefix) => e.to_string().starts_with(prefix),
        None => e.field == expected || e.to_string() == expected,
    }
}

/// Checks that the errors are exactly the expected ones.
pub fn assert_errors(errors: &[FieldError], expected: &[&str], context: &str) {
    for want in expected {
        assert!(
            errors.iter().any(|e| matches(want, e)),
            "{context}: expected error {want:?}, got:{}",
            render(errors)
        );
    }
    for e in errors {
        assert!(
            expected.iter().any(|want| matches(want, e)),
            "{context}: unexpected error {e}; expected {expected:?}"
        );
    }
}

/// Creates each valid object without errors and each invalid one with exactly its errors.
pub fn test_create(info: &ResourceInfo, valid: &[Value], invalid: &[(Value, &[&str])]) {
    for (i, obj) in valid.iter().enumerate() {
        let (_, errors) = create(info, obj.clone());
        assert!(
            errors.is_empty(),
            "{} valid[{i}]: unexpected errors:{}",
            info.kind,
            render(&errors)
        );
    }
    for (i, (obj, expected)) in invalid.iter().enumerate() {
        let (_, errors) = create(info, obj.clone());
        assert_errors(&errors, expected, &format!("{} invalid[{i}]", info.kind));
    }
}

/// Creates `old`, then updates it to each valid object without errors and to each invalid one
/// with exactly its errors.
pub fn test_update(info: &ResourceInfo, old: Value, valid: &[Value], invalid: &[(Value, &[&str])]) {
    let old = created(info, old);
    for (i, obj) in valid.iter().enumerate() {
        let (_, errors) = update(info, &old, obj.clone());
        assert!(
            errors.is_empty(),
            "{} valid update[{i}]: unexpected errors:{}",
            info.kind,
            render(&errors)
        );
    }
    for (i, (obj, expected)) in invalid.iter().enumerate() {
        let (_, errors) = update(info, &old, obj.clone());
        assert_errors(
            &errors,
            expected,
            &format!("{} invalid update[{i}]", info.kind),
        );
    }
}

/// Checks JSON pointers of an object against expected values.
pub fn assert_fields(obj: &Value, expected: &[(&str, Value)]) {
    for (pointer, want) in expected {
        assert_eq!(obj.pointer(pointer), Some(want), "{pointer} of {obj:#}");
    }
}
