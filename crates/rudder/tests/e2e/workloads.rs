//! StatefulSets, DaemonSets, Jobs and CronJobs with simulated nodes.

use std::time::Duration;

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
