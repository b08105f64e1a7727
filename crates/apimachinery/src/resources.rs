//! The registry of built-in resources: one row per kind the API server serves.
//!
//! Everything that differs between kinds but is not behaviour (names, scope, short names,
//! categories, subresources) is data in [`all`]. The typed part comes from k8s-openapi: each row
//! knows how to round-trip a JSON object through its Rust type, which drops unknown fields the
//! way upstream's decoder does.

use std::sync::OnceLock;

use k8s_openapi::{
    ClusterResourceScope, ListableResource, NamespaceResourceScope, Resource,
    api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
        events::v1 as events, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
        scheduling::v1 as scheduling, storage::v1 as storage,
    },
};
use serde_json::Value;

/// One kind served by the API server.
#[derive(Debug)]
pub struct ResourceInfo {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// Kind of the list type, e.g. `DeploymentList`.
    pub list_kind: &'static str,
    /// Resource name in URLs, e.g. `deployments`.
    pub plural: &'static str,
    /// Lower-case singular name, e.g. `deployment`.
    pub singular: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names kubectl accepts, e.g. `deploy`.
    pub short_names: &'static [&'static str],
    /// Categories such as `all`.
    pub categories: &'static [&'static str],
    /// Subresources served besides the main resource.
    pub subresources: &'static [Subresource],
    /// OpenAPI definition name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub definition: String,
    /// Decodes a JSON object into the kind's Rust type and encodes it again, which drops
    /// unknown fields and fails on values of the wrong type.
    pub roundtrip: fn(&Value) -> Result<Value, serde_json::Error>,
}

/// A subresource of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `/status`: the same object, writes change only `.status`.
    Status,
    /// `/scale`: an `autoscaling/v1` `Scale` view of `.spec.replicas`.
    Scale,
    /// `pods/binding`: assigns a pod to a node.
    Binding,
    /// `pods/eviction`: a policy-checked delete.
    Eviction,
    /// `pods/log`: streams container logs from the node.
    Log,
    /// `pods/exec`: runs a command in a container.
    Exec,
    /// `pods/attach`: attaches to a running container.
    Attach,
    /// `pods/portforward`: forwards ports into the pod.
    PortForward,
    /// `serviceaccounts/token`: issues a token.
    Token,
    /// `namespaces/finalize`: updates the namespace's finalizers.
    Finalize,
}

impl Subresource {
    /// The name of the subresource in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Log => "log",
            Subresource::Exec => "exec",
            Subresource::Attach => "attach",
            Subresource::PortForward => "portforward",
            Subresource::Token => "token",
            Subresource::Finalize => "finalize",
        }
    }

    /// The kind, group and version a subresource reads and writes, if it is not the parent's.
    pub fn kind(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Subresource::Status | Subresource::Finalize => None,
            Subresource::Scale => Some(("autoscaling", "v1", "Scale")),
            Subresource::Binding => Some(("", "v1", "Binding")),
            Subresource::Eviction => Some(("policy", "v1", "Eviction")),
            Subresource::Log => Some(("", "v1", "Pod")),
            Subresource::Exec | Subresource::Attach => Some(("", "v1", "PodExecOptions")),
            Subresource::PortForward => Some(("", "v1", "PodPortForwardOptions")),
            Subresource::Token => Some(("authentication.k8s.io", "v1", "TokenRequest")),
        }
    }

    /// The verbs a subresource supports.
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Subresource::Status | Subresource::Scale => &["get", "patch", "update"],
            Subresource::Binding | Subresource::Eviction | Subresource::Token => &["create"],
            Subresource::Log => &["get"],
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                &["create", "get"]
            }
            Subresource::Finalize => &["update"],
        }
    }

    /// Looks a subresource up by its URL name.
    pub fn from_name(name: &str) -> Option<Subresource> {
        ALL_SUBRESOURCES.iter().copied().find(|s| s.name() == name)
    }
}

const ALL_SUBRESOURCES: &[Subresource] = &[
    Subresource::Status,
    Subresource::Scale,
    Subresource::Binding,
    Subresource::Eviction,
    Subresource::Log,
    Subresource::Exec,
    Subresource::Attach,
    Subresource::PortForward,
    Subresource::Token,
    Subresource::Finalize,
];

/// The verbs every built-in resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource qualified by its group as upstream prints it: `pods`, `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind qualified by its group as upstream prints it in `Invalid` errors:
    /// `Pod`, `Deployment.apps`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The storage key prefix of this resource: `/registry/<group>/<plural>/`.
    pub fn key_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// The storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Whether the kind has the given subresource.
    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }
}

/// Tells at compile time whether a k8s-openapi scope is namespaced.
trait Scope {
    const NAMESPACED: bool;
}
impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}
impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

fn roundtrip<K>(value: &Value) -> Result<Value, serde_json::Error>
where
    K: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: K = serde_json::from_value(value.clone())?;
    serde_json::to_value(typed)
}

fn info<K>(
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
) -> ResourceInfo
where
    K: Resource
        + ListableResource
        + schemars::JsonSchema
        + serde::de::DeserializeOwned
        + serde::Serialize,
    K::Scope: Scope,
{
    ResourceInfo {
        group: K::GROUP,
        version: K::VERSION,
        kind: K::KIND,
        list_kind: K::LIST_KIND,
        plural: K::URL_PATH_SEGMENT,
        singular: K::KIND.to_ascii_lowercase(),
        namespaced: <K::Scope as Scope>::NAMESPACED,
        short_names,
        categories,
        subresources,
        definition: K::schema_name().into_owned(),
        roundtrip: roundtrip::<K>,
    }
}

use Subresource::*;

const WORKLOAD: &[Subresource] = &[Status, Scale];
const STATUS: &[Subresource] = &[Status];
const ALL: &[&str] = &["all"];

/// Every resource the API server serves, in discovery order.
pub fn all() -> &'static [ResourceInfo] {
    static ALL_RESOURCES: OnceLock<Vec<ResourceInfo>> = OnceLock::new();
    ALL_RESOURCES.get_or_init(|| {
        vec![
            info::<core::Namespace>(&["ns"], &[], &[Status, Finalize]),
            info::<core::Pod>(
                &["po"],
                ALL,
                &[Status, Binding, Eviction, Log, Exec, Attach, PortForward],
            ),
            info::<core::Service>(&["svc"], ALL, STATUS),
            info::<core::Endpoints>(&["ep"], &[], &[]),
            info::<core::ConfigMap>(&["cm"], &[], &[]),
            info::<core::Secret>(&[], &[], &[]),
            info::<core::Node>(&["no"], &[], STATUS),
            info::<core::ServiceAccount>(&["sa"], &[], &[Token]),
            info::<core::Event>(&["ev"], &[], &[]),
            info::<core::PersistentVolume>(&["pv"], &[], STATUS),
            info::<core::PersistentVolumeClaim>(&["pvc"], &[], STATUS),
            info::<core::ReplicationController>(&["rc"], ALL, WORKLOAD),
            info::<core::LimitRange>(&["limits"], &[], &[]),
            info::<core::ResourceQuota>(&["quota"], &[], STATUS),
            info::<core::PodTemplate>(&[], &[], &[]),
            info::<apps::Deployment>(&["deploy"], ALL, WORKLOAD),
            info::<apps::ReplicaSet>(&["rs"], ALL, WORKLOAD),
            info::<apps::StatefulSet>(&["sts"], ALL, WORKLOAD),
            info::<apps::DaemonSet>(&["ds"], ALL, STATUS),
            info::<apps::ControllerRevision>(&[], &[], &[]),
            info::<batch::Job>(&[], ALL, STATUS),
            info::<batch::CronJob>(&["cj"], ALL, STATUS),
            info::<autoscaling::HorizontalPodAutoscaler>(&["hpa"], ALL, STATUS),
            info::<networking::Ingress>(&["ing"], &[], STATUS),
            info::<networking::IngressClass>(&[], &[], &[]),
            info::<networking::NetworkPolicy>(&["netpol"], &[], &[]),
            info::<discovery::EndpointSlice>(&[], &[], &[]),
            info::<storage::StorageClass>(&["sc"], &[], &[]),
            info::<storage::CSIDriver>(&[], &[], &[]),
            info::<storage::CSINode>(&[], &[], &[]),
            info::<storage::VolumeAttachment>(&[], &[], STATUS),
            info::<storage::CSIStorageCapacity>(&[], &[], &[]),
            info::<coordination::Lease>(&[], &[], &[]),
            info::<rbac::ClusterRole>(&[], &[], &[]),
            info::<rbac::ClusterRoleBinding>(&[], &[], &[]),
            info::<rbac::Role>(&[], &[], &[]),
            info::<rbac::RoleBinding>(&[], &[], &[]),
            info::<policy::PodDisruptionBudget>(&["pdb"], &[], STATUS),
            info::<scheduling::PriorityClass>(&["pc"], &[], &[]),
            info::<events::Event>(&["ev"], &[], &[]),
        ]
    })
}

/// The group versions served, in discovery order (core first).
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in all() {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Finds a resource by group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    all()
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a resource by group, version and kind.
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    all()
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Splits an `apiVersion` into group and version.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_names_come_from_the_types() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        assert!(deploy.namespaced);
        assert_eq!(deploy.kind, "Deployment");
        assert_eq!(deploy.list_kind, "DeploymentList");
        assert_eq!(deploy.definition, "io.k8s.api.apps.v1.Deployment");
        assert_eq!(
            deploy.key(Some("default"), "web"),
            "/registry/apps/deployments/default/web"
        );
        let ns = find("", "v1", "namespaces").unwrap();
        assert!(!ns.namespaced);
        assert_eq!(
            ns.key(None, "kube-system"),
            "/registry/core/namespaces/kube-system"
        );
    }

    #[test]
    fn roundtrip_drops_unknown_fields() {
        let cm = find("", "v1", "configmaps").unwrap();
        let out = (cm.roundtrip)(&serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"k": "v"}, "bogus": 1
        }))
        .unwrap();
        assert_eq!(out.get("bogus"), None);
        assert_eq!(out["data"]["k"], "v");
    }
}
