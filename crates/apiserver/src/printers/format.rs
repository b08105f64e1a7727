//! The cell formatting every printer shares: upstream's `HumanDuration`, reading fields of
//! JSON objects, label and selector strings, container lists, quantities and `+ N more...`
//! lists.

use std::collections::{BTreeMap, BTreeSet};

use apimachinery::{labels::Selector, validation::parse_quantity};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Value, json};

/// Upstream's `duration.HumanDuration` of a span in nanoseconds: `45s`, `5m30s`, `120m`,
/// `4h30m`, `2d3h`, `30d`, `3y20d`. A span up to one second negative reads `0s` (clock skew);
/// a more negative one `<invalid>`.
pub fn human_duration(nanos: i128) -> String {
    const SECOND: i128 = 1_000_000_000;
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

/// Parses an RFC 3339 timestamp (`metav1.Time` or `MicroTime`); missing, null or malformed
/// values are upstream's zero time, i.e. `None`.
pub fn timestamp(value: Option<&Value>) -> Option<Timestamp> {
    value.and_then(Value::as_str)?.parse().ok()
}

/// The nanoseconds from `from` to `to`.
pub fn nanos_between(from: Timestamp, to: Timestamp) -> i128 {
    to.as_nanosecond() - from.as_nanosecond()
}

/// Upstream's `translateTimestampSince`: how long ago `value` was, `<unknown>` for a zero time.
pub fn since(value: Option<&Value>, now: Timestamp) -> String {
    match timestamp(value) {
        Some(then) => human_duration(nanos_between(then, now)),
        None => "<unknown>".to_string(),
    }
}

/// The AGE cell: how long ago the object was created.
pub fn age(obj: &Value, now: Timestamp) -> Value {
    json!(since(obj.pointer("/metadata/creationTimestamp"), now))
}

/// The NAME cell.
pub fn name(obj: &Value) -> Value {
    json!(str_at(obj, "/metadata/name"))
}

/// The string at a JSON pointer, empty when missing or not a string.
pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a JSON pointer, 0 when missing.
pub fn int_at(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at a JSON pointer, `default` when missing.
pub fn bool_at(obj: &Value, pointer: &str, default: bool) -> bool {
    obj.pointer(pointer)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

/// The array at a JSON pointer, empty when missing.
pub fn array_at<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether a JSON pointer leads to a present, non-null value (a non-nil Go pointer).
pub fn has(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer).is_some_and(|v| !v.is_null())
}

/// The number of entries of the array or map at a JSON pointer.
pub fn count(obj: &Value, pointer: &str) -> usize {
    match obj.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// `<none>` for an empty string.
pub fn or_none(value: impl Into<String>) -> String {
    let value = value.into();
    if value.is_empty() {
        "<none>".to_string()
    } else {
        value
    }
}

/// Upstream's `printBoolPtr`: `True`, `False` or `<unset>`.
pub fn bool_ptr(value: Option<&Value>) -> String {
    match value.and_then(Value::as_bool) {
        Some(true) => "True".to_string(),
        Some(false) => "False".to_string(),
        None => "<unset>".to_string(),
    }
}

/// Whether the first condition of `type_` in the conditions array at `pointer` is `True`
/// (upstream's `hasJobCondition`).
pub fn condition_true(obj: &Value, pointer: &str, type_: &str) -> bool {
    array_at(obj, pointer)
        .iter()
        .find(|c| str_at(c, "/type") == type_)
        .is_some_and(|c| str_at(c, "/status") == "True")
}

/// Upstream's `labels.FormatLabels`: `k=v` sorted by key and comma-joined, `<none>` if empty.
pub fn format_labels(labels: Option<&Value>) -> String {
    let sorted: BTreeMap<&str, &str> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    let pairs: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    or_none(pairs.join(","))
}

/// The string form of a `LabelSelector` (upstream's `LabelSelectorAsSelector(..).String()`):
/// requirements sorted by key, `""` for a missing or empty selector, `None` if invalid.
pub fn selector_string(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Some(String::new());
    };
    let typed: LabelSelector = serde_json::from_value(selector.clone()).ok()?;
    Selector::from_label_selector(&typed)
        .ok()
        .map(|s| s.to_string())
}

/// Upstream's `metav1.FormatLabelSelector`: the selector string, `<none>` when it selects
/// everything (or nothing), `<error>` when invalid.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Some(s) => or_none(s),
        None => "<error>".to_string(),
    }
}

/// Upstream's `layoutContainerCells`: the containers' names and images, comma-joined.
pub fn containers(pod_spec: Option<&Value>) -> (Value, Value) {
    let list = pod_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let names: Vec<&str> = list.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = list.iter().map(|c| str_at(c, "/image")).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// A quantity in upstream's canonical form (`Quantity.String()`); a missing one is the zero
/// quantity, `0`.
pub fn quantity(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => parse_quantity(s)
            .map(|q| q.canonical())
            .unwrap_or_else(|_| s.clone()),
        Some(Value::Number(n)) => parse_quantity(&n.to_string())
            .map(|q| q.canonical())
            .unwrap_or_else(|_| n.to_string()),
        _ => "0".to_string(),
    }
}

/// A `*Quantity` as upstream prints it: canonical, or `<nil>` when missing.
pub fn quantity_ptr(value: Option<&Value>) -> String {
    match value {
        Some(v) if !v.is_null() => quantity(Some(v)),
        _ => "<nil>".to_string(),
    }
}

/// An `IntOrString` as upstream's `String()` prints it.
pub fn int_or_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Upstream's `listWithMoreString`: at most `max` items, then `+ N more...`; `<unset>` when
/// there is nothing.
pub fn list_with_more(items: &[String], max: usize) -> String {
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if items.len() > max {
        return format!("{shown} + {} more...", items.len() - max);
    }
    if shown.is_empty() {
        "<unset>".to_string()
    } else {
        shown
    }
}

/// Upstream's `loadBalancerStatusStringer` (server-side tables are always wide, so never
/// clipped): each ingress point's IP, else its hostname, deduplicated, sorted and
/// comma-joined.
pub fn load_balancer_ingress(ingress: &[Value]) -> String {
    let points: BTreeSet<&str> = ingress
        .iter()
        .filter_map(|i| match (str_at(i, "/ip"), str_at(i, "/hostname")) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    points.into_iter().collect::<Vec<_>>().join(",")
}

/// The first controller owner reference of an object (upstream's `GetControllerOf`).
pub fn controller_of(obj: &Value) -> Option<&Value> {
    array_at(obj, "/metadata/ownerReferences")
        .iter()
        .find(|r| bool_at(r, "/controller", false))
}

/// Splits an `apiVersion` into its group (empty for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version
        .split_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}
