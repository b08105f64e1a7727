//! Jobs: upstream's batch/v1 defaults (completions and parallelism 1 when both are unset,
//! backoff limit 6, `NonIndexed`, not suspended, `TerminatingOrFailed` pod replacement, no
//! manual selector); unless the selector is manual, create generates the selector
//! `batch.kubernetes.io/controller-uid=<uid>` and the matching template labels; the template's
//! pods restart `OnFailure` or `Never`; the template and selector are immutable.

use std::collections::BTreeMap;

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::{
    api::batch::v1::{Job, JobSpec},
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
};

use crate::registry::{
    Strategy,
    common::{self, default_str, go_string_map, invalid_raw, str_of, to_json},
    core::pod_spec,
};

/// The strategy of `jobs`.
pub struct JobStrategy;

/// The label selecting a job's pods by the job's uid.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The legacy form of [`CONTROLLER_UID_LABEL`].
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// The label naming a pod's job.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The legacy form of [`JOB_NAME_LABEL`].
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// Defaults of a job spec, as `SetDefaults_Job` applies them (not to CronJob templates).
fn default_job_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    default_str(&mut spec.completion_mode, "NonIndexed");
    spec.suspend.get_or_insert(false);
    if let Some(policy) = &mut spec.pod_failure_policy {
        for rule in &mut policy.rules {
            for pattern in rule.on_pod_conditions.iter_mut().flatten() {
                if pattern.status.is_empty() {
                    pattern.status = "True".to_string();
                }
            }
        }
    }
    if spec.pod_replacement_policy.is_none() {
        let policy = if spec.pod_failure_policy.is_some() {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        spec.pod_replacement_policy = Some(policy.to_string());
    }
    spec.manual_selector.get_or_insert(false);
}

/// Upstream `generateSelector`: labels the template with the job's name and uid and selects
/// the uid.
fn generate_selector(meta: &ObjectMeta, spec: &mut JobSpec) {
    let name = meta.name.clone().unwrap_or_default();
    let uid = meta.uid.clone().unwrap_or_default();
    let labels = spec
        .template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new);
    for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
        labels
            .entry(key.to_string())
            .or_insert_with(|| name.clone());
    }
    for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
        labels.entry(key.to_string()).or_insert_with(|| uid.clone());
    }
    let selector = spec.selector.get_or_insert_with(LabelSelector::default);
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .entry(CONTROLLER_UID_LABEL.to_string())
        .or_insert(uid);
}

fn has_label(
    labels: Option<&BTreeMap<String, String>>,
    key: &str,
    expected: &str,
    path: &Path,
) -> ErrorList {
    let msg = format!("must be '{expected}'");
    match labels.and_then(|l| l.get(key)) {
        None => vec![FieldError::required(&path.child("labels").key(key), msg)],
        Some(actual) if actual != expected => vec![invalid_raw(
            &path.child("labels").key(key),
            &go_string_map(labels),
            &msg,
        )],
        Some(_) => Vec::new(),
    }
}

/// Upstream `validateGeneratedSelector`.
fn validate_generated_selector(job: &Job, spec: &JobSpec, require_prefixed: bool) -> ErrorList {
    let mut errors = Vec::new();
    if spec.manual_selector == Some(true) {
        return errors;
    }
    let labels = pod_spec::template_labels(&spec.template);
    if labels.is_none() {
        return errors;
    }
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let meta_path = Path::new("spec").child("template").child("metadata");
    errors.extend(has_label(
        labels,
        LEGACY_CONTROLLER_UID_LABEL,
        &uid,
        &meta_path,
    ));
    if require_prefixed {
        errors.extend(has_label(labels, CONTROLLER_UID_LABEL, &uid, &meta_path));
    }
    if uid.is_empty() {
        errors.push(FieldError::required(
            &Path::new("metadata").child("uid"),
            "",
        ));
    }
    let key = if require_prefixed {
        CONTROLLER_UID_LABEL
    } else {
        LEGACY_CONTROLLER_UID_LABEL
    };
    let expected = BTreeMap::from([(key.to_string(), uid)]);
    if let Some(selector) = &spec.selector
        && common::selector_matches(selector, Some(&expected)) == Some(false)
    {
        errors.push(invalid_raw(
            &Path::new("spec").child("selector"),
            &common::go_label_selector(Some(selector)),
            "`selector` not auto-generated",
        ));
    }
    errors
}

/// Upstream `validateJobSpec`: everything but the selector; shared with CronJob templates.
pub fn validate_job_spec(spec: &JobSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (field, value) in [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        (
            "ttlSecondsAfterFinished",
            spec.ttl_seconds_after_finished.map(i64::from),
        ),
    ] {
        errors.extend(common::nonnegative(value, &path.child(field)));
    }
    let indexed = str_of(&spec.completion_mode) == "Indexed";
    if let Some(b) = spec.backoff_limit_per_index {
        errors.extend(v::validate_nonnegative_field(
            b as i64,
            &path.child("backoffLimitPerIndex"),
        ));
        if !indexed {
            errors.push(FieldError::forbidden(
                &path.child("backoffLimitPerIndex"),
                "requires indexed completion mode",
            ));
        }
    }
    if let Some(m) = spec.max_failed_indexes {
        if spec.backoff_limit_per_index.is_none() {
            errors.push(FieldError::required(
                &path.child("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
        if !indexed {
            errors.push(FieldError::forbidden(
                &path.child("maxFailedIndexes"),
                "requires indexed completion mode",
            ));
        }
        errors.extend(v::validate_nonnegative_field(
            m as i64,
            &path.child("maxFailedIndexes"),
        ));
    }
    if let Some(mode) = spec.completion_mode.as_deref() {
        if mode != "NonIndexed" && mode != "Indexed" {
            errors.push(FieldError::not_supported(
                &path.child("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" {
            if spec.completions.is_none() {
                errors.push(FieldError::required(
                    &path.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
            if spec.parallelism.is_some_and(|p| p > 100_000) {
                errors.push(FieldError::invalid(
                    &path.child("parallelism"),
                    spec.parallelism.unwrap_or(0),
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
        }
    }
    if let Some(policy) = spec.pod_replacement_policy.as_deref() {
        if spec.pod_failure_policy.is_some() {
            if policy != "Failed" {
                errors.push(FieldError::not_supported(
                    &path.child("podReplacementPolicy"),
                    policy,
                    &["Failed"],
                ));
            }
        } else if policy != "Failed" && policy != "TerminatingOrFailed" {
            errors.push(FieldError::not_supported(
                &path.child("podReplacementPolicy"),
                policy,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template_path = path.child("template");
    errors.extend(pod_spec::validate_pod_template(
        &spec.template,
        &template_path,
    ));
    let restart_path = template_path.child("spec").child("restartPolicy");
    match pod_spec::template_restart_policy(&spec.template) {
        "" | "Always" => errors.push(FieldError::required(
            &restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" if spec.pod_failure_policy.is_some() => {
            errors.push(FieldError::invalid(
                &restart_path,
                "OnFailure",
                "only \"Never\" is supported when podFailurePolicy is specified",
            ));
        }
        "OnFailure" | "Never" => {}
        other => errors.push(FieldError::not_supported(
            &restart_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
    errors
}

/// Upstream `ValidateJobSpec`: [`validate_job_spec`] plus the selector.
fn validate_job_spec_with_selector(spec: &JobSpec, path: &Path) -> ErrorList {
    let mut errors = validate_job_spec(spec, path);
    match &spec.selector {
        None => errors.push(FieldError::required(&path.child("selector"), "")),
        Some(s) => errors.extend(v::validate_label_selector(s, &path.child("selector"))),
    }
    let labels = pod_spec::template_labels(&spec.template);
    let matches = match &spec.selector {
        None => Some(false),
        Some(s) => common::selector_matches(s, labels),
    };
    if matches == Some(false) {
        errors.push(common::template_mismatch(
            &path.child("template").child("metadata").child("labels"),
            labels,
        ));
    }
    errors
}

fn validate_job(job: &Job, require_prefixed: bool) -> ErrorList {
    let spec = job.spec.clone().unwrap_or_default();
    let mut errors = validate_generated_selector(job, &spec, require_prefixed);
    errors.extend(validate_job_spec_with_selector(&spec, &Path::new("spec")));
    if str_of(&spec.completion_mode) == "Indexed"
        && let Some(c) = spec.completions.filter(|c| *c > 0)
    {
        let name = job.metadata.name.clone().unwrap_or_default();
        let hostname = format!("{name}-{}", c - 1);
        if !v::is_dns1123_label(&hostname).is_empty() {
            errors.push(FieldError::invalid(
                &Path::new("metadata").child("name"),
                name.as_str(),
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errors
}

impl Strategy for JobStrategy {
    type Object = Job;
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &["status.successful"];

    fn default(&self, job: &mut Job) {
        let spec = job.spec.get_or_insert_with(Default::default);
        default_job_spec(spec);
        let labels = pod_spec::template_labels(&spec.template).cloned();
        if let Some(labels) = labels
            && job.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty)
        {
            job.metadata.labels = Some(labels);
        }
        pod_spec::default_pod_template(&mut spec.template);
    }

    fn prepare_for_create(&self, job: &mut Job) {
        let spec = job.spec.get_or_insert_with(Default::default);
        if spec.manual_selector != Some(true) {
            generate_selector(&job.metadata, spec);
        }
    }

    fn validate(&self, job: &Job) -> ErrorList {
        validate_job(job, true)
    }

    fn validate_update(&self, new: &Job, old: &Job) -> ErrorList {
        let old_spec = old.spec.clone().unwrap_or_default();
        let spec = new.spec.clone().unwrap_or_default();
        let require_prefixed = pod_spec::template_labels(&old_spec.template)
            .is_some_and(|l| l.contains_key(CONTROLLER_UID_LABEL));
        let mut errors = validate_job(new, require_prefixed);
        let path = Path::new("spec");
        // Completions: immutable, except for indexed jobs changing it with parallelism.
        if spec.completions != old_spec.completions {
            if str_of(&spec.completion_mode) != "Indexed" {
                errors.extend(v::validate_immutable_field(
                    &to_json(&spec.completions),
                    &to_json(&old_spec.completions),
                    &path.child("completions"),
                ));
            } else if let Some(c) = spec.completions
                && Some(c) != spec.parallelism
            {
                errors.push(FieldError::invalid(
                    &path.child("completions"),
                    c,
                    "can only be modified in tandem with spec.parallelism",
                ));
            }
        }
        if let (Some(n), Some(o)) = (&spec.selector, &old_spec.selector) {
            errors.extend(common::validate_immutable_selector(
                n,
                o,
                &path.child("selector"),
            ));
        } else if spec.selector.is_some() != old_spec.selector.is_some() {
            errors.push(invalid_raw(
                &path.child("selector"),
                &common::go_label_selector(spec.selector.as_ref()),
                v::FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
        // The template is immutable, except scheduling directives of suspended jobs that never
        // started.
        let mut old_template = old_spec.template.clone();
        let not_started = old
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .is_none();
        if old_spec.suspend == Some(true) && not_started {
            let new_template = &spec.template;
            let new_pod = new_template.spec.clone().unwrap_or_default();
            let pod = old_template.spec.get_or_insert_with(Default::default);
            match (&new_pod.affinity, &mut pod.affinity) {
                (None, Some(a)) => {
                    a.node_affinity = None;
                    if a.pod_affinity.is_none() && a.pod_anti_affinity.is_none() {
                        pod.affinity = None;
                    }
                }
                (Some(n), None) => {
                    pod.affinity = Some(k8s_openapi::api::core::v1::Affinity {
                        node_affinity: n.node_affinity.clone(),
                        ..Default::default()
                    });
                }
                (Some(n), Some(a)) => a.node_affinity = n.node_affinity.clone(),
                (None, None) => {}
            }
            pod.node_selector = new_pod.node_selector.clone();
            pod.tolerations = new_pod.tolerations.clone();
            pod.scheduling_gates = new_pod.scheduling_gates.clone();
            let meta = old_template.metadata.get_or_insert_with(Default::default);
            meta.labels = new_template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone());
            meta.annotations = new_template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.clone());
        }
        let new_json = to_json(&spec.template);
        if !v::semantic_eq(&new_json, &to_json(&old_template)) {
            errors.push(invalid_raw(
                &path.child("template"),
                &format!("core.PodTemplateSpec{new_json}"),
                v::FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
        for (field, n, o) in [
            (
                "completionMode",
                to_json(&spec.completion_mode),
                to_json(&old_spec.completion_mode),
            ),
            (
                "podFailurePolicy",
                to_json(&spec.pod_failure_policy),
                to_json(&old_spec.pod_failure_policy),
            ),
            (
                "backoffLimitPerIndex",
                to_json(&spec.backoff_limit_per_index),
                to_json(&old_spec.backoff_limit_per_index),
            ),
            (
                "managedBy",
                to_json(&spec.managed_by),
                to_json(&old_spec.managed_by),
            ),
            (
                "successPolicy",
                to_json(&spec.success_policy),
                to_json(&old_spec.success_policy),
            ),
            (
                "podReplacementPolicy",
                to_json(&spec.pod_replacement_policy),
                to_json(&old_spec.pod_replacement_policy),
            ),
        ] {
            errors.extend(v::validate_immutable_field(&n, &o, &path.child(field)));
        }
        errors
    }
}
