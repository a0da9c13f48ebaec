//! The memory and throughput model: an operator's hit ratio against its
//! block-cache size ([`curve`]), its throughput against its parallelism
//! and cache size ([`throughput`]), T(p, c), and a whole job's throughput
//! replayed phase by phase of a profiled run ([`phases`]). `memscale
//! profile` and `memscale sweep` build the curves and phases from one
//! traced run; the `mrc` policy calibrates the costs on the live job.

pub mod curve;
pub mod phases;
pub mod throughput;

pub use curve::{CurveError, HitCurve};
pub use throughput::{ModelError, OperatorModel};
