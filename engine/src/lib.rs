//! # memscale-engine
//!
//! The measuring half of memscale: a small dataflow engine whose keyed
//! state lives in RocksDB with direct I/O, so that what it measures is what
//! a Flink job with the RocksDB backend sees.
//!
//! So far: [`keygroup`] (Flink's key-group assignment), [`nexmark`]
//! (deterministic, splittable Nexmark events with the state-size
//! parameters exposed) and [`state`] (one state trait, an in-memory and a
//! RocksDB implementation, the operator's shared resizable block cache,
//! direct-I/O checks, RocksDB's block-cache tracer, key-level access
//! traces). The runtime (operators, exchange, windows, queries) is next.

#![warn(missing_docs)]

pub mod keygroup;
pub mod nexmark;
pub mod operators;
pub mod queries;
pub mod row;
pub mod runtime;
pub mod state;
