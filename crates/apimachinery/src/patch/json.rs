//! RFC 6902 JSON patch (`application/json-patch+json`), on top of the `json-patch` crate.
//!
//! Error mapping follows upstream (k8s.io/apiserver/pkg/endpoints/handlers/patch.go): a body
//! that is not a JSON array of operations is a 400; more than 10000 operations is a 413; an
//! operation that cannot be applied (failed `test`, missing path, unknown `op`, missing `value`)
//! is a 422 with the generic `Invalid` message.

use json_patch::PatchOperation;
use serde_json::Value;

use super::{Error, json_type};

/// Upstream's limit on the operations of one JSON patch.
pub const MAX_OPERATIONS: usize = 10_000;

/// Applies a JSON patch given as the raw request body.
pub fn apply_bytes(original: &Value, body: &[u8]) -> Result<Value, Error> {
    let patch: Value =
        serde_json::from_slice(body).map_err(|e| Error::BadRequest(e.to_string()))?;
    apply(original, &patch)
}

/// Applies a JSON patch (a JSON array of operations) to `original`.
pub fn apply(original: &Value, patch: &Value) -> Result<Value, Error> {
    let Value::Array(ops) = patch else {
        return Err(Error::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_type(patch)
        )));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(Error::TooManyOperations {
            max: MAX_OPERATIONS,
            got: ops.len(),
        });
    }
    let mut parsed = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        if !op.is_object() {
            return Err(Error::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                json_type(op)
            )));
        }
        let op: PatchOperation = serde_json::from_value(op.clone())
            .map_err(|e| Error::Unprocessable(format!("operation {i}: {e}")))?;
        parsed.push(op);
    }
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &parsed).map_err(|e| Error::Unprocessable(e.to_string()))?;
    Ok(doc)
}
