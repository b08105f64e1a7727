//! WATCH: streams the changes of a resource from the watch cache as newline-delimited JSON
//! events, filtered by namespace and selectors, with bookmarks and timeouts.

use std::{sync::Arc, time::Duration};

use apimachinery::{fields, labels, status::ApiError};
use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, mpsc};

use crate::{
    cache::{CacheEvent, Entry, EventType, Subscription, frame},
    response::{self, Body, Format},
    rest::Call,
    table::{self, IncludeObject},
};

/// How often bookmarks are sent when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);
/// How long a watch lasts when the client sets no timeout (upstream picks 30–60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// The filter of one watcher.
struct Filter {
    namespace: Option<String>,
    name: Option<String>,
    labels: Option<labels::Selector>,
    fields: Option<fields::FieldSelector>,
}

impl Filter {
    fn matches(&self, entry: &Entry) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == entry.namespace)
            && self.name.as_deref().is_none_or(|n| n == entry.name)
            && self
                .labels
                .as_ref()
                .is_none_or(|s| s.matches_json(entry.labels.as_ref()))
            && self.fields.as_ref().is_none_or(|s| {
                let obj = entry.object();
                s.matches(|f| fields::json_field(&obj, f))
            })
    }

    fn is_trivial(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// The event this watcher sees, if any: an object that starts or stops matching shows as
    /// added or deleted.
    fn view(&self, event: &CacheEvent) -> Option<EventType> {
        let now = self.matches(&event.object);
        let before = event.prev.as_ref().is_some_and(|p| self.matches(p));
        match event.kind {
            EventType::Added => now.then_some(EventType::Added),
            EventType::Deleted => (now || before).then_some(EventType::Deleted),
            EventType::Modified => match (before, now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }
}

/// How events are encoded for this watcher.
struct Encoder {
    format: Format,
    include: IncludeObject,
    info: &'static apimachinery::resources::ResourceInfo,
}

impl Encoder {
    fn event(&self, kind: EventType, event: &CacheEvent, shared: bool) -> Bytes {
        match self.format {
            Format::Json | Format::Yaml if shared && kind == event.kind => event.json_line(),
            Format::Json | Format::Yaml => frame(kind.as_str(), &event.object.json),
            Format::Table => {
                let list_meta = json!({"resourceVersion": event.object.revision.to_string()});
                let t = table::table(
                    self.info,
                    std::iter::once(&event.object.object()),
                    list_meta,
                    self.include,
                );
                frame(kind.as_str(), &serde_json::to_vec(&t).unwrap_or_default())
            }
            Format::Metadata => {
                let m = table::partial_metadata(&event.object.object());
                frame(kind.as_str(), &serde_json::to_vec(&m).unwrap_or_default())
            }
        }
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let (api_version, kind) = match self.format {
            Format::Table => ("meta.k8s.io/v1".to_string(), "Table"),
            Format::Metadata => ("meta.k8s.io/v1".to_string(), "PartialObjectMetadata"),
            _ => (self.info.api_version(), self.info.kind),
        };
        let obj = json!({"kind": kind, "apiVersion": api_version, "metadata": metadata});
        frame("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
    }
}

/// Serves a watch.
pub async fn serve(call: Call<'_>) -> Result<Response<Body>, ApiError> {
    let info = call.info;
    let cache = call.server.store.cache().clone();
    let opts = {
        let q = call.query;
        let labels =
            match q.get("labelSelector").filter(|s| !s.is_empty()) {
                Some(s) => Some(labels::parse(s).map_err(|e| {
                    ApiError::bad_request(format!("unable to parse requirement: {e}"))
                })?),
                None => None,
            };
        let fields = match q.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(s) => Some(fields::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?),
            None => None,
        };
        Filter {
            namespace: call.path.namespace.clone().filter(|_| info.namespaced),
            name: call.path.name.clone(),
            labels,
            fields,
        }
    };
    let q = call.query;
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let initial_events = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let rv = q.get("resourceVersion").map(String::as_str).unwrap_or("");
    let resource_cache = cache.resource(info).clone();
    let start: Result<Subscription, ApiError> = if initial_events || rv.is_empty() || rv == "0" {
        if rv.is_empty() {
            cache.sync().await?;
        } else if rv != "0" {
            let n: i64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            cache.wait_for(n).await?;
        }
        resource_cache.subscribe(None)
    } else {
        let n: i64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
        cache.wait_for(n).await?;
        resource_cache.subscribe(Some(n))
    };
    let encoder = Encoder {
        format: call.format,
        include: IncludeObject::parse(q.get("includeObject").map(String::as_str)),
        info,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let send_initial_end = initial_events && bookmarks;
    tokio::spawn(async move {
        let sub = match start {
            Ok(sub) => sub,
            Err(e) => {
                let _ = tx
                    .send(frame(
                        "ERROR",
                        &serde_json::to_vec(&e.to_status()).unwrap_or_default(),
                    ))
                    .await;
                return;
            }
        };
        stream(
            sub,
            opts,
            encoder,
            tx,
            cache,
            bookmarks,
            send_initial_end,
            timeout,
        )
        .await;
    });
    let mut resp = Response::new(response::streamed(rx));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    sub: Subscription,
    filter: Filter,
    encoder: Encoder,
    tx: mpsc::Sender<Bytes>,
    cache: Arc<crate::cache::Cache>,
    bookmarks: bool,
    initial_end: bool,
    timeout: Duration,
) {
    let Subscription { backlog, mut live } = sub;
    let shared = filter.is_trivial();
    let mut last = 0;
    for event in &backlog {
        last = last.max(event.object.revision);
        if let Some(kind) = filter.view(event)
            && tx.send(encoder.event(kind, event, shared)).await.is_err()
        {
            return;
        }
    }
    if initial_end {
        let revision = cache.revision().max(last);
        if tx.send(encoder.bookmark(revision, true)).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if bookmarks => {
                let revision = cache.revision();
                // Deliver everything up to `revision` before saying we got there.
                loop {
                    match live.try_recv() {
                        Ok(event) => {
                            if let Some(kind) = filter.view(&event)
                                && tx.send(encoder.event(kind, &event, shared)).await.is_err() {
                                    return;
                                }
                        }
                        Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
                        Err(_) => return,
                    }
                }
                if tx.send(encoder.bookmark(revision, false)).await.is_err() {
                    return;
                }
            }
            event = live.recv() => match event {
                Ok(event) => {
                    if event.object.revision <= last {
                        continue;
                    }
                    if let Some(kind) = filter.view(&event)
                        && tx.send(encoder.event(kind, &event, shared)).await.is_err() {
                            return;
                        }
                }
                // A watcher that fell behind is closed; the client resumes from its last
                // resourceVersion.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
            },
        }
    }
}
