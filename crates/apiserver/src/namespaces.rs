//! Namespace lifecycle: when a namespace is being deleted, delete everything in it, then
//! clear its `kubernetes` finalizer so the namespace itself goes.
//!
//! FIXME: upstream runs this in the controller manager as an API client; it moves there when
//! the controllers crate arrives.

use std::{sync::Arc, time::Duration};

use apimachinery::{
    resources::{self, Subresource},
    status::ApiError,
};
use serde_json::{Value, json};

use crate::registry::generic::{DeleteOptions, GenericStore, WriteOptions};

/// Runs the lifecycle forever.
pub async fn run(store: Arc<GenericStore>) {
    let ns_info = resources::find("", "v1", "namespaces").expect("namespaces are served");
    let cache = store.cache().resource(ns_info).clone();
    loop {
        let mut live = match cache.subscribe(Some(store.cache().revision())) {
            Ok(sub) => sub.live,
            Err(_) => {
                cache
                    .subscribe(None)
                    .expect("subscribing to the current state")
                    .live
            }
        };
        let terminating: Vec<String> = cache
            .snapshot(None, 0)
            .objects
            .iter()
            .filter(|e| e.deleting)
            .map(|e| e.name.clone())
            .collect();
        let mut pending = false;
        for ns in &terminating {
            match finalize(&store, ns).await {
                Ok(done) => pending |= !done,
                Err(e) => {
                    tracing::warn!(namespace = ns, error = %e, "namespace cleanup failed");
                    pending = true;
                }
            }
        }
        if pending {
            tokio::time::sleep(Duration::from_millis(500)).await;
        } else {
            // Wait for a change to some namespace.
            let _ = live.recv().await;
        }
    }
}

/// Deletes the content of a terminating namespace; returns true once the namespace is gone.
async fn finalize(store: &GenericStore, ns: &str) -> Result<bool, ApiError> {
    let mut remaining = 0;
    for info in resources::all().iter().filter(|r| r.namespaced) {
        let snapshot = store.cache().resource(info).snapshot(Some(ns), 0);
        for entry in snapshot.objects {
            remaining += 1;
            if entry.deleting {
                continue;
            }
            let opts = DeleteOptions {
                propagation: Some("Background".into()),
                ..DeleteOptions::default()
            };
            match store.delete(info, Some(ns), &entry.name, &opts).await {
                Ok((_, true)) => remaining -= 1,
                Ok((_, false)) => {}
                Err(e) if e.code == 404 => remaining -= 1,
                Err(e) => return Err(e),
            }
        }
    }
    if remaining > 0 {
        return Ok(false);
    }
    let ns_info = resources::find("", "v1", "namespaces").expect("namespaces are served");
    let opts = WriteOptions {
        field_manager: "namespace-controller".into(),
        ..WriteOptions::default()
    };
    let patch: Value = json!({"spec": {"finalizers": null}});
    match store
        .patch(
            ns_info,
            None,
            ns,
            apimachinery::patch::PatchType::Merge,
            &patch,
            Some(Subresource::Finalize),
            &opts,
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.code == 404 => Ok(true),
        Err(e) => Err(e),
    }
}
