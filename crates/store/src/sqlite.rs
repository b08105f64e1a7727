//! Durable SQLite backend: a kine-style revision log, group-committed by one writer thread.
//!
//! The database holds three tables:
//!
//! * `log`: one row per write, `id` being its revision (`name`, `created`, `deleted`,
//!   `create_revision`, `prev_revision`, `value`, `old_value`), indexed on `(name, id)`. Watches
//!   replay history from it; compaction removes rows that are superseded or are tombstones.
//! * `current`: the current value of every live key (`name` primary key), written in the same
//!   transaction as the log row, so that `get` and `list` are single indexed reads.
//! * `meta`: the compaction revision (`compact_revision`) and how far compaction has physically
//!   swept the log (`compacted_through`).
//!
//! Writes go through a channel to a single writer thread with its own connection. It takes every
//! pending request, applies them one by one in a single transaction (each checked on its own: a
//! failed compare-and-swap fails only that request), commits once — one fsync for the whole batch,
//! with `journal_mode=WAL` and `synchronous=FULL`, so an acknowledged write survives a crash of the
//! process or the machine — then publishes the batch's events to watchers and answers each caller.
//! Reads use a small pool of separate connections on blocking threads; under WAL they never wait
//! for the writer. The current revision is `max(MAX(log.id), compact_revision)` and is recovered
//! from the database on open.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use tokio::sync::{Semaphore, broadcast, oneshot};

use crate::watch::{self, EventSender};
use crate::{Error, Event, KeyValue, ListResult, Result, Revision, Storage, WatchStream};

/// The most requests the writer puts in one transaction.
const MAX_BATCH: usize = 1024;
/// How many revisions one compaction step sweeps (one transaction each).
const COMPACT_CHUNK: Revision = 10_000;
/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const META_COMPACT: &str = "compact_revision";
const META_THROUGH: &str = "compacted_through";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL,
    old_value BLOB
);
CREATE INDEX IF NOT EXISTS log_name_id ON log (name, id);
CREATE TABLE IF NOT EXISTS current (
    name TEXT PRIMARY KEY,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Maps a SQLite error to [`Error::Backend`].
fn db(err: rusqlite::Error) -> Error {
    Error::Backend(format!("sqlite: {err}"))
}

/// The error for a store whose writer thread is gone.
fn writer_gone() -> Error {
    Error::Backend("sqlite writer thread has stopped".to_owned())
}

/// A write request for the writer thread.
enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

/// A compaction request for the writer thread.
enum CompactStep {
    /// Raise the compaction revision (watches from before it fail from now on).
    Mark(Revision),
    /// Physically delete the next chunk of compacted rows; answers how far the sweep got.
    Sweep,
}

/// What the writer thread receives.
enum Request {
    Write {
        op: Op,
        reply: oneshot::Sender<Result<Event>>,
    },
    Compact {
        step: CompactStep,
        reply: oneshot::Sender<Result<Revision>>,
    },
}

/// State shared by the store handle and its writer thread.
struct Shared {
    /// The revision of the last committed write.
    revision: AtomicI64,
    /// The committed compaction revision.
    compacted: AtomicI64,
}

/// Tuning knobs of [`SqliteStore::open_with`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// How many committed write batches a watcher may fall behind before its stream ends with a
    /// "watcher too slow" error. Default 4096.
    pub watch_capacity: usize,
    /// How many reads run at once, each on its own pooled connection. Default 8.
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            watch_capacity: 4096,
            readers: 8,
        }
    }
}

/// A [`Storage`] in one SQLite database file, durable across crashes.
///
/// Only one store may have a database open at a time: [`SqliteStore::open`] takes an exclusive
/// lock on `<path>-lock`. Dropping the store stops its writer thread (after the batch in flight),
/// ends its watches and releases the lock.
pub struct SqliteStore {
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    readers: Arc<Readers>,
    read_permits: Arc<Semaphore>,
    shared: Arc<Shared>,
    events: EventSender,
    compact_lock: tokio::sync::Mutex<()>,
    /// Held for the store's lifetime; dropped (unlocked) after the writer has stopped.
    _lock: File,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default [`SqliteOptions`] and
    /// starts its writer thread.
    ///
    /// This constructor is synchronous: it opens the file, creates the schema and recovers the
    /// current revision, which takes milliseconds; call it at startup or from
    /// [`tokio::task::spawn_blocking`]. It needs no Tokio runtime. The parent directory must exist.
    /// Fails with [`Error::Backend`] if another store (in this or another process) has the
    /// database open.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Like [`SqliteStore::open`], with explicit options.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<Self> {
        let lock = lock_database(path)?;
        let mut conn = Connection::open(path).map_err(db)?;
        configure_writer(&conn)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        let (revision, compacted, through) = {
            let tx = conn.transaction().map_err(db)?;
            let compacted = meta_get(&tx, META_COMPACT)?;
            let through = meta_get(&tx, META_THROUGH)?;
            let revision = read_revision(&tx, compacted)?;
            tx.commit().map_err(db)?;
            (revision, compacted, through)
        };
        let shared = Arc::new(Shared {
            revision: AtomicI64::new(revision),
            compacted: AtomicI64::new(compacted),
        });
        let (events, _) = broadcast::channel(options.watch_capacity.max(1));
        let (requests, inbox) = mpsc::channel();
        let writer = Writer {
            conn,
            state: WriterState {
                revision,
                compacted,
                through,
            },
            shared: shared.clone(),
            events: events.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("store-sqlite-writer".to_owned())
            .spawn(move || writer.run(inbox))
            .map_err(|e| Error::Backend(format!("cannot start sqlite writer thread: {e}")))?;
        tracing::debug!(path = %path.display(), revision, compacted, "opened sqlite store");
        Ok(Self {
            requests: Some(requests),
            writer: Some(handle),
            readers: Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            read_permits: Arc::new(Semaphore::new(options.readers.max(1))),
            shared,
            events,
            compact_lock: tokio::sync::Mutex::new(()),
            _lock: lock,
        })
    }

    /// Sends `request` to the writer thread.
    fn send(&self, request: Request) -> Result<()> {
        self.requests
            .as_ref()
            .ok_or_else(writer_gone)?
            .send(request)
            .map_err(|_| writer_gone())
    }

    /// Runs one write through the writer thread and waits for its commit.
    async fn write(&self, op: Op) -> Result<Event> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Write { op, reply })?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs one compaction step through the writer thread.
    async fn compact_step(&self, step: CompactStep) -> Result<Revision> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Compact { step, reply })?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs `f` on a pooled read connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Backend("sqlite store is closed".to_owned()))?;
        tokio::task::spawn_blocking(move || {
            let result = readers.with(f);
            drop(permit);
            result
        })
        .await
        .map_err(|e| Error::Backend(format!("sqlite read task failed: {e}")))?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish its batch and exit.
        self.requests.take();
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!("sqlite writer thread panicked");
        }
    }
}

#[async_trait::async_trait]
impl Storage for SqliteStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.revision.load(Ordering::Acquire))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT name, value, create_revision, mod_revision FROM current WHERE name = ?1",
            )
            .and_then(|mut stmt| stmt.query_row([&key], row_kv).optional())
            .map_err(db)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<ListResult> {
        let prefix = prefix.to_owned();
        self.read(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let compacted = meta_get(&tx, META_COMPACT)?;
            let revision = read_revision(&tx, compacted)?;
            let kvs = {
                let columns = "SELECT name, value, create_revision, mod_revision FROM current";
                let rows = match watch::prefix_end(&prefix) {
                    Some(end) => tx
                        .prepare_cached(&format!(
                            "{columns} WHERE name >= ?1 AND name < ?2 ORDER BY name"
                        ))
                        .and_then(|mut stmt| {
                            stmt.query_map(params![prefix, end], row_kv)?.collect()
                        }),
                    None => tx
                        .prepare_cached(&format!("{columns} WHERE name >= ?1 ORDER BY name"))
                        .and_then(|mut stmt| stmt.query_map([&prefix], row_kv)?.collect()),
                };
                rows.map_err(db)?
            };
            tx.commit().map_err(db)?;
            Ok(ListResult { kvs, revision })
        })
        .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let op = Op::Create {
            key: key.to_owned(),
            value,
        };
        Ok(self.write(op).await?.revision())
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        let op = Op::Update {
            key: key.to_owned(),
            value,
            expected,
        };
        Ok(self.write(op).await?.revision())
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let op = Op::Delete {
            key: key.to_owned(),
            expected,
        };
        match self.write(op).await? {
            Event::Delete { kv } => Ok(kv),
            Event::Put { .. } => Err(Error::Backend(
                "sqlite writer answered a delete with a put".to_owned(),
            )),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        // Subscribe before reading history: whatever the history snapshot misses was committed
        // later and so is published to this receiver; what it already holds is skipped by
        // revision.
        let live = self.events.subscribe();
        let owned = prefix.to_owned();
        let (history, covered) = self
            .read(move |conn| read_history(conn, &owned, after))
            .await?;
        Ok(watch::stream(history, live, prefix.to_owned(), covered))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let _one_at_a_time = self.compact_lock.lock().await;
        if revision > self.shared.revision.load(Ordering::Acquire) {
            return Err(Error::FutureRevision(revision));
        }
        let target = self.compact_step(CompactStep::Mark(revision)).await?;
        // Sweep in chunks so that writes interleave with a large compaction.
        while self.compact_step(CompactStep::Sweep).await? < target {}
        Ok(())
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.shared.compacted.load(Ordering::Acquire))
    }
}

/// Reads the events after `after` under `prefix` in one snapshot; answers them with the revision
/// up to which they cover the log (the snapshot's, or `after` when that is later).
fn read_history(
    conn: &mut Connection,
    prefix: &str,
    after: Revision,
) -> Result<(Vec<Event>, Revision)> {
    // Revisions start at 1: a negative start means "from the beginning" like 0.
    let after = after.max(0);
    let tx = conn.transaction().map_err(db)?;
    let compacted = meta_get(&tx, META_COMPACT)?;
    let revision = read_revision(&tx, compacted)?;
    if after < compacted {
        return Err(Error::Compacted {
            requested: after,
            compacted,
        });
    }
    // `+name` keeps SQLite on the primary-key range: watches start from recent revisions.
    let columns = "SELECT id, name, created, deleted, create_revision, prev_revision, value, \
                   old_value FROM log";
    let events = match watch::prefix_end(prefix) {
        Some(end) => tx
            .prepare_cached(&format!(
                "{columns} WHERE id > ?1 AND +name >= ?2 AND +name < ?3 ORDER BY id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![after, prefix, end], row_event)?
                    .collect()
            }),
        None => tx
            .prepare_cached(&format!("{columns} WHERE id > ?1 ORDER BY id"))
            .and_then(|mut stmt| stmt.query_map([after], row_event)?.collect()),
    };
    let events = events.map_err(db)?;
    tx.commit().map_err(db)?;
    // A start in the future (as etcd allows) waits for the writes past it.
    Ok((events, revision.max(after)))
}

/// Reads a `meta` value (0 when unset).
fn meta_get(conn: &Connection, key: &str) -> Result<Revision> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map(Option::unwrap_or_default)
        .map_err(db)
}

/// Sets a `meta` value.
fn meta_set(conn: &Connection, key: &str, value: Revision) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])
    .map(drop)
}

/// The store revision as seen by `conn`'s current transaction. Compaction may delete the newest
/// log row (a tombstone), but never one above the compaction revision.
fn read_revision(conn: &Connection, compacted: Revision) -> Result<Revision> {
    let max_id: Revision = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM log")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(db)?;
    Ok(max_id.max(compacted))
}

/// Decodes `name, value, create_revision, mod_revision`.
fn row_kv(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(1)?),
        create_revision: row.get(2)?,
        mod_revision: row.get(3)?,
    })
}

/// Decodes a full `log` row into the event it records.
fn row_event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let id: Revision = row.get(0)?;
    let key: String = row.get(1)?;
    let created: bool = row.get(2)?;
    let deleted: bool = row.get(3)?;
    let create_revision: Revision = row.get(4)?;
    let prev_revision: Revision = row.get(5)?;
    let value = Bytes::from(row.get::<_, Vec<u8>>(6)?);
    let old_value: Option<Vec<u8>> = row.get(7)?;
    let kv = KeyValue {
        key,
        value,
        create_revision,
        mod_revision: id,
    };
    Ok(if deleted {
        Event::Delete { kv }
    } else if created {
        Event::Put { kv, prev: None }
    } else {
        let prev = KeyValue {
            key: kv.key.clone(),
            value: Bytes::from(old_value.unwrap_or_default()),
            create_revision,
            mod_revision: prev_revision,
        };
        Event::Put {
            kv,
            prev: Some(prev),
        }
    })
}

/// Takes the exclusive lock that keeps a second store off the database at `path`.
fn lock_database(path: &Path) -> Result<File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push("-lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            Error::Backend(format!(
                "cannot open {}: {e}",
                Path::new(&lock_path).display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Backend(format!(
            "database {} is already open in another store",
            path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(Error::Backend(format!(
            "cannot lock {}: {e}",
            Path::new(&lock_path).display()
        ))),
    }
}

/// Sets the writer connection up: WAL, full fsync on commit.
fn configure_writer(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Backend(format!(
            "sqlite: cannot switch to WAL journal mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db)?;
    // Page caches are per connection; the OS page cache holds the rest. Small caches keep the
    // server's memory flat as the data grows.
    conn.pragma_update(None, "cache_size", -8_000).map_err(db)?;
    Ok(())
}

/// A pool of read connections.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Runs `f` on an idle connection, or on a new one when all are busy.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = f(&mut conn);
        // A connection whose read failed at the SQLite level may be in a bad state: drop it.
        // Concurrency is bounded by the store's read permits, so the pool stays that small.
        if !matches!(result, Err(Error::Backend(_))) {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        result
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path).map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        conn.pragma_update(None, "query_only", true).map_err(db)?;
        conn.pragma_update(None, "cache_size", -2_000).map_err(db)?;
        Ok(conn)
    }
}

/// The writer's view of the store, advanced tentatively inside a batch and kept only on commit.
#[derive(Clone, Copy)]
struct WriterState {
    /// The revision of the last write.
    revision: Revision,
    /// The compaction revision.
    compacted: Revision,
    /// How far compaction has deleted log rows.
    through: Revision,
}

/// An answer to send once the batch is settled.
enum Answer {
    Write(oneshot::Sender<Result<Event>>, Result<Event>),
    Compact(oneshot::Sender<Result<Revision>>, Result<Revision>),
}

impl Answer {
    /// The answer for a request left unapplied because its batch failed; [`Answer::fail`] sets
    /// the real reason.
    fn pending(request: Request) -> Self {
        let message = "batch aborted";
        match request {
            Request::Write { reply, .. } => {
                Answer::Write(reply, Err(Error::Backend(message.into())))
            }
            Request::Compact { reply, .. } => {
                Answer::Compact(reply, Err(Error::Backend(message.into())))
            }
        }
    }

    /// The message of this answer's error, if it is one.
    fn error_message(&self) -> String {
        match self {
            Answer::Write(_, Err(e)) | Answer::Compact(_, Err(e)) => e.to_string(),
            _ => String::new(),
        }
    }

    /// Replaces the result with a batch failure.
    fn fail(self, message: &str) -> Self {
        let err = || Error::Backend(message.to_owned());
        match self {
            Answer::Write(reply, _) => Answer::Write(reply, Err(err())),
            Answer::Compact(reply, _) => Answer::Compact(reply, Err(err())),
        }
    }

    fn send(self) {
        // A caller that stopped waiting does not matter: the outcome is in the database.
        match self {
            Answer::Write(reply, result) => drop(reply.send(result)),
            Answer::Compact(reply, result) => drop(reply.send(result)),
        }
    }
}

/// The writer thread: owns the only writing connection.
struct Writer {
    conn: Connection,
    state: WriterState,
    shared: Arc<Shared>,
    events: EventSender,
}

impl Writer {
    /// Serves batches until every sender is gone.
    fn run(mut self, inbox: mpsc::Receiver<Request>) {
        while let Ok(first) = inbox.recv() {
            let mut batch = Vec::with_capacity(64);
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match inbox.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.run_batch(batch);
        }
        tracing::debug!("sqlite writer thread stops");
    }

    /// Applies `batch` in one transaction, commits, publishes and answers.
    fn run_batch(&mut self, batch: Vec<Request>) {
        let mut state = self.state;
        let mut answers = Vec::with_capacity(batch.len());
        let failure = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Err(e) => {
                answers.extend(batch.into_iter().map(Answer::pending));
                Some(format!("sqlite: cannot begin transaction: {e}"))
            }
            Ok(tx) => {
                let mut failure = None;
                for request in batch {
                    if failure.is_some() {
                        answers.push(Answer::pending(request));
                        continue;
                    }
                    let (answer, failed) = match request {
                        Request::Write { op, reply } => match write_op(&tx, &op, &mut state) {
                            Ok(result) => (Answer::Write(reply, result), false),
                            Err(e) => (Answer::Write(reply, Err(db(e))), true),
                        },
                        Request::Compact { step, reply } => {
                            let result = match step {
                                CompactStep::Mark(revision) => mark(&tx, revision, &mut state),
                                CompactStep::Sweep => sweep(&tx, &mut state),
                            };
                            match result {
                                Ok(revision) => (Answer::Compact(reply, Ok(revision)), false),
                                Err(e) => (Answer::Compact(reply, Err(db(e))), true),
                            }
                        }
                    };
                    if failed {
                        failure = Some(answer.error_message());
                    }
                    answers.push(answer);
                }
                if failure.is_none()
                    && let Err(e) = tx.commit()
                {
                    failure = Some(format!("sqlite: commit failed: {e}"));
                }
                // On failure, dropping `tx` rolls the batch back.
                failure
            }
        };
        if let Some(message) = failure {
            tracing::error!(error = %message, "sqlite write batch failed");
            for answer in answers {
                answer.fail(&message).send();
            }
            return;
        }
        self.state = state;
        self.shared
            .compacted
            .store(state.compacted, Ordering::Release);
        self.shared
            .revision
            .store(state.revision, Ordering::Release);
        let events: Vec<Event> = answers
            .iter()
            .filter_map(|answer| match answer {
                Answer::Write(_, Ok(event)) => Some(event.clone()),
                _ => None,
            })
            .collect();
        if !events.is_empty() {
            // No receivers is fine: nobody watches.
            let _ = self.events.send(Arc::from(events));
        }
        for answer in answers {
            answer.send();
        }
    }
}

/// The SQL of one write.
fn write_op(
    tx: &Transaction<'_>,
    op: &Op,
    state: &mut WriterState,
) -> rusqlite::Result<Result<Event>> {
    let key = match op {
        Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
    };
    let current: Option<KeyValue> = tx
        .prepare_cached(
            "SELECT name, value, create_revision, mod_revision FROM current WHERE name = ?1",
        )?
        .query_row([key], row_kv)
        .optional()?;
    let revision = state.revision + 1;
    let event = match (op, current) {
        (Op::Create { .. }, Some(_)) => return Ok(Err(Error::AlreadyExists(key.clone()))),
        (Op::Update { .. } | Op::Delete { .. }, None) => {
            return Ok(Err(Error::NotFound(key.clone())));
        }
        (Op::Update { expected, .. }, Some(cur))
        | (
            Op::Delete {
                expected: Some(expected),
                ..
            },
            Some(cur),
        ) if cur.mod_revision != *expected => {
            return Ok(Err(Error::Conflict {
                key: key.clone(),
                expected: *expected,
                actual: cur.mod_revision,
            }));
        }
        (Op::Create { value, .. }, None) => {
            insert_log(tx, revision, key, true, false, revision, 0, value, None)?;
            tx.prepare_cached(
                "INSERT INTO current (name, create_revision, mod_revision, value) \
                 VALUES (?1, ?2, ?2, ?3)",
            )?
            .execute(params![key, revision, value.as_ref()])?;
            Event::Put {
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            }
        }
        (Op::Update { value, .. }, Some(prev)) => {
            insert_log(
                tx,
                revision,
                key,
                false,
                false,
                prev.create_revision,
                prev.mod_revision,
                value,
                Some(&prev.value),
            )?;
            tx.prepare_cached("UPDATE current SET mod_revision = ?2, value = ?3 WHERE name = ?1")?
                .execute(params![key, revision, value.as_ref()])?;
            Event::Put {
                kv: KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                },
                prev: Some(prev),
            }
        }
        (Op::Delete { .. }, Some(mut kv)) => {
            insert_log(
                tx,
                revision,
                key,
                false,
                true,
                kv.create_revision,
                kv.mod_revision,
                &kv.value,
                None,
            )?;
            tx.prepare_cached("DELETE FROM current WHERE name = ?1")?
                .execute([key])?;
            kv.mod_revision = revision;
            Event::Delete { kv }
        }
    };
    state.revision = revision;
    Ok(Ok(event))
}

/// Appends one row to the log.
#[allow(clippy::too_many_arguments)]
fn insert_log(
    tx: &Transaction<'_>,
    id: Revision,
    name: &str,
    created: bool,
    deleted: bool,
    create_revision: Revision,
    prev_revision: Revision,
    value: &Bytes,
    old_value: Option<&Bytes>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, value, \
         old_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id,
        name,
        created,
        deleted,
        create_revision,
        prev_revision,
        value.as_ref(),
        old_value.map(|v| v.as_ref()),
    ])
    .map(drop)
}

/// Raises the compaction revision to `revision` (never lowers it); answers the new one.
fn mark(
    tx: &Transaction<'_>,
    revision: Revision,
    state: &mut WriterState,
) -> rusqlite::Result<Revision> {
    if revision > state.compacted {
        meta_set(tx, META_COMPACT, revision)?;
        state.compacted = revision;
    }
    Ok(state.compacted)
}

/// Deletes the log rows made useless by the revisions of the next chunk up to the compaction
/// revision: every older row of a key written in the chunk, and the chunk's tombstones. Answers how
/// far the sweep got; rows above the compaction revision are never touched.
fn sweep(tx: &Transaction<'_>, state: &mut WriterState) -> rusqlite::Result<Revision> {
    if state.through >= state.compacted {
        return Ok(state.through);
    }
    let lo = state.through;
    let hi = (lo + COMPACT_CHUNK).min(state.compacted);
    let superseded = tx
        .prepare_cached(
            "DELETE FROM log WHERE id IN (SELECT old.id FROM log AS new \
             JOIN log AS old ON old.name = new.name AND old.id < new.id \
             WHERE new.id > ?1 AND new.id <= ?2)",
        )?
        .execute(params![lo, hi])?;
    let tombstones = tx
        .prepare_cached("DELETE FROM log WHERE id > ?1 AND id <= ?2 AND deleted = 1")?
        .execute(params![lo, hi])?;
    meta_set(tx, META_THROUGH, hi)?;
    tracing::debug!(lo, hi, superseded, tombstones, "compacted sqlite log");
    state.through = hi;
    Ok(hi)
}
