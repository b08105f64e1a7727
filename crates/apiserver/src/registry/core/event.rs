//! Events (`v1`): the legacy validation upstream applies to `v1` events (the event's namespace
//! matches its involved object's; events with an `eventTime` name their reporter, action and
//! reason), and the field selectors `kubectl describe` uses to find an object's events.

use apimachinery::validation::{ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::Event;

use crate::registry::{
    Strategy,
    common::{self, str_of},
};

/// The strategy of `events` in the core group.
pub struct EventStrategy;

/// Upstream's length limits of event fields.
const REPORTING_INSTANCE_LIMIT: usize = 128;
const ACTION_LIMIT: usize = 128;
const REASON_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

fn validate_event(ev: &Event) -> ErrorList {
    let mut errors = Vec::new();
    let ns = str_of(&ev.metadata.namespace);
    let involved_ns = str_of(&ev.involved_object.namespace);
    let involved_path = Path::new("involvedObject").child("namespace");
    let mismatch = || {
        FieldError::invalid(
            &involved_path,
            involved_ns,
            "does not match event.namespace",
        )
    };
    if ev.event_time.is_none() {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errors.push(mismatch());
            }
        } else if ns != involved_ns {
            errors.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errors.push(mismatch());
        }
        let controller = str_of(&ev.reporting_component);
        let controller_path = Path::new("reportingComponent");
        if controller.is_empty() {
            errors.push(FieldError::required(&controller_path, ""));
        }
        errors.extend(common::qualified_name(controller, &controller_path));
        for (field, value, limit) in [
            (
                "reportingInstance",
                str_of(&ev.reporting_instance),
                REPORTING_INSTANCE_LIMIT,
            ),
            ("action", str_of(&ev.action), ACTION_LIMIT),
            ("reason", str_of(&ev.reason), REASON_LIMIT),
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
        if str_of(&ev.message).len() > NOTE_LIMIT {
            errors.push(FieldError::invalid(
                &Path::new("message"),
                "",
                format!("can have at most {NOTE_LIMIT} characters"),
            ));
        }
    }
    errors.extend(common::dns_subdomain(ns, &Path::new("namespace")));
    errors
}

impl Strategy for EventStrategy {
    type Object = Event;
    const FIELDS: &'static [&'static str] = &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];

    fn validate(&self, ev: &Event) -> ErrorList {
        validate_event(ev)
    }
}
