//! Data-driven tests of the printers: one table per kind of input objects and the cells
//! upstream prints for them, at a fixed "now".

use serde_json::{Value, json};

use super::{cells, columns, format::human_duration};

/// The "now" of every case.
const NOW: &str = "2024-01-10T00:00:00Z";
/// Five minutes before [`NOW`].
const FIVE_MIN_AGO: &str = "2024-01-09T23:55:00Z";

/// Asserts every case's row, and that each row has one cell per column.
#[track_caller]
fn check(group: &str, kind: &str, cases: &[(Value, Value)]) {
    let now = NOW.parse().unwrap();
    for (obj, want) in cases {
        let got = cells(group, kind, obj, now);
        assert_eq!(&json!(got), want, "{kind} {obj}");
        assert_eq!(
            got.len(),
            columns(group, kind).len(),
            "{kind}: cells and columns differ"
        );
    }
}

/// The metadata of an object named `name` created five minutes before [`NOW`].
fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": FIVE_MIN_AGO})
}

/// An object with the given metadata name and other top-level fields.
fn obj(name: &str, rest: Value) -> Value {
    let mut o = rest;
    o["metadata"] = meta(name);
    o
}

#[test]
fn human_durations_read_like_upstream() {
    const S: i128 = 1_000_000_000;
    for (seconds, want) in [
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (330, "5m30s"),
        (600, "10m"),
        (7200, "120m"),
        (3 * 3600, "3h"),
        (4 * 3600 + 30 * 60, "4h30m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (3 * 86400, "3d"),
        (30 * 86400, "30d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ] {
        assert_eq!(human_duration(seconds * S), want, "{seconds}s");
    }
    // Just under a second in the future is "now".
    assert_eq!(human_duration(-S / 2), "0s");
}

#[test]
fn columns_and_priorities_match_upstream() {
    let headers = |group: &str, kind: &str| -> (Vec<&str>, Vec<&str>) {
        let cols = columns(group, kind);
        (
            cols.iter()
                .filter(|c| c.priority == 0)
                .map(|c| c.name)
                .collect(),
            cols.iter()
                .filter(|c| c.priority == 1)
                .map(|c| c.name)
                .collect(),
        )
    };
    for (group, kind, normal, wide) in [
        (
            "",
            "Pod",
            &["Name", "Ready", "Status", "Restarts", "Age"][..],
            &["IP", "Node", "Nominated Node", "Readiness Gates"][..],
        ),
        (
            "",
            "Node",
            &["Name", "Status", "Roles", "Age", "Version"],
            &[
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime",
            ],
        ),
        (
            "",
            "Event",
            &["Last Seen", "Type", "Reason", "Object", "Message"],
            &["Subobject", "Source", "First Seen", "Count", "Name"],
        ),
        (
            "batch",
            "CronJob",
            &[
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
            ],
            &["Containers", "Images", "Selector"],
        ),
        (
            "",
            "PersistentVolume",
            &[
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
            ],
            &["VolumeMode"],
        ),
        (
            "scheduling.k8s.io",
            "PriorityClass",
            &["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"],
            &[],
        ),
        (
            "rbac.authorization.k8s.io",
            "Role",
            &["Name", "Created At"],
            &[],
        ),
        ("", "LimitRange", &["Name", "Created At"], &[]),
    ] {
        assert_eq!(
            headers(group, kind),
            (normal.to_vec(), wide.to_vec()),
            "{kind}"
        );
    }
    // Descriptions come from the API's field docs where upstream uses SwaggerDoc().
    let name = &columns("", "Pod")[0];
    assert!(
        name.description
            .text()
            .starts_with("Name must be unique within a namespace."),
        "{}",
        name.description.text()
    );
    assert_eq!(columns("", "Pod")[0].format, "name");
}

/// A pod with the given spec and status.
fn pod(spec: Value, status: Value) -> Value {
    obj("p", json!({"spec": spec, "status": status}))
}

/// A running, ready container status.
fn running(name: &str, restarts: i64) -> Value {
    json!({"name": name, "ready": true, "restartCount": restarts,
           "state": {"running": {"startedAt": FIVE_MIN_AGO}}})
}

#[test]
fn pods() {
    let one = json!({"containers": [{"name": "a", "image": "nginx"}]});
    let two = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    let wide_none = ["<none>", "<none>", "<none>", "<none>"];
    let row = |ready: &str, status: &str, restarts: &str| -> Value {
        let mut r = vec![
            json!("p"),
            json!(ready),
            json!(status),
            json!(restarts),
            json!("5m"),
        ];
        r.extend(wide_none.iter().map(|s| json!(s)));
        json!(r)
    };
    let init2 = json!({
        "initContainers": [{"name": "i1"}, {"name": "i2"}],
        "containers": [{"name": "a"}],
    });
    check(
        "",
        "Pod",
        &[
            // Pending, nothing known yet.
            (
                pod(one.clone(), json!({"phase": "Pending"})),
                row("0/1", "Pending", "0"),
            ),
            // Running and ready.
            (
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [running("a", 0)]}),
                ),
                row("1/1", "Running", "0"),
            ),
            // A container waiting gives its reason.
            (
                pod(
                    two.clone(),
                    json!({"phase": "Pending", "containerStatuses": [
                        {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}},
                        {"name": "b", "state": {"waiting": {"reason": "ErrImagePull"}}},
                    ]}),
                ),
                row("0/2", "ContainerCreating", "0"),
            ),
            // CrashLoopBackOff with restarts and the time of the last one.
            (
                pod(
                    one.clone(),
                    json!({"phase": "Running", "containerStatuses": [
                        {"name": "a", "restartCount": 3, "ready": false,
                         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                      "finishedAt": "2024-01-09T23:58:00Z"}}},
                    ]}),
                ),
                row("0/1", "CrashLoopBackOff", "3 (2m ago)"),
            ),
            // Completed and failed containers.
            (
                pod(
                    one.clone(),
                    json!({"phase": "Succeeded", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    ]}),
                ),
                row("0/1", "Completed", "0"),
            ),
            (
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
                    ]}),
                ),
                row("0/1", "Error", "0"),
            ),
            // A termination without reason shows its signal or exit code.
            (
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}},
                    ]}),
                ),
                row("0/1", "Signal:9", "0"),
            ),
            (
                pod(
                    one.clone(),
                    json!({"phase": "Failed", "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 2}}},
                    ]}),
                ),
                row("0/1", "ExitCode:2", "0"),
            ),
            // One container completed while another still runs: Running if the pod is ready.
            (
                pod(
                    two.clone(),
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running("b", 0),
                    ]}),
                ),
                row("1/2", "Running", "0"),
            ),
            (
                pod(
                    two.clone(),
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running("b", 0),
                    ]}),
                ),
                row("1/2", "NotReady", "0"),
            ),
            // Init containers: progress, a waiting reason, a failure.
            (
                pod(
                    init2.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "i2", "state": {"running": {}}},
                    ]}),
                ),
                row("0/1", "Init:1/2", "0"),
            ),
            (
                pod(
                    init2.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}},
                    ]}),
                ),
                row("0/1", "Init:0/2", "0"),
            ),
            (
                pod(
                    init2.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "restartCount": 2,
                         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-09T23:59:00Z"}}},
                    ]}),
                ),
                row("0/1", "Init:CrashLoopBackOff", "2 (60s ago)"),
            ),
            (
                pod(
                    init2.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
                    ]}),
                ),
                row("0/1", "Init:Error", "0"),
            ),
            (
                pod(
                    init2.clone(),
                    json!({"phase": "Pending", "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 3}}},
                    ]}),
                ),
                row("0/1", "Init:ExitCode:3", "0"),
            ),
            // All init containers done, the main one starting.
            (
                pod(
                    init2.clone(),
                    json!({"phase": "Pending",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [
                        {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        {"name": "i2", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    ],
                    "containerStatuses": [
                        {"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}},
                    ]}),
                ),
                row("0/1", "PodInitializing", "0"),
            ),
            // A sidecar counts as a container, its restarts too.
            (
                pod(
                    json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}],
                           "containers": [{"name": "a"}]}),
                    json!({"phase": "Running",
                        "conditions": [{"type": "Initialized", "status": "True"}],
                        "initContainerStatuses": [
                            {"name": "side", "started": true, "ready": true, "restartCount": 1,
                             "state": {"running": {}},
                             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-09T23:57:00Z"}}},
                        ],
                        "containerStatuses": [running("a", 2)]}),
                ),
                row("2/2", "Running", "3 (3m ago)"),
            ),
            // Scheduling gates.
            (
                pod(
                    one.clone(),
                    json!({"phase": "Pending", "conditions": [
                        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                    ]}),
                ),
                row("0/1", "SchedulingGated", "0"),
            ),
            // A status reason such as Evicted or NodeLost wins over the phase.
            (
                pod(one.clone(), json!({"phase": "Failed", "reason": "Evicted"})),
                row("0/1", "Evicted", "0"),
            ),
        ],
    );

    // Deletion: Terminating, or Unknown on a lost node; terminal pods keep their status.
    let deleting = |status: Value| {
        let mut p = pod(one.clone(), status);
        p["metadata"]["deletionTimestamp"] = json!(NOW);
        p
    };
    check(
        "",
        "Pod",
        &[
            (
                deleting(json!({"phase": "Running", "containerStatuses": [running("a", 0)]})),
                row("1/1", "Terminating", "0"),
            ),
            (
                deleting(json!({"phase": "Running", "reason": "NodeLost"})),
                row("0/1", "Unknown", "0"),
            ),
            (
                deleting(json!({"phase": "Succeeded"})),
                row("0/1", "Succeeded", "0"),
            ),
        ],
    );

    // The wide cells.
    let mut gated = pod(
        json!({"nodeName": "n1", "containers": [{"name": "a"}],
               "readinessGates": [{"conditionType": "x"}, {"conditionType": "y"}]}),
        json!({"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "nominatedNodeName": "n2",
               "conditions": [{"type": "x", "status": "True"}, {"type": "y", "status": "False"}],
               "containerStatuses": [running("a", 0)]}),
    );
    gated["metadata"]["name"] = json!("g");
    check(
        "",
        "Pod",
        &[(
            gated,
            json!([
                "g",
                "1/1",
                "Running",
                "0",
                "5m",
                "10.42.0.5",
                "n1",
                "n2",
                "1/2"
            ]),
        )],
    );
}

#[test]
fn pod_templates() {
    check(
        "",
        "PodTemplate",
        &[(
            obj(
                "t",
                json!({"template": {"metadata": {"labels": {"b": "2", "a": "1"}},
                    "spec": {"containers": [{"name": "x", "image": "i1"}, {"name": "y", "image": "i2"}]}}}),
            ),
            json!(["t", "x,y", "i1,i2", "a=1,b=2"]),
        )],
    );
}

#[test]
fn nodes() {
    let node = |labels: Value, unschedulable: bool, conditions: Value| {
        let mut n = obj(
            "n1",
            json!({"spec": {"unschedulable": unschedulable},
                "status": {"conditions": conditions,
                    "addresses": [{"type": "Hostname", "address": "n1"},
                                  {"type": "InternalIP", "address": "10.0.0.1"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian",
                                 "kernelVersion": "6.1", "containerRuntimeVersion": ""}}}),
        );
        n["metadata"]["labels"] = labels;
        n
    };
    let row = |status: &str, roles: &str| {
        json!([
            "n1",
            status,
            roles,
            "5m",
            "v1.33.0",
            "10.0.0.1",
            "<none>",
            "Debian",
            "6.1",
            "<unknown>"
        ])
    };
    let ready =
        json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]);
    check(
        "",
        "Node",
        &[
            (
                node(json!({}), false, ready.clone()),
                row("Ready", "<none>"),
            ),
            (
                node(
                    json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "",
                            "kubernetes.io/role": "gpu", "node-role.kubernetes.io/": "x"}),
                    true,
                    ready,
                ),
                row("Ready,SchedulingDisabled", "control-plane,gpu,worker"),
            ),
            (
                node(
                    json!({}),
                    false,
                    json!([{"type": "Ready", "status": "Unknown"}]),
                ),
                row("NotReady", "<none>"),
            ),
            (node(json!({}), false, json!([])), row("Unknown", "<none>")),
        ],
    );
}

#[test]
fn events() {
    let core = obj(
        "web.17a",
        json!({"type": "Warning", "reason": "BackOff", "message": " Back-off restarting \n",
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-09T23:50:00Z", "lastTimestamp": "2024-01-09T23:59:00Z",
            "count": 4}),
    );
    let new_style = obj(
        "web.17b",
        json!({"type": "Normal", "reason": "Scheduled", "message": "Assigned",
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reportingComponent": "default-scheduler", "reportingInstance": "",
            "eventTime": "2024-01-09T23:58:00.123456Z"}),
    );
    let series = obj(
        "web.17c",
        json!({"type": "Normal", "reason": "Pulled", "message": "ok",
            "involvedObject": {"kind": "Node"},
            "eventTime": "2024-01-09T23:50:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2024-01-09T23:59:30.000000Z"}}),
    );
    check(
        "",
        "Event",
        &[
            (
                core,
                json!([
                    "60s",
                    "Warning",
                    "BackOff",
                    "pod/web",
                    "spec.containers{web}",
                    "kubelet, n1",
                    "Back-off restarting",
                    "10m",
                    4,
                    "web.17a"
                ]),
            ),
            (
                new_style,
                // 1m59.877s: upstream truncates to whole seconds.
                json!([
                    "119s",
                    "Normal",
                    "Scheduled",
                    "pod/web",
                    "",
                    "default-scheduler",
                    "Assigned",
                    "119s",
                    1,
                    "web.17b"
                ]),
            ),
            (
                series,
                json!([
                    "30s", "Normal", "Pulled", "node", "", "", "ok", "10m", 7, "web.17c"
                ]),
            ),
        ],
    );
    // events.k8s.io/v1 names the same fields differently.
    check(
        "events.k8s.io",
        "Event",
        &[(
            obj(
                "e",
                json!({"type": "Normal", "reason": "Killing", "note": "Stopping",
                    "regarding": {"kind": "Pod", "name": "web"},
                    "reportingController": "kubelet", "reportingInstance": "n1",
                    "deprecatedFirstTimestamp": "2024-01-09T23:55:00Z",
                    "deprecatedLastTimestamp": "2024-01-09T23:59:00Z", "deprecatedCount": 2}),
            ),
            json!([
                "60s",
                "Normal",
                "Killing",
                "pod/web",
                "",
                "kubelet, n1",
                "Stopping",
                "5m",
                2,
                "e"
            ]),
        )],
    );
}

#[test]
fn services() {
    let svc = |spec: Value, status: Value| obj("s", json!({"spec": spec, "status": status}));
    check(
        "",
        "Service",
        &[
            (
                svc(
                    json!({"type": "ClusterIP", "clusterIPs": ["10.43.0.10"], "selector": {"b": "2", "a": "1"},
                           "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}),
                    json!({}),
                ),
                json!([
                    "s",
                    "ClusterIP",
                    "10.43.0.10",
                    "<none>",
                    "53/UDP,53/TCP",
                    "5m",
                    "a=1,b=2"
                ]),
            ),
            (
                svc(
                    json!({"type": "NodePort", "clusterIPs": ["10.43.0.5"], "externalIPs": ["1.2.3.4"],
                           "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}),
                    json!({}),
                ),
                json!([
                    "s",
                    "NodePort",
                    "10.43.0.5",
                    "1.2.3.4",
                    "80:30080/TCP",
                    "5m",
                    "<none>"
                ]),
            ),
            (
                svc(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.43.0.6"],
                           "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
                    json!({}),
                ),
                json!([
                    "s",
                    "LoadBalancer",
                    "10.43.0.6",
                    "<pending>",
                    "443:31443/TCP",
                    "5m",
                    "<none>"
                ]),
            ),
            (
                svc(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.43.0.6"], "externalIPs": ["9.9.9.9"]}),
                    json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}}),
                ),
                json!([
                    "s",
                    "LoadBalancer",
                    "10.43.0.6",
                    "5.6.7.8,lb.example.com,9.9.9.9",
                    "<none>",
                    "5m",
                    "<none>"
                ]),
            ),
            (
                svc(
                    json!({"type": "ExternalName", "externalName": "db.example.com"}),
                    json!({}),
                ),
                json!([
                    "s",
                    "ExternalName",
                    "<none>",
                    "db.example.com",
                    "<none>",
                    "5m",
                    "<none>"
                ]),
            ),
            (
                svc(
                    json!({"type": "ClusterIP", "clusterIPs": ["None"]}),
                    json!({}),
                ),
                json!(["s", "ClusterIP", "None", "<none>", "<none>", "5m", "<none>"]),
            ),
        ],
    );
}

#[test]
fn endpoints_and_slices() {
    let addrs = |ips: &[&str]| json!(ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>());
    check(
        "",
        "Endpoints",
        &[
            (obj("e", json!({})), json!(["e", "<none>", "5m"])),
            (
                obj(
                    "e",
                    json!({"subsets": [{"addresses": addrs(&["10.0.0.1", "10.0.0.2"]),
                                            "ports": [{"port": 80}]}]}),
                ),
                json!(["e", "10.0.0.1:80,10.0.0.2:80", "5m"]),
            ),
            (
                obj(
                    "e",
                    json!({"subsets": [{"addresses": addrs(&["10.0.0.1", "10.0.0.2"]),
                                            "ports": [{"port": 80}, {"port": 443}]}]}),
                ),
                json!([
                    "e",
                    "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
                    "5m"
                ]),
            ),
            (
                obj(
                    "e",
                    json!({"subsets": [{"addresses": addrs(&["fd00::1", "10.0.0.9"])}]}),
                ),
                json!(["e", "fd00::1,10.0.0.9", "5m"]),
            ),
            (
                obj(
                    "e",
                    json!({"subsets": [{"addresses": addrs(&["fd00::1"]), "ports": [{"port": 8080}]}]}),
                ),
                json!(["e", "[fd00::1]:8080", "5m"]),
            ),
        ],
    );
    check(
        "discovery.k8s.io",
        "EndpointSlice",
        &[
            (
                obj("s", json!({"addressType": "IPv4", "endpoints": [],})),
                json!(["s", "IPv4", "<unset>", "<unset>", "5m"]),
            ),
            (
                obj(
                    "s",
                    json!({"addressType": "IPv4",
                    "ports": [{"port": 80}, {"name": "https"}, {}, {"port": 8080}],
                    "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]}),
                ),
                json!([
                    "s",
                    "IPv4",
                    "80,https,* + 1 more...",
                    "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
                    "5m"
                ]),
            ),
        ],
    );
}

#[test]
fn ingresses_and_network_policies() {
    check(
        "networking.k8s.io",
        "Ingress",
        &[
            (
                obj("i", json!({"spec": {"rules": [{"http": {}}]}})),
                json!(["i", "<none>", "*", "", "80", "5m"]),
            ),
            (
                obj(
                    "i",
                    json!({"spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a"]}],
                    "rules": [{"host": "a"}, {"host": "b"}, {}, {"host": "d"}, {"host": "e"}]},
                    "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.1"}]}}}),
                ),
                json!([
                    "i",
                    "nginx",
                    "a,b,d + 2 more...",
                    "10.0.0.1,10.0.0.2",
                    "80, 443",
                    "5m"
                ]),
            ),
        ],
    );
    check(
        "networking.k8s.io",
        "IngressClass",
        &[
            (
                obj("c", json!({"spec": {"controller": "example.com/ingress"}})),
                json!(["c", "example.com/ingress", "<none>", "5m"]),
            ),
            (
                obj(
                    "c",
                    json!({"spec": {"controller": "x", "parameters":
                    {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p"}}}),
                ),
                json!(["c", "x", "Params.k8s.example.com/p", "5m"]),
            ),
        ],
    );
    check(
        "networking.k8s.io",
        "NetworkPolicy",
        &[
            (
                obj("n", json!({"spec": {"podSelector": {}}})),
                json!(["n", "<none>", "5m"]),
            ),
            (
                obj(
                    "n",
                    json!({"spec": {"podSelector": {"matchLabels": {"role": "db"},
                    "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}}}),
                ),
                json!(["n", "env in (dev,prod),role=db", "5m"]),
            ),
        ],
    );
}

#[test]
fn workloads() {
    let template = json!({"spec": {"containers": [{"name": "web", "image": "nginx"}, {"name": "log", "image": "busybox"}]}});
    let selector = json!({"matchLabels": {"app": "web", "tier": "fe"}});
    check(
        "apps",
        "Deployment",
        &[(
            obj(
                "d",
                json!({"spec": {"replicas": 3, "selector": selector, "template": template},
                "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
            ),
            json!([
                "d",
                "2/3",
                3,
                2,
                "5m",
                "web,log",
                "nginx,busybox",
                "app=web,tier=fe"
            ]),
        )],
    );
    check(
        "apps",
        "ReplicaSet",
        &[(
            obj(
                "r",
                json!({"spec": {"replicas": 2, "selector": selector, "template": template},
                "status": {"replicas": 2, "readyReplicas": 1}}),
            ),
            json!([
                "r",
                2,
                2,
                1,
                "5m",
                "web,log",
                "nginx,busybox",
                "app=web,tier=fe"
            ]),
        )],
    );
    check(
        "",
        "ReplicationController",
        &[(
            obj(
                "rc",
                json!({"spec": {"replicas": 1, "selector": {"app": "web"}, "template": template},
                "status": {"replicas": 1}}),
            ),
            json!(["rc", 1, 1, 0, "5m", "web,log", "nginx,busybox", "app=web"]),
        )],
    );
    check(
        "apps",
        "StatefulSet",
        &[(
            obj(
                "s",
                json!({"spec": {"replicas": 3, "selector": selector, "template": template},
                "status": {"readyReplicas": 1}}),
            ),
            json!(["s", "1/3", "5m", "web,log", "nginx,busybox"]),
        )],
    );
    check(
        "apps",
        "DaemonSet",
        &[
            (
                obj(
                    "ds",
                    json!({"spec": {"selector": selector, "template": {"spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "a", "image": "b"}]}}},
                    "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                               "updatedNumberScheduled": 3, "numberAvailable": 2}}),
                ),
                json!([
                    "ds",
                    3,
                    3,
                    2,
                    3,
                    2,
                    "kubernetes.io/os=linux",
                    "5m",
                    "a",
                    "b",
                    "app=web,tier=fe"
                ]),
            ),
            (
                obj(
                    "ds",
                    json!({"spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                    "template": template}}),
                ),
                json!([
                    "ds",
                    0,
                    0,
                    0,
                    0,
                    0,
                    "<none>",
                    "5m",
                    "web,log",
                    "nginx,busybox",
                    "app"
                ]),
            ),
        ],
    );
    let revision = |owners: Value| {
        let mut r = obj("web-5d4f", json!({"revision": 2}));
        r["metadata"]["ownerReferences"] = owners;
        r
    };
    check(
        "apps",
        "ControllerRevision",
        &[
            (
                revision(
                    json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]),
                ),
                json!(["web-5d4f", "statefulset.apps/web", 2, "5m"]),
            ),
            (
                revision(json!([{"apiVersion": "v1", "kind": "Pod", "name": "x"}])),
                json!(["web-5d4f", "<none>", 2, "5m"]),
            ),
        ],
    );
}

#[test]
fn jobs_and_cronjobs() {
    let job = |spec: Value, status: Value| {
        let mut spec = spec;
        spec["template"] = json!({"spec": {"containers": [{"name": "pi", "image": "perl"}]}});
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}});
        obj("j", json!({"spec": spec, "status": status}))
    };
    let row = |status: &str, completions: &str, duration: &str| {
        json!([
            "j",
            status,
            completions,
            duration,
            "5m",
            "pi",
            "perl",
            "batch.kubernetes.io/controller-uid=u1"
        ])
    };
    let cond = |t: &str| json!([{"type": t, "status": "True"}]);
    check(
        "batch",
        "Job",
        &[
            (
                job(json!({"completions": 1, "parallelism": 1}), json!({})),
                row("Running", "0/1", ""),
            ),
            (
                job(
                    json!({"completions": 3}),
                    json!({"succeeded": 1, "startTime": "2024-01-09T23:56:00Z"}),
                ),
                row("Running", "1/3", "4m"),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"succeeded": 1, "conditions": cond("Complete"),
                    "startTime": "2024-01-09T23:56:00Z", "completionTime": "2024-01-09T23:56:12Z"}),
                ),
                row("Complete", "1/1", "12s"),
            ),
            (
                job(
                    json!({"parallelism": 2}),
                    json!({"conditions": cond("Failed")}),
                ),
                row("Failed", "0/1 of 2", ""),
            ),
            (
                job(
                    json!({"parallelism": 1}),
                    json!({"conditions": cond("Suspended")}),
                ),
                row("Suspended", "0/1", ""),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"conditions": cond("FailureTarget")}),
                ),
                row("FailureTarget", "0/1", ""),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"conditions": cond("SuccessCriteriaMet")}),
                ),
                row("SuccessCriteriaMet", "0/1", ""),
            ),
            (
                job(
                    json!({"completions": 1}),
                    json!({"conditions": [{"type": "Complete", "status": "False"}]}),
                ),
                row("Running", "0/1", ""),
            ),
        ],
    );
    check(
        "batch",
        "CronJob",
        &[
            (
                obj(
                    "c",
                    json!({"spec": {"schedule": "*/5 * * * *", "suspend": false,
                    "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "b"}]}}}}}}),
                ),
                json!([
                    "c",
                    "*/5 * * * *",
                    "<none>",
                    "False",
                    0,
                    "<none>",
                    "5m",
                    "a",
                    "b",
                    "<none>"
                ]),
            ),
            (
                obj(
                    "c",
                    json!({"spec": {"schedule": "@hourly", "timeZone": "Etc/UTC", "suspend": true,
                    "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}},
                    "status": {"active": [{"name": "c-1"}], "lastScheduleTime": "2024-01-09T23:59:00Z"}}),
                ),
                json!([
                    "c", "@hourly", "Etc/UTC", "True", 1, "60s", "5m", "", "", "<none>"
                ]),
            ),
        ],
    );
}

#[test]
fn volumes_and_claims() {
    check(
        "",
        "PersistentVolume",
        &[
            (
                obj(
                    "pv1",
                    json!({"spec": {"capacity": {"storage": "1024Mi"},
                    "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                    "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
                    "status": {"phase": "Bound"}}),
                ),
                json!([
                    "pv1",
                    "1Gi",
                    "RWO,RWX",
                    "Retain",
                    "Bound",
                    "default/data",
                    "fast",
                    "<unset>",
                    "",
                    "5m",
                    "Filesystem"
                ]),
            ),
            (
                {
                    let mut pv = obj(
                        "pv2",
                        json!({"spec": {"storageClassName": "fast", "volumeAttributesClassName": "gold"},
                        "status": {"phase": "Failed", "reason": "Oops"}}),
                    );
                    pv["metadata"]["annotations"] =
                        json!({"volume.beta.kubernetes.io/storage-class": "old"});
                    pv["metadata"]["deletionTimestamp"] = json!(NOW);
                    pv
                },
                json!([
                    "pv2",
                    "0",
                    "",
                    "",
                    "Terminating",
                    "",
                    "old",
                    "gold",
                    "Oops",
                    "5m",
                    "<unset>"
                ]),
            ),
        ],
    );
    check(
        "",
        "PersistentVolumeClaim",
        &[
            (
                obj(
                    "c",
                    json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Pending"}}),
                ),
                json!([
                    "c", "Pending", "", "", "", "fast", "<unset>", "5m", "<unset>"
                ]),
            ),
            (
                obj(
                    "c",
                    json!({"spec": {"volumeName": "pv1", "volumeMode": "Block"},
                    "status": {"phase": "Bound", "capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOncePod"]}}),
                ),
                json!([
                    "c", "Bound", "pv1", "2Gi", "RWOP", "", "<unset>", "5m", "Block"
                ]),
            ),
        ],
    );
}

#[test]
fn storage_classes_and_csi() {
    let mut default = obj(
        "standard",
        json!({"provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true}),
    );
    default["metadata"]["annotations"] =
        json!({"storageclass.kubernetes.io/is-default-class": "true"});
    check(
        "storage.k8s.io",
        "StorageClass",
        &[
            (
                default,
                json!([
                    "standard (default)",
                    "rancher.io/local-path",
                    "Delete",
                    "WaitForFirstConsumer",
                    true,
                    "5m"
                ]),
            ),
            (
                obj(
                    "slow",
                    json!({"provisioner": "x", "reclaimPolicy": "Retain"}),
                ),
                json!(["slow", "x", "Retain", "Immediate", false, "5m"]),
            ),
        ],
    );
    check(
        "storage.k8s.io",
        "CSIDriver",
        &[(
            obj(
                "d",
                json!({"spec": {"tokenRequests": [{"audience": "a"}, {"audience": "b"}],
                "volumeLifecycleModes": ["Persistent", "Ephemeral"]}}),
            ),
            json!([
                "d",
                true,
                false,
                false,
                "a,b",
                false,
                "Persistent,Ephemeral",
                "5m"
            ]),
        )],
    );
    check(
        "storage.k8s.io",
        "CSINode",
        &[(
            obj("n", json!({"spec": {"drivers": [{"name": "x"}]}})),
            json!(["n", 1, "5m"]),
        )],
    );
    check(
        "storage.k8s.io",
        "VolumeAttachment",
        &[(
            obj(
                "va",
                json!({"spec": {"attacher": "csi.x", "nodeName": "n1",
                "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}}),
            ),
            json!(["va", "csi.x", "pv1", "n1", true, "5m"]),
        )],
    );
    check(
        "storage.k8s.io",
        "CSIStorageCapacity",
        &[
            (
                obj(
                    "cap",
                    json!({"storageClassName": "fast", "capacity": "100Gi"}),
                ),
                json!(["cap", "fast", "100Gi"]),
            ),
            (
                obj("cap", json!({"storageClassName": "fast"})),
                json!(["cap", "fast", "<unset>"]),
            ),
        ],
    );
}

#[test]
fn rbac_and_defaults() {
    check(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        &[(
            obj(
                "rb",
                json!({"roleRef": {"kind": "Role", "name": "reader"}, "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "namespace": "ci", "name": "builder"}]}),
            ),
            json!([
                "rb",
                "Role/reader",
                "5m",
                "alice, bob",
                "devs",
                "ci/builder"
            ]),
        )],
    );
    check(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        &[(
            obj(
                "crb",
                json!({"roleRef": {"kind": "ClusterRole", "name": "admin"}}),
            ),
            json!(["crb", "ClusterRole/admin", "5m", "", "", ""]),
        )],
    );
    // Roles, ClusterRoles and LimitRanges have no printer: the default table.
    for (group, kind) in [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("", "LimitRange"),
    ] {
        check(
            group,
            kind,
            &[(obj("x", json!({})), json!(["x", "2024-01-09T23:55:00Z"]))],
        );
    }
}

#[test]
fn small_kinds() {
    check(
        "",
        "Namespace",
        &[(
            obj("ns", json!({"status": {"phase": "Active"}})),
            json!(["ns", "Active", "5m"]),
        )],
    );
    check(
        "",
        "ConfigMap",
        &[(
            obj(
                "cm",
                json!({"data": {"a": "1"}, "binaryData": {"b": "AA=="}}),
            ),
            json!(["cm", 2, "5m"]),
        )],
    );
    check(
        "",
        "Secret",
        &[(
            obj("s", json!({"type": "Opaque", "data": {"a": "MQ=="}})),
            json!(["s", "Opaque", 1, "5m"]),
        )],
    );
    check(
        "",
        "ServiceAccount",
        &[(
            obj("sa", json!({"secrets": [{"name": "t"}]})),
            json!(["sa", 1, "5m"]),
        )],
    );
    check(
        "coordination.k8s.io",
        "Lease",
        &[
            (
                obj("l", json!({"spec": {"holderIdentity": "n1"}})),
                json!(["l", "n1", "5m"]),
            ),
            (obj("l", json!({"spec": {}})), json!(["l", "", "5m"])),
        ],
    );
}

#[test]
fn policy_kinds() {
    check(
        "policy",
        "PodDisruptionBudget",
        &[
            (
                obj(
                    "pdb",
                    json!({"spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 2}}),
                ),
                json!(["pdb", "1", "N/A", 2, "5m"]),
            ),
            (
                obj("pdb", json!({"spec": {"maxUnavailable": "25%"}})),
                json!(["pdb", "N/A", "25%", 0, "5m"]),
            ),
        ],
    );
    let cpu =
        |target: Value| json!({"type": "Resource", "resource": {"name": "cpu", "target": target}});
    check(
        "autoscaling",
        "HorizontalPodAutoscaler",
        &[
            (
                obj(
                    "h",
                    json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                    "minReplicas": 1, "maxReplicas": 5,
                    "metrics": [cpu(json!({"type": "Utilization", "averageUtilization": 80}))]},
                    "status": {"currentReplicas": 2}}),
                ),
                json!(["h", "Deployment/web", "cpu: <unknown>/80%", "1", 5, 2, "5m"]),
            ),
            (
                obj(
                    "h",
                    json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                    "metrics": [
                        cpu(json!({"type": "Utilization", "averageUtilization": 50})),
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
                    ]},
                    "status": {"currentReplicas": 3, "currentMetrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35, "averageValue": "35m"}}},
                        {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "256Mi"}}},
                    ]}}),
                ),
                json!([
                    "h",
                    "Deployment/web",
                    "cpu: 35%/50%, memory: 256Mi/512Mi + 1 more...",
                    "<unset>",
                    3,
                    3,
                    "5m"
                ]),
            ),
            (
                obj(
                    "h",
                    json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}}),
                ),
                json!(["h", "Deployment/web", "<none>", "<unset>", 3, 0, "5m"]),
            ),
        ],
    );
    check(
        "",
        "ResourceQuota",
        &[(
            obj(
                "q",
                json!({"status": {
                "hard": {"requests.cpu": "2", "pods": "10", "limits.memory": "2Gi", "limits.cpu": "4"},
                "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}}}),
            ),
            json!([
                "q",
                "pods: 3/10, requests.cpu: 500m/2",
                "limits.cpu: 1/4, limits.memory: 0/2Gi",
                "5m"
            ]),
        )],
    );
    check(
        "scheduling.k8s.io",
        "PriorityClass",
        &[(
            obj(
                "high",
                json!({"value": 1000, "globalDefault": true, "preemptionPolicy": "Never"}),
            ),
            json!(["high", 1000, true, "5m", "Never"]),
        )],
    );
}
