//! ReplicaSets: replicas default to 1; the selector is required, immutable and must select the
//! template's labels; the template's pods always restart (upstream `ValidateReplicaSet`).

use apimachinery::validation::{self as v, ErrorList, Path};
use k8s_openapi::api::apps::v1::ReplicaSet;

use super::validate_replicated_template;
use crate::registry::{Strategy, common, core::pod_spec};

/// The strategy of `replicasets`.
pub struct ReplicaSetStrategy;

impl Strategy for ReplicaSetStrategy {
    type Object = ReplicaSet;
    const GENERATION: bool = true;
    const FIELDS: &'static [&'static str] = &["status.replicas"];

    fn default(&self, rs: &mut ReplicaSet) {
        let spec = rs.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        pod_spec::default_pod_template(spec.template.get_or_insert_with(Default::default));
    }

    fn validate(&self, rs: &ReplicaSet) -> ErrorList {
        let spec = rs.spec.clone().unwrap_or_default();
        let path = Path::new("spec");
        let mut errors = v::validate_nonnegative_field(
            spec.replicas.unwrap_or(1) as i64,
            &path.child("replicas"),
        );
        errors.extend(common::nonnegative(
            spec.min_ready_seconds.map(i64::from),
            &path.child("minReadySeconds"),
        ));
        errors.extend(validate_replicated_template(
            &spec.selector,
            &spec.template.clone().unwrap_or_default(),
            &path,
            "ReplicaSet",
        ));
        errors
    }

    fn validate_update(&self, new: &ReplicaSet, old: &ReplicaSet) -> ErrorList {
        let mut errors = self.validate(new);
        let (n, o) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        errors.extend(common::validate_immutable_selector(
            &n.selector,
            &o.selector,
            &Path::new("spec").child("selector"),
        ));
        errors
    }
}
