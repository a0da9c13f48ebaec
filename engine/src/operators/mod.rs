//! The operator library the Nexmark queries are built from: window and
//! session aggregates, group aggregates with retractions, regular, interval
//! and window joins, deduplication and top-N, and a sink writing files
//! partitioned by time. Each keeps its state in the
//! subtask's [`crate::state::StateStore`] through the
//! [`crate::runtime::Context`], so every operator runs on RocksDB or in
//! memory unchanged.

pub mod agg;
pub mod group;
pub mod join;
pub mod rank;
pub mod sink;
pub mod window;
