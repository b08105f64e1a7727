//! StatefulSets: upstream's apps/v1 defaults (1 replica, `OrderedReady`, `RollingUpdate` with
//! partition 0, PVC retention `Retain`/`Retain`, 10 revisions); the selector must select the
//! template's labels; after creation only replicas, ordinals, template, update strategy,
//! revision history limit, PVC retention policy and `minReadySeconds` may change.

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::api::{
    apps::v1::{
        RollingUpdateStatefulSetStrategy, StatefulSet,
        StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    },
    core::v1::{PersistentVolumeClaimVolumeSource, Volume},
};

use crate::registry::{
    Strategy,
    common::{self, default_str, str_of, to_json},
    core::{persistent_volume_claim, pod_spec},
};

/// The strategy of `statefulsets`.
pub struct StatefulSetStrategy;

fn validate_spec(spec: &StatefulSetSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    match str_of(&spec.pod_management_policy) {
        "" => errors.push(FieldError::required(&path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errors.push(FieldError::invalid(
            &path.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let strategy_path = path.child("updateStrategy");
    match str_of(&strategy.type_) {
        "" => errors.push(FieldError::required(&strategy_path, "")),
        "OnDelete" => {
            if let Some(ru) = &strategy.rolling_update {
                errors.push(common::invalid_raw(
                    &strategy_path.child("rollingUpdate"),
                    &common::go_value(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = &strategy.rolling_update {
                errors.extend(common::nonnegative(
                    ru.partition.map(i64::from),
                    &strategy_path.child("rollingUpdate").child("partition"),
                ));
            }
        }
        _ => errors.push(common::invalid_raw(
            &strategy_path,
            &common::go_value(&strategy),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let p = path.child("persistentVolumeClaimRetentionPolicy");
        for (field, value) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            let value = str_of(value);
            if value != "Retain" && value != "Delete" {
                errors.push(FieldError::not_supported(
                    &p.child(field),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    for (i, claim) in spec.volume_claim_templates.iter().flatten().enumerate() {
        let p = path.child("volumeClaimTemplates").index(i);
        errors.extend(persistent_volume_claim::validate_claim_spec(
            &claim.spec.clone().unwrap_or_default(),
            &p.child("spec"),
        ));
    }
    errors.extend(v::validate_nonnegative_field(
        spec.replicas.unwrap_or(1) as i64,
        &path.child("replicas"),
    ));
    errors.extend(common::nonnegative(
        spec.min_ready_seconds.map(i64::from),
        &path.child("minReadySeconds"),
    ));
    if let Some(ordinals) = &spec.ordinals {
        errors.extend(common::nonnegative(
            ordinals.start.map(i64::from),
            &path.child("ordinals.start"),
        ));
    }
    let template_path = path.child("template");
    errors.extend(common::validate_selector_and_template(
        Some(&spec.selector),
        pod_spec::template_labels(&spec.template),
        &path.child("selector"),
        &template_path.child("metadata").child("labels"),
    ));
    // The claim templates provide volumes the containers mount.
    let mut template = spec.template.clone();
    let pod = template.spec.get_or_insert_with(Default::default);
    for claim in spec.volume_claim_templates.iter().flatten() {
        let name = claim.metadata.name.clone().unwrap_or_default();
        pod.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: name,
                read_only: None,
            }),
            ..Default::default()
        });
    }
    errors.extend(pod_spec::validate_pod_template(&template, &template_path));
    let policy = pod_spec::template_restart_policy(&spec.template);
    if policy != "Always" {
        errors.push(FieldError::not_supported(
            &template_path.child("spec").child("restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if let Some(ads) = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
    {
        errors.push(FieldError::invalid(
            &template_path.child("spec").child("activeDeadlineSeconds"),
            ads,
            "must not be specified",
        ));
    }
    errors
}

impl Strategy for StatefulSetStrategy {
    type Object = StatefulSet;
    const GENERATION: bool = true;

    fn default(&self, sts: &mut StatefulSet) {
        let spec = sts.spec.get_or_insert_with(Default::default);
        default_str(&mut spec.pod_management_policy, "OrderedReady");
        let strategy = spec.update_strategy.get_or_insert_with(Default::default);
        if str_of(&strategy.type_).is_empty() {
            strategy.type_ = Some("RollingUpdate".to_string());
            strategy
                .rolling_update
                .get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
        }
        if str_of(&strategy.type_) == "RollingUpdate"
            && let Some(ru) = &mut strategy.rolling_update
        {
            ru.partition.get_or_insert(0);
        }
        let policy = spec
            .persistent_volume_claim_retention_policy
            .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        default_str(&mut policy.when_deleted, "Retain");
        default_str(&mut policy.when_scaled, "Retain");
        spec.replicas.get_or_insert(1);
        spec.revision_history_limit.get_or_insert(10);
        pod_spec::default_pod_template(&mut spec.template);
        for claim in spec.volume_claim_templates.iter_mut().flatten() {
            persistent_volume_claim::default_claim_spec(
                claim.spec.get_or_insert_with(Default::default),
            );
            default_str(
                &mut claim.status.get_or_insert_with(Default::default).phase,
                "Pending",
            );
        }
    }

    fn validate(&self, sts: &StatefulSet) -> ErrorList {
        validate_spec(&sts.spec.clone().unwrap_or_default(), &Path::new("spec"))
    }

    fn validate_update(&self, new: &StatefulSet, old: &StatefulSet) -> ErrorList {
        let mut errors = self.validate(new);
        let old_spec = old.spec.clone().unwrap_or_default();
        let mut clone = new.spec.clone().unwrap_or_default();
        clone.replicas = old_spec.replicas;
        clone.template = old_spec.template.clone();
        clone.update_strategy = old_spec.update_strategy.clone();
        clone.min_ready_seconds = old_spec.min_ready_seconds;
        clone.ordinals = old_spec.ordinals.clone();
        clone.revision_history_limit = old_spec.revision_history_limit;
        clone.persistent_volume_claim_retention_policy =
            old_spec.persistent_volume_claim_retention_policy.clone();
        if !v::semantic_eq(&to_json(&clone), &to_json(&old_spec)) {
            errors.push(FieldError::forbidden(
                &Path::new("spec"),
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        errors
    }
}
