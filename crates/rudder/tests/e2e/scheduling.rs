//! Scheduling with simulated nodes: placement, resources, affinity, taints, preemption.
