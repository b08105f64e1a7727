//! Namespaces: names are DNS-1123 labels, the `kubernetes` finalizer is set on create and the
//! `kubernetes.io/metadata.name` label always equals the name.

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};

use crate::registry::{NameRule, Strategy};

/// The strategy of `namespaces`.
pub struct NamespaceStrategy;

/// The label upstream keeps equal to a namespace's name.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

impl Strategy for NamespaceStrategy {
    type Object = Namespace;
    const NAMES: NameRule = NameRule::Label;
    const FIELDS: &'static [&'static str] = &["status.phase"];

    fn default(&self, ns: &mut Namespace) {
        if let Some(name) = ns.metadata.name.clone() {
            ns.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(NAME_LABEL.to_string(), name);
        }
        let status = ns.status.get_or_insert_with(NamespaceStatus::default);
        if status.phase.is_none() {
            status.phase = Some("Active".to_string());
        }
    }

    fn prepare_for_create(&self, ns: &mut Namespace) {
        ns.spec = Some(NamespaceSpec {
            finalizers: Some(vec!["kubernetes".to_string()]),
        });
        ns.status = Some(NamespaceStatus {
            phase: Some("Active".to_string()),
            conditions: None,
        });
    }

    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec = old.spec.clone();
        new.status = old.status.clone();
    }
}
