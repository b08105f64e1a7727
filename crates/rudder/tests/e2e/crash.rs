//! Durability: every write the server acknowledged survives `kill -9` and a restart.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use super::cluster;

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut c = cluster();
    c.kubectl(&["create", "namespace", "crash"]).ok();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let c_ref = &c;
    std::thread::scope(|scope| {
        for client in 0..4 {
            let acknowledged = acknowledged.clone();
            scope.spawn(move || {
                for i in 0..200 {
                    let name = format!("w-{client}-{i}");
                    let run = c_ref.kubectl(&[
                        "create",
                        "configmap",
                        &name,
                        "-n",
                        "crash",
                        "--from-literal=i=1",
                    ]);
                    if !run.success {
                        return;
                    }
                    acknowledged.lock().unwrap().push(name);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(3));
        // SIGKILL while the clients are still writing.
        let pid = c_ref.pid().expect("server is running");
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    });
    let acked = acknowledged.lock().unwrap().clone();
    assert!(!acked.is_empty());
    c.restart().unwrap();
    let stored = c
        .kubectl(&["get", "configmaps", "-n", "crash", "-o", "name"])
        .ok()
        .to_string();
    for name in &acked {
        assert!(
            stored.contains(&format!("configmap/{name}\n")),
            "acknowledged {name} is missing after restart"
        );
    }
}
