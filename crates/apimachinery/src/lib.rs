//! Kubernetes API machinery shared by every rudder component: the registry of built-in resources,
//! label and field selectors, validation with field paths, `Status` errors and the patch engines;
//! and the API's small shared semantics: cron schedules, taint tolerations.
//!
//! Architecture invariant: this crate does no I/O. It knows nothing of HTTP, gRPC or storage;
//! everything here is a pure function of its inputs.

pub mod cron;
pub mod fields;
pub mod labels;
pub mod meta;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod schema;
pub mod status;
pub mod taints;
pub mod validation;
