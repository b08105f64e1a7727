//! Strategies of the `storage.k8s.io` group.

pub mod storage_class;
