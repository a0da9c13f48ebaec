//! The dataflow runtime: a [`graph::JobGraph`] of sources and operators run
//! as parallel subtasks on threads, connected by bounded channels, with
//! event-time watermarks, timers, keyed state per subtask and live metrics.
//!
//! Operators see rows, their key group's state and their timers
//! ([`operator::Context`]); routing ([`exchange`]) and state placement
//! ([`job`]) belong to the runtime, as in Flink and timely-dataflow.

pub mod control;
pub mod control_endpoint;
pub mod cpu;
pub mod exchange;
pub mod exporter;
pub mod graph;
pub mod job;
pub mod metrics;
pub(crate) mod migrate;
pub mod operator;
pub mod rate;
pub(crate) mod routing;
pub mod snapshot;
pub mod source;
pub(crate) mod task;

pub use control::{Change, Control, ControlError, Memory, Order, RescaleOptions, Strategy, DRAIN_BUDGET};
pub use exchange::Partition;
pub use graph::JobGraph;
pub use job::{run, start, Backend, EngineError, JobOutput, RocksConfig, RunConfig, RunningJob};
pub use operator::{Context, OpError, Operator};
