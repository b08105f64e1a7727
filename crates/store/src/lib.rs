//! Key-value storage with etcd's contract: a global revision, compare-and-swap writes, watch from
//! a revision and compaction.
//!
//! Every write bumps the store's single revision counter by one; a key's `mod_revision` is the
//! revision of its last write. `update` and `delete` are guarded by the `mod_revision` the caller
//! read, so concurrent writers never lose an update. `watch` replays every event after a revision
//! and then follows new writes; asking for a revision older than the last compaction fails with
//! [`Error::Compacted`], which the API server turns into `410 Gone`.

#![warn(missing_docs)]

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

pub mod compact;
pub mod memory;
pub mod sqlite;
mod watch;

pub use compact::{compact_once, spawn_compactor};
pub use memory::MemoryStore;
pub use sqlite::{SqliteOptions, SqliteStore};

/// A revision of the store: every write increments it by one, starting from 1.
pub type Revision = i64;

/// A stored key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, for example `/registry/core/configmaps/default/app`.
    pub key: String,
    /// The stored bytes (JSON for the API server; opaque here).
    pub value: Bytes,
    /// The revision that created the key.
    pub create_revision: Revision,
    /// The revision of the key's last write.
    pub mod_revision: Revision,
}

/// A change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The key was created (`prev` is `None`) or updated (`prev` holds the old value).
    Put {
        /// The new value; its `mod_revision` is the revision of this event.
        kv: KeyValue,
        /// The value the write replaced, if any.
        prev: Option<KeyValue>,
    },
    /// The key was deleted; `kv` holds the last value with `mod_revision` set to the revision of
    /// the delete.
    Delete {
        /// The last value, with `mod_revision` set to the revision of the delete.
        kv: KeyValue,
    },
}

impl Event {
    /// The revision at which this event happened.
    pub fn revision(&self) -> Revision {
        match self {
            Event::Put { kv, .. } | Event::Delete { kv } => kv.mod_revision,
        }
    }

    /// The key this event is about.
    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv, .. } | Event::Delete { kv } => &kv.key,
        }
    }
}

/// A stream of watch events in revision order. It ends only when the store shuts down or the
/// watcher fell too far behind (then its last item is an error).
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event>> + Send>>;

/// The result of a list: the matching keys, in key order, and the revision they were read at.
#[derive(Clone, Debug, Default)]
pub struct ListResult {
    /// The matching keys in ascending key order.
    pub kvs: Vec<KeyValue>,
    /// The store revision the list reflects.
    pub revision: Revision,
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `create` found the key already present.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The key does not exist.
    #[error("key {0} not found")]
    NotFound(String),
    /// A guarded write found another `mod_revision` than expected.
    #[error("key {key} was modified: expected revision {expected}, found {actual}")]
    Conflict {
        /// The key that was written.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key's current revision.
        actual: Revision,
    },
    /// The requested revision has been compacted away.
    #[error("revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        /// The revision that was asked for.
        requested: Revision,
        /// The compaction revision.
        compacted: Revision,
    },
    /// The requested revision lies in the future.
    #[error("revision {0} is newer than the store")]
    FutureRevision(Revision),
    /// The backend failed (I/O, corruption, shutdown).
    #[error("storage backend: {0}")]
    Backend(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Storage with etcd semantics. Implementations: [`MemoryStore`] for tests and
/// [`SqliteStore`], the durable embedded default.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The current revision (the revision of the last write, 0 for an empty store).
    async fn current_revision(&self) -> Result<Revision>;

    /// Reads one key at the current revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Lists every key starting with `prefix`, in key order, at the current revision.
    async fn list(&self, prefix: &str) -> Result<ListResult>;

    /// Creates `key` if it is absent; returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Replaces `key` if its `mod_revision` is still `expected`; returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision>;

    /// Deletes `key`, if `expected` is given only when its `mod_revision` still matches.
    /// Returns the deleted value with `mod_revision` set to the revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Streams every event on keys under `prefix` with a revision greater than `after`, first
    /// the history and then new writes as they commit. As in etcd, `after` may lie in the future:
    /// the stream then starts with the first matching write past it. Fails with
    /// [`Error::Compacted`] when `after` is older than the last compaction.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Forgets history at and before `revision`: later watches from there fail with
    /// [`Error::Compacted`]. Current values are kept.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The revision of the last compaction (0 if none).
    async fn compacted_revision(&self) -> Result<Revision>;
}
