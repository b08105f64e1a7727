//! The root CA publisher: every active namespace has the ConfigMap `kube-root-ca.crt` whose
//! `ca.crt` is the cluster's CA bundle, recreated when deleted and repaired when edited, so
//! that pods can verify the API server (upstream's `rootcacertpublisher`).

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
    runtime::{
        controller::{Action, Controller},
        reflector::ObjectRef,
    },
};

use crate::{Context, Result};

/// The ConfigMap's name.
pub const CONFIG_MAP: &str = "kube-root-ca.crt";

/// The key of the CA bundle.
pub const KEY: &str = "ca.crt";

/// The annotation describing the ConfigMap, and its value, as upstream writes them.
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Watches namespaces and their `kube-root-ca.crt` ConfigMaps.
pub async fn run(ctx: Arc<Context>) {
    if ctx.options.root_ca.is_empty() {
        tracing::info!("no root CA to publish; the root CA publisher does not run");
        return;
    }
    let namespaces = ctx.informers.get::<Namespace>();
    let config_maps = ctx.informers.get::<ConfigMap>();
    let controller = Controller::for_shared_stream(namespaces.subscribe(), namespaces.store())
        .watches_shared_stream(config_maps.subscribe(), |cm: Arc<ConfigMap>| {
            (cm.metadata.name.as_deref() == Some(CONFIG_MAP))
                .then(|| ObjectRef::new(cm.metadata.namespace.as_deref().unwrap_or_default()))
        });
    crate::drive("root-ca-cert-publisher", controller, ctx, reconcile).await;
}

/// What the ConfigMap should hold, given what it holds now: `None` when it is right.
pub fn desired(current: Option<&ConfigMap>, namespace: &str, root_ca: &str) -> Option<ConfigMap> {
    let data = BTreeMap::from([(KEY.to_string(), root_ca.to_string())]);
    let Some(current) = current else {
        return Some(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP.into()),
                namespace: Some(namespace.into()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        });
    };
    let described = current
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
        .is_some_and(|d| !d.is_empty());
    if current.data.as_ref() == Some(&data) && described {
        return None;
    }
    let mut repaired = current.clone();
    repaired.data = Some(data);
    repaired
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    repaired.metadata.managed_fields = None;
    Some(repaired)
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let terminating = ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating {
        return Ok(Action::await_change());
    }
    let current = ctx
        .informers
        .get::<ConfigMap>()
        .store()
        .get(&ObjectRef::new(CONFIG_MAP).within(&name));
    let Some(want) = desired(current.as_deref(), &name, &ctx.options.root_ca) else {
        return Ok(Action::await_change());
    };
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    let written = match current {
        None => api.create(&PostParams::default(), &want).await.map(|_| ()),
        Some(_) => api
            .replace(CONFIG_MAP, &PostParams::default(), &want)
            .await
            .map(|_| ()),
    };
    match written {
        Ok(()) => tracing::debug!(namespace = name, "published the root CA"),
        // The namespace is gone or terminating: nothing to publish there.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 403 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMII...\n-----END CERTIFICATE-----\n";

    #[test]
    fn a_missing_config_map_is_created_with_the_bundle_and_description() {
        let cm = desired(None, "team", CA).unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some("kube-root-ca.crt"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(cm.data.as_ref().unwrap()["ca.crt"], CA);
        assert_eq!(
            cm.metadata.annotations.as_ref().unwrap()["kubernetes.io/description"],
            DESCRIPTION
        );
        // Once right, it stays as it is.
        assert_eq!(desired(Some(&cm), "team", CA), None);
    }

    #[test]
    fn an_edited_config_map_is_repaired_keeping_its_other_metadata() {
        let mut cm = desired(None, "team", CA).unwrap();
        cm.metadata.resource_version = Some("42".into());
        cm.metadata.labels = Some(BTreeMap::from([("mine".into(), "yes".into())]));
        let mut edited = cm.clone();
        edited.data = Some(BTreeMap::from([
            ("ca.crt".into(), "tampered".into()),
            ("extra".into(), "x".into()),
        ]));
        let repaired = desired(Some(&edited), "team", CA).unwrap();
        assert_eq!(repaired.data, cm.data);
        assert_eq!(repaired.metadata.resource_version.as_deref(), Some("42"));
        assert_eq!(repaired.metadata.labels, cm.metadata.labels);
        // Losing the description alone is repaired too.
        let mut bare = cm.clone();
        bare.metadata.annotations = None;
        assert!(desired(Some(&bare), "team", CA).is_some());
    }
}
