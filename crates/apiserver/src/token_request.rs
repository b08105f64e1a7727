//! The `serviceaccounts/token` subresource: a TokenRequest (`authentication.k8s.io/v1`) for a
//! service account returns a signed token for it, optionally bound to a Pod, Secret or Node,
//! as upstream's `pkg/registry/core/serviceaccount/storage/token.go`.

use apimachinery::{
    meta,
    resources::{self, ResourceInfo},
    status::ApiError,
    validation::{FieldError, Path},
};
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    response::Body,
    rest::{Call, decode_body},
    token::{self, Claims, EXTENDED_EXPIRATION_SECONDS, Issuer, Kubernetes, Ref},
};

/// The group, version and kind of the request and response.
const GROUP: &str = "authentication.k8s.io";
const API_VERSION: &str = "authentication.k8s.io/v1";
const KIND: &str = "TokenRequest";

/// The lifetime of a token when the request names none.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// A 422 about a TokenRequest (upstream's `errors.NewInvalid` with its group and kind).
fn invalid(info: &ResourceInfo, name: &str, errors: &[FieldError]) -> ApiError {
    let mut err = ApiError::invalid(info, name, errors);
    let prefix = format!("{} \"{name}\" is invalid: ", info.qualified_kind());
    err.message = format!(
        "{KIND}.{GROUP} \"{name}\" is invalid: {}",
        err.message.strip_prefix(&prefix).unwrap_or(&err.message)
    );
    err.group = Some(GROUP.into());
    err.kind = Some(KIND.into());
    err
}

/// Upstream's `ValidateTokenRequest`.
fn validate(expiration_seconds: i64) -> Vec<FieldError> {
    let path = Path::new("spec").child("expirationSeconds");
    let mut errors = Vec::new();
    if expiration_seconds < 10 * 60 {
        errors.push(FieldError::invalid(
            &path,
            expiration_seconds,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration_seconds > 1 << 32 {
        errors.push(FieldError::invalid(
            &path,
            expiration_seconds,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    errors
}

/// What a request asks for, read off its body.
#[derive(Debug, Default, PartialEq)]
struct Spec {
    audiences: Vec<String>,
    expiration_seconds: i64,
    bound: Option<Value>,
}

fn spec_of(request: &Value) -> Result<Spec, ApiError> {
    let spec = request.get("spec").cloned().unwrap_or(json!({}));
    let cannot = |what: &str| {
        ApiError::bad_request(format!(
            "{KIND} in version \"v1\" cannot be handled as a {KIND}: {what}"
        ))
    };
    let audiences = match spec.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| a.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| cannot("spec.audiences must be a list of strings"))?,
        Some(_) => return Err(cannot("spec.audiences must be a list of strings")),
    };
    let expiration_seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| cannot("spec.expirationSeconds must be an integer"))?,
    };
    let bound = spec.get("boundObjectRef").filter(|b| !b.is_null()).cloned();
    Ok(Spec {
        audiences,
        expiration_seconds,
        bound,
    })
}

/// The object a token is bound to, as found.
#[derive(Default)]
struct Bound {
    pod: Option<Ref>,
    secret: Option<Ref>,
    node: Option<Ref>,
}

/// Looks up the bound object of the request; upstream's errors when it is missing, of another
/// kind, of another service account or of another uid.
async fn bound_object(
    call: &Call<'_>,
    namespace: &str,
    account: &str,
    reference: &Value,
) -> Result<Bound, ApiError> {
    let field = |name: &str| reference.get(name).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind, name, uid) = (
        field("apiVersion"),
        field("kind"),
        field("name"),
        field("uid"),
    );
    let (group, version) = resources::split_api_version(api_version);
    let store = &call.server.store;
    let find = |plural| resources::find("", "v1", plural).expect("core kinds are served");
    let mut bound = Bound::default();
    let found_uid = match (group, kind) {
        ("", "Pod") => {
            let pod = store.get(find("pods"), Some(namespace), name).await?;
            let pod_account = pod
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if pod_account != account {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount \"{account}\" to pod running with different serviceaccount name."
                )));
            }
            let node_name = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !node_name.is_empty()
                && let Some(node) = store.cache().resource(find("nodes")).get(None, node_name)
            {
                bound.node = Some(Ref {
                    name: node_name.to_string(),
                    uid: meta::uid(&node.object()).to_string(),
                });
            }
            bound.pod = Some(Ref {
                name: name.to_string(),
                uid: meta::uid(&pod).to_string(),
            });
            meta::uid(&pod).to_string()
        }
        ("", "Secret") => {
            let secret = store.get(find("secrets"), Some(namespace), name).await?;
            bound.secret = Some(Ref {
                name: name.to_string(),
                uid: meta::uid(&secret).to_string(),
            });
            meta::uid(&secret).to_string()
        }
        ("", "Node") => {
            let node = store.get(find("nodes"), None, name).await?;
            bound.node = Some(Ref {
                name: name.to_string(),
                uid: meta::uid(&node).to_string(),
            });
            meta::uid(&node).to_string()
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    if !uid.is_empty() && uid != found_uid {
        let mut err = ApiError::from_response(
            409,
            format!(
                "Operation cannot be fulfilled on {kind} \"{name}\": the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        );
        err.group = Some(group.to_string());
        err.kind = Some(kind.to_string());
        err.name = Some(name.to_string());
        return Err(err);
    }
    Ok(bound)
}

/// The claims of a token for `account` issued at `now`, as upstream's `token.Claims`.
#[allow(clippy::too_many_arguments)]
fn claims(
    issuer: &Issuer,
    namespace: &str,
    account: &str,
    account_uid: &str,
    bound: Bound,
    audiences: Vec<String>,
    now: i64,
    expiration_seconds: i64,
    warn_after: Option<i64>,
) -> Claims {
    Claims {
        aud: audiences,
        exp: now + expiration_seconds,
        iat: now,
        iss: issuer.issuer.clone(),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        kubernetes: Kubernetes {
            namespace: namespace.to_string(),
            node: bound.node,
            pod: bound.pod,
            secret: bound.secret,
            serviceaccount: Ref {
                name: account.to_string(),
                uid: account_uid.to_string(),
            },
            warnafter: warn_after.map(|w| now + w),
        },
        nbf: now,
        sub: token::username(namespace, account),
    }
}

/// POST `serviceaccounts/<name>/token`.
pub async fn create(call: &Call<'_>, body: Bytes) -> Result<Response<Body>, ApiError> {
    let info = call.info;
    let name = call.path.name.as_deref().unwrap_or("");
    let namespace = call.path.namespace.as_deref().unwrap_or("");
    let request = decode_body(call.headers, &body)?;
    if !request.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request does not contain a {KIND} object"
        )));
    }
    for (field, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        let got = request.get(field).and_then(Value::as_str).unwrap_or("");
        if !got.is_empty() && got != want {
            return Err(ApiError::bad_request(format!(
                "the {field} in the data ({got}) does not match the expected {field} ({want})"
            )));
        }
    }
    let body_name = meta::name(&request);
    if !body_name.is_empty() && body_name != name {
        let path = Path::new("metadata").child("name");
        return Err(invalid(
            info,
            name,
            &[FieldError::invalid(
                &path,
                body_name,
                "must match the service account name if specified",
            )],
        ));
    }
    let body_namespace = meta::namespace(&request);
    if !body_namespace.is_empty() && body_namespace != namespace {
        let path = Path::new("metadata").child("namespace");
        return Err(invalid(
            info,
            name,
            &[FieldError::invalid(
                &path,
                body_namespace,
                "must match the service account namespace if specified",
            )],
        ));
    }
    let account = call.server.store.get(info, Some(namespace), name).await?;
    let issuer = &call.server.tokens;
    let mut spec = spec_of(&request)?;
    if spec.audiences.is_empty() {
        spec.audiences = issuer.audiences.clone();
    }
    let now = jiff::Timestamp::now().as_second();
    let errors = validate(spec.expiration_seconds);
    if !errors.is_empty() {
        return Err(invalid(info, "", &errors));
    }
    let bound = match &spec.bound {
        Some(reference) => bound_object(call, namespace, name, reference).await?,
        None => Bound::default(),
    };
    // A pod-bound token of the admission's default lifetime lives a year but warns after
    // that lifetime, so that old clients that never reread their token keep working.
    let (lifetime, warn_after) = if bound.pod.is_some()
        && spec.expiration_seconds == token::WARN_ONLY_EXPIRATION_SECONDS
        && issuer.all_accepted(&spec.audiences)
    {
        (EXTENDED_EXPIRATION_SECONDS, Some(spec.expiration_seconds))
    } else {
        (spec.expiration_seconds, None)
    };
    let claims = claims(
        issuer,
        namespace,
        name,
        meta::uid(&account),
        bound,
        spec.audiences.clone(),
        now,
        lifetime,
        warn_after,
    );
    let signed = issuer.key.sign(&claims).map_err(ApiError::internal)?;
    let time = |seconds: i64| {
        jiff::Timestamp::from_second(seconds)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let mut response_spec = json!({
        "audiences": spec.audiences,
        "expirationSeconds": spec.expiration_seconds,
    });
    if let Some(reference) = spec.bound {
        response_spec["boundObjectRef"] = reference;
    }
    let response = json!({
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": time(now),
        },
        "spec": response_spec,
        "status": {
            "token": signed,
            "expirationTimestamp": time(now + spec.expiration_seconds),
        },
    });
    Ok(call.respond(StatusCode::CREATED, &response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_defaults_and_bounds() {
        let spec = spec_of(&json!({})).unwrap();
        assert_eq!(spec.expiration_seconds, 3600);
        assert!(spec.audiences.is_empty());
        assert!(validate(600).is_empty());
        assert_eq!(
            validate(599)[0].to_string(),
            "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        assert_eq!(
            validate((1 << 32) + 1)[0].to_string(),
            "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"
        );
        assert!(spec_of(&json!({"spec": {"audiences": "x"}})).is_err());
        let spec = spec_of(
            &json!({"spec": {"audiences": ["a"], "expirationSeconds": 700,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}}),
        )
        .unwrap();
        assert_eq!(spec.audiences, ["a"]);
        assert_eq!(spec.expiration_seconds, 700);
        assert!(spec.bound.is_some());
    }

    #[test]
    fn invalid_requests_read_as_upstream() {
        let sa = resources::find("", "v1", "serviceaccounts").unwrap();
        let err = invalid(sa, "", &validate(60));
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
        );
        assert_eq!(err.kind.as_deref(), Some("TokenRequest"));
    }

    #[test]
    fn bound_claims_name_the_pod_and_its_node() {
        let key = token::Key::from_pkcs8(&token::Key::generate_pkcs8().unwrap()).unwrap();
        let issuer = Issuer::new(key);
        let bound = Bound {
            pod: Some(Ref {
                name: "web".into(),
                uid: "p1".into(),
            }),
            node: Some(Ref {
                name: "n".into(),
                uid: "n1".into(),
            }),
            secret: None,
        };
        let c = claims(
            &issuer,
            "ns",
            "default",
            "sa1",
            bound,
            vec![token::ISSUER.into()],
            100,
            EXTENDED_EXPIRATION_SECONDS,
            Some(3607),
        );
        assert_eq!(c.sub, "system:serviceaccount:ns:default");
        assert_eq!(c.exp, 100 + EXTENDED_EXPIRATION_SECONDS);
        assert_eq!(c.kubernetes.warnafter, Some(3707));
        assert_eq!(c.kubernetes.pod.as_ref().unwrap().uid, "p1");
        assert_eq!(c.kubernetes.serviceaccount.uid, "sa1");
        assert_eq!((c.iat, c.nbf), (100, 100));
    }
}
