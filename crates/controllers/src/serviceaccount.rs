//! The service account controller: every namespace has a `default` ServiceAccount.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};

use crate::{Context, Result};

/// Watches namespaces and their `default` service accounts.
pub async fn run(ctx: Arc<Context>) {
    let namespaces = ctx.informers.get::<Namespace>();
    let accounts = ctx.informers.get::<ServiceAccount>();
    let controller = Controller::for_shared_stream(namespaces.subscribe(), namespaces.store())
        .watches_shared_stream(accounts.subscribe(), |sa: Arc<ServiceAccount>| {
            (sa.metadata.name.as_deref() == Some("default"))
                .then(|| ObjectRef::new(sa.metadata.namespace.as_deref().unwrap_or_default()))
        });
    crate::drive("serviceaccount", controller, ctx, reconcile).await;
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    tracing::debug!(namespace = name, "reconciling");
    let terminating = ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    let exists = ctx
        .informers
        .get::<ServiceAccount>()
        .store()
        .get(&ObjectRef::new("default").within(&name))
        .is_some();
    if terminating || exists {
        return Ok(Action::await_change());
    }
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &name);
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            namespace: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &account).await {
        Ok(_) => tracing::info!(namespace = name, "created the default service account"),
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}
