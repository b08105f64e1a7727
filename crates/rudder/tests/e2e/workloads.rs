//! StatefulSets, DaemonSets, Jobs and CronJobs with simulated nodes.

use std::{collections::BTreeMap, time::Duration};

use testkit::{Cluster, eventually};

fn apply(cluster: &Cluster, name: &str, yaml: &str) {
    let file = cluster.file(name, yaml);
    cluster
        .kubectl(&["apply", "-f", file.to_str().unwrap()])
        .ok();
}

fn jsonpath(cluster: &Cluster, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let expr = format!("jsonpath={path}");
    args.extend_from_slice(&["-o", &expr]);
    cluster.kubectl(&args).stdout
}

#[test]
fn a_job_with_completions_5_and_parallelism_2_completes() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    apply(
        &cluster,
        "job.yaml",
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  completions: 5
  parallelism: 2
  template:
    metadata:
      annotations: {rudder.dev/simulate-exit-after: 500ms}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"#,
    );
    let mut most_active = 0;
    let done = eventually(Duration::from_secs(60), || {
        let active: usize = jsonpath(
            &cluster,
            &[
                "pods",
                "-l",
                "job-name=batch",
                "--field-selector=status.phase!=Succeeded",
            ],
            "{.items[*].metadata.name}",
        )
        .split_whitespace()
        .count();
        most_active = most_active.max(active);
        jsonpath(&cluster, &["job", "batch"], "{.status.succeeded}") == "5"
    });
    assert!(
        done,
        "{}",
        cluster.kubectl(&["describe", "job", "batch"]).stdout
    );
    assert!(
        most_active <= 2,
        "at most parallelism pods run at once, saw {most_active}"
    );
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/batch",
            "--timeout=20s",
        ])
        .ok();
    let pods = jsonpath(
        &cluster,
        &["pods", "-l", "job-name=batch"],
        "{.items[*].metadata.name}",
    );
    assert_eq!(pods.split_whitespace().count(), 5);
    let describe = cluster
        .kubectl(&["describe", "job", "batch"])
        .ok()
        .to_string();
    assert!(describe.contains("Completed"), "{describe}");
    // Counted pods lose the tracking finalizer.
    assert_eq!(
        jsonpath(
            &cluster,
            &["pods", "-l", "job-name=batch"],
            "{.items[*].metadata.finalizers}"
        ),
        ""
    );
    assert_eq!(
        jsonpath(
            &cluster,
            &["job", "batch"],
            "{.status.uncountedTerminatedPods}"
        ),
        "{}"
    );

    // A running Job's pods hold the finalizer; deleting the Job frees and removes them.
    apply(
        &cluster,
        "long.yaml",
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: long}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"#,
    );
    assert!(eventually(Duration::from_secs(30), || {
        jsonpath(
            &cluster,
            &["pods", "-l", "job-name=long"],
            "{.items[*].metadata.finalizers[*]}",
        ) == "batch.kubernetes.io/job-tracking"
    }));
    cluster.kubectl(&["delete", "job", "long"]).ok();
    assert!(
        eventually(Duration::from_secs(30), || names(
            &cluster,
            &["pods", "-l", "job-name=long"]
        )
        .is_empty()),
        "{}",
        cluster
            .kubectl(&["get", "pods", "-l", "job-name=long", "-o", "yaml"])
            .stdout
    );
}

#[test]
fn a_failing_job_stops_at_its_backoff_limit_and_indexed_jobs_complete_every_index() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "1"]).unwrap();
    apply(
        &cluster,
        "jobs.yaml",
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {rudder.dev/simulate-exit-after: 300ms, rudder.dev/simulate-exit-code: "1"}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: indexed}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  ttlSecondsAfterFinished: 3
  template:
    metadata:
      annotations: {rudder.dev/simulate-exit-after: 300ms}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"#,
    );
    assert!(eventually(Duration::from_secs(30), || {
        jsonpath(
            &cluster,
            &["job", "flaky"],
            "{.status.conditions[?(@.type==\"Failed\")].reason}",
        ) == "BackoffLimitExceeded"
    }));
    assert_eq!(
        jsonpath(&cluster, &["job", "flaky"], "{.status.failed}"),
        "2"
    );
    assert!(eventually(Duration::from_secs(30), || {
        jsonpath(&cluster, &["job", "indexed"], "{.status.completedIndexes}") == "0-2"
    }));
    let hostnames = jsonpath(
        &cluster,
        &["pods", "-l", "job-name=indexed"],
        "{.items[*].spec.hostname}",
    );
    let mut names: Vec<&str> = hostnames.split_whitespace().collect();
    names.sort();
    assert_eq!(names, vec!["indexed-0", "indexed-1", "indexed-2"]);
    // ttlSecondsAfterFinished deletes the finished Job (and the garbage collector its pods).
    assert!(eventually(Duration::from_secs(30), || !cluster
        .kubectl(&["get", "job", "indexed"])
        .success));
}

fn names(cluster: &Cluster, what: &[&str]) -> Vec<String> {
    let mut list: Vec<String> = jsonpath(cluster, what, "{.items[*].metadata.name}")
        .split_whitespace()
        .map(String::from)
        .collect();
    list.sort();
    list
}

#[test]
fn a_statefulset_creates_pods_in_order_with_their_own_claims_and_scales_down_from_the_top() {
    let cluster = crate::cluster();
    apply(
        &cluster,
        "web.yaml",
        r#"
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: nginx}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers: [{name: nginx, image: nginx}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"#,
    );
    // Without nodes web-0 cannot become Ready, so web-1 is never created.
    assert!(eventually(Duration::from_secs(20), || {
        cluster.kubectl(&["get", "pod", "web-0"]).success
    }));
    let mut polls = 0;
    while polls < 40 {
        assert_eq!(
            names(&cluster, &["pods", "-l", "app=nginx"]),
            vec!["web-0"],
            "web-1 must wait for web-0 to be Ready"
        );
        std::thread::sleep(Duration::from_millis(50));
        polls += 1;
    }
    assert!(cluster.kubectl(&["get", "pvc", "www-web-0"]).success);

    let _nodes = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    // In every snapshot of the pods, each pod's predecessor exists and is Ready.
    let all_ready = eventually(Duration::from_secs(60), || {
        let list = cluster
            .kubectl(&["get", "pods", "-l", "app=nginx", "-o", "json"])
            .json();
        let ready: BTreeMap<String, bool> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let ready = p["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True");
                (
                    p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    ready,
                )
            })
            .collect();
        for ordinal in 1..3 {
            if ready.contains_key(&format!("web-{ordinal}")) {
                let before = format!("web-{}", ordinal - 1);
                assert_eq!(
                    ready.get(&before),
                    Some(&true),
                    "web-{ordinal} exists before {before} is Ready: {ready:?}"
                );
            }
        }
        ready.len() == 3 && ready.values().all(|r| *r)
    });
    assert!(
        all_ready,
        "{}",
        cluster.kubectl(&["describe", "statefulset", "web"]).stdout
    );
    assert!(eventually(Duration::from_secs(10), || {
        jsonpath(&cluster, &["statefulset", "web"], "{.status.readyReplicas}") == "3"
    }));
    let pod = cluster
        .kubectl(&["get", "pod", "web-1", "-o", "json"])
        .json();
    assert_eq!(pod["spec"]["hostname"], "web-1");
    assert_eq!(pod["spec"]["subdomain"], "nginx");
    assert_eq!(
        pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    assert_eq!(
        pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
        "1"
    );
    let revision = jsonpath(
        &cluster,
        &["statefulset", "web"],
        "{.status.updateRevision}",
    );
    assert_eq!(
        pod["metadata"]["labels"]["controller-revision-hash"],
        revision.as_str()
    );
    assert!(
        cluster
            .kubectl(&["get", "controllerrevision", &revision])
            .success
    );
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        volumes
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == "www-web-1"),
        "{volumes:?}"
    );
    assert_eq!(
        names(&cluster, &["pvc"]),
        vec!["www-web-0", "www-web-1", "www-web-2"]
    );
    let events = cluster
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
        ])
        .ok()
        .to_string();
    assert!(
        events.contains("create Pod web-0 in StatefulSet web successful")
            && events.contains("create Claim www-web-0 Pod web-0 in StatefulSet web success"),
        "{events}"
    );

    // Scaling down removes web-2 before web-1, and keeps every claim.
    cluster
        .kubectl(&["scale", "statefulset", "web", "--replicas=1"])
        .ok();
    let gone = eventually(Duration::from_secs(30), || {
        let pods = names(&cluster, &["pods", "-l", "app=nginx"]);
        assert!(
            !pods.contains(&"web-2".to_string()) || pods.contains(&"web-1".to_string()),
            "web-1 went before web-2: {pods:?}"
        );
        pods == vec!["web-0"]
    });
    assert!(gone);
    assert_eq!(
        names(&cluster, &["pvc"]),
        vec!["www-web-0", "www-web-1", "www-web-2"]
    );
    assert!(eventually(Duration::from_secs(10), || {
        jsonpath(&cluster, &["statefulset", "web"], "{.status.replicas}") == "1"
    }));
}

#[test]
fn a_statefulset_rolls_out_a_new_template_from_the_highest_ordinal() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "1"]).unwrap();
    apply(
        &cluster,
        "db.yaml",
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "db:1"}]
"#,
    );
    assert!(eventually(Duration::from_secs(30), || {
        jsonpath(&cluster, &["statefulset", "db"], "{.status.readyReplicas}") == "3"
    }));
    let first = jsonpath(
        &cluster,
        &["statefulset", "db"],
        "{.status.currentRevision}",
    );
    cluster
        .kubectl(&["set", "image", "statefulset/db", "db=db:2"])
        .ok();
    cluster
        .kubectl(&["rollout", "status", "statefulset/db", "--timeout=60s"])
        .ok();
    let images = jsonpath(
        &cluster,
        &["pods", "-l", "app=db"],
        "{.items[*].spec.containers[0].image}",
    );
    assert_eq!(images, "db:2 db:2 db:2");
    let status = cluster
        .kubectl(&["get", "statefulset", "db", "-o", "json"])
        .json()["status"]
        .clone();
    assert_eq!(status["currentRevision"], status["updateRevision"]);
    assert_ne!(status["currentRevision"], first.as_str());
    assert_eq!(status["updatedReplicas"], 3);
    let history = cluster
        .kubectl(&["rollout", "history", "statefulset/db"])
        .ok()
        .to_string();
    assert!(history.contains('1') && history.contains('2'), "{history}");
    // Undo goes back to the first template, whose revision becomes the newest.
    cluster.kubectl(&["rollout", "undo", "statefulset/db"]).ok();
    cluster
        .kubectl(&["rollout", "status", "statefulset/db", "--timeout=60s"])
        .ok();
    let images = jsonpath(
        &cluster,
        &["pods", "-l", "app=db"],
        "{.items[*].spec.containers[0].image}",
    );
    assert_eq!(images, "db:1 db:1 db:1");
    assert_eq!(
        jsonpath(&cluster, &["statefulset", "db"], "{.status.updateRevision}"),
        first
    );
    assert_eq!(
        jsonpath(&cluster, &["controllerrevision", &first], "{.revision}"),
        "3"
    );

    // With whenScaled: Delete the claims of removed ordinals go with their pods.
    apply(
        &cluster,
        "cache.yaml",
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache}
spec:
  serviceName: cache
  replicas: 2
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete}
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers: [{name: c, image: cache}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"#,
    );
    assert!(eventually(Duration::from_secs(30), || {
        jsonpath(
            &cluster,
            &["statefulset", "cache"],
            "{.status.readyReplicas}",
        ) == "2"
    }));
    assert_eq!(
        names(&cluster, &["pvc"]),
        vec!["data-cache-0", "data-cache-1"]
    );
    cluster
        .kubectl(&["scale", "statefulset", "cache", "--replicas=1"])
        .ok();
    assert!(
        eventually(Duration::from_secs(30), || names(&cluster, &["pvc"])
            == vec!["data-cache-0"]),
        "{:?}",
        names(&cluster, &["pvc"])
    );
}

#[test]
fn a_daemonset_covers_every_fitting_node_including_new_ones() {
    let cluster = crate::cluster();
    let _plain = cluster.simulate_nodes(&["--count", "2"]).unwrap();
    let _tainted = cluster
        .simulate_nodes(&[
            "--count",
            "1",
            "--prefix",
            "gpu",
            "--taints",
            "dedicated=gpu:NoSchedule",
        ])
        .unwrap();
    apply(
        &cluster,
        "agent.yaml",
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: agent}]
"#,
    );
    let placed = |cluster: &Cluster| {
        let mut nodes: Vec<String> = jsonpath(
            cluster,
            &[
                "pods",
                "-l",
                "app=agent",
                "--field-selector=status.phase=Running",
            ],
            "{.items[*].spec.nodeName}",
        )
        .split_whitespace()
        .map(String::from)
        .collect();
        nodes.sort();
        nodes
    };
    assert!(
        eventually(Duration::from_secs(30), || placed(&cluster)
            == vec!["sim-node-0", "sim-node-1"]),
        "{:?} {}",
        placed(&cluster),
        cluster.kubectl(&["describe", "daemonset", "agent"]).stdout
    );
    assert!(eventually(Duration::from_secs(10), || {
        jsonpath(
            &cluster,
            &["daemonset", "agent"],
            "{.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled}",
        ) == "2 2 2"
    }));
    let pod = cluster
        .kubectl(&["get", "pods", "-l", "app=agent", "-o", "json"])
        .json()["items"][0]
        .clone();
    let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"][0];
    assert_eq!(term["key"], "metadata.name");
    assert_eq!(term["values"][0], pod["spec"]["nodeName"]);

    // A node added later gets its pod.
    let _more = cluster
        .simulate_nodes(&["--count", "1", "--prefix", "late"])
        .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || placed(&cluster)
            == vec!["late-0", "sim-node-0", "sim-node-1"]),
        "{:?}",
        placed(&cluster)
    );
    // A node that goes loses its pod.
    cluster.kubectl(&["delete", "node", "late-0"]).ok();
    assert!(eventually(Duration::from_secs(30), || {
        placed(&cluster) == vec!["sim-node-0", "sim-node-1"]
            && jsonpath(
                &cluster,
                &["daemonset", "agent"],
                "{.status.desiredNumberScheduled}",
            ) == "2"
    }));
    // A new template rolls out one node at a time.
    cluster
        .kubectl(&["set", "image", "daemonset/agent", "agent=agent:2"])
        .ok();
    cluster
        .kubectl(&["rollout", "status", "daemonset/agent", "--timeout=60s"])
        .ok();
    let images = jsonpath(
        &cluster,
        &["pods", "-l", "app=agent"],
        "{.items[*].spec.containers[0].image}",
    );
    assert_eq!(images, "agent:2 agent:2");
}

#[test]
fn a_cronjob_runs_every_minute_and_keeps_its_history_limit() {
    let cluster = crate::cluster();
    let _nodes = cluster.simulate_nodes(&["--count", "1"]).unwrap();
    apply(
        &cluster,
        "hello.yaml",
        r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {rudder.dev/simulate-exit-after: 300ms}
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox}]
"#,
    );
    // A Job made by hand from the CronJob counts toward its history.
    cluster
        .kubectl(&["create", "job", "--from=cronjob/hello", "manual"])
        .ok();
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/manual",
            "--timeout=30s",
        ])
        .ok();
    // Within a minute the schedule creates hello-<minute>; once it completes, the older
    // finished Job goes.
    let scheduled = || {
        names(&cluster, &["jobs"])
            .into_iter()
            .filter(|n| n.starts_with("hello-"))
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(75), || !scheduled().is_empty()),
        "{}",
        cluster.kubectl(&["describe", "cronjob", "hello"]).stdout
    );
    let job = scheduled()[0].clone();
    let minutes: i64 = job.trim_start_matches("hello-").parse().expect("minutes");
    let stamp = jsonpath(
        &cluster,
        &["job", &job],
        "{.metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp}",
    );
    let date = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", minutes * 60),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .expect("date");
    assert_eq!(stamp, String::from_utf8_lossy(&date.stdout).trim());
    assert_eq!(
        jsonpath(
            &cluster,
            &["job", &job],
            "{.metadata.ownerReferences[0].kind}"
        ),
        "CronJob"
    );
    assert!(
        eventually(Duration::from_secs(30), || !cluster
            .kubectl(&["get", "job", "manual"])
            .success),
        "{}",
        cluster.kubectl(&["get", "jobs"]).stdout
    );
    assert!(eventually(Duration::from_secs(10), || {
        !jsonpath(
            &cluster,
            &["cronjob", "hello"],
            "{.status.lastSuccessfulTime}",
        )
        .is_empty()
    }));
    assert_eq!(
        jsonpath(
            &cluster,
            &["cronjob", "hello"],
            "{.status.lastScheduleTime}"
        ),
        stamp
    );
    let events = cluster
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=hello",
        ])
        .ok()
        .to_string();
    for wanted in [
        format!("Created job {job}"),
        format!("Saw completed job: {job}, condition: Complete"),
        "Deleted job manual".to_string(),
    ] {
        assert!(events.contains(&wanted), "{wanted} in {events}");
    }
}
