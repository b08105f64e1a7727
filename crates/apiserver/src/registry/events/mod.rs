//! Strategies of the `events.k8s.io` group: `events.k8s.io/v1` Events, which upstream
//! validates strictly (an `eventTime`, a reporting controller and instance, an action, a
//! reason and a `Normal` or `Warning` type; no deprecated fields). Error paths use the names
//! of upstream's internal type (`involvedObject`, `message`, `firstTimestamp`), as upstream's do.

use apimachinery::validation::{ErrorList, FieldError, Path};
use k8s_openapi::api::events::v1::Event;

use crate::registry::{
    Strategy,
    common::{self, str_of},
};

/// The strategy of `events` in `events.k8s.io`.
pub struct EventStrategy;

impl Strategy for EventStrategy {
    type Object = Event;
    const FIELDS: &'static [&'static str] = &[
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "type",
    ];

    fn validate(&self, ev: &Event) -> ErrorList {
        let mut errors = Vec::new();
        let ns = str_of(&ev.metadata.namespace);
        let regarding_ns = ev.regarding.as_ref().map_or("", |r| str_of(&r.namespace));
        if regarding_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errors.push(FieldError::invalid(
                &Path::new("involvedObject").child("namespace"),
                regarding_ns,
                "does not match event.namespace",
            ));
        }
        let controller = str_of(&ev.reporting_controller);
        if controller.is_empty() {
            errors.push(FieldError::required(&Path::new("reportingController"), ""));
        }
        errors.extend(common::qualified_name(
            controller,
            &Path::new("reportingController"),
        ));
        for (field, value, limit) in [
            ("reportingInstance", str_of(&ev.reporting_instance), 128),
            ("action", str_of(&ev.action), 128),
            ("reason", str_of(&ev.reason), 128),
        ] {
            if value.is_empty() {
                errors.push(FieldError::required(&Path::new(field), ""));
            }
            if value.len() > limit {
                errors.push(FieldError::invalid(
                    &Path::new(field),
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_of(&ev.note).len() > 1024 {
            errors.push(FieldError::invalid(
                &Path::new("message"),
                "",
                "can have at most 1024 characters",
            ));
        }
        if ev.event_time.is_none() {
            errors.push(FieldError::required(&Path::new("eventTime"), ""));
        }
        let t = str_of(&ev.type_);
        if t != "Normal" && t != "Warning" {
            errors.push(FieldError::invalid(
                &Path::new("type"),
                "",
                format!("has invalid value: {t}"),
            ));
        }
        for (field, set) in [
            ("firstTimestamp", ev.deprecated_first_timestamp.is_some()),
            ("lastTimestamp", ev.deprecated_last_timestamp.is_some()),
            ("count", ev.deprecated_count.unwrap_or(0) != 0),
            (
                "source",
                ev.deprecated_source
                    .as_ref()
                    .is_some_and(|s| !common::is_empty(&s.component) || !common::is_empty(&s.host)),
            ),
        ] {
            if set {
                errors.push(FieldError::invalid(
                    &Path::new(field),
                    "",
                    "needs to be unset",
                ));
            }
        }
        errors
    }
}
