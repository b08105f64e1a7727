//! The pod spec shared by pods and every workload's pod template: upstream's defaulting
//! (`SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_Probe`, volume and port
//! defaults in `pkg/apis/core/v1/defaults.go`) and validation (`ValidatePodSpec`,
//! `ValidatePodTemplateSpec` in `pkg/apis/core/validation/validation.go`).
//!
//! Validation reproduces upstream's field paths and messages for what it covers: containers,
//! init containers, ports, env, resources, probes, lifecycle handlers, volumes and mounts,
//! security contexts, affinity, tolerations, topology spread, DNS and the scalar fields.
//! Legacy in-tree volume plugins are counted as volume sources but not validated further.

use std::collections::{BTreeMap, BTreeSet};

use apimachinery::validation::{self as v, ErrorList, FieldError, Path};
use k8s_openapi::{
    api::core::v1::{
        Affinity, Container, ContainerPort, DownwardAPIVolumeFile, EnvFromSource, EnvVar,
        HTTPGetAction, KeyToPath, LifecycleHandler, NodeSelector, NodeSelectorRequirement,
        NodeSelectorTerm, ObjectFieldSelector, PodAffinityTerm, PodDNSConfig, PodSecurityContext,
        PodSpec, PodTemplateSpec, Probe, ResourceFieldSelector, ResourceRequirements,
        SecurityContext, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
        VolumeProjection, WeightedPodAffinityTerm,
    },
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
};

use crate::registry::common::{
    self, canonicalize_quantity, canonicalize_resources, default_str, dns_label, dns_subdomain,
    each_invalid, invalid_raw, is_empty, qualified_name, str_of, valid_ip,
};

/// Options of pod-spec validation (upstream's `PodValidationOptions`, reduced).
#[derive(Clone, Copy, Debug, Default)]
pub struct PodSpecOptions {
    /// The spec belongs to a pod rather than a template: host ports must equal container ports
    /// under host networking and image volumes need a reference.
    pub resource_is_pod: bool,
}

/// The `terminationMessagePath` containers get by default.
pub const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

/// The file mode of secret, config map, downward API and projected volumes (0644).
pub const DEFAULT_MODE: i32 = 0o644;

fn list<T>(items: &Option<Vec<T>>) -> &[T] {
    items.as_deref().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/// Upstream's image pull policy default: `Always` for `:latest` or untagged images, else
/// `IfNotPresent` (digests and unparsable names included).
pub fn default_pull_policy(image: &str) -> &'static str {
    if image.is_empty() || image.contains('@') || image.chars().any(char::is_whitespace) {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let (repo, tag) = match last.split_once(':') {
        Some((_, tag)) => (&image[..image.len() - tag.len() - 1], Some(tag)),
        None => (image, None),
    };
    // Upstream's reference parser rejects upper-case repositories; it then finds no tag.
    let path = repo.split_once('/').map_or(repo, |(first, rest)| {
        if first.contains('.') || first.contains(':') || first == "localhost" {
            rest
        } else {
            repo
        }
    });
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return "IfNotPresent";
    }
    match tag {
        None | Some("latest") => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_probe(probe: &mut Option<Probe>) {
    if let Some(p) = probe {
        for (field, value) in [
            (&mut p.timeout_seconds, 1),
            (&mut p.period_seconds, 10),
            (&mut p.success_threshold, 1),
            (&mut p.failure_threshold, 3),
        ] {
            if field.unwrap_or(0) == 0 {
                *field = Some(value);
            }
        }
        default_http_get(&mut p.http_get);
    }
}

fn default_http_get(action: &mut Option<HTTPGetAction>) {
    if let Some(a) = action {
        default_str(&mut a.path, "/");
        default_str(&mut a.scheme, "HTTP");
    }
}

fn default_handler(handler: &mut Option<LifecycleHandler>) {
    if let Some(h) = handler {
        default_http_get(&mut h.http_get);
    }
}

fn default_field_ref(field_ref: &mut Option<ObjectFieldSelector>) {
    if let Some(f) = field_ref {
        default_str(&mut f.api_version, "v1");
    }
}

fn default_ports(ports: &mut Option<Vec<ContainerPort>>) {
    for port in ports.iter_mut().flatten() {
        default_str(&mut port.protocol, "TCP");
    }
}

fn default_resources(resources: &mut Option<ResourceRequirements>) {
    if let Some(r) = resources {
        canonicalize_resources(&mut r.limits);
        canonicalize_resources(&mut r.requests);
    }
}

/// Container defaults that apply to regular, init and ephemeral containers alike.
macro_rules! default_container_fields {
    ($c:expr) => {{
        let c = $c;
        if is_empty(&c.image_pull_policy) {
            c.image_pull_policy = Some(default_pull_policy(str_of(&c.image)).to_string());
        }
        default_str(&mut c.termination_message_path, TERMINATION_MESSAGE_PATH);
        default_str(&mut c.termination_message_policy, "File");
        default_ports(&mut c.ports);
        default_probe(&mut c.liveness_probe);
        default_probe(&mut c.readiness_probe);
        default_probe(&mut c.startup_probe);
        if let Some(l) = &mut c.lifecycle {
            default_handler(&mut l.post_start);
            default_handler(&mut l.pre_stop);
        }
        for env in c.env.iter_mut().flatten() {
            if let Some(from) = &mut env.value_from {
                default_field_ref(&mut from.field_ref);
                if let Some(r) = &mut from.resource_field_ref {
                    if let Some(d) = &mut r.divisor {
                        canonicalize_quantity(d);
                    }
                }
            }
        }
        default_resources(&mut c.resources);
    }};
}

/// `SetDefaults_Container` and the defaults of everything a container holds.
pub fn default_container(c: &mut Container) {
    default_container_fields!(c);
}

fn default_downward_files(files: &mut Option<Vec<DownwardAPIVolumeFile>>) {
    for f in files.iter_mut().flatten() {
        default_field_ref(&mut f.field_ref);
    }
}

/// `SetDefaults_Volume` and the defaults of the volume sources.
pub fn default_volume(vol: &mut Volume) {
    if volume_sources(vol).iter().all(|(_, set)| !set) {
        vol.empty_dir = Some(Default::default());
    }
    if let Some(s) = &mut vol.secret {
        s.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(s) = &mut vol.config_map {
        s.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(s) = &mut vol.downward_api {
        s.default_mode.get_or_insert(DEFAULT_MODE);
        default_downward_files(&mut s.items);
    }
    if let Some(s) = &mut vol.projected {
        s.default_mode.get_or_insert(DEFAULT_MODE);
        for source in s.sources.iter_mut().flatten() {
            if let Some(t) = &mut source.service_account_token {
                t.expiration_seconds.get_or_insert(3600);
            }
            if let Some(d) = &mut source.downward_api {
                default_downward_files(&mut d.items);
            }
        }
    }
    if let Some(h) = &mut vol.host_path {
        h.type_.get_or_insert_with(String::new);
    }
    if let Some(e) = &mut vol.empty_dir
        && let Some(q) = &mut e.size_limit
    {
        canonicalize_quantity(q);
    }
    if let Some(e) = &mut vol.ephemeral
        && let Some(t) = &mut e.volume_claim_template
    {
        default_str(&mut t.spec.volume_mode, "Filesystem");
    }
    if let Some(image) = &mut vol.image
        && is_empty(&image.pull_policy)
    {
        image.pull_policy = Some(default_pull_policy(str_of(&image.reference)).to_string());
    }
}

/// `SetDefaults_PodSpec` plus the defaults of containers, probes, ports and volumes, and the
/// `serviceAccount` alias of `serviceAccountName` that upstream's conversion maintains.
pub fn default_pod_spec(spec: &mut PodSpec) {
    default_str(&mut spec.dns_policy, "ClusterFirst");
    default_str(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    default_str(&mut spec.scheduler_name, "default-scheduler");
    if is_empty(&spec.service_account_name) && !is_empty(&spec.service_account) {
        spec.service_account_name = spec.service_account.clone();
    }
    spec.service_account = spec.service_account_name.clone().filter(|s| !s.is_empty());
    for c in &mut spec.containers {
        default_container_fields!(c);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        default_container_fields!(c);
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        default_container_fields!(c);
    }
    for vol in spec.volumes.iter_mut().flatten() {
        default_volume(vol);
    }
    canonicalize_resources(&mut spec.overhead);
}

/// Defaults of a pod template: its spec's.
pub fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(Default::default));
}

// ---------------------------------------------------------------------------------------------
// Validation: volumes
// ---------------------------------------------------------------------------------------------

/// Every volume source of a volume with its JSON name, in upstream's checking order.
fn volume_sources(vol: &Volume) -> Vec<(&'static str, bool)> {
    vec![
        ("emptyDir", vol.empty_dir.is_some()),
        ("hostPath", vol.host_path.is_some()),
        ("gitRepo", vol.git_repo.is_some()),
        ("gcePersistentDisk", vol.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            vol.aws_elastic_block_store.is_some(),
        ),
        ("secret", vol.secret.is_some()),
        ("nfs", vol.nfs.is_some()),
        ("iscsi", vol.iscsi.is_some()),
        ("glusterfs", vol.glusterfs.is_some()),
        ("flocker", vol.flocker.is_some()),
        (
            "persistentVolumeClaim",
            vol.persistent_volume_claim.is_some(),
        ),
        ("rbd", vol.rbd.is_some()),
        ("cinder", vol.cinder.is_some()),
        ("cephFS", vol.cephfs.is_some()),
        ("quobyte", vol.quobyte.is_some()),
        // Upstream's typo, kept for identical messages.
        ("downwarAPI", vol.downward_api.is_some()),
        ("fc", vol.fc.is_some()),
        ("flexVolume", vol.flex_volume.is_some()),
        ("configMap", vol.config_map.is_some()),
        ("azureFile", vol.azure_file.is_some()),
        ("vsphereVolume", vol.vsphere_volume.is_some()),
        ("photonPersistentDisk", vol.photon_persistent_disk.is_some()),
        ("portworxVolume", vol.portworx_volume.is_some()),
        ("azureDisk", vol.azure_disk.is_some()),
        ("storageos", vol.storageos.is_some()),
        ("projected", vol.projected.is_some()),
        ("scaleIO", vol.scale_io.is_some()),
        ("csi", vol.csi.is_some()),
        ("ephemeral", vol.ephemeral.is_some()),
        ("image", vol.image.is_some()),
    ]
}

const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn validate_mode(mode: Option<i32>, path: &Path) -> ErrorList {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(path, m, FILE_MODE_ERROR)],
        _ => Vec::new(),
    }
}

fn path_no_backsteps(target: &str, path: &Path) -> ErrorList {
    if target.replace('\\', "/").split('/').any(|p| p == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

fn local_descending_path(target: &str, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if target.starts_with('/') {
        errors.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errors.extend(path_no_backsteps(target, path));
    errors
}

fn local_non_reserved_path(target: &str, path: &Path) -> ErrorList {
    let mut errors = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errors.push(FieldError::invalid(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errors
}

fn validate_key_to_path(kp: &KeyToPath, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if kp.key.is_empty() {
        errors.push(FieldError::required(&path.child("key"), ""));
    }
    if kp.path.is_empty() {
        errors.push(FieldError::required(&path.child("path"), ""));
    }
    errors.extend(local_non_reserved_path(&kp.path, &path.child("path")));
    errors.extend(validate_mode(kp.mode, &path.child("mode")));
    errors
}

const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

const CONTAINER_RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// The field labels a pod's downward API accepts (upstream `ConvertDownwardAPIFieldLabel`).
fn downward_field_supported(path: &str) -> bool {
    matches!(
        path,
        "metadata.annotations"
            | "metadata.labels"
            | "metadata.name"
            | "metadata.namespace"
            | "metadata.uid"
            | "spec.nodeName"
            | "spec.restartPolicy"
            | "spec.serviceAccountName"
            | "spec.schedulerName"
            | "status.phase"
            | "status.hostIP"
            | "status.hostIPs"
            | "status.podIP"
            | "status.podIPs"
    )
}

/// Splits `metadata.labels['key']` into the path and the subscript.
fn split_subscripted(path: &str) -> Option<(&str, &str)> {
    let (p, rest) = path.split_once("['")?;
    let sub = rest.strip_suffix("']")?;
    Some((p, sub))
}

fn validate_object_field_selector(
    fs: &ObjectFieldSelector,
    allowed: &[&str],
    path: &Path,
) -> ErrorList {
    let api_version = str_of(&fs.api_version);
    if api_version.is_empty() {
        return vec![FieldError::required(&path.child("apiVersion"), "")];
    }
    if fs.field_path.is_empty() {
        return vec![FieldError::required(&path.child("fieldPath"), "")];
    }
    let conversion_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else {
        let base = split_subscripted(&fs.field_path).map_or(fs.field_path.as_str(), |(p, _)| p);
        let subscript_ok = split_subscripted(&fs.field_path)
            .is_none_or(|(p, _)| p == "metadata.annotations" || p == "metadata.labels");
        (!downward_field_supported(base) || !subscript_ok)
            .then(|| format!("field label not supported: {}", fs.field_path))
    };
    if let Some(e) = conversion_error {
        return vec![FieldError::invalid(
            &path.child("fieldPath"),
            fs.field_path.as_str(),
            format!("error converting fieldPath: {e}"),
        )];
    }
    match split_subscripted(&fs.field_path) {
        Some(("metadata.annotations", sub)) => qualified_name(&sub.to_lowercase(), path),
        Some(("metadata.labels", sub)) => qualified_name(sub, path),
        Some((p, _)) => vec![FieldError::invalid(path, p, "does not support subscript")],
        None if !allowed.contains(&fs.field_path.as_str()) => vec![FieldError::not_supported(
            &path.child("fieldPath"),
            fs.field_path.as_str(),
            allowed,
        )],
        None => Vec::new(),
    }
}

fn validate_resource_field_selector(
    fs: &ResourceFieldSelector,
    volume: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    if volume && is_empty(&fs.container_name) {
        errors.push(FieldError::required(&path.child("containerName"), ""));
    } else if fs.resource.is_empty() {
        errors.push(FieldError::required(&path.child("resource"), ""));
    } else if !CONTAINER_RESOURCE_FIELDS.contains(&fs.resource.as_str())
        && !fs.resource.starts_with("requests.hugepages-")
        && !fs.resource.starts_with("limits.hugepages-")
    {
        errors.push(FieldError::not_supported(
            &path.child("resource"),
            fs.resource.as_str(),
            CONTAINER_RESOURCE_FIELDS,
        ));
    }
    if let Some(divisor) = &fs.divisor {
        let canonical = common::parse_quantity(divisor)
            .map(|q| q.canonical())
            .unwrap_or_default();
        if canonical != "0" {
            let r = fs.resource.as_str();
            let memory_like = [
                "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
            ];
            let (ok, what) = match r {
                "limits.cpu" | "requests.cpu" => (
                    ["1m", "1"].contains(&canonical.as_str()),
                    Some("only divisor's values 1m and 1 are supported with the cpu resource"),
                ),
                "limits.memory" | "requests.memory" => (
                    memory_like.contains(&canonical.as_str()),
                    Some(
                        "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
                    ),
                ),
                "limits.ephemeral-storage" | "requests.ephemeral-storage" => (
                    memory_like.contains(&canonical.as_str()),
                    Some(
                        "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
                    ),
                ),
                _ => (true, None),
            };
            if let (false, Some(msg)) = (ok, what) {
                errors.push(FieldError::invalid(&path.child("divisor"), r, msg));
            }
        }
    }
    errors
}

fn validate_downward_file(file: &DownwardAPIVolumeFile, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if file.path.is_empty() {
        errors.push(FieldError::required(&path.child("path"), ""));
    }
    errors.extend(local_non_reserved_path(&file.path, &path.child("path")));
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(f), other) => {
            errors.extend(validate_object_field_selector(
                f,
                VOLUME_FIELD_PATHS,
                &path.child("fieldRef"),
            ));
            if other.is_some() {
                errors.push(FieldError::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(r)) => errors.extend(validate_resource_field_selector(
            r,
            true,
            &path.child("resourceFieldRef"),
        )),
        (None, None) => errors.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    errors.extend(validate_mode(file.mode, &path.child("mode")));
    errors
}

fn validate_projection(sources: &[VolumeProjection], path: &Path, errors: &mut ErrorList) {
    let mut all_paths = BTreeSet::new();
    for (i, source) in sources.iter().enumerate() {
        let src_path = path.child("sources").index(i);
        let mut count = 0;
        if let Some(s) = &source.secret {
            count += 1;
            let p = src_path.child("secret");
            if s.name.is_empty() {
                errors.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, kp) in list(&s.items).iter().enumerate() {
                errors.extend(validate_key_to_path(kp, &p.child("items").index(j)));
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errors.push(FieldError::invalid(
                        path,
                        s.name.as_str(),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(s) = &source.config_map {
            count += 1;
            let p = src_path.child("configMap");
            if s.name.is_empty() {
                errors.push(FieldError::required(&p.child("name"), ""));
            }
            for (j, kp) in list(&s.items).iter().enumerate() {
                errors.extend(validate_key_to_path(kp, &p.child("items").index(j)));
                if !kp.path.is_empty() && !all_paths.insert(kp.path.clone()) {
                    errors.push(FieldError::invalid(
                        path,
                        s.name.as_str(),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(d) = &source.downward_api {
            count += 1;
            let p = src_path.child("downwardAPI");
            for file in list(&d.items) {
                errors.extend(validate_downward_file(file, &p));
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    errors.push(FieldError::invalid(
                        path,
                        file.path.as_str(),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(t) = &source.service_account_token {
            count += 1;
            let p = src_path.child("serviceAccountToken");
            let seconds = t.expiration_seconds.unwrap_or(3600);
            if seconds < 600 {
                errors.push(FieldError::invalid(
                    &p.child("expirationSeconds"),
                    seconds,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if seconds > 1 << 32 {
                errors.push(FieldError::invalid(
                    &p.child("expirationSeconds"),
                    seconds,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            if t.path.is_empty() {
                errors.push(FieldError::required(&path.child("path"), ""));
            } else {
                errors.extend(local_non_reserved_path(&t.path, &path.child("path")));
            }
        }
        if source.cluster_trust_bundle.is_some() {
            count += 1;
        }
        if count > 1 {
            errors.push(FieldError::forbidden(
                &src_path,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

fn validate_volume_source(
    vol: &Volume,
    path: &Path,
    pod_meta: Option<&ObjectMeta>,
    opts: PodSpecOptions,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut count = 0;
    for (name, set) in volume_sources(vol) {
        if !set {
            continue;
        }
        if count > 0 {
            errors.push(FieldError::forbidden(
                &path.child(name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match name {
            "emptyDir" => {
                if let Some(q) = vol.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref())
                    && common::parse_quantity(q).is_ok_and(|q| q.is_negative())
                {
                    errors.push(FieldError::forbidden(
                        &path.child("emptyDir").child("sizeLimit"),
                        "SizeLimit field must be a valid resource quantity",
                    ));
                }
            }
            "hostPath" => {
                let h = vol.host_path.as_ref().expect("set");
                let p = path.child("hostPath");
                if h.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                } else {
                    errors.extend(path_no_backsteps(&h.path, &p.child("path")));
                    errors.extend(validate_host_path_type(
                        h.type_.as_deref(),
                        &p.child("type"),
                    ));
                }
            }
            "secret" => {
                let s = vol.secret.as_ref().expect("set");
                let p = path.child("secret");
                if is_empty(&s.secret_name) {
                    errors.push(FieldError::required(&p.child("secretName"), ""));
                }
                errors.extend(validate_mode(s.default_mode, &p.child("defaultMode")));
                for (i, kp) in list(&s.items).iter().enumerate() {
                    errors.extend(validate_key_to_path(kp, &p.child("items").index(i)));
                }
            }
            "configMap" => {
                let s = vol.config_map.as_ref().expect("set");
                let p = path.child("configMap");
                if s.name.is_empty() {
                    errors.push(FieldError::required(&p.child("name"), ""));
                }
                errors.extend(validate_mode(s.default_mode, &p.child("defaultMode")));
                for (i, kp) in list(&s.items).iter().enumerate() {
                    errors.extend(validate_key_to_path(kp, &p.child("items").index(i)));
                }
            }
            "persistentVolumeClaim" => {
                let c = vol.persistent_volume_claim.as_ref().expect("set");
                if c.claim_name.is_empty() {
                    errors.push(FieldError::required(
                        &path.child("persistentVolumeClaim").child("claimName"),
                        "",
                    ));
                }
            }
            "nfs" => {
                let n = vol.nfs.as_ref().expect("set");
                let p = path.child("nfs");
                if n.server.is_empty() {
                    errors.push(FieldError::required(&p.child("server"), ""));
                }
                if n.path.is_empty() {
                    errors.push(FieldError::required(&p.child("path"), ""));
                }
                if !n.path.starts_with('/') {
                    errors.push(FieldError::invalid(
                        &p.child("path"),
                        n.path.as_str(),
                        "must be an absolute path",
                    ));
                }
            }
            "downwarAPI" => {
                let d = vol.downward_api.as_ref().expect("set");
                let p = path.child("downwardAPI");
                errors.extend(validate_mode(d.default_mode, &p.child("defaultMode")));
                for file in list(&d.items) {
                    errors.extend(validate_downward_file(file, &p));
                }
            }
            "projected" => {
                let pr = vol.projected.as_ref().expect("set");
                let p = path.child("projected");
                errors.extend(validate_mode(pr.default_mode, &p.child("defaultMode")));
                validate_projection(list(&pr.sources), &p, &mut errors);
            }
            "csi" => {
                let c = vol.csi.as_ref().expect("set");
                errors.extend(validate_csi_driver_name(
                    &c.driver,
                    &path.child("csi").child("driver"),
                ));
                if let Some(r) = &c.node_publish_secret_ref {
                    if r.name.is_empty() {
                        errors.push(FieldError::required(
                            &path
                                .child("csi")
                                .child("nodePublishSecretRef")
                                .child("name"),
                            "",
                        ));
                    } else {
                        errors.extend(dns_subdomain(&r.name, &path.child("csi").child("name")));
                    }
                }
            }
            "ephemeral" => {
                let e = vol.ephemeral.as_ref().expect("set");
                let p = path.child("ephemeral");
                match &e.volume_claim_template {
                    None => errors.push(FieldError::required(&p.child("volumeClaimTemplate"), "")),
                    Some(t) => {
                        let tp = p.child("volumeClaimTemplate");
                        if let Some(meta) = &t.metadata {
                            errors.extend(validate_template_meta(meta, &tp.child("metadata")));
                        }
                        errors.extend(super::persistent_volume_claim::validate_claim_spec(
                            &t.spec,
                            &tp.child("spec"),
                        ));
                    }
                }
                if let Some(pod_name) = pod_meta
                    .and_then(|m| m.name.as_deref())
                    .filter(|n| !n.is_empty())
                    && !vol.name.is_empty()
                {
                    let pvc = format!("{pod_name}-{}", vol.name);
                    for msg in v::is_dns1123_subdomain(&pvc) {
                        errors.push(FieldError::invalid(
                            &path.child("name"),
                            vol.name.as_str(),
                            format!("PVC name {}: {msg}", v::quote(&pvc)),
                        ));
                    }
                }
            }
            "image" => {
                let i = vol.image.as_ref().expect("set");
                let p = path.child("image");
                if opts.resource_is_pod && is_empty(&i.reference) {
                    errors.push(FieldError::required(&p.child("reference"), ""));
                }
                errors.extend(validate_pull_policy(
                    str_of(&i.pull_policy),
                    &p.child("pullPolicy"),
                ));
            }
            _ => {}
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a volume type"));
    }
    errors
}

/// Validates a CSI driver name (upstream `ValidateCSIDriverName`).
pub fn validate_csi_driver_name(driver: &str, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if driver.is_empty() {
        errors.push(FieldError::required(path, ""));
    }
    if driver.len() > 63 {
        errors.push(FieldError::too_long(path, 63));
    }
    errors.extend(each_invalid(
        path,
        driver,
        v::is_dns1123_subdomain(&driver.to_lowercase()),
    ));
    errors
}

/// Validates a host path type (upstream `validateHostPathType`).
pub fn validate_host_path_type(t: Option<&str>, path: &Path) -> ErrorList {
    const TYPES: &[&str] = &[
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    match t {
        Some(t) if !TYPES.contains(&t) => vec![FieldError::not_supported(path, t, TYPES)],
        _ => Vec::new(),
    }
}

/// Validates `metadata` of an embedded template that only allows labels and annotations.
pub fn validate_template_meta(meta: &ObjectMeta, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if let Some(a) = &meta.annotations {
        errors.extend(v::validate_annotations(a, &path.child("annotations")));
    }
    if let Some(l) = &meta.labels {
        errors.extend(v::validate_labels(l, &path.child("labels")));
    }
    let mut rest = meta.clone();
    rest.labels = None;
    rest.annotations = None;
    if let serde_json::Value::Object(fields) = common::to_json(&rest) {
        for (k, val) in fields {
            if !val.is_null() {
                errors.push(FieldError::forbidden(&path.child(k), "cannot be set"));
            }
        }
    }
    errors
}

/// What mounts need to know of a volume that validated.
#[derive(Clone, Copy)]
struct VolumeInfo {
    /// Backed by a claim (a PVC or an ephemeral volume): usable as a block device.
    claim: bool,
    /// An image volume: no sub-paths.
    image: bool,
}

/// The volumes that validated, by name.
type VolumeMap = BTreeMap<String, VolumeInfo>;

fn validate_volumes(
    vols: &[Volume],
    pod_meta: Option<&ObjectMeta>,
    path: &Path,
    opts: PodSpecOptions,
) -> (VolumeMap, ErrorList) {
    let mut errors = Vec::new();
    let mut names = VolumeMap::new();
    let created_pvcs: BTreeSet<String> = match pod_meta
        .and_then(|m| m.name.as_deref())
        .filter(|n| !n.is_empty())
    {
        Some(pod) => vols
            .iter()
            .filter(|v| v.ephemeral.is_some())
            .map(|v| format!("{pod}-{}", v.name))
            .collect(),
        None => BTreeSet::new(),
    };
    for (i, vol) in vols.iter().enumerate() {
        let idx = path.index(i);
        let name_path = idx.child("name");
        let mut el = validate_volume_source(vol, &idx, pod_meta, opts);
        if vol.name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            el.extend(dns_label(&vol.name, &name_path));
        }
        if names.contains_key(&vol.name) {
            el.push(FieldError::duplicate(&name_path, vol.name.as_str()));
        }
        if el.is_empty() {
            names.insert(
                vol.name.clone(),
                VolumeInfo {
                    claim: vol.persistent_volume_claim.is_some() || vol.ephemeral.is_some(),
                    image: vol.image.is_some(),
                },
            );
        } else {
            errors.extend(el);
        }
        if let Some(c) = &vol.persistent_volume_claim
            && created_pvcs.contains(&c.claim_name)
        {
            errors.push(FieldError::invalid(
                &idx.child("persistentVolumeClaim").child("claimName"),
                c.claim_name.as_str(),
                "must not reference a PVC that gets created for an ephemeral volume",
            ));
        }
    }
    (names, errors)
}

// ---------------------------------------------------------------------------------------------
// Validation: containers
// ---------------------------------------------------------------------------------------------

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn validate_container_ports(ports: &[ContainerPort], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let idx = path.index(i);
        let name = str_of(&port.name);
        if !name.is_empty() {
            let msgs = v::is_valid_port_name(name);
            if !msgs.is_empty() {
                errors.extend(each_invalid(&idx.child("name"), name, msgs));
            } else if !names.insert(name.to_string()) {
                errors.push(FieldError::duplicate(&idx.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errors.push(FieldError::required(&idx.child("containerPort"), ""));
        } else {
            for msg in v::is_valid_port_num(port.container_port as i64) {
                errors.push(FieldError::invalid(
                    &idx.child("containerPort"),
                    port.container_port,
                    msg,
                ));
            }
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            for msg in v::is_valid_port_num(host_port as i64) {
                errors.push(FieldError::invalid(&idx.child("hostPort"), host_port, msg));
            }
        }
        let protocol = str_of(&port.protocol);
        if protocol.is_empty() {
            errors.push(FieldError::required(&idx.child("protocol"), ""));
        } else if !PROTOCOLS.contains(&protocol) {
            errors.push(FieldError::not_supported(
                &idx.child("protocol"),
                protocol,
                PROTOCOLS,
            ));
        }
    }
    errors
}

/// Upstream `IsRelaxedEnvVarName` (the 1.33 default): printable ASCII other than `=`.
fn relaxed_env_var_name(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(format!("environment variable name {}", v::empty_error()));
    }
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errors.push("a valid environment variable name must consist only of printable ASCII characters other than '='".to_string());
    }
    errors
}

fn validate_env(vars: &[EnvVar], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, ev) in vars.iter().enumerate() {
        let idx = path.index(i);
        if ev.name.is_empty() {
            errors.push(FieldError::required(&idx.child("name"), ""));
        } else {
            errors.extend(each_invalid(
                &idx.child("name"),
                &ev.name,
                relaxed_env_var_name(&ev.name),
            ));
        }
        let Some(from) = &ev.value_from else { continue };
        let from_path = idx.child("valueFrom");
        let mut count = 0;
        if let Some(f) = &from.field_ref {
            count += 1;
            errors.extend(validate_object_field_selector(
                f,
                ENV_FIELD_PATHS,
                &from_path.child("fieldRef"),
            ));
        }
        if let Some(r) = &from.resource_field_ref {
            count += 1;
            errors.extend(validate_resource_field_selector(
                r,
                false,
                &from_path.child("resourceFieldRef"),
            ));
        }
        if let Some(s) = &from.config_map_key_ref {
            count += 1;
            errors.extend(validate_key_selector(
                &s.name,
                &s.key,
                &from_path.child("configMapKeyRef"),
            ));
        }
        if let Some(s) = &from.secret_key_ref {
            count += 1;
            errors.extend(validate_key_selector(
                &s.name,
                &s.key,
                &from_path.child("secretKeyRef"),
            ));
        }
        if count == 0 {
            errors.push(FieldError::invalid(&from_path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        } else if !is_empty(&ev.value) {
            errors.push(FieldError::invalid(
                &from_path,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid(
                &from_path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errors
}

fn validate_key_selector(name: &str, key: &str, path: &Path) -> ErrorList {
    let mut errors = common::subdomain_name(name, false, &path.child("name"));
    if key.is_empty() {
        errors.push(FieldError::required(&path.child("key"), ""));
    } else {
        errors.extend(each_invalid(
            &path.child("key"),
            key,
            v::is_config_map_key(key),
        ));
    }
    errors
}

fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, ev) in sources.iter().enumerate() {
        let idx = path.index(i);
        let prefix = str_of(&ev.prefix);
        if !prefix.is_empty() {
            errors.extend(each_invalid(
                &idx.child("prefix"),
                prefix,
                relaxed_env_var_name(prefix),
            ));
        }
        let mut count = 0;
        for (field, name) in [
            (
                "configMapRef",
                ev.config_map_ref.as_ref().map(|r| r.name.as_str()),
            ),
            ("secretRef", ev.secret_ref.as_ref().map(|r| r.name.as_str())),
        ] {
            let Some(name) = name else { continue };
            count += 1;
            let p = idx.child(field).child("name");
            if name.is_empty() {
                errors.push(FieldError::required(&p, ""));
            } else {
                errors.extend(common::subdomain_name(name, true, &p));
            }
        }
        if count == 0 {
            errors.push(FieldError::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errors
}

fn validate_volume_mounts(
    mounts: &[VolumeMount],
    devices: &BTreeMap<String, String>,
    volumes: &VolumeMap,
    privileged: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let idx = path.index(i);
        if m.name.is_empty() {
            errors.push(FieldError::required(&idx.child("name"), ""));
        }
        if !volumes.contains_key(&m.name) {
            errors.push(FieldError::not_found(&idx.child("name"), m.name.as_str()));
        }
        if m.mount_path.is_empty() {
            errors.push(FieldError::required(&idx.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.clone()) {
            errors.push(FieldError::invalid(
                &idx.child("mountPath"),
                m.mount_path.as_str(),
                "must be unique",
            ));
        }
        if devices.contains_key(&m.name) {
            errors.push(FieldError::invalid(
                &idx.child("name"),
                m.name.as_str(),
                "must not already exist in volumeDevices",
            ));
        }
        if devices.values().any(|p| *p == m.mount_path) {
            errors.push(FieldError::invalid(
                &idx.child("mountPath"),
                m.mount_path.as_str(),
                "must not already exist as a path in volumeDevices",
            ));
        }
        let sub_path = str_of(&m.sub_path);
        let sub_path_expr = str_of(&m.sub_path_expr);
        if volumes.get(&m.name).is_some_and(|v| v.image) {
            for (field, value) in [("subPath", sub_path), ("subPathExpr", sub_path_expr)] {
                if !value.is_empty() {
                    errors.push(FieldError::invalid(
                        &idx.child(field),
                        value,
                        "not allowed in image volume sources",
                    ));
                }
            }
        }
        if !sub_path.is_empty() {
            // Upstream reports these on the list's path, not the item's.
            errors.extend(local_descending_path(sub_path, &path.child("subPath")));
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errors.push(FieldError::invalid(
                    &idx.child("subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errors.extend(local_descending_path(
                sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(prop) = m.mount_propagation.as_deref() {
            let prop_path = path.child("mountPropagation");
            const PROPAGATIONS: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !PROPAGATIONS.contains(&prop) {
                errors.push(FieldError::not_supported(&prop_path, prop, PROPAGATIONS));
            }
            if prop == "Bidirectional" && !privileged {
                errors.push(FieldError::forbidden(
                    &prop_path,
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
        if let Some(rro) = m.recursive_read_only.as_deref() {
            let rro_path = path.child("recursiveReadOnly");
            match rro {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if m.read_only != Some(true) {
                        errors.push(FieldError::forbidden(
                            &rro_path,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if m.mount_propagation.as_deref().is_some_and(|p| p != "None") {
                        errors.push(FieldError::forbidden(
                            &rro_path,
                            "may only be specified when mountPropagation is None or not specified",
                        ));
                    }
                }
                other => errors.push(FieldError::not_supported(
                    &rro_path,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
    errors
}

fn validate_pull_policy(policy: &str, path: &Path) -> ErrorList {
    match policy {
        "Always" | "IfNotPresent" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "IfNotPresent", "Never"],
        )],
    }
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Upstream `IsOvercommitAllowed`: native resources other than huge pages.
pub fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepages(name)
}

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

/// Upstream `validateResourceName`: a qualified name, standard when unprefixed.
pub fn validate_resource_name(name: &str, path: &Path) -> ErrorList {
    let errors = qualified_name(name, path);
    if !errors.is_empty() {
        return errors;
    }
    let standard = STANDARD_RESOURCES.contains(&name)
        || is_hugepages(name)
        || name.starts_with("requests.hugepages-");
    if !name.contains('/') && !standard {
        return vec![FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        )];
    }
    Vec::new()
}

fn validate_container_resource_name(name: &str, path: &Path) -> ErrorList {
    let mut errors = validate_resource_name(name, path);
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepages(name) {
            errors.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name)
        && (name.starts_with("requests.")
            || !v::is_qualified_name(&format!("requests.{name}")).is_empty())
    {
        errors.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errors
}

/// Upstream `ValidateResourceQuantityValue`: non-negative, and whole for integer resources.
pub fn validate_resource_quantity(
    name: &str,
    q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    path: &Path,
    errors: &mut ErrorList,
) -> Option<v::Quantity> {
    let parsed = common::validate_quantity(q, path, errors)?;
    const INTEGER: &[&str] = &[
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    ];
    let integer = INTEGER.contains(&name) || !is_native_resource(name);
    if integer && parsed.milli_value() % 1000 != 0 {
        errors.push(FieldError::invalid(
            path,
            parsed.canonical(),
            v::IS_NOT_INTEGER_ERROR_MSG,
        ));
    }
    Some(parsed)
}

/// Validates a container's resource requirements (upstream `validateResourceRequirements`).
pub fn validate_resource_requirements(r: &ResourceRequirements, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let mut limits = BTreeMap::new();
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_huge, mut req_huge) =
        (false, false, false, false);
    for (name, q) in r.limits.iter().flatten() {
        let p = lim_path.key(name);
        errors.extend(validate_container_resource_name(name, &p));
        if let Some(parsed) = validate_resource_quantity(name, q, &p, &mut errors) {
            limits.insert(name.clone(), parsed);
        }
        lim_huge |= is_hugepages(name);
        lim_cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, q) in r.requests.iter().flatten() {
        let p = req_path.key(name);
        errors.extend(validate_container_resource_name(name, &p));
        let parsed = validate_resource_quantity(name, q, &p, &mut errors);
        let has_limit = r.limits.as_ref().is_some_and(|l| l.contains_key(name));
        if let (Some(req), Some(lim)) = (parsed, limits.get(name)) {
            if req != *lim && !overcommit_allowed(name) {
                errors.push(FieldError::invalid(
                    &req_path,
                    req.canonical(),
                    format!("must be equal to {name} limit of {lim}"),
                ));
            } else if req > *lim {
                errors.push(FieldError::invalid(
                    &req_path,
                    req.canonical(),
                    format!("must be less than or equal to {name} limit of {lim}"),
                ));
            }
        } else if !has_limit && !overcommit_allowed(name) {
            errors.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        req_huge |= is_hugepages(name);
        req_cpu_mem |= name == "cpu" || name == "memory";
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_huge || lim_huge) {
        errors.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errors
}

fn validate_port_num_or_name(port: &IntOrString, path: &Path) -> ErrorList {
    match port {
        IntOrString::Int(i) => v::is_valid_port_num(*i as i64)
            .into_iter()
            .map(|m| FieldError::invalid(path, *i, m))
            .collect(),
        IntOrString::String(s) => each_invalid(path, s, v::is_valid_port_name(s)),
    }
}

/// Validates a probe or lifecycle handler: exactly one action, each valid.
fn validate_handler(
    exec: Option<&k8s_openapi::api::core::v1::ExecAction>,
    http_get: Option<&HTTPGetAction>,
    tcp_socket: Option<&k8s_openapi::api::core::v1::TCPSocketAction>,
    grpc: Option<&k8s_openapi::api::core::v1::GRPCAction>,
    sleep: Option<&k8s_openapi::api::core::v1::SleepAction>,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut count = 0;
    let mut once = |name: &str, errors: &mut ErrorList| -> bool {
        if count > 0 {
            errors.push(FieldError::forbidden(
                &path.child(name),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            count += 1;
            true
        }
    };
    if let Some(e) = exec
        && once("exec", &mut errors)
        && list(&e.command).is_empty()
    {
        errors.push(FieldError::required(
            &path.child("exec").child("command"),
            "",
        ));
    }
    if let Some(h) = http_get
        && once("httpGet", &mut errors)
    {
        let p = path.child("httpGet");
        if is_empty(&h.path) {
            errors.push(FieldError::required(&p.child("path"), ""));
        }
        errors.extend(validate_port_num_or_name(&h.port, &p.child("port")));
        let scheme = str_of(&h.scheme);
        if scheme != "HTTP" && scheme != "HTTPS" {
            errors.push(FieldError::not_supported(
                &p.child("scheme"),
                scheme,
                &["HTTP", "HTTPS"],
            ));
        }
        for header in list(&h.http_headers) {
            errors.extend(each_invalid(
                &p.child("httpHeaders"),
                &header.name,
                v::is_http_header_name(&header.name),
            ));
        }
    }
    if let Some(t) = tcp_socket
        && once("tcpSocket", &mut errors)
    {
        errors.extend(validate_port_num_or_name(
            &t.port,
            &path.child("tcpSocket").child("port"),
        ));
    }
    if let Some(g) = grpc
        && once("grpc", &mut errors)
    {
        errors.extend(validate_port_num_or_name(
            &IntOrString::Int(g.port),
            &path.child("grpc").child("port"),
        ));
    }
    if let Some(s) = sleep
        && once("sleep", &mut errors)
        && let Some(grace) = grace
        && (s.seconds < 0 || s.seconds > grace)
    {
        errors.push(FieldError::invalid(
            &path.child("sleep"),
            s.seconds,
            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
        ));
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
    errors
}

#[derive(Clone, Copy, PartialEq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let Some(p) = probe else { return Vec::new() };
    let mut errors = validate_handler(
        p.exec.as_ref(),
        p.http_get.as_ref(),
        p.tcp_socket.as_ref(),
        p.grpc.as_ref(),
        None,
        grace,
        path,
    );
    for (name, value) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        errors.extend(v::validate_nonnegative_field(
            value.unwrap_or(0) as i64,
            &path.child(name),
        ));
    }
    if let Some(t) = p.termination_grace_period_seconds
        && t <= 0
    {
        errors.push(FieldError::invalid(
            &path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let s = p.success_threshold.unwrap_or(0);
            if s != 1 {
                errors.push(FieldError::invalid(
                    &path.child("successThreshold"),
                    s,
                    "must be 1",
                ));
            }
        }
        ProbeKind::Readiness => {
            if let Some(t) = p.termination_grace_period_seconds {
                errors.push(FieldError::invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
    errors
}

fn validate_lifecycle(
    l: &k8s_openapi::api::core::v1::Lifecycle,
    grace: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    for (name, h) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
        if let Some(h) = h {
            errors.extend(validate_handler(
                h.exec.as_ref(),
                h.http_get.as_ref(),
                h.tcp_socket.as_ref(),
                None,
                h.sleep.as_ref(),
                grace,
                &path.child(name),
            ));
        }
    }
    errors
}

const ID_RANGE: (i64, i64) = (0, 2147483647);

fn validate_id(value: Option<i64>, path: &Path) -> ErrorList {
    match value {
        Some(id) if !(ID_RANGE.0..=ID_RANGE.1).contains(&id) => {
            vec![FieldError::invalid(
                path,
                id,
                v::inclusive_range_error(ID_RANGE.0, ID_RANGE.1),
            )]
        }
        _ => Vec::new(),
    }
}

fn validate_seccomp(
    sp: Option<&k8s_openapi::api::core::v1::SeccompProfile>,
    path: &Path,
) -> ErrorList {
    let Some(sp) = sp else { return Vec::new() };
    let mut errors = Vec::new();
    match sp.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errors.push(FieldError::required(
            &path.child("type"),
            "type is required when seccompProfile is set",
        )),
        other => errors.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    if sp.type_ == "Localhost" {
        match &sp.localhost_profile {
            None => errors.push(FieldError::required(
                &path.child("localhostProfile"),
                "must be set when seccomp type is Localhost",
            )),
            Some(p) => errors.extend(local_descending_path(p, &path.child("localhostProfile"))),
        }
    } else if sp.localhost_profile.is_some() {
        errors.push(invalid_raw(
            &path.child("localhostProfile"),
            &common::go_value(sp),
            "can only be set when seccomp type is Localhost",
        ));
    }
    errors
}

fn validate_app_armor(
    p: Option<&k8s_openapi::api::core::v1::AppArmorProfile>,
    path: &Path,
) -> ErrorList {
    let Some(p) = p else { return Vec::new() };
    let mut errors = Vec::new();
    match p.type_.as_str() {
        "Localhost" => match p.localhost_profile.as_deref() {
            None => errors.push(FieldError::required(
                &path.child("localhostProfile"),
                "must be set when AppArmor type is Localhost",
            )),
            Some(lp) if lp.trim() != lp => errors.push(FieldError::invalid(
                &path.child("localhostProfile"),
                lp,
                "must not be padded with whitespace",
            )),
            Some("") => errors.push(FieldError::required(
                &path.child("localhostProfile"),
                "must be set when AppArmor type is Localhost",
            )),
            Some(_) => {}
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(lp) = &p.localhost_profile {
                errors.push(FieldError::invalid(
                    &path.child("localhostProfile"),
                    lp.as_str(),
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => errors.push(FieldError::required(
            &path.child("type"),
            "type is required when appArmorProfile is set",
        )),
        other => errors.push(FieldError::not_supported(
            &path.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    errors
}

fn validate_security_context(
    sc: Option<&SecurityContext>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let Some(sc) = sc else { return Vec::new() };
    let mut errors = Vec::new();
    errors.extend(validate_id(sc.run_as_user, &path.child("runAsUser")));
    errors.extend(validate_id(sc.run_as_group, &path.child("runAsGroup")));
    if let Some(pm) = sc.proc_mount.as_deref() {
        if pm != "Default" && pm != "Unmasked" {
            errors.push(FieldError::not_supported(
                &path.child("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && pm == "Unmasked" {
            errors.push(FieldError::invalid(
                &path.child("procMount"),
                pm,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    errors.extend(validate_seccomp(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errors.push(invalid_raw(
                path,
                &common::go_value(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        if sc
            .capabilities
            .as_ref()
            .is_some_and(|c| list(&c.add).iter().any(|a| a == "CAP_SYS_ADMIN"))
        {
            errors.push(invalid_raw(path, &common::go_value(sc), "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
        }
    }
    errors.extend(validate_app_armor(
        sc.app_armor_profile.as_ref(),
        &path.child("appArmorProfile"),
    ));
    errors
}

/// Validation common to regular and init containers (upstream `validateContainerCommon`).
fn validate_container_common(
    c: &Container,
    volumes: &VolumeMap,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errors.push(FieldError::required(&name_path, ""));
    } else {
        errors.extend(dns_label(&c.name, &name_path));
    }
    if is_empty(&c.image) {
        errors.push(FieldError::required(&path.child("image"), ""));
    }
    match str_of(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(FieldError::required(
            &path.child("terminationMessagePolicy"),
            "",
        )),
        other => errors.push(FieldError::not_supported(
            &path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    let devices: BTreeMap<String, String> = list(&c.volume_devices)
        .iter()
        .map(|d| (d.name.clone(), d.device_path.clone()))
        .collect();
    let mounts: BTreeMap<String, String> = list(&c.volume_mounts)
        .iter()
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect();
    errors.extend(validate_container_ports(
        list(&c.ports),
        &path.child("ports"),
    ));
    errors.extend(validate_env(list(&c.env), &path.child("env")));
    errors.extend(validate_env_from(list(&c.env_from), &path.child("envFrom")));
    let privileged = c.security_context.as_ref().and_then(|s| s.privileged) == Some(true);
    errors.extend(validate_volume_mounts(
        list(&c.volume_mounts),
        &devices,
        volumes,
        privileged,
        &path.child("volumeMounts"),
    ));
    let dev_path = path.child("volumeDevices");
    let mut device_paths = BTreeSet::new();
    let mut device_names = BTreeSet::new();
    for (i, d) in list(&c.volume_devices).iter().enumerate() {
        let idx = dev_path.index(i);
        if d.name.is_empty() {
            errors.push(FieldError::required(&idx.child("name"), ""));
        }
        if !device_names.insert(d.name.clone()) {
            errors.push(FieldError::invalid(
                &idx.child("name"),
                d.name.as_str(),
                "must be unique",
            ));
        }
        match volumes.get(&d.name) {
            Some(v) if !v.claim => errors.push(FieldError::invalid(&idx.child("name"), d.name.as_str(), "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode")),
            None => errors.push(FieldError::not_found(&idx.child("name"), d.name.as_str())),
            Some(_) => {}
        }
        if d.device_path.is_empty() {
            errors.push(FieldError::required(&idx.child("devicePath"), ""));
        }
        if !device_paths.insert(d.device_path.clone()) {
            errors.push(FieldError::invalid(
                &idx.child("devicePath"),
                d.device_path.as_str(),
                "must be unique",
            ));
        }
        if mounts.contains_key(&d.name) {
            errors.push(FieldError::invalid(
                &idx.child("name"),
                d.name.as_str(),
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|p| *p == d.device_path) {
            errors.push(FieldError::invalid(
                &idx.child("devicePath"),
                d.device_path.as_str(),
                "must not already exist as a path in volumeMounts",
            ));
        }
    }
    errors.extend(validate_pull_policy(
        str_of(&c.image_pull_policy),
        &path.child("imagePullPolicy"),
    ));
    if let Some(r) = &c.resources {
        errors.extend(validate_resource_requirements(r, &path.child("resources")));
    }
    let mut seen = BTreeSet::new();
    for (i, p) in list(&c.resize_policy).iter().enumerate() {
        let rp = path.child("resizePolicy");
        if !seen.insert(p.resource_name.clone()) {
            errors.push(FieldError::duplicate(
                &rp.index(i),
                p.resource_name.as_str(),
            ));
        }
        match p.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => errors.push(FieldError::required(&rp, "")),
            other => errors.push(FieldError::not_supported(&rp, other, &["cpu", "memory"])),
        }
        match p.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => errors.push(FieldError::required(&rp, "")),
            other => errors.push(FieldError::not_supported(
                &rp,
                other,
                &["NotRequired", "RestartContainer"],
            )),
        }
    }
    errors.extend(validate_security_context(
        c.security_context.as_ref(),
        host_users,
        &path.child("securityContext"),
    ));
    errors
}

fn host_port_conflicts(
    containers: &[&Container],
    path: &Path,
    seen: &mut BTreeSet<String>,
) -> ErrorList {
    let mut errors = Vec::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in list(&c.ports).iter().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                str_of(&port.protocol),
                str_of(&port.host_ip),
                host_port
            );
            if !seen.insert(key.clone()) {
                errors.push(FieldError::duplicate(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            }
        }
    }
    errors
}

fn validate_containers(
    containers: &[Container],
    volumes: &VolumeMap,
    grace: Option<i64>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errors.extend(validate_container_common(c, volumes, host_users, &p));
        if !names.insert(c.name.clone()) {
            errors.push(FieldError::duplicate(&p.child("name"), c.name.as_str()));
        }
        if let Some(l) = &c.lifecycle {
            errors.extend(validate_lifecycle(l, grace, &p.child("lifecycle")));
        }
        errors.extend(validate_probe(
            c.liveness_probe.as_ref(),
            ProbeKind::Liveness,
            grace,
            &p.child("livenessProbe"),
        ));
        errors.extend(validate_probe(
            c.readiness_probe.as_ref(),
            ProbeKind::Readiness,
            grace,
            &p.child("readinessProbe"),
        ));
        errors.extend(validate_probe(
            c.startup_probe.as_ref(),
            ProbeKind::Startup,
            grace,
            &p.child("startupProbe"),
        ));
        if c.restart_policy.is_some() {
            errors.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let all: Vec<&Container> = containers.iter().collect();
    errors.extend(host_port_conflicts(&all, path, &mut BTreeSet::new()));
    errors
}

fn validate_init_containers(
    containers: &[Container],
    regular: &[Container],
    volumes: &VolumeMap,
    grace: Option<i64>,
    host_users: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let mut names: BTreeSet<String> = regular.iter().map(|c| c.name.clone()).collect();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errors.extend(validate_container_common(c, volumes, host_users, &p));
        let mut restart_always = false;
        if let Some(rp) = c.restart_policy.as_deref() {
            if rp == "Always" {
                restart_always = true;
            } else {
                errors.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    rp,
                    &["Always"],
                ));
            }
        }
        if names.contains(&c.name) {
            errors.push(FieldError::duplicate(&p.child("name"), c.name.as_str()));
        } else if !c.name.is_empty() {
            names.insert(c.name.clone());
        }
        errors.extend(host_port_conflicts(&[c], path, &mut BTreeSet::new()));
        if restart_always {
            if let Some(l) = &c.lifecycle {
                errors.extend(validate_lifecycle(l, grace, &p.child("lifecycle")));
            }
            errors.extend(validate_probe(
                c.liveness_probe.as_ref(),
                ProbeKind::Liveness,
                grace,
                &p.child("livenessProbe"),
            ));
            errors.extend(validate_probe(
                c.readiness_probe.as_ref(),
                ProbeKind::Readiness,
                grace,
                &p.child("readinessProbe"),
            ));
            errors.extend(validate_probe(
                c.startup_probe.as_ref(),
                ProbeKind::Startup,
                grace,
                &p.child("startupProbe"),
            ));
        } else {
            for (name, set) in [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    errors.push(FieldError::forbidden(
                        &p.child(name),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errors
}

// ---------------------------------------------------------------------------------------------
// Validation: scheduling
// ---------------------------------------------------------------------------------------------

/// Validates tolerations (upstream `ValidateTolerations`).
pub fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let idx = path.index(i);
        let key = str_of(&t.key);
        let operator = str_of(&t.operator);
        let effect = str_of(&t.effect);
        let value = str_of(&t.value);
        if !key.is_empty() {
            errors.extend(v::validate_label_name(key, &idx.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid(&idx.child("operator"), operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(FieldError::invalid(
                &idx.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = v::is_valid_label_value(value);
                if !msgs.is_empty() {
                    errors.push(FieldError::invalid(
                        &idx.child("operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(FieldError::invalid(
                        &idx.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                &idx.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errors.extend(validate_taint_effect(effect, true, &idx.child("effect")));
        }
    }
    errors
}

/// Validates a taint effect (upstream `validateTaintEffect`).
pub fn validate_taint_effect(effect: &str, allow_empty: bool, path: &Path) -> ErrorList {
    if !allow_empty && effect.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => Vec::new(),
        other => vec![FieldError::not_supported(
            path,
            other,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )],
    }
}

/// Validates a node selector requirement (upstream `ValidateNodeSelectorRequirement`).
pub fn validate_node_selector_requirement(
    rq: &NodeSelectorRequirement,
    allow_invalid_values: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    let values = list(&rq.values);
    match rq.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errors.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errors.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errors.push(FieldError::required(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errors.push(FieldError::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errors.extend(v::validate_label_name(&rq.key, &path.child("key")));
    if !allow_invalid_values {
        for (i, value) in values.iter().enumerate() {
            errors.extend(each_invalid(
                &path.child("values").index(i),
                value,
                v::is_valid_label_value(value),
            ));
        }
    }
    errors
}

fn validate_node_selector_term(
    term: &NodeSelectorTerm,
    allow_invalid_values: bool,
    path: &Path,
) -> ErrorList {
    let mut errors = Vec::new();
    for (j, rq) in list(&term.match_expressions).iter().enumerate() {
        errors.extend(validate_node_selector_requirement(
            rq,
            allow_invalid_values,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, rq) in list(&term.match_fields).iter().enumerate() {
        let p = path.child("matchFields").index(j);
        match rq.operator.as_str() {
            "In" | "NotIn" => {
                if list(&rq.values).len() != 1 {
                    errors.push(FieldError::required(&p.child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
                }
            }
            other => errors.push(FieldError::invalid(
                &p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        if rq.key != "metadata.name" {
            errors.push(FieldError::invalid(
                &p.child("key"),
                rq.key.as_str(),
                "not a valid field selector key",
            ));
        } else {
            for (i, value) in list(&rq.values).iter().enumerate() {
                errors.extend(dns_subdomain(value, &p.child("values").index(i)));
            }
        }
    }
    errors
}

/// Validates a node selector (upstream `ValidateNodeSelector`).
pub fn validate_node_selector(ns: &NodeSelector, path: &Path) -> ErrorList {
    let terms_path = path.child("nodeSelectorTerms");
    if ns.node_selector_terms.is_empty() {
        return vec![FieldError::required(
            &terms_path,
            "must have at least one node selector term",
        )];
    }
    let mut errors = Vec::new();
    for (i, term) in ns.node_selector_terms.iter().enumerate() {
        errors.extend(validate_node_selector_term(
            term,
            false,
            &terms_path.index(i),
        ));
    }
    errors
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if let Some(s) = &term.label_selector {
        errors.extend(v::validate_label_selector(s, &path.child("labelSelector")));
    }
    if let Some(s) = &term.namespace_selector {
        errors.extend(v::validate_label_selector(
            s,
            &path.child("namespaceSelector"),
        ));
    }
    for ns in list(&term.namespaces) {
        errors.extend(each_invalid(
            &path.child("namespace"),
            ns,
            v::validate_namespace_name(ns),
        ));
    }
    for (field, keys) in [
        ("matchLabelKeys", &term.match_label_keys),
        ("mismatchLabelKeys", &term.mismatch_label_keys),
    ] {
        let keys = list(keys);
        if keys.is_empty() {
            continue;
        }
        if term.label_selector.is_none() {
            errors.push(FieldError::forbidden(
                &path.child(field),
                "must not be specified when labelSelector is not set",
            ));
            continue;
        }
        for (i, key) in keys.iter().enumerate() {
            errors.extend(v::validate_label_name(key, &path.child(field).index(i)));
        }
    }
    if term.topology_key.is_empty() {
        errors.push(FieldError::required(
            &path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errors.extend(v::validate_label_name(
        &term.topology_key,
        &path.child("topologyKey"),
    ));
    errors
}

fn validate_weighted_terms(terms: &[WeightedPodAffinityTerm], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (j, t) in terms.iter().enumerate() {
        if t.weight <= 0 || t.weight > 100 {
            errors.push(FieldError::invalid(
                &path.index(j).child("weight"),
                t.weight,
                "must be in the range 1-100",
            ));
        }
        errors.extend(validate_pod_affinity_term(
            &t.pod_affinity_term,
            &path.index(j).child("podAffinityTerm"),
        ));
    }
    errors
}

fn validate_affinity(a: &Affinity, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if let Some(na) = &a.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
            errors.extend(validate_node_selector(
                req,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        for (i, term) in list(&na.preferred_during_scheduling_ignored_during_execution)
            .iter()
            .enumerate()
        {
            let tp = p
                .child("preferredDuringSchedulingIgnoredDuringExecution")
                .index(i);
            if term.weight <= 0 || term.weight > 100 {
                errors.push(FieldError::invalid(
                    &tp.child("weight"),
                    term.weight,
                    "must be in the range 1-100",
                ));
            }
            errors.extend(validate_node_selector_term(
                &term.preference,
                true,
                &tp.child("preference"),
            ));
        }
    }
    for (name, required, preferred) in [
        (
            "podAffinity",
            a.pod_affinity
                .as_ref()
                .map(|p| &p.required_during_scheduling_ignored_during_execution),
            a.pod_affinity
                .as_ref()
                .map(|p| &p.preferred_during_scheduling_ignored_during_execution),
        ),
        (
            "podAntiAffinity",
            a.pod_anti_affinity
                .as_ref()
                .map(|p| &p.required_during_scheduling_ignored_during_execution),
            a.pod_anti_affinity
                .as_ref()
                .map(|p| &p.preferred_during_scheduling_ignored_during_execution),
        ),
    ] {
        let p = path.child(name);
        if let Some(required) = required {
            for (i, term) in list(required).iter().enumerate() {
                errors.extend(validate_pod_affinity_term(
                    term,
                    &p.child("requiredDuringSchedulingIgnoredDuringExecution")
                        .index(i),
                ));
            }
        }
        if let Some(preferred) = preferred {
            errors.extend(validate_weighted_terms(
                list(preferred),
                &p.child("preferredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
    }
    errors
}

fn validate_topology_spread(constraints: &[TopologySpreadConstraint], path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    for (i, c) in constraints.iter().enumerate() {
        let p = path.index(i);
        if c.max_skew <= 0 {
            errors.push(FieldError::invalid(
                &p.child("maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errors.push(FieldError::required(
                &p.child("topologyKey"),
                "can not be empty",
            ));
        }
        if c.when_unsatisfiable != "DoNotSchedule" && c.when_unsatisfiable != "ScheduleAnyway" {
            errors.push(FieldError::not_supported(
                &p.child("whenUnsatisfiable"),
                c.when_unsatisfiable.as_str(),
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        if constraints[i + 1..].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        }) {
            errors.push(FieldError::duplicate(
                &p.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable),
            ));
        }
        if let Some(min) = c.min_domains {
            if min <= 0 {
                errors.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min,
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errors.push(FieldError::invalid(
                    &p.child("minDomains"),
                    min,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (name, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(policy) = policy.as_deref()
                && policy != "Honor"
                && policy != "Ignore"
            {
                errors.push(FieldError::not_supported(
                    &p.child(name),
                    policy,
                    &["Honor", "Ignore"],
                ));
            }
        }
        let keys = list(&c.match_label_keys);
        if !keys.is_empty() {
            let mut selector_keys = BTreeSet::new();
            match &c.label_selector {
                Some(s) => {
                    selector_keys.extend(s.match_labels.iter().flatten().map(|(k, _)| k.clone()));
                    selector_keys.extend(list(&s.match_expressions).iter().map(|e| e.key.clone()));
                }
                None => errors.push(FieldError::forbidden(
                    &p.child("matchLabelKeys"),
                    "must not be specified when labelSelector is not set",
                )),
            }
            for (j, key) in keys.iter().enumerate() {
                errors.extend(v::validate_label_name(
                    key,
                    &p.child("matchLabelKeys").index(j),
                ));
                if selector_keys.contains(key) {
                    errors.push(FieldError::invalid(
                        &p.child("matchLabelKeys").index(j),
                        key.as_str(),
                        "exists in both matchLabelKeys and labelSelector",
                    ));
                }
            }
        }
        if let Some(s) = &c.label_selector {
            errors.extend(v::validate_label_selector(s, &p.child("labelSelector")));
        }
    }
    errors
}

fn validate_dns_config(config: Option<&PodDNSConfig>, policy: &str, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if policy == "None" {
        match config {
            None => {
                return vec![FieldError::required(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )];
            }
            Some(c) if list(&c.nameservers).is_empty() => {
                return vec![FieldError::required(
                    &path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )];
            }
            _ => {}
        }
    }
    let Some(c) = config else { return errors };
    let nameservers = list(&c.nameservers);
    if nameservers.len() > 3 {
        errors.push(invalid_raw(
            &path.child("nameservers"),
            &common::go_string_slice(Some(nameservers)),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        errors.extend(valid_ip(ns, &path.child("nameservers").index(i)));
    }
    let searches = list(&c.searches);
    if searches.len() > 32 {
        errors.push(invalid_raw(
            &path.child("searches"),
            &common::go_string_slice(Some(searches)),
            "must not have more than 32 search paths",
        ));
    }
    if searches.join(" ").len() > 2048 {
        errors.push(invalid_raw(
            &path.child("searches"),
            &common::go_string_slice(Some(searches)),
            "must not have more than 2048 characters (including spaces) in the search list",
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        if search == "." {
            continue;
        }
        let trimmed = search.strip_suffix('.').unwrap_or(search);
        let underscored = trimmed.replace('_', "a");
        for msg in v::is_dns1123_subdomain(&underscored) {
            errors.push(FieldError::invalid(
                &path.child("searches").index(i),
                trimmed,
                msg,
            ));
        }
    }
    for (i, option) in list(&c.options).iter().enumerate() {
        if is_empty(&option.name) {
            errors.push(FieldError::required(
                &path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errors
}

fn is_valid_sysctl_name(name: &str) -> bool {
    if name.len() > 253 {
        return false;
    }
    let segment_ok = |s: &str| {
        let b = s.as_bytes();
        !b.is_empty()
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
    };
    name.split(['.', '/']).all(segment_ok)
}

fn validate_pod_security_context(
    spec: &PodSpec,
    sc: Option<&PodSecurityContext>,
    path: &Path,
) -> ErrorList {
    let Some(sc) = sc else { return Vec::new() };
    let mut errors = Vec::new();
    errors.extend(validate_id(sc.fs_group, &path.child("fsGroup")));
    errors.extend(validate_id(sc.run_as_user, &path.child("runAsUser")));
    errors.extend(validate_id(sc.run_as_group, &path.child("runAsGroup")));
    for (g, gid) in list(&sc.supplemental_groups).iter().enumerate() {
        errors.extend(validate_id(
            Some(*gid),
            &path.child("supplementalGroups").index(g),
        ));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errors.push(FieldError::invalid(
            &path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let mut names = BTreeSet::new();
    for (i, s) in list(&sc.sysctls).iter().enumerate() {
        let p = path.child("sysctls").index(i).child("name");
        if s.name.is_empty() {
            errors.push(FieldError::required(&p, ""));
        } else if !is_valid_sysctl_name(&s.name) {
            errors.push(FieldError::invalid(&p, s.name.as_str(), "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"));
        } else if !names.insert(s.name.clone()) {
            errors.push(FieldError::duplicate(&p, s.name.as_str()));
        }
        if spec.host_network == Some(true) && s.name.starts_with("net.") {
            errors.push(FieldError::invalid(
                &p,
                s.name.as_str(),
                "may not be specified when 'hostNetwork' is true",
            ));
        }
        if spec.host_ipc == Some(true)
            && (s.name.starts_with("kernel.shm")
                || s.name.starts_with("kernel.msg")
                || s.name == "kernel.sem"
                || s.name.starts_with("fs.mqueue."))
        {
            errors.push(FieldError::invalid(
                &p,
                s.name.as_str(),
                "may not be specified when 'hostIPC' is true",
            ));
        }
    }
    for (field, value, allowed) in [
        (
            "fsGroupChangePolicy",
            &sc.fs_group_change_policy,
            &["Always", "OnRootMismatch"][..],
        ),
        (
            "supplementalGroupsPolicy",
            &sc.supplemental_groups_policy,
            &["Merge", "Strict"][..],
        ),
        (
            "seLinuxChangePolicy",
            &sc.se_linux_change_policy,
            &["MountOption", "Recursive"][..],
        ),
    ] {
        if let Some(value) = value.as_deref()
            && !allowed.contains(&value)
        {
            errors.push(FieldError::not_supported(
                &path.child(field),
                value,
                allowed,
            ));
        }
    }
    errors.extend(validate_seccomp(
        sc.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    errors.extend(validate_app_armor(
        sc.app_armor_profile.as_ref(),
        &path.child("appArmorProfile"),
    ));
    errors
}

// ---------------------------------------------------------------------------------------------
// Validation: the spec
// ---------------------------------------------------------------------------------------------

/// Validates a pod spec (upstream `ValidatePodSpec`). `pod_meta` is the pod's metadata when the
/// spec is a pod's (it names the claims of ephemeral volumes).
pub fn validate_pod_spec(
    spec: &PodSpec,
    pod_meta: Option<&ObjectMeta>,
    path: &Path,
    opts: PodSpecOptions,
) -> ErrorList {
    let mut errors = Vec::new();
    let grace = spec.termination_grace_period_seconds;
    if grace.is_none() {
        errors.push(FieldError::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let host_users = spec.host_users != Some(false);
    let (volumes, vol_errors) =
        validate_volumes(list(&spec.volumes), pod_meta, &path.child("volumes"), opts);
    errors.extend(vol_errors);
    let mut claim_names = BTreeSet::new();
    for (i, claim) in list(&spec.resource_claims).iter().enumerate() {
        let p = path.child("resourceClaims").index(i);
        if claim.name.is_empty() {
            errors.push(FieldError::required(&p.child("name"), ""));
        } else if !claim_names.insert(claim.name.clone()) {
            errors.push(FieldError::duplicate(&p.child("name"), claim.name.as_str()));
        } else {
            errors.extend(dns_label(&claim.name, &p.child("name")));
        }
        match (&claim.resource_claim_name, &claim.resource_claim_template_name) {
            (Some(_), Some(_)) => errors.push(invalid_raw(&p, &common::go_value(claim), "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified")),
            (None, None) => errors.push(invalid_raw(&p, &common::go_value(claim), "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`")),
            _ => {}
        }
    }
    errors.extend(validate_containers(
        &spec.containers,
        &volumes,
        grace,
        host_users,
        &path.child("containers"),
    ));
    errors.extend(validate_init_containers(
        list(&spec.init_containers),
        &spec.containers,
        &volumes,
        grace,
        host_users,
        &path.child("initContainers"),
    ));
    if spec.host_network == Some(true) {
        for (i, c) in spec.containers.iter().enumerate() {
            for (j, port) in list(&c.ports).iter().enumerate() {
                let hp = port.host_port.unwrap_or(0);
                if (opts.resource_is_pod || hp != 0) && hp != port.container_port {
                    errors.push(FieldError::invalid(
                        &path
                            .child("containers")
                            .index(i)
                            .child("ports")
                            .index(j)
                            .child("hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    match str_of(&spec.restart_policy) {
        "Always" | "OnFailure" | "Never" => {}
        "" => errors.push(FieldError::required(&path.child("restartPolicy"), "")),
        other => errors.push(FieldError::not_supported(
            &path.child("restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = str_of(&spec.dns_policy);
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errors.push(FieldError::required(&path.child("dnsPolicy"), "")),
        other => errors.push(FieldError::not_supported(
            &path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    if let Some(ns) = &spec.node_selector {
        errors.extend(v::validate_labels(ns, &path.child("nodeSelector")));
    }
    errors.extend(validate_pod_security_context(
        spec,
        spec.security_context.as_ref(),
        &path.child("securityContext"),
    ));
    if let Some(a) = &spec.affinity {
        errors.extend(validate_affinity(a, &path.child("affinity")));
    }
    errors.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        dns_policy,
        &path.child("dnsConfig"),
    ));
    for (i, gate) in list(&spec.readiness_gates).iter().enumerate() {
        errors.extend(qualified_name(
            &gate.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates = BTreeSet::new();
    for (i, gate) in list(&spec.scheduling_gates).iter().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errors.extend(qualified_name(&gate.name, &p));
        if !gates.insert(gate.name.clone()) {
            errors.push(FieldError::duplicate(&p, gate.name.as_str()));
        }
    }
    errors.extend(validate_topology_spread(
        list(&spec.topology_spread_constraints),
        &path.child("topologySpreadConstraints"),
    ));
    if spec.host_users == Some(false) {
        for (field, set) in [
            ("hostNetwork", spec.host_network),
            ("HostPID", spec.host_pid),
            ("HostIPC", spec.host_ipc),
        ] {
            if set == Some(true) {
                errors.push(FieldError::forbidden(
                    &path.child(field),
                    "when `pod.Spec.HostUsers` is false",
                ));
            }
        }
    }
    let sa = str_of(&spec.service_account_name);
    if !sa.is_empty() {
        errors.extend(dns_subdomain(sa, &path.child("serviceAccountName")));
    }
    let node = str_of(&spec.node_name);
    if !node.is_empty() {
        errors.extend(dns_subdomain(node, &path.child("nodeName")));
    }
    if let Some(ads) = spec.active_deadline_seconds
        && !(1..=i32::MAX as i64).contains(&ads)
    {
        errors.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            ads,
            v::inclusive_range_error(1, i32::MAX as i64),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if !is_empty(value) {
            errors.extend(dns_label(str_of(value), &path.child(field)));
        }
    }
    let tolerations = list(&spec.tolerations);
    if !tolerations.is_empty() {
        errors.extend(validate_tolerations(
            tolerations,
            &path.child("tolerations"),
        ));
    }
    for (i, alias) in list(&spec.host_aliases).iter().enumerate() {
        let p = path.child("hostAliases").index(i);
        errors.extend(valid_ip(&alias.ip, &p.child("ip")));
        for (j, hostname) in list(&alias.hostnames).iter().enumerate() {
            errors.extend(dns_subdomain(hostname, &p.child("hostnames").index(j)));
        }
    }
    let pc = str_of(&spec.priority_class_name);
    if !pc.is_empty() {
        errors.extend(dns_subdomain(pc, &path.child("priorityClassName")));
    }
    if let Some(rc) = &spec.runtime_class_name {
        errors.extend(dns_subdomain(rc, &path.child("runtimeClassName")));
    }
    if let Some(pp) = spec.preemption_policy.as_deref() {
        errors.extend(validate_preemption_policy(
            pp,
            &path.child("preemptionPolicy"),
        ));
    }
    if let Some(overhead) = &spec.overhead {
        errors.extend(validate_resource_requirements(
            &ResourceRequirements {
                limits: Some(overhead.clone()),
                ..Default::default()
            },
            &path.child("overhead"),
        ));
    }
    if let Some(os) = &spec.os {
        if os.name.is_empty() {
            errors.push(FieldError::required(
                &path.child("os").child("name"),
                "cannot be empty",
            ));
        } else if os.name != "linux" && os.name != "windows" {
            errors.push(FieldError::not_supported(
                &path.child("os"),
                os.name.as_str(),
                &["linux", "windows"],
            ));
        }
    }
    errors
}

/// Validates a preemption policy (upstream `ValidatePreemptionPolicy`).
pub fn validate_preemption_policy(policy: &str, path: &Path) -> ErrorList {
    match policy {
        "PreemptLowerPriority" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["PreemptLowerPriority", "Never"],
        )],
    }
}

/// Validates a pod template (upstream `ValidatePodTemplateSpec`) at `path`, e.g.
/// `spec.template`: its labels and annotations, its spec at `<path>.spec`, and no ephemeral
/// containers.
pub fn validate_pod_template(template: &PodTemplateSpec, path: &Path) -> ErrorList {
    let mut errors = Vec::new();
    if let Some(meta) = &template.metadata {
        if let Some(labels) = &meta.labels {
            errors.extend(v::validate_labels(labels, &path.child("labels")));
        }
        if let Some(annotations) = &meta.annotations {
            errors.extend(v::validate_annotations(
                annotations,
                &path.child("annotations"),
            ));
        }
    }
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    errors.extend(validate_pod_spec(
        spec,
        None,
        &path.child("spec"),
        PodSpecOptions::default(),
    ));
    if !list(&spec.ephemeral_containers).is_empty() {
        errors.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// The labels of a pod template.
pub fn template_labels(template: &PodTemplateSpec) -> Option<&BTreeMap<String, String>> {
    template.metadata.as_ref().and_then(|m| m.labels.as_ref())
}

/// The restart policy of a pod template's spec, `""` when unset.
pub fn template_restart_policy(template: &PodTemplateSpec) -> &str {
    template
        .spec
        .as_ref()
        .map_or("", |s| str_of(&s.restart_policy))
}

/// Checks that a workload's template restarts its pods always and has no active deadline, as
/// ReplicaSets, StatefulSets, DaemonSets and ReplicationControllers require; `kind` names the
/// workload in the deadline message.
pub fn validate_always_restart(
    template: &PodTemplateSpec,
    path: &Path,
    kind: &str,
    deadline_invalid: bool,
) -> ErrorList {
    let mut errors = Vec::new();
    let policy = template_restart_policy(template);
    if policy != "Always" {
        errors.push(FieldError::not_supported(
            &path.child("spec").child("restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if let Some(ads) = template
        .spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
    {
        let p = path.child("spec").child("activeDeadlineSeconds");
        let msg = format!("activeDeadlineSeconds in {kind} is not Supported");
        errors.push(if deadline_invalid {
            FieldError::invalid(&p, ads, msg)
        } else {
            FieldError::forbidden(&p, msg)
        });
    }
    errors
}
