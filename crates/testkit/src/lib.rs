//! Test harness: starts the real `rudder` binary on a free port with its own data directory
//! and drives it with the machine's real kubectl.
//!
//! Every cluster owns a temporary directory (data, kubeconfig, kubectl's cache), so tests can
//! run in parallel without colliding.

use std::{
    io::Write,
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// Where the machine's kubectl binaries live (`kubectl.1.27` … `kubectl.1.33`).
pub const KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

/// The kubectl of a given minor version, e.g. `kubectl("1.27")`.
pub fn kubectl_path(version: &str) -> PathBuf {
    let versioned = Path::new(KUBECTL_DIR).join(format!("kubectl.{version}"));
    if versioned.exists() {
        versioned
    } else {
        PathBuf::from("kubectl")
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port")
}

/// A running `rudder server` for a test.
pub struct Cluster {
    /// The binary.
    pub binary: PathBuf,
    /// The temporary directory holding everything of this cluster.
    pub dir: tempfile::TempDir,
    /// The API server port.
    pub port: u16,
    /// Extra flags passed to `rudder server`.
    pub flags: Vec<String>,
    child: Option<Child>,
}

impl Cluster {
    /// Starts a control-plane-only server with the durable store.
    pub fn start(binary: &Path) -> Result<Cluster> {
        Cluster::start_with(binary, &[])
    }

    /// Starts a server with extra flags.
    pub fn start_with(binary: &Path, flags: &[&str]) -> Result<Cluster> {
        let mut cluster = Cluster {
            binary: binary.to_path_buf(),
            dir: tempfile::Builder::new().prefix("rudder-test-").tempdir()?,
            port: free_port(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        cluster.boot()?;
        Ok(cluster)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig.yaml")
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Starts the server process and waits until it answers.
    pub fn boot(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))?;
        let child = Command::new(&self.binary)
            .arg("server")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args([
                "--bind-address",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--disable-agent",
            ])
            .args(&self.flags)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("rudder server exited with {status}: {}", self.log());
            }
            if self.kubeconfig().exists() && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("rudder server did not come up: {}", self.log())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Starts `rudder <args>` against this cluster (its kubeconfig is passed with
    /// `--kubeconfig` after the subcommand); the process lives as long as the guard.
    pub fn spawn(&self, args: &[&str]) -> Result<Process> {
        let (subcommand, rest) = args.split_first().context("a subcommand")?;
        let log_path = self
            .dir
            .path()
            .join(format!("{subcommand}-{}.log", free_port()));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&self.binary)
            .arg(subcommand)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(rest)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting rudder {subcommand}"))?;
        Ok(Process { child, log_path })
    }

    /// Starts `rudder simulate-nodes` against this cluster with `args` (e.g. `["--count",
    /// "3"]`) and waits until its nodes are registered; the nodes live as long as the guard.
    pub fn simulate_nodes(&self, args: &[&str]) -> Result<Process> {
        let flag = |name: &str| {
            args.iter()
                .position(|a| *a == name)
                .and_then(|i| args.get(i + 1))
                .copied()
        };
        let count: usize = flag("--count").and_then(|c| c.parse().ok()).unwrap_or(1);
        let prefix = flag("--prefix").unwrap_or("sim-node");
        let mut all = vec!["simulate-nodes"];
        all.extend_from_slice(args);
        let sim = self.spawn(&all)?;
        let last = format!("{prefix}-{}", count.saturating_sub(1));
        let ready = eventually(Duration::from_secs(30), || {
            self.kubectl(&["get", "lease", "-n", "kube-node-lease", &last])
                .success
        });
        if !ready {
            bail!("simulated node {last} did not register: {}", sim.log());
        }
        Ok(sim)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same data directory and port.
    pub fn restart(&mut self) -> Result<()> {
        self.kill9();
        self.boot()
    }

    /// A kubectl command of the given version against this cluster, with its own cache dir.
    pub fn kubectl_cmd(&self, version: &str) -> Command {
        let mut cmd = Command::new(kubectl_path(version));
        cmd.env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .arg("--cache-dir")
            .arg(self.dir.path().join(format!("kube-cache-{version}")));
        cmd
    }

    /// Runs kubectl 1.33 with `args`.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_v("1.33", args)
    }

    /// Runs kubectl of `version` with `args`.
    pub fn kubectl_v(&self, version: &str, args: &[&str]) -> Run {
        let output = self
            .kubectl_cmd(version)
            .args(args)
            .output()
            .expect("running kubectl");
        Run::new(format!("kubectl.{version} {}", args.join(" ")), output)
    }

    /// Runs kubectl 1.33 with `args`, feeding `stdin`.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .kubectl_cmd("1.33")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("writing kubectl's stdin");
        let output = child.wait_with_output().expect("waiting for kubectl");
        Run::new(format!("kubectl {} < stdin", args.join(" ")), output)
    }

    /// Writes a file in the cluster's directory and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("writing a test file");
        path
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("--- rudder server log ---\n{}", self.log());
        }
    }
}

/// The command of the test image tagged `nginx:latest`: busybox's httpd serving a welcome
/// page on port 80 from nginx's document root.
pub const NGINX: &str = "mkdir -p /usr/share/nginx/html && echo '<h1>Welcome to nginx!</h1>' > /usr/share/nginx/html/index.html && exec httpd -f -p 80 -h /usr/share/nginx/html";

/// A real node for a test: `rudder agent` with containerd, its own agent dir and bridge, the
/// test images imported (busybox from the host's busybox-static, also tagged `nginx`), and a
/// registry on loopback (Debian's docker-registry) that mirrors docker.io for the agent and
/// holds the same images, so that pulls of `busybox` or `nginx:latest` are real pulls that
/// never leave the machine.
/// Dropping it kills the pods' containers, then the agent and its containerd.
pub struct Node {
    /// The node's name.
    pub name: String,
    /// The agent's directory.
    pub agent_dir: PathBuf,
    /// The loopback registry's `host:port`.
    pub registry: String,
    bridge: String,
    args: Vec<String>,
    process: Process,
    _registry: Process,
}

impl Node {
    /// Kills the agent (SIGKILL, as a crash: its containerd and containers stay) and starts it
    /// again with the same flags.
    pub fn restart(&mut self, cluster: &Cluster) -> Result<()> {
        self.process.stop();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.process = cluster.spawn(&args)?;
        Ok(())
    }

    /// What the agent logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Pushes the runtime's image `local` (e.g. `docker.io/library/busybox:latest`) to the
    /// loopback registry as `name` (e.g. `library/app:v1`, pulled as `app:v1`).
    pub fn push(&self, local: &str, name: &str) -> Result<()> {
        let remote = format!("{}/{name}", self.registry);
        self.ctr(&["images", "tag", "--force", local, &remote])
            .context("ctr images tag")?;
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.agent_dir.join("containerd/containerd.sock"))
            .args([
                "--namespace",
                "k8s.io",
                "images",
                "push",
                "--plain-http",
                &remote,
            ])
            .output()?;
        if !out.status.success() {
            bail!("pushing {remote}: {}", String::from_utf8_lossy(&out.stderr));
        }
        self.ctr(&["images", "rm", &remote]);
        Ok(())
    }

    fn ctr(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.agent_dir.join("containerd/containerd.sock"))
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for task in self
            .ctr(&["tasks", "ls", "--quiet"])
            .unwrap_or_default()
            .lines()
        {
            let _ = self.ctr(&["tasks", "delete", "--force", task]);
        }
        // SIGINT lets the agent stop its containerd.
        let _ = Command::new("kill")
            .args(["-INT", &self.process.child.id().to_string()])
            .status();
        let _ = eventually(Duration::from_secs(5), || {
            self.process.child.try_wait().ok().flatten().is_some()
        });
        // A containerd the agent adopted after a restart is not its child: stop it too.
        let config = self.agent_dir.join("containerd/config.toml");
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!("containerd --config {}", config.display()))
            .status();
        // The sandboxes' shm and the containers' rootfs stay mounted once containerd is gone.
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.agent_dir))
            .map(str::to_string)
            .collect();
        mounts.sort_by(|a, b| b.cmp(a));
        for mount in mounts {
            let _ = Command::new("umount").args(["-l", &mount]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .status();
    }
}

impl Cluster {
    /// Starts a server whose pod network is its own: a /16 out of 10.128.0.0/9 chosen by the
    /// API port, so that the agents of tests running in parallel never share routes.
    pub fn start_for_nodes(binary: &Path) -> Result<Cluster> {
        let port = free_port();
        let cidr = format!("10.{}.0.0/16", 128 + port % 128);
        let mut cluster = Cluster {
            binary: binary.to_path_buf(),
            dir: tempfile::Builder::new().prefix("rudder-test-").tempdir()?,
            port,
            flags: vec!["--cluster-cidr".into(), cidr],
            child: None,
        };
        cluster.boot()?;
        Ok(cluster)
    }

    /// The `--cluster-cidr` the server was started with (upstream's default if none).
    fn cluster_cidr(&self) -> String {
        self.flags
            .iter()
            .position(|f| f == "--cluster-cidr")
            .and_then(|i| self.flags.get(i + 1))
            .cloned()
            .unwrap_or_else(|| "10.42.0.0/16".into())
    }

    /// Starts a real node agent for this cluster and waits until its node is Ready.
    pub fn node(&self) -> Result<Node> {
        self.node_with(&[])
    }

    /// Starts a real node agent that joins with the server's node token (`--server URL
    /// --token T`) instead of the admin kubeconfig, and waits until its node is Ready.
    pub fn node_joined(&self) -> Result<Node> {
        let token = std::fs::read_to_string(self.data_dir().join("node-token"))?;
        self.node_with(&["--server", &self.url(), "--token", token.trim()])
    }

    fn node_with(&self, extra: &[&str]) -> Result<Node> {
        let name = format!("node-{}", self.port);
        let agent_dir = self.dir.path().join("agent");
        let images = agent_dir.join("images");
        std::fs::create_dir_all(&images)?;
        // busybox, and an `nginx` that serves a page on port 80 with busybox's httpd.
        for (file, tag, cmd) in [
            ("busybox.tar", "busybox:latest", None),
            ("nginx.tar", "nginx:latest", Some(NGINX)),
        ] {
            let mut build = Command::new(&self.binary);
            build
                .args(["image", "build-busybox", "--output"])
                .arg(images.join(file))
                .arg(tag);
            if let Some(cmd) = cmd {
                build.args(["--cmd", cmd]);
            }
            if !build.status()?.success() {
                bail!("building the {tag} test image failed");
            }
        }
        let bridge = format!("rd{}", self.port);
        let (registry, registry_process) = self.registry()?;
        let mirror = format!("docker.io=http://{registry}");
        let agent_dir_text = agent_dir.to_string_lossy().into_owned();
        let kubelet_port = free_port().to_string();
        let args: Vec<String> = [
            "agent",
            "--agent-dir",
            &agent_dir_text,
            "--node-name",
            &name,
            "--bridge",
            &bridge,
            "--kubelet-port",
            &kubelet_port,
            "--registry-mirror",
            &mirror,
            "--cluster-cidr",
            &self.cluster_cidr(),
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        let process = self.spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let node = Node {
            name: name.clone(),
            agent_dir,
            registry,
            bridge,
            args,
            process,
            _registry: registry_process,
        };
        let ready = eventually(Duration::from_secs(60), || {
            self.kubectl(&[
                "get",
                "node",
                &name,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ])
            .stdout
                == "True"
                && node.log().contains("node registered")
        });
        if !ready {
            bail!("node {name} did not become Ready: {}", node.log());
        }
        for image in ["busybox:latest", "nginx:latest"] {
            node.push(
                &format!("docker.io/library/{image}"),
                &format!("library/{image}"),
            )?;
        }
        Ok(node)
    }

    /// Starts a docker-registry on a free loopback port with its storage in the cluster's
    /// directory; returns its `host:port`.
    fn registry(&self) -> Result<(String, Process)> {
        let port = free_port();
        let dir = self.dir.path().join("registry");
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )?;
        let log_path = dir.join("registry.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting docker-registry (apt install docker-registry)")?;
        let process = Process { child, log_path };
        if !eventually(Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        }) {
            bail!("docker-registry did not listen: {}", process.log());
        }
        Ok((format!("127.0.0.1:{port}"), process))
    }
}

/// A `rudder` component process of a test (simulated nodes, a controller manager...);
/// stopping it (drop or `stop`) kills it, as a machine that lost power.
pub struct Process {
    child: Child,
    log_path: PathBuf,
}

impl Process {
    /// Kills the process (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The outcome of a kubectl run.
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Exit success.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn new(command: String, output: Output) -> Run {
        Run {
            command,
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert!(
            self.success,
            "{} failed:\nstdout: {}\nstderr: {}",
            self.command, self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts failure and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> &str {
        assert!(
            !self.success,
            "{} succeeded but should have failed:\nstdout: {}",
            self.command, self.stdout
        );
        &self.stderr
    }

    /// Parses stdout as JSON (after asserting success).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e}): {}",
                self.command, self.stdout
            )
        })
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}
