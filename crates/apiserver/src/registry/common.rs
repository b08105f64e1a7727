//! Helpers shared by the strategies: Go-flavoured rendering of bad values, selectors,
//! int-or-percent fields, quantities and the simple checks many kinds repeat.
//!
//! Upstream renders a bad value with `%#v` when it is neither a string nor a number (a label
//! map becomes `map[string]string{"app":"x"}`); the `*_raw` constructors here build field
//! errors whose value is already rendered that way.

use std::collections::BTreeMap;

use apimachinery::{
    labels,
    validation::{self, ErrorList, ErrorType, FieldError, Path, Quantity, QuantityError},
};
use k8s_openapi::apimachinery::pkg::{
    api::resource::Quantity as KubeQuantity,
    apis::meta::v1::{LabelSelector, Time},
    util::intstr::IntOrString,
};
use serde::Serialize;
use serde_json::Value;

/// A field error whose bad value is already rendered (upstream's `%#v` output).
pub fn raw_error(kind: ErrorType, path: &Path, rendered: &str, detail: &str) -> FieldError {
    let detail = if detail.is_empty() {
        rendered.to_string()
    } else {
        format!("{rendered}: {detail}")
    };
    FieldError {
        kind,
        field: path.to_string(),
        value: None,
        detail,
    }
}

/// `Invalid value: <rendered>: <detail>` with a pre-rendered value.
pub fn invalid_raw(path: &Path, rendered: &str, detail: &str) -> FieldError {
    raw_error(ErrorType::Invalid, path, rendered, detail)
}

/// `Unsupported value: <rendered>: supported values: "a", "b"` with a pre-rendered value.
pub fn not_supported_raw(path: &Path, rendered: &str, valid: &[&str]) -> FieldError {
    let quoted: Vec<String> = valid.iter().map(|v| validation::quote(v)).collect();
    raw_error(
        ErrorType::NotSupported,
        path,
        rendered,
        &format!("supported values: {}", quoted.join(", ")),
    )
}

/// `Duplicate value: <rendered>` with a pre-rendered value.
pub fn duplicate_raw(path: &Path, rendered: &str) -> FieldError {
    raw_error(ErrorType::Duplicate, path, rendered, "")
}

/// A string map as Go's `%#v` prints it: `map[string]string{"a":"b", "c":"d"}`, or
/// `map[string]string(nil)` when absent.
pub fn go_string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", validation::quote(k), validation::quote(v)))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// A string slice as Go's `%#v` prints it: `[]string{"a", "b"}` or `[]string(nil)`.
pub fn go_string_slice(items: Option<&[String]>) -> String {
    match items {
        None => "[]string(nil)".to_string(),
        Some(items) => {
            let quoted: Vec<String> = items.iter().map(|s| validation::quote(s)).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// A label selector as Go's `%#v` prints upstream's `metav1.LabelSelector`.
pub fn go_label_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "(*v1.LabelSelector)(nil)".to_string();
    };
    let expressions = match &selector.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(exprs) => {
            let items: Vec<String> = exprs
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        validation::quote(&e.key),
                        validation::quote(&e.operator),
                        go_string_slice(e.values.as_deref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(selector.match_labels.as_ref()),
        expressions
    )
}

/// Any serializable value rendered as compact JSON, for values upstream prints as Go structs.
pub fn go_value<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A value as JSON, for comparisons and `Value`-based validators.
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A short diff of two objects in the spirit of upstream's `cmp.Diff` output: one `-`/`+` pair
/// per top-level field that differs, fields named as Go does (`NodeName`).
pub fn go_diff(type_name: &str, old: &Value, new: &Value) -> String {
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = format!("  {type_name}{{\n");
    for key in keys {
        let a = old_map.get(key).unwrap_or(&Value::Null);
        let b = new_map.get(key).unwrap_or(&Value::Null);
        if validation::semantic_eq(a, b) {
            continue;
        }
        let name = go_field_name(key);
        if !a.is_null() {
            out.push_str(&format!("- \t{name}: {},\n", a));
        }
        if !b.is_null() {
            out.push_str(&format!("+ \t{name}: {},\n", b));
        }
    }
    out.push_str("  }\n");
    out
}

fn go_field_name(json_name: &str) -> String {
    let mut chars = json_name.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Whether a string option is absent or empty.
pub fn is_empty(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

/// The string of an option, `""` when absent.
pub fn str_of(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// Sets a string option to `value` when it is absent or empty.
pub fn default_str(s: &mut Option<String>, value: &str) {
    if is_empty(s) {
        *s = Some(value.to_string());
    }
}

/// Whether a label selector selects nothing because it has no requirement at all. k8s-openapi
/// decodes a missing required selector as an empty one, so strategies treat both as missing.
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty)
}

/// Whether `selector` matches `labels` (upstream `LabelSelectorAsSelector(...).Matches`);
/// `None` when the selector does not convert (bad operator or values).
pub fn selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> Option<bool> {
    let empty = BTreeMap::new();
    labels::from_label_selector(selector)
        .ok()
        .map(|s| s.matches(labels.unwrap_or(&empty)))
}

/// Validates a workload's selector and that it selects the template's labels: `Required`
/// when the selector is missing (and then, like upstream's nil selector, it matches nothing),
/// label-selector errors otherwise, and `` `selector` does not match template `labels` ``.
pub fn validate_selector_and_template(
    selector: Option<&LabelSelector>,
    template_labels: Option<&BTreeMap<String, String>>,
    selector_path: &Path,
    labels_path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let selector = selector.filter(|s| !selector_is_empty(s));
    match selector {
        None => {
            errors.push(FieldError::required(selector_path, ""));
            errors.push(template_mismatch(labels_path, template_labels));
        }
        Some(selector) => {
            errors.extend(validation::validate_label_selector(selector, selector_path));
            match selector_matches(selector, template_labels) {
                Some(true) => {}
                Some(false) => errors.push(template_mismatch(labels_path, template_labels)),
                None => errors.push(invalid_raw(
                    selector_path,
                    &go_label_selector(Some(selector)),
                    "invalid label selector",
                )),
            }
        }
    }
    errors
}

/// `` Invalid value: map[string]string{...}: `selector` does not match template `labels` ``.
pub fn template_mismatch(path: &Path, labels: Option<&BTreeMap<String, String>>) -> FieldError {
    invalid_raw(
        path,
        &go_string_map(labels),
        "`selector` does not match template `labels`",
    )
}

/// Validates an immutable label selector (`field is immutable`), rendering it like upstream.
pub fn validate_immutable_selector(
    new: &LabelSelector,
    old: &LabelSelector,
    path: &Path,
) -> ErrorList {
    if validation::semantic_eq(&to_json(new), &to_json(old)) {
        Vec::new()
    } else {
        vec![invalid_raw(
            path,
            &go_label_selector(Some(new)),
            validation::FIELD_IMMUTABLE_ERROR_MSG,
        )]
    }
}

/// An `IntOrString` as JSON (a number or a string).
pub fn int_or_string_json(value: &IntOrString) -> Value {
    match value {
        IntOrString::Int(i) => Value::from(*i),
        IntOrString::String(s) => Value::from(s.as_str()),
    }
}

/// Upstream `ValidatePositiveIntOrPercent`: a non-negative integer or a percentage.
pub fn validate_positive_int_or_percent(value: &IntOrString, path: &Path) -> ErrorList {
    validation::validate_positive_int_or_percent(&int_or_string_json(value), path)
}

/// Upstream `IsNotMoreThan100Percent`.
pub fn is_not_more_than_100_percent(value: &IntOrString, path: &Path) -> ErrorList {
    match value {
        IntOrString::String(s) => match percent_value(s) {
            Some(p) if p > 100 => vec![FieldError::invalid(
                path,
                s.as_str(),
                "must not be greater than 100%",
            )],
            _ => Vec::new(),
        },
        IntOrString::Int(_) => Vec::new(),
    }
}

fn percent_value(s: &str) -> Option<i64> {
    s.strip_suffix('%')?.parse().ok()
}

/// The number an int-or-percent holds (upstream `getIntOrPercentValue`), 0 when unparsable.
pub fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(i) => *i as i64,
        IntOrString::String(s) => percent_value(s).unwrap_or(0),
    }
}

/// Parses a k8s-openapi quantity.
pub fn parse_quantity(q: &KubeQuantity) -> Result<Quantity, QuantityError> {
    validation::parse_quantity(q.0.trim())
}

/// Rewrites every parseable quantity of a resource list in upstream's canonical form, rounded
/// up to milli units as `SetDefaults_ResourceList` does (`0.5` → `500m`, `1024Mi` → `1Gi`).
pub fn canonicalize_resources(list: &mut Option<BTreeMap<String, KubeQuantity>>) {
    if let Some(list) = list {
        for q in list.values_mut() {
            canonicalize_quantity(q);
        }
    }
}

/// Rewrites one parseable quantity in canonical form, rounded up to milli units.
pub fn canonicalize_quantity(q: &mut KubeQuantity) {
    if let Ok(parsed) = parse_quantity(q) {
        let (_, scale) = parsed.as_decimal();
        let rounded = if scale < -3 {
            Quantity::new(parsed.milli_value(), -3, parsed.format())
        } else {
            parsed
        };
        q.0 = rounded.canonical();
    }
}

/// Validates a quantity that must parse and be non-negative; returns it when it parses.
pub fn validate_quantity(
    q: &KubeQuantity,
    path: &Path,
    errors: &mut ErrorList,
) -> Option<Quantity> {
    match parse_quantity(q) {
        Ok(parsed) => {
            errors.extend(validation::validate_nonnegative_quantity(&parsed, path));
            Some(parsed)
        }
        Err(e) => {
            errors.push(FieldError::invalid(path, q.0.as_str(), e.to_string()));
            None
        }
    }
}

/// `Invalid value: <v>: must be greater than or equal to 0` for a negative optional field.
pub fn nonnegative(value: Option<i64>, path: &Path) -> ErrorList {
    value
        .map(|v| validation::validate_nonnegative_field(v, path))
        .unwrap_or_default()
}

/// Invalid-value errors for each message of a string validator.
pub fn each_invalid(path: &Path, value: &str, messages: Vec<String>) -> ErrorList {
    messages
        .into_iter()
        .map(|m| FieldError::invalid(path, value, m))
        .collect()
}

/// Validates a DNS-1123 label.
pub fn dns_label(value: &str, path: &Path) -> ErrorList {
    each_invalid(path, value, validation::is_dns1123_label(value))
}

/// Validates a DNS-1123 subdomain.
pub fn dns_subdomain(value: &str, path: &Path) -> ErrorList {
    each_invalid(path, value, validation::is_dns1123_subdomain(value))
}

/// Validates a DNS-1035 label (service names).
pub fn dns1035_label(value: &str, path: &Path) -> ErrorList {
    each_invalid(path, value, validation::is_dns1035_label(value))
}

/// Validates a qualified name (label keys, condition types, finalizers).
pub fn qualified_name(value: &str, path: &Path) -> ErrorList {
    each_invalid(path, value, validation::is_qualified_name(value))
}

/// Validates a name used as a DNS-subdomain object name, masking a trailing dash when `prefix`
/// is set, as upstream's `NameIsDNSSubdomain(name, prefix)`.
pub fn subdomain_name(value: &str, prefix: bool, path: &Path) -> ErrorList {
    let checked = if prefix {
        validation::mask_trailing_dash(value)
    } else {
        value.to_string()
    };
    each_invalid(path, value, validation::is_dns1123_subdomain(&checked))
}

/// Upstream `validation.IsValidIP(path, value)`: an `Invalid` error when `value` is no IP.
pub fn valid_ip(value: &str, path: &Path) -> ErrorList {
    each_invalid(path, value, validation::is_valid_ip(value))
}

/// Upstream `validation.IsValidCIDR(path, value)`.
pub fn valid_cidr(value: &str, path: &Path) -> ErrorList {
    each_invalid(path, value, validation::is_valid_cidr(value))
}

/// Validates a wildcard DNS-1123 subdomain (`*.example.com`).
pub fn is_wildcard_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > validation::DNS1123_SUBDOMAIN_MAX_LENGTH {
        errors.push(validation::max_len_error(
            validation::DNS1123_SUBDOMAIN_MAX_LENGTH,
        ));
    }
    let ok = value
        .strip_prefix("*.")
        .is_some_and(|rest| validation::is_dns1123_subdomain(rest).is_empty());
    if !ok {
        errors.push(validation::regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
            &["*.example.com"],
        ));
    }
    errors
}

/// The current time at seconds precision.
pub fn now() -> Time {
    let now = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_go() {
        let mut m = BTreeMap::new();
        m.insert("app".to_string(), "x".to_string());
        m.insert("tier".to_string(), "web".to_string());
        assert_eq!(
            go_string_map(Some(&m)),
            r#"map[string]string{"app":"x", "tier":"web"}"#
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
        let sel = LabelSelector {
            match_labels: Some(m),
            match_expressions: None,
        };
        assert_eq!(
            go_label_selector(Some(&sel)),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"x", "tier":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
    }

    #[test]
    fn canonical_quantities() {
        for (input, want) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1024Mi", "1Gi"),
            ("1n", "1m"),
            ("bad", "bad"),
        ] {
            let mut q = KubeQuantity(input.to_string());
            canonicalize_quantity(&mut q);
            assert_eq!(q.0, want, "{input}");
        }
    }

    #[test]
    fn raw_errors_render() {
        let e = template_mismatch(&Path::new("spec").child("template"), None);
        assert_eq!(
            e.to_string(),
            "spec.template: Invalid value: map[string]string(nil): `selector` does not match template `labels`"
        );
    }
}
