//! PodTemplates: the template gets pod-spec defaults and is validated at `template`
//! (upstream `ValidatePodTemplate`).

use apimachinery::validation::{ErrorList, Path};
use k8s_openapi::api::core::v1::PodTemplate;

use super::pod_spec;
use crate::registry::Strategy;

/// The strategy of `podtemplates`.
pub struct PodTemplateStrategy;

impl Strategy for PodTemplateStrategy {
    type Object = PodTemplate;

    fn default(&self, pt: &mut PodTemplate) {
        pod_spec::default_pod_template(pt.template.get_or_insert_with(Default::default));
    }

    fn validate(&self, pt: &PodTemplate) -> ErrorList {
        pod_spec::validate_pod_template(
            &pt.template.clone().unwrap_or_default(),
            &Path::new("template"),
        )
    }
}
