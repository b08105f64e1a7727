//! What kubectl get prints for each kind (server-side Tables): objects are created with
//! kubectl, their status set through the status subresource, and `kubectl get` (and `-o wide`)
//! must print exactly upstream's lines. No controller runs, so nothing changes the objects.

use std::{
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use testkit::Cluster;

/// Stands for the AGE of an object created during the test (`0s` … `119s`).
const AGE: &str = "<age>";
/// Stands for the CREATED AT of an object created during the test (RFC 3339, UTC).
const CREATED: &str = "<created>";

/// A cluster without controllers or scheduler, so objects keep the status a test gives them.
/// Without the service account controller, the test creates the `default` service account
/// that admission requires of pods.
fn cluster() -> Cluster {
    let c = Cluster::start_with(
        Path::new(env!("CARGO_BIN_EXE_rudder")),
        &[
            "--datastore",
            "memory",
            "--disable-controller-manager",
            "--disable-scheduler",
        ],
    )
    .expect("starting rudder");
    c.kubectl(&["create", "serviceaccount", "default"]).ok();
    c
}

/// The UTC time `seconds` ago in RFC 3339, for status timestamps.
fn ago(seconds: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let t = now - seconds;
    let (days, rem) = ((t / 86_400) as i64, t % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Cuts a table's lines into cells at the header's column offsets (kubectl aligns every
/// column with at least three spaces; headers contain single spaces only).
fn cut(lines: &[&str]) -> Vec<Vec<String>> {
    let header = lines[0];
    let mut starts = vec![0];
    let bytes = header.as_bytes();
    for i in 3..bytes.len() {
        if bytes[i] != b' ' && bytes[i - 1] == b' ' && bytes[i - 2] == b' ' {
            starts.push(i);
        }
    }
    lines
        .iter()
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(i, &start)| {
                    let end = starts.get(i + 1).copied().unwrap_or(line.len());
                    line.get(start.min(line.len())..end.min(line.len()))
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}

/// Lays rows out as kubectl's tabwriter does: every cell but a line's last padded to its
/// column's width plus three spaces, at least six.
fn layout(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter(|r| c + 1 < r.len())
                .map(|r| r[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(6)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            if c + 1 < row.len() {
                out.push_str(&format!("{cell:<width$}", width = widths[c]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

/// Whether a cell reads like the age of a fresh object.
fn is_fresh_age(cell: &str) -> bool {
    cell.strip_suffix('s')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Whether a cell reads like an RFC 3339 time in UTC to the second.
fn is_rfc3339(cell: &str) -> bool {
    cell.len() == 20
        && cell.chars().enumerate().all(|(i, ch)| match i {
            4 | 7 => ch == '-',
            10 => ch == 'T',
            13 | 16 => ch == ':',
            19 => ch == 'Z',
            _ => ch.is_ascii_digit(),
        })
}

/// Whether an actual cell is what a placeholder of the expected table stands for.
fn stands_for(placeholder: &str, actual: &str) -> bool {
    (placeholder == AGE && is_fresh_age(actual)) || (placeholder == CREATED && is_rfc3339(actual))
}

/// Asserts kubectl printed exactly these tables (header row first; tables separated by blank
/// lines as `kubectl get a,b` prints them), [`AGE`] and [`CREATED`] matching any fresh age or
/// creation time.
#[track_caller]
fn assert_tables(out: &str, want: &[&[&[&str]]]) {
    let blocks: Vec<Vec<&str>> = out
        .trim_end_matches('\n')
        .split("\n\n")
        .map(|b| b.lines().collect())
        .collect();
    assert_eq!(blocks.len(), want.len(), "tables:\n{out}");
    let mut expected = String::new();
    for (block, want) in blocks.iter().zip(want) {
        let got = cut(block);
        let rows: Vec<Vec<String>> = want
            .iter()
            .enumerate()
            .map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(|(c, cell)| {
                        let actual = got.get(r).and_then(|g| g.get(c));
                        match actual {
                            Some(a) if stands_for(cell, a) => a.clone(),
                            _ => cell.to_string(),
                        }
                    })
                    .collect()
            })
            .collect();
        if !expected.is_empty() {
            expected.push('\n');
        }
        expected.push_str(&layout(&rows));
    }
    assert_eq!(out, expected, "\ngot:\n{out}\nwant:\n{expected}");
}

/// Like [`assert_tables`], but the tables may come in any order (`kubectl get all` follows
/// discovery order, which is alphabetical per group upstream and registration order here).
#[track_caller]
fn assert_tables_any_order(out: &str, want: &[&[&[&str]]]) {
    let resource = |first_row: &str| first_row.split('/').next().unwrap_or("").to_string();
    let mut blocks: Vec<&str> = out.trim_end_matches('\n').split("\n\n").collect();
    let rank = |block: &&str| {
        let row = block.lines().nth(1).unwrap_or("");
        want.iter()
            .position(|w| w.get(1).is_some_and(|r| resource(r[0]) == resource(row)))
            .unwrap_or(usize::MAX)
    };
    blocks.sort_by_key(rank);
    assert_tables(&format!("{}\n", blocks.join("\n\n")), want);
}

/// Asserts kubectl printed exactly one table.
#[track_caller]
fn assert_table(out: &str, want: &[&[&str]]) {
    assert_tables(out, &[want]);
}

/// Sets an object's status through the status subresource.
fn set_status(c: &Cluster, resource: &str, status: &str) {
    c.kubectl(&[
        "patch",
        resource,
        "--subresource=status",
        "--type=merge",
        "-p",
        &format!(r#"{{"status":{status}}}"#),
    ])
    .ok();
}

/// Creates objects from YAML.
fn create(c: &Cluster, name: &str, yaml: &str) {
    let file = c.file(name, yaml);
    c.kubectl(&["create", "-f", &file.to_string_lossy()]).ok();
}

#[test]
fn nodes_print_status_roles_and_system_info() {
    let c = cluster();
    create(
        &c,
        "nodes.yaml",
        r#"
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels:
    node-role.kubernetes.io/worker: ""
    kubernetes.io/role: gpu
spec:
  unschedulable: true
---
apiVersion: v1
kind: Node
metadata:
  name: worker-2
  labels:
    node-role.kubernetes.io/control-plane: ""
---
apiVersion: v1
kind: Node
metadata:
  name: worker-3
"#,
    );
    set_status(
        &c,
        "node/worker-1",
        r#"{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}],
            "addresses":[{"type":"InternalIP","address":"10.0.0.11"},{"type":"ExternalIP","address":"203.0.113.7"}],
            "nodeInfo":{"kubeletVersion":"v1.33.1","osImage":"Debian GNU/Linux 12 (bookworm)",
              "kernelVersion":"6.1.0-18-amd64","containerRuntimeVersion":"containerd://1.7.13",
              "machineID":"","systemUUID":"","bootID":"","kubeProxyVersion":"","operatingSystem":"linux","architecture":"amd64"}}"#,
    );
    set_status(
        &c,
        "node/worker-2",
        r#"{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown"}],
            "addresses":[{"type":"InternalIP","address":"10.0.0.12"}],
            "nodeInfo":{"kubeletVersion":"v1.32.0","machineID":"","systemUUID":"","bootID":"","kubeProxyVersion":"",
              "operatingSystem":"linux","architecture":"amd64","osImage":"","kernelVersion":"","containerRuntimeVersion":""}}"#,
    );
    assert_table(
        c.kubectl(&["get", "nodes"]).ok(),
        &[
            &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            &[
                "worker-1",
                "Ready,SchedulingDisabled",
                "gpu,worker",
                AGE,
                "v1.33.1",
            ],
            &["worker-2", "NotReady", "control-plane", AGE, "v1.32.0"],
            &["worker-3", "Unknown", "<none>", AGE, ""],
        ],
    );
    assert_table(
        c.kubectl(&["get", "nodes", "-o", "wide"]).ok(),
        &[
            &[
                "NAME",
                "STATUS",
                "ROLES",
                "AGE",
                "VERSION",
                "INTERNAL-IP",
                "EXTERNAL-IP",
                "OS-IMAGE",
                "KERNEL-VERSION",
                "CONTAINER-RUNTIME",
            ],
            &[
                "worker-1",
                "Ready,SchedulingDisabled",
                "gpu,worker",
                AGE,
                "v1.33.1",
                "10.0.0.11",
                "203.0.113.7",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-18-amd64",
                "containerd://1.7.13",
            ],
            &[
                "worker-2",
                "NotReady",
                "control-plane",
                AGE,
                "v1.32.0",
                "10.0.0.12",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>",
            ],
            &[
                "worker-3",
                "Unknown",
                "<none>",
                AGE,
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>",
            ],
        ],
    );
}

/// A container status in JSON with the given state and extra fields.
fn container(name: &str, state: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"{name}","image":"busybox","imageID":"","ready":false,"restartCount":0,"state":{state}{extra}}}"#
    )
}

#[test]
fn pods_print_status_readiness_and_restarts() {
    let c = cluster();
    create(
        &c,
        "pods.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: error}
spec:
  restartPolicy: Never
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: gated}
spec:
  schedulingGates: [{name: example.com/quota}]
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: init}
spec:
  initContainers: [{name: migrate, image: busybox}, {name: seed, image: busybox}]
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: lost, finalizers: [example.com/hold]}
spec:
  nodeName: node-a
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: pulling}
spec:
  containers: [{name: app, image: busybox}, {name: log, image: nosuch}]
---
apiVersion: v1
kind: Pod
metadata: {name: side}
spec:
  nodeName: node-a
  readinessGates: [{conditionType: example.com/lb}]
  initContainers: [{name: proxy, image: envoy, restartPolicy: Always}]
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: stopping, finalizers: [example.com/hold]}
spec:
  containers: [{name: app, image: busybox}]
"#,
    );
    let running = r#"{"running":{"startedAt":"2024-01-01T00:00:00Z"}}"#;
    let crashed = format!(
        r#","lastState":{{"terminated":{{"exitCode":1,"reason":"Error","finishedAt":"{}"}}}}"#,
        ago(15 * 60)
    );
    let crash = container(
        "app",
        r#"{"waiting":{"reason":"CrashLoopBackOff"}}"#,
        &crashed,
    )
    .replace(r#""restartCount":0"#, r#""restartCount":3"#);
    set_status(
        &c,
        "pod/crash",
        &format!(r#"{{"phase":"Running","containerStatuses":[{crash}]}}"#),
    );
    set_status(
        &c,
        "pod/done",
        &format!(
            r#"{{"phase":"Succeeded","containerStatuses":[{}]}}"#,
            container(
                "app",
                r#"{"terminated":{"exitCode":0,"reason":"Completed"}}"#,
                ""
            )
        ),
    );
    set_status(
        &c,
        "pod/error",
        &format!(
            r#"{{"phase":"Failed","containerStatuses":[{}]}}"#,
            container(
                "app",
                r#"{"terminated":{"exitCode":1,"reason":"Error"}}"#,
                ""
            )
        ),
    );
    set_status(
        &c,
        "pod/init",
        &format!(
            r#"{{"phase":"Pending","initContainerStatuses":[{},{}],"containerStatuses":[{}]}}"#,
            container(
                "migrate",
                r#"{"terminated":{"exitCode":0,"reason":"Completed"}}"#,
                ""
            ),
            container("seed", running, ""),
            container("app", r#"{"waiting":{"reason":"PodInitializing"}}"#, ""),
        ),
    );
    set_status(
        &c,
        "pod/lost",
        &format!(
            r#"{{"phase":"Running","reason":"NodeLost","containerStatuses":[{}]}}"#,
            container("app", running, "")
        ),
    );
    set_status(
        &c,
        "pod/pulling",
        &format!(
            r#"{{"phase":"Pending","containerStatuses":[{},{}]}}"#,
            container("app", r#"{"waiting":{"reason":"ContainerCreating"}}"#, ""),
            container("log", r#"{"waiting":{"reason":"ErrImagePull"}}"#, ""),
        ),
    );
    let proxy = container(
        "proxy",
        running,
        &format!(
            r#","started":true,"lastState":{{"terminated":{{"exitCode":137,"finishedAt":"{}"}}}}"#,
            ago(20 * 60)
        ),
    )
    .replace(
        r#""ready":false,"restartCount":0"#,
        r#""ready":true,"restartCount":1"#,
    );
    let app = container("app", running, "").replace(r#""ready":false"#, r#""ready":true"#);
    set_status(
        &c,
        "pod/side",
        &format!(
            r#"{{"phase":"Running","podIP":"10.42.0.9","podIPs":[{{"ip":"10.42.0.9"}}],"nominatedNodeName":"node-b",
                "conditions":[{{"type":"Initialized","status":"True"}},{{"type":"Ready","status":"True"}},
                              {{"type":"example.com/lb","status":"True"}}],
                "initContainerStatuses":[{proxy}],"containerStatuses":[{app}]}}"#
        ),
    );
    set_status(
        &c,
        "pod/stopping",
        &format!(r#"{{"phase":"Running","containerStatuses":[{app}]}}"#),
    );
    c.kubectl(&["delete", "pod", "stopping", "lost", "--wait=false"])
        .ok();

    assert_table(
        c.kubectl(&["get", "pods"]).ok(),
        &[
            &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            &["crash", "0/1", "CrashLoopBackOff", "3 (15m ago)", AGE],
            &["done", "0/1", "Completed", "0", AGE],
            &["error", "0/1", "Error", "0", AGE],
            &["gated", "0/1", "SchedulingGated", "0", AGE],
            &["init", "0/1", "Init:1/2", "0", AGE],
            &["lost", "0/1", "Unknown", "0", AGE],
            &["pulling", "0/2", "ContainerCreating", "0", AGE],
            &["side", "2/2", "Running", "1 (20m ago)", AGE],
            &["stopping", "1/1", "Terminating", "0", AGE],
        ],
    );
    assert_table(
        c.kubectl(&["get", "pods", "side", "crash", "-o", "wide"])
            .ok(),
        &[
            &[
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED NODE",
                "READINESS GATES",
            ],
            &[
                "side",
                "2/2",
                "Running",
                "1 (20m ago)",
                AGE,
                "10.42.0.9",
                "node-a",
                "node-b",
                "1/1",
            ],
            &[
                "crash",
                "0/1",
                "CrashLoopBackOff",
                "3 (15m ago)",
                AGE,
                "<none>",
                "<none>",
                "<none>",
                "<none>",
            ],
        ],
    );
}

/// Workloads of every kind `kubectl get all` lists.
const WORKLOADS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  nodeName: node-a
  containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}, {name: log, image: busybox}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-5d4f}
spec:
  replicas: 3
  selector: {matchLabels: {app: web, pod-template-hash: 5d4f}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d4f}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: postgres, image: postgres}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchExpressions: [{key: app, operator: In, values: [agent, logger]}]}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: agent, image: fluentd}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  completions: 2
  parallelism: 2
  manualSelector: true
  selector: {matchLabels: {job: pi}}
  template:
    metadata: {labels: {job: pi}}
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: perl}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  timeZone: Europe/Paris
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: restic}]
"#;

#[test]
fn get_all_lists_workloads_with_their_columns() {
    let c = cluster();
    create(&c, "workloads.yaml", WORKLOADS);
    set_status(
        &c,
        "pod/web-1",
        r#"{"phase":"Running","podIPs":[{"ip":"10.42.0.5"}],"conditions":[{"type":"Ready","status":"True"}],
            "containerStatuses":[{"name":"web","image":"nginx","imageID":"","ready":true,"restartCount":0,
                                  "started":true,"state":{"running":{}}}]}"#,
    );
    set_status(
        &c,
        "deployment/web",
        r#"{"replicas":3,"updatedReplicas":3,"readyReplicas":2,"availableReplicas":2}"#,
    );
    set_status(
        &c,
        "replicaset/web-5d4f",
        r#"{"replicas":3,"readyReplicas":2,"availableReplicas":2}"#,
    );
    set_status(
        &c,
        "statefulset/db",
        r#"{"replicas":2,"readyReplicas":1,"currentReplicas":2,"updatedReplicas":2}"#,
    );
    set_status(
        &c,
        "daemonset/agent",
        r#"{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"numberMisscheduled":0,
            "updatedNumberScheduled":3,"numberAvailable":2}"#,
    );
    set_status(
        &c,
        "job/pi",
        &format!(
            r#"{{"startTime":"{}","active":1,"succeeded":1}}"#,
            ago(30 * 60)
        ),
    );
    set_status(
        &c,
        "cronjob/nightly",
        &format!(r#"{{"lastScheduleTime":"{}"}}"#, ago(40 * 60)),
    );

    assert_tables_any_order(
        c.kubectl(&["get", "all"]).ok(),
        &[
            &[
                &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
                &["pod/web-1", "1/1", "Running", "0", AGE],
            ],
            &[
                &[
                    "NAME",
                    "TYPE",
                    "CLUSTER-IP",
                    "EXTERNAL-IP",
                    "PORT(S)",
                    "AGE",
                ],
                &[
                    "service/db",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    AGE,
                ],
                &["service/web", "ClusterIP", "None", "<none>", "80/TCP", AGE],
            ],
            &[
                &[
                    "NAME",
                    "DESIRED",
                    "CURRENT",
                    "READY",
                    "UP-TO-DATE",
                    "AVAILABLE",
                    "NODE SELECTOR",
                    "AGE",
                ],
                &[
                    "daemonset.apps/agent",
                    "3",
                    "3",
                    "2",
                    "3",
                    "2",
                    "kubernetes.io/os=linux",
                    AGE,
                ],
            ],
            &[
                &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
                &["deployment.apps/web", "2/3", "3", "2", AGE],
            ],
            &[
                &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
                &["replicaset.apps/web-5d4f", "3", "3", "2", AGE],
            ],
            &[
                &["NAME", "READY", "AGE"],
                &["statefulset.apps/db", "1/2", AGE],
            ],
            &[
                &[
                    "NAME",
                    "SCHEDULE",
                    "TIMEZONE",
                    "SUSPEND",
                    "ACTIVE",
                    "LAST SCHEDULE",
                    "AGE",
                ],
                &[
                    "cronjob.batch/nightly",
                    "0 3 * * *",
                    "Europe/Paris",
                    "False",
                    "0",
                    "40m",
                    AGE,
                ],
            ],
            &[
                &["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
                &["job.batch/pi", "Running", "1/2", "30m", AGE],
            ],
        ],
    );

    assert_tables(
        c.kubectl(&["get", "deploy,rs,sts,ds,job,cronjob", "-o", "wide"])
            .ok(),
        &[
            &[
                &[
                    "NAME",
                    "READY",
                    "UP-TO-DATE",
                    "AVAILABLE",
                    "AGE",
                    "CONTAINERS",
                    "IMAGES",
                    "SELECTOR",
                ],
                &[
                    "deployment.apps/web",
                    "2/3",
                    "3",
                    "2",
                    AGE,
                    "web,log",
                    "nginx,busybox",
                    "app=web",
                ],
            ],
            &[
                &[
                    "NAME",
                    "DESIRED",
                    "CURRENT",
                    "READY",
                    "AGE",
                    "CONTAINERS",
                    "IMAGES",
                    "SELECTOR",
                ],
                &[
                    "replicaset.apps/web-5d4f",
                    "3",
                    "3",
                    "2",
                    AGE,
                    "web",
                    "nginx",
                    "app=web,pod-template-hash=5d4f",
                ],
            ],
            &[
                &["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
                &["statefulset.apps/db", "1/2", AGE, "postgres", "postgres"],
            ],
            &[
                &[
                    "NAME",
                    "DESIRED",
                    "CURRENT",
                    "READY",
                    "UP-TO-DATE",
                    "AVAILABLE",
                    "NODE SELECTOR",
                    "AGE",
                    "CONTAINERS",
                    "IMAGES",
                    "SELECTOR",
                ],
                &[
                    "daemonset.apps/agent",
                    "3",
                    "3",
                    "2",
                    "3",
                    "2",
                    "kubernetes.io/os=linux",
                    AGE,
                    "agent",
                    "fluentd",
                    "app in (agent,logger)",
                ],
            ],
            &[
                &[
                    "NAME",
                    "STATUS",
                    "COMPLETIONS",
                    "DURATION",
                    "AGE",
                    "CONTAINERS",
                    "IMAGES",
                    "SELECTOR",
                ],
                &[
                    "job.batch/pi",
                    "Running",
                    "1/2",
                    "30m",
                    AGE,
                    "pi",
                    "perl",
                    "job=pi",
                ],
            ],
            &[
                &[
                    "NAME",
                    "SCHEDULE",
                    "TIMEZONE",
                    "SUSPEND",
                    "ACTIVE",
                    "LAST SCHEDULE",
                    "AGE",
                    "CONTAINERS",
                    "IMAGES",
                    "SELECTOR",
                ],
                &[
                    "cronjob.batch/nightly",
                    "0 3 * * *",
                    "Europe/Paris",
                    "False",
                    "0",
                    "40m",
                    AGE,
                    "backup",
                    "restic",
                    "<none>",
                ],
            ],
        ],
    );
}

#[test]
fn jobs_print_status_completions_and_duration() {
    let c = cluster();
    for name in [
        "done",
        "failed",
        "running",
        "suspended",
        "target",
        "waiting",
    ] {
        c.kubectl(&[
            "create",
            "job",
            name,
            "--image=perl",
            "--",
            "perl",
            "-e",
            "1",
        ])
        .ok();
    }
    let start = ago(50 * 60);
    let cond = |t: &str, reason: &str| {
        format!(r#"{{"type":"{t}","status":"True","reason":"{reason}","message":""}}"#)
    };
    set_status(
        &c,
        "job/done",
        &format!(
            r#"{{"startTime":"{start}","completionTime":"{}","succeeded":1,"conditions":[{},{}]}}"#,
            ago(50 * 60 - 75),
            cond("SuccessCriteriaMet", "CompletionsReached"),
            cond("Complete", "CompletionsReached"),
        ),
    );
    set_status(
        &c,
        "job/failed",
        &format!(
            r#"{{"startTime":"{start}","failed":1,"conditions":[{},{}]}}"#,
            cond("FailureTarget", "BackoffLimitExceeded"),
            cond("Failed", "BackoffLimitExceeded"),
        ),
    );
    set_status(
        &c,
        "job/running",
        &format!(r#"{{"startTime":"{start}","active":1}}"#),
    );
    set_status(
        &c,
        "job/target",
        &format!(
            r#"{{"startTime":"{start}","active":1,"conditions":[{}]}}"#,
            cond("FailureTarget", "DeadlineExceeded"),
        ),
    );
    c.kubectl(&[
        "patch",
        "job",
        "suspended",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ])
    .ok();
    set_status(
        &c,
        "job/suspended",
        &format!(
            r#"{{"conditions":[{}]}}"#,
            cond("Suspended", "JobSuspended")
        ),
    );
    assert_table(
        c.kubectl(&["get", "jobs"]).ok(),
        &[
            &["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
            &["done", "Complete", "1/1", "75s", AGE],
            &["failed", "Failed", "0/1", "50m", AGE],
            &["running", "Running", "0/1", "50m", AGE],
            &["suspended", "Suspended", "0/1", "", AGE],
            &["target", "FailureTarget", "0/1", "50m", AGE],
            &["waiting", "Running", "0/1", "", AGE],
        ],
    );
}

#[test]
fn networking_and_storage_kinds() {
    let c = cluster();
    create(
        &c,
        "net.yaml",
        r#"
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  clusterIP: 10.43.0.100
  selector: {app: web, tier: fe}
  ports: [{name: http, port: 80, nodePort: 30080}, {name: dns, port: 53, protocol: UDP, nodePort: 30053}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.42.0.1}, {ip: 10.42.0.2}, {ip: 10.42.0.3}, {ip: 10.42.0.4}]
  ports: [{port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: empty}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc}
addressType: IPv4
ports: [{name: http, port: 80}, {name: https, port: 443}]
endpoints:
- addresses: [10.42.0.1]
- addresses: [10.42.0.2]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec:
  controller: k8s.io/ingress-nginx
  parameters: {apiGroup: k8s.example.com, kind: IngressParameters, name: external}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  tls: [{hosts: [a.example.com]}]
  rules:
  - host: a.example.com
  - host: b.example.com
  - host: c.example.com
  - host: d.example.com
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {role: db}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/fast
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: slow}
provisioner: example.com/slow
reclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-1}
spec:
  capacity: {storage: 1024Mi}
  accessModes: [ReadWriteOnce, ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: fast
  hostPath: {path: /data}
  claimRef: {namespace: default, name: data}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: fast
  volumeName: pv-1
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: scratch}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: slow
  volumeMode: Block
  resources: {requests: {storage: 5Gi}}
"#,
    );
    set_status(
        &c,
        "service/lb",
        r#"{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}"#,
    );
    set_status(
        &c,
        "ingress/web",
        r#"{"loadBalancer":{"ingress":[{"hostname":"lb.example.com"}]}}"#,
    );
    set_status(&c, "pv/pv-1", r#"{"phase":"Bound"}"#);
    set_status(
        &c,
        "pvc/data",
        r#"{"phase":"Bound","accessModes":["ReadWriteOnce","ReadOnlyMany"],"capacity":{"storage":"1Gi"}}"#,
    );
    set_status(&c, "pvc/scratch", r#"{"phase":"Pending"}"#);
    let lb = c
        .kubectl(&["get", "svc", "lb", "-o", "wide"])
        .ok()
        .to_string();
    assert_table(
        &lb,
        &[
            &[
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE",
                "SELECTOR",
            ],
            &[
                "lb",
                "LoadBalancer",
                "10.43.0.100",
                "203.0.113.10",
                "80:30080/TCP,53:30053/UDP",
                AGE,
                "app=web,tier=fe",
            ],
        ],
    );
    assert_tables(
        c.kubectl(&["get", "endpoints,endpointslices"]).ok(),
        &[
            &[
                &["NAME", "ENDPOINTS", "AGE"],
                &["endpoints/empty", "<none>", AGE],
                &[
                    "endpoints/web",
                    "10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 1 more...",
                    AGE,
                ],
            ],
            &[
                &["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
                &[
                    "endpointslice.discovery.k8s.io/web-abc",
                    "IPv4",
                    "80,443",
                    "10.42.0.1,10.42.0.2",
                    AGE,
                ],
            ],
        ],
    );
    assert_tables(
        c.kubectl(&["get", "ingress,ingressclass,netpol"]).ok(),
        &[
            &[
                &["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
                &[
                    "ingress.networking.k8s.io/web",
                    "nginx",
                    "a.example.com,b.example.com,c.example.com + 1 more...",
                    "lb.example.com",
                    "80, 443",
                    AGE,
                ],
            ],
            &[
                &["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
                &[
                    "ingressclass.networking.k8s.io/nginx",
                    "k8s.io/ingress-nginx",
                    "IngressParameters.k8s.example.com/external",
                    AGE,
                ],
            ],
            &[
                &["NAME", "POD-SELECTOR", "AGE"],
                &["networkpolicy.networking.k8s.io/db", "role=db", AGE],
                &["networkpolicy.networking.k8s.io/deny-all", "<none>", AGE],
            ],
        ],
    );
    assert_table(
        c.kubectl(&["get", "storageclass"]).ok(),
        &[
            &[
                "NAME",
                "PROVISIONER",
                "RECLAIMPOLICY",
                "VOLUMEBINDINGMODE",
                "ALLOWVOLUMEEXPANSION",
                "AGE",
            ],
            &[
                "fast (default)",
                "example.com/fast",
                "Delete",
                "WaitForFirstConsumer",
                "true",
                AGE,
            ],
            &[
                "slow",
                "example.com/slow",
                "Retain",
                "Immediate",
                "false",
                AGE,
            ],
        ],
    );
    assert_table(
        c.kubectl(&["get", "pv", "-o", "wide"]).ok(),
        &[
            &[
                "NAME",
                "CAPACITY",
                "ACCESS MODES",
                "RECLAIM POLICY",
                "STATUS",
                "CLAIM",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "REASON",
                "AGE",
                "VOLUMEMODE",
            ],
            &[
                "pv-1",
                "1Gi",
                "RWO,ROX",
                "Retain",
                "Bound",
                "default/data",
                "fast",
                "<unset>",
                "",
                AGE,
                "Filesystem",
            ],
        ],
    );
    assert_table(
        c.kubectl(&["get", "pvc", "-o", "wide"]).ok(),
        &[
            &[
                "NAME",
                "STATUS",
                "VOLUME",
                "CAPACITY",
                "ACCESS MODES",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "AGE",
                "VOLUMEMODE",
            ],
            &[
                "data",
                "Bound",
                "pv-1",
                "1Gi",
                "RWO,ROX",
                "fast",
                "<unset>",
                AGE,
                "Filesystem",
            ],
            &[
                "scratch", "Pending", "", "", "", "slow", "<unset>", AGE, "Block",
            ],
        ],
    );
}

#[test]
fn events_rbac_policy_and_cluster_kinds() {
    let c = cluster();
    create(
        &c,
        "cluster.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Event
metadata: {{name: web.backoff}}
type: Warning
reason: BackOff
message: "Back-off restarting failed container web "
involvedObject: {{kind: Pod, name: web, namespace: default, fieldPath: "spec.containers{{web}}"}}
source: {{component: kubelet, host: node-a}}
firstTimestamp: "{first}"
lastTimestamp: "{last}"
count: 4
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {{name: web.scheduled}}
type: Normal
reason: Scheduled
note: Successfully assigned default/web to node-a
regarding: {{kind: Pod, name: web, namespace: default}}
reportingController: default-scheduler
reportingInstance: default-scheduler-node-a
action: Binding
eventTime: "{micro}"
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader}}
rules: [{{apiGroups: [""], resources: [pods], verbs: [get]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: readers}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}
subjects:
- {{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}}
- {{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}}
- {{kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}}
- {{kind: ServiceAccount, name: ci, namespace: tools}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: lock}}
spec: {{holderIdentity: node-a_1234}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 80}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web}}
spec:
  minAvailable: 50%
  selector: {{matchLabels: {{app: web}}}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {{name: compute}}
spec:
  hard: {{pods: "10", requests.cpu: "2", limits.memory: 2Gi}}
---
apiVersion: v1
kind: LimitRange
metadata: {{name: defaults}}
spec:
  limits: [{{type: Container, default: {{cpu: 500m}}}}]
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: batch-low}}
value: -10
preemptionPolicy: Never
description: batch
---
apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: db-7f9c
  ownerReferences:
  - {{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: 2b7c5a3e-0000-4000-8000-000000000001, controller: true}}
revision: 3
data: {{}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: builder}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{a: "1", b: "2"}}
binaryData: {{c: AA==}}
---
apiVersion: v1
kind: Secret
metadata: {{name: token}}
type: kubernetes.io/basic-auth
stringData: {{username: u, password: p}}
"#,
            first = ago(30 * 60),
            last = ago(10 * 60),
            micro = ago(30 * 60).replace('Z', ".000000Z"),
        ),
    );
    set_status(
        &c,
        "hpa/web",
        r#"{"currentReplicas":3,"desiredReplicas":3,"currentMetrics":[{"type":"Resource",
            "resource":{"name":"cpu","current":{"averageUtilization":42,"averageValue":"210m"}}}]}"#,
    );
    set_status(
        &c,
        "pdb/web",
        r#"{"disruptionsAllowed":1,"currentHealthy":3,"desiredHealthy":2,"expectedPods":3}"#,
    );
    set_status(
        &c,
        "quota/compute",
        r#"{"hard":{"pods":"10","requests.cpu":"2","limits.memory":"2Gi"},
            "used":{"pods":"3","requests.cpu":"500m","limits.memory":"512Mi"}}"#,
    );

    // FIXME: upstream serves both Event APIs from one storage, so each would list both events;
    // rudder stores them apart. Each prints with the same columns.
    assert_table(
        c.kubectl(&["get", "events"]).ok(),
        &[
            &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            &[
                "10m",
                "Warning",
                "BackOff",
                "pod/web",
                "Back-off restarting failed container web",
            ],
        ],
    );
    let wide_header: &[&str] = &[
        "LAST SEEN",
        "TYPE",
        "REASON",
        "OBJECT",
        "SUBOBJECT",
        "SOURCE",
        "MESSAGE",
        "FIRST SEEN",
        "COUNT",
        "NAME",
    ];
    assert_table(
        c.kubectl(&["get", "events", "-o", "wide"]).ok(),
        &[
            wide_header,
            &[
                "10m",
                "Warning",
                "BackOff",
                "pod/web",
                "spec.containers{web}",
                "kubelet, node-a",
                "Back-off restarting failed container web",
                "30m",
                "4",
                "web.backoff",
            ],
        ],
    );
    assert_table(
        c.kubectl(&["get", "events.v1.events.k8s.io", "-o", "wide"])
            .ok(),
        &[
            wide_header,
            &[
                "30m",
                "Normal",
                "Scheduled",
                "pod/web",
                "",
                "default-scheduler, default-scheduler-node-a",
                "Successfully assigned default/web to node-a",
                "30m",
                "1",
                "web.scheduled",
            ],
        ],
    );
    assert_tables(
        c.kubectl(&["get", "roles,rolebindings", "-o", "wide"]).ok(),
        &[
            &[
                &["NAME", "CREATED AT"],
                &["role.rbac.authorization.k8s.io/reader", CREATED],
            ],
            &[
                &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
                &[
                    "rolebinding.rbac.authorization.k8s.io/readers",
                    "Role/reader",
                    AGE,
                    "alice, bob",
                    "devs",
                    "tools/ci",
                ],
            ],
        ],
    );
    assert_tables(
        c.kubectl(&["get", "lease,hpa,pdb,quota,limits"]).ok(),
        &[
            &[
                &["NAME", "HOLDER", "AGE"],
                &["lease.coordination.k8s.io/lock", "node-a_1234", AGE],
            ],
            &[
                &[
                    "NAME",
                    "REFERENCE",
                    "TARGETS",
                    "MINPODS",
                    "MAXPODS",
                    "REPLICAS",
                    "AGE",
                ],
                &[
                    "horizontalpodautoscaler.autoscaling/web",
                    "Deployment/web",
                    "cpu: 42%/80%",
                    "2",
                    "10",
                    "3",
                    AGE,
                ],
            ],
            &[
                &[
                    "NAME",
                    "MIN AVAILABLE",
                    "MAX UNAVAILABLE",
                    "ALLOWED DISRUPTIONS",
                    "AGE",
                ],
                &["poddisruptionbudget.policy/web", "50%", "N/A", "1", AGE],
            ],
            &[
                &["NAME", "REQUEST", "LIMIT", "AGE"],
                &[
                    "resourcequota/compute",
                    "pods: 3/10, requests.cpu: 500m/2",
                    "limits.memory: 512Mi/2Gi",
                    AGE,
                ],
            ],
            &[&["NAME", "CREATED AT"], &["limitrange/defaults", CREATED]],
        ],
    );
    assert_table(
        c.kubectl(&["get", "priorityclass", "batch-low"]).ok(),
        &[
            &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
            &["batch-low", "-10", "false", AGE, "Never"],
        ],
    );
    assert_tables(
        c.kubectl(&["get", "controllerrevisions,sa,cm,secrets"])
            .ok(),
        &[
            &[
                &["NAME", "CONTROLLER", "REVISION", "AGE"],
                &[
                    "controllerrevision.apps/db-7f9c",
                    "statefulset.apps/db",
                    "3",
                    AGE,
                ],
            ],
            &[
                &["NAME", "SECRETS", "AGE"],
                &["serviceaccount/builder", "0", AGE],
                &["serviceaccount/default", "0", AGE],
            ],
            &[&["NAME", "DATA", "AGE"], &["configmap/settings", "3", AGE]],
            &[
                &["NAME", "TYPE", "DATA", "AGE"],
                &["secret/token", "kubernetes.io/basic-auth", "2", AGE],
            ],
        ],
    );
}
