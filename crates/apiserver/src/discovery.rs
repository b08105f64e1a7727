//! Discovery: `/api`, `/apis`, per-group and per-group-version lists, and aggregated discovery
//! (`apidiscovery.k8s.io` v2 and v2beta1), all derived from the resource registry, plus
//! `metrics.k8s.io`, which the kubelets serve (see `usage`).

use apimachinery::resources::{self, ResourceInfo, VERBS};
use serde_json::{Value, json};

use crate::usage;

/// The Kubernetes version rudder reports.
pub const KUBE_MINOR: &str = "33";

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": format!("v1.{KUBE_MINOR}.0+rudder"),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }),
    })
}

/// `GET /api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for (group, version) in resources::group_versions() {
        if group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == group) {
            Some((_, versions)) => versions.push(version),
            None => out.push((group, vec![version])),
        }
    }
    out.push((usage::GROUP, vec![usage::VERSION]));
    out
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    })
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().iter().map(|(g, v)| group_json(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`.
pub fn group(name: &str) -> Option<Value> {
    let (group, versions) = groups().into_iter().find(|(g, _)| *g == name)?;
    let mut value = group_json(group, &versions);
    value["kind"] = json!("APIGroup");
    value["apiVersion"] = json!("v1");
    Some(value)
}

fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    resources::all()
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// `GET /api/v1` or `/apis/<group>/<version>`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    if (group, version) == (usage::GROUP, usage::VERSION) {
        for (plural, singular, kind, namespaced) in usage::RESOURCES {
            list.push(json!({
                "name": plural, "singularName": singular, "namespaced": namespaced,
                "kind": kind, "verbs": usage::VERBS,
            }));
        }
    }
    for r in in_group_version(group, version) {
        let mut resource = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            resource["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            resource["categories"] = json!(r.categories);
        }
        list.push(resource);
        for sub in r.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", r.plural, sub.name()),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": sub.kind().map_or(r.kind, |(_, _, k)| k),
                "verbs": sub.verbs(),
            });
            if let Some((g, v, _)) = sub.kind() {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            list.push(entry);
        }
    }
    if list.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": list,
    }))
}

fn discovery_resource(r: &ResourceInfo) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|sub| {
            let (g, v, k) = sub.kind().unwrap_or((r.group, r.version, r.kind));
            json!({
                "subresource": sub.name(),
                "responseKind": {"group": g, "version": v, "kind": k},
                "verbs": sub.verbs(),
            })
        })
        .collect();
    let mut value = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        value["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        value["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        value["subresources"] = json!(subresources);
    }
    value
}

/// Aggregated discovery of `/api` (`core` true) or `/apis`, in the asked version.
pub fn aggregated(core: bool, version: &str) -> Value {
    let mut items = Vec::new();
    let groups: Vec<(&str, Vec<&str>)> = if core {
        vec![("", vec!["v1"])]
    } else {
        groups()
    };
    for (group, versions) in groups {
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| {
                let mut resources: Vec<Value> =
                    in_group_version(group, v).map(discovery_resource).collect();
                if (group, *v) == (usage::GROUP, usage::VERSION) {
                    resources.extend(usage::RESOURCES.iter().map(
                        |(plural, singular, kind, namespaced)| {
                            json!({
                                "resource": plural,
                                "responseKind": {"group": group, "version": v, "kind": kind},
                                "scope": if *namespaced { "Namespaced" } else { "Cluster" },
                                "singularResource": singular,
                                "verbs": usage::VERBS,
                            })
                        },
                    ));
                }
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        items.push(
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions}),
        );
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resources_include_subresources() {
        let list = resource_list("", "v1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"pods"));
        assert!(names.contains(&"pods/status"));
        assert!(names.contains(&"namespaces"));
        assert!(!names.contains(&"deployments"));
        let apps = resource_list("apps", "v1").unwrap();
        let scale = apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["kind"], "Scale");
        assert_eq!(scale["group"], "autoscaling");
    }

    #[test]
    fn groups_have_preferred_versions() {
        let list = group_list();
        let apps = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "apps")
            .unwrap();
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
        assert!(group("nope").is_none());
    }
}
