//! The policy of Flink's Kubernetes-operator autoscaler (module
//! flink-autoscaler: `ScalingMetricEvaluator`, `JobVertexScaler`,
//! `AutoScalerOptions`), what most Flink users run.
//!
//! - True processing rate = input rate / busy share (busy time per second
//!   over 1000).
//! - Target rate: at a source, the target event rate plus the lag caught
//!   up over the catch-up duration (and what a restart's downtime adds);
//!   downstream, Σ upstream target × the upstream's output ratio.
//! - Capacity wanted = target / target utilization (0.7); scale factor =
//!   capacity / true processing rate, at least 1 − max scale-down factor
//!   (0.6) and at most 1 + max scale-up factor; p' = ⌈factor · p⌉ within
//!   [1, max parallelism], then raised to the next divisor of the maximum
//!   parallelism (so key groups spread evenly).
//! - It acts only when some operator's target rate over its true
//!   processing rate leaves [utilization − boundary, utilization +
//!   boundary] (0.4 to 1.0). A scale-down waits until it has been
//!   recommended for `scale_down_delay_s` (Flink: 1 h) and then takes the
//!   largest parallelism recommended in that time.
//! - It never touches memory: Flink's memory tuning sizes TaskManager
//!   heap, network and managed memory, not an operator's RocksDB cache.

use std::collections::HashMap;

use super::Policy;
use crate::job::{Observation, OperatorPlan, Plan};

/// Flink autoscaler parameters (`job.autoscaler.*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlinkParams {
    /// `target.utilization` (0.7).
    pub utilization: f64,
    /// `target.utilization.boundary` (0.3).
    pub boundary: f64,
    /// `scale-down.max-factor` (0.6).
    pub max_scale_down: f64,
    /// `scale-up.max-factor` (100000: unbounded).
    pub max_scale_up: f64,
    /// `catch-up.duration`, seconds (Flink: 30 min).
    pub catch_up_s: f64,
    /// `restart.time`, seconds (Flink: 5 min): the lag a change adds.
    pub restart_s: f64,
    /// `scale-down.interval`, seconds (Flink: 1 h).
    pub scale_down_delay_s: f64,
}

impl FlinkParams {
    /// Flink's own defaults, sized for jobs that run for days.
    pub fn flink() -> FlinkParams {
        FlinkParams {
            utilization: 0.7,
            boundary: 0.3,
            max_scale_down: 0.6,
            max_scale_up: 100_000.0,
            catch_up_s: 1800.0,
            restart_s: 300.0,
            scale_down_delay_s: 3600.0,
        }
    }
}

impl Default for FlinkParams {
    /// Flink's factors with its durations cut to a run of minutes on the
    /// engine, whose changes take seconds, not a restart's minutes:
    /// catch-up 60 s, restart 2 s, scale-down delay 60 s.
    fn default() -> FlinkParams {
        FlinkParams { catch_up_s: 60.0, restart_s: 2.0, scale_down_delay_s: 60.0, ..FlinkParams::flink() }
    }
}

/// The smallest divisor of `max` at or above `p` (at most `max`): Flink
/// aligns parallelism so that every subtask owns as many key groups.
pub fn align(p: u32, max: u32) -> u32 {
    let max = max.max(1);
    (p.clamp(1, max)..=max).find(|d| max.is_multiple_of(*d)).unwrap_or(max)
}

/// The Flink-autoscaler policy.
#[derive(Clone, Debug, Default)]
pub struct Flink {
    /// Its parameters.
    pub params: FlinkParams,
    /// Per operator: since when a scale-down has been recommended, and the
    /// largest parallelism recommended since.
    scale_down: HashMap<String, (f64, u32)>,
}

impl Flink {
    /// The policy with `params`.
    pub fn new(params: FlinkParams) -> Flink {
        Flink { params, scale_down: HashMap::new() }
    }
}

impl Policy for Flink {
    fn name(&self) -> &'static str {
        "flink"
    }

    fn decide(&mut self, obs: &Observation) -> Plan {
        let p = self.params;
        let n = obs.operators.len();
        // Target rates, sources first.
        let mut target = vec![0.0f64; n];
        let mut out_ratio = vec![1.0f64; n];
        for (i, op) in obs.operators.iter().enumerate() {
            out_ratio[i] = if op.records_in_per_s > 0.0 { op.records_out_per_s / op.records_in_per_s } else { 1.0 };
            target[i] = if op.source || op.inputs.is_empty() {
                obs.target_rate + (obs.backlog_events + obs.target_rate * p.restart_s) / p.catch_up_s.max(1.0)
            } else {
                op.inputs
                    .iter()
                    .map(|&j| target.get(j).copied().unwrap_or(0.0) * out_ratio.get(j).copied().unwrap_or(1.0))
                    .sum()
            };
        }
        let (low, high) = (p.utilization - p.boundary, p.utilization + p.boundary);
        let mut outside = false;
        let mut rows = Vec::with_capacity(n);
        for (i, op) in obs.operators.iter().enumerate() {
            let busy = op.busy_ratio.clamp(0.0, 1.0);
            let tpr = if busy > 0.0 { op.records_in_per_s / busy } else { 0.0 };
            if !op.rescalable || tpr <= 0.0 {
                rows.push((op.parallelism, format!("target {:.0}/s; not scaled", target[i])));
                continue;
            }
            outside |= !(low..=high).contains(&(target[i] / tpr));
            let factor = (target[i] / p.utilization / tpr).clamp(1.0 - p.max_scale_down, 1.0 + p.max_scale_up);
            let wanted = align(((factor * op.parallelism as f64).ceil() as u32).max(1), obs.max_parallelism);
            rows.push((
                wanted,
                format!(
                    "target {:.0}/s, true processing rate {:.0}/s (busy {:.0}%): scale factor {factor:.2}",
                    target[i],
                    tpr,
                    busy * 100.0
                ),
            ));
        }
        let mut plan = Plan::default();
        for (op, (wanted, mut reason)) in obs.operators.iter().zip(rows) {
            let mut parallelism = if outside { wanted } else { op.parallelism };
            if !outside && wanted != op.parallelism {
                reason = format!("{reason}; every operator within utilization {low:.1}-{high:.1}: kept");
            }
            if parallelism < op.parallelism {
                let since = self.scale_down.entry(op.name.clone()).or_insert((obs.t_s, parallelism));
                since.1 = since.1.max(parallelism);
                if obs.t_s - since.0 < p.scale_down_delay_s {
                    reason = format!(
                        "{reason}; scale-down to {parallelism} waits ({:.0} of {:.0} s)",
                        obs.t_s - since.0,
                        p.scale_down_delay_s
                    );
                    parallelism = op.parallelism;
                } else {
                    parallelism = since.1;
                    reason = format!("{reason}; scale-down after {:.0} s, the largest recommended", obs.t_s - since.0);
                }
            } else {
                self.scale_down.remove(&op.name);
            }
            plan.operators.push(OperatorPlan {
                operator: op.name.clone(),
                parallelism,
                cache_bytes: op.cache_bytes,
                reason,
            });
        }
        plan
    }

    fn applied(&mut self, plan: &Plan, obs: &Observation) {
        for o in &plan.operators {
            if obs.operator(&o.operator).map(|x| x.parallelism) != Some(o.parallelism) {
                self.scale_down.remove(&o.operator);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::OperatorObservation;
    use crate::policy::fixtures::source_and;

    fn obs(t_s: f64, p: u32, rate_in: f64, busy: f64) -> Observation {
        let agg = OperatorObservation {
            name: "agg".into(),
            parallelism: p,
            records_in_per_s: rate_in,
            records_out_per_s: rate_in,
            busy_ratio: busy,
            ..Default::default()
        };
        Observation { t_s, ..source_and(10_000.0, agg) }
    }

    fn no_lag() -> FlinkParams {
        FlinkParams { restart_s: 0.0, ..FlinkParams::default() }
    }

    #[test]
    fn parallelism_is_aligned_to_a_divisor_of_the_max_parallelism() {
        assert_eq!(align(3, 128), 4);
        assert_eq!(align(5, 128), 8);
        assert_eq!(align(9, 128), 16);
        assert_eq!(align(7, 120), 8);
        assert_eq!(align(200, 128), 128);
        assert_eq!(align(0, 128), 1);
        // 10,000/s at 0.7 utilization over 2,500/s per subtask: 5.7 -> 6
        // -> 8 (128's next divisor).
        let mut f = Flink::new(no_lag());
        let plan = f.decide(&obs(0.0, 1, 2_500.0, 1.0));
        assert_eq!(plan.operators[1].parallelism, 8, "{}", plan.operators[1].reason);
    }

    #[test]
    fn within_the_utilization_band_nothing_moves() {
        // True rate 16,000/s for a target of 10,000: 0.625, inside 0.4-1.0.
        let mut f = Flink::new(no_lag());
        let plan = f.decide(&obs(0.0, 2, 10_000.0, 0.625));
        assert_eq!(plan.operators[1].parallelism, 2, "{}", plan.operators[1].reason);
    }

    #[test]
    fn a_scale_down_waits_for_its_delay_and_takes_the_largest_recommendation() {
        // Max parallelism 120: divisors 4, 5, 6, 8 ...
        let at = |t, busy| {
            let mut o = obs(t, 8, 10_000.0, busy);
            o.max_parallelism = 120;
            o
        };
        let mut f = Flink::new(no_lag());
        // 8 subtasks at 10,000/s, busy 10%: true rate 100,000/s; a factor
        // of 0.14, capped at 0.4: 3.2 -> 4.
        let first = f.decide(&at(0.0, 0.1));
        assert_eq!(first.operators[1].parallelism, 8, "{}", first.operators[1].reason);
        assert!(first.operators[1].reason.contains("waits"));
        // Busy 38%: true rate 26,316/s, factor 0.54: 4.3 -> 5, still down.
        assert_eq!(f.decide(&at(30.0, 0.38)).operators[1].parallelism, 8);
        // After the delay: the largest recommended in it, not the latest.
        let after = f.decide(&at(61.0, 0.1));
        assert_eq!(after.operators[1].parallelism, 5, "{}", after.operators[1].reason);
        // A scale-up in between starts the wait again.
        let mut f = Flink::new(no_lag());
        f.decide(&obs(0.0, 8, 10_000.0, 0.1));
        f.decide(&obs(30.0, 8, 10_000.0, 1.0));
        assert_eq!(f.decide(&obs(61.0, 8, 10_000.0, 0.1)).operators[1].parallelism, 8);
    }

    #[test]
    fn lag_raises_the_target() {
        let mut o = obs(0.0, 1, 2_500.0, 1.0);
        o.backlog_events = 60.0 * 10_000.0;
        // 10,000 + 600,000 / 60 s = 20,000/s: 11.4 -> 12 -> 16.
        let plan = Flink::new(no_lag()).decide(&o);
        assert_eq!(plan.operators[1].parallelism, 16, "{}", plan.operators[1].reason);
    }
}
