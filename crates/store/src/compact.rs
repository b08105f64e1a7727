//! Periodic compaction: forgets history older than a window of revisions, as upstream's API
//! server asks etcd to every five minutes.

use std::{sync::Arc, time::Duration};

use tokio::time::MissedTickBehavior;

use crate::{Revision, Storage};

/// Spawns a task that, every `interval` (the first time one interval after the call), compacts
/// `store` to its current revision minus `keep`, so that watches can still resume from any of the
/// last `keep` revisions. Errors are logged and retried at the next tick. Abort the returned
/// handle to stop it; it also needs a Tokio runtime to run on.
pub fn spawn_compactor(
    store: Arc<dyn Storage>,
    interval: Duration,
    keep: Revision,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(e) = compact_once(store.as_ref(), keep).await {
                tracing::warn!(error = %e, "periodic compaction failed");
            }
        }
    })
}

/// Compacts `store` to its current revision minus `keep`, if that is past the last compaction.
/// Returns the compaction revision now in force.
pub async fn compact_once(store: &dyn Storage, keep: Revision) -> crate::Result<Revision> {
    let current = store.current_revision().await?;
    let compacted = store.compacted_revision().await?;
    let target = current - keep.max(0);
    if target <= compacted {
        return Ok(compacted);
    }
    store.compact(target).await?;
    tracing::debug!(revision = target, "compacted store history");
    Ok(target)
}
