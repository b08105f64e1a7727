//! Periodic compaction: forgets history older than a window of revisions, as upstream's API
//! server asks etcd to every five minutes.

use std::{sync::Arc, time::Duration};

use crate::Storage;

/// Every `interval`, compacts `store` to its current revision minus `keep`.
pub fn spawn_compactor(
    store: Arc<dyn Storage>,
    interval: Duration,
    keep: i64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Ok(current) = store.current_revision().await else {
                continue;
            };
            let Ok(compacted) = store.compacted_revision().await else {
                continue;
            };
            let target = current - keep;
            if target > compacted {
                match store.compact(target).await {
                    Ok(()) => tracing::debug!(revision = target, "compacted store history"),
                    Err(e) => tracing::warn!(error = %e, "compaction failed"),
                }
            }
        }
    })
}
