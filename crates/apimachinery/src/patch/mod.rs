//! Patch engines: JSON patch, JSON merge patch, strategic merge patch and server-side apply.
//!
//! Each engine is a pure function from the current object (as JSON) and the patch to the patched
//! object. The engines know nothing of storage; decoding the result into the kind's type,
//! defaulting and validation are the caller's business, as are the fields a patch may not change.
//!
//! - [`json`]: RFC 6902 JSON patch (`application/json-patch+json`).
//! - [`merge`]: RFC 7386 JSON merge patch (`application/merge-patch+json`).
//! - [`strategic`]: strategic merge patch (`application/strategic-merge-patch+json`), what
//!   `kubectl apply` (client-side), `kubectl patch`, `kubectl edit`, `kubectl scale` and friends
//!   send; it follows the schema's patch strategies and merge keys ([`crate::schema`]).
//! - [`mod@apply`]: server-side apply (`application/apply-patch+yaml`) and the bookkeeping of
//!   `metadata.managedFields` for every write.
//!
//! [`Error`] says what went wrong in terms the API server maps to HTTP statuses
//! ([`Error::code`], [`Error::to_api_error`]).

use serde_json::Value;

use crate::status::{ApiError, Cause};

pub mod apply;
pub mod json;
pub mod merge;
pub mod strategic;

#[cfg(test)]
mod tests;

pub use apply::{
    ApplyOptions, Conflict, UpdateOptions, apply, apply_with, update_managed_fields,
    update_managed_fields_with,
};
pub use strategic::strategic_merge;

/// The kinds of patch a PATCH request can carry, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

/// The patch content types built-in resources accept, in upstream's order (the order the 415
/// error lists them in).
pub const SUPPORTED_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

impl PatchType {
    /// The patch type of a `Content-Type` header (parameters such as `; charset=utf-8` are
    /// ignored). Anything else, `application/apply-patch+cbor` included, is
    /// [`Error::UnsupportedMediaType`].
    pub fn from_content_type(content_type: &str) -> Result<PatchType, Error> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        match base.to_ascii_lowercase().as_str() {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            _ => Err(Error::UnsupportedMediaType(content_type.to_string())),
        }
    }

    /// The content type of this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => SUPPORTED_CONTENT_TYPES[0],
            PatchType::Merge => SUPPORTED_CONTENT_TYPES[1],
            PatchType::Strategic => SUPPORTED_CONTENT_TYPES[2],
            PatchType::Apply => SUPPORTED_CONTENT_TYPES[3],
        }
    }
}

/// Why a patch could not be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// 415 UnsupportedMediaType: the `Content-Type` is not a patch type we take.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {}",
        SUPPORTED_CONTENT_TYPES.join(", ")
    )]
    UnsupportedMediaType(String),
    /// 400 BadRequest: the patch document is malformed (not JSON, not the right shape, a bad
    /// strategic-merge directive, YAML that does not decode, an apply configuration of the wrong
    /// `apiVersion` or carrying `managedFields`).
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid: a well-formed JSON patch could not be applied to the object (a failed `test`,
    /// a path that does not exist, an unknown `op`), or a strategic merge patch that upstream
    /// rejects as unprocessable (lists of lists). Upstream answers with the generic message
    /// `the server rejected our request due to an error in our request`; the detail is kept
    /// here for logs.
    #[error("{0}")]
    Unprocessable(String),
    /// 413 RequestEntityTooLarge: a JSON patch with more than 10000 operations.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations {
        /// The limit.
        max: usize,
        /// The operations in the patch.
        got: usize,
    },
    /// 409 Conflict from server-side apply: fields the applied configuration changes are owned
    /// by other managers, and `force` was not set.
    #[error("{}", conflict_message(.0))]
    Conflict(Vec<Conflict>),
    /// 500 with reason `""` (upstream passes a plain Go error through): e.g. an apply
    /// configuration with fields the schema does not declare
    /// (`failed to create typed patch object (…): .spec.foo: field not declared in schema`).
    #[error("{0}")]
    Internal(String),
}

/// The generic message of upstream's 422 for JSON patches that do not apply.
pub const UNPROCESSABLE_MESSAGE: &str =
    "the server rejected our request due to an error in our request";

impl Error {
    /// The HTTP status code upstream answers with.
    pub fn code(&self) -> u16 {
        match self {
            Error::UnsupportedMediaType(_) => 415,
            Error::BadRequest(_) => 400,
            Error::Unprocessable(_) => 422,
            Error::TooManyOperations { .. } => 413,
            Error::Conflict(_) => 409,
            Error::Internal(_) => 500,
        }
    }

    /// The `Status` reason upstream answers with.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Error::BadRequest(_) => "BadRequest",
            Error::Unprocessable(_) => "Invalid",
            Error::TooManyOperations { .. } => "RequestEntityTooLarge",
            Error::Conflict(_) => "Conflict",
            Error::Internal(_) => "",
        }
    }

    /// The API error to send, with upstream's message, reason, code and causes.
    pub fn to_api_error(&self) -> ApiError {
        let message = match self {
            Error::Unprocessable(_) => UNPROCESSABLE_MESSAGE.to_string(),
            Error::TooManyOperations { .. } => format!("Request entity too large: {self}"),
            other => other.to_string(),
        };
        let causes = match self {
            Error::Conflict(conflicts) => conflicts
                .iter()
                .map(|c| Cause {
                    reason: "FieldManagerConflict".to_string(),
                    message: format!("conflict with {}", c.manager_description()),
                    field: c.path.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        ApiError {
            code: self.code(),
            reason: self.reason(),
            message,
            name: None,
            group: None,
            kind: None,
            causes,
            retry_after: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        e.to_api_error()
    }
}

/// Upstream's message for apply conflicts (`getConflictMessage`).
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager_description(),
            one.path
        );
    }
    let mut managers: Vec<String> = conflicts
        .iter()
        .map(Conflict::manager_description)
        .collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in &managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| &c.manager_description() == m) {
            lines.push(format!("- {}", c.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Applies a JSON, merge or strategic merge patch given as the raw request body to `original`.
/// Server-side apply needs more context: use [`apply()`].
pub fn patch(
    patch_type: PatchType,
    original: &Value,
    body: &[u8],
    definition: &str,
) -> Result<Value, Error> {
    match patch_type {
        PatchType::Json => json::apply_bytes(original, body),
        PatchType::Merge => merge::apply_bytes(original, body),
        PatchType::Strategic => {
            let patch: Value =
                serde_json::from_slice(body).map_err(|e| Error::BadRequest(e.to_string()))?;
            if !patch.is_object() {
                return Err(Error::BadRequest(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_type(&patch)
                )));
            }
            strategic_merge(original, &patch, definition)
        }
        PatchType::Apply => Err(Error::BadRequest(
            "server-side apply needs a field manager: use patch::apply".to_string(),
        )),
    }
}

/// The Go name of a JSON value's type, as upstream's decoding errors print it.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
