//! Per-resource behaviour: one strategy per kind, in a module named after its group and
//! resource, as upstream's `pkg/registry/<group>/<resource>/strategy.go`.
//!
//! A [`Strategy`] is stateless and works on the kind's k8s-openapi type: it sets defaults,
//! prepares an object for create and update, and validates it, collecting every field error.
//! The generic store (`generic.rs`) calls it in a fixed order; see [`ObjectStrategy`].

use apimachinery::{
    resources::ResourceInfo,
    status::ApiError,
    validation::{self, ErrorList},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

pub mod generic;

pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod common;
pub mod coordination;
pub mod core;
pub mod events;
pub mod networking;
pub mod policy;
pub mod rbac;
pub mod scheduling;
pub mod storage;

#[cfg(test)]
mod tests;

/// How a kind's names are validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// A DNS-1123 subdomain (most kinds).
    Subdomain,
    /// A DNS-1123 label (namespaces).
    Label,
    /// A DNS-1035 label: a DNS-1123 label starting with a letter (services).
    Dns1035Label,
    /// Anything usable as a path segment (RBAC roles and bindings).
    PathSegment,
}

/// The behaviour of one kind. Every method has a default that does nothing, so a kind only
/// states what differs.
pub trait Strategy: Send + Sync + 'static {
    /// The kind's Rust type.
    type Object: DeserializeOwned + Serialize + Send;

    /// Whether `metadata.generation` is bumped when anything outside metadata and status
    /// changes.
    const GENERATION: bool = false;

    /// How names are validated.
    const NAMES: NameRule = NameRule::Subdomain;

    /// Fields besides `metadata.name` and `metadata.namespace` usable in field selectors.
    const FIELDS: &'static [&'static str] = &[];

    /// Sets defaults, as upstream's `SetDefaults_<Kind>`; runs on every create and update.
    fn default(&self, _obj: &mut Self::Object) {}

    /// Prepares a new object: clears what clients may not set (e.g. status).
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}

    /// Prepares an update: keeps what clients may not change through this endpoint.
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}

    /// Validates a new object (metadata is validated generically).
    fn validate(&self, _obj: &Self::Object) -> ErrorList {
        Vec::new()
    }

    /// Validates an update; by default validates the new object alone.
    fn validate_update(&self, new: &Self::Object, _old: &Self::Object) -> ErrorList {
        self.validate(new)
    }
}

/// A strategy usable without knowing the kind's type: decodes the JSON object into it, runs
/// the strategy and encodes it back (which also drops unknown fields).
pub trait ObjectStrategy: Send + Sync {
    /// Prepares and defaults a new object in place and returns its validation errors; fails
    /// only when the object does not decode as the kind.
    fn admit_create(&self, info: &ResourceInfo, obj: &mut Value) -> Result<ErrorList, ApiError>;
    /// Prepares and defaults an update in place and returns its validation errors.
    fn admit_update(
        &self,
        info: &ResourceInfo,
        new: &mut Value,
        old: &Value,
    ) -> Result<ErrorList, ApiError>;
    /// See [`Strategy::GENERATION`].
    fn tracks_generation(&self) -> bool;
    /// See [`Strategy::NAMES`].
    fn names(&self) -> NameRule;
    /// See [`Strategy::FIELDS`].
    fn fields(&self) -> &'static [&'static str];
}

fn cannot_handle(info: &ResourceInfo, e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {e}",
        kind = info.kind,
        version = info.version
    ))
}

fn decode<T: DeserializeOwned>(info: &ResourceInfo, obj: &Value) -> Result<T, ApiError> {
    serde_json::from_value(obj.clone()).map_err(|e| cannot_handle(info, e))
}

fn encode<T: Serialize>(obj: &T) -> Result<Value, ApiError> {
    serde_json::to_value(obj).map_err(ApiError::internal)
}

impl<S: Strategy> ObjectStrategy for S {
    fn admit_create(&self, info: &ResourceInfo, obj: &mut Value) -> Result<ErrorList, ApiError> {
        let mut typed: S::Object = decode(info, obj)?;
        self.prepare_for_create(&mut typed);
        self.default(&mut typed);
        let errors = self.validate(&typed);
        *obj = encode(&typed)?;
        Ok(errors)
    }

    fn admit_update(
        &self,
        info: &ResourceInfo,
        new: &mut Value,
        old: &Value,
    ) -> Result<ErrorList, ApiError> {
        let mut typed: S::Object = decode(info, new)?;
        let old_typed: S::Object = decode(info, old)?;
        self.prepare_for_update(&mut typed, &old_typed);
        self.default(&mut typed);
        let errors = self.validate_update(&typed, &old_typed);
        *new = encode(&typed)?;
        Ok(errors)
    }

    fn tracks_generation(&self) -> bool {
        S::GENERATION
    }

    fn names(&self) -> NameRule {
        S::NAMES
    }

    fn fields(&self) -> &'static [&'static str] {
        S::FIELDS
    }
}

/// The strategy of kinds without their own: decode and encode only.
struct Unvalidated;

impl ObjectStrategy for Unvalidated {
    fn admit_create(&self, info: &ResourceInfo, obj: &mut Value) -> Result<ErrorList, ApiError> {
        *obj = (info.roundtrip)(obj).map_err(|e| cannot_handle(info, e))?;
        Ok(Vec::new())
    }

    fn admit_update(
        &self,
        info: &ResourceInfo,
        new: &mut Value,
        _old: &Value,
    ) -> Result<ErrorList, ApiError> {
        self.admit_create(info, new)
    }

    fn tracks_generation(&self) -> bool {
        false
    }

    fn names(&self) -> NameRule {
        NameRule::Subdomain
    }

    fn fields(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The strategy of a kind.
pub fn strategy(info: &ResourceInfo) -> &'static dyn ObjectStrategy {
    match (info.group, info.kind) {
        ("", "Namespace") => &core::namespace::NamespaceStrategy,
        ("", "ConfigMap") => &core::configmap::ConfigMapStrategy,
        ("", "Secret") => &core::secret::SecretStrategy,
        ("", "Pod") => &core::pod::PodStrategy,
        ("", "Service") => &core::service::ServiceStrategy,
        ("", "Node") => &core::node::NodeStrategy,
        ("", "PersistentVolume") => &core::persistent_volume::PersistentVolumeStrategy,
        ("", "PersistentVolumeClaim") => {
            &core::persistent_volume_claim::PersistentVolumeClaimStrategy
        }
        ("", "ServiceAccount") => &core::service_account::ServiceAccountStrategy,
        ("", "Endpoints") => &core::endpoints::EndpointsStrategy,
        ("", "Event") => &core::event::EventStrategy,
        ("", "ReplicationController") => {
            &core::replication_controller::ReplicationControllerStrategy
        }
        ("", "LimitRange") => &core::limit_range::LimitRangeStrategy,
        ("", "ResourceQuota") => &core::resource_quota::ResourceQuotaStrategy,
        ("", "PodTemplate") => &core::pod_template::PodTemplateStrategy,
        ("apps", "Deployment") => &apps::deployment::DeploymentStrategy,
        ("apps", "ReplicaSet") => &apps::replica_set::ReplicaSetStrategy,
        ("apps", "StatefulSet") => &apps::stateful_set::StatefulSetStrategy,
        ("apps", "DaemonSet") => &apps::daemon_set::DaemonSetStrategy,
        ("apps", "ControllerRevision") => &apps::controller_revision::ControllerRevisionStrategy,
        ("batch", "Job") => &batch::job::JobStrategy,
        ("batch", "CronJob") => &batch::cron_job::CronJobStrategy,
        ("autoscaling", "HorizontalPodAutoscaler") => {
            &autoscaling::horizontal_pod_autoscaler::HorizontalPodAutoscalerStrategy
        }
        ("networking.k8s.io", "Ingress") => &networking::ingress::IngressStrategy,
        ("networking.k8s.io", "NetworkPolicy") => {
            &networking::network_policy::NetworkPolicyStrategy
        }
        ("policy", "PodDisruptionBudget") => {
            &policy::pod_disruption_budget::PodDisruptionBudgetStrategy
        }
        ("coordination.k8s.io", "Lease") => &coordination::lease::LeaseStrategy,
        ("scheduling.k8s.io", "PriorityClass") => {
            &scheduling::priority_class::PriorityClassStrategy
        }
        ("storage.k8s.io", "StorageClass") => &storage::storage_class::StorageClassStrategy,
        ("rbac.authorization.k8s.io", "Role") => &rbac::RoleStrategy,
        ("rbac.authorization.k8s.io", "ClusterRole") => &rbac::ClusterRoleStrategy,
        ("rbac.authorization.k8s.io", "RoleBinding") => &rbac::RoleBindingStrategy,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => &rbac::ClusterRoleBindingStrategy,
        ("events.k8s.io", "Event") => &events::EventStrategy,
        _ => &Unvalidated,
    }
}

/// Validates a name by the kind's rule, returning upstream's messages.
pub fn validate_name(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Subdomain => validation::is_dns1123_subdomain(name),
        NameRule::Label => validation::is_dns1123_label(name),
        NameRule::Dns1035Label => validation::is_dns1035_label(name),
        NameRule::PathSegment => {
            let mut errors = Vec::new();
            if name == "." || name == ".." {
                errors.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errors.push(format!("may not contain '{bad}'"));
                }
            }
            errors
        }
    }
}
