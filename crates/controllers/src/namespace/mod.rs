//! The namespace controller: a namespace being deleted is Terminating while everything in it,
//! of every served kind, is deleted; once nothing is left its `kubernetes` finalizer is
//! removed through `namespaces/<name>/finalize`, and the namespace goes. Its conditions say
//! what holds it up, with upstream's types, reasons and messages.

mod status;
#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec};
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, ListParams, PostParams, PropagationPolicy},
    core::PartialObjectMeta,
    discovery::verbs,
    runtime::controller::{Action, Controller},
};

use self::status::Outcome;
use crate::{Context, Error, Result, garbagecollector::discovery};

/// The finalizer this controller owns.
const FINALIZER: &str = "kubernetes";

/// Watches namespaces.
pub async fn run(ctx: Arc<Context>) {
    let namespaces = ctx.informers.get::<Namespace>();
    // The service account controller drives namespaces too: waiting for the cache first
    // means the controller finds its store ready and never waits on it alongside another.
    namespaces.ready().await;
    let controller = Controller::for_shared_stream(namespaces.subscribe(), namespaces.store());
    crate::drive("namespace", controller, ctx, reconcile).await;
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action> {
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let name = ns.metadata.name.clone().unwrap_or_default();
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if !finalizers.is_empty() && !finalizers.iter().any(|f| f == FINALIZER) {
        // Someone else's finalizers hold it; ours is done.
        return Ok(Action::await_change());
    }
    let outcome = if finalizers.is_empty() {
        Outcome::default()
    } else {
        delete_content(&ctx, &name).await
    };
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    if let Some(updated) = status::updated(&ns, &outcome, jiff::Timestamp::now()) {
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => {}
            // A newer version is on its way; it is reconciled then.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(failure) = outcome.failure() {
        return Err(Error::Invalid(failure));
    }
    if let Some(estimate) = outcome.remaining_estimate() {
        tracing::debug!(namespace = name, ?outcome, "namespace content remains");
        // Upstream looks again after half the longest remaining grace period, plus a second.
        return Ok(Action::requeue(Duration::from_secs(estimate / 2 + 1)));
    }
    finalize(&api, &ns, &name).await?;
    tracing::info!(namespace = name, "namespace content deleted; finalized");
    Ok(Action::await_change())
}

/// Removes the `kubernetes` finalizer through the `finalize` subresource.
async fn finalize(api: &Api<Namespace>, ns: &Namespace, name: &str) -> Result<()> {
    let mut finalized = ns.clone();
    finalized.metadata.managed_fields = None;
    let rest: Vec<String> = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != FINALIZER)
        .collect();
    finalized.spec = Some(NamespaceSpec {
        finalizers: Some(rest).filter(|f| !f.is_empty()),
    });
    match api
        .replace_subresource("finalize", name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes everything in the namespace (pods first, so their controllers do not replace
/// them), and reports what is left.
async fn delete_content(ctx: &Context, namespace: &str) -> Outcome {
    let mut outcome = Outcome::default();
    let mut served = match discovery::served(&ctx.client).await {
        Ok(served) => served,
        Err(error) => {
            outcome.discovery_failure = Some(error.to_string());
            return outcome;
        }
    };
    served.retain(|s| s.namespaced && s.supports(verbs::LIST) && s.supports(verbs::DELETE));
    served.sort_by_key(|s| !(s.resource.group.is_empty() && s.resource.plural == "pods"));
    for s in &served {
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), namespace, &s.resource);
        if let Err(error) = delete_kind(&api, s, &mut outcome).await {
            outcome.content_failures.push(format!(
                "{}: {}",
                status::group_resource(&s.resource),
                error
            ));
        }
    }
    outcome
}

/// Deletes every object of one kind in the namespace and counts what remains.
async fn delete_kind(
    api: &Api<DynamicObject>,
    served: &discovery::Served,
    outcome: &mut Outcome,
) -> Result<(), kube::Error> {
    let listed = api.list_metadata(&ListParams::default()).await?;
    if listed.items.is_empty() {
        return Ok(());
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    let live: Vec<&PartialObjectMeta<DynamicObject>> = listed
        .items
        .iter()
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .collect();
    if !live.is_empty() {
        if served.supports(verbs::DELETE_COLLECTION) {
            api.delete_collection(&params, &ListParams::default())
                .await?;
        } else {
            for obj in live {
                let name = obj.metadata.name.as_deref().unwrap_or_default();
                match api.delete(name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let left = api.list_metadata(&ListParams::default()).await?;
    outcome.count(&served.resource, &left.items);
    Ok(())
}
