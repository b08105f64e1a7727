//! What kubectl reaches through the API server and the kubelet: `logs` (follow, tail,
//! previous), `exec` (with stdin, with a terminal), `cp` and `port-forward`, on real containers.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::Stdio,
    time::Duration,
};

use testkit::{Cluster, eventually, free_port};

use crate::node_agent::{cluster, field};

const TALKER: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: talker
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
  - name: web
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo served by httpd > /www/index.html && exec httpd -f -p 8080 -h /www"]
"#;

fn running(cluster: &Cluster, pod: &str) -> bool {
    eventually(Duration::from_secs(60), || {
        field(cluster, pod, ".status.phase") == "Running"
    })
}

#[test]
fn logs_exec_cp_and_port_forward_reach_the_containers() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    cluster.kubectl_stdin(&["apply", "-f", "-"], TALKER).ok();
    assert!(running(&cluster, "talker"), "{}", node.log());

    // logs: whole, tail, follow.
    assert!(eventually(Duration::from_secs(10), || {
        cluster
            .kubectl(&["logs", "talker", "-c", "talker"])
            .stdout
            .contains("tick 2")
    }));
    let all = cluster
        .kubectl(&["logs", "talker", "-c", "talker"])
        .ok()
        .to_string();
    assert!(all.starts_with("started\ntick 0\n"), "{all}");
    let tail = cluster
        .kubectl(&["logs", "talker", "-c", "talker", "--tail=1"])
        .ok()
        .to_string();
    assert_eq!(tail.lines().count(), 1, "{tail}");
    assert!(tail.starts_with("tick "), "{tail}");
    let stamped = cluster
        .kubectl(&["logs", "talker", "-c", "talker", "--tail=1", "--timestamps"])
        .ok()
        .to_string();
    assert!(stamped.contains("Z tick "), "{stamped}");
    let mut follow = cluster
        .kubectl_cmd("1.33")
        .args(["logs", "-f", "talker", "-c", "talker", "--tail=1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let first: u64 = number(&lines.next().unwrap().unwrap());
    let later: u64 = number(&lines.nth(4).unwrap().unwrap());
    assert_eq!(
        later,
        first + 5,
        "follow streams each new line as it is written"
    );
    let _ = follow.kill();
    let _ = follow.wait();

    // Validation in the API server, and the kubelet's answer for a missing previous container.
    let wrong = cluster.kubectl(&["logs", "talker", "-c", "nope"]);
    assert!(
        wrong
            .fails()
            .contains("container nope is not valid for pod talker"),
        "{}",
        wrong.stderr
    );
    let previous = cluster.kubectl(&["logs", "talker", "-c", "talker", "--previous"]);
    assert!(
        previous
            .fails()
            .contains("previous terminated container \"talker\" in pod \"talker\" not found"),
        "{}",
        previous.stderr
    );

    // exec: a command, stdin, the exit code, a terminal.
    let out = cluster
        .kubectl(&[
            "exec",
            "talker",
            "-c",
            "talker",
            "--",
            "sh",
            "-c",
            "echo $((6*7))",
        ])
        .ok()
        .to_string();
    assert_eq!(out, "42\n");
    let piped = cluster.kubectl_stdin(
        &["exec", "-i", "talker", "-c", "talker", "--", "sh"],
        "echo from stdin; exit 3\n",
    );
    assert_eq!(piped.stdout, "from stdin\n", "{}", piped.stderr);
    assert!(!piped.success, "the command's exit code 3 is kubectl's");
    let kubectl = cluster.kubectl_cmd("1.33");
    let line = format!(
        "{} exec -it talker -c talker -- sh -c 'tty; echo cols=$(stty size)'",
        shell_words(&kubectl)
    );
    let tty = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .envs(kubectl.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .unwrap();
    let tty = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.contains("/dev/pts/"), "exec -it gets a terminal: {tty}");

    // cp both ways (tar through exec, stdin closed at the end of the archive).
    let local = cluster.file("note.txt", "copied in\n");
    cluster
        .kubectl(&[
            "cp",
            local.to_str().unwrap(),
            "talker:/tmp/note.txt",
            "-c",
            "talker",
        ])
        .ok();
    let back = cluster.data_dir().join("back.txt");
    cluster
        .kubectl(&[
            "cp",
            "talker:/tmp/note.txt",
            back.to_str().unwrap(),
            "-c",
            "talker",
        ])
        .ok();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");

    // port-forward to the busybox httpd.
    let port = free_port();
    let mut forward = cluster
        .kubectl_cmd("1.33")
        .args(["port-forward", "pod/talker", &format!("{port}:8080")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = BufReader::new(forward.stdout.take().unwrap());
    let mut banner = String::new();
    ready.read_line(&mut banner).unwrap();
    assert!(banner.contains("Forwarding from"), "{banner}");
    let mut http = TcpStream::connect(("127.0.0.1", port)).unwrap();
    http.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    http.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).unwrap();
    let _ = forward.kill();
    let _ = forward.wait();
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains("served by httpd"),
        "{answer}"
    );
}

#[test]
fn logs_of_the_previous_attempt_of_a_crashing_container() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - name: crasher
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo attempt at $(cat /proc/uptime); exit 1"]
"#,
        )
        .ok();
    assert!(
        eventually(Duration::from_secs(60), || {
            field(
                &cluster,
                "crasher",
                ".status.containerStatuses[0].restartCount",
            )
            .parse::<u32>()
            .is_ok_and(|n| n >= 1)
        }),
        "{}",
        node.log()
    );
    let previous = cluster
        .kubectl(&["logs", "crasher", "--previous"])
        .ok()
        .to_string();
    assert!(previous.starts_with("attempt at "), "{previous}");
    // The pod has one container: kubectl needs no -c, and exec into a stopped one is refused.
    let exec = cluster.kubectl(&["exec", "crasher", "--", "true"]);
    assert!(exec.fails().contains("not running"), "{}", exec.stderr);
}

fn number(line: &str) -> u64 {
    line.trim_start_matches("tick ")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a tick line: {line:?}"))
}

/// The command line of `cmd` for a shell.
fn shell_words(cmd: &std::process::Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn top_reports_the_usage_of_pods_and_nodes() {
    let cluster = cluster();
    let node = cluster.node().unwrap();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Pod
metadata: {name: burner, labels: {app: burner}}
spec:
  containers:
  - name: burn
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do :; done"]
    resources:
      limits: {cpu: 500m, memory: 64Mi}
"#,
        )
        .ok();
    assert!(running(&cluster, "burner"), "{}", node.log());
    let top = cluster
        .kubectl(&["top", "pod", "-l", "app=burner", "--no-headers"])
        .ok()
        .to_string();
    let fields: Vec<&str> = top.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&"burner"), "{top}");
    let millicores: u64 = fields[1].trim_end_matches('m').parse().unwrap();
    assert!(
        (20..=600).contains(&millicores),
        "a busy loop under a 500m quota uses {millicores}m"
    );
    assert!(fields[2].ends_with("Mi"), "{top}");
    let containers = cluster
        .kubectl(&["top", "pod", "burner", "--containers", "--no-headers"])
        .ok()
        .to_string();
    assert!(
        containers.starts_with("burner") && containers.contains(" burn "),
        "{containers}"
    );
    let nodes = cluster
        .kubectl(&["top", "node", "--no-headers"])
        .ok()
        .to_string();
    assert!(nodes.starts_with(&node.name), "{nodes}");
    assert!(nodes.contains('%') && nodes.contains("Mi"), "{nodes}");
}
