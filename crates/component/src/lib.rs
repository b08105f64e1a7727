//! What every component that talks to the API shares: building a client from a kubeconfig,
//! shared informers (one watch and one cache per kind), an event recorder and Leases (leader
//! election for control-plane components, heartbeats for nodes).
//!
//! Architecture invariant: this crate reaches the cluster only through the API, like the
//! components built on it.

pub mod client;
pub mod events;
pub mod informer;
pub mod join;
pub mod kubelet;
pub mod lease;

pub use client::client;
pub use events::{EventType, Recorder};
pub use informer::{Informer, Informers};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig could not be read or used.
    #[error("loading kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The client could not be built.
    #[error("building the API client")]
    Client(#[source] kube::Error),
    /// An API call failed.
    #[error("api call failed")]
    Api(#[from] kube::Error),
    /// Leadership was lost; the component must stop.
    #[error("lost the lease {0}")]
    LostLease(String),
}

/// Now as the API writes timestamps: RFC 3339 in whole seconds (`2026-01-02T03:04:05Z`).
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| jiff::Timestamp::now().to_string())
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
