//! Strategic merge patch, as k8s.io/apimachinery/pkg/util/strategicpatch applies it on the
//! server (`StrategicMergeMapPatch`: parallel lists merged, unmatched nulls ignored).
//!
//! - Maps merge recursively; `null` deletes a key.
//! - Lists whose field has patch strategy `merge` merge: lists of objects by the merge key (a
//!   patch item merges into the original item with the same key, new items are added), lists of
//!   scalars as a set. Other lists, and maps with strategy `replace`, are replaced.
//! - Directives: `$patch: replace | delete` in maps, `$patch: delete | replace` items in merged
//!   lists, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>` (orders the merged
//!   list; `kubectl apply` sends it for every merged list it touches) and `$retainKeys`.
//! - Order of merged lists: items named in the patch (or in `$setElementOrder`) come in the
//!   patch's order, items only on the server keep their relative order and are interleaved by
//!   their position in the original list; upstream's `normalizeElementOrder`/`mergeSortedSlice`.
//!
//! Differences from upstream, all on inputs `kubectl` does not send: values added where the
//! original had nothing are cleaned of directives and `null`s (upstream copies them raw and lets
//! decoding drop them); errors that upstream returns as plain Go errors (HTTP 500: a missing
//! merge key, mismatched element types, an inconsistent `$setElementOrder`) are 400s here; fields
//! the schema does not know merge like free-form maps instead of failing.

use serde_json::{Map, Value};

use super::{Error, json_type};
use crate::schema::{self, Child, PatchMeta};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const ERR_LIST_OF_LISTS: &str = "lists of lists are not supported";

type Result<T, E = Error> = std::result::Result<T, E>;

/// Applies the strategic merge patch `patch` to `original`, an object of `definition` (an
/// OpenAPI definition name such as `io.k8s.api.apps.v1.Deployment`; unknown definitions merge
/// like free-form JSON, with lists replaced).
pub fn strategic_merge(original: &Value, patch: &Value, definition: &str) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(Error::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type(patch)
        )));
    };
    let original = match original {
        Value::Object(o) => o.clone(),
        Value::Null => Map::new(),
        _ => return Err(Error::BadRequest("invalid JSON document".to_string())),
    };
    merge_map(original, patch.clone(), &schema::root(definition)).map(Value::Object)
}

/// The schema and patch metadata of field `key` of a value whose schema is `schema`.
fn field(schema: &Child, key: &str) -> (Child, PatchMeta) {
    let child = schema.field(key).unwrap_or(Child::Free);
    let meta = match schema {
        Child::Object(def) => schema::patch_meta(def, key),
        _ => PatchMeta::default(),
    };
    (child, meta)
}

fn item_schema(list: &Child) -> Child {
    list.item().unwrap_or(Child::Free)
}

fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

fn show(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> Error {
    bad(format!(
        "map: {} does not contain declared merge key: {key}",
        show(m)
    ))
}

fn bad_patch_type(t: &Value, m: &Map<String, Value>) -> Error {
    let t = t
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string());
    bad(format!("unknown patch type: {t} in map: {}", show(m)))
}

/// `$setElementOrder/containers` -> `containers`.
fn directive_field(key: &str, prefix: &str, err: &str) -> Result<String> {
    match key
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(field) => Ok(field.to_string()),
        None => Err(bad(err)),
    }
}

/// Merges `patch` into `original` (upstream's `mergeMap`).
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &Child,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                fresh_map(patch, schema)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_ordered_lists(&mut original, &mut patch, schema)?;

    for (key, patch_value) in patch {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (
                directive_field(&key, DELETE_FROM_PRIMITIVE_LIST, ERR_PRIMITIVE_LIST)?,
                true,
            )
        } else {
            (key, false)
        };
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let (child, meta) = field(schema, &key);
        let Some(slot) = original.get_mut(&key) else {
            if !is_delete_list {
                original.insert(key, fresh(patch_value, &child, &meta)?);
            }
            continue;
        };
        let current = std::mem::take(slot);
        *slot = match (current, patch_value) {
            (Value::Object(o), Value::Object(p)) if !is_delete_list => {
                if meta.replaces() {
                    Value::Object(fresh_map(p, &child)?)
                } else {
                    Value::Object(merge_map(o, p, &child)?)
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                Value::Array(merge_list_field(o, p, &child, &meta, is_delete_list)?)
            }
            (current, _) if is_delete_list => current,
            (_, p) => fresh(p, &child, &meta)?,
        };
    }
    Ok(original)
}

/// Applies `$retainKeys`: keys of `original` not listed are dropped; every key the patch sets
/// must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad(ERR_RETAIN_KEYS));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(bad(ERR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Processes every `$setElementOrder/<field>` with its list (upstream's
/// `mergePatchIntoOriginal`): merges the list and orders the result.
fn merge_ordered_lists(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: &Child,
) -> Result<()> {
    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for order_key in order_keys {
        let order = patch.shift_remove(&order_key).unwrap_or_default();
        let Value::Array(order) = order else {
            return Err(bad(format!(
                "expected a []interface {{}}, but received a {}",
                json_type(&order)
            )));
        };
        let key = directive_field(&order_key, SET_ELEMENT_ORDER, ERR_SET_ELEMENT_ORDER)?;
        let list_of = |m: &Map<String, Value>| -> Result<Option<Vec<Value>>> {
            match m.get(&key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => Ok(Some(a.clone())),
                Some(other) => Err(bad(format!(
                    "expected a []interface {{}}, but received a {}",
                    json_type(other)
                ))),
            }
        };
        let original_list = list_of(original)?;
        let patch_list = list_of(patch)?;
        let (child, meta) = field(schema, &key);
        let merge_key = meta.merge_key;
        validate_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;
        let merged = match (&original_list, patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => merge_list_field(Vec::new(), p, &child, &meta, false)?,
            (Some(o), Some(p)) => merge_list_field(o.clone(), p, &child, &meta, false)?,
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, merge_key);
        let both = normalize_element_order(
            in_order,
            server_only,
            &order,
            original_list.as_deref().unwrap_or(&[]),
            merge_key,
        )?;
        original.insert(key.clone(), Value::Array(both));
        patch.shift_remove(&key);
    }
    Ok(())
}

/// Checks that the patch list's items come in the order `$setElementOrder` gives and are among
/// its items (deletions aside).
fn validate_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = match merge_key {
        Some(_) => {
            let mut out = Vec::new();
            for item in patch {
                let Value::Object(m) = item else {
                    return Err(bad(format!(
                        "expected a map[string]interface {{}}, but received a {}",
                        json_type(item)
                    )));
                };
                if m.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                    out.push(item);
                }
            }
            out
        }
        None => patch.iter().collect(),
    };
    let (mut p, mut o) = (0, 0);
    while p < non_delete.len() && o < order.len() {
        if non_delete[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if merge_key_equal(non_delete[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < non_delete.len() && o >= order.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            show(&patch),
            show(&order)
        )));
    }
    Ok(())
}

fn merge_key_equal(left: &Value, right: &Value, merge_key: Option<&str>) -> Result<bool> {
    let Some(key) = merge_key else {
        return Ok(left == right);
    };
    let (Value::Object(l), Value::Object(r)) = (left, right) else {
        return Err(bad(
            "expected a map[string]interface {}, but received a different type",
        ));
    };
    let lv = l.get(key).ok_or_else(|| no_merge_key(l, key))?;
    let rv = r.get(key).ok_or_else(|| no_merge_key(r, key))?;
    Ok(lv == rv)
}

/// Merges a list field: by merge key (or as a set of scalars) when the field's strategy is
/// `merge` or the patch is a `$deleteFromPrimitiveList` list, replaced otherwise.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    child: &Child,
    meta: &PatchMeta,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    let item = item_schema(child);
    if meta.merges() || is_delete_list {
        merge_list(original, patch, &item, meta.merge_key, is_delete_list)
    } else {
        fresh_items(patch, &item)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    Scalar,
    Map,
}

fn element_kind(lists: &[&[Value]]) -> Result<Option<ElementKind>> {
    let mut kind: Option<(ElementKind, &'static str)> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let this = match v {
            Value::Array(_) => return Err(Error::Unprocessable(ERR_LIST_OF_LISTS.to_string())),
            Value::Object(_) => (ElementKind::Map, "map"),
            Value::String(_) => (ElementKind::Scalar, "string"),
            Value::Number(_) => (ElementKind::Scalar, "number"),
            Value::Bool(_) => (ElementKind::Scalar, "bool"),
            Value::Null => (ElementKind::Scalar, "null"),
        };
        match kind {
            None => kind = Some(this),
            Some(k) if k != this => {
                return Err(bad(format!(
                    "list element types are not identical: {}",
                    show(&lists)
                )));
            }
            Some(_) => {}
        }
    }
    Ok(kind.map(|(k, _)| k))
}

/// Upstream's `mergeSlice`.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    item: &Child,
    merge_key: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let Some(kind) = element_kind(&[&original, &patch])? else {
        return Ok(original);
    };
    if kind == ElementKind::Scalar {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        let (in_patch, server_only) = partition(merged, &patch, None);
        return normalize_element_order(in_patch, server_only, &patch, &original, None);
    }

    let Some(key) = merge_key else {
        return Err(bad("cannot merge lists without merge key for type map"));
    };
    // Special items: deletions, a replacement of the whole list.
    let mut original = original;
    let mut plain: Vec<Map<String, Value>> = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = v else {
            unreachable!("element kinds checked")
        };
        match m.get(DIRECTIVE) {
            None => plain.push(m),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let target = m.get(key).ok_or_else(|| no_merge_key(&m, key))?;
                    original.retain(|o| o.get(key) != Some(target));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(bad("merging lists cannot yet be specified in the patch"));
                }
                _ => return Err(bad_patch_type(d, &m)),
            },
        }
    }
    if replace {
        return plain
            .into_iter()
            .map(|m| fresh_map(m, item).map(Value::Object))
            .collect();
    }
    let server_order = original.clone();
    let mut merged = original;
    for p in &plain {
        let target = p.get(key).ok_or_else(|| no_merge_key(p, key))?;
        let mut found = None;
        for (i, o) in merged.iter().enumerate() {
            let Value::Object(om) = o else {
                return Err(bad(format!("value for key {i} is not a map.")));
            };
            if om.get(key) == Some(target) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let Value::Object(om) = std::mem::take(&mut merged[i]) else {
                    unreachable!()
                };
                merged[i] = Value::Object(merge_map(om, p.clone(), item)?);
            }
            None => merged.push(Value::Object(fresh_map(p.clone(), item)?)),
        }
    }
    let order: Vec<Value> = plain.into_iter().map(Value::Object).collect();
    let (in_patch, server_only) = partition(merged, &order, Some(key));
    normalize_element_order(in_patch, server_only, &order, &server_order, Some(key))
}

/// The identity of a list item: its merge key's value for objects, itself for scalars.
fn identity<'a>(v: &'a Value, merge_key: Option<&str>) -> Option<&'a Value> {
    match merge_key {
        Some(key) => v.get(key),
        None => Some(v),
    }
}

fn index(list: &[Value], v: &Value, merge_key: Option<&str>) -> Option<usize> {
    let id = identity(v, merge_key);
    list.iter().position(|x| identity(x, merge_key) == id)
}

/// Splits `items` into those present in `by` and the others, keeping their order.
fn partition(items: Vec<Value>, by: &[Value], merge_key: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    items
        .into_iter()
        .partition(|v| index(by, v, merge_key).is_some())
}

/// Sorts the patch items by `patch_order` and the server-only items by `server_order`, then
/// interleaves them (upstream's `normalizeElementOrder`).
fn normalize_element_order(
    mut patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>> {
    if let Some(key) = merge_key {
        for v in patch
            .iter()
            .chain(server_only.iter())
            .chain(patch_order.iter())
        {
            if let Value::Object(m) = v
                && !m.contains_key(key)
            {
                return Err(no_merge_key(m, key));
            }
        }
    }
    patch.sort_by_key(|v| index(patch_order, v, merge_key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| index(server_order, v, merge_key).unwrap_or(usize::MAX));
    Ok(merge_sorted(server_only, patch, server_order, merge_key))
}

/// Inserts the server-only items (`left`) among the patch items (`right`): a server-only item
/// goes before the next patch item only if both are in the original list and it came first
/// there (upstream's `mergeSortedSlice`).
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = index(server_order, l, merge_key);
                let ri = index(server_order, r, merge_key);
                match (li, ri) {
                    (Some(li), Some(ri)) if li < ri => out.extend(left.next()),
                    _ => out.extend(right.next()),
                }
            }
        }
    }
    out
}

/// A patch value set where the original had nothing (or something of another type): cleaned of
/// directives and `null`s by merging it into nothing.
fn fresh(v: Value, child: &Child, meta: &PatchMeta) -> Result<Value> {
    match v {
        Value::Object(m) => fresh_map(m, child).map(Value::Object),
        Value::Array(items) => {
            merge_list_field(Vec::new(), items, child, meta, false).map(Value::Array)
        }
        scalar => Ok(scalar),
    }
}

fn fresh_map(m: Map<String, Value>, schema: &Child) -> Result<Map<String, Value>> {
    merge_map(Map::new(), m, schema)
}

fn fresh_items(items: Vec<Value>, item: &Child) -> Result<Vec<Value>> {
    items
        .into_iter()
        .map(|v| match v {
            Value::Object(m) => fresh_map(m, item).map(Value::Object),
            other => Ok(other),
        })
        .collect()
}
