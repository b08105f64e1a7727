//! Pods: pod-only defaults (requests from limits, service links, host-network ports, the
//! `default` service account that upstream's admission assigns), a `Pending` status with the
//! QoS class on create, and upstream's rule that a pod's spec is immutable except images,
//! `activeDeadlineSeconds`, added tolerations and removed scheduling gates. On create, the
//! DefaultTolerationSeconds admission adds 300 s tolerations of unready and unreachable nodes.

use std::collections::BTreeMap;

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::core::v1::{Container, Pod, PodCondition, PodSpec, PodStatus, Toleration};

use super::pod_spec::{self, PodSpecOptions};
use crate::registry::{
    Strategy,
    common::{self, go_diff, is_empty, str_of, to_json},
};

/// The strategy of `pods`.
pub struct PodStrategy;

/// The annotation of mirror (static) pods.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The annotation ranking pods for scale-down.
const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The fields a pod update may change, as upstream lists them in its error.
const UPDATABLE_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn default_requests_from_limits(containers: &mut [Container]) {
    for c in containers {
        let Some(r) = &mut c.resources else { continue };
        let Some(limits) = &r.limits else { continue };
        let requests = r.requests.get_or_insert_with(BTreeMap::new);
        for (k, q) in limits {
            requests.entry(k.clone()).or_insert_with(|| q.clone());
        }
    }
}

fn default_host_ports(containers: &mut [Container]) {
    for c in containers {
        for port in c.ports.iter_mut().flatten() {
            if port.host_port.unwrap_or(0) == 0 {
                port.host_port = Some(port.container_port);
            }
        }
    }
}

/// Upstream `ComputePodQOS`: `Guaranteed` when every container limits cpu and memory and
/// requests equal limits, `BestEffort` without any cpu or memory request or limit, else
/// `Burstable`.
pub fn compute_qos(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<String, v::Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, v::Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let all = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in all {
        let r = c.resources.clone().unwrap_or_default();
        for (name, q) in r.requests.iter().flatten() {
            if name != "cpu" && name != "memory" {
                continue;
            }
            if let Some(q) = common::parse_quantity(q)
                .ok()
                .filter(|q| *q > v::Quantity::zero())
            {
                let sum = requests.get(name).map_or(q, |prev| prev.add(&q));
                requests.insert(name.clone(), sum);
            }
        }
        let mut found = (false, false);
        for (name, q) in r.limits.iter().flatten() {
            if name != "cpu" && name != "memory" {
                continue;
            }
            if let Some(q) = common::parse_quantity(q)
                .ok()
                .filter(|q| *q > v::Quantity::zero())
            {
                if name == "cpu" {
                    found.0 = true;
                } else {
                    found.1 = true;
                }
                let sum = limits.get(name).map_or(q, |prev| prev.add(&q));
                limits.insert(name.clone(), sum);
            }
        }
        if !(found.0 && found.1) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests.iter().any(|(k, req)| limits.get(k) != Some(req)) {
        guaranteed = false;
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The taint of a node whose Ready condition is False.
const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// The taint of a node whose kubelet stopped posting status.
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// How long a pod stays on an unready or unreachable node by default
/// (`--default-not-ready-toleration-seconds`, `--default-unreachable-toleration-seconds`).
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Upstream's DefaultTolerationSeconds admission plugin: a pod that does not already tolerate
/// the `NoExecute` not-ready and unreachable taints tolerates each for 300 seconds.
fn default_toleration_seconds(spec: &mut PodSpec) {
    let tolerates = |tolerations: &[Toleration], key: &str| {
        tolerations.iter().any(|t| {
            let t_key = t.key.as_deref().unwrap_or_default();
            let effect = t.effect.as_deref().unwrap_or_default();
            (t_key == key || t_key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
        if !tolerates(tolerations, key) {
            tolerations.push(Toleration {
                key: Some(key.to_string()),
                operator: Some("Exists".to_string()),
                effect: Some("NoExecute".to_string()),
                toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                value: None,
            });
        }
    }
}

fn validate_image_whitespace(containers: &[Container], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let image = str_of(&c.image);
        if image.len() != image.trim().len() {
            errors.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    errors
}

/// Validation of a pod's metadata-dependent rules and spec (upstream
/// `validatePodMetadataAndSpec`, without the generic metadata checks).
fn validate_pod_metadata_and_spec(pod: &Pod) -> ErrorList {
    let mut errors = Vec::new();
    let spec_path = Path::new("spec");
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    let annotations_path = Path::new("metadata").child("annotations");
    if let Some(value) = annotations.get(MIRROR_ANNOTATION)
        && is_empty(&spec.node_name)
    {
        errors.push(FieldError::invalid(
            &annotations_path.key(MIRROR_ANNOTATION),
            value.as_str(),
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(cost) = annotations.get(DELETION_COST_ANNOTATION)
        && cost.parse::<i32>().is_err()
    {
        errors.push(FieldError::invalid(
            &annotations_path.key(DELETION_COST_ANNOTATION),
            cost.as_str(),
            "must be a 32bit integer",
        ));
    }
    errors.extend(pod_spec::validate_pod_spec(
        spec,
        Some(&pod.metadata),
        &spec_path,
        PodSpecOptions {
            resource_is_pod: true,
        },
    ));
    errors.extend(validate_image_whitespace(
        &spec.containers,
        &spec_path.child("containers"),
    ));
    errors.extend(validate_image_whitespace(
        spec.init_containers.as_deref().unwrap_or_default(),
        &spec_path.child("initContainers"),
    ));
    errors
}

/// Upstream `ValidateContainerUpdates`; `true` when the lists differ in length, which ends the
/// validation of the update.
fn validate_container_updates(
    new: &[Container],
    old: &[Container],
    path: &Path,
    errors: &mut ErrorList,
) -> bool {
    if new.len() != old.len() {
        errors.push(FieldError::forbidden(
            path,
            "pod updates may not add or remove containers",
        ));
        return true;
    }
    for (i, c) in new.iter().enumerate() {
        let image = str_of(&c.image);
        if image.is_empty() {
            errors.push(FieldError::required(&path.index(i).child("image"), ""));
        }
        if image.trim().len() != image.len() {
            errors.push(FieldError::invalid(
                &path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    false
}

/// Upstream `validateOnlyAddedTolerations`: existing tolerations may only change their
/// `tolerationSeconds`.
fn validate_only_added_tolerations(
    new: &[Toleration],
    old: &[Toleration],
    path: &Path,
) -> ErrorList {
    for o in old {
        let found = new.iter().any(|n| {
            let mut o = o.clone();
            o.toleration_seconds = n.toleration_seconds;
            o == *n
        });
        if !found {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    pod_spec::validate_tolerations(new, path)
}

impl Strategy for PodStrategy {
    type Object = Pod;
    const FIELDS: &'static [&'static str] = &[
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ];

    fn default(&self, pod: &mut Pod) {
        let spec = pod.spec.get_or_insert_with(Default::default);
        default_requests_from_limits(&mut spec.containers);
        if let Some(init) = &mut spec.init_containers {
            default_requests_from_limits(init);
        }
        spec.enable_service_links.get_or_insert(true);
        if spec.host_network == Some(true) {
            default_host_ports(&mut spec.containers);
            default_host_ports(spec.init_containers.as_deref_mut().unwrap_or_default());
        }
        // The ServiceAccount admission plugin's default.
        if is_empty(&spec.service_account_name) && is_empty(&spec.service_account) {
            spec.service_account_name = Some("default".to_string());
        }
        pod_spec::default_pod_spec(spec);
    }

    fn prepare_for_create(&self, pod: &mut Pod) {
        // Upstream defaults at decode time, before this; the QoS class needs the requests
        // defaulted from limits.
        self.default(pod);
        let spec = pod.spec.get_or_insert_with(Default::default);
        // Pod-level resources are an alpha feature in 1.33: dropped.
        spec.resources = None;
        default_toleration_seconds(spec);
        let mut status = PodStatus {
            phase: Some("Pending".to_string()),
            qos_class: Some(compute_qos(spec).to_string()),
            ..Default::default()
        };
        if spec
            .scheduling_gates
            .as_ref()
            .is_some_and(|g| !g.is_empty())
        {
            status.conditions = Some(vec![PodCondition {
                type_: "PodScheduled".to_string(),
                status: "False".to_string(),
                reason: Some("SchedulingGated".to_string()),
                message: Some(
                    "Scheduling is blocked due to non-empty scheduling gates".to_string(),
                ),
                ..Default::default()
            }]);
        }
        pod.status = Some(status);
    }

    fn prepare_for_update(&self, new: &mut Pod, old: &Pod) {
        if old
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .is_none()
            && let Some(spec) = &mut new.spec
        {
            spec.resources = None;
        }
    }

    fn validate(&self, pod: &Pod) -> ErrorList {
        let mut errors = validate_pod_metadata_and_spec(pod);
        let spec_path = Path::new("spec");
        if let Some(spec) = &pod.spec {
            if spec
                .ephemeral_containers
                .as_ref()
                .is_some_and(|e| !e.is_empty())
            {
                errors.push(FieldError::forbidden(
                    &spec_path.child("ephemeralContainers"),
                    "cannot be set on create",
                ));
            }
            if !is_empty(&spec.node_name)
                && spec
                    .scheduling_gates
                    .as_ref()
                    .is_some_and(|g| !g.is_empty())
            {
                errors.push(FieldError::forbidden(
                    &spec_path.child("nodeName"),
                    "cannot be set until all schedulingGates have been cleared",
                ));
            }
        }
        errors
    }

    fn validate_update(&self, new_pod: &Pod, old_pod: &Pod) -> ErrorList {
        let mut errors = validate_pod_metadata_and_spec(new_pod);
        let spec_path = Path::new("spec");
        let default_spec = PodSpec::default();
        let new = new_pod.spec.as_ref().unwrap_or(&default_spec);
        let old = old_pod.spec.as_ref().unwrap_or(&default_spec);

        if validate_container_updates(
            &new.containers,
            &old.containers,
            &spec_path.child("containers"),
            &mut errors,
        ) {
            return errors;
        }
        let new_init = new.init_containers.as_deref().unwrap_or_default();
        let old_init = old.init_containers.as_deref().unwrap_or_default();
        if validate_container_updates(
            new_init,
            old_init,
            &spec_path.child("initContainers"),
            &mut errors,
        ) {
            return errors;
        }

        let ads_path = spec_path.child("activeDeadlineSeconds");
        match (new.active_deadline_seconds, old.active_deadline_seconds) {
            (Some(n), _) if !(0..=i32::MAX as i64).contains(&n) => {
                errors.push(FieldError::invalid(
                    &ads_path,
                    n,
                    v::inclusive_range_error(0, i32::MAX as i64),
                ));
                return errors;
            }
            (Some(n), Some(o)) if o < n => {
                errors.push(FieldError::invalid(
                    &ads_path,
                    n,
                    "must be less than or equal to previous value",
                ));
                return errors;
            }
            (None, Some(_)) => errors.push(FieldError::invalid(
                &ads_path,
                serde_json::Value::Null,
                "must not update from a positive integer to nil value",
            )),
            _ => {}
        }

        errors.extend(validate_only_added_tolerations(
            new.tolerations.as_deref().unwrap_or_default(),
            old.tolerations.as_deref().unwrap_or_default(),
            &spec_path.child("tolerations"),
        ));

        let old_gates: Vec<&str> = old
            .scheduling_gates
            .iter()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        for (i, gate) in new.scheduling_gates.iter().flatten().enumerate() {
            if !old_gates.contains(&gate.name.as_str()) {
                errors.push(FieldError::forbidden(
                    &spec_path.child("schedulingGates").index(i).child("name"),
                    format!(
                        "only deletion is allowed, but found new scheduling gate '{}'",
                        gate.name
                    ),
                ));
            }
        }

        let old_json = to_json(old);
        if v::semantic_eq(&to_json(new), &old_json) {
            return errors;
        }
        let mut munged = new.clone();
        for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
            c.image = o.image.clone();
        }
        for (c, o) in munged.init_containers.iter_mut().flatten().zip(old_init) {
            c.image = o.image.clone();
        }
        munged.active_deadline_seconds = old.active_deadline_seconds;
        munged.scheduling_gates = old.scheduling_gates.clone();
        munged.tolerations = old.tolerations.clone();
        if old.termination_grace_period_seconds.is_some_and(|g| g < 0)
            && munged.termination_grace_period_seconds == Some(1)
        {
            munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
        }
        if !old_gates.is_empty() && munged.node_selector != old.node_selector {
            let new_selector = munged.node_selector.clone().unwrap_or_default();
            let only_additions = old
                .node_selector
                .iter()
                .flatten()
                .all(|(k, val)| new_selector.get(k) == Some(val));
            if !only_additions {
                errors.push(common::invalid_raw(
                    &spec_path.child("nodeSelector"),
                    &common::go_string_map(munged.node_selector.as_ref()),
                    "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                ));
            }
            munged.node_selector = old.node_selector.clone();
        }
        let munged_json = to_json(&munged);
        if !v::semantic_eq(&munged_json, &old_json) {
            errors.push(FieldError::forbidden(
                &spec_path,
                format!(
                    "pod updates may not change fields other than {UPDATABLE_FIELDS}\n{}",
                    go_diff("core.PodSpec", &old_json, &munged_json)
                ),
            ));
        }
        errors
    }
}

#[cfg(test)]
mod tests;
