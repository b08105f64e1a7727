//! The kinds the API serves, as the garbage collector and the namespace controller need them.

use kube::{
    Client,
    discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs},
};

/// One served resource.
#[derive(Clone, Debug)]
pub struct Served {
    /// The resource, at its group's preferred version.
    pub resource: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
    /// What it supports.
    pub caps: ApiCapabilities,
}

impl Served {
    /// Whether the resource supports `verb`.
    pub fn supports(&self, verb: &str) -> bool {
        self.caps.supports_operation(verb)
    }

    /// Whether its objects can be listed, watched and deleted one by one.
    pub fn collectable(&self) -> bool {
        [verbs::LIST, verbs::WATCH, verbs::DELETE]
            .iter()
            .all(|v| self.supports(v))
    }

    /// Whether this is an Event kind, which upstream's garbage collector and namespace
    /// controller leave to their TTL (GC) or delete last.
    pub fn is_event(&self) -> bool {
        self.resource.plural == "events"
            && matches!(self.resource.group.as_str(), "" | "events.k8s.io")
    }
}

/// Every served resource at its preferred version, from aggregated discovery (two requests)
/// or, if the server has none, group by group.
pub async fn served(client: &Client) -> Result<Vec<Served>, kube::Error> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(_) => Discovery::new(client.clone()).run().await?,
    };
    Ok(discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .filter(|(r, _)| !r.plural.contains('/'))
        .map(|(resource, caps)| Served {
            namespaced: caps.scope == Scope::Namespaced,
            resource,
            caps,
        })
        .collect())
}
