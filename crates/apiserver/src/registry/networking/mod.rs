//! Strategies of the `networking.k8s.io` group.

pub mod ingress;
pub mod network_policy;
