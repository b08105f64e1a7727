//! Strategies of the core (`v1`) group.

pub mod configmap;
pub mod namespace;
pub mod secret;
