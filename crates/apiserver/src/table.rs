//! Server-side printing: objects and lists as `meta.k8s.io/v1` Tables (with the printers'
//! columns) or as PartialObjectMetadata.

use apimachinery::resources::ResourceInfo;
use serde_json::{Value, json};

use crate::printers;

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// The object's metadata as PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    pub fn parse(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// The PartialObjectMetadata of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// A PartialObjectMetadataList of objects.
pub fn partial_metadata_list<'a>(
    objects: impl Iterator<Item = &'a Value>,
    list_meta: Value,
) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "items": objects.map(partial_metadata).collect::<Vec<_>>(),
    })
}

/// A Table of objects of one kind.
pub fn table<'a>(
    info: &ResourceInfo,
    objects: impl Iterator<Item = &'a Value>,
    list_meta: Value,
    include: IncludeObject,
) -> Value {
    let now = jiff::Timestamp::now();
    let columns: Vec<Value> = printers::columns(info.group, info.kind)
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .map(|obj| {
            let mut row = json!({"cells": printers::cells(info.group, info.kind, obj, now)});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(obj),
                IncludeObject::Object => row["object"] = obj.clone(),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}
