//! Table printers: the columns `kubectl get` shows for each kind and the cells of one row, as
//! upstream's `pkg/printers/internalversion` prints them.
//!
//! Each module covers one group or family of kinds and lists its [`Printer`]s; [`format`]
//! holds the formatting they share. Server-side tables are always "wide": every row carries
//! the cells of the priority-1 columns too, and kubectl hides those unless `-o wide`. A kind
//! without a printer gets upstream's default table (`NAME`, `CREATED AT`).

use jiff::Timestamp;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

mod apps;
mod batch;
mod core;
mod event;
mod format;
mod network;
mod node;
mod pod;
mod policy;
mod rbac;
mod storage;

/// The definition whose field docs describe the NAME and AGE columns.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// What a column shows, as upstream words it.
#[derive(Clone, Copy, Debug)]
pub enum Description {
    /// A fixed sentence.
    Text(&'static str),
    /// The OpenAPI doc of a field: definition name and property (upstream's `SwaggerDoc()`).
    Field(&'static str, &'static str),
}

impl Description {
    /// The description's text.
    pub fn text(self) -> &'static str {
        match self {
            Description::Text(text) => text,
            Description::Field(definition, property) => {
                apimachinery::schema::definition(definition)
                    .and_then(|d| d.pointer(&format!("/properties/{property}/description")))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            }
        }
    }
}

impl Serialize for Description {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.text())
    }
}

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The header, e.g. `Ready` (kubectl upper-cases it).
    pub name: &'static str,
    /// `string`, `integer`, `date`, `number` or `boolean`.
    pub type_: &'static str,
    /// `name` for the name column, empty otherwise.
    pub format: &'static str,
    /// What the column shows.
    pub description: Description,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: i32,
}

/// A column shown always.
const fn col(name: &'static str, type_: &'static str, description: Description) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

/// A column shown only with `-o wide`.
const fn wide(name: &'static str, type_: &'static str, description: Description) -> Column {
    Column {
        priority: 1,
        ..col(name, type_, description)
    }
}

/// A fixed description.
const fn text(text: &'static str) -> Description {
    Description::Text(text)
}

/// The doc of a field of a definition.
const fn doc(definition: &'static str, property: &'static str) -> Description {
    Description::Field(definition, property)
}

/// The NAME column.
const NAME: Column = Column {
    format: "name",
    ..col("Name", "string", doc(OBJECT_META, "name"))
};
/// The AGE column.
const AGE: Column = col("Age", "string", doc(OBJECT_META, "creationTimestamp"));
/// The CONTAINERS column of workloads (wide).
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    text("Names of each container in the template."),
);
/// The IMAGES column of workloads (wide).
const IMAGES: Column = wide(
    "Images",
    "string",
    text("Images referenced by each container in the template."),
);

/// The printer of one kind: its columns and how to fill one row.
pub struct Printer {
    /// API group, `""` for core.
    pub group: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// The columns, in order.
    pub columns: &'static [Column],
    /// The cells of one object's row, one per column.
    pub cells: fn(&Value, Timestamp) -> Vec<Value>,
}

/// Upstream's default table for kinds without a printer.
const DEFAULT: Printer = Printer {
    group: "",
    kind: "",
    columns: &[
        NAME,
        col("Created At", "date", doc(OBJECT_META, "creationTimestamp")),
    ],
    cells: default_cells,
};

/// Every module's printers.
const ALL: &[&[Printer]] = &[
    core::PRINTERS,
    pod::PRINTERS,
    node::PRINTERS,
    event::PRINTERS,
    network::PRINTERS,
    apps::PRINTERS,
    batch::PRINTERS,
    storage::PRINTERS,
    rbac::PRINTERS,
    policy::PRINTERS,
];

/// The printer of a kind (group `""` is core), or the default one.
pub fn printer(group: &str, kind: &str) -> &'static Printer {
    ALL.iter()
        .flat_map(|printers| printers.iter())
        .find(|p| p.group == group && p.kind == kind)
        .unwrap_or(&DEFAULT)
}

/// The columns of a kind (group `""` is core).
pub fn columns(group: &str, kind: &str) -> &'static [Column] {
    printer(group, kind).columns
}

/// The cells of one row of a kind's table.
pub fn cells(group: &str, kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    (printer(group, kind).cells)(obj, now)
}

/// The default table's row: the name and the creation time in RFC 3339 (UTC, seconds).
fn default_cells(obj: &Value, _now: Timestamp) -> Vec<Value> {
    let created = format::timestamp(obj.pointer("/metadata/creationTimestamp"))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![format::name(obj), json!(created)]
}

#[cfg(test)]
mod tests;
