//! Cluster controllers with simulated nodes: namespaces, node lifecycle and eviction, pod CIDRs, garbage collection.
