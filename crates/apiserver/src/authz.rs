//! Authorization: RBAC over the Roles, ClusterRoles and their bindings in the watch cache,
//! with `system:masters` allowed everything, as upstream.

use apimachinery::{resources, status::ApiError};
use http::Method;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject,
};

use crate::{
    Server,
    authn::User,
    request::{ResourcePath, Verb},
};

fn subject_matches(subject: &Subject, user: &User, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().unwrap_or(binding_namespace);
            user.name == format!("system:serviceaccount:{ns}:{}", subject.name)
        }
        _ => false,
    }
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|x| x == "*" || x == item)
}

fn resource_rule_allows(rule: &PolicyRule, verb: &str, path: &ResourcePath) -> bool {
    if !has(&rule.verbs, verb) {
        return false;
    }
    if !rule
        .api_groups
        .as_deref()
        .is_some_and(|g| has(g, &path.group))
    {
        return false;
    }
    let resource = match &path.subresource {
        Some(sub) => format!("{}/{sub}", path.resource),
        None => path.resource.clone(),
    };
    let resources = rule.resources.as_deref().unwrap_or_default();
    let resource_ok = resources.iter().any(|r| {
        r == "*"
            || *r == resource
            || path
                .subresource
                .as_ref()
                .is_some_and(|sub| r == &format!("*/{sub}"))
    });
    if !resource_ok {
        return false;
    }
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => path.name.as_ref().is_some_and(|n| names.contains(n)),
    }
}

fn url_rule_allows(rule: &PolicyRule, verb: &str, url: &str) -> bool {
    has(&rule.verbs, verb)
        && rule.non_resource_urls.as_deref().is_some_and(|urls| {
            urls.iter().any(|u| match u.strip_suffix('*') {
                Some(prefix) => url.starts_with(prefix),
                None => u == url,
            })
        })
}

/// The rules that apply to `user` in `namespace` (cluster-wide bindings always apply).
fn rules_for(server: &Server, user: &User, namespace: Option<&str>) -> Vec<PolicyRule> {
    let cache = server.store.cache();
    let find =
        |group: &str, plural: &str| resources::find(group, "v1", plural).expect("rbac is served");
    let cluster_roles = cache.resource(find("rbac.authorization.k8s.io", "clusterroles"));
    let roles = cache.resource(find("rbac.authorization.k8s.io", "roles"));
    let role_rules = |kind: &str, name: &str, ns: &str| -> Vec<PolicyRule> {
        match kind {
            "ClusterRole" => cluster_roles
                .get(None, name)
                .and_then(|e| serde_json::from_value::<ClusterRole>(e.object()).ok())
                .and_then(|r| r.rules)
                .unwrap_or_default(),
            "Role" => roles
                .get(Some(ns), name)
                .and_then(|e| serde_json::from_value::<Role>(e.object()).ok())
                .and_then(|r| r.rules)
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    };
    let mut rules = Vec::new();
    let crbs = cache
        .resource(find("rbac.authorization.k8s.io", "clusterrolebindings"))
        .snapshot(None, 0);
    for entry in crbs.objects {
        let Ok(binding) = serde_json::from_value::<ClusterRoleBinding>(entry.object()) else {
            continue;
        };
        if binding
            .subjects
            .iter()
            .flatten()
            .any(|s| subject_matches(s, user, ""))
        {
            rules.extend(role_rules(
                &binding.role_ref.kind,
                &binding.role_ref.name,
                "",
            ));
        }
    }
    if let Some(ns) = namespace {
        let rbs = cache
            .resource(find("rbac.authorization.k8s.io", "rolebindings"))
            .snapshot(Some(ns), 0);
        for entry in rbs.objects {
            let Ok(binding) = serde_json::from_value::<RoleBinding>(entry.object()) else {
                continue;
            };
            if binding
                .subjects
                .iter()
                .flatten()
                .any(|s| subject_matches(s, user, ns))
            {
                rules.extend(role_rules(
                    &binding.role_ref.kind,
                    &binding.role_ref.name,
                    ns,
                ));
            }
        }
    }
    rules
}

/// Whether `user` may do `verb` on the resource of `path`.
pub fn allowed(server: &Server, user: &User, verb: &str, path: &ResourcePath) -> bool {
    if user.in_group("system:masters") {
        return true;
    }
    let namespace = path.namespace.as_deref();
    rules_for(server, user, namespace)
        .iter()
        .any(|r| resource_rule_allows(r, verb, path))
}

/// Authorizes a resource request; 403 with upstream's message when denied.
pub fn authorize(
    server: &Server,
    user: &User,
    verb: Verb,
    path: &ResourcePath,
) -> Result<(), ApiError> {
    if allowed(server, user, verb.as_str(), path) {
        return Ok(());
    }
    let namespace = if path.resource == "namespaces" {
        None
    } else {
        path.namespace.as_deref()
    };
    Err(ApiError::forbidden(
        &user.name,
        verb.as_str(),
        &path.resource,
        &path.group,
        namespace,
        path.name.as_deref(),
    ))
}

/// Authorizes a request for a non-resource URL (discovery, OpenAPI, metrics).
pub fn authorize_path(
    server: &Server,
    user: &User,
    method: &Method,
    url: &str,
) -> Result<(), ApiError> {
    if user.in_group("system:masters") {
        return Ok(());
    }
    let verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    };
    if rules_for(server, user, None)
        .iter()
        .any(|r| url_rule_allows(r, verb, url))
    {
        return Ok(());
    }
    let mut err = ApiError::forbidden(&user.name, verb, "", "", None, None);
    err.message = format!(
        "forbidden: User \"{}\" cannot {verb} path \"{url}\"",
        user.name
    );
    err.kind = None;
    err.group = None;
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            ..PolicyRule::default()
        }
    }

    fn path(group: &str, resource: &str, sub: Option<&str>) -> ResourcePath {
        ResourcePath {
            group: group.into(),
            version: "v1".into(),
            namespace: Some("default".into()),
            resource: resource.into(),
            name: Some("x".into()),
            subresource: sub.map(Into::into),
        }
    }

    #[test]
    fn resource_rules() {
        let r = rule(&["get", "list"], &[""], &["pods"]);
        assert!(resource_rule_allows(&r, "get", &path("", "pods", None)));
        assert!(!resource_rule_allows(&r, "delete", &path("", "pods", None)));
        assert!(!resource_rule_allows(
            &r,
            "get",
            &path("", "pods", Some("log"))
        ));
        assert!(!resource_rule_allows(
            &r,
            "get",
            &path("apps", "pods", None)
        ));
        let any = rule(&["*"], &["*"], &["*"]);
        assert!(resource_rule_allows(
            &any,
            "patch",
            &path("apps", "deployments", Some("scale"))
        ));
        let status = rule(&["update"], &["apps"], &["*/status"]);
        assert!(resource_rule_allows(
            &status,
            "update",
            &path("apps", "deployments", Some("status"))
        ));
        let mut named = rule(&["get"], &[""], &["configmaps"]);
        named.resource_names = Some(vec!["y".into()]);
        assert!(!resource_rule_allows(
            &named,
            "get",
            &path("", "configmaps", None)
        ));
    }

    #[test]
    fn url_rules() {
        let r = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/apis/*".into(), "/version".into()]),
            ..PolicyRule::default()
        };
        assert!(url_rule_allows(&r, "get", "/apis/apps/v1"));
        assert!(url_rule_allows(&r, "get", "/version"));
        assert!(!url_rule_allows(&r, "get", "/metrics"));
    }
}
