//! An event recorder writing core/v1 Events, the ones `kubectl describe` and `kubectl get
//! events` show. Repeats of the same event on the same object are counted on one Event, as
//! upstream's recorder aggregates them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{Event, EventSource, ObjectReference},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time},
};
use kube::{
    Api, Client, Resource,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

/// How many distinct recent events are remembered for counting repeats.
const REMEMBERED: usize = 4096;

/// Whether an event is routine or a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Routine: something happened as intended.
    Normal,
    /// Something went wrong or is blocked.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// What makes two events the same: (object uid, type, reason, message).
type EventKey = (String, &'static str, String, String);

/// Where an event was recorded: (namespace, Event name, count so far).
type Recorded = (String, String, i32);

/// Records events on behalf of one component (and host, for node components).
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    component: String,
    host: Option<String>,
    /// Recent events by (object uid, type, reason, message): the Event's name and count.
    recent: Arc<Mutex<HashMap<EventKey, Recorded>>>,
}

impl Recorder {
    /// A recorder for `component` (the event's `source.component`).
    pub fn new(client: Client, component: &str) -> Recorder {
        Recorder {
            client,
            component: component.to_string(),
            host: None,
            recent: Arc::default(),
        }
    }

    /// The same recorder, naming the node the events come from (`source.host`).
    pub fn on_host(mut self, host: &str) -> Recorder {
        self.host = Some(host.to_string());
        self
    }

    /// Records a Normal event about `obj` in the background.
    pub fn normal<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: String) {
        self.record(obj.object_ref(&()), EventType::Normal, reason, message);
    }

    /// Records a Warning event about `obj` in the background.
    pub fn warning<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: String) {
        self.record(obj.object_ref(&()), EventType::Warning, reason, message);
    }

    /// Records an event about the object `regarding` in the background; failures are logged,
    /// never returned, as an event is never worth failing the work it describes.
    pub fn record(
        &self,
        regarding: ObjectReference,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        let this = self.clone();
        let reason = reason.to_string();
        tokio::spawn(async move {
            if let Err(error) = this.write(regarding, kind, &reason, message).await {
                tracing::debug!(%error, reason, "could not record an event");
            }
        });
    }

    async fn write(
        &self,
        regarding: ObjectReference,
        kind: EventType,
        reason: &str,
        message: String,
    ) -> Result<(), kube::Error> {
        let namespace = regarding
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Timestamp::now();
        let key = (
            regarding.uid.clone().unwrap_or_default(),
            kind.as_str(),
            reason.to_string(),
            message.clone(),
        );
        let seen = self
            .recent
            .lock()
            .expect("recorder lock")
            .get(&key)
            .cloned();
        if let Some((ns, name, count)) = seen
            && ns == namespace
        {
            let patch = json!({"count": count + 1, "lastTimestamp": Time(now)});
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.remember(key, namespace, name, count + 1);
                return Ok(());
            }
        }
        let object_name = regarding.name.clone().unwrap_or_default();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{object_name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: regarding,
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(kind.as_str().to_string()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: self.host.clone(),
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.host.clone().unwrap_or_else(|| self.component.clone())),
            ..Default::default()
        };
        let created = api.create(&PostParams::default(), &event).await?;
        self.remember(key, namespace, created.metadata.name.unwrap_or_default(), 1);
        Ok(())
    }

    fn remember(&self, key: EventKey, namespace: String, name: String, count: i32) {
        let mut recent = self.recent.lock().expect("recorder lock");
        if recent.len() >= REMEMBERED {
            recent.clear();
        }
        recent.insert(key, (namespace, name, count));
    }
}
