//! Durable SQLite backend: a kine-style log of revisions plus a table of current values, in WAL
//! mode with `synchronous=FULL`, written by one thread that group-commits every pending write.
//!
//! A write is acknowledged only after the transaction holding it has committed, so it survives
//! `kill -9`. The writer takes every request waiting in its queue, checks each one on its own
//! (a failed compare-and-swap fails only that request), and commits them together: one fsync
//! serves the whole batch, which is where throughput under concurrency comes from. Reads use
//! their own connections and never wait for the writer (WAL readers see the last commit).

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, Ordering},
        mpsc,
    },
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{broadcast, oneshot};

use crate::{Error, Event, KeyValue, ListResult, Result, Revision, Storage, WatchStream, live_events};

/// How many events a watcher may fall behind before it is ended.
const WATCH_BUFFER: usize = 65_536;
/// The most writes committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Read connections kept open.
const READERS: usize = 4;

fn backend(e: rusqlite::Error) -> Error {
    Error::Backend(e.to_string())
}

/// One write waiting for the writer thread.
enum Op {
    Create(String, Bytes),
    Update(String, Bytes, Revision),
    Delete(String, Option<Revision>),
    Compact(Revision),
}

/// A write and where to send its outcome: the event it caused (none for compactions).
struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Option<Event>>>,
}

/// The durable store.
pub struct SqliteStore {
    writer: Mutex<mpsc::Sender<Request>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    revision: Arc<AtomicI64>,
    compacted: Arc<AtomicI64>,
    events: broadcast::Sender<Event>,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=FULL;
         PRAGMA busy_timeout=10000;
         PRAGMA cache_size=-16000;",
    )
    .map_err(backend)?;
    Ok(conn)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_name ON log (name, id);
CREATE TABLE IF NOT EXISTS current (
    name TEXT PRIMARY KEY,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// The first key after every key starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    end.push(char::MAX);
    end
}

impl SqliteStore {
    /// Opens (creating if needed) the store in the database file `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let conn = open_connection(path)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        let read_max = |sql: &str| -> Result<i64> {
            conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                .map(|v| v.unwrap_or(0))
                .map_err(backend)
        };
        let compacted = read_max("SELECT MAX(value) FROM meta WHERE key = 'compacted'")?;
        let revision = read_max("SELECT MAX(id) FROM log")?
            .max(read_max("SELECT MAX(mod_revision) FROM current")?)
            .max(read_max("SELECT MAX(value) FROM meta WHERE key = 'revision'")?)
            .max(compacted);
        let readers = (0..READERS)
            .map(|_| open_connection(path))
            .collect::<Result<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel();
        let store = SqliteStore {
            writer: Mutex::new(tx),
            readers: Arc::new(Mutex::new(readers)),
            path: path.to_path_buf(),
            revision: Arc::new(AtomicI64::new(revision)),
            compacted: Arc::new(AtomicI64::new(compacted)),
            events: broadcast::channel(WATCH_BUFFER).0,
        };
        let writer = Writer {
            conn,
            revision: store.revision.clone(),
            compacted: store.compacted.clone(),
            events: store.events.clone(),
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::Backend(e.to_string()))?;
        Ok(store)
    }

    async fn submit(&self, op: Op) -> Result<Option<Event>> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .lock()
            .expect("writer lock")
            .send(Request { op, reply })
            .map_err(|_| Error::Backend("the store's writer has stopped".into()))?;
        rx.await
            .map_err(|_| Error::Backend("the store's writer has stopped".into()))?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().expect("reader pool").pop();
            let conn = match conn {
                Some(c) => c,
                None => open_connection(&path)?,
            };
            let result = f(&conn);
            let mut pool = readers.lock().expect("reader pool");
            if pool.len() < READERS {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| Error::Backend(e.to_string()))?
    }
}

fn get_current(conn: &Connection, key: &str) -> Result<Option<KeyValue>> {
    conn.prepare_cached("SELECT create_revision, mod_revision, value FROM current WHERE name = ?1")
        .map_err(backend)?
        .query_row([key], |r| {
            Ok(KeyValue {
                key: key.to_string(),
                create_revision: r.get(0)?,
                mod_revision: r.get(1)?,
                value: Bytes::from(r.get::<_, Vec<u8>>(2)?),
            })
        })
        .optional()
        .map_err(backend)
}

#[async_trait]
impl Storage for SqliteStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.revision.load(Ordering::SeqCst))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_string();
        self.read(move |conn| get_current(conn, &key)).await
    }

    async fn list(&self, prefix: &str) -> Result<ListResult> {
        let prefix = prefix.to_string();
        let revision = self.revision.clone();
        self.read(move |conn| {
            // Read the revision and the rows in one snapshot.
            let tx = conn.unchecked_transaction().map_err(backend)?;
            let at = revision.load(Ordering::SeqCst);
            let mut stmt = tx
                .prepare_cached(
                    "SELECT name, create_revision, mod_revision, value FROM current
                     WHERE name >= ?1 AND name < ?2 ORDER BY name",
                )
                .map_err(backend)?;
            let kvs = stmt
                .query_map(params![prefix, prefix_end(&prefix)], |r| {
                    Ok(KeyValue {
                        key: r.get(0)?,
                        create_revision: r.get(1)?,
                        mod_revision: r.get(2)?,
                        value: Bytes::from(r.get::<_, Vec<u8>>(3)?),
                    })
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            drop(stmt);
            let newest = kvs.iter().map(|kv| kv.mod_revision).max().unwrap_or(0);
            tx.finish().map_err(backend)?;
            Ok(ListResult {
                kvs,
                revision: at.max(newest),
            })
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let event = self.submit(Op::Create(key.to_string(), value)).await?;
        Ok(event.map_or(0, |e| e.revision()))
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let event = self.submit(Op::Update(key.to_string(), value, expected)).await?;
        Ok(event.map_or(0, |e| e.revision()))
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        match self.submit(Op::Delete(key.to_string(), expected)).await? {
            Some(Event::Delete { kv } | Event::Put { kv, .. }) => Ok(kv),
            None => Err(Error::NotFound(key.to_string())),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let compacted = self.compacted.load(Ordering::SeqCst);
        if after < compacted {
            return Err(Error::Compacted {
                requested: after,
                compacted,
            });
        }
        // Subscribe first, then read history: nothing committed in between is missed, and
        // live events already in the history are skipped by revision.
        let live = self.events.subscribe();
        let owned = prefix.to_string();
        let history = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, name, deleted, create_revision, value FROM log
                         WHERE id > ?1 AND name >= ?2 AND name < ?3 ORDER BY id",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![after, owned, prefix_end(&owned)], |r| {
                        let kv = KeyValue {
                            mod_revision: r.get(0)?,
                            key: r.get(1)?,
                            create_revision: r.get(3)?,
                            value: Bytes::from(r.get::<_, Vec<u8>>(4)?),
                        };
                        Ok(if r.get::<_, bool>(2)? {
                            Event::Delete { kv }
                        } else {
                            Event::Put { kv, prev: None }
                        })
                    })
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                Ok(rows)
            })
            .await?;
        let last = history.last().map_or(after, Event::revision);
        // History older than the compaction may have been removed while we read it.
        let compacted = self.compacted.load(Ordering::SeqCst);
        if after < compacted {
            return Err(Error::Compacted {
                requested: after,
                compacted,
            });
        }
        Ok(futures::stream::iter(history.into_iter().map(Ok))
            .chain(live_events(live, prefix, last))
            .boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.submit(Op::Compact(revision)).await.map(|_| ())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.compacted.load(Ordering::SeqCst))
    }
}

/// The writer thread's state.
struct Writer {
    conn: Connection,
    revision: Arc<AtomicI64>,
    compacted: Arc<AtomicI64>,
    events: broadcast::Sender<Event>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(req) => batch.push(req),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
        tracing::debug!("sqlite writer stopped");
    }

    /// Applies a batch in one transaction and answers every request after the commit.
    fn commit(&mut self, batch: Vec<Request>) {
        let mut revision = self.revision.load(Ordering::SeqCst);
        let mut compacted = None;
        let mut outcomes = Vec::with_capacity(batch.len());
        let result = (|| -> Result<()> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            for req in batch {
                let outcome = match req.op {
                    Op::Compact(to) if to > revision => Err(Error::FutureRevision(to)),
                    Op::Compact(to) => {
                        compact(&tx, to)?;
                        compacted = Some(to);
                        Ok(None)
                    }
                    op => match apply(&tx, op, revision + 1) {
                        Ok(event) => {
                            revision += 1;
                            Ok(Some(event))
                        }
                        // A failing backend fails the whole batch.
                        Err(e @ Error::Backend(_)) => return Err(e),
                        Err(e) => Err(e),
                    },
                };
                outcomes.push((req.reply, outcome));
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('revision', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [revision],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })();
        if let Err(e) = result {
            // Nothing of the batch is durable: every request fails.
            tracing::error!(error = %e, "store commit failed");
            for (reply, _) in outcomes {
                let _ = reply.send(Err(Error::Backend(e.to_string())));
            }
            return;
        }
        self.revision.store(revision, Ordering::SeqCst);
        if let Some(to) = compacted {
            self.compacted.fetch_max(to, Ordering::SeqCst);
        }
        for (reply, outcome) in outcomes {
            if let Ok(Some(event)) = &outcome {
                let _ = self.events.send(event.clone());
            }
            let _ = reply.send(outcome);
        }
    }
}

/// Applies one write at `revision` inside the batch's transaction.
fn apply(tx: &rusqlite::Transaction<'_>, op: Op, revision: Revision) -> Result<Event> {
    let log = |name: &str, deleted: bool, create_revision: Revision, value: &[u8]| {
        tx.prepare_cached(
            "INSERT INTO log (id, name, deleted, create_revision, value) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| s.execute(params![revision, name, deleted, create_revision, value]))
        .map_err(backend)
    };
    match op {
        Op::Create(key, value) => {
            if get_current(tx, &key)?.is_some() {
                return Err(Error::AlreadyExists(key));
            }
            log(&key, false, revision, &value)?;
            tx.prepare_cached(
                "INSERT INTO current (name, create_revision, mod_revision, value) VALUES (?1, ?2, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![key, revision, value.as_ref()]))
            .map_err(backend)?;
            Ok(Event::Put {
                kv: KeyValue {
                    key,
                    value,
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            })
        }
        Op::Update(key, value, expected) => {
            let prev = get_current(tx, &key)?.ok_or_else(|| Error::NotFound(key.clone()))?;
            if prev.mod_revision != expected {
                return Err(Error::Conflict {
                    key,
                    expected,
                    actual: prev.mod_revision,
                });
            }
            log(&key, false, prev.create_revision, &value)?;
            tx.prepare_cached("UPDATE current SET mod_revision = ?2, value = ?3 WHERE name = ?1")
                .and_then(|mut s| s.execute(params![key, revision, value.as_ref()]))
                .map_err(backend)?;
            Ok(Event::Put {
                kv: KeyValue {
                    key,
                    value,
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                },
                prev: Some(prev),
            })
        }
        Op::Delete(key, expected) => {
            let prev = get_current(tx, &key)?.ok_or_else(|| Error::NotFound(key.clone()))?;
            if let Some(expected) = expected.filter(|e| *e != prev.mod_revision) {
                return Err(Error::Conflict {
                    key,
                    expected,
                    actual: prev.mod_revision,
                });
            }
            log(&key, true, prev.create_revision, &prev.value)?;
            tx.prepare_cached("DELETE FROM current WHERE name = ?1")
                .and_then(|mut s| s.execute([&key]))
                .map_err(backend)?;
            Ok(Event::Delete {
                kv: KeyValue {
                    mod_revision: revision,
                    ..prev
                },
            })
        }
        Op::Compact(_) => unreachable!("compaction is handled by the batch"),
    }
}

/// Removes log rows at or before `to` and records the compaction.
fn compact(tx: &rusqlite::Transaction<'_>, to: Revision) -> Result<()> {
    tx.execute("DELETE FROM log WHERE id <= ?1", [to])
        .map_err(backend)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('compacted', ?1)
         ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
        [to],
    )
    .map_err(backend)?;
    Ok(())
}
