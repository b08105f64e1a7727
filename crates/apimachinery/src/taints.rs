//! Taints and tolerations: whether a pod's toleration tolerates a node's taint, for the
//! scheduler's TaintToleration filter, the DaemonSet controller's node fit and the node
//! lifecycle controller's NoExecute evictions.

use k8s_openapi::api::core::v1::{Taint, Toleration};

#[cfg(test)]
mod tests;

/// Whether a toleration tolerates a taint (upstream's `Toleration.ToleratesTaint`): the
/// effect, when given, must be the taint's; the key, when given, the taint's; `Exists`
/// matches any value, `Equal` (or no operator) the taint's value.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => {
            // An empty key with Equal matches nothing but an empty-keyed taint.
            (!key.is_empty() || taint.key.is_empty())
                && toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
    }
}
