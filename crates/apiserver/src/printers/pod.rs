//! Printers of Pods and PodTemplates: readiness, the aggregate STATUS (init progress,
//! container waiting and termination reasons, Terminating, SchedulingGated) and restarts with
//! the time of the last one, sidecars (restartable init containers) counted as upstream does.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    AGE, NAME, Printer, col, doc,
    format::{
        age, array_at, bool_at, condition_true, containers, format_labels, has, human_duration,
        int_at, name, nanos_between, or_none, str_at, timestamp,
    },
    text, wide,
};

const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const POD_STATUS: &str = "io.k8s.api.core.v1.PodStatus";

/// The printers of this module.
pub const PRINTERS: &[Printer] = &[
    Printer {
        group: "",
        kind: "Pod",
        columns: &[
            NAME,
            col(
                "Ready",
                "string",
                text("The aggregate readiness state of this pod for accepting traffic."),
            ),
            col(
                "Status",
                "string",
                text("The aggregate status of the containers in this pod."),
            ),
            col(
                "Restarts",
                "string",
                text(
                    "The number of times the containers in this pod have been restarted and \
                     when the last container in this pod has restarted.",
                ),
            ),
            AGE,
            wide("IP", "string", doc(POD_STATUS, "podIP")),
            wide("Node", "string", doc(POD_SPEC, "nodeName")),
            wide(
                "Nominated Node",
                "string",
                doc(POD_STATUS, "nominatedNodeName"),
            ),
            wide("Readiness Gates", "string", doc(POD_SPEC, "readinessGates")),
        ],
        cells: pod,
    },
    Printer {
        group: "",
        kind: "PodTemplate",
        columns: &[
            NAME,
            col(
                "Containers",
                "string",
                text("Names of each container in the template."),
            ),
            col(
                "Images",
                "string",
                text("Images referenced by each container in the template."),
            ),
            col(
                "Pod Labels",
                "string",
                text("The labels for the pod template."),
            ),
        ],
        cells: pod_template,
    },
];

/// Restarts summed over container statuses, with the latest restart.
#[derive(Default)]
struct Restarts {
    /// The number of restarts.
    count: i64,
    /// When the last restarted container last terminated.
    last: Option<Timestamp>,
}

impl Restarts {
    /// Adds one container status's restarts and last termination.
    fn add(&mut self, status: &Value) {
        self.count += int_at(status, "/restartCount");
        if let Some(finished) = timestamp(status.pointer("/lastState/terminated/finishedAt"))
            && self.last.is_none_or(|last| last < finished)
        {
            self.last = Some(finished);
        }
    }

    /// The RESTARTS cell: `3`, or `3 (5m ago)` when the last restart's time is known.
    fn cell(&self, now: Timestamp) -> String {
        match self.last {
            Some(last) if self.count != 0 => format!(
                "{} ({} ago)",
                self.count,
                human_duration(nanos_between(last, now))
            ),
            _ => self.count.to_string(),
        }
    }
}

/// Whether the init container of this name restarts always (a sidecar).
fn is_sidecar(pod: &Value, container: &str) -> bool {
    array_at(pod, "/spec/initContainers")
        .iter()
        .find(|c| str_at(c, "/name") == container)
        .is_some_and(|c| str_at(c, "/restartPolicy") == "Always")
}

/// What the pod's phase and status reason say, before looking at containers.
fn pod_reason(pod: &Value) -> String {
    let mut reason = match str_at(pod, "/status/reason") {
        "" => str_at(pod, "/status/phase"),
        reason => reason,
    };
    for c in array_at(pod, "/status/conditions") {
        if str_at(c, "/type") == "PodScheduled" && str_at(c, "/reason") == "SchedulingGated" {
            reason = "SchedulingGated";
        }
    }
    reason.to_string()
}

/// The reason a terminated container gives: its reason, else its signal or exit code.
fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    match str_at(terminated, "/reason") {
        "" => match int_at(terminated, "/signal") {
            0 => format!("{prefix}ExitCode:{}", int_at(terminated, "/exitCode")),
            signal => format!("{prefix}Signal:{signal}"),
        },
        reason => format!("{prefix}{reason}"),
    }
}

/// The row of upstream's `printPod`.
fn pod(obj: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = array_at(obj, "/spec/initContainers");
    let sidecars = init_specs
        .iter()
        .filter(|c| str_at(c, "/restartPolicy") == "Always")
        .count();
    let total = array_at(obj, "/spec/containers").len() + sidecars;
    let mut ready = 0;
    let mut reason = pod_reason(obj);
    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();

    let mut initializing = false;
    for (i, c) in array_at(obj, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        restarts.add(c);
        let sidecar = is_sidecar(obj, str_at(c, "/name"));
        if sidecar {
            sidecar_restarts.add(c);
        }
        let terminated = obj_at(c, "/state/terminated");
        if terminated.is_some_and(|t| int_at(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && bool_at(c, "/started", false) {
            if bool_at(c, "/ready", false) {
                ready += 1;
            }
            continue;
        }
        let waiting = str_at(c, "/state/waiting/reason");
        reason = match terminated {
            Some(t) => terminated_reason(t, "Init:"),
            None if !waiting.is_empty() && waiting != "PodInitializing" => {
                format!("Init:{waiting}")
            }
            None => format!("Init:{i}/{}", init_specs.len()),
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(obj, "/status/conditions", "Initialized") {
        restarts = sidecar_restarts;
        let mut has_running = false;
        for c in array_at(obj, "/status/containerStatuses").iter().rev() {
            restarts.add(c);
            let waiting = str_at(c, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = obj_at(c, "/state/terminated") {
                reason = terminated_reason(t, "");
            } else if bool_at(c, "/ready", false) && has(c, "/state/running") {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(obj, "/status/conditions", "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if has(obj, "/metadata/deletionTimestamp") {
        if str_at(obj, "/status/reason") == "NodeLost" {
            reason = "Unknown".to_string();
        } else if !matches!(str_at(obj, "/status/phase"), "Succeeded" | "Failed") {
            reason = "Terminating".to_string();
        }
    }

    vec![
        name(obj),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts.cell(now)),
        age(obj, now),
        json!(or_none(str_at(obj, "/status/podIPs/0/ip"))),
        json!(or_none(str_at(obj, "/spec/nodeName"))),
        json!(or_none(str_at(obj, "/status/nominatedNodeName"))),
        json!(readiness_gates(obj)),
    ]
}

/// The object at a pointer, if present and not null (a non-nil Go pointer).
fn obj_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a Value> {
    obj.pointer(pointer).filter(|v| !v.is_null())
}

/// The READINESS GATES cell: how many gates' conditions are `True`, `<none>` without gates.
fn readiness_gates(pod: &Value) -> String {
    let gates = array_at(pod, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let passed = gates
        .iter()
        .filter(|g| condition_true(pod, "/status/conditions", str_at(g, "/conditionType")))
        .count();
    format!("{passed}/{}", gates.len())
}

/// The row of upstream's `printPodTemplate`.
fn pod_template(obj: &Value, _now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(obj.pointer("/template/spec"));
    vec![
        name(obj),
        names,
        images,
        json!(format_labels(obj.pointer("/template/metadata/labels"))),
    ]
}
