//! Accessors for the `metadata` of objects held as JSON.
//!
//! The generic store handles every kind as a `serde_json::Value`; these helpers read and write
//! the few fields it needs without decoding the whole object into its Rust type.

use serde_json::{Map, Value};

/// The object's `metadata` map, if present.
pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

/// The object's `metadata` map, created if missing.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

/// A string field of `metadata`, `""` when missing.
pub fn str_field<'a>(obj: &'a Value, field: &str) -> &'a str {
    metadata(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.name`.
pub fn name(obj: &Value) -> &str {
    str_field(obj, "name")
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> &str {
    str_field(obj, "namespace")
}

/// `metadata.uid`.
pub fn uid(obj: &Value) -> &str {
    str_field(obj, "uid")
}

/// `metadata.resourceVersion`.
pub fn resource_version(obj: &Value) -> &str {
    str_field(obj, "resourceVersion")
}

/// `metadata.labels`, if any.
pub fn labels(obj: &Value) -> Option<&Value> {
    metadata(obj)?.get("labels")
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<&str> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    metadata(obj).is_some_and(|m| m.get("deletionTimestamp").is_some_and(|v| !v.is_null()))
}

/// Sets a string field of `metadata`.
pub fn set(obj: &mut Value, field: &str, value: impl Into<String>) {
    metadata_mut(obj).insert(field.to_string(), Value::String(value.into()));
}

/// Removes a field of `metadata`.
pub fn remove(obj: &mut Value, field: &str) {
    metadata_mut(obj).remove(field);
}

/// The current time in the RFC 3339 format with seconds precision that upstream uses for
/// `metav1.Time`.
pub fn now() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .expect("current time is in range")
        .to_string()
}

/// The current time with microseconds, as upstream uses for `metav1.MicroTime`.
pub fn now_micro() -> String {
    let now = jiff::Timestamp::now();
    format!("{}", now.strftime("%Y-%m-%dT%H:%M:%S.%6fZ"))
}
