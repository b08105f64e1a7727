//! StatefulSets, DaemonSets, Jobs and CronJobs with simulated nodes.
