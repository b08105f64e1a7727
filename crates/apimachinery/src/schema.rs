//! OpenAPI schemas of the built-in types and their patch metadata (merge keys, list types).
//!
//! The schemas come from k8s-openapi's `schemars` implementations, generated once into an
//! OpenAPI v2 style map of definitions (`$ref`s point at `#/definitions/<name>`), and are then
//! annotated with upstream's extensions that the Rust types do not carry: patch strategies and
//! merge keys (strategic merge patch), list and map types (server-side apply) and
//! `x-kubernetes-group-version-kind`. Those extensions are data in `schema/extensions.rs`, generated from
//! the upstream v1.33 OpenAPI definitions.
//!
//! Besides the raw definitions, the module offers a walker over the schema ([`property_schema`],
//! [`Child`]) used by the patch engines and by strict field validation ([`unknown_fields`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use k8s_openapi::{
    ListableResource, Resource,
    api::{
        apps::v1 as apps, authentication::v1 as authentication, autoscaling::v1 as autoscaling_v1,
        autoscaling::v2 as autoscaling, batch::v1 as batch, coordination::v1 as coordination,
        core::v1 as core, discovery::v1 as discovery, events::v1 as events,
        networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
        scheduling::v1 as scheduling, storage::v1 as storage,
    },
    apimachinery::pkg::apis::meta::v1 as meta,
};
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

#[rustfmt::skip]
#[allow(clippy::type_complexity)]
mod extensions;

/// Where generated `$ref`s point: OpenAPI v2 definitions.
pub const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// The extensions of one property, as generated from upstream's OpenAPI.
#[derive(Clone, Copy, Debug)]
struct Ext {
    patch_strategy: Option<&'static str>,
    merge_key: Option<&'static str>,
    list_type: Option<&'static str>,
    list_map_keys: &'static [&'static str],
    map_type: Option<&'static str>,
}

/// A kind registered at the top level of the schema, with its group, version and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopLevelKind {
    /// Definition name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub definition: String,
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind, e.g. `Deployment` or `DeploymentList`.
    pub kind: String,
}

/// Collects the schemas of the registered kinds.
struct Builder {
    generator: SchemaGenerator,
    kinds: Vec<TopLevelKind>,
    lists: Vec<(String, String)>,
}

impl Builder {
    fn new() -> Builder {
        let settings = SchemaSettings::draft07().with(|s| {
            s.definitions_path = "/definitions".into();
            s.meta_schema = None;
            s.transforms = Vec::new();
            s.inline_subschemas = false;
        });
        Builder {
            generator: settings.into_generator(),
            kinds: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// Registers a kind that is served as a resource, and its list.
    fn resource<K: Resource + ListableResource + JsonSchema>(&mut self) {
        self.kind::<K>();
        let item = K::schema_name().into_owned();
        let list = format!("{item}List");
        self.kinds.push(TopLevelKind {
            definition: list.clone(),
            group: K::GROUP,
            version: K::VERSION,
            kind: K::LIST_KIND.to_string(),
        });
        self.lists.push((list, item));
    }

    /// Registers a top-level kind that has no list (e.g. `Scale`, `Status`).
    fn kind<K: Resource + JsonSchema>(&mut self) {
        self.generator.subschema_for::<K>();
        self.kinds.push(TopLevelKind {
            definition: K::schema_name().into_owned(),
            group: K::GROUP,
            version: K::VERSION,
            kind: K::KIND.to_string(),
        });
    }

    /// Registers a type that is no kind of its own but is served in the schema (e.g.
    /// `DeleteOptions`); its group-version-kinds, if any, come from upstream's table.
    fn other<K: JsonSchema>(&mut self) {
        self.generator.subschema_for::<K>();
    }
}

/// The one place that lists what the schema covers.
fn register(b: &mut Builder) {
    // core/v1
    b.resource::<core::Namespace>();
    b.resource::<core::Pod>();
    b.resource::<core::Service>();
    b.resource::<core::Endpoints>();
    b.resource::<core::ConfigMap>();
    b.resource::<core::Secret>();
    b.resource::<core::Node>();
    b.resource::<core::ServiceAccount>();
    b.resource::<core::Event>();
    b.resource::<core::PersistentVolume>();
    b.resource::<core::PersistentVolumeClaim>();
    b.resource::<core::ReplicationController>();
    b.resource::<core::LimitRange>();
    b.resource::<core::ResourceQuota>();
    b.resource::<core::PodTemplate>();
    b.kind::<core::Binding>();
    // apps/v1
    b.resource::<apps::Deployment>();
    b.resource::<apps::ReplicaSet>();
    b.resource::<apps::StatefulSet>();
    b.resource::<apps::DaemonSet>();
    b.resource::<apps::ControllerRevision>();
    // batch/v1
    b.resource::<batch::Job>();
    b.resource::<batch::CronJob>();
    // autoscaling
    b.kind::<autoscaling_v1::Scale>();
    b.resource::<autoscaling::HorizontalPodAutoscaler>();
    // networking.k8s.io/v1
    b.resource::<networking::Ingress>();
    b.resource::<networking::IngressClass>();
    b.resource::<networking::NetworkPolicy>();
    // discovery.k8s.io/v1
    b.resource::<discovery::EndpointSlice>();
    // storage.k8s.io/v1
    b.resource::<storage::StorageClass>();
    b.resource::<storage::CSIDriver>();
    b.resource::<storage::CSINode>();
    b.resource::<storage::VolumeAttachment>();
    b.resource::<storage::CSIStorageCapacity>();
    // coordination.k8s.io/v1
    b.resource::<coordination::Lease>();
    // rbac.authorization.k8s.io/v1
    b.resource::<rbac::Role>();
    b.resource::<rbac::ClusterRole>();
    b.resource::<rbac::RoleBinding>();
    b.resource::<rbac::ClusterRoleBinding>();
    // policy/v1
    b.resource::<policy::PodDisruptionBudget>();
    b.kind::<policy::Eviction>();
    // scheduling.k8s.io/v1
    b.resource::<scheduling::PriorityClass>();
    // events.k8s.io/v1
    b.resource::<events::Event>();
    // authentication.k8s.io/v1
    b.kind::<authentication::TokenRequest>();
    // meta/v1
    b.kind::<meta::Status>();
    b.kind::<meta::APIResourceList>();
    b.kind::<meta::APIGroupList>();
    b.kind::<meta::APIGroup>();
    b.kind::<meta::APIVersions>();
    b.other::<meta::DeleteOptions>();
    b.other::<meta::WatchEvent<core::Pod>>();
    b.other::<meta::Patch>();
}

struct Registry {
    definitions: BTreeMap<String, Value>,
    kinds: Vec<TopLevelKind>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(build)
}

fn build() -> Registry {
    let mut b = Builder::new();
    register(&mut b);
    let mut definitions: BTreeMap<String, Value> =
        b.generator.take_definitions(false).into_iter().collect();

    // Lists: k8s-openapi's generic `List<T>` has no schema of its own.
    let list_descriptions: HashMap<&str, (&str, &str)> = extensions::LIST_DESCRIPTIONS
        .iter()
        .map(|(name, desc, items)| (*name, (*desc, *items)))
        .collect();
    for (list, item) in &b.lists {
        let (description, items_description) = list_descriptions
            .get(list.as_str())
            .copied()
            .unwrap_or(("", ""));
        definitions.insert(
            list.clone(),
            list_schema(item, description, items_description),
        );
    }

    // Upstream's extensions.
    let mut props: HashMap<&str, Vec<(&str, &Ext)>> = HashMap::new();
    for (def, prop, ext) in extensions::PROPERTIES {
        props.entry(def).or_default().push((prop, ext));
    }
    let required: HashMap<&str, &[&str]> = extensions::REQUIRED.iter().copied().collect();
    for (name, schema) in definitions.iter_mut() {
        if let Some(list) = props.get(name.as_str()) {
            for (prop, ext) in list {
                if let Some(p) = schema.pointer_mut(&format!("/properties/{prop}")) {
                    annotate(p, ext);
                }
            }
        }
        // k8s-openapi's `required` follows its Rust types (a non-optional `metadata`, `name` of
        // `LocalObjectReference`); upstream's is what clients validate against.
        if let Some(required) = required.get(name.as_str())
            && let Value::Object(o) = schema
        {
            if required.is_empty() {
                o.remove("required");
            } else {
                o.insert("required".into(), json!(required));
            }
        }
    }
    for (def, map_type) in extensions::DEFINITION_MAP_TYPES {
        if let Some(Value::Object(o)) = definitions.get_mut(*def) {
            o.insert("x-kubernetes-map-type".into(), json!(map_type));
        }
    }
    for (def, key, value) in extensions::DEFINITION_EXTENSIONS {
        if let (Some(Value::Object(o)), Ok(v)) = (
            definitions.get_mut(*def),
            serde_json::from_str::<Value>(value),
        ) {
            o.insert((*key).into(), v);
        }
    }

    // Group-version-kinds: upstream's, limited to the group versions we serve, plus ours.
    let served: BTreeSet<(&str, &str)> = b.kinds.iter().map(|k| (k.group, k.version)).collect();
    let upstream: HashMap<&str, &[(&str, &str, &str)]> = extensions::GROUP_VERSION_KINDS
        .iter()
        .map(|(d, g)| (*d, *g))
        .collect();
    for (name, schema) in definitions.iter_mut() {
        let mut gvks: Vec<(String, String, String)> = upstream
            .get(name.as_str())
            .map(|list| {
                list.iter()
                    .filter(|(g, v, _)| served.contains(&(*g, *v)))
                    .map(|(g, v, k)| (g.to_string(), v.to_string(), k.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        for k in b.kinds.iter().filter(|k| &k.definition == name) {
            let gvk = (k.group.to_string(), k.version.to_string(), k.kind.clone());
            if !gvks.contains(&gvk) {
                gvks.push(gvk);
            }
        }
        if !gvks.is_empty()
            && let Value::Object(o) = schema
        {
            o.insert(
                "x-kubernetes-group-version-kind".into(),
                gvks.iter()
                    .map(|(g, v, k)| json!({"group": g, "kind": k, "version": v}))
                    .collect(),
            );
        }
    }

    let mut kinds = b.kinds;
    kinds.dedup();
    Registry { definitions, kinds }
}

fn list_schema(item: &str, description: &str, items_description: &str) -> Value {
    let kind = item.rsplit('.').next().unwrap_or(item);
    let description = if description.is_empty() {
        format!("{kind}List is a list of {kind} objects.")
    } else {
        description.to_string()
    };
    let items_description = if items_description.is_empty() {
        format!("Items is the list of {kind} objects.")
    } else {
        items_description.to_string()
    };
    json!({
        "description": description,
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": items_description,
                "type": "array",
                "items": {"$ref": format!("{DEFINITIONS_PREFIX}{item}")},
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("{DEFINITIONS_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"),
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "required": ["items"],
    })
}

fn annotate(property: &mut Value, ext: &Ext) {
    let Value::Object(o) = property else { return };
    if let Some(s) = ext.patch_strategy {
        o.insert("x-kubernetes-patch-strategy".into(), json!(s));
    }
    if let Some(k) = ext.merge_key {
        o.insert("x-kubernetes-patch-merge-key".into(), json!(k));
    }
    if let Some(t) = ext.list_type {
        o.insert("x-kubernetes-list-type".into(), json!(t));
    }
    if !ext.list_map_keys.is_empty() {
        o.insert(
            "x-kubernetes-list-map-keys".into(),
            json!(ext.list_map_keys),
        );
    }
    if let Some(t) = ext.map_type {
        o.insert("x-kubernetes-map-type".into(), json!(t));
    }
}

/// Every definition, keyed by definition name (`io.k8s.api.core.v1.Container`), with `$ref`s
/// pointing at [`DEFINITIONS_PREFIX`].
pub fn definitions() -> &'static BTreeMap<String, Value> {
    &registry().definitions
}

/// One definition by name.
pub fn definition(name: &str) -> Option<&'static Value> {
    registry().definitions.get(name)
}

/// The definition name of a Rust type: its schemars schema name.
pub fn definition_name_of<K: JsonSchema>() -> String {
    K::schema_name().into_owned()
}

/// The top-level kinds (and their lists) registered in the schema.
pub fn top_level_kinds() -> &'static [TopLevelKind] {
    &registry().kinds
}

/// The definition name of a top-level kind, e.g. `("apps", "v1", "Deployment")`.
pub fn definition_for_kind(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    registry()
        .kinds
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
        .map(|k| k.definition.as_str())
}

/// A copy of `schema` whose `$ref`s point below `prefix` (e.g. `#/components/schemas/` for
/// OpenAPI v3) instead of [`DEFINITIONS_PREFIX`].
pub fn with_ref_prefix(schema: &Value, prefix: &str) -> Value {
    match schema {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            Value::String(match r.strip_prefix(DEFINITIONS_PREFIX) {
                                Some(name) => format!("{prefix}{name}"),
                                None => r.clone(),
                            })
                        }
                        _ => with_ref_prefix(v, prefix),
                    };
                    (k.clone(), v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| with_ref_prefix(v, prefix)).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// The walker.

/// What a property (or a list item, or a map value) holds, according to the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Child {
    /// An object of the named definition, with declared properties.
    Object(&'static str),
    /// A list of items.
    Array(Box<Child>),
    /// A map with string keys (`additionalProperties`), e.g. labels.
    Map(Box<Child>),
    /// A scalar: string, number, boolean, and scalar-like definitions such as `IntOrString`,
    /// `Quantity` and `Time`.
    Scalar,
    /// Free-form JSON whose content the schema does not describe (`RawExtension`, `JSON`,
    /// `FieldsV1`, objects without properties).
    Free,
}

impl Child {
    /// The child of a field of this value: a property of an object, a value of a map; `Free`
    /// stays free. `None` for unknown properties and for lists and scalars.
    pub fn field(&self, key: &str) -> Option<Child> {
        match self {
            Child::Object(def) => property_schema(def, key),
            Child::Map(value) => Some((**value).clone()),
            Child::Free => Some(Child::Free),
            Child::Array(_) | Child::Scalar => None,
        }
    }

    /// The child of an item of this list (`Free` for free-form values).
    pub fn item(&self) -> Option<Child> {
        match self {
            Child::Array(item) => Some((**item).clone()),
            Child::Free => Some(Child::Free),
            _ => None,
        }
    }

    /// The definition name if this is an object.
    pub fn definition(&self) -> Option<&'static str> {
        match self {
            Child::Object(def) => Some(def),
            _ => None,
        }
    }
}

/// The strategy of a list for server-side apply (`x-kubernetes-list-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars, merged by value.
    Set,
    /// A list of objects merged by the values of key fields.
    Map,
}

/// The strategy of a map or struct for server-side apply (`x-kubernetes-map-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// Replaced as a whole.
    Atomic,
    /// Merged key by key (the default).
    Granular,
}

/// The patch metadata of a property.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatchMeta {
    /// `x-kubernetes-patch-strategy` as upstream writes it: `merge`, `retainKeys`,
    /// `merge,retainKeys` or `replace`.
    pub strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type`.
    pub list_type: Option<ListType>,
    /// `x-kubernetes-list-map-keys` (the merge key when upstream declares only that).
    pub list_map_keys: &'static [&'static str],
    /// `x-kubernetes-map-type` of the property, or of the definition it refers to.
    pub map_type: Option<MapType>,
}

impl PatchMeta {
    fn has(&self, strategy: &str) -> bool {
        self.strategy
            .is_some_and(|s| s.split(',').any(|p| p == strategy))
    }

    /// Strategic merge patch merges this list (by [`merge_key`](Self::merge_key) for lists of
    /// objects, as a set for lists of scalars).
    pub fn merges(&self) -> bool {
        self.has("merge")
    }

    /// Strategic merge patch honours `$retainKeys` here.
    pub fn retains_keys(&self) -> bool {
        self.has("retainKeys")
    }

    /// Strategic merge patch replaces this map instead of merging it.
    pub fn replaces(&self) -> bool {
        self.has("replace")
    }

    /// How server-side apply treats this list: the explicit list type, else derived from the
    /// patch strategy as upstream's schema conversion does, else atomic.
    pub fn list_semantics(&self) -> (ListType, &'static [&'static str]) {
        match self.list_type {
            Some(ListType::Map) => (ListType::Map, self.list_map_keys),
            Some(t) => (t, &[]),
            None if self.merges() => match self.list_map_keys {
                [] => (ListType::Set, &[]),
                keys => (ListType::Map, keys),
            },
            None => (ListType::Atomic, &[]),
        }
    }

    /// Whether server-side apply treats this map or struct as atomic.
    pub fn map_atomic(&self) -> bool {
        self.map_type == Some(MapType::Atomic)
    }
}

/// The compiled form of one definition.
#[derive(Debug)]
enum Shape {
    Struct {
        properties: HashMap<&'static str, (Child, PatchMeta)>,
        map_atomic: bool,
    },
    Scalar,
    Free,
}

fn compiled() -> &'static HashMap<&'static str, Shape> {
    static COMPILED: OnceLock<HashMap<&'static str, Shape>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let defs = definitions();
        let names: HashMap<&str, &'static str> =
            defs.keys().map(|k| (k.as_str(), k.as_str())).collect();
        let def_map_types: HashMap<&str, &str> =
            extensions::DEFINITION_MAP_TYPES.iter().copied().collect();
        let mut exts: HashMap<(&str, &str), &Ext> = HashMap::new();
        for (def, prop, ext) in extensions::PROPERTIES {
            exts.insert((def, prop), ext);
        }
        let mut out = HashMap::new();
        for (name, schema) in defs {
            let shape = match schema.get("properties").and_then(Value::as_object) {
                Some(props) => {
                    let mut properties = HashMap::new();
                    for (prop, p) in props {
                        let child = child_of(p, &names, defs);
                        let mut meta = PatchMeta::default();
                        if let Some(ext) = exts.get(&(name.as_str(), prop.as_str())) {
                            meta.strategy = ext.patch_strategy;
                            meta.merge_key = ext.merge_key;
                            meta.list_type = ext.list_type.and_then(list_type);
                            meta.list_map_keys = ext.list_map_keys;
                            meta.map_type = ext.map_type.and_then(map_type);
                            if meta.list_type.is_none() && meta.list_map_keys.is_empty() {
                                // A merge key without list-map keys: the key for apply too.
                                if let Some(key) = ext.merge_key.as_ref() {
                                    meta.list_map_keys = std::slice::from_ref(key);
                                }
                            }
                        }
                        if meta.map_type.is_none() {
                            let target = match &child {
                                Child::Object(d) => Some(*d),
                                _ => None,
                            };
                            meta.map_type = target
                                .and_then(|d| def_map_types.get(d))
                                .and_then(|t| map_type(t));
                        }
                        properties.insert(prop_name(defs, name, prop), (child, meta));
                    }
                    Shape::Struct {
                        properties,
                        map_atomic: def_map_types.get(name.as_str()) == Some(&"atomic"),
                    }
                }
                None if is_scalar(schema) => Shape::Scalar,
                None => Shape::Free,
            };
            out.insert(name.as_str(), shape);
        }
        out
    })
}

/// The `&'static str` of a property name, borrowed from the static definitions.
fn prop_name(defs: &'static BTreeMap<String, Value>, def: &str, prop: &str) -> &'static str {
    defs.get(def)
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
        .and_then(|p| p.get_key_value(prop))
        .map(|(k, _)| k.as_str())
        .expect("property of a static definition")
}

fn list_type(s: &str) -> Option<ListType> {
    match s {
        "atomic" => Some(ListType::Atomic),
        "set" => Some(ListType::Set),
        "map" => Some(ListType::Map),
        _ => None,
    }
}

fn map_type(s: &str) -> Option<MapType> {
    match s {
        "atomic" => Some(MapType::Atomic),
        "granular" => Some(MapType::Granular),
        _ => None,
    }
}

fn is_scalar(schema: &Value) -> bool {
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return true;
    }
    matches!(
        schema.get("type").and_then(Value::as_str),
        Some("string" | "integer" | "number" | "boolean")
    )
}

fn child_of(
    schema: &Value,
    names: &HashMap<&str, &'static str>,
    defs: &BTreeMap<String, Value>,
) -> Child {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix(DEFINITIONS_PREFIX).unwrap_or(r);
        return match (names.get(name), defs.get(name)) {
            (Some(static_name), Some(def)) => {
                if def.get("properties").is_some() {
                    Child::Object(static_name)
                } else if is_scalar(def) {
                    Child::Scalar
                } else {
                    Child::Free
                }
            }
            _ => Child::Free,
        };
    }
    if let Some(all_of) = schema.get("allOf").and_then(Value::as_array)
        && let [one] = all_of.as_slice()
    {
        return child_of(one, names, defs);
    }
    if schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Child::Free;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => Child::Array(Box::new(
            schema
                .get("items")
                .map_or(Child::Free, |i| child_of(i, names, defs)),
        )),
        Some("object") => match schema.get("additionalProperties") {
            Some(Value::Object(_)) => Child::Map(Box::new(child_of(
                &schema["additionalProperties"],
                names,
                defs,
            ))),
            _ => Child::Free,
        },
        Some(_) => Child::Scalar,
        None if is_scalar(schema) => Child::Scalar,
        None => Child::Free,
    }
}

/// The schema of a whole object of `definition`: [`Child::Object`] for known struct definitions,
/// [`Child::Free`] otherwise (unknown definitions are treated as free-form).
pub fn root(definition: &str) -> Child {
    match compiled().get_key_value(definition) {
        Some((name, Shape::Struct { .. })) => Child::Object(name),
        Some((_, Shape::Scalar)) => Child::Scalar,
        _ => Child::Free,
    }
}

/// Whether `definition` is a known definition.
pub fn is_definition(definition: &str) -> bool {
    compiled().contains_key(definition)
}

/// What property `property` of `definition` holds; `None` if the definition or the property is
/// unknown.
pub fn property_schema(definition: &str, property: &str) -> Option<Child> {
    match compiled().get(definition)? {
        Shape::Struct { properties, .. } => properties.get(property).map(|(c, _)| c.clone()),
        _ => None,
    }
}

/// The declared properties of `definition` (empty for scalars, free-form and unknown ones).
pub fn properties(definition: &str) -> Vec<&'static str> {
    match compiled().get(definition) {
        Some(Shape::Struct { properties, .. }) => {
            let mut names: Vec<&'static str> = properties.keys().copied().collect();
            names.sort_unstable();
            names
        }
        _ => Vec::new(),
    }
}

/// The patch metadata of `property` of `definition` (all empty if unknown).
pub fn patch_meta(definition: &str, property: &str) -> PatchMeta {
    match compiled().get(definition) {
        Some(Shape::Struct { properties, .. }) => properties
            .get(property)
            .map(|(_, m)| *m)
            .unwrap_or_default(),
        _ => PatchMeta::default(),
    }
}

/// Whether server-side apply treats the struct `definition` as atomic
/// (`x-kubernetes-map-type: atomic` on the definition, e.g. `LabelSelector`).
pub fn definition_atomic(definition: &str) -> bool {
    matches!(
        compiled().get(definition),
        Some(Shape::Struct {
            map_atomic: true,
            ..
        })
    )
}

/// For `fieldValidation=Strict`: the paths of the fields of `value` that `definition` does not
/// declare, in document order, formatted as upstream's strict decoder prints them inside
/// `unknown field "…"`: `spec.foo`, `spec.template.spec.containers[0].imagee` (no leading dot).
/// Free-form values (`RawExtension`, `JSON`, maps) are not looked into for unknown keys.
pub fn unknown_fields(definition: &str, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(def) = compiled().get_key_value(definition).map(|(k, _)| *k) {
        walk_unknown(&Child::Object(def), value, "", &mut out);
    }
    out
}

fn walk_unknown(child: &Child, value: &Value, path: &str, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (child, value) {
        (Child::Object(def), Value::Object(map)) => {
            let Some(Shape::Struct { properties, .. }) = compiled().get(def) else {
                return;
            };
            for (key, v) in map {
                match properties.get(key.as_str()) {
                    Some((c, _)) => walk_unknown(c, v, &join(key), out),
                    None => out.push(join(key)),
                }
            }
        }
        (Child::Map(inner), Value::Object(map)) => {
            for (key, v) in map {
                walk_unknown(inner, v, &join(key), out);
            }
        }
        (Child::Array(inner), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                walk_unknown(inner, v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
