//! Server-side apply and the bookkeeping of `metadata.managedFields`, after
//! sigs.k8s.io/structured-merge-diff as the API server uses it (k8s.io/apimachinery/pkg/util/
//! managedfields).
//!
//! Field sets are upstream's `FieldsV1` tries: `f:<field>` for fields of structs and keys of
//! maps, `k:{"name":"nginx"}` for items of lists keyed by `x-kubernetes-list-map-keys` (or by
//! the patch merge key), `v:<json>` for items of sets of scalars, and `.` for "this node itself"
//! beside its children. Atomic lists and maps (`x-kubernetes-list-type: atomic`, lists without
//! a list type or merge strategy, `x-kubernetes-map-type: atomic` such as `LabelSelector`) are
//! owned as one leaf.
//!
//! [`apply()`] follows `Updater.Apply`: the configuration is merged into the live object (maps
//! and structs key by key, keyed lists item by item, atomic values replaced); fields the manager
//! applied last time and no longer applies are removed unless another manager owns them; fields
//! the apply changes that other managers own are conflicts (an error unless `force`, in which
//! case the other managers lose them). [`update_managed_fields`] follows `Updater.Update`: the
//! fields an update or non-apply patch changed move to its manager.
//!
//! Simplifications, documented:
//! - Update entries get `.` for newly added list items, lists and maps (such as `labels`), not
//!   for newly added structs (upstream's depends on whether the Go field is a pointer and
//!   `omitempty`).
//! - Free-form values (`RawExtension`, `JSON`) are owned as leaves.
//! - Not implemented: the cap of 10 Update managers (`ancient-changes`), the
//!   `before-first-apply` manager for objects that have no managedFields at their first apply,
//!   and the conversion of client-side-apply ownership (last-applied annotation) when switching
//!   to server-side apply.
//! - One version per kind: no conversion of field sets between API versions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::Error;
use crate::schema::{self, Child, ListType, PatchMeta};

// ---------------------------------------------------------------------------------------------
// Paths and sets.

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Pe {
    /// A field of a struct or a key of a map.
    Field(String),
    /// An item of a keyed list: the canonical JSON object of its key fields, sorted by name.
    Key(String),
    /// An item of a set: its canonical JSON.
    Value(String),
    /// An item of a list by position.
    Index(usize),
}

impl Pe {
    /// The `FieldsV1` key: `f:name`, `k:{...}`, `v:...`, `i:0`.
    fn fields_v1_key(&self) -> String {
        match self {
            Pe::Field(f) => format!("f:{f}"),
            Pe::Key(k) => format!("k:{k}"),
            Pe::Value(v) => format!("v:{v}"),
            Pe::Index(i) => format!("i:{i}"),
        }
    }

    fn parse(key: &str) -> Option<Pe> {
        let (kind, rest) = key.split_at_checked(2)?;
        match kind {
            "f:" => Some(Pe::Field(rest.to_string())),
            "k:" => match serde_json::from_str::<Value>(rest).ok()? {
                Value::Object(m) => Some(Pe::Key(canonical_key(m.into_iter().collect()))),
                _ => None,
            },
            "v:" => serde_json::from_str::<Value>(rest)
                .ok()
                .map(|v| Pe::Value(canonical(&v))),
            "i:" => rest.parse().ok().map(Pe::Index),
            _ => None,
        }
    }

    /// As upstream prints path elements: `.name`, `[name="nginx"]`, `[="a"]`, `[0]`.
    fn display(&self) -> String {
        match self {
            Pe::Field(f) => format!(".{f}"),
            Pe::Key(k) => {
                let fields = match serde_json::from_str::<Value>(k) {
                    Ok(Value::Object(m)) => m
                        .iter()
                        .map(|(k, v)| format!("{k}={}", canonical(v)))
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => k.clone(),
                };
                format!("[{fields}]")
            }
            Pe::Value(v) => format!("[={v}]"),
            Pe::Index(i) => format!("[{i}]"),
        }
    }
}

fn path_string(path: &[Pe]) -> String {
    path.iter().map(Pe::display).collect()
}

fn canonical(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The canonical JSON of key fields: sorted by name.
fn canonical_key(fields: BTreeMap<String, Value>) -> String {
    let mut m = Map::new();
    for (k, v) in fields {
        m.insert(k, v);
    }
    canonical(&Value::Object(m))
}

/// A set of field paths, as a trie.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Set {
    members: BTreeSet<Pe>,
    children: BTreeMap<Pe, Set>,
}

impl Set {
    fn insert(&mut self, path: &[Pe]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    fn difference(&self, other: &Set) -> Set {
        let mut out = Set {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let c = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    fn intersection(&self, other: &Set) -> Set {
        let mut out = Set {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let c = child.intersection(o);
                if !c.is_empty() {
                    out.children.insert(pe.clone(), c);
                }
            }
        }
        out
    }

    /// Removes the members of `other` and everything below them.
    fn recursive_difference(&self, other: &Set) -> Set {
        let mut out = Set {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let c = match other.children.get(pe) {
                Some(o) => child.recursive_difference(o),
                None => child.clone(),
            };
            if !c.is_empty() {
                out.children.insert(pe.clone(), c);
            }
        }
        out
    }

    /// Every member path: members of a node first, then its children.
    fn paths(&self) -> Vec<Vec<Pe>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Pe>, out: &mut Vec<Vec<Pe>>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    fn to_fields_v1(&self) -> Value {
        let mut keys: BTreeSet<&Pe> = self.members.iter().collect();
        keys.extend(
            self.children
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(k, _)| k),
        );
        let mut out = Map::new();
        for pe in keys {
            let value = match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(child) => {
                    let mut m = Map::new();
                    if self.members.contains(pe) {
                        m.insert(".".into(), json!({}));
                    }
                    if let Value::Object(inner) = child.to_fields_v1() {
                        m.extend(inner);
                    }
                    Value::Object(m)
                }
                None => json!({}),
            };
            out.insert(pe.fields_v1_key(), value);
        }
        Value::Object(out)
    }

    fn from_fields_v1(v: &Value) -> Option<Set> {
        let Value::Object(m) = v else { return None };
        let mut set = Set::default();
        for (key, child) in m {
            if key == "." {
                continue;
            }
            let pe = Pe::parse(key)?;
            let Value::Object(cm) = child else {
                return None;
            };
            if cm.is_empty() || cm.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let sub = Set::from_fields_v1(child)?;
            if !sub.is_empty() {
                set.children.insert(pe, sub);
            }
        }
        Some(set)
    }
}

/// A set of leaf paths given as field names, e.g. `[["status"]]`.
fn set_of(paths: &[&[&str]]) -> Set {
    let mut s = Set::default();
    for p in paths {
        let pes: Vec<Pe> = p.iter().map(|f| Pe::Field((*f).to_string())).collect();
        s.insert(&pes);
    }
    s
}

/// Fields no manager owns (upstream's `stripMetaManager`).
fn stripped() -> Set {
    set_of(&[
        &["apiVersion"],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ])
}

// ---------------------------------------------------------------------------------------------
// The typed walk.

/// The schema of a position in an object.
#[derive(Clone, Debug)]
struct Node {
    child: Child,
    meta: PatchMeta,
    /// Whether an Update that adds this (list or map) node owns the node itself (`.`). Upstream
    /// owns the nodes that were absent from the old object; Go serializes a missing
    /// `PodSpec.containers` as `null` (no `omitempty`), so it is never absent there.
    dot_when_added: bool,
}

impl Node {
    fn root(definition: &str) -> Node {
        Node {
            child: schema::root(definition),
            meta: PatchMeta::default(),
            dot_when_added: true,
        }
    }

    /// The node of field `key`, `None` if the schema does not declare it.
    fn field(&self, key: &str) -> Option<Node> {
        match &self.child {
            Child::Object(def) => schema::property_schema(def, key).map(|child| Node {
                child,
                meta: schema::patch_meta(def, key),
                dot_when_added: !(*def == "io.k8s.api.core.v1.PodSpec" && key == "containers"),
            }),
            Child::Map(inner) => Some(Node::plain((**inner).clone())),
            Child::Free => Some(Node::plain(Child::Free)),
            _ => None,
        }
    }

    fn is_named_field(&self, key: &str) -> bool {
        matches!(&self.child, Child::Object(def) if schema::property_schema(def, key).is_some())
    }

    fn item(&self) -> Node {
        Node::plain(self.child.item().unwrap_or(Child::Free))
    }

    fn plain(child: Child) -> Node {
        Node {
            child,
            meta: PatchMeta::default(),
            dot_when_added: true,
        }
    }

    /// How a value at this node is merged and owned.
    fn kind(&self, v: &Value) -> Kind {
        match (&self.child, v) {
            (Child::Object(def), Value::Object(_)) => {
                if self.meta.map_atomic() || schema::definition_atomic(def) {
                    Kind::Leaf
                } else {
                    Kind::Struct
                }
            }
            (Child::Map(_), Value::Object(_)) => {
                if self.meta.map_atomic() {
                    Kind::Leaf
                } else {
                    Kind::Map
                }
            }
            (Child::Array(_), Value::Array(_)) => match self.meta.list_semantics() {
                (ListType::Atomic, _) => Kind::Leaf,
                (ListType::Set, _) => Kind::Set,
                (ListType::Map, keys) => Kind::Keyed(keys),
            },
            _ => Kind::Leaf,
        }
    }

    /// The path element of an item of a list of this node's kind.
    fn item_pe(kind: Kind, item: &Value) -> Result<Pe, String> {
        match kind {
            Kind::Keyed(keys) => {
                let Value::Object(m) = item else {
                    return Err("expected an object in an associative list".to_string());
                };
                let mut fields = BTreeMap::new();
                for k in keys {
                    match m.get(*k).filter(|v| !v.is_null()) {
                        Some(v) => {
                            fields.insert((*k).to_string(), v.clone());
                        }
                        None => match key_default(k) {
                            Some(d) => {
                                fields.insert((*k).to_string(), d);
                            }
                            None => {
                                return Err(format!(
                                    "associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                                    k
                                ));
                            }
                        },
                    }
                }
                Ok(Pe::Key(canonical_key(fields)))
            }
            _ => Ok(Pe::Value(canonical(item))),
        }
    }
}

/// Defaults of list-map key fields that upstream's OpenAPI declares (`protocol` of container
/// and service ports).
fn key_default(field: &str) -> Option<Value> {
    match field {
        "protocol" => Some(json!("TCP")),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Owned and replaced as a whole: scalars, atomic lists and maps, free-form values.
    Leaf,
    /// A struct merged field by field.
    Struct,
    /// A map merged key by key.
    Map,
    /// A list of scalars merged as a set.
    Set,
    /// A list of objects merged by key fields.
    Keyed(&'static [&'static str]),
}

fn is_empty_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// The fields set in `value` (upstream's `ToFieldSet`). With `strict`, fields the schema does not
/// declare, keyed-list items without their keys and duplicate items are errors.
fn field_set(
    value: &Value,
    node: &Node,
    path: &mut Vec<Pe>,
    set: &mut Set,
    errors: &mut Vec<String>,
) {
    match node.kind(value) {
        Kind::Leaf => set.insert(path),
        Kind::Struct | Kind::Map => {
            let Value::Object(m) = value else { return };
            for (k, v) in m {
                let Some(child) = node.field(k) else {
                    path.push(Pe::Field(k.clone()));
                    errors.push(format!(
                        "{}: field not declared in schema",
                        path_string(path)
                    ));
                    path.pop();
                    continue;
                };
                path.push(Pe::Field(k.clone()));
                field_set(v, &child, path, set, errors);
                if v.is_null()
                    || v.as_object().is_some_and(Map::is_empty)
                    || !node.is_named_field(k)
                {
                    set.insert(path);
                }
                path.pop();
            }
        }
        kind @ (Kind::Set | Kind::Keyed(_)) => {
            let Value::Array(items) = value else { return };
            let item_node = node.item();
            let mut seen = BTreeSet::new();
            for item in items {
                match Node::item_pe(kind, item) {
                    Ok(pe) => {
                        if !seen.insert(pe.clone()) {
                            errors.push(format!(
                                "{}: duplicate entries for key {}",
                                path_string(path),
                                pe.display()
                            ));
                            continue;
                        }
                        path.push(pe);
                        if matches!(kind, Kind::Keyed(_)) {
                            field_set(item, &item_node, path, set, errors);
                        }
                        set.insert(path);
                        path.pop();
                    }
                    Err(e) => errors.push(format!("{}: {e}", path_string(path))),
                }
            }
        }
    }
}

/// Merges the configuration `rhs` into the live value `lhs` (upstream's `TypedValue.Merge`).
fn merge(lhs: Option<&Value>, rhs: Option<&Value>, node: &Node) -> Option<Value> {
    let (l, r) = match (lhs, rhs) {
        (l, None) => return l.cloned(),
        (None, Some(r)) => return Some(r.clone()),
        (Some(l), Some(r)) => (l, r),
    };
    let kind = node.kind(r);
    if kind != node.kind(l) {
        return Some(r.clone());
    }
    match (kind, l, r) {
        (Kind::Struct | Kind::Map, Value::Object(lm), Value::Object(rm)) => {
            let mut out = lm.clone();
            for (k, rv) in rm {
                let merged = match node.field(k) {
                    Some(child) => merge(lm.get(k), Some(rv), &child),
                    None => Some(rv.clone()),
                };
                match merged {
                    Some(Value::Null) | None => {
                        out.shift_remove(k);
                    }
                    Some(v) => {
                        out.insert(k.clone(), v);
                    }
                }
            }
            Some(Value::Object(out))
        }
        (kind @ (Kind::Set | Kind::Keyed(_)), Value::Array(la), Value::Array(ra)) => {
            Some(Value::Array(merge_list(la, ra, kind, &node.item())))
        }
        _ => Some(r.clone()),
    }
}

fn index_items(items: &[Value], kind: Kind) -> Vec<Pe> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| Node::item_pe(kind, v).unwrap_or(Pe::Index(i)))
        .collect()
}

/// Merges keyed lists and sets: shared items in the configuration's order, live-only items
/// kept where they were (upstream's `mergingWalker.visitListItems`).
fn merge_list(lhs: &[Value], rhs: &[Value], kind: Kind, item: &Node) -> Vec<Value> {
    let lpes = index_items(lhs, kind);
    let rpes = index_items(rhs, kind);
    let lobs: BTreeMap<&Pe, &Value> = lpes.iter().zip(lhs).collect();
    let robs: BTreeMap<&Pe, &Value> = rpes.iter().zip(rhs).collect();
    let mut shared = rpes.iter().filter(|pe| lobs.contains_key(pe));
    let mut next_shared = shared.next();
    let mut merged_rhs: BTreeSet<&Pe> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let merge_item = |l: Option<&Value>, r: Option<&Value>| -> Option<Value> {
        match kind {
            Kind::Keyed(_) => merge(l, r, item),
            _ => r.or(l).cloned(),
        }
    };
    let (mut li, mut ri) = (0, 0);
    while li < lpes.len() || ri < rpes.len() {
        if li < lpes.len() && ri < rpes.len() {
            let pe = &lpes[li];
            if pe == &rpes[ri] {
                merged_rhs.insert(pe);
                out.extend(merge_item(lobs.get(pe).copied(), robs.get(pe).copied()));
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if robs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lpes.len() {
            let pe = &lpes[li];
            if !robs.contains_key(pe) {
                out.push(lhs[li].clone());
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ri < rpes.len() {
            let pe = &rpes[ri];
            merged_rhs.insert(pe);
            out.extend(merge_item(lobs.get(pe).copied(), robs.get(pe).copied()));
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.next();
            }
        }
    }
    out
}

/// What changed between two versions of an object (upstream's `Comparison`).
#[derive(Debug, Default)]
struct Comparison {
    added: Set,
    modified: Set,
    removed: Set,
}

impl Comparison {
    fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    fn filter(self, strip: &Set, reset: &Set) -> Comparison {
        let f = |s: Set| s.difference(strip).recursive_difference(reset);
        Comparison {
            added: f(self.added),
            modified: f(self.modified),
            removed: f(self.removed),
        }
    }
}

fn compare(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    node: &Node,
    path: &mut Vec<Pe>,
    out: &mut Comparison,
) {
    let kind = match (lhs, rhs) {
        (None, None) => return,
        (Some(l), None) => node.kind(l),
        (None, Some(r)) => node.kind(r),
        (Some(l), Some(r)) => {
            let (kl, kr) = (node.kind(l), node.kind(r));
            if kl == kr { kr } else { Kind::Leaf }
        }
    };
    if kind == Kind::Leaf || (is_empty_value(lhs) && is_empty_value(rhs)) {
        match (lhs, rhs) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(l), Some(r)) if l != r => out.modified.insert(path),
            _ => {}
        }
        return;
    }
    if !path.is_empty() && kind != Kind::Struct && node.dot_when_added {
        match (lhs, rhs) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            _ => {}
        }
    }
    match kind {
        Kind::Struct | Kind::Map => {
            let empty = Map::new();
            let lm = lhs.and_then(Value::as_object).unwrap_or(&empty);
            let rm = rhs.and_then(Value::as_object).unwrap_or(&empty);
            let keys: Vec<&String> = lm
                .keys()
                .chain(rm.keys().filter(|k| !lm.contains_key(*k)))
                .collect();
            for k in keys {
                let Some(child) = node.field(k) else { continue };
                path.push(Pe::Field(k.clone()));
                compare(lm.get(k), rm.get(k), &child, path, out);
                path.pop();
            }
        }
        Kind::Set | Kind::Keyed(_) => {
            let empty = Vec::new();
            let la = lhs.and_then(Value::as_array).unwrap_or(&empty);
            let ra = rhs.and_then(Value::as_array).unwrap_or(&empty);
            let lpes = index_items(la, kind);
            let rpes = index_items(ra, kind);
            let lobs: BTreeMap<&Pe, &Value> = lpes.iter().zip(la).collect();
            let robs: BTreeMap<&Pe, &Value> = rpes.iter().zip(ra).collect();
            let item = node.item();
            let mut pes: Vec<&Pe> = lpes.iter().collect();
            pes.extend(rpes.iter().filter(|pe| !lobs.contains_key(pe)));
            let mut done = BTreeSet::new();
            for pe in pes {
                if !done.insert(pe) {
                    continue;
                }
                let (l, r) = (lobs.get(pe).copied(), robs.get(pe).copied());
                path.push(pe.clone());
                match kind {
                    Kind::Keyed(_) => {
                        match (l, r) {
                            (None, Some(_)) => out.added.insert(path),
                            (Some(_), None) => out.removed.insert(path),
                            _ => {}
                        }
                        compare(l, r, &item, path, out);
                    }
                    _ => match (l, r) {
                        (None, Some(_)) => out.added.insert(path),
                        (Some(_), None) => out.removed.insert(path),
                        _ => {}
                    },
                }
                path.pop();
            }
        }
        Kind::Leaf => {}
    }
}

/// Removes from `value` the members of `set` and what is below them (upstream's `RemoveItems`).
fn remove_items(value: &mut Value, node: &Node, set: &Set) {
    match node.kind(value) {
        Kind::Struct | Kind::Map => {
            let Value::Object(m) = value else { return };
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let pe = Pe::Field(k.clone());
                if set.members.contains(&pe) {
                    m.shift_remove(&k);
                } else if let (Some(sub), Some(child)) = (set.children.get(&pe), node.field(&k))
                    && let Some(v) = m.get_mut(&k)
                {
                    remove_items(v, &child, sub);
                }
            }
        }
        kind @ (Kind::Set | Kind::Keyed(_)) => {
            let Value::Array(items) = value else { return };
            let item = node.item();
            let pes = index_items(items, kind);
            let old = std::mem::take(items);
            for (mut v, pe) in old.into_iter().zip(pes) {
                if set.members.contains(&pe) {
                    continue;
                }
                if let Some(sub) = set.children.get(&pe) {
                    remove_items(&mut v, &item, sub);
                }
                items.push(v);
            }
        }
        Kind::Leaf => {}
    }
}

/// Makes the named fields on the way to members members themselves (upstream's
/// `EnsureNamedFieldsAreMembers`), so that pruning a struct field removes it as a whole.
fn ensure_named_fields_are_members(set: &Set, node: &Node) -> Set {
    let mut out = Set {
        members: set.members.clone(),
        children: BTreeMap::new(),
    };
    for (pe, child) in &set.children {
        let child_node = match pe {
            Pe::Field(k) => {
                if node.is_named_field(k) {
                    out.members.insert(pe.clone());
                }
                node.field(k).unwrap_or(Node::plain(Child::Free))
            }
            _ => node.item(),
        };
        out.children.insert(
            pe.clone(),
            ensure_named_fields_are_members(child, &child_node),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// managedFields.

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: String,
    set: Set,
}

impl Entry {
    /// Upstream's manager identifier: appliers are one entry whatever the API version.
    fn id(&self) -> (String, String, String, String) {
        let version = if self.operation == "Apply" {
            String::new()
        } else {
            self.api_version.clone()
        };
        (
            self.manager.clone(),
            self.operation.clone(),
            self.subresource.clone(),
            version,
        )
    }

    fn parse(v: &Value) -> Option<Entry> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let set = match v.get("fieldsV1") {
            None | Some(Value::Null) => Set::default(),
            Some(f) => Set::from_fields_v1(f)?,
        };
        Some(Entry {
            manager: s("manager"),
            operation: s("operation"),
            api_version: s("apiVersion"),
            time: v.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: s("subresource"),
            set,
        })
    }

    fn encode(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.set.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }

    fn conflict(&self, path: &[Pe]) -> Conflict {
        Conflict {
            manager: self.manager.clone(),
            operation: self.operation.clone(),
            api_version: self.api_version.clone(),
            time: self.time.clone(),
            subresource: self.subresource.clone(),
            path: path_string(path),
        }
    }
}

/// A field that a server-side apply would change and another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// Its operation: `Apply` or `Update`.
    pub operation: String,
    /// The API version it used.
    pub api_version: String,
    /// When it last changed the object.
    pub time: Option<String>,
    /// The subresource it wrote through, `""` for the main resource.
    pub subresource: String,
    /// The field, as upstream prints it: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="nginx"].image`.
    pub path: String,
}

impl Conflict {
    /// The manager as upstream's conflict messages print it (`printManager`): `"kubectl"` for an
    /// applier, `"kube-controller-manager" using apps/v1 at 2024-01-01T00:00:00Z` for an updater.
    pub fn manager_description(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        if self.operation == "Update" {
            match &self.time {
                Some(t) => format!("{s} using {} at {t}", self.api_version),
                None => format!("{s} using {}", self.api_version),
            }
        } else {
            s
        }
    }
}

fn managed_fields_of(obj: Option<&Value>) -> Option<&Vec<Value>> {
    obj?.get("metadata")?.get("managedFields")?.as_array()
}

fn parse_entries(list: Option<&Vec<Value>>) -> Vec<Entry> {
    list.map(|l| l.iter().filter_map(Entry::parse).collect())
        .unwrap_or_default()
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(Value::Object(m)) = o.get_mut("metadata") {
        m.shift_remove("managedFields");
    }
    o
}

/// Writes the entries, sorted as upstream sorts them, into `obj.metadata.managedFields`.
fn set_managed_fields(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (
            a.operation.as_str(),
            a.time.as_deref().unwrap_or(""),
            a.manager.as_str(),
            a.api_version.as_str(),
            a.subresource.as_str(),
        )
            .cmp(&(
                b.operation.as_str(),
                b.time.as_deref().unwrap_or(""),
                b.manager.as_str(),
                b.api_version.as_str(),
                b.subresource.as_str(),
            ))
    });
    let Value::Object(o) = obj else { return };
    let meta = o.entry("metadata").or_insert_with(|| json!({}));
    let Value::Object(meta) = meta else { return };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            entries.iter().map(Entry::encode).collect(),
        );
    }
}

fn api_version_of(v: &Value) -> String {
    v.get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// The operations.

/// How to run a server-side apply.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions<'a> {
    /// The field manager (`?fieldManager=`).
    pub manager: &'a str,
    /// `?force=true`: take over conflicting fields instead of failing.
    pub force: bool,
    /// The current time, RFC 3339 with seconds (`meta::now()`).
    pub now: &'a str,
    /// The subresource written through (`status`, `scale`), `None` for the main resource.
    pub subresource: Option<&'a str>,
    /// Fields this endpoint resets (upstream's `GetResetFields`, e.g. `[["status"]]` for the main
    /// resource of kinds with a status subresource, `[["spec"], ["metadata", "labels"]]`-like for
    /// `/status`): they are neither owned nor in conflict.
    pub reset_fields: &'a [&'a [&'a str]],
}

/// Server-side apply of the configuration `applied` (already decoded from YAML) to `live`
/// (`None` to create), for an object of `definition`. Returns the new object, whose
/// `metadata.managedFields` records the manager's ownership.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    definition: &str,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, Error> {
    apply_with(
        live,
        applied,
        definition,
        &ApplyOptions {
            manager,
            force,
            now,
            subresource: None,
            reset_fields: &[],
        },
    )
}

/// [`apply()`] with all options.
pub fn apply_with(
    live: Option<&Value>,
    applied: &Value,
    definition: &str,
    opts: &ApplyOptions<'_>,
) -> Result<Value, Error> {
    let Value::Object(config) = applied else {
        return Err(Error::BadRequest(format!(
            "error decoding YAML: cannot unmarshal {} into an object",
            super::json_type(applied)
        )));
    };
    if applied
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|v| !v.is_null())
    {
        return Err(Error::BadRequest(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    let api_version = api_version_of(applied);
    if let Some(expected) = expected_api_version(definition, live)
        && api_version != expected
    {
        return Err(Error::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {api_version}, expected: {expected}"
        )));
    }

    let node = Node::root(definition);
    let mut config_set = Set::default();
    let mut errors = Vec::new();
    field_set(
        applied,
        &node,
        &mut Vec::new(),
        &mut config_set,
        &mut errors,
    );
    if !errors.is_empty() {
        let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
        let (group_version, name, namespace) = (
            if api_version.contains('/') {
                api_version.clone()
            } else {
                format!("/{api_version}")
            },
            crate::meta::name(applied),
            crate::meta::namespace(applied),
        );
        let detail = match errors.as_slice() {
            [one] => one.clone(),
            many => format!("errors:\n  {}", many.join("\n  ")),
        };
        return Err(Error::Internal(format!(
            "failed to create typed patch object ({namespace}/{name}; {group_version}, Kind={kind}): {detail}"
        )));
    }

    let strip = stripped();
    let reset = set_of(opts.reset_fields);
    let new_set = config_set.difference(&strip).recursive_difference(&reset);

    let mut entries = parse_entries(managed_fields_of(live));
    let live_obj = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut merged = merge(Some(&live_obj), Some(applied), &node).unwrap_or_else(|| json!({}));

    let applier = Entry {
        manager: opts.manager.to_string(),
        operation: "Apply".to_string(),
        api_version: api_version.clone(),
        time: Some(opts.now.to_string()),
        subresource: opts.subresource.unwrap_or("").to_string(),
        set: new_set.clone(),
    };
    let applier_id = applier.id();
    let previous = entries
        .iter()
        .position(|e| e.id() == applier_id)
        .map(|i| entries.remove(i));

    // Prune what this manager applied last time, no longer applies and nobody else owns.
    if let Some(last) = previous.as_ref().map(|p| &p.set).filter(|s| !s.is_empty()) {
        let managed = entries
            .iter()
            .fold(new_set.clone(), |acc, e| acc.union(&e.set));
        let last = ensure_named_fields_are_members(last, &node);
        let managed = ensure_named_fields_are_members(&managed, &node);
        remove_items(&mut merged, &node, &last.difference(&managed));
    }

    // Conflicts with the other managers, and their loss of what changed.
    let mut cmp = Comparison::default();
    compare(
        Some(&live_obj),
        Some(&merged),
        &node,
        &mut Vec::new(),
        &mut cmp,
    );
    let cmp = cmp.filter(&strip, &reset);
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts = Vec::new();
    for e in &entries {
        let theirs = e.set.intersection(&changed);
        conflicts.extend(theirs.paths().iter().map(|p| e.conflict(p)));
    }
    if !opts.force && !conflicts.is_empty() {
        return Err(Error::Conflict(conflicts));
    }
    for e in &mut entries {
        e.set = e.set.difference(&changed).difference(&cmp.removed);
    }

    let mut applier = applier;
    if cmp.is_same()
        && let Some(p) = &previous
    {
        applier.time = p.time.clone();
    }
    entries.push(applier);
    set_managed_fields(&mut merged, entries);
    Ok(merged)
}

/// The `apiVersion` an apply configuration for `definition` must carry: the live object's, else
/// the registered kind's.
fn expected_api_version(definition: &str, live: Option<&Value>) -> Option<String> {
    if let Some(v) = live.map(api_version_of).filter(|v| !v.is_empty()) {
        return Some(v);
    }
    schema::top_level_kinds()
        .iter()
        .find(|k| k.definition == definition)
        .map(|k| {
            if k.group.is_empty() {
                k.version.to_string()
            } else {
                format!("{}/{}", k.group, k.version)
            }
        })
}

/// How to record an update.
#[derive(Clone, Copy, Debug)]
pub struct UpdateOptions<'a> {
    /// The field manager (`?fieldManager=`, else derived from the user agent by the caller).
    pub manager: &'a str,
    /// The API version of the request.
    pub api_version: &'a str,
    /// The current time, RFC 3339 with seconds.
    pub now: &'a str,
    /// The subresource written through, `None` for the main resource.
    pub subresource: Option<&'a str>,
    /// Fields this endpoint resets; see [`ApplyOptions::reset_fields`].
    pub reset_fields: &'a [&'a [&'a str]],
}

/// Records a create, update or non-apply patch: the fields that changed between `old` (`None`
/// for a create) and `new` become owned by `manager` with operation `Update`, and other managers
/// lose them. Returns `new` with `metadata.managedFields` set.
///
/// As upstream, `managedFields` sent in `new` replace the stored ones (`[{}]` clears them) unless
/// they are absent or empty, in which case `old`'s are kept.
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &Value,
    definition: &str,
    manager: &str,
    api_version: &str,
    now: &str,
) -> Value {
    update_managed_fields_with(
        old,
        new,
        definition,
        &UpdateOptions {
            manager,
            api_version,
            now,
            subresource: None,
            reset_fields: &[],
        },
    )
}

/// [`update_managed_fields`] with all options.
pub fn update_managed_fields_with(
    old: Option<&Value>,
    new: &Value,
    definition: &str,
    opts: &UpdateOptions<'_>,
) -> Value {
    let sent = managed_fields_of(Some(new)).filter(|l| !l.is_empty());
    let mut entries = match sent {
        Some(list) if opts.subresource.is_none() => parse_entries(Some(list)),
        _ => parse_entries(managed_fields_of(old)),
    };
    let node = Node::root(definition);
    let old_obj = old.map(without_managed_fields).unwrap_or_else(|| json!({}));
    let mut new_obj = without_managed_fields(new);

    let mut cmp = Comparison::default();
    compare(
        Some(&old_obj),
        Some(&new_obj),
        &node,
        &mut Vec::new(),
        &mut cmp,
    );
    let cmp = cmp.filter(&stripped(), &set_of(opts.reset_fields));
    if !cmp.is_same() {
        let changed = cmp.modified.union(&cmp.added);
        for e in &mut entries {
            e.set = e.set.difference(&changed).difference(&cmp.removed);
        }
        let mine = Entry {
            manager: opts.manager.to_string(),
            operation: "Update".to_string(),
            api_version: opts.api_version.to_string(),
            time: Some(opts.now.to_string()),
            subresource: opts.subresource.unwrap_or("").to_string(),
            set: changed.difference(&cmp.removed),
        };
        match entries.iter_mut().find(|e| e.id() == mine.id()) {
            Some(e) => {
                e.set = e.set.union(&mine.set);
                e.time = mine.time;
            }
            None => entries.push(mine),
        }
    }
    set_managed_fields(&mut new_obj, entries);
    new_obj
}

#[cfg(test)]
pub(super) mod internals {
    //! Access for the tests of the module.
    use super::*;

    /// The `FieldsV1` of the fields set in `value`.
    pub fn fields_of(value: &Value, definition: &str) -> Value {
        let mut set = Set::default();
        field_set(
            value,
            &Node::root(definition),
            &mut Vec::new(),
            &mut set,
            &mut Vec::new(),
        );
        set.difference(&stripped()).to_fields_v1()
    }

    /// Parses and re-encodes `FieldsV1`.
    pub fn roundtrip_fields_v1(v: &Value) -> Value {
        Set::from_fields_v1(v)
            .expect("valid FieldsV1")
            .to_fields_v1()
    }
}
