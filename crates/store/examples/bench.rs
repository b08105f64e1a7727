//! Measures durable creates per second against `SqliteStore` from many concurrent tasks.
//!
//! `cargo run --release -p store --example bench -- [TASKS] [CREATES_PER_TASK] [VALUE_BYTES]`
//! (defaults: 64 tasks, 200 creates each, 256-byte values). The database lives in a temporary
//! directory; every create is acknowledged only after its batch is fsynced. Also times an update
//! pass, a list of every key and a full watch replay.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use store::{SqliteStore, Storage};

/// Reads the positional argument `index`, or `default`.
fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks = arg(1, 64);
    let per_task = arg(2, 200);
    let value_bytes = arg(3, 256);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.db");
    let store: Arc<dyn Storage> = Arc::new(SqliteStore::open(&path)?);
    let value = Bytes::from(vec![b'x'; value_bytes]);
    let total = tasks * per_task;

    let started = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let store = store.clone();
        let value = value.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let key = format!("/registry/bench/t{t:03}/k{i:06}");
                store.create(&key, value.clone()).await?;
            }
            Ok::<_, store::Error>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    let elapsed = started.elapsed();
    println!(
        "creates: {total} from {tasks} tasks ({value_bytes}-byte values) in {:.3}s = {:.0} creates/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    let started = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for t in 0..tasks {
        let store = store.clone();
        let value = value.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let key = format!("/registry/bench/t{t:03}/k{i:06}");
                let current = store
                    .get(&key)
                    .await?
                    .ok_or(store::Error::NotFound(key.clone()))?;
                store
                    .update(&key, value.clone(), current.mod_revision)
                    .await?;
            }
            Ok::<_, store::Error>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    let elapsed = started.elapsed();
    println!(
        "get+update: {total} in {:.3}s = {:.0} updates/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    let started = Instant::now();
    let list = store.list("/registry/bench/").await?;
    println!(
        "list: {} keys at revision {} in {:.1} ms",
        list.kvs.len(),
        list.revision,
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let mut watch = store.watch("/registry/bench/", 0).await?;
    let mut replayed = 0;
    while replayed < 2 * total {
        match watch.next().await {
            Some(event) => {
                event?;
                replayed += 1;
            }
            None => break,
        }
    }
    println!(
        "watch replay: {replayed} events in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    store.compact(store.current_revision().await?).await?;
    println!("compact: {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
