//! What a request asks for, read off its method, path and query as upstream's
//! `RequestInfoFactory` does.

use std::collections::HashMap;

/// The parts of a resource request's path.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourcePath {
    /// The API group, `""` for core.
    pub group: String,
    /// The API version.
    pub version: String,
    /// The namespace of the request, if any.
    pub namespace: Option<String>,
    /// The resource (plural).
    pub resource: String,
    /// The object's name, if the path names one.
    pub name: Option<String>,
    /// The subresource, if any.
    pub subresource: Option<String>,
}

/// The verb of a resource request, as authorization and metrics name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

impl Verb {
    /// The verb's name in RBAC rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// What a request is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/api`: the core API versions.
    CoreVersions,
    /// `/apis`: the API groups.
    Groups,
    /// `/apis/<group>`: one group.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: the resources of a group version.
    GroupVersion {
        /// The group, `""` for core.
        group: String,
        /// The version.
        version: String,
    },
    /// A resource, collection or subresource.
    Resource(ResourcePath, Verb),
    /// Anything else (`/version`, `/healthz`, `/openapi/...`, `/metrics`).
    NonResource,
}

/// Reads the target of a request from its method, path and parsed query.
pub fn parse(method: &http::Method, path: &str, query: &HashMap<String, String>) -> Target {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Target::CoreVersions,
        ["apis"] => return Target::Groups,
        ["apis", group] => return Target::Group(group.to_string()),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Target::NonResource,
    };
    if rest.is_empty() {
        return Target::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        };
    }
    // The deprecated `/watch/` prefix still means watch.
    let (rest, watch_prefix) = match rest {
        ["watch", rest @ ..] if !rest.is_empty() => (rest, true),
        rest => (rest, false),
    };
    let mut path = ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        ..ResourcePath::default()
    };
    let rest = match rest {
        // `/namespaces/<name>/status` and `/finalize` are subresources of the namespace.
        ["namespaces", name, sub @ ("status" | "finalize")] => {
            path.resource = "namespaces".to_string();
            path.name = Some(name.to_string());
            path.subresource = Some(sub.to_string());
            &[][..]
        }
        ["namespaces", ns, resource, rest @ ..] => {
            path.namespace = Some(ns.to_string());
            path.resource = resource.to_string();
            rest
        }
        // `/namespaces/<name>[/<sub>]` is the namespace itself.
        ["namespaces", name, ..] if rest.len() <= 2 => {
            path.resource = "namespaces".to_string();
            path.name = Some(name.to_string());
            path.subresource = rest.get(2).map(|s| s.to_string());
            &[][..]
        }
        [resource, rest @ ..] => {
            path.resource = resource.to_string();
            rest
        }
        [] => &[][..],
    };
    match rest {
        [] => {}
        [name] => path.name = Some(name.to_string()),
        [name, sub, ..] => {
            path.name = Some(name.to_string());
            path.subresource = Some(sub.to_string());
        }
    }
    if path.resource == "namespaces" {
        path.namespace = path.name.clone();
    }
    let watch = watch_prefix || query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (method.as_str(), path.name.is_some()) {
        ("GET" | "HEAD", _) if watch => Verb::Watch,
        ("GET" | "HEAD", true) => Verb::Get,
        ("GET" | "HEAD", false) => Verb::List,
        ("POST", _) => Verb::Create,
        ("PUT", _) => Verb::Update,
        ("PATCH", _) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        _ => return Target::NonResource,
    };
    Target::Resource(path, verb)
}

/// Parses a URL query string into a map (the last value of a repeated key wins).
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decodes a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    fn target(method: Method, path: &str, query: &str) -> Target {
        parse(&method, path, &parse_query(Some(query)))
    }

    fn resource(
        group: &str,
        ns: Option<&str>,
        resource: &str,
        name: Option<&str>,
        sub: Option<&str>,
        verb: Verb,
    ) -> Target {
        Target::Resource(
            ResourcePath {
                group: group.into(),
                version: "v1".into(),
                namespace: ns.map(Into::into),
                resource: resource.into(),
                name: name.map(Into::into),
                subresource: sub.map(Into::into),
            },
            verb,
        )
    }

    #[test]
    fn paths_and_verbs() {
        use Verb::*;
        let cases = [
            (
                Method::GET,
                "/api/v1/pods",
                "",
                resource("", None, "pods", None, None, List),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/default/pods",
                "watch=true",
                resource("", Some("default"), "pods", None, None, Watch),
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/a/deployments/web/scale",
                "",
                resource(
                    "apps",
                    Some("a"),
                    "deployments",
                    Some("web"),
                    Some("scale"),
                    Patch,
                ),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/kube-system",
                "",
                resource(
                    "",
                    Some("kube-system"),
                    "namespaces",
                    Some("kube-system"),
                    None,
                    Get,
                ),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/x/finalize",
                "",
                resource(
                    "",
                    Some("x"),
                    "namespaces",
                    Some("x"),
                    Some("finalize"),
                    Update,
                ),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/d/configmaps",
                "",
                resource("", Some("d"), "configmaps", None, None, DeleteCollection),
            ),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(target(method, path, query), want, "{path}");
        }
        assert_eq!(target(Method::GET, "/apis", ""), Target::Groups);
        assert_eq!(target(Method::GET, "/version", ""), Target::NonResource);
    }

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&limit=5"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["limit"], "5");
    }
}
