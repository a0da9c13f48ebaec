//! The dataflow runtime: a [`graph::JobGraph`] of sources and operators run
//! as parallel subtasks on threads, connected by bounded channels, with
//! event-time watermarks, timers, keyed state per subtask and live metrics.
//!
//! Operators see rows, their key group's state and their timers
//! ([`operator::Context`]); routing ([`exchange`]) and state placement
//! ([`job`]) belong to the runtime, as in Flink and timely-dataflow.

pub mod exchange;
pub mod exporter;
pub mod graph;
pub mod job;
pub mod metrics;
pub mod operator;
pub mod snapshot;
pub mod source;

pub use exchange::Partition;
pub use graph::JobGraph;
pub use job::{run, start, Backend, EngineError, JobOutput, RocksConfig, RunConfig, RunningJob};
pub use operator::{Context, OpError, Operator};
