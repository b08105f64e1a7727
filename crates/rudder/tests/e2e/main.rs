//! End-to-end tests: the real `rudder` binary driven by the machine's real kubectl.

mod auth;
mod cluster;
mod components;
mod crash;
mod deployments;
mod errors;
mod kubectl;
mod node_agent;
mod printers;
mod scheduling;
mod seeds_pods;
mod service_accounts;
mod services_storage;
mod simulator;
mod streams;
mod workloads;

use std::path::Path;

use testkit::Cluster;

/// Starts a fresh cluster of the binary under test.
pub fn cluster() -> Cluster {
    Cluster::start(Path::new(env!("CARGO_BIN_EXE_rudder"))).expect("starting rudder")
}
