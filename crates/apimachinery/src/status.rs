//! API errors and the `Status` objects they become on the wire.
//!
//! Every failure the API server reports goes through [`ApiError`]; its constructors reproduce
//! upstream's messages, reasons and codes (k8s.io/apimachinery/pkg/api/errors) so that kubectl
//! prints what users know.

use serde_json::{Value, json};

use crate::{resources::ResourceInfo, validation::FieldError};

/// A cause of an error, attached to `Invalid` and `Conflict` statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// The field the cause is about, e.g. `spec.replicas`.
    pub field: String,
}

/// An error of the API, with everything needed to render it as a `Status`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details.name`.
    pub name: Option<String>,
    /// `Status.details.group`.
    pub group: Option<String>,
    /// `Status.details.kind`.
    pub kind: Option<String>,
    /// `Status.details.causes`.
    pub causes: Vec<Cause>,
    /// `Status.details.retryAfterSeconds`.
    pub retry_after: Option<u32>,
}

/// The result type of API operations.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after: None,
        }
    }

    fn about(mut self, resource: &ResourceInfo, name: &str) -> ApiError {
        self.group = Some(resource.group.to_string());
        self.kind = Some(resource.plural.to_string());
        self.name = Some(name.to_string()).filter(|n| !n.is_empty());
        self
    }

    /// 404: `pods "web" not found`.
    pub fn not_found(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified()),
        )
        .about(resource, name)
    }

    /// 404 for a path the server does not serve.
    pub fn no_such_resource() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409: `configmaps "app" already exists`.
    pub fn already_exists(resource: &ResourceInfo, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified()),
        )
        .about(resource, name)
    }

    /// 409: an update raced with another writer or named a stale `resourceVersion`.
    pub fn conflict(resource: &ResourceInfo, name: &str, why: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.qualified()
            ),
        )
        .about(resource, name)
    }

    /// The `why` of a conflict on a stale `resourceVersion`.
    pub const MODIFIED: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// 422: validation failed; one cause per field error.
    pub fn invalid(resource: &ResourceInfo, name: &str, errors: &[FieldError]) -> ApiError {
        let listed = match errors {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut err = ApiError::new(
            422,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {listed}",
                resource.qualified_kind()
            ),
        );
        err.group = Some(resource.group.to_string());
        err.kind = Some(resource.kind.to_string());
        err.name = Some(name.to_string()).filter(|n| !n.is_empty());
        err.causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.kind.reason().to_string(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        err
    }

    /// An error a server behind this one answered with (upstream's
    /// `NewGenericServerResponse`): its code, the reason that code stands for, its message.
    pub fn from_response(code: u16, message: impl Into<String>) -> ApiError {
        let reason = match code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            409 => "Conflict",
            410 => "Gone",
            422 => "Invalid",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "",
        };
        ApiError::new(code, reason, message)
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 with upstream's message shape.
    pub fn forbidden(
        user: &str,
        verb: &str,
        resource: &str,
        group: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> ApiError {
        let what = match name {
            Some(n) => format!("{resource} \"{n}\""),
            None => resource.to_string(),
        };
        let mut message = format!(
            "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\""
        );
        match namespace {
            Some(ns) => message.push_str(&format!(" in the namespace \"{ns}\"")),
            None => message.push_str(" at the cluster scope"),
        }
        let mut err = ApiError::new(403, "Forbidden", message);
        err.group = Some(group.to_string());
        err.kind = Some(resource.to_string());
        err.name = name.map(str::to_string);
        err
    }

    /// 403 for a reason other than authorization (e.g. a terminating namespace).
    pub fn forbidden_because(
        resource: &ResourceInfo,
        name: &str,
        why: impl std::fmt::Display,
    ) -> ApiError {
        ApiError::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", resource.qualified()),
        )
        .about(resource, name)
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 410: the requested `resourceVersion` was compacted.
    pub fn gone(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// 413: the body is larger than the server accepts.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 415: a body in a media type the endpoint does not take.
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"
            ),
        )
    }

    /// 406: no representation the client accepts.
    pub fn not_acceptable(accept: &str) -> ApiError {
        ApiError::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, application/yaml (asked for {accept})"
            ),
        )
    }

    /// 500: something failed inside the server.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        )
    }

    /// 504: the operation did not finish in time.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(504, "Timeout", message)
    }

    /// 429: too many requests; retry later.
    pub fn too_many_requests(retry_after: u32) -> ApiError {
        let mut err = ApiError::new(
            429,
            "TooManyRequests",
            "too many requests, please try again later",
        );
        err.retry_after = Some(retry_after);
        err
    }

    /// 409 from server-side apply: fields owned by other managers.
    pub fn apply_conflict(causes: Vec<Cause>) -> ApiError {
        let listed: Vec<String> = causes.iter().map(|c| format!("- {}", c.message)).collect();
        let mut err = ApiError::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {}",
                causes.len(),
                if causes.len() == 1 { "" } else { "s" },
                listed.join("\n")
            ),
        );
        err.causes = causes;
        err
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        if let Some(name) = &self.name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = &self.group {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = &self.kind {
            details.insert("kind".into(), json!(kind));
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".into(),
                self.causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect(),
            );
        }
        if let Some(secs) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(secs));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// A `Status` reporting success, as returned by some deletes.
pub fn success(resource: &ResourceInfo, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": resource.group, "kind": resource.plural, "uid": uid},
    })
}
