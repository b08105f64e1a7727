//! RFC 7386 JSON merge patch (`application/merge-patch+json`).
//!
//! Objects merge recursively, `null` deletes, everything else (lists included) replaces. As in
//! upstream (evanphx/json-patch `MergePatch`), a patch that is `null` or a scalar is a 400
//! (`Invalid JSON Patch`), and a patch that is an array replaces the whole document (which then
//! fails to decode as an object, the caller's 422).

use serde_json::Value;

use super::Error;

/// Upstream's message for merge patches that are not JSON objects.
const BAD_PATCH: &str = "Invalid JSON Patch";

/// Applies a merge patch given as the raw request body.
pub fn apply_bytes(original: &Value, body: &[u8]) -> Result<Value, Error> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|_| Error::BadRequest(BAD_PATCH.to_string()))?;
    apply(original, &patch)
}

/// Applies a merge patch to `original`.
pub fn apply(original: &Value, patch: &Value) -> Result<Value, Error> {
    match patch {
        Value::Object(_) => {
            let mut doc = original.clone();
            if !doc.is_object() {
                doc = Value::Object(serde_json::Map::new());
            }
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        Value::Array(items) => Ok(Value::Array(items.iter().map(prune_nulls).collect())),
        _ => Err(Error::BadRequest(BAD_PATCH.to_string())),
    }
}

/// Drops `null` members of objects, recursively (upstream's `pruneNulls`).
fn prune_nulls(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), prune_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(prune_nulls).collect()),
        other => other.clone(),
    }
}
