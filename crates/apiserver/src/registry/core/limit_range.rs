//! LimitRanges: container limits default from `max`, default requests from `default` and
//! `min`; types and resource names are validated and min ≤ default request ≤ default ≤ max
//! (upstream `SetDefaults_LimitRangeItem`, `ValidateLimitRange`).

use std::collections::{BTreeMap, BTreeSet};

use apimachinery::validation::{self as v, ErrorList, FieldError, Path, Quantity};
use k8s_openapi::api::core::v1::LimitRange;

use super::pod_spec::{overcommit_allowed, validate_resource_name};
use crate::registry::{
    Strategy,
    common::{self, canonicalize_resources},
};

/// The strategy of `limitranges`.
pub struct LimitRangeStrategy;

type Resources = Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>;

fn validate_resource(limit_type: &str, name: &str, path: &Path) -> ErrorList {
    let mut errors = validate_resource_name(name, path);
    if (limit_type == "Pod" || limit_type == "Container")
        && !name.contains('/')
        && !["cpu", "memory", "ephemeral-storage"].contains(&name)
        && !name.starts_with("hugepages-")
    {
        errors.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource for containers",
        ));
    }
    errors
}

fn parse_all(
    limit_type: &str,
    list: &Resources,
    path: &Path,
    keys: &mut BTreeSet<String>,
    errors: &mut ErrorList,
) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    for (name, q) in list.iter().flatten() {
        let p = path.key(name);
        errors.extend(validate_resource(limit_type, name, &p));
        keys.insert(name.clone());
        match common::parse_quantity(q) {
            Ok(parsed) => {
                out.insert(name.clone(), parsed);
            }
            Err(e) => errors.push(FieldError::invalid(&p, q.0.as_str(), e.to_string())),
        }
    }
    out
}

impl Strategy for LimitRangeStrategy {
    type Object = LimitRange;

    fn default(&self, lr: &mut LimitRange) {
        for item in lr.spec.iter_mut().flat_map(|s| s.limits.iter_mut()) {
            for list in [
                &mut item.max,
                &mut item.min,
                &mut item.default,
                &mut item.default_request,
                &mut item.max_limit_request_ratio,
            ] {
                canonicalize_resources(list);
            }
            if item.type_ != "Container" {
                continue;
            }
            let default = item.default.get_or_insert_with(BTreeMap::new);
            for (k, q) in item.max.iter().flatten() {
                default.entry(k.clone()).or_insert_with(|| q.clone());
            }
            let default = default.clone();
            let request = item.default_request.get_or_insert_with(BTreeMap::new);
            for (k, q) in &default {
                request.entry(k.clone()).or_insert_with(|| q.clone());
            }
            for (k, q) in item.min.iter().flatten() {
                request.entry(k.clone()).or_insert_with(|| q.clone());
            }
        }
    }

    fn validate(&self, lr: &LimitRange) -> ErrorList {
        let mut errors = Vec::new();
        let path = Path::new("spec").child("limits");
        let mut types = BTreeSet::new();
        for (i, item) in lr.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
            let idx = path.index(i);
            let t = item.type_.as_str();
            let type_errors = common::qualified_name(t, &idx.child("type"));
            if type_errors.is_empty()
                && !t.contains('/')
                && !["Pod", "Container", "PersistentVolumeClaim"].contains(&t)
            {
                errors.push(FieldError::invalid(
                    &idx.child("type"),
                    t,
                    "must be a standard limit type or fully qualified",
                ));
            }
            errors.extend(type_errors);
            if !types.insert(t.to_string()) {
                errors.push(FieldError::duplicate(&idx.child("type"), t));
            }
            let mut keys = BTreeSet::new();
            let max = parse_all(t, &item.max, &idx.child("max"), &mut keys, &mut errors);
            let min = parse_all(t, &item.min, &idx.child("min"), &mut keys, &mut errors);
            let (mut default, mut request) = (BTreeMap::new(), BTreeMap::new());
            if t == "Pod" {
                if item.default.as_ref().is_some_and(|d| !d.is_empty()) {
                    errors.push(FieldError::forbidden(
                        &idx.child("default"),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
                if item.default_request.as_ref().is_some_and(|d| !d.is_empty()) {
                    errors.push(FieldError::forbidden(
                        &idx.child("defaultRequest"),
                        "may not be specified when `type` is 'Pod'",
                    ));
                }
            } else {
                default = parse_all(
                    t,
                    &item.default,
                    &idx.child("default"),
                    &mut keys,
                    &mut errors,
                );
                request = parse_all(
                    t,
                    &item.default_request,
                    &idx.child("defaultRequest"),
                    &mut keys,
                    &mut errors,
                );
            }
            if t == "PersistentVolumeClaim"
                && !min.contains_key("storage")
                && !max.contains_key("storage")
            {
                errors.push(FieldError::required(
                    &idx.child("limits"),
                    "either minimum or maximum storage value is required, but neither was provided",
                ));
            }
            let ratio = parse_all(
                t,
                &item.max_limit_request_ratio,
                &idx.child("maxLimitRequestRatio"),
                &mut keys,
                &mut errors,
            );
            for k in &keys {
                let (mn, mx, d, dr, r) = (
                    min.get(k),
                    max.get(k),
                    default.get(k),
                    request.get(k),
                    ratio.get(k),
                );
                if let (Some(mn), Some(mx)) = (mn, mx)
                    && mn > mx
                {
                    errors.push(FieldError::invalid(
                        &idx.child("min").key(k),
                        mn.canonical(),
                        format!("min value {mn} is greater than max value {mx}"),
                    ));
                }
                if let (Some(dr), Some(mn)) = (dr, mn)
                    && mn > dr
                {
                    errors.push(FieldError::invalid(
                        &idx.child("defaultRequest").key(k),
                        dr.canonical(),
                        format!("min value {mn} is greater than default request value {dr}"),
                    ));
                }
                if let (Some(dr), Some(mx)) = (dr, mx)
                    && dr > mx
                {
                    errors.push(FieldError::invalid(
                        &idx.child("defaultRequest").key(k),
                        dr.canonical(),
                        format!("default request value {dr} is greater than max value {mx}"),
                    ));
                }
                if let (Some(dr), Some(d)) = (dr, d)
                    && dr > d
                {
                    errors.push(FieldError::invalid(
                        &idx.child("defaultRequest").key(k),
                        dr.canonical(),
                        format!(
                            "default request value {dr} is greater than default limit value {d}"
                        ),
                    ));
                }
                if let (Some(d), Some(mn)) = (d, mn)
                    && mn > d
                {
                    errors.push(FieldError::invalid(
                        &idx.child("default").key(k),
                        mn.canonical(),
                        format!("min value {mn} is greater than default value {d}"),
                    ));
                }
                if let (Some(d), Some(mx)) = (d, mx)
                    && d > mx
                {
                    errors.push(FieldError::invalid(
                        &idx.child("default").key(k),
                        mx.canonical(),
                        format!("default value {d} is greater than max value {mx}"),
                    ));
                }
                if let Some(r) = r {
                    if *r < Quantity::new(1, 0, v::QuantityFormat::DecimalSI) {
                        errors.push(FieldError::invalid(
                            &idx.child("maxLimitRequestRatio").key(k),
                            r.canonical(),
                            format!("ratio {r} is less than 1"),
                        ));
                    }
                    if let (Some(mn), Some(mx)) = (mn, mx) {
                        let limit = mx.as_f64() / mn.as_f64();
                        if r.as_f64() > limit {
                            errors.push(FieldError::invalid(
                                &idx.child("maxLimitRequestRatio").key(k),
                                r.canonical(),
                                format!("ratio {r} is greater than max/min = {limit:.6}"),
                            ));
                        }
                    }
                }
                if let (Some(d), Some(dr)) = (d, dr)
                    && !overcommit_allowed(k)
                    && d != dr
                {
                    errors.push(FieldError::invalid(
                        &idx.child("defaultRequest").key(k),
                        dr.canonical(),
                        format!("default value {d} must equal to defaultRequest value {dr} in {k}"),
                    ));
                }
            }
        }
        errors
    }
}
