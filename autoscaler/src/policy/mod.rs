//! Scaling policies behind one trait: each looks at an [`Observation`] and
//! proposes a [`Plan`] (every operator's parallelism and cache, with a
//! reason). The controller decides whether and when to carry it out.
//!
//! - [`ds2`]: DS2 (Kalavri et al., OSDI'18): parallelism from true rates,
//!   in one step.
//! - [`justin`]: Justin (DAIS'25): DS2 first, then memory levels for
//!   stateful operators whose hit ratio or state latency is poor.
//! - [`flink`]: Flink's Kubernetes-operator autoscaler: busy-time rates,
//!   a utilization band, key-group-aligned parallelism, delayed
//!   scale-downs.
//! - [`mrc`]: ours: each operator's (parallelism, cache) of least cost
//!   from its miss-ratio curve and calibrated costs, in one step.

pub mod ds2;
pub mod flink;
pub mod justin;
pub mod mrc;

use crate::job::{Observation, Plan};

/// A scaling policy.
pub trait Policy {
    /// The policy's name, as the command line writes it.
    fn name(&self) -> &'static str;

    /// The configuration the job should have after `obs` (its current one
    /// where nothing should change), each operator with a reason.
    fn decide(&mut self, obs: &Observation) -> Plan;

    /// The controller carried out the plan of the last [`Policy::decide`]
    /// (policies that remember their steps advance here; a plan the
    /// controller did not carry out leaves them where they were).
    fn applied(&mut self, _plan: &Plan, _obs: &Observation) {}
}

/// Bounds every policy keeps to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// The smallest block cache an operator can have, bytes.
    pub min_cache: u64,
    /// The largest block cache one operator may have, bytes.
    pub max_cache: u64,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds { min_cache: 1 << 20, max_cache: 64 << 30 }
    }
}

/// The policies by name, for `--policy`.
pub const NAMES: [&str; 4] = ["ds2", "justin", "flink", "mrc"];

/// Jobs for the policies' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::job::{Observation, OperatorObservation};

    /// A source emitting `rate` events/s.
    pub fn source(rate: f64) -> OperatorObservation {
        OperatorObservation {
            name: "source".into(),
            source: true,
            parallelism: 1,
            records_in_per_s: rate,
            records_out_per_s: rate,
            ..Default::default()
        }
    }

    /// `ops` in topological order at a target of `target` events/s, the
    /// sources keeping up.
    pub fn job(ops: Vec<OperatorObservation>, target: f64) -> Observation {
        Observation {
            operators: ops,
            target_rate: target,
            source_rate: target,
            max_parallelism: 128,
            ..Default::default()
        }
    }

    /// A source at `rate` events/s, the target, feeding `op` (whose input
    /// is set to the source).
    pub fn source_and(rate: f64, mut op: OperatorObservation) -> Observation {
        op.inputs = vec![0];
        op.rescalable = true;
        job(vec![source(rate), op], rate)
    }
}
