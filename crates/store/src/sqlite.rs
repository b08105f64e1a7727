//! Durable SQLite backend.
