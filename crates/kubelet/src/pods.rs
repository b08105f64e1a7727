//! Pod workers: one task per pod bound to this node, woken by the pod's changes and every
//! second (upstream's PLEG relist period). Each pass makes the runtime match the pod: a
//! sandbox (network namespace through CNI), init containers in order, then the containers,
//! restarted as `restartPolicy` says with CrashLoopBackOff; then it reports what the runtime
//! shows as the pod's status. A pod being deleted has its containers stopped within its grace
//! period, its sandbox removed, and is then deleted for good.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use k8s_cri::v1::{
    ContainerConfig, ContainerFilter, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, KeyValue, LinuxContainerConfig, LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext, ListContainersRequest, ListPodSandboxRequest, NamespaceMode,
    NamespaceOption, PodSandboxConfig, PodSandboxFilter, PodSandboxMetadata,
    PodSandboxStatusRequest, PullImageRequest, RemoveContainerRequest, RemovePodSandboxRequest,
    RunPodSandboxRequest, StartContainerRequest, StopContainerRequest, StopPodSandboxRequest,
};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{cri::Cri, env, hooks, probes, resources, volumes};

/// The label containerd's sandboxes and containers carry with the pod's uid.
const POD_UID: &str = "io.kubernetes.pod.uid";
/// The label a container carries with its name in the pod spec.
const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// The longest a postStart hook may run.
const HOOK_LIMIT: Duration = Duration::from_secs(120);
/// The first and the longest CrashLoopBackOff delays (upstream's 10 s doubling to 5 min).
const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// What every pod worker shares.
pub struct Kubelet {
    /// The API client.
    pub client: Client,
    /// The runtime.
    pub cri: Cri,
    /// This node's name.
    pub node: String,
    /// This node's address (the pods' hostIP).
    pub address: String,
    /// Where pod log directories go.
    pub pods_dir: PathBuf,
    /// The machine's memory in bytes (Burstable containers' OOM scores are shares of it).
    pub memory: u64,
    /// Events about the pods (`source.component` kubelet, `source.host` this node).
    pub events: component::Recorder,
    workers: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Kubelet {
    /// A kubelet without workers yet.
    pub fn new(client: Client, cri: Cri, node: String, address: String, pods_dir: PathBuf) -> Self {
        Kubelet {
            events: component::Recorder::new(client.clone(), "kubelet").on_host(&node),
            client,
            cri,
            node,
            address,
            pods_dir,
            memory: crate::node::host_capacity().1,
            workers: Mutex::default(),
        }
    }
}

/// Watches the pods bound to this node and runs a worker per pod.
pub async fn run(kubelet: Arc<Kubelet>) {
    let (store, writer) = reflector::store::<Pod>();
    let api: Api<Pod> = Api::all(kubelet.client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", kubelet.node));
    let mut events = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .boxed();
    while let Some(event) = events.next().await {
        let pod = match event {
            Ok(pod) => pod,
            Err(error) => {
                tracing::warn!(%error, "pod watch failed; retrying");
                continue;
            }
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut workers = kubelet.workers.lock().expect("workers");
        if let Some(wake) = workers.get(&uid) {
            wake.notify_one();
            continue;
        }
        let wake = Arc::new(Notify::new());
        workers.insert(uid.clone(), wake.clone());
        let key = ObjectRef::from_obj(&pod);
        tokio::spawn(worker(kubelet.clone(), store.clone(), key, uid, wake));
    }
}

/// Runs one pod until it is gone.
async fn worker(
    kubelet: Arc<Kubelet>,
    store: Store<Pod>,
    key: ObjectRef<Pod>,
    uid: String,
    wake: Arc<Notify>,
) {
    let mut state = PodState::default();
    loop {
        let pod = store
            .get(&key)
            .filter(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
        let result = match &pod {
            None => teardown(&kubelet, None, &uid, 0).await.map(|_| true),
            Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                finish_deletion(&kubelet, pod).await.map(|_| true)
            }
            Some(pod) => sync(&kubelet, pod, &mut state).await.map(|_| false),
        };
        match result {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(pod = %key, %error, "pod sync failed; retrying");
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    kubelet.workers.lock().expect("workers").remove(&uid);
}

/// Errors of a pod sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The runtime refused.
    #[error("runtime: {0}")]
    Runtime(#[from] tonic::Status),
    /// The API refused.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// What a worker remembers between passes.
#[derive(Default)]
struct PodState {
    /// Per container: restarts so far and when the next start is allowed.
    backoff: HashMap<String, (u32, Instant)>,
    /// Per image: failed pulls so far and when the next pull is allowed.
    pull_backoff: HashMap<String, (u32, Instant)>,
    /// Why each container waits (reason, message), when it does.
    waiting: HashMap<String, (String, String)>,
    /// Why the pod's volumes could not be set up, when they could not.
    mount_error: Option<String>,
    /// Each container's probes.
    probes: HashMap<(String, probes::Kind), probes::State>,
    /// The last status written.
    written: Option<Value>,
}

/// One observed container of the pod: its latest attempt.
struct Observed {
    id: String,
    attempt: u32,
    state: i32,
    exit_code: i32,
    reason: String,
    message: String,
    started_at: i64,
    finished_at: i64,
    image: String,
    image_ref: String,
}

fn nanos_to_rfc3339(nanos: i64) -> Option<String> {
    (nanos > 0)
        .then(|| jiff::Timestamp::from_nanosecond(nanos as i128).ok())
        .flatten()
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
}

async fn sync(kubelet: &Kubelet, pod: &Pod, state: &mut PodState) -> Result<(), SyncError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        // Upstream stops a finished pod's sandbox so that its IP is freed.
        for sandbox in sandboxes(&kubelet.cri, &uid, true).await? {
            kubelet
                .cri
                .runtime
                .clone()
                .stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: sandbox,
                })
                .await?;
        }
        return Ok(());
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let restart_policy = spec
        .restart_policy
        .clone()
        .unwrap_or_else(|| "Always".into());
    let (sandbox, sandbox_config) = ensure_sandbox(kubelet, pod).await?;
    let ip = sandbox_ip(&kubelet.cri, &sandbox).await?;
    let pod_dir = PathBuf::from(&sandbox_config.log_directory);
    let volumes = match volumes::prepare(&kubelet.client, pod, &pod_dir).await {
        Ok(volumes) => {
            state.mount_error = None;
            volumes
        }
        Err(message) => {
            state.mount_error = Some(message);
            HashMap::new()
        }
    };
    let ctx = StartContext {
        sandbox: &sandbox,
        sandbox_config: &sandbox_config,
        ip: &ip,
        volumes: &volumes,
    };
    let observed = containers(&kubelet.cri, &sandbox).await?;
    let mut failed_init = false;
    let mut init_done = true;
    let main_started = spec
        .containers
        .iter()
        .any(|c| observed.contains_key(&c.name));
    for container in spec.init_containers.iter().flatten() {
        if is_sidecar(container) {
            // A sidecar starts in its turn and runs beside the containers, restarted whenever
            // it exits; the next init container waits until it has started.
            let current = observed.get(&container.name);
            match current {
                Some(c) if c.state == ContainerState::ContainerRunning as i32 => {
                    let started = container.startup_probe.is_none()
                        || state
                            .probes
                            .get(&(container.name.clone(), probes::Kind::Startup))
                            .is_some_and(|p| p.passing && p.container_id == c.id);
                    if started || main_started {
                        continue;
                    }
                }
                _ => start(kubelet, pod, container, &ctx, current, state).await?,
            }
            if main_started {
                continue;
            }
            init_done = false;
            break;
        }
        match observed.get(&container.name) {
            Some(c) if c.state == ContainerState::ContainerExited as i32 && c.exit_code == 0 => {
                continue;
            }
            Some(c) if c.state == ContainerState::ContainerExited as i32 => {
                init_done = false;
                if restart_policy == "Never" {
                    failed_init = true;
                } else {
                    start(kubelet, pod, container, &ctx, Some(c), state).await?;
                }
                break;
            }
            Some(_) => {
                init_done = false;
                break;
            }
            None => {
                init_done = false;
                start(kubelet, pod, container, &ctx, None, state).await?;
                break;
            }
        }
    }
    if init_done {
        let first_start = !spec
            .containers
            .iter()
            .any(|c| observed.contains_key(&c.name));
        if first_start && spec.init_containers.as_ref().is_some_and(|i| !i.is_empty()) {
            // Initialized: say so (PodInitializing) before pulling and starting the containers.
            report(kubelet, pod, &observed, state, &ip, false).await?;
        }
        for container in &spec.containers {
            match observed.get(&container.name) {
                None => start(kubelet, pod, container, &ctx, None, state).await?,
                Some(c) if c.state == ContainerState::ContainerExited as i32 => {
                    let restart = match restart_policy.as_str() {
                        "Always" => true,
                        "OnFailure" => c.exit_code != 0,
                        _ => false,
                    };
                    if restart {
                        start(kubelet, pod, container, &ctx, Some(c), state).await?;
                    }
                }
                Some(_) => {}
            }
        }
    }
    // Report what the runtime shows now.
    let observed = containers(&kubelet.cri, &sandbox).await?;
    run_probes(kubelet, pod, &observed, state, &ip).await?;
    report(kubelet, pod, &observed, state, &ip, failed_init).await
}

/// Writes the pod's status when it differs from the last one written.
async fn report(
    kubelet: &Kubelet,
    pod: &Pod,
    observed: &HashMap<String, Observed>,
    state: &mut PodState,
    ip: &str,
    failed_init: bool,
) -> Result<(), SyncError> {
    let status = pod_status(kubelet, pod, observed, state, ip, failed_init);
    if state.written.as_ref() != Some(&status) {
        let api: Api<Pod> = Api::namespaced(
            kubelet.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        api.patch_status(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": status})),
        )
        .await?;
        state.written = Some(status);
    }
    Ok(())
}

/// The pod's ready sandbox, created if it has none.
async fn ensure_sandbox(
    kubelet: &Kubelet,
    pod: &Pod,
) -> Result<(String, PodSandboxConfig), SyncError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let log_directory = kubelet.pods_dir.join(format!("{namespace}_{name}_{uid}"));
    let _ = std::fs::create_dir_all(&log_directory);
    let host_network = spec.host_network == Some(true);
    let config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.clone(),
            uid: uid.clone(),
            namespace: namespace.clone(),
            attempt: 0,
        }),
        hostname: spec.hostname.clone().unwrap_or_else(|| name.clone()),
        log_directory: log_directory.to_string_lossy().into_owned(),
        labels: [
            ("io.kubernetes.pod.name".to_string(), name),
            ("io.kubernetes.pod.namespace".to_string(), namespace),
            (POD_UID.to_string(), uid.clone()),
        ]
        .into(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: resources::cgroup_parent(pod),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: if host_network {
                        NamespaceMode::Node as i32
                    } else {
                        NamespaceMode::Pod as i32
                    },
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    if let Some(id) = sandboxes(&kubelet.cri, &uid, true)
        .await?
        .into_iter()
        .next()
    {
        return Ok((id, config));
    }
    let id = kubelet
        .cri
        .runtime
        .clone()
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config.clone()),
            ..Default::default()
        })
        .await?
        .into_inner()
        .pod_sandbox_id;
    tracing::info!(pod = ?pod.metadata.name, sandbox = id, "sandbox started");
    Ok((id, config))
}

/// The sandbox's IP (empty with the host's network).
async fn sandbox_ip(cri: &Cri, sandbox: &str) -> Result<String, tonic::Status> {
    Ok(cri
        .runtime
        .clone()
        .pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: sandbox.to_string(),
            verbose: false,
        })
        .await?
        .into_inner()
        .status
        .and_then(|s| s.network)
        .map(|n| n.ip)
        .unwrap_or_default())
}

/// What starting a container needs of its pod's sandbox.
struct StartContext<'a> {
    sandbox: &'a str,
    sandbox_config: &'a PodSandboxConfig,
    ip: &'a str,
    volumes: &'a HashMap<String, PathBuf>,
}

/// The pod's sandboxes (only the ready ones if `ready`).
async fn sandboxes(cri: &Cri, uid: &str, ready: bool) -> Result<Vec<String>, tonic::Status> {
    let filter = PodSandboxFilter {
        label_selector: [(POD_UID.to_string(), uid.to_string())].into(),
        state: ready.then_some(k8s_cri::v1::PodSandboxStateValue {
            state: k8s_cri::v1::PodSandboxState::SandboxReady as i32,
        }),
        ..Default::default()
    };
    Ok(cri
        .runtime
        .clone()
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await?
        .into_inner()
        .items
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// The latest attempt of each container in a sandbox, by container name.
async fn containers(cri: &Cri, sandbox: &str) -> Result<HashMap<String, Observed>, tonic::Status> {
    let list = cri
        .runtime
        .clone()
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: sandbox.to_string(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    let mut out: HashMap<String, Observed> = HashMap::new();
    for c in list {
        let name = c
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        let attempt = c.metadata.as_ref().map_or(0, |m| m.attempt);
        if out.get(&name).is_some_and(|o| o.attempt >= attempt) {
            continue;
        }
        let Some(status) = cri
            .runtime
            .clone()
            .container_status(ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await?
            .into_inner()
            .status
        else {
            continue;
        };
        out.insert(
            name,
            Observed {
                id: c.id,
                attempt,
                state: status.state,
                exit_code: status.exit_code,
                reason: status.reason,
                message: status.message,
                started_at: status.started_at,
                finished_at: status.finished_at,
                image: status.image.map(|i| i.image).unwrap_or_default(),
                image_ref: status.image_ref,
            },
        );
    }
    Ok(out)
}

/// Starts a container (a new attempt after `previous`), unless its back-off is not over or its
/// image is missing; records why it waits.
async fn start(
    kubelet: &Kubelet,
    pod: &Pod,
    container: &Container,
    ctx: &StartContext<'_>,
    previous: Option<&Observed>,
    state: &mut PodState,
) -> Result<(), SyncError> {
    let now = Instant::now();
    let name = container.name.clone();
    if let Some(message) = &state.mount_error {
        state
            .waiting
            .insert(name, ("ContainerCreating".into(), message.clone()));
        return Ok(());
    }
    if previous.is_some() {
        let (restarts, next) = state.backoff.get(&name).copied().unwrap_or((0, now));
        if next > now {
            let delay = BACKOFF_START
                .saturating_mul(1 << restarts.saturating_sub(1).min(5))
                .min(BACKOFF_MAX);
            if state
                .waiting
                .get(&name)
                .is_none_or(|(r, _)| r != "CrashLoopBackOff")
            {
                kubelet.events.warning(
                    pod,
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {name} in pod {}_{}({})",
                        pod.metadata.name.as_deref().unwrap_or(""),
                        pod.metadata.namespace.as_deref().unwrap_or(""),
                        pod.metadata.uid.as_deref().unwrap_or(""),
                    ),
                );
            }
            state.waiting.insert(
                name.clone(),
                (
                    "CrashLoopBackOff".into(),
                    format!(
                        "back-off {}s restarting failed container={name} pod={}_{}({})",
                        delay.as_secs(),
                        pod.metadata.name.as_deref().unwrap_or(""),
                        pod.metadata.namespace.as_deref().unwrap_or(""),
                        pod.metadata.uid.as_deref().unwrap_or(""),
                    ),
                ),
            );
            return Ok(());
        }
        let delay = BACKOFF_START
            .saturating_mul(1 << restarts.min(5))
            .min(BACKOFF_MAX);
        state
            .backoff
            .insert(name.clone(), (restarts + 1, now + delay));
    }
    let image = container.image.clone().unwrap_or_default();
    let policy = container
        .image_pull_policy
        .as_deref()
        .unwrap_or("IfNotPresent");
    let present = kubelet.cri.has_image(&image).await?;
    if !present || policy == "Always" {
        if policy == "Never" {
            let message =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            kubelet
                .events
                .warning(pod, "ErrImageNeverPull", message.clone());
            state
                .waiting
                .insert(name, ("ErrImageNeverPull".into(), message));
            return Ok(());
        }
        if let Some((_, next)) = state.pull_backoff.get(&image)
            && *next > now
        {
            let message = format!("Back-off pulling image \"{image}\"");
            if state
                .waiting
                .get(&name)
                .is_none_or(|(r, _)| r != "ImagePullBackOff")
            {
                kubelet.events.normal(pod, "BackOff", message.clone());
            }
            state
                .waiting
                .insert(name, ("ImagePullBackOff".into(), message));
            return Ok(());
        }
        kubelet
            .events
            .normal(pod, "Pulling", format!("Pulling image \"{image}\""));
        let pulling = Instant::now();
        let pulled = kubelet
            .cri
            .images
            .clone()
            .pull_image(PullImageRequest {
                image: Some(ImageSpec {
                    image: image.clone(),
                    ..Default::default()
                }),
                sandbox_config: Some(ctx.sandbox_config.clone()),
                ..Default::default()
            })
            .await;
        if let Err(error) = pulled {
            let failures = state.pull_backoff.get(&image).map_or(0, |(n, _)| *n);
            let delay = BACKOFF_START
                .saturating_mul(1 << failures.min(5))
                .min(BACKOFF_MAX);
            state
                .pull_backoff
                .insert(image.clone(), (failures + 1, now + delay));
            let message = format!("failed to pull image \"{image}\": {}", error.message());
            kubelet.events.warning(
                pod,
                "Failed",
                format!("Failed to pull image \"{image}\": {}", error.message()),
            );
            state.waiting.insert(name, ("ErrImagePull".into(), message));
            return Ok(());
        }
        state.pull_backoff.remove(&image);
        kubelet.events.normal(
            pod,
            "Pulled",
            format!(
                "Successfully pulled image \"{image}\" in {:.3}s",
                pulling.elapsed().as_secs_f64()
            ),
        );
    } else {
        kubelet.events.normal(
            pod,
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
        );
    }
    let attempt = previous.map_or(0, |p| p.attempt + 1);
    let config_error = |state: &mut PodState, message: String| {
        kubelet
            .events
            .warning(pod, "Failed", format!("Error: {message}"));
        state
            .waiting
            .insert(name.clone(), ("CreateContainerConfigError".into(), message));
    };
    let envs = match env::resolve(&kubelet.client, pod, container, ctx.ip, &kubelet.address).await {
        Ok(vars) => vars
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
        Err(message) => {
            config_error(state, message);
            return Ok(());
        }
    };
    let mounts = match volumes::mounts(container, ctx.volumes) {
        Ok(mounts) => mounts,
        Err(message) => {
            config_error(state, message);
            return Ok(());
        }
    };
    let config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.clone(),
            attempt,
        }),
        image: Some(ImageSpec {
            image: image.clone(),
            ..Default::default()
        }),
        command: container.command.clone().unwrap_or_default(),
        args: container.args.clone().unwrap_or_default(),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs,
        mounts,
        labels: [
            (CONTAINER_NAME.to_string(), name.clone()),
            (
                POD_UID.to_string(),
                pod.metadata.uid.clone().unwrap_or_default(),
            ),
        ]
        .into(),
        log_path: format!("{name}/{attempt}.log"),
        linux: Some(LinuxContainerConfig {
            resources: Some(resources::linux(pod, container, kubelet.memory)),
            security_context: None,
        }),
        ..Default::default()
    };
    let mut runtime = kubelet.cri.runtime.clone();
    let created = runtime
        .create_container(CreateContainerRequest {
            pod_sandbox_id: ctx.sandbox.to_string(),
            config: Some(config),
            sandbox_config: Some(ctx.sandbox_config.clone()),
        })
        .await;
    let id = match created {
        Ok(reply) => {
            kubelet
                .events
                .normal(pod, "Created", format!("Created container: {name}"));
            reply.into_inner().container_id
        }
        Err(error) => {
            state.waiting.insert(
                name,
                ("CreateContainerError".into(), error.message().to_string()),
            );
            return Ok(());
        }
    };
    if let Err(error) = runtime
        .start_container(StartContainerRequest {
            container_id: id.clone(),
        })
        .await
    {
        state.waiting.insert(
            name,
            ("RunContainerError".into(), error.message().to_string()),
        );
        return Ok(());
    }
    state.waiting.remove(&name);
    kubelet
        .events
        .normal(pod, "Started", format!("Started container {name}"));
    let grace = pod_grace(pod);
    if let Some(hook) = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.post_start.as_ref())
        && let Err(why) = hooks::run(&kubelet.cri, hook, &id, ctx.ip, HOOK_LIMIT).await
    {
        kubelet.events.warning(
            pod,
            "FailedPostStartHook",
            format!("PostStartHook failed: {why}"),
        );
        kubelet.events.normal(
            pod,
            "Killing",
            format!("FailedPostStartHook: stopping container {name}"),
        );
        runtime
            .stop_container(StopContainerRequest {
                container_id: id.clone(),
                timeout: grace,
            })
            .await?;
    }
    if attempt > 1 {
        remove_dead_attempts(&kubelet.cri, ctx.sandbox, &name, attempt - 1).await?;
    }
    tracing::info!(pod = ?pod.metadata.name, container = name, attempt, "container started");
    Ok(())
}

/// Removes a container's attempts before `keep_from`: upstream's garbage collection keeps the
/// running attempt and the one before it (for `kubectl logs --previous`).
async fn remove_dead_attempts(
    cri: &Cri,
    sandbox: &str,
    name: &str,
    keep_from: u32,
) -> Result<(), tonic::Status> {
    let mut runtime = cri.runtime.clone();
    let list = runtime
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: sandbox.to_string(),
                label_selector: [(CONTAINER_NAME.to_string(), name.to_string())].into(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    for c in list {
        let attempt = c.metadata.as_ref().map_or(0, |m| m.attempt);
        if attempt < keep_from && c.state == ContainerState::ContainerExited as i32 {
            runtime
                .remove_container(RemoveContainerRequest { container_id: c.id })
                .await?;
        }
    }
    Ok(())
}

/// Runs the probes that are due on the running containers; a container failing its liveness
/// probe is stopped within the pod's grace period (and restarted as its restartPolicy says).
async fn run_probes(
    kubelet: &Kubelet,
    pod: &Pod,
    observed: &HashMap<String, Observed>,
    state: &mut PodState,
    ip: &str,
) -> Result<(), SyncError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let now = Instant::now();
    let wall_now = jiff::Timestamp::now().as_nanosecond() as i64;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    for container in spec.containers.iter().chain(sidecars) {
        let Some(o) = observed
            .get(&container.name)
            .filter(|o| o.state == ContainerState::ContainerRunning as i32)
        else {
            continue;
        };
        let running_for = Duration::from_nanos((wall_now - o.started_at).max(0) as u64);
        let mut verdict = async |kind: probes::Kind, probe: &k8s_openapi::api::core::v1::Probe| {
            let entry = state
                .probes
                .entry((container.name.clone(), kind))
                .or_insert_with(|| probes::State::new(kind, &o.id));
            if entry.container_id != o.id {
                *entry = probes::State::new(kind, &o.id);
            }
            if entry.due(probe, running_for, now) {
                let result = probes::run(&kubelet.cri, probe, &o.id, ip).await;
                if let Err(why) = &result {
                    kubelet.events.warning(
                        pod,
                        "Unhealthy",
                        format!("{kind:?} probe failed: {why}"),
                    );
                }
                entry.record(probe, result.is_ok(), now);
            }
            entry.passing
        };
        if let Some(probe) = &container.startup_probe
            && !verdict(probes::Kind::Startup, probe).await
        {
            continue;
        }
        if let Some(probe) = &container.readiness_probe {
            verdict(probes::Kind::Readiness, probe).await;
        }
        if let Some(probe) = &container.liveness_probe
            && !verdict(probes::Kind::Liveness, probe).await
        {
            tracing::info!(pod = ?pod.metadata.name, container = container.name, "liveness probe failed; restarting the container");
            kubelet.events.normal(
                pod,
                "Killing",
                format!(
                    "Container {} failed liveness probe, will be restarted",
                    container.name
                ),
            );
            state
                .probes
                .remove(&(container.name.clone(), probes::Kind::Liveness));
            stop_container(
                kubelet,
                Some(pod),
                &container.name,
                &o.id,
                ip,
                pod_grace(pod),
            )
            .await?;
        }
    }
    Ok(())
}

/// The pod's status from what the runtime shows.
fn pod_status(
    kubelet: &Kubelet,
    pod: &Pod,
    observed: &HashMap<String, Observed>,
    state: &PodState,
    ip: &str,
    failed_init: bool,
) -> Value {
    let spec = pod.spec.clone().unwrap_or_default();
    let restart_policy = spec
        .restart_policy
        .clone()
        .unwrap_or_else(|| "Always".into());
    let restarts = |name: &str| observed.get(name).map_or(0, |o| o.attempt);
    // A container passes a probe it does not have; otherwise its current run must.
    let passing = |c: &Container, kind: probes::Kind| {
        let has = match kind {
            probes::Kind::Startup => c.startup_probe.is_some(),
            probes::Kind::Readiness => c.readiness_probe.is_some(),
            probes::Kind::Liveness => c.liveness_probe.is_some(),
        };
        !has || state.probes.get(&(c.name.clone(), kind)).is_some_and(|s| {
            s.passing
                && observed
                    .get(&c.name)
                    .is_some_and(|o| o.id == s.container_id)
        })
    };
    let has_init = spec.init_containers.as_ref().is_some_and(|i| !i.is_empty());
    let status_of = |c: &Container| -> Value {
        let o = observed.get(&c.name);
        let image = c.image.clone().unwrap_or_default();
        let waiting = state.waiting.get(&c.name);
        let state_json = match (o, waiting) {
            (_, Some((reason, message))) => {
                json!({"waiting": {"reason": reason, "message": message}})
            }
            (Some(o), _) if o.state == ContainerState::ContainerRunning as i32 => {
                json!({"running": {"startedAt": nanos_to_rfc3339(o.started_at)}})
            }
            (Some(o), _) if o.state == ContainerState::ContainerExited as i32 => json!({
                "terminated": {
                    "exitCode": o.exit_code,
                    "reason": if o.reason.is_empty() {
                        if o.exit_code == 0 { "Completed".to_string() } else { "Error".to_string() }
                    } else { o.reason.clone() },
                    "message": (!o.message.is_empty()).then(|| o.message.clone()),
                    "startedAt": nanos_to_rfc3339(o.started_at),
                    "finishedAt": nanos_to_rfc3339(o.finished_at),
                    "containerID": format!("containerd://{}", o.id),
                }
            }),
            // Upstream's default: a pod with init containers is initializing until each of
            // its containers exists.
            _ if has_init => json!({"waiting": {"reason": "PodInitializing"}}),
            _ => json!({"waiting": {"reason": "ContainerCreating"}}),
        };
        let running = o.is_some_and(|o| o.state == ContainerState::ContainerRunning as i32);
        // Waiting to restart: the exit it waits after is the last state.
        let last_state = match (o, waiting) {
            (Some(o), Some(_)) if o.state == ContainerState::ContainerExited as i32 => json!({
                "terminated": {
                    "exitCode": o.exit_code,
                    "reason": if o.exit_code == 0 { "Completed" } else { "Error" },
                    "startedAt": nanos_to_rfc3339(o.started_at),
                    "finishedAt": nanos_to_rfc3339(o.finished_at),
                    "containerID": format!("containerd://{}", o.id),
                }
            }),
            _ => json!({}),
        };
        json!({
            "lastState": last_state,
            "name": c.name,
            "image": if image.is_empty() { o.map(|o| o.image.clone()).unwrap_or_default() } else { image },
            "imageID": o.map(|o| o.image_ref.clone()).unwrap_or_default(),
            "containerID": o.map(|o| format!("containerd://{}", o.id)),
            "state": state_json,
            "ready": running && waiting.is_none() && passing(c, probes::Kind::Startup)
                && passing(c, probes::Kind::Readiness),
            "started": running && passing(c, probes::Kind::Startup),
            "restartCount": restarts(&c.name),
        })
    };
    let init_statuses: Vec<Value> = spec
        .init_containers
        .iter()
        .flatten()
        .map(status_of)
        .collect();
    let statuses: Vec<Value> = spec.containers.iter().map(status_of).collect();
    let exited = |c: &Container| {
        observed
            .get(&c.name)
            .is_some_and(|o| o.state == ContainerState::ContainerExited as i32)
    };
    let exit_code = |c: &Container| observed.get(&c.name).map_or(0, |o| o.exit_code);
    let all_exited = spec.containers.iter().all(exited);
    let phase = if failed_init {
        "Failed"
    } else if all_exited && restart_policy != "Always" {
        let failed = spec.containers.iter().any(|c| exit_code(c) != 0);
        if failed && restart_policy == "Never" {
            "Failed"
        } else if !failed {
            "Succeeded"
        } else {
            "Running"
        }
    } else if spec
        .containers
        .iter()
        .any(|c| observed.contains_key(&c.name))
    {
        "Running"
    } else {
        "Pending"
    };
    let initialized = spec.init_containers.iter().flatten().all(|c| {
        if is_sidecar(c) {
            observed.contains_key(&c.name)
        } else {
            exited(c) && exit_code(c) == 0
        }
    });
    let sidecars_ready = spec
        .init_containers
        .iter()
        .flatten()
        .zip(&init_statuses)
        .all(|(c, s)| !is_sidecar(c) || s["ready"] == true);
    let ready = statuses.iter().all(|s| s["ready"] == true) && sidecars_ready && phase == "Running";
    let condition = |kind: &str, ok: bool| {
        let previous = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == kind));
        let status = if ok { "True" } else { "False" };
        let since = previous
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_else(component::now);
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since})
    };
    let start_time = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_else(component::now);
    let mut status = json!({
        "phase": phase,
        "hostIP": kubelet.address,
        "hostIPs": [{"ip": kubelet.address}],
        "startTime": start_time,
        "conditions": [
            condition("PodReadyToStartContainers", !ip.is_empty() || spec.host_network == Some(true)),
            condition("Initialized", initialized),
            condition("Ready", ready),
            condition("ContainersReady", ready),
            condition("PodScheduled", true),
        ],
        "containerStatuses": statuses,
    });
    let ip = if spec.host_network == Some(true) {
        kubelet.address.as_str()
    } else {
        ip
    };
    if !ip.is_empty() {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    status
}

/// Whether an init container is a sidecar: one that keeps running (`restartPolicy: Always`).
fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// A pod's grace period (`terminationGracePeriodSeconds`, 30 s by default).
fn pod_grace(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
}

/// Stops a running container within `grace` seconds: its preStop hook first, then SIGTERM
/// and, when the rest of the grace period is over, SIGKILL (the runtime's StopContainer).
async fn stop_container(
    kubelet: &Kubelet,
    pod: Option<&Pod>,
    name: &str,
    id: &str,
    ip: &str,
    grace: i64,
) -> Result<(), tonic::Status> {
    let started = Instant::now();
    let spec = pod.and_then(|p| p.spec.as_ref());
    let hook = spec
        .into_iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .find(|c| c.name == name)
        .and_then(|c| c.lifecycle.as_ref())
        .and_then(|l| l.pre_stop.as_ref());
    if let (Some(hook), Some(pod)) = (hook, pod)
        && grace > 0
    {
        let limit = Duration::from_secs(grace as u64);
        if let Err(why) = hooks::run(&kubelet.cri, hook, id, ip, limit).await {
            kubelet.events.warning(
                pod,
                "FailedPreStopHook",
                format!("PreStopHook failed: {why}"),
            );
        }
    }
    if let Some(pod) = pod {
        kubelet
            .events
            .normal(pod, "Killing", format!("Stopping container {name}"));
    }
    // Upstream leaves at least 2 s for SIGTERM after a hook that took the whole period.
    let left = if grace > 0 {
        (grace - started.elapsed().as_secs() as i64).max(2)
    } else {
        0
    };
    kubelet
        .cri
        .runtime
        .clone()
        .stop_container(StopContainerRequest {
            container_id: id.to_string(),
            timeout: left,
        })
        .await?;
    Ok(())
}

/// Stops (all at once, each within `grace` seconds, preStop hooks first) and removes a pod's
/// containers and sandboxes, then removes its directory (logs, emptyDir and configMap/secret
/// volumes). `pod` is `None` for a pod the API no longer has.
async fn teardown(
    kubelet: &Kubelet,
    pod: Option<&Pod>,
    uid: &str,
    grace: i64,
) -> Result<(), SyncError> {
    let cri = &kubelet.cri;
    let mut runtime = cri.runtime.clone();
    for sandbox in sandboxes(cri, uid, false).await? {
        let ip = sandbox_ip(cri, &sandbox).await.unwrap_or_default();
        let observed = containers(cri, &sandbox).await?;
        let stops = observed
            .iter()
            .filter(|(_, c)| c.state == ContainerState::ContainerRunning as i32)
            .map(|(name, c)| stop_container(kubelet, pod, name, &c.id, &ip, grace));
        for stopped in futures::future::join_all(stops).await {
            stopped?;
        }
        for (_, c) in observed {
            runtime
                .remove_container(RemoveContainerRequest { container_id: c.id })
                .await?;
        }
        runtime
            .stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: sandbox.clone(),
            })
            .await?;
        runtime
            .remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: sandbox,
            })
            .await?;
    }
    // `<namespace>_<name>_<uid>`
    let suffix = format!("_{uid}");
    for entry in std::fs::read_dir(&kubelet.pods_dir)
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().ends_with(&suffix)
            && let Err(error) = std::fs::remove_dir_all(entry.path())
        {
            tracing::warn!(%error, dir = %entry.path().display(), "could not remove a pod's directory");
        }
    }
    Ok(())
}

/// A pod being deleted: its containers stop within its grace period, then the pod is gone.
async fn finish_deletion(kubelet: &Kubelet, pod: &Pod) -> Result<(), SyncError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30);
    teardown(kubelet, Some(pod), &uid, grace).await?;
    resources::remove_cgroup(pod);
    Ok(component::kubelet::confirm_pod_deleted(kubelet.client.clone(), pod).await?)
}
