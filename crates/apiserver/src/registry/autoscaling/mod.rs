//! Strategies of the `autoscaling` group (served as `autoscaling/v2`).

pub mod horizontal_pod_autoscaler;
