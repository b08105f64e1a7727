//! Deployments and ReplicaSets with simulated nodes: scaling, rollouts, rollbacks, self-healing, garbage collection.
