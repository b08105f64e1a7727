//! End-to-end tests: the real `rudder` binary driven by the machine's real kubectl.

mod auth;
mod crash;
mod errors;
mod kubectl;

use std::path::Path;

use testkit::Cluster;

/// Starts a fresh cluster of the binary under test.
pub fn cluster() -> Cluster {
    Cluster::start(Path::new(env!("CARGO_BIN_EXE_rudder"))).expect("starting rudder")
}
