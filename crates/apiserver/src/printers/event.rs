//! The Event printer, for core/v1 Events and events.k8s.io/v1 Events alike (upstream serves
//! both from one internal type, so both print the same).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    Printer, col, doc,
    format::{has, int_at, name, since, str_at},
    wide,
};

const EVENT: &str = "io.k8s.api.core.v1.Event";
const OBJECT_REFERENCE: &str = "io.k8s.api.core.v1.ObjectReference";

/// The columns of both Event kinds.
const COLUMNS: &[super::Column] = &[
    col("Last Seen", "string", doc(EVENT, "lastTimestamp")),
    col("Type", "string", doc(EVENT, "type")),
    col("Reason", "string", doc(EVENT, "reason")),
    col("Object", "string", doc(EVENT, "involvedObject")),
    wide("Subobject", "string", doc(OBJECT_REFERENCE, "fieldPath")),
    wide("Source", "string", doc(EVENT, "source")),
    col("Message", "string", doc(EVENT, "message")),
    wide("First Seen", "string", doc(EVENT, "firstTimestamp")),
    wide("Count", "string", doc(EVENT, "count")),
    super::Column {
        format: "name",
        ..wide("Name", "string", doc(super::OBJECT_META, "name"))
    },
];

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Event",
        columns: COLUMNS,
        cells: core_event,
    },
    Printer {
        group: "events.k8s.io",
        kind: "Event",
        columns: COLUMNS,
        cells: events_event,
    },
];

/// Where each field upstream's printer reads lives in one API version of Event.
struct Fields {
    /// The involved object (`involvedObject` / `regarding`).
    regarding: &'static str,
    /// The message (`message` / `note`).
    message: &'static str,
    /// The legacy source (`source` / `deprecatedSource`).
    source: &'static str,
    /// The reporting controller (`reportingComponent` / `reportingController`).
    controller: &'static str,
    /// The first time seen (`firstTimestamp` / `deprecatedFirstTimestamp`).
    first: &'static str,
    /// The last time seen (`lastTimestamp` / `deprecatedLastTimestamp`).
    last: &'static str,
    /// The count (`count` / `deprecatedCount`).
    count: &'static str,
}

const CORE: Fields = Fields {
    regarding: "/involvedObject",
    message: "/message",
    source: "/source",
    controller: "/reportingComponent",
    first: "/firstTimestamp",
    last: "/lastTimestamp",
    count: "/count",
};

const EVENTS: Fields = Fields {
    regarding: "/regarding",
    message: "/note",
    source: "/deprecatedSource",
    controller: "/reportingController",
    first: "/deprecatedFirstTimestamp",
    last: "/deprecatedLastTimestamp",
    count: "/deprecatedCount",
};

fn core_event(obj: &Value, now: Timestamp) -> Vec<Value> {
    event(obj, &CORE, now)
}

fn events_event(obj: &Value, now: Timestamp) -> Vec<Value> {
    event(obj, &EVENTS, now)
}

/// The row of upstream's `printEvent`.
fn event(obj: &Value, f: &Fields, now: Timestamp) -> Vec<Value> {
    let first = if has(obj, f.first) {
        since(obj.pointer(f.first), now)
    } else {
        since(obj.pointer("/eventTime"), now)
    };
    let mut last = if has(obj, f.last) {
        since(obj.pointer(f.last), now)
    } else {
        first.clone()
    };
    let mut count = int_at(obj, f.count);
    if has(obj, "/series") {
        last = since(obj.pointer("/series/lastObservedTime"), now);
        count = int_at(obj, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(obj, &format!("{}/kind", f.regarding)).to_lowercase();
    let target = match str_at(obj, &format!("{}/name", f.regarding)) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = first_non_empty(
        str_at(obj, &format!("{}/component", f.source)),
        str_at(obj, f.controller),
    );
    let instance = first_non_empty(
        str_at(obj, &format!("{}/host", f.source)),
        str_at(obj, "/reportingInstance"),
    );
    let source = match instance {
        "" => component.to_string(),
        instance => format!("{component}, {instance}"),
    };
    vec![
        json!(last),
        json!(str_at(obj, "/type")),
        json!(str_at(obj, "/reason")),
        json!(target),
        json!(str_at(obj, &format!("{}/fieldPath", f.regarding))),
        json!(source),
        json!(str_at(obj, f.message).trim()),
        json!(first),
        json!(count),
        name(obj),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}
