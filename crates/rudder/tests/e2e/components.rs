//! Control-plane components run alone (`rudder controller-manager`, `rudder scheduler`) with
//! leader election on Leases in kube-system.

use std::{path::Path, time::Duration};

use testkit::{Cluster, eventually};

fn holder(cluster: &Cluster, lease: &str) -> String {
    cluster
        .kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            lease,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .stdout
}

#[test]
fn a_standby_controller_manager_takes_over_when_the_leader_dies() {
    let cluster = Cluster::start_with(
        Path::new(env!("CARGO_BIN_EXE_rudder")),
        &[
            "--datastore",
            "memory",
            "--disable-controller-manager",
            "--disable-scheduler",
        ],
    )
    .expect("starting rudder");
    let mut first = cluster.spawn(&["controller-manager"]).unwrap();
    assert!(
        eventually(Duration::from_secs(20), || !holder(
            &cluster,
            "kube-controller-manager"
        )
        .is_empty()),
        "the first controller manager never took the lease: {}",
        first.log()
    );
    let leader = holder(&cluster, "kube-controller-manager");
    let second = cluster.spawn(&["controller-manager"]).unwrap();
    // Only the leader works: the standby waits for the lease.
    assert!(
        eventually(Duration::from_secs(10), || second
            .log()
            .contains("waiting for the lease")),
        "{}",
        second.log()
    );
    assert_eq!(holder(&cluster, "kube-controller-manager"), leader);
    // The leader's controllers run: every namespace gets its default service account.
    cluster.kubectl(&["create", "namespace", "team-a"]).ok();
    assert!(eventually(Duration::from_secs(10), || {
        cluster
            .kubectl(&["get", "serviceaccount", "default", "-n", "team-a"])
            .success
    }));
    first.stop();
    // The lease expires (15 s) and the standby takes over and does the work.
    assert!(
        eventually(Duration::from_secs(40), || {
            let now = holder(&cluster, "kube-controller-manager");
            !now.is_empty() && now != leader
        }),
        "the standby never took over: {}",
        second.log()
    );
    cluster.kubectl(&["create", "namespace", "team-b"]).ok();
    assert!(eventually(Duration::from_secs(10), || {
        cluster
            .kubectl(&["get", "serviceaccount", "default", "-n", "team-b"])
            .success
    }));
    let transitions = cluster
        .kubectl(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            "kube-controller-manager",
            "-o",
            "jsonpath={.spec.leaseTransitions}",
        ])
        .stdout;
    assert_eq!(transitions.trim(), "1");
}

#[test]
fn the_server_runs_both_components_under_their_leases() {
    let cluster = crate::cluster();
    assert!(eventually(Duration::from_secs(20), || {
        !holder(&cluster, "kube-controller-manager").is_empty()
            && !holder(&cluster, "kube-scheduler").is_empty()
    }));
    let leases = cluster
        .kubectl(&["get", "lease", "-n", "kube-system", "-o", "name"])
        .ok()
        .to_string();
    assert!(
        leases.contains("lease.coordination.k8s.io/kube-controller-manager"),
        "{leases}"
    );
    assert!(
        leases.contains("lease.coordination.k8s.io/kube-scheduler"),
        "{leases}"
    );
}

#[test]
fn every_component_has_help() {
    for sub in [
        "server",
        "controller-manager",
        "scheduler",
        "simulate-nodes",
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rudder"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{sub} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("--kubeconfig") || sub == "server",
            "{sub}: {text}"
        );
    }
}
