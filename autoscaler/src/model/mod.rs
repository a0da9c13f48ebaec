//! The memory and throughput model: an operator's hit ratio against its
//! block-cache size ([`curve`]) and its throughput against its parallelism
//! and cache size ([`throughput`]), T(p, c). `memscale profile` and
//! `memscale sweep` build the curves from one traced run; the `mrc` policy
//! calibrates the costs on the live job.

pub mod curve;
pub mod throughput;

pub use curve::{CurveError, HitCurve};
pub use throughput::{ModelError, OperatorModel};
