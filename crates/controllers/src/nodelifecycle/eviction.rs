//! Taint-based eviction (upstream's NoExecuteTaintManager): a pod on a node with a NoExecute
//! taint it does not tolerate is deleted at once; one that tolerates it for
//! `tolerationSeconds` is deleted when that time is up. Pods on a node that is not Ready are
//! marked not Ready themselves.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{Node, Pod, PodCondition},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, Preconditions},
    runtime::{controller::Action, reflector::ObjectRef},
};
use serde_json::json;

use super::taints::{self, Eviction};
use crate::{Context, Result};

/// Looks at one pod against its node's taints and readiness.
pub async fn reconcile(pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Action> {
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
        return Ok(Action::await_change());
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(node) = ctx
        .informers
        .get::<Node>()
        .store()
        .get(&ObjectRef::new(&node_name))
    else {
        return Ok(Action::await_change());
    };
    let ready = taints::condition(&node, "Ready").map(|c| c.status.as_str());
    if matches!(ready, Some("False" | "Unknown")) {
        mark_not_ready(&pod, &ctx).await?;
    }
    let node_taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let now = Timestamp::now();
    match taints::eviction(&node_taints, &tolerations, now) {
        Eviction::Never => Ok(Action::await_change()),
        Eviction::At(at) if at > now => {
            let left = Duration::try_from(at.duration_since(now)).unwrap_or_default();
            Ok(Action::requeue(left + Duration::from_millis(50)))
        }
        Eviction::Now | Eviction::At(_) => {
            evict(&pod, &ctx).await?;
            Ok(Action::await_change())
        }
    }
}

/// Upstream `MarkPodsNotReady` for one pod: its Ready condition becomes False.
async fn mark_not_ready(pod: &Pod, ctx: &Context) -> Result<()> {
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if !conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
    {
        return Ok(());
    }
    let now = Time(Timestamp::now());
    let conditions: Vec<PodCondition> = conditions
        .into_iter()
        .map(|mut c| {
            if c.type_ == "Ready" {
                c.status = "False".into();
                c.last_transition_time = Some(now.clone());
            }
            c
        })
        .collect();
    let patch = json!({
        "metadata": {"resourceVersion": pod.metadata.resource_version},
        "status": {"conditions": conditions},
    });
    let (namespace, name) = names(pod);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            ctx.recorder
                .warning(pod, "NodeNotReady", "Node is not ready".into());
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a pod for a NoExecute taint, with upstream's DisruptionTarget condition and event.
async fn evict(pod: &Pod, ctx: &Context) -> Result<()> {
    let (namespace, name) = names(pod);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    ctx.recorder.normal(
        pod,
        "TaintManagerEviction",
        format!("Marking for deletion Pod {namespace}/{name}"),
    );
    let condition = PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("DeletionByTaintManager".into()),
        message: Some("Taint manager: deleting due to NoExecute taint".into()),
        last_transition_time: Some(Time(Timestamp::now())),
        ..Default::default()
    };
    let mut conditions: Vec<PodCondition> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "DisruptionTarget")
        .collect();
    conditions.push(condition);
    let patch = json!({"status": {"conditions": conditions}});
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) | Err(kube::Error::Api(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            tracing::info!(
                pod = format!("{namespace}/{name}"),
                "evicted for a NoExecute taint"
            );
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn names(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}
