//! What kubectl get prints for each kind (server-side Tables).
