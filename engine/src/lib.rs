//! # memscale-engine
//!
//! The measuring half of memscale: a small dataflow engine whose keyed
//! state lives in RocksDB with direct I/O, so that what it measures is what
//! a Flink job with the RocksDB backend sees.
//!
//! - [`keygroup`]: Flink's key-group assignment;
//! - [`nexmark`]: deterministic, splittable Nexmark events with the
//!   state-size parameters exposed;
//! - [`state`]: one state trait, an in-memory and a RocksDB
//!   implementation, the operator's shared resizable block cache,
//!   direct-I/O checks, RocksDB's block-cache tracer, key-level access
//!   traces, key-group transfer between stores;
//! - [`runtime`]: subtask threads over bounded channels routed by
//!   versioned key-group tables, watermarks, timers, metrics and their
//!   Prometheus endpoint, and live rescaling ([`runtime::control`]: an
//!   operator's parallelism by key-group migration, its memory in place);
//! - [`operators`] and [`queries`]: windows, joins, aggregates, top-N,
//!   dedup; the Nexmark queries and their single-threaded references.

#![warn(missing_docs)]

pub mod keygroup;
pub mod nexmark;
pub mod operators;
pub mod queries;
pub mod row;
pub mod runtime;
pub mod state;
