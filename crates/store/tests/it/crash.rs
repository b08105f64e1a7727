//! Crash test: a child process (this test binary, re-run on one test) writes keys as fast as it
//! can and prints each acknowledged key; it is killed with SIGKILL mid-stream, and every
//! acknowledged key must be in the reopened database.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use store::{SqliteStore, Storage};

/// Set in the child: the database to write to.
const CHILD_DB: &str = "STORE_CRASH_CHILD_DB";
/// Set in the child: the key prefix of its writes.
const CHILD_PREFIX: &str = "STORE_CRASH_CHILD_PREFIX";
/// Concurrent writer tasks in the child.
const CHILD_TASKS: usize = 16;

/// The value written under `key`.
fn value_of(key: &str) -> Bytes {
    Bytes::from(key.repeat(4))
}

/// The child's body; does nothing in a normal test run.
#[test]
fn child_writer() {
    let (Some(path), Some(prefix)) = (std::env::var_os(CHILD_DB), std::env::var(CHILD_PREFIX).ok())
    else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(Path::new(&path)).unwrap());
        // Runs until killed; the deadline only guards against an orphaned child.
        let deadline = Instant::now() + Duration::from_secs(60);
        let tasks: Vec<_> = (0..CHILD_TASKS)
            .map(|t| {
                let store = store.clone();
                let prefix = prefix.clone();
                tokio::spawn(async move {
                    let mut i = 0;
                    while Instant::now() < deadline {
                        let key = format!("{prefix}/{t}/{i}");
                        store.create(&key, value_of(&key)).await.unwrap();
                        println!("ACK {key}");
                        i += 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a child writing under `prefix` until it has acknowledged at least `min_acks` keys, kills
/// it with SIGKILL and returns the keys it acknowledged.
fn run_child_and_kill(path: &Path, prefix: &str, min_acks: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "crash::child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, path)
        .env(CHILD_PREFIX, prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().unwrap();
    let mut child = KillOnDrop(child);
    let (lines, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < min_acks {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(key) = line.strip_prefix("ACK ") {
                    acked.push(key.to_owned());
                }
            }
            Err(e) => panic!(
                "child stopped acknowledging after {} keys: {e}",
                acked.len()
            ),
        }
    }
    // SIGKILL: no destructor, no final checkpoint, writes in flight.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // Acknowledgements already in the pipe are acknowledged writes too.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        if let Some(key) = line.strip_prefix("ACK ") {
            acked.push(key.to_owned());
        }
    }
    acked
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if std::env::var_os(CHILD_DB).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut all_acked = Vec::new();
    for round in 0..3 {
        let acked = run_child_and_kill(&path, &format!("/crash/r{round}"), 300 + 200 * round);
        all_acked.extend(acked);

        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        drop(conn);

        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let store = SqliteStore::open(&path).unwrap();
            for key in &all_acked {
                let kv = store.get(key).await.unwrap();
                let kv = kv.unwrap_or_else(|| panic!("acknowledged key {key} lost"));
                assert_eq!(kv.value, value_of(key));
            }
            // Only creates: one key per revision, so no commit was torn.
            let list = store.list("/crash/").await.unwrap();
            assert_eq!(list.kvs.len() as i64, list.revision);
            assert_eq!(store.current_revision().await.unwrap(), list.revision);
            assert!(list.kvs.len() >= all_acked.len());
            eprintln!(
                "round {round}: {} keys acknowledged, {} committed",
                all_acked.len(),
                list.kvs.len()
            );
            // The revision log is intact too.
            let mut watch = store.watch("/crash/", 0).await.unwrap();
            let events = crate::next_events(&mut watch, list.kvs.len()).await;
            for (i, event) in events.iter().enumerate() {
                assert_eq!(event.revision(), i as i64 + 1);
            }
        });
    }
}
