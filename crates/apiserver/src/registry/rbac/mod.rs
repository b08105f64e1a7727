//! Strategies of the `rbac.authorization.k8s.io` group: names are path segments, rules need
//! verbs and either resources or non-resource URLs, bindings reference a role and subjects of
//! known kinds, and a binding's `roleRef` can never change (upstream
//! `pkg/apis/rbac/validation`).

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use crate::registry::{
    NameRule, Strategy,
    common::{self, default_str, str_of},
};

/// The API group of roles and bindings.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// The strategy of `roles`.
pub struct RoleStrategy;
/// The strategy of `clusterroles`.
pub struct ClusterRoleStrategy;
/// The strategy of `rolebindings`.
pub struct RoleBindingStrategy;
/// The strategy of `clusterrolebindings`.
pub struct ClusterRoleBindingStrategy;

fn validate_rule(rule: &PolicyRule, namespaced: bool, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if rule.verbs.is_empty() {
        errors.push(FieldError::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
    let empty = |l: &Option<Vec<String>>| l.as_ref().is_none_or(Vec::is_empty);
    if !urls.is_empty() {
        let rendered = common::go_string_slice(Some(urls));
        if namespaced {
            errors.push(common::invalid_raw(
                &path.child("nonResourceURLs"),
                &rendered,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !empty(&rule.api_groups) || !empty(&rule.resources) || !empty(&rule.resource_names) {
            errors.push(common::invalid_raw(
                &path.child("nonResourceURLs"),
                &rendered,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errors;
    }
    if empty(&rule.api_groups) {
        errors.push(FieldError::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if empty(&rule.resources) {
        errors.push(FieldError::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errors
}

fn validate_rules(rules: &Option<Vec<PolicyRule>>, namespaced: bool) -> ErrorList {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().flatten().enumerate() {
        errors.extend(validate_rule(
            rule,
            namespaced,
            &Path::new("rules").index(i),
        ));
    }
    errors
}

fn validate_subject(s: &Subject, namespaced: bool, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if s.name.is_empty() {
        errors.push(FieldError::required(&path.child("name"), ""));
    }
    let group = str_of(&s.api_group);
    match s.kind.as_str() {
        "ServiceAccount" => {
            if !s.name.is_empty() {
                errors.extend(common::dns_subdomain(&s.name, &path.child("name")));
            }
            if !group.is_empty() {
                errors.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    group,
                    &[""],
                ));
            }
            if !namespaced && common::is_empty(&s.namespace) {
                errors.push(FieldError::required(&path.child("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != GROUP {
                errors.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    group,
                    &[GROUP],
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            &path.child("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errors
}

fn validate_binding(
    role_ref: &RoleRef,
    subjects: &Option<Vec<Subject>>,
    namespaced: bool,
) -> ErrorList {
    let mut errors = Vec::new();
    let rp = Path::new("roleRef");
    if role_ref.api_group != GROUP {
        errors.push(FieldError::not_supported(
            &rp.child("apiGroup"),
            role_ref.api_group.as_str(),
            &[GROUP],
        ));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&role_ref.kind.as_str()) {
        errors.push(FieldError::not_supported(
            &rp.child("kind"),
            role_ref.kind.as_str(),
            kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errors.push(FieldError::required(&rp.child("name"), ""));
    } else {
        errors.extend(common::each_invalid(
            &rp.child("name"),
            &role_ref.name,
            v::is_valid_path_segment_name(&role_ref.name),
        ));
    }
    for (i, s) in subjects.iter().flatten().enumerate() {
        errors.extend(validate_subject(
            s,
            namespaced,
            &Path::new("subjects").index(i),
        ));
    }
    errors
}

fn default_binding(role_ref: &mut RoleRef, subjects: &mut Option<Vec<Subject>>) {
    if role_ref.api_group.is_empty() {
        role_ref.api_group = GROUP.to_string();
    }
    for s in subjects.iter_mut().flatten() {
        if s.kind == "User" || s.kind == "Group" {
            default_str(&mut s.api_group, GROUP);
        }
    }
}

fn role_ref_unchanged(new: &RoleRef, old: &RoleRef) -> ErrorList {
    if new == old {
        return Vec::new();
    }
    vec![common::invalid_raw(
        &Path::new("roleRef"),
        &format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            v::quote(&new.api_group),
            v::quote(&new.kind),
            v::quote(&new.name)
        ),
        "cannot change roleRef",
    )]
}

impl Strategy for RoleStrategy {
    type Object = Role;
    const NAMES: NameRule = NameRule::PathSegment;

    fn validate(&self, role: &Role) -> ErrorList {
        validate_rules(&role.rules, true)
    }
}

impl Strategy for ClusterRoleStrategy {
    type Object = ClusterRole;
    const NAMES: NameRule = NameRule::PathSegment;

    fn validate(&self, role: &ClusterRole) -> ErrorList {
        let mut errors = validate_rules(&role.rules, false);
        if let Some(rule) = &role.aggregation_rule {
            let p = Path::new("aggregationRule").child("clusterRoleSelectors");
            let selectors = rule.cluster_role_selectors.as_deref().unwrap_or_default();
            if selectors.is_empty() {
                errors.push(FieldError::required(
                    &p,
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                ));
            }
            for (i, s) in selectors.iter().enumerate() {
                errors.extend(v::validate_label_selector(s, &p.index(i)));
            }
        }
        errors
    }
}

impl Strategy for RoleBindingStrategy {
    type Object = RoleBinding;
    const NAMES: NameRule = NameRule::PathSegment;

    fn default(&self, b: &mut RoleBinding) {
        default_binding(&mut b.role_ref, &mut b.subjects);
    }

    fn validate(&self, b: &RoleBinding) -> ErrorList {
        validate_binding(&b.role_ref, &b.subjects, true)
    }

    fn validate_update(&self, new: &RoleBinding, old: &RoleBinding) -> ErrorList {
        let mut errors = self.validate(new);
        errors.extend(role_ref_unchanged(&new.role_ref, &old.role_ref));
        errors
    }
}

impl Strategy for ClusterRoleBindingStrategy {
    type Object = ClusterRoleBinding;
    const NAMES: NameRule = NameRule::PathSegment;

    fn default(&self, b: &mut ClusterRoleBinding) {
        default_binding(&mut b.role_ref, &mut b.subjects);
    }

    fn validate(&self, b: &ClusterRoleBinding) -> ErrorList {
        validate_binding(&b.role_ref, &b.subjects, false)
    }

    fn validate_update(&self, new: &ClusterRoleBinding, old: &ClusterRoleBinding) -> ErrorList {
        let mut errors = self.validate(new);
        errors.extend(role_ref_unchanged(&new.role_ref, &old.role_ref));
        errors
    }
}
