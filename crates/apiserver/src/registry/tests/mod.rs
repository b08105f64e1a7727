//! Table tests of the strategies: a reusable tester that admits objects through
//! `strategy(info)` and compares the errors with the expected field paths or messages, and
//! tables of valid and invalid objects per kind.

mod core;
mod other;
mod tester;
mod workloads;
