//! Endpoints, EndpointSlices, volumes (PV binder, local-path), disruption budgets, quotas and autoscalers with simulated nodes.

use std::{path::Path, time::Duration};

use serde_json::Value;
use testkit::{Cluster, eventually};

const WAIT: Duration = Duration::from_secs(30);

/// A cluster with the memory store.
fn cluster() -> Cluster {
    Cluster::start_with(
        Path::new(env!("CARGO_BIN_EXE_rudder")),
        &["--datastore", "memory"],
    )
    .expect("starting rudder")
}

/// A pod already bound to `node`, labelled `app=<app>`, serving `http` on 8080.
fn pod_on(cluster: &Cluster, name: &str, app: &str, node: &str) {
    let yaml = format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {app}}}
spec:
  nodeName: {node}
  containers:
  - name: c
    image: nginx
    ports: [{{name: http, containerPort: 8080}}]
"
    );
    cluster.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok();
}

fn json(cluster: &Cluster, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let run = cluster.kubectl(&all);
    if run.success { run.json() } else { Value::Null }
}

fn pod_ip(cluster: &Cluster, name: &str) -> String {
    let mut ip = String::new();
    assert!(
        eventually(WAIT, || {
            ip = cluster
                .kubectl(&["get", "pod", name, "-o", "jsonpath={.status.podIP}"])
                .stdout;
            !ip.is_empty()
        }),
        "pod {name} got no IP"
    );
    ip
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The (ready, not ready) IPs of the Endpoints object `name`.
fn endpoint_ips(cluster: &Cluster, name: &str) -> (Vec<String>, Vec<String>) {
    let ep = json(cluster, &["get", "endpoints", name]);
    let collect = |field: &str| {
        let ips = ep["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s[field].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["ip"].as_str().map(str::to_string))
            .collect();
        sorted(ips)
    };
    (collect("addresses"), collect("notReadyAddresses"))
}

/// The (ready, not ready) IPs across the Service's EndpointSlices.
fn slice_ips(cluster: &Cluster, service: &str) -> (Vec<String>, Vec<String>) {
    let label = format!("kubernetes.io/service-name={service}");
    let list = json(cluster, &["get", "endpointslices", "-l", &label]);
    let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
    for slice in list["items"].as_array().into_iter().flatten() {
        for e in slice["endpoints"].as_array().into_iter().flatten() {
            let ip = e["addresses"][0].as_str().unwrap_or_default().to_string();
            if e["conditions"]["ready"] == true {
                ready.push(ip);
            } else {
                not_ready.push(ip);
            }
        }
    }
    (sorted(ready), sorted(not_ready))
}

#[test]
fn a_service_gets_endpoints_and_slices_of_its_ready_pods() {
    let cluster = cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    for (name, node) in [
        ("web-0", "sim-node-0"),
        ("web-1", "sim-node-1"),
        ("web-2", "sim-node-0"),
    ] {
        pod_on(&cluster, name, "web", node);
    }
    pod_on(&cluster, "other", "other", "sim-node-1");
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: web, port: 80, targetPort: http}]
",
        )
        .ok();
    let ips: Vec<String> = ["web-0", "web-1", "web-2"]
        .iter()
        .map(|p| pod_ip(&cluster, p))
        .collect();
    let all = sorted(ips.clone());
    assert!(
        eventually(WAIT, || endpoint_ips(&cluster, "web")
            == (all.clone(), vec![])),
        "endpoints: {:?}",
        endpoint_ips(&cluster, "web")
    );
    assert!(
        eventually(WAIT, || slice_ips(&cluster, "web") == (all.clone(), vec![])),
        "slices: {:?}",
        slice_ips(&cluster, "web")
    );
    let ep = json(&cluster, &["get", "endpoints", "web"]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);
    assert_eq!(ep["subsets"][0]["ports"][0]["name"], "web");
    assert_eq!(
        ep["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"],
        "endpoint-controller"
    );
    assert!(
        ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .is_string()
    );
    let address = ep["subsets"][0]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ip"] == ips[1].as_str())
        .cloned()
        .unwrap();
    assert_eq!(address["nodeName"], "sim-node-1");
    assert_eq!(address["targetRef"]["name"], "web-1");
    let slices = json(
        &cluster,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
        ],
    );
    let slice = &slices["items"][0];
    assert_eq!(slices["items"].as_array().unwrap().len(), 1);
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert!(
        slice["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("web-")
    );
    assert_eq!(slice["ports"][0]["port"], 8080);
    let slice_name = slice["metadata"]["name"].as_str().unwrap().to_string();

    // Endpoints carry their node's zone, and follow it when it changes.
    cluster
        .kubectl(&[
            "label",
            "node",
            "sim-node-1",
            "topology.kubernetes.io/zone=z1",
        ])
        .ok();
    let zone_of_web_1 = || {
        let slices = json(
            &cluster,
            &[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
            ],
        );
        slices["items"][0]["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["targetRef"]["name"] == "web-1")
            .map(|e| e["zone"].clone())
            .unwrap_or(Value::Null)
    };
    assert!(
        eventually(WAIT, || zone_of_web_1() == "z1"),
        "{}",
        zone_of_web_1()
    );

    // A pod that stops being ready moves to notReadyAddresses / ready: false.
    cluster
        .kubectl(&[
            "patch",
            "pod",
            "web-0",
            "--subresource=status",
            "--type=strategic",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#,
        ])
        .ok();
    let ready_rest = sorted(vec![ips[1].clone(), ips[2].clone()]);
    assert!(
        eventually(WAIT, || endpoint_ips(&cluster, "web")
            == (ready_rest.clone(), vec![ips[0].clone()])),
        "endpoints: {:?}",
        endpoint_ips(&cluster, "web")
    );
    assert!(
        eventually(WAIT, || slice_ips(&cluster, "web")
            == (ready_rest.clone(), vec![ips[0].clone()])),
        "slices: {:?}",
        slice_ips(&cluster, "web")
    );

    // A deleted pod leaves both; the slice is updated in place.
    cluster
        .kubectl(&["delete", "pod", "web-1", "--wait=false"])
        .ok();
    assert!(
        eventually(WAIT, || endpoint_ips(&cluster, "web")
            == (vec![ips[2].clone()], vec![ips[0].clone()])),
        "endpoints: {:?}",
        endpoint_ips(&cluster, "web")
    );
    assert!(
        eventually(WAIT, || slice_ips(&cluster, "web")
            == (vec![ips[2].clone()], vec![ips[0].clone()])),
        "slices: {:?}",
        slice_ips(&cluster, "web")
    );
    let names = cluster
        .kubectl(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "name",
        ])
        .ok()
        .to_string();
    assert_eq!(
        names.trim(),
        format!("endpointslice.discovery.k8s.io/{slice_name}")
    );

    let describe = cluster
        .kubectl(&["describe", "service", "web"])
        .ok()
        .to_string();
    let line = describe
        .lines()
        .find(|l| l.starts_with("Endpoints:"))
        .unwrap_or_else(|| panic!("no Endpoints line: {describe}"));
    assert!(line.contains(&format!("{}:8080", ips[2])), "{line}");

    // A pod relabelled out of the selector leaves both.
    cluster
        .kubectl(&["label", "pod", "web-0", "app=gone", "--overwrite"])
        .ok();
    assert!(
        eventually(WAIT, || endpoint_ips(&cluster, "web")
            == (vec![ips[2].clone()], vec![])),
        "endpoints: {:?}",
        endpoint_ips(&cluster, "web")
    );
    assert!(
        eventually(WAIT, || slice_ips(&cluster, "web")
            == (vec![ips[2].clone()], vec![])),
        "slices: {:?}",
        slice_ips(&cluster, "web")
    );

    // The Endpoints go with the Service, and the slices with their owner.
    cluster.kubectl(&["delete", "service", "web"]).ok();
    assert!(eventually(WAIT, || {
        !cluster.kubectl(&["get", "endpoints", "web"]).success
    }));
    assert!(eventually(WAIT, || {
        cluster
            .kubectl(&[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
                "-o",
                "name",
            ])
            .ok()
            .trim()
            .is_empty()
    }));
}

fn phase(cluster: &Cluster, kind: &str, name: &str) -> String {
    cluster
        .kubectl(&["get", kind, name, "-o", "jsonpath={.status.phase}"])
        .stdout
}

fn events_of(cluster: &Cluster, name: &str) -> String {
    cluster
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ])
        .stdout
}

fn claim(cluster: &Cluster, name: &str, class: Option<&str>, size: &str) {
    let class = class
        .map(|c| format!("  storageClassName: \"{c}\"\n"))
        .unwrap_or_default();
    let yaml = format!(
        "apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}}}
spec:
{class}  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: {size}}}}}
"
    );
    cluster.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok();
}

#[test]
fn claims_bind_to_volumes_and_local_path_provisions_on_the_selected_node() {
    let cluster = cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    // The provisioner's default class exists.
    let class = |cluster: &Cluster| json(cluster, &["get", "storageclass", "local-path"]);
    assert!(eventually(WAIT, || class(&cluster) != Value::Null));
    let sc = class(&cluster);
    assert_eq!(sc["provisioner"], "rudder.dev/local-path");
    assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer");
    assert_eq!(sc["reclaimPolicy"], "Delete");
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );

    // A claim binds to the smallest matching pre-created volume.
    for (name, size) in [("big", "10Gi"), ("small", "1Gi")] {
        let yaml = format!(
            "apiVersion: v1
kind: PersistentVolume
metadata: {{name: {name}}}
spec:
  storageClassName: manual
  capacity: {{storage: {size}}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: /tmp/{name}}}
"
        );
        cluster.kubectl_stdin(&["apply", "-f", "-"], &yaml).ok();
    }
    claim(&cluster, "manual", Some("manual"), "500Mi");
    assert!(
        eventually(WAIT, || phase(&cluster, "pvc", "manual") == "Bound"
            && phase(&cluster, "pv", "small") == "Bound"),
        "pvc {} pv {}",
        phase(&cluster, "pvc", "manual"),
        phase(&cluster, "pv", "small")
    );
    let pvc = json(&cluster, &["get", "pvc", "manual"]);
    assert_eq!(pvc["spec"]["volumeName"], "small");
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    assert_eq!(
        pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"],
        "yes"
    );
    let pv = json(&cluster, &["get", "pv", "small"]);
    assert_eq!(pv["spec"]["claimRef"]["name"], "manual");
    assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
    assert_eq!(phase(&cluster, "pv", "big"), "Available");

    // A local-path claim waits for its first consumer.
    claim(&cluster, "data", Some("local-path"), "2Gi");
    assert!(
        eventually(WAIT, || events_of(&cluster, "data").contains(
            "WaitForFirstConsumer: waiting for first consumer to be created before binding"
        )),
        "{}",
        events_of(&cluster, "data")
    );
    assert_eq!(phase(&cluster, "pvc", "data"), "Pending");
    // As the scheduler would, name the node; the provisioner makes a volume there.
    cluster
        .kubectl(&[
            "annotate",
            "pvc",
            "data",
            "volume.kubernetes.io/selected-node=sim-node-1",
        ])
        .ok();
    assert!(
        eventually(WAIT, || phase(&cluster, "pvc", "data") == "Bound"),
        "{}",
        events_of(&cluster, "data")
    );
    let pvc = json(&cluster, &["get", "pvc", "data"]);
    let uid = pvc["metadata"]["uid"].as_str().unwrap().to_string();
    let volume = format!("pvc-{uid}");
    assert_eq!(pvc["spec"]["volumeName"], volume.as_str());
    let pv = json(&cluster, &["get", "pv", &volume]);
    assert_eq!(pv["status"]["phase"], "Bound");
    assert_eq!(pv["spec"]["capacity"]["storage"], "2Gi");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(
        pv["spec"]["hostPath"]["path"],
        format!("/var/lib/rudder/storage/{volume}_default_data")
    );
    assert_eq!(pv["spec"]["hostPath"]["type"], "DirectoryOrCreate");
    let term =
        &pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0];
    assert_eq!(term["key"], "kubernetes.io/hostname");
    assert_eq!(term["values"][0], "sim-node-1");
    assert_eq!(
        pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
        "rudder.dev/local-path"
    );
    let events = events_of(&cluster, "data");
    assert!(
        events.contains(&format!(
            "ProvisioningSucceeded: Successfully provisioned volume {volume}"
        )),
        "{events}"
    );
    assert!(events.contains("ExternalProvisioning"), "{events}");

    // A claim without a class gets the default one.
    claim(&cluster, "plain", None, "1Gi");
    assert!(eventually(WAIT, || {
        cluster
            .kubectl(&[
                "get",
                "pvc",
                "plain",
                "-o",
                "jsonpath={.spec.storageClassName}",
            ])
            .stdout
            == "local-path"
    }));

    // Released volumes: Delete removes the provisioned one, Retain keeps `small` Released.
    cluster.kubectl(&["delete", "pvc", "data", "manual"]).ok();
    assert!(eventually(WAIT, || !cluster
        .kubectl(&["get", "pv", &volume])
        .success));
    assert!(eventually(WAIT, || phase(&cluster, "pv", "small") == "Released"));
}

#[test]
fn a_disruption_budget_counts_healthy_pods_and_refuses_evictions() {
    let cluster = cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "1"]).unwrap();
    pod_on(&cluster, "db-0", "db", "sim-node-0");
    pod_on(&cluster, "db-1", "db", "sim-node-0");
    cluster
        .kubectl(&[
            "create",
            "poddisruptionbudget",
            "db",
            "--selector=app=db",
            "--min-available=2",
        ])
        .ok();
    let status = |cluster: &Cluster| json(cluster, &["get", "pdb", "db"])["status"].clone();
    assert!(
        eventually(WAIT, || {
            let s = status(&cluster);
            s["currentHealthy"] == 2 && s["desiredHealthy"] == 2 && s["expectedPods"] == 2
        }),
        "{}",
        status(&cluster)
    );
    let s = status(&cluster);
    assert_eq!(s["disruptionsAllowed"], 0);
    assert_eq!(s["conditions"][0]["type"], "DisruptionAllowed");
    assert_eq!(s["conditions"][0]["status"], "False");
    assert_eq!(s["conditions"][0]["reason"], "InsufficientPods");
    assert_eq!(s["observedGeneration"], 1);

    let eviction = cluster.file(
        "eviction.json",
        r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"db-0","namespace":"default"}}"#,
    );
    let path = "/api/v1/namespaces/default/pods/db-0/eviction";
    let refused = cluster
        .kubectl(&["create", "--raw", path, "-f", eviction.to_str().unwrap()])
        .fails()
        .to_string();
    assert!(refused.contains("TooManyRequests"), "{refused}");
    assert!(
        refused.contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{refused}"
    );

    // With room for one disruption, the eviction goes through.
    cluster
        .kubectl(&[
            "patch",
            "pdb",
            "db",
            "--type=merge",
            "-p",
            r#"{"spec":{"minAvailable":1}}"#,
        ])
        .ok();
    assert!(
        eventually(WAIT, || status(&cluster)["disruptionsAllowed"] == 1),
        "{}",
        status(&cluster)
    );
    assert_eq!(
        status(&cluster)["conditions"][0]["reason"],
        "SufficientPods"
    );
    assert_eq!(status(&cluster)["observedGeneration"], 2);
    cluster
        .kubectl(&["create", "--raw", path, "-f", eviction.to_str().unwrap()])
        .ok();
    assert!(eventually(WAIT, || !cluster
        .kubectl(&["get", "pod", "db-0"])
        .success));
    assert!(
        eventually(WAIT, || status(&cluster)["currentHealthy"] == 1
            && status(&cluster)["disruptionsAllowed"] == 0),
        "{}",
        status(&cluster)
    );
}

#[test]
fn a_quota_counts_pods_and_configmaps() {
    let cluster = cluster();
    cluster.kubectl(&["create", "namespace", "team"]).ok();
    cluster
        .kubectl(&[
            "create",
            "quota",
            "q",
            "-n",
            "team",
            "--hard=pods=10,configmaps=5,requests.cpu=2,count/deployments.apps=3",
        ])
        .ok();
    for name in ["a", "b"] {
        cluster
            .kubectl(&["run", name, "-n", "team", "--image=nginx", "--overrides",
                r#"{"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"250m"}}}]}}"#])
            .ok();
    }
    cluster
        .kubectl(&["create", "configmap", "one", "-n", "team"])
        .ok();
    let used =
        |cluster: &Cluster| json(cluster, &["get", "quota", "q", "-n", "team"])["status"].clone();
    let configmaps = || {
        cluster
            .kubectl(&["get", "configmaps", "-n", "team", "-o", "name"])
            .stdout
            .lines()
            .count()
            .to_string()
    };
    assert!(
        eventually(WAIT, || {
            let s = used(&cluster);
            s["used"]["pods"] == "2"
                && s["used"]["requests.cpu"] == "500m"
                && s["used"]["configmaps"] == configmaps().as_str()
        }),
        "{} (configmaps {})",
        used(&cluster),
        configmaps()
    );
    let s = used(&cluster);
    assert_eq!(s["hard"]["pods"], "10");
    assert_eq!(s["used"]["count/deployments.apps"], "0");
    // Changes are counted as they happen.
    cluster
        .kubectl(&["delete", "pod", "a", "-n", "team", "--wait=false"])
        .ok();
    cluster
        .kubectl(&["create", "configmap", "two", "-n", "team"])
        .ok();
    assert!(
        eventually(WAIT, || {
            let s = used(&cluster);
            s["used"]["configmaps"] == configmaps().as_str() && s["used"]["requests.cpu"] == "250m"
        }),
        "{}",
        used(&cluster)
    );
    // A scoped quota counts only the pods in its scope.
    cluster
        .kubectl(&[
            "create",
            "quota",
            "besteffort",
            "-n",
            "team",
            "--hard=pods=5",
            "--scopes=BestEffort",
        ])
        .ok();
    cluster
        .kubectl(&["run", "c", "-n", "team", "--image=nginx"])
        .ok();
    assert!(
        eventually(WAIT, || {
            json(&cluster, &["get", "quota", "besteffort", "-n", "team"])["status"]["used"]["pods"]
                == "1"
        }),
        "{}",
        json(&cluster, &["get", "quota", "besteffort", "-n", "team"])
    );
    assert!(eventually(WAIT, || used(&cluster)["used"]["pods"] == "2"));
    let describe = cluster
        .kubectl(&["describe", "quota", "q", "-n", "team"])
        .ok()
        .to_string();
    assert!(describe.contains("requests.cpu"), "{describe}");
}

#[test]
fn an_autoscaler_scales_a_deployment_to_min_replicas_and_reports_missing_metrics() {
    let cluster = cluster();
    cluster
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=1",
        ])
        .ok();
    cluster
        .kubectl(&[
            "autoscale",
            "deployment",
            "web",
            "--min=3",
            "--max=5",
            "--cpu-percent=50",
        ])
        .ok();
    assert!(eventually(WAIT, || {
        cluster
            .kubectl(&[
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.spec.replicas}",
            ])
            .stdout
            == "3"
    }));
    let condition = |hpa: &Value, kind: &str| {
        hpa["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let hpa = |cluster: &Cluster| json(cluster, &["get", "hpa.v2.autoscaling", "web"]);
    assert!(
        eventually(
            WAIT,
            || condition(&hpa(&cluster), "ScalingActive")["reason"] == "FailedGetResourceMetric"
        ),
        "{}",
        hpa(&cluster)
    );
    let h = hpa(&cluster);
    let able = condition(&h, "AbleToScale");
    assert_eq!(able["status"], "True");
    assert_eq!(able["reason"], "SucceededGetScale");
    let active = condition(&h, "ScalingActive");
    assert_eq!(active["status"], "False");
    assert_eq!(
        active["message"],
        "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    );
    assert_eq!(h["status"]["currentReplicas"], 3);
    assert_eq!(h["status"]["desiredReplicas"], 3);
    assert!(h["status"]["lastScaleTime"].is_string());
    let events = events_of(&cluster, "web");
    assert!(
        events.contains("SuccessfulRescale: New size: 3; reason: Current number of replicas below Spec.MinReplicas"),
        "{events}"
    );
}
