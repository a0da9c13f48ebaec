//! memscale beyond one machine: Flink.
//!
//! - [`home`]: where Flink is (the `apache-flink` PyPI package brings its
//!   jars and scripts; `scripts/setup.sh` installs it).
//! - [`cluster`]: a standalone cluster on loopback, configured for
//!   autoscaling RocksDB state (adaptive scheduler, incremental
//!   checkpoints, block-cache and state-latency metrics): up, down, status.
//! - [`rest`]: the parts of Flink's REST API memscale uses.
//! - [`nexmark`]: Nexmark queries as Flink SQL over a rate-limited source
//!   with memscale's event mix and key distributions (a small Java job,
//!   compiled here with `javac` against the package's own jars), submitted
//!   through the REST API.
//! - [`job`]: a running Flink job as the autoscaler's
//!   [`ScalableJob`](autoscaler::job::ScalableJob): observations from its
//!   cumulative counters, parallelism through the adaptive scheduler,
//!   memory through stop-with-savepoint and resubmission.

pub mod cluster;
pub mod error;
pub mod home;
pub mod job;
pub mod nexmark;
pub mod rest;

pub use error::FlinkError;
