//! The REST routes of one group version as upstream's OpenAPI describes them: paths, operations
//! with upstream's operation ids, parameters, request and response bodies, and the
//! `x-kubernetes-action` and `x-kubernetes-group-version-kind` extensions. The model is
//! neutral; `super` renders it as OpenAPI v2 or v3.

use std::borrow::Cow;

use apimachinery::resources::{self, ResourceInfo, Subresource};

/// Definition names of the meta types operations refer to.
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum In {
    Path,
    Query,
}

impl In {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
        }
    }
}

/// A path or query parameter.
#[derive(Clone, Debug)]
pub(super) struct Param {
    pub name: &'static str,
    pub location: In,
    /// `string`, `integer` or `boolean`.
    pub ty: &'static str,
    pub description: Cow<'static, str>,
    pub required: bool,
}

/// The schema of a request or response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// A definition, by name.
    Ref(String),
    /// `{"type": "string"}`: logs and streaming connections.
    Text,
}

/// One response of an operation.
#[derive(Clone, Debug)]
pub(super) struct Response {
    pub code: &'static str,
    pub description: &'static str,
    pub body: Option<Body>,
}

/// A group, version and kind.
pub(super) type Gvk = (&'static str, &'static str, &'static str);

/// One operation (method) of a path.
#[derive(Clone, Debug)]
pub(super) struct Operation {
    /// `get`, `put`, `post`, `delete` or `patch`.
    pub method: &'static str,
    pub id: String,
    pub description: String,
    pub action: Option<&'static str>,
    pub gvk: Option<Gvk>,
    pub params: Vec<Param>,
    /// The request body: its schema, the media types it may come in, whether it is required.
    pub request: Option<(Body, &'static [&'static str], bool)>,
    pub responses: Vec<Response>,
    /// Media types of the responses.
    pub produces: &'static [&'static str],
    pub tag: String,
}

/// One path with its operations.
#[derive(Clone, Debug)]
pub(super) struct Route {
    pub path: String,
    pub params: Vec<Param>,
    pub operations: Vec<Operation>,
}

/// Media types the server answers with.
const PRODUCES: &[&str] = &["application/json", "application/yaml"];
/// Media types of list responses, which can also be watches.
const PRODUCES_LIST: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;stream=watch",
];
const PRODUCES_LOG: &[&str] = &["text/plain", "application/json", "application/yaml"];
const ANY: &[&str] = &["*/*"];
/// The patch types the server accepts.
pub(super) const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

// Upstream's parameter descriptions.
const D_DRY_RUN: &str = "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
const D_FIELD_MANAGER: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
const D_FIELD_MANAGER_PATCH: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).";
const D_FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";
const D_FORCE: &str = "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.";
const D_GRACE_PERIOD: &str = "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.";
const D_ORPHAN: &str = "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.";
const D_PROPAGATION: &str = "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.";
const D_PRETTY: &str = "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).";
const D_NAMESPACE: &str = "object name and auth scope, such as for teams and projects";
const D_BOOKMARKS: &str = "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.";
const D_CONTINUE: &str = "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications.";
const D_FIELD_SELECTOR: &str =
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.";
const D_LABEL_SELECTOR: &str =
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.";
const D_LIMIT: &str = "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned.";
const D_RESOURCE_VERSION: &str = "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset";
const D_RESOURCE_VERSION_MATCH: &str = "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset";
const D_SEND_INITIAL_EVENTS: &str = "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and to false otherwise.";
const D_TIMEOUT: &str = "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.";
const D_WATCH: &str = "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.";

fn query(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description: Cow::Borrowed(description),
        required: false,
    }
}

fn path_param(name: &'static str, description: impl Into<Cow<'static, str>>) -> Param {
    Param {
        name,
        location: In::Path,
        ty: "string",
        description: description.into(),
        required: true,
    }
}

fn pretty() -> Param {
    query("pretty", "string", D_PRETTY)
}

/// `dryRun`, `fieldManager` and `fieldValidation`: the parameters of create and update.
fn write_params() -> Vec<Param> {
    vec![
        query("dryRun", "string", D_DRY_RUN),
        query("fieldManager", "string", D_FIELD_MANAGER),
        query("fieldValidation", "string", D_FIELD_VALIDATION),
    ]
}

/// The parameters of patch: those of update, a patch-specific `fieldManager` and `force`.
fn patch_params() -> Vec<Param> {
    vec![
        query("dryRun", "string", D_DRY_RUN),
        query("fieldManager", "string", D_FIELD_MANAGER_PATCH),
        query("fieldValidation", "string", D_FIELD_VALIDATION),
        query("force", "boolean", D_FORCE),
    ]
}

/// The parameters of list and watch.
fn list_params() -> Vec<Param> {
    vec![
        query("allowWatchBookmarks", "boolean", D_BOOKMARKS),
        query("continue", "string", D_CONTINUE),
        query("fieldSelector", "string", D_FIELD_SELECTOR),
        query("labelSelector", "string", D_LABEL_SELECTOR),
        query("limit", "integer", D_LIMIT),
        query("resourceVersion", "string", D_RESOURCE_VERSION),
        query("resourceVersionMatch", "string", D_RESOURCE_VERSION_MATCH),
        query("sendInitialEvents", "boolean", D_SEND_INITIAL_EVENTS),
        query("timeoutSeconds", "integer", D_TIMEOUT),
        query("watch", "boolean", D_WATCH),
    ]
}

/// The parameters of delete.
fn delete_params() -> Vec<Param> {
    vec![
        query("dryRun", "string", D_DRY_RUN),
        query("gracePeriodSeconds", "integer", D_GRACE_PERIOD),
        query("orphanDependents", "boolean", D_ORPHAN),
        query("propagationPolicy", "string", D_PROPAGATION),
    ]
}

/// The parameters of deletecollection: those of delete and of list (without watching).
fn delete_collection_params() -> Vec<Param> {
    let mut params = delete_params();
    params.extend(
        list_params()
            .into_iter()
            .filter(|p| !matches!(p.name, "allowWatchBookmarks" | "watch")),
    );
    params.sort_by_key(|p| p.name);
    params
}

/// The group as it appears in operation ids: `Core`, `Apps`, `RbacAuthorization`.
fn group_camel(group: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.strip_suffix(".k8s.io").unwrap_or(group)
    };
    group
        .split(['.', '-'])
        .map(capitalize)
        .collect::<Vec<_>>()
        .concat()
}

/// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`: the group version in operation ids.
pub(super) fn gv_camel(group: &str, version: &str) -> String {
    format!("{}{}", group_camel(group), capitalize(version))
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: the tag of a group version's operations.
pub(super) fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase());
    format!(
        "{}{}_{version}",
        first.into_iter().collect::<String>(),
        chars.as_str()
    )
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Upstream's article before a kind in descriptions: "a Pod", "an Ingress", "Endpoints".
fn article(kind: &str) -> &'static str {
    if kind.ends_with('s') && !kind.ends_with("ss") {
        " "
    } else if kind.starts_with(['A', 'E', 'I', 'O', 'U']) {
        " an "
    } else {
        " a "
    }
}

/// The URL path of a group version: `/api/v1`, `/apis/apps/v1`.
pub(super) fn gv_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

fn responses(codes: &[(&'static str, &'static str)], body: &Body) -> Vec<Response> {
    let mut out: Vec<Response> = codes
        .iter()
        .map(|(code, description)| Response {
            code,
            description,
            body: Some(body.clone()),
        })
        .collect();
    out.push(Response {
        code: "401",
        description: "Unauthorized",
        body: None,
    });
    out
}

const OK: &[(&str, &str)] = &[("200", "OK")];
const CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const UPDATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const DELETED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

/// Builds the operations of one resource.
struct Resource<'a> {
    info: &'a ResourceInfo,
    gv: String,
    tag: String,
    /// `Namespaced` or empty.
    scope: &'static str,
    collection: String,
    object: Body,
}

impl Resource<'_> {
    fn op(&self, method: &'static str, id: String, description: String) -> Operation {
        Operation {
            method,
            id,
            description,
            action: None,
            gvk: Some((self.info.group, self.info.version, self.info.kind)),
            params: Vec::new(),
            request: None,
            responses: Vec::new(),
            produces: PRODUCES,
            tag: self.tag.clone(),
        }
    }

    /// Path parameters (and `pretty`) of a path below `{name}`.
    fn item_params(&self, name_of: &str) -> Vec<Param> {
        let mut params = vec![path_param("name", format!("name of the {name_of}"))];
        if self.info.namespaced {
            params.push(path_param("namespace", D_NAMESPACE));
        }
        params.push(pretty());
        params
    }

    fn collection_params(&self) -> Vec<Param> {
        let mut params = Vec::new();
        if self.info.namespaced {
            params.push(path_param("namespace", D_NAMESPACE));
        }
        params.push(pretty());
        params
    }

    fn routes(&self, out: &mut Vec<Route>) {
        let (gv, scope, kind) = (&self.gv, self.scope, self.info.kind);
        let list = Body::Ref(format!("{}List", self.info.definition));
        let status = Body::Ref(STATUS.to_string());

        // The collection.
        let mut operations = Vec::new();
        let mut op = self.op(
            "get",
            format!("list{gv}{scope}{kind}"),
            format!("list or watch objects of kind {kind}"),
        );
        op.action = Some("list");
        op.params = list_params();
        op.responses = responses(OK, &list);
        op.produces = PRODUCES_LIST;
        operations.push(op);
        let mut op = self.op(
            "post",
            format!("create{gv}{scope}{kind}"),
            format!("create{}{kind}", article(kind)),
        );
        op.action = Some("post");
        op.params = write_params();
        op.request = Some((self.object.clone(), ANY, true));
        op.responses = responses(CREATED, &self.object);
        operations.push(op);
        let mut op = self.op(
            "delete",
            format!("delete{gv}Collection{scope}{kind}"),
            format!("delete collection of {kind}"),
        );
        op.action = Some("deletecollection");
        op.params = delete_collection_params();
        op.request = Some((Body::Ref(DELETE_OPTIONS.to_string()), ANY, false));
        op.responses = responses(OK, &status);
        operations.push(op);
        out.push(Route {
            path: self.collection.clone(),
            params: self.collection_params(),
            operations,
        });

        // One object.
        let mut operations = Vec::new();
        let mut op = self.op(
            "get",
            format!("read{gv}{scope}{kind}"),
            format!("read the specified {kind}"),
        );
        op.action = Some("get");
        op.responses = responses(OK, &self.object);
        operations.push(op);
        let mut op = self.op(
            "put",
            format!("replace{gv}{scope}{kind}"),
            format!("replace the specified {kind}"),
        );
        op.action = Some("put");
        op.params = write_params();
        op.request = Some((self.object.clone(), ANY, true));
        op.responses = responses(UPDATED, &self.object);
        operations.push(op);
        let mut op = self.op(
            "patch",
            format!("patch{gv}{scope}{kind}"),
            format!("partially update the specified {kind}"),
        );
        op.action = Some("patch");
        op.params = patch_params();
        op.request = Some((Body::Ref(PATCH.to_string()), PATCH_TYPES, true));
        op.responses = responses(UPDATED, &self.object);
        operations.push(op);
        let mut op = self.op(
            "delete",
            format!("delete{gv}{scope}{kind}"),
            format!("delete{}{kind}", article(kind)),
        );
        op.action = Some("delete");
        op.params = delete_params();
        op.request = Some((Body::Ref(DELETE_OPTIONS.to_string()), ANY, false));
        op.responses = responses(DELETED, &status);
        operations.push(op);
        out.push(Route {
            path: format!("{}/{{name}}", self.collection),
            params: self.item_params(kind),
            operations,
        });

        for sub in self.info.subresources {
            self.subresource(*sub, out);
        }

        // Across namespaces.
        let prefix = gv_prefix(self.info.group, self.info.version);
        let plural = self.info.plural;
        if self.info.namespaced {
            let mut op = self.op(
                "get",
                format!("list{gv}{kind}ForAllNamespaces"),
                format!("list or watch objects of kind {kind}"),
            );
            op.action = Some("list");
            op.responses = responses(OK, &list);
            op.produces = PRODUCES_LIST;
            let mut params = list_params();
            params.push(pretty());
            params.sort_by_key(|p| p.name);
            out.push(Route {
                path: format!("{prefix}/{plural}"),
                params,
                operations: vec![op],
            });
        }

        // The deprecated `/watch/` paths.
        let event = Body::Ref(WATCH_EVENT.to_string());
        let watch_collection = if self.info.namespaced {
            format!("{prefix}/watch/namespaces/{{namespace}}/{plural}")
        } else {
            format!("{prefix}/watch/{plural}")
        };
        let mut watches = vec![
            (
                watch_collection.clone(),
                format!("watch{gv}{scope}{kind}List"),
                format!(
                    "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
                ),
                "watchlist",
                self.collection_params(),
            ),
            (
                format!("{watch_collection}/{{name}}"),
                format!("watch{gv}{scope}{kind}"),
                format!(
                    "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
                ),
                "watch",
                self.item_params(kind),
            ),
        ];
        if self.info.namespaced {
            watches.push((
                format!("{prefix}/watch/{plural}"),
                format!("watch{gv}{kind}ListForAllNamespaces"),
                format!(
                    "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
                ),
                "watchlist",
                vec![pretty()],
            ));
        }
        for (path, id, description, action, mut params) in watches {
            let mut op = self.op("get", id, description);
            op.action = Some(action);
            op.responses = responses(OK, &event);
            op.produces = PRODUCES_LIST;
            params.extend(list_params());
            params.sort_by_key(|p| p.name);
            out.push(Route {
                path,
                params,
                operations: vec![op],
            });
        }
    }

    fn subresource(&self, sub: Subresource, out: &mut Vec<Route>) {
        let (gv, scope, kind) = (&self.gv, self.scope, self.info.kind);
        let name = sub.name();
        let suffix = capitalize(name);
        let path = format!("{}/{{name}}/{name}", self.collection);
        let verbs = sub.verbs();
        let mut operations = Vec::new();
        match sub {
            Subresource::Status | Subresource::Scale => {
                let (body, gvk) = match sub {
                    Subresource::Scale => {
                        (Body::Ref(SCALE.to_string()), ("autoscaling", "v1", "Scale"))
                    }
                    _ => (
                        self.object.clone(),
                        (self.info.group, self.info.version, kind),
                    ),
                };
                for verb in verbs {
                    let (method, id, description, mut op_params, request, codes) = match *verb {
                        "get" => (
                            "get",
                            "read",
                            format!("read {name} of the specified {kind}"),
                            vec![],
                            None,
                            OK,
                        ),
                        "update" => (
                            "put",
                            "replace",
                            format!("replace {name} of the specified {kind}"),
                            write_params(),
                            Some((body.clone(), ANY, true)),
                            UPDATED,
                        ),
                        "patch" => (
                            "patch",
                            "patch",
                            format!("partially update {name} of the specified {kind}"),
                            patch_params(),
                            Some((Body::Ref(PATCH.to_string()), PATCH_TYPES, true)),
                            UPDATED,
                        ),
                        _ => continue,
                    };
                    op_params.sort_by_key(|p| p.name);
                    let mut op = self.op(
                        method,
                        format!("{id}{gv}{scope}{kind}{suffix}"),
                        description,
                    );
                    op.action = Some(method);
                    op.gvk = Some(gvk);
                    op.params = op_params;
                    op.request = request;
                    op.responses = responses(codes, &body);
                    operations.push(op);
                }
                let name_of = if sub == Subresource::Scale {
                    "Scale"
                } else {
                    kind
                };
                out.push(Route {
                    path,
                    params: self.item_params(name_of),
                    operations,
                });
            }
            Subresource::Binding | Subresource::Eviction | Subresource::Token => {
                let Some(gvk) = sub.kind() else { return };
                let Some(definition) = definition_of(gvk) else {
                    return;
                };
                let body = Body::Ref(definition);
                let mut op = self.op(
                    "post",
                    format!("create{gv}{scope}{kind}{suffix}"),
                    format!("create {name} of{}{kind}", article(kind)),
                );
                op.action = Some("post");
                op.gvk = Some(gvk);
                op.params = write_params();
                op.request = Some((body.clone(), ANY, true));
                op.responses = responses(CREATED, &body);
                operations.push(op);
                out.push(Route {
                    path,
                    params: self.item_params(gvk.2),
                    operations,
                });
            }
            Subresource::Finalize => {
                let mut op = self.op(
                    "put",
                    format!("replace{gv}{scope}{kind}{suffix}"),
                    format!("replace {name} of the specified {kind}"),
                );
                op.action = Some("put");
                op.params = write_params();
                op.request = Some((self.object.clone(), ANY, true));
                op.responses = responses(UPDATED, &self.object);
                operations.push(op);
                out.push(Route {
                    path,
                    params: self.item_params(kind),
                    operations,
                });
            }
            Subresource::Log => {
                let mut op = self.op(
                    "get",
                    format!("read{gv}{scope}{kind}{suffix}"),
                    format!("read {name} of the specified {kind}"),
                );
                op.action = Some("get");
                op.responses = responses(OK, &Body::Text);
                op.produces = PRODUCES_LOG;
                operations.push(op);
                let mut params = self.item_params(kind);
                params.extend([
                    query("container", "string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
                    query("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
                    query("insecureSkipTLSVerifyBackend", "boolean", "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to.  This will make the HTTPS connection between the apiserver and the backend insecure. This means the apiserver cannot verify the log data it is receiving came from the real kubelet.  If the kubelet is configured to verify the apiserver's TLS credentials, it does not mean the connection to the real kubelet is vulnerable to a man in the middle attack (e.g. an attacker could not intercept the actual log data coming from the real kubelet)."),
                    query("limitBytes", "integer", "If set, the number of bytes to read from the server before terminating the log output. This may not display a complete final line of logging, and may return slightly more or slightly less than the specified limit."),
                    query("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
                    query("sinceSeconds", "integer", "A relative time in seconds before the current time from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned. If this value is in the future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified."),
                    query("stream", "string", "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" and \"Stderr\". If not specified, \"All\" is used, and both stdout and stderr are returned interleaved. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\"."),
                    query("tailLines", "integer", "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\"."),
                    query("timestamps", "boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
                ]);
                params.sort_by_key(|p| p.name);
                out.push(Route {
                    path,
                    params,
                    operations,
                });
            }
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                let (options, extra): (&'static str, Vec<Param>) = match sub {
                    Subresource::Exec => (
                        "PodExecOptions",
                        vec![
                            query(
                                "command",
                                "string",
                                "Command is the remote command to execute. argv array. Not executed within a shell.",
                            ),
                            query(
                                "container",
                                "string",
                                "Container in which to execute the command. Defaults to only container if there is only one container in the pod.",
                            ),
                            query(
                                "stderr",
                                "boolean",
                                "Redirect the standard error stream of the pod for this call.",
                            ),
                            query(
                                "stdin",
                                "boolean",
                                "Redirect the standard input stream of the pod for this call. Defaults to false.",
                            ),
                            query(
                                "stdout",
                                "boolean",
                                "Redirect the standard output stream of the pod for this call.",
                            ),
                            query(
                                "tty",
                                "boolean",
                                "TTY if true indicates that a tty will be allocated for the exec call. Defaults to false.",
                            ),
                        ],
                    ),
                    Subresource::Attach => (
                        "PodAttachOptions",
                        vec![
                            query(
                                "container",
                                "string",
                                "The container in which to execute the command. Defaults to only container if there is only one container in the pod.",
                            ),
                            query(
                                "stderr",
                                "boolean",
                                "Stderr if true indicates that stderr is to be redirected for the attach call. Defaults to true.",
                            ),
                            query(
                                "stdin",
                                "boolean",
                                "Stdin if true, redirects the standard input stream of the pod for this call. Defaults to false.",
                            ),
                            query(
                                "stdout",
                                "boolean",
                                "Stdout if true indicates that stdout is to be redirected for the attach call. Defaults to true.",
                            ),
                            query(
                                "tty",
                                "boolean",
                                "TTY if true indicates that a tty will be allocated for the attach call. This is passed through the container runtime so the tty is allocated on the worker node by the container runtime. Defaults to false.",
                            ),
                        ],
                    ),
                    _ => (
                        "PodPortForwardOptions",
                        vec![query(
                            "ports",
                            "integer",
                            "List of ports to forward Required when using WebSockets",
                        )],
                    ),
                };
                for verb in verbs {
                    let (method, word) = match *verb {
                        "get" => ("get", "Get"),
                        "create" => ("post", "Post"),
                        _ => continue,
                    };
                    let mut op = self.op(
                        method,
                        format!("connect{gv}{word}{scope}{kind}{suffix}"),
                        format!(
                            "connect {} requests to {name} of {kind}",
                            method.to_ascii_uppercase()
                        ),
                    );
                    op.action = Some("connect");
                    op.gvk = Some((self.info.group, self.info.version, options));
                    op.responses = responses(OK, &Body::Text);
                    op.produces = ANY;
                    operations.push(op);
                }
                let mut params = self.item_params(options);
                params.retain(|p| p.name != "pretty");
                params.extend(extra);
                params.sort_by_key(|p| p.name);
                out.push(Route {
                    path,
                    params,
                    operations,
                });
            }
        }
    }
}

/// The definition name of a group-version-kind, if the schema has it.
fn definition_of((group, version, kind): Gvk) -> Option<String> {
    apimachinery::schema::definitions()
        .iter()
        .find(|(_, d)| {
            d.get("x-kubernetes-group-version-kind")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .any(|g| g["group"] == group && g["version"] == version && g["kind"] == kind)
        })
        .map(|(name, _)| name.clone())
}

/// Every route of one group version, sorted by path.
pub(super) fn routes(group: &str, version: &str) -> Vec<Route> {
    let gv = gv_camel(group, version);
    let tag = tag(group, version);
    let prefix = gv_prefix(group, version);
    let mut out = vec![Route {
        path: format!("{prefix}/"),
        params: Vec::new(),
        operations: vec![Operation {
            method: "get",
            id: format!("get{gv}APIResources"),
            description: "get available resources".to_string(),
            action: None,
            gvk: None,
            params: Vec::new(),
            request: None,
            responses: responses(OK, &Body::Ref(API_RESOURCE_LIST.to_string())),
            produces: PRODUCES,
            tag: tag.clone(),
        }],
    }];
    for info in resources::all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let collection = if info.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", info.plural)
        } else {
            format!("{prefix}/{}", info.plural)
        };
        Resource {
            info,
            gv: gv.clone(),
            tag: tag.clone(),
            scope: if info.namespaced { "Namespaced" } else { "" },
            collection,
            object: Body::Ref(info.definition.clone()),
        }
        .routes(&mut out);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
