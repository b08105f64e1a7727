//! The generic store: create, get, list, update, patch and delete for every resource, as
//! upstream's `registry/generic/registry/store.go`.
//!
//! Each operation runs the same steps in the same order for every kind; what differs comes from
//! the kind's [`ObjectStrategy`](super::ObjectStrategy). Writes are compare-and-swap on the
//! store revision that was read, retried when the caller did not pin a `resourceVersion`.

use std::sync::Arc;

use apimachinery::{
    fields, labels, meta,
    patch::{self, PatchType},
    resources::{self, ResourceInfo, Subresource},
    schema,
    status::ApiError,
    validation::{self, ErrorList, Path},
};
use bytes::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};
use store::{KeyValue, Storage};

use super::{NameRule, strategy, validate_name};
use crate::cache::{Cache, Entry};

/// How often a write is retried after losing a compare-and-swap race.
const RETRIES: usize = 16;

/// How unknown fields in a request are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

/// Options shared by writes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate but do not store.
    pub dry_run: bool,
    /// `fieldManager`, or one derived from the user agent.
    pub field_manager: String,
    /// `fieldValidation`.
    pub validation: FieldValidation,
    /// `force` (server-side apply only).
    pub force: bool,
}

/// Options of a delete, from the `DeleteOptions` body and the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period: Option<i64>,
    /// `propagationPolicy`: `Orphan`, `Background` or `Foreground`.
    pub propagation: Option<String>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// Options of a list or watch.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub labels: Option<labels::Selector>,
    /// `fieldSelector`.
    pub fields: Option<fields::FieldSelector>,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`: the key to start after.
    pub continue_after: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
}

/// A page of a list.
pub struct ListPage {
    /// The matching objects.
    pub items: Vec<Arc<Entry>>,
    /// The revision the list reflects.
    pub revision: i64,
    /// The `continue` token of the next page, if any.
    pub continue_token: Option<String>,
    /// How many matching objects follow this page, when paging.
    pub remaining: Option<usize>,
}

/// The result of a write: the object and warnings for the client.
pub struct Written {
    /// The object as stored (or as it would be stored, for dry runs).
    pub object: Value,
    /// Warnings (`Warning` headers).
    pub warnings: Vec<String>,
    /// Whether the write created the object.
    pub created: bool,
}

/// The generic store over the storage backend and the watch cache.
pub struct GenericStore {
    storage: Arc<dyn Storage>,
    cache: Arc<Cache>,
}

fn storage_error(info: &ResourceInfo, name: &str, e: store::Error) -> ApiError {
    match e {
        store::Error::AlreadyExists(_) => ApiError::already_exists(info, name),
        store::Error::NotFound(_) => ApiError::not_found(info, name),
        store::Error::Conflict { .. } => ApiError::conflict(info, name, ApiError::MODIFIED),
        store::Error::Compacted {
            requested,
            compacted,
        } => ApiError::gone(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        other => ApiError::internal(other),
    }
}

fn decode_kv(kv: &KeyValue) -> Result<Value, ApiError> {
    Entry::decode(kv)
        .map(|e| e.object())
        .ok_or_else(|| ApiError::internal(format!("object at {} does not decode", kv.key)))
}

fn encode(obj: &Value) -> Result<Bytes, ApiError> {
    let mut stored = obj.clone();
    meta::remove(&mut stored, "resourceVersion");
    serde_json::to_vec(&stored)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

fn with_revision(mut obj: Value, revision: i64) -> Value {
    meta::set(&mut obj, "resourceVersion", revision.to_string());
    obj
}

fn random_suffix() -> String {
    // Upstream's alphabet: no vowels, no confusable characters.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Everything outside `metadata` and `status`: what bumps `generation`.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(map) = v.as_object_mut() {
        for field in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(field);
        }
    }
    v
}

/// Fills `apiVersion` and `kind` of an object of `info`.
pub fn set_type(info: &ResourceInfo, obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
}

/// Checks that a request body is an object of the kind the endpoint serves.
fn check_type(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request does not contain a {} object",
            info.kind
        )));
    }
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if !api_version.is_empty() && api_version != info.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    if !kind.is_empty() && kind != info.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            info.kind
        )));
    }
    Ok(())
}

/// Applies `fieldValidation` to the unknown fields of `obj`.
fn check_fields(
    info: &ResourceInfo,
    obj: &Value,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    if mode == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let unknown = schema::unknown_fields(&info.definition, obj);
    let messages: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{}\"", f.trim_start_matches('.')))
        .collect();
    if mode == FieldValidation::Strict && !messages.is_empty() {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            messages.join(", ")
        )));
    }
    Ok(messages)
}

fn meta_errors(rule: NameRule, info: &ResourceInfo, obj: &Value) -> ErrorList {
    let metadata: ObjectMeta = obj
        .get("metadata")
        .cloned()
        .and_then(|m| serde_json::from_value(m).ok())
        .unwrap_or_default();
    let name_fn: fn(&str) -> Vec<String> = match rule {
        NameRule::Subdomain => validation::is_dns1123_subdomain,
        NameRule::Label => validation::is_dns1123_label,
        NameRule::Dns1035Label => validation::is_dns1035_label,
        NameRule::PathSegment => |n| validate_name(NameRule::PathSegment, n),
    };
    validation::validate_object_meta(&metadata, info.namespaced, name_fn, &Path::new("metadata"))
}

impl GenericStore {
    /// A store over `storage` whose reads of collections come from `cache`.
    pub fn new(storage: Arc<dyn Storage>, cache: Arc<Cache>) -> GenericStore {
        GenericStore { storage, cache }
    }

    /// The watch cache.
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// Reads one object from the store.
    pub async fn get(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = info.key(namespace, name);
        match self.storage.get(&key).await {
            Ok(Some(kv)) => decode_kv(&kv),
            Ok(None) => Err(ApiError::not_found(info, name)),
            Err(e) => Err(storage_error(info, name, e)),
        }
    }

    /// Lists objects from the watch cache, consistent with every acknowledged write unless the
    /// client asked for `resourceVersion=0` (any state will do).
    pub async fn list(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
        fields_allowed: &[&str],
    ) -> Result<ListPage, ApiError> {
        let revision = match opts.resource_version.as_deref() {
            Some("0") => self.cache.revision(),
            Some(rv) if !rv.is_empty() && opts.continue_after.is_none() => {
                let rv: i64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?;
                self.cache.wait_for(rv).await?
            }
            _ => self.cache.sync().await?,
        };
        if let Some(selector) = &opts.fields {
            check_field_labels(selector, fields_allowed)?;
        }
        let snapshot = self.cache.resource(info).snapshot(namespace, revision);
        let matches = |e: &Arc<Entry>| {
            opts.labels
                .as_ref()
                .is_none_or(|s| s.matches_json(e.labels.as_ref()))
                && opts.fields.as_ref().is_none_or(|s| {
                    let obj = e.object();
                    s.matches(|f| fields::json_field(&obj, f))
                })
        };
        let start = |e: &Arc<Entry>| match &opts.continue_after {
            Some(after) => page_key(e) > *after,
            None => true,
        };
        let mut iter = snapshot.objects.iter().filter(|e| start(e) && matches(e));
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = None;
        for e in iter.by_ref() {
            items.push(e.clone());
            if opts.limit > 0 && items.len() == opts.limit {
                break;
            }
        }
        if opts.limit > 0 && items.len() == opts.limit {
            let rest = iter.count();
            if rest > 0 {
                let last = items.last().map(page_key).unwrap_or_default();
                continue_token = Some(encode_continue(&last, snapshot.revision));
                remaining = Some(rest);
            }
        }
        Ok(ListPage {
            items,
            revision: snapshot.revision,
            continue_token,
            remaining,
        })
    }

    /// Refuses new objects in a namespace that does not exist or is being deleted (upstream's
    /// NamespaceLifecycle admission).
    pub(crate) async fn check_namespace(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), ApiError> {
        let Some(ns) = namespace.filter(|_| info.namespaced) else {
            return Ok(());
        };
        let ns_info = resources::find("", "v1", "namespaces").expect("namespaces are served");
        let current = match self.cache.resource(ns_info).get(None, ns) {
            Some(entry) => entry.object(),
            None => match self.get(ns_info, None, ns).await {
                Ok(obj) => obj,
                Err(e) if e.code == 404 => return Err(ApiError::not_found(ns_info, ns)),
                Err(e) => return Err(e),
            },
        };
        if meta::is_deleting(&current) {
            return Err(ApiError::forbidden_because(
                info,
                name,
                format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            ));
        }
        Ok(())
    }

    /// Creates an object.
    pub async fn create(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        self.create_object(info, namespace, obj, opts, false).await
    }

    /// Creates an object; `applied` says server-side apply already recorded its field owners.
    async fn create_object(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
        applied: bool,
    ) -> Result<Written, ApiError> {
        check_type(info, &obj)?;
        let warnings = check_fields(info, &obj, opts.validation)?;
        set_type(info, &mut obj);
        if info.namespaced {
            let body_ns = meta::namespace(&obj);
            match namespace {
                Some(ns) if body_ns.is_empty() || body_ns == ns => {
                    meta::set(&mut obj, "namespace", ns)
                }
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                None => return Err(ApiError::bad_request("a namespace is required")),
            }
        } else {
            meta::remove(&mut obj, "namespace");
        }
        if crate::admission::needed(info) {
            self.check_namespace(info, namespace, meta::name(&obj))
                .await?;
            crate::admission::admit_create(self, info, namespace, &mut obj).await?;
        }
        let strategy = strategy(info);
        let generated =
            meta::name(&obj).is_empty() && !meta::str_field(&obj, "generateName").is_empty();
        for attempt in 0..if generated { 8 } else { 1 } {
            let mut candidate = obj.clone();
            if generated {
                let name = format!(
                    "{}{}",
                    meta::str_field(&obj, "generateName"),
                    random_suffix()
                );
                meta::set(&mut candidate, "name", name);
            }
            let name = meta::name(&candidate).to_string();
            let metadata = meta::metadata_mut(&mut candidate);
            for field in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                metadata.remove(field);
            }
            metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            metadata.insert("creationTimestamp".into(), json!(meta::now()));
            if strategy.tracks_generation() {
                metadata.insert("generation".into(), json!(1));
            } else {
                metadata.remove("generation");
            }
            if info.has(Subresource::Status)
                && let Some(map) = candidate.as_object_mut()
            {
                map.remove("status");
            }
            let mut errors = meta_errors(strategy.names(), info, &candidate);
            errors.extend(strategy.admit_create(info, &mut candidate)?);
            if !errors.is_empty() {
                return Err(ApiError::invalid(info, &name, &errors));
            }
            self.check_namespace(info, namespace, &name).await?;
            if !applied {
                candidate = patch::update_managed_fields(
                    None,
                    &candidate,
                    &info.definition,
                    &opts.field_manager,
                    &info.api_version(),
                    &meta::now(),
                );
            }
            if opts.dry_run {
                return Ok(Written {
                    object: candidate,
                    warnings,
                    created: true,
                });
            }
            let key = info.key(namespace, &name);
            match self.storage.create(&key, encode(&candidate)?).await {
                Ok(revision) => {
                    return Ok(Written {
                        object: with_revision(candidate, revision),
                        warnings,
                        created: true,
                    });
                }
                Err(store::Error::AlreadyExists(_)) if generated && attempt < 7 => continue,
                Err(e) => return Err(storage_error(info, &name, e)),
            }
        }
        Err(ApiError::already_exists(info, meta::name(&obj)))
    }

    /// Replaces an object (PUT), or only its status when `sub` is `Status`.
    pub async fn update(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        obj: Value,
        sub: Option<Subresource>,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        check_type(info, &obj)?;
        let warnings = check_fields(info, &obj, opts.validation)?;
        let body_name = meta::name(&obj);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = meta::namespace(&obj);
        if info.namespaced && !body_ns.is_empty() && Some(body_ns) != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let pinned = meta::resource_version(&obj).to_string();
        let create_on_update = matches!(info.kind, "Endpoints" | "Lease") && sub.is_none();
        let mut written = self
            .guaranteed_update(
                info,
                namespace,
                name,
                !pinned.is_empty(),
                opts,
                |current| {
                    let Some(current) = current else {
                        if create_on_update {
                            return Ok(Change::Create(obj.clone()));
                        }
                        return Err(ApiError::not_found(info, name));
                    };
                    if !pinned.is_empty() && pinned != meta::resource_version(current) {
                        return Err(ApiError::conflict(info, name, ApiError::MODIFIED));
                    }
                    Ok(Change::Update(obj.clone()))
                },
                sub,
            )
            .await?;
        written.warnings.extend(warnings);
        Ok(written)
    }

    /// Patches an object; server-side apply creates it when missing.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &Value,
        sub: Option<Subresource>,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let warnings = if patch_type == PatchType::Apply {
            check_type(info, body)?;
            check_fields(info, body, opts.validation)?
        } else {
            Vec::new()
        };
        let pinned = body
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .and_then(Value::as_str)
            .is_some();
        let definition = info.definition.clone();
        let now = meta::now();
        let apply_opts = patch::ApplyOptions {
            manager: &opts.field_manager,
            force: opts.force,
            now: &now,
            subresource: sub.map(Subresource::name),
            // Writes to the main resource never own the status, nor status writes the rest.
            reset_fields: match (sub, info.has(Subresource::Status)) {
                (Some(Subresource::Status), _) => &[&["spec"], &["metadata"]],
                (None, true) => &[&["status"]],
                _ => &[],
            },
        };
        let mut written = self
            .guaranteed_update(
                info,
                namespace,
                name,
                pinned,
                opts,
                |current| {
                    let patched = match (patch_type, current) {
                        (PatchType::Apply, None) => {
                            let mut obj = patch::apply_with(None, body, &definition, &apply_opts)
                                .map_err(|e| patch_error(info, name, e))?;
                            let m = meta::metadata_mut(&mut obj);
                            m.insert("name".into(), json!(name));
                            if let Some(ns) = namespace.filter(|_| info.namespaced) {
                                m.insert("namespace".into(), json!(ns));
                            }
                            return Ok(Change::ApplyCreate(obj));
                        }
                        (_, None) => return Err(ApiError::not_found(info, name)),
                        (PatchType::Json, Some(cur)) => patch::json::apply(cur, body),
                        (PatchType::Merge, Some(cur)) => patch::merge::apply(cur, body),
                        (PatchType::Strategic, Some(cur)) => {
                            patch::strategic_merge(cur, body, &definition)
                        }
                        (PatchType::Apply, Some(cur)) => {
                            patch::apply_with(Some(cur), body, &definition, &apply_opts)
                        }
                    }
                    .map_err(|e| patch_error(info, name, e))?;
                    let current = current.expect("matched above");
                    let rv = meta::resource_version(&patched);
                    if !rv.is_empty() && rv != meta::resource_version(current) {
                        return Err(ApiError::conflict(info, name, ApiError::MODIFIED));
                    }
                    Ok(if patch_type == PatchType::Apply {
                        Change::Applied(patched)
                    } else {
                        Change::Update(patched)
                    })
                },
                sub,
            )
            .await?;
        written.warnings.extend(warnings);
        Ok(written)
    }

    /// Reads, changes and writes an object with compare-and-swap, retrying lost races unless
    /// the caller pinned a `resourceVersion`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn guaranteed_update(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        pinned: bool,
        opts: &WriteOptions,
        mut change: impl FnMut(Option<&Value>) -> Result<Change, ApiError>,
        sub: Option<Subresource>,
    ) -> Result<Written, ApiError> {
        let key = info.key(namespace, name);
        let strategy = strategy(info);
        for _ in 0..RETRIES {
            let current = self
                .storage
                .get(&key)
                .await
                .map_err(|e| storage_error(info, name, e))?;
            let current_obj = current.as_ref().map(decode_kv).transpose()?;
            let (mut new, applied) = match change(current_obj.as_ref())? {
                Change::Create(obj) => {
                    return self.create_object(info, namespace, obj, opts, false).await;
                }
                Change::ApplyCreate(obj) => {
                    return self.create_object(info, namespace, obj, opts, true).await;
                }
                Change::Update(obj) => (obj, false),
                Change::Applied(obj) => (obj, true),
            };
            let (Some(kv), Some(old)) = (current.as_ref(), current_obj.as_ref()) else {
                unreachable!("updates have a current object");
            };
            set_type(info, &mut new);
            new = match sub {
                // A status write changes only the status.
                Some(Subresource::Status) => {
                    let mut merged = old.clone();
                    merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                    if merged["status"].is_null() {
                        merged.as_object_mut().map(|m| m.remove("status"));
                    }
                    merged
                }
                // A binding (pods/binding) writes what the caller derived from the current
                // object: `spec.nodeName` and the PodScheduled condition.
                Some(Subresource::Binding) => new,
                // A finalize write changes only `spec.finalizers` (namespaces).
                Some(Subresource::Finalize) => {
                    let mut merged = old.clone();
                    match new.pointer("/spec/finalizers") {
                        Some(f) if !f.is_null() => merged["spec"]["finalizers"] = f.clone(),
                        _ => {
                            if let Some(spec) =
                                merged.get_mut("spec").and_then(Value::as_object_mut)
                            {
                                spec.remove("finalizers");
                            }
                        }
                    }
                    merged
                }
                _ => {
                    if info.has(Subresource::Status) {
                        match old.get("status") {
                            Some(status) => new["status"] = status.clone(),
                            None => {
                                new.as_object_mut().map(|m| m.remove("status"));
                            }
                        }
                    }
                    new
                }
            };
            // System fields are the server's, whatever the client sent.
            let old_meta = meta::metadata(old).cloned().unwrap_or_default();
            let new_meta = meta::metadata_mut(&mut new);
            for field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match old_meta.get(field) {
                    Some(v) => new_meta.insert(field.into(), v.clone()),
                    None => new_meta.remove(field),
                };
            }
            if new_meta
                .get("managedFields")
                .is_none_or(|m| m.as_array().is_none_or(Vec::is_empty))
                && let Some(m) = old_meta.get("managedFields")
            {
                new_meta.insert("managedFields".into(), m.clone());
            }
            new_meta.remove("resourceVersion");
            let mut errors = meta_errors(strategy.names(), info, &new);
            if sub.is_none() {
                errors.extend(strategy.admit_update(info, &mut new, old)?);
            } else {
                // Status writes are still decoded, so a malformed status is refused.
                (info.roundtrip)(&new).map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            if !errors.is_empty() {
                return Err(ApiError::invalid(info, name, &errors));
            }
            if strategy.tracks_generation() && spec_of(&new) != spec_of(old) {
                let generation = old_meta
                    .get("generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta::metadata_mut(&mut new).insert("generation".into(), json!(generation + 1));
            }
            let mut old_cmp = old.clone();
            meta::remove(&mut old_cmp, "resourceVersion");
            if new == old_cmp {
                // Nothing changed: no write, the object keeps its resourceVersion.
                return Ok(Written {
                    object: old.clone(),
                    warnings: Vec::new(),
                    created: false,
                });
            }
            if !applied {
                new = patch::update_managed_fields(
                    Some(old),
                    &new,
                    &info.definition,
                    &opts.field_manager,
                    &info.api_version(),
                    &meta::now(),
                );
            }
            if opts.dry_run {
                return Ok(Written {
                    object: with_revision(new, kv.mod_revision),
                    warnings: Vec::new(),
                    created: false,
                });
            }
            // Removing the last finalizer of an object being deleted deletes it.
            if meta::is_deleting(&new)
                && meta::finalizers(&new).is_empty()
                && !namespace_finalizers_pending(info, &new)
            {
                match self.storage.delete(&key, Some(kv.mod_revision)).await {
                    Ok(deleted) => {
                        return Ok(Written {
                            object: with_revision(new, deleted.mod_revision),
                            warnings: Vec::new(),
                            created: false,
                        });
                    }
                    Err(store::Error::Conflict { .. }) if !pinned => continue,
                    Err(e) => return Err(storage_error(info, name, e)),
                }
            }
            match self
                .storage
                .update(&key, encode(&new)?, kv.mod_revision)
                .await
            {
                Ok(revision) => {
                    return Ok(Written {
                        object: with_revision(new, revision),
                        warnings: Vec::new(),
                        created: false,
                    });
                }
                Err(store::Error::Conflict { .. }) if !pinned => continue,
                Err(e) => return Err(storage_error(info, name, e)),
            }
        }
        Err(ApiError::conflict(info, name, ApiError::MODIFIED))
    }

    /// Deletes an object: at once, or by marking it with a `deletionTimestamp` while finalizers
    /// (or a pod's grace period) remain. Returns the object and whether it is gone.
    pub async fn delete(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let key = info.key(namespace, name);
        for _ in 0..RETRIES {
            let kv = self
                .storage
                .get(&key)
                .await
                .map_err(|e| storage_error(info, name, e))?
                .ok_or_else(|| ApiError::not_found(info, name))?;
            let current = decode_kv(&kv)?;
            if let Some(uid) = &opts.uid
                && uid != meta::uid(&current)
            {
                return Err(ApiError::conflict(
                    info,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta::uid(&current)
                    ),
                ));
            }
            if let Some(rv) = &opts.resource_version
                && rv != meta::resource_version(&current)
            {
                return Err(ApiError::conflict(
                    info,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        meta::resource_version(&current)
                    ),
                ));
            }
            let mut marked = current.clone();
            let mut finalizers: Vec<String> = meta::finalizers(&current)
                .iter()
                .map(|s| s.to_string())
                .collect();
            match opts.propagation.as_deref() {
                Some("Orphan") => push_unique(&mut finalizers, "orphan"),
                Some("Foreground") => push_unique(&mut finalizers, "foregroundDeletion"),
                _ => {}
            }
            let grace = graceful_period(info, &current, opts.grace_period);
            let namespace_pending = info.kind == "Namespace" && info.group.is_empty();
            if finalizers.is_empty() && grace.is_none() && !namespace_pending {
                if opts.dry_run {
                    return Ok((current, true));
                }
                match self.storage.delete(&key, Some(kv.mod_revision)).await {
                    Ok(_) => return Ok((current, true)),
                    Err(store::Error::Conflict { .. }) => continue,
                    Err(e) => return Err(storage_error(info, name, e)),
                }
            }
            if meta::is_deleting(&current)
                && grace.is_none()
                && meta::finalizers(&current).len() == finalizers.len()
            {
                // Already being deleted; nothing new to record.
                return Ok((current, false));
            }
            let now = meta::now();
            {
                let m = meta::metadata_mut(&mut marked);
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
                let seconds = grace.unwrap_or(0);
                let stamp = jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_secs(seconds))
                    .map(|t| {
                        jiff::Timestamp::from_second(t.as_second())
                            .map(|t| t.to_string())
                            .unwrap_or(now.clone())
                    })
                    .unwrap_or(now);
                if !m.contains_key("deletionTimestamp") || grace.is_some() {
                    m.insert("deletionTimestamp".into(), json!(stamp));
                }
                m.insert("deletionGracePeriodSeconds".into(), json!(seconds));
                m.remove("resourceVersion");
            }
            if namespace_pending {
                marked["status"]["phase"] = json!("Terminating");
            }
            if opts.dry_run {
                return Ok((marked, false));
            }
            match self
                .storage
                .update(&key, encode(&marked)?, kv.mod_revision)
                .await
            {
                Ok(revision) => return Ok((with_revision(marked, revision), false)),
                Err(store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(storage_error(info, name, e)),
            }
        }
        Err(ApiError::conflict(info, name, ApiError::MODIFIED))
    }

    /// Deletes every object of a collection matching the selectors.
    pub async fn delete_collection(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let page = self
            .list(info, namespace, list, strategy(info).fields())
            .await?;
        let mut deleted = Vec::new();
        for entry in page.items {
            let ns = Some(entry.namespace.as_str()).filter(|n| !n.is_empty());
            match self.delete(info, ns, &entry.name, opts).await {
                Ok((obj, _)) => deleted.push(obj),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}

/// What a change function decided.
pub(crate) enum Change {
    /// Create the object (it does not exist and the verb allows creating).
    Create(Value),
    /// Create the object from server-side apply, which recorded field ownership itself.
    ApplyCreate(Value),
    /// Write this new version.
    Update(Value),
    /// Write this version from server-side apply, which recorded field ownership itself.
    Applied(Value),
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|f| f == item) {
        list.push(item.to_string());
    }
}

/// A namespace stays until its `spec.finalizers` are cleared by the namespace lifecycle.
fn namespace_finalizers_pending(info: &ResourceInfo, obj: &Value) -> bool {
    info.kind == "Namespace"
        && info.group.is_empty()
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

/// The grace period of a delete, for kinds deleted gracefully: pods bound to a node wait for
/// their kubelet; everything else goes at once.
fn graceful_period(info: &ResourceInfo, obj: &Value, requested: Option<i64>) -> Option<i64> {
    if info.kind != "Pod" || !info.group.is_empty() {
        return None;
    }
    let bound = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !bound || phase == "Succeeded" || phase == "Failed" {
        return None;
    }
    let default = obj
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    match requested.unwrap_or(default) {
        0 => None,
        seconds => Some(seconds.max(1)),
    }
}

fn patch_error(info: &ResourceInfo, name: &str, e: patch::Error) -> ApiError {
    let mut err = e.to_api_error();
    err.name = Some(name.to_string());
    err.group = Some(info.group.to_string());
    err.kind = Some(info.plural.to_string());
    err
}

fn check_field_labels(selector: &fields::FieldSelector, allowed: &[&str]) -> Result<(), ApiError> {
    let mut supported = vec!["metadata.name", "metadata.namespace"];
    supported.extend_from_slice(allowed);
    selector
        .check_supported(&supported)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

fn page_key(e: &Arc<Entry>) -> String {
    format!("{}/{}", e.namespace, e.name)
}

/// Encodes a `continue` token: the last key of the page and the list's revision.
fn encode_continue(last: &str, revision: i64) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD
        .encode(json!({"v": "meta.k8s.io/v1", "rv": revision, "start": last}).to_string())
}

/// Decodes a `continue` token into the key to start after.
pub fn decode_continue(token: &str) -> Result<String, ApiError> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("start")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(bad)
}
