//! DS2 (Kalavri et al., "Three steps is all you need", OSDI'18), as its
//! reference implementation computes it (strymon-system/ds2,
//! `controller/src/policy/scaling.rs`).
//!
//! Operators are visited in topological order from the sources. A
//! source's projected output is the target rate (times the records it
//! emits per event). For every other operator i at parallelism p_i with
//! aggregated true processing rate λp_i and true output rate λo_i:
//! target input = Σ projected outputs of its inputs;
//! π_i = target input / (λp_i / p_i), parallelism ⌈π_i · (1 + factor)⌉;
//! projected output = λo_i · π_i / p_i with the unrounded π_i. Rates are
//! per useful second, so one observation at any parallelism says what
//! each instance can do: DS2 converges in one step.
//!
//! The reference manager reconfigures only when some operator goes up by
//! at least one instance or down by at least two; with a target rate
//! ratio threshold set, a decision that scales nothing up while the
//! sources run more than that factor below their target multiplies every
//! parallelism by the factor (its final "adjustment").

use super::Policy;
use crate::job::{Observation, OperatorPlan, Plan};

/// DS2's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ds2Params {
    /// Over-provisioning: each operator gets ⌈π · (1 + factor)⌉ instances
    /// (reference default 0).
    pub scaling_factor: f64,
    /// The final adjustment's threshold on target / observed source rate
    /// (reference default: never).
    pub target_rate_ratio: f64,
    /// Scale up only by at least this many instances (reference: 1).
    pub min_scale_up: u32,
    /// Scale down only by at least this many instances (reference: 2).
    pub min_scale_down: u32,
}

impl Default for Ds2Params {
    fn default() -> Ds2Params {
        Ds2Params { scaling_factor: 0.0, target_rate_ratio: f64::INFINITY, min_scale_up: 1, min_scale_down: 2 }
    }
}

/// One operator's DS2 estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The parallelism DS2 asks for (the current one for sources and
    /// operators it cannot estimate).
    pub parallelism: u32,
    /// π: instances needed, unrounded, before the scaling factor.
    pub instances: f64,
    /// The input rate the operator must take (records/s).
    pub target_input: f64,
    /// What one instance processes per useful second.
    pub per_instance_rate: f64,
    /// Its projected output rate at π instances.
    pub projected_output: f64,
}

/// DS2's estimate for every operator of `obs` at `target_rate` events/s
/// (topological order, as the observation lists them).
pub fn estimate(obs: &Observation, target_rate: f64, scaling_factor: f64) -> Vec<Estimate> {
    let mut out: Vec<Estimate> = Vec::with_capacity(obs.operators.len());
    let max = obs.max_parallelism.max(1);
    for op in &obs.operators {
        let p = op.parallelism.max(1);
        if op.source || op.inputs.is_empty() {
            // Records emitted per event generated: the sources' output at
            // the target rate.
            let per_event = if op.records_in_per_s > 0.0 { op.records_out_per_s / op.records_in_per_s } else { 1.0 };
            out.push(Estimate {
                parallelism: p,
                instances: p as f64,
                target_input: target_rate,
                per_instance_rate: 0.0,
                projected_output: target_rate * per_event,
            });
            continue;
        }
        let target_input: f64 = op.inputs.iter().filter_map(|&i| out.get(i)).map(|e| e.projected_output).sum();
        let per_instance = op.true_processing_rate / p as f64;
        if per_instance <= 0.0 || !per_instance.is_finite() {
            // Nothing processed in the window: DS2 has no rate to go on.
            out.push(Estimate {
                parallelism: p,
                instances: p as f64,
                target_input,
                per_instance_rate: 0.0,
                projected_output: target_input * op.selectivity(),
            });
            continue;
        }
        let instances = target_input / per_instance;
        let parallelism = ((instances * (1.0 + scaling_factor)).ceil() as u32).clamp(1, max);
        out.push(Estimate {
            parallelism,
            instances,
            target_input,
            per_instance_rate: per_instance,
            projected_output: op.true_output_rate * instances / p as f64,
        });
    }
    out
}

/// The DS2 policy.
#[derive(Clone, Debug, Default)]
pub struct Ds2 {
    /// Its parameters.
    pub params: Ds2Params,
}

impl Ds2 {
    /// DS2 with `params`.
    pub fn new(params: Ds2Params) -> Ds2 {
        Ds2 { params }
    }
}

impl Policy for Ds2 {
    fn name(&self) -> &'static str {
        "ds2"
    }

    fn decide(&mut self, obs: &Observation) -> Plan {
        let est = estimate(obs, obs.target_rate, self.params.scaling_factor);
        let mut plan = Plan::default();
        let mut any_up = false;
        let mut any_change = false;
        for (op, e) in obs.operators.iter().zip(&est) {
            let p = op.parallelism;
            let wanted = if op.rescalable { e.parallelism } else { p };
            let up = wanted >= p + self.params.min_scale_up.max(1);
            let down = wanted + self.params.min_scale_down.max(1) <= p;
            any_up |= up;
            any_change |= up || down;
            let reason = if !op.rescalable {
                format!("source: projected output {:.0}/s", e.projected_output)
            } else if e.per_instance_rate <= 0.0 {
                "no record processed in the window: no rate to go on".to_string()
            } else {
                format!(
                    "target input {:.0}/s over {:.0}/s per instance = {:.2} instances",
                    e.target_input, e.per_instance_rate, e.instances
                )
            };
            plan.operators.push(OperatorPlan {
                operator: op.name.clone(),
                parallelism: wanted,
                cache_bytes: op.cache_bytes,
                reason,
            });
        }
        if !any_change {
            // Below the manager's thresholds: keep the configuration.
            for (o, op) in plan.operators.iter_mut().zip(&obs.operators) {
                if o.parallelism != op.parallelism {
                    o.reason = format!("{}; within the manager's thresholds (+1, -2): kept", o.reason);
                    o.parallelism = op.parallelism;
                }
            }
        }
        // The reference's final adjustment: nothing scales up, yet the
        // sources run well below their target.
        let ratio = if obs.source_rate > 0.0 { obs.target_rate / obs.source_rate } else { 1.0 };
        if !any_up && ratio > self.params.target_rate_ratio {
            for (o, op) in plan.operators.iter_mut().zip(&obs.operators) {
                if op.rescalable {
                    o.parallelism = ((o.parallelism as f64 * ratio).ceil() as u32).clamp(1, obs.max_parallelism.max(1));
                    o.reason = format!("{}; sources at 1/{ratio:.2} of the target: adjusted", o.reason);
                }
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::OperatorObservation;
    use crate::policy::fixtures::{job, source};

    fn op(name: &str, inputs: &[usize], p: u32, tpr: f64, tor: f64) -> OperatorObservation {
        OperatorObservation {
            name: name.into(),
            inputs: inputs.to_vec(),
            rescalable: true,
            parallelism: p,
            true_processing_rate: tpr,
            true_output_rate: tor,
            records_in_per_s: tpr / 2.0,
            records_out_per_s: tor / 2.0,
            ..Default::default()
        }
    }

    #[test]
    fn a_wordcount_reaches_its_exact_parallelism_in_one_step() {
        // DS2's evaluation dataflow: source -> flatmap (splits a sentence
        // into 5 words) -> count. The source must emit 1,000,000
        // sentences/s; one flatmap instance handles 150,000 sentences per
        // useful second, one count instance 400,000 words.
        let obs = job(
            vec![
                source(200_000.0),
                op("flatmap", &[0], 2, 300_000.0, 1_500_000.0),
                op("count", &[1], 3, 1_200_000.0, 1_200_000.0),
            ],
            1_000_000.0,
        );
        let e = estimate(&obs, 1_000_000.0, 0.0);
        assert!((e[1].instances - 1_000_000.0 / 150_000.0).abs() < 1e-9);
        assert_eq!(e[1].parallelism, 7);
        // Its projected output uses the unrounded 6.67 instances: 5 M
        // words/s, for 12.5 count instances.
        assert!((e[1].projected_output - 5_000_000.0).abs() < 1e-6);
        assert_eq!(e[2].parallelism, 13);
        let plan = Ds2::default().decide(&obs);
        let ps: Vec<u32> = plan.operators.iter().map(|o| o.parallelism).collect();
        assert_eq!(ps, [1, 7, 13]);
        // At the configuration it chose, with the same per-instance rates,
        // DS2 asks for nothing more: it has converged.
        let after = job(
            vec![
                source(1_000_000.0),
                op("flatmap", &[0], 7, 1_050_000.0, 5_250_000.0),
                op("count", &[1], 13, 5_200_000.0, 5_200_000.0),
            ],
            1_000_000.0,
        );
        let again: Vec<u32> = Ds2::default().decide(&after).operators.iter().map(|o| o.parallelism).collect();
        assert_eq!(again, [1, 7, 13]);
    }

    #[test]
    fn two_inputs_add_up_and_the_scaling_factor_overprovisions() {
        // A join of two filtered branches: 40% and 10% of the events.
        let obs = job(
            vec![
                source(10_000.0),
                op("filter_a", &[0], 1, 100_000.0, 40_000.0),
                op("filter_b", &[0], 1, 100_000.0, 10_000.0),
                op("join", &[1, 2], 1, 5_000.0, 5_000.0),
            ],
            50_000.0,
        );
        let e = estimate(&obs, 50_000.0, 0.0);
        assert!((e[3].target_input - 25_000.0).abs() < 1e-6, "{}", e[3].target_input);
        assert_eq!(e[3].parallelism, 5);
        assert_eq!(estimate(&obs, 50_000.0, 0.2)[3].parallelism, 6);
        assert_eq!(e[1].parallelism, 1);
    }

    #[test]
    fn small_changes_are_kept_as_the_reference_manager_does() {
        // 3 -> 2 is a step down of one: kept.
        let obs = job(vec![source(10_000.0), op("map", &[0], 3, 15_000.0, 15_000.0)], 10_000.0);
        let plan = Ds2::default().decide(&obs);
        assert_eq!(plan.operators[1].parallelism, 3);
        assert!(plan.operators[1].reason.contains("kept"), "{}", plan.operators[1].reason);
        // 4 -> 2 goes.
        let obs = job(vec![source(10_000.0), op("map", &[0], 4, 20_000.0, 20_000.0)], 10_000.0);
        assert_eq!(Ds2::default().decide(&obs).operators[1].parallelism, 2);
        // An idle operator keeps its parallelism.
        let obs = job(vec![source(10_000.0), op("map", &[0], 4, 0.0, 0.0)], 10_000.0);
        assert_eq!(Ds2::default().decide(&obs).operators[1].parallelism, 4);
    }

    #[test]
    fn the_final_adjustment_scales_by_the_source_shortfall() {
        let mut obs = job(vec![source(10_000.0), op("map", &[0], 2, 20_000.0, 20_000.0)], 20_000.0);
        obs.source_rate = 10_000.0;
        // DS2 sees 20,000/s per 2 instances = enough: no scale-up; the
        // sources run at half their target.
        let params = Ds2Params { target_rate_ratio: 1.5, ..Ds2Params::default() };
        assert_eq!(Ds2::new(params).decide(&obs).operators[1].parallelism, 4);
        assert_eq!(Ds2::default().decide(&obs).operators[1].parallelism, 2);
    }
}
