//! The controller: when to ask the policy and when to act on its answer.
//!
//! Every policy interval it takes an [`Observation`] and
//! - skips it when the window spans a change, or is one of the warm-up's
//!   windows (the first whole windows after a change, or after the job's
//!   start, while caches fill and moved state settles: DS2's warm-up);
//! - otherwise asks the policy, caps the plan at the limits (`max_cores`,
//!   `max_memory`), and carries it out only when the same configuration
//!   has been proposed `activation` times in a row (DS2's activation
//!   time) and the cooldown since the last change has passed;
//! - and writes one [`DecisionRecord`] per interval, acted on or not, with
//!   the inputs, the plan, the reasons and why it was or was not applied.
//!
//! Time is the observation's (`t_s`, seconds since the job started), so a
//! test drives the controller with a clock of its own.

use serde::{Deserialize, Serialize};

use crate::job::{Config, Observation, OperatorPlan, Plan};
use crate::policy::Policy;

/// When to act.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControllerConfig {
    /// Policy interval, seconds.
    pub interval_s: f64,
    /// Whole windows ignored after a change ends (and after the start).
    pub warmup_intervals: u32,
    /// Consecutive identical proposals before a change is made.
    pub activation: u32,
    /// Seconds after a change ends before the next may start.
    pub cooldown_s: f64,
    /// At most this many cores (subtasks) in all.
    pub max_cores: Option<u32>,
    /// At most this many bytes of block cache in all.
    pub max_memory: Option<u64>,
}

impl Default for ControllerConfig {
    fn default() -> ControllerConfig {
        ControllerConfig {
            interval_s: 10.0,
            warmup_intervals: 1,
            activation: 1,
            cooldown_s: 0.0,
            max_cores: None,
            max_memory: None,
        }
    }
}

/// One operator's inputs to a decision, as logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatorInputs {
    /// Operator.
    pub operator: String,
    /// Subtasks.
    pub parallelism: u32,
    /// Cache bytes.
    pub cache_bytes: Option<u64>,
    /// Records in per second.
    pub input_rate: f64,
    /// Aggregated true processing rate.
    pub true_processing_rate: f64,
    /// Busy share.
    pub busy: f64,
    /// Cores its threads kept busy, if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<f64>,
    /// Hit ratio of its reads.
    pub hit_ratio: Option<f64>,
    /// State-read p90, microseconds.
    pub state_p90_us: Option<f64>,
}

/// One line of the decision log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// End of the window, seconds since the job started.
    pub t_s: f64,
    /// Policy.
    pub policy: String,
    /// Target events/s.
    pub target_rate: f64,
    /// Events/s the sources emitted in the window.
    pub source_rate: f64,
    /// End-to-end p99 in the window, ms.
    pub e2e_p99_ms: f64,
    /// Cores the process kept busy besides the operators, if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_cores: Option<f64>,
    /// What the policy saw.
    pub inputs: Vec<OperatorInputs>,
    /// The plan (the configuration as it stays, when the policy was not
    /// asked).
    pub operators: Vec<OperatorPlan>,
    /// Whether it was carried out.
    pub applied: bool,
    /// Why it was or was not.
    pub why: String,
    /// Seconds the change took, if made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_s: Option<f64>,
}

/// What the controller makes of one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The plan (the current configuration when nothing is to change).
    pub plan: Plan,
    /// Carry it out now.
    pub act: bool,
    /// Why (not).
    pub why: String,
}

/// The controller around one policy.
pub struct Controller {
    policy: Box<dyn Policy>,
    config: ControllerConfig,
    last_change_end_s: Option<f64>,
    warmup_left: u32,
    proposal: Option<(Config, u32)>,
}

impl Controller {
    /// A controller of `policy`.
    pub fn new(policy: Box<dyn Policy>, config: ControllerConfig) -> Controller {
        Controller { policy, config, last_change_end_s: None, warmup_left: config.warmup_intervals, proposal: None }
    }

    /// The policy's name.
    pub fn policy(&self) -> &'static str {
        self.policy.name()
    }

    /// Its configuration.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Decides on the window `obs`.
    pub fn step(&mut self, obs: &Observation) -> Step {
        let current = obs.config();
        let hold = |why: String| Step { plan: Plan::keep(&current, "not asked"), act: false, why };
        if let Some(end) = self.last_change_end_s {
            let start = obs.t_s - obs.interval_s;
            if start < end - 1e-9 {
                return hold("the window spans a change: not used".into());
            }
        }
        if self.warmup_left > 0 {
            self.warmup_left -= 1;
            let n = self.config.warmup_intervals;
            return hold(format!("warm-up window {} of {n}", n - self.warmup_left));
        }
        let mut plan = self.policy.decide(obs);
        let capped = self.cap(&mut plan, &current);
        let proposed = plan.config();
        if proposed == current {
            self.proposal = None;
            return Step { plan, act: false, why: "no change".into() };
        }
        let count = match &self.proposal {
            Some((c, n)) if *c == proposed => n + 1,
            _ => 1,
        };
        self.proposal = Some((proposed, count));
        let activation = self.config.activation.max(1);
        if count < activation {
            return Step { plan, act: false, why: format!("activation {count} of {activation}") };
        }
        if let Some(end) = self.last_change_end_s {
            if obs.t_s < end + self.config.cooldown_s {
                return Step { plan, act: false, why: format!("cooldown until {:.0} s", end + self.config.cooldown_s) };
            }
        }
        let why = if capped.is_empty() { "change".to_string() } else { format!("change, capped by {capped}") };
        Step { plan, act: true, why }
    }

    /// The plan of the last step was carried out, ending at `end_t_s`
    /// (seconds since the job started): the warm-up starts there.
    pub fn applied(&mut self, plan: &Plan, obs: &Observation, end_t_s: f64) {
        self.policy.applied(plan, obs);
        self.last_change_end_s = Some(end_t_s);
        self.warmup_left = self.config.warmup_intervals;
        self.proposal = None;
    }

    /// Keeps `plan` within the limits, the increases cut first; names the
    /// limits that cut it (empty when none did).
    fn cap(&self, plan: &mut Plan, current: &Config) -> String {
        let mut cut = Vec::new();
        if let Some(max) = self.config.max_cores {
            let mut total: u32 = plan.operators.iter().map(|o| o.parallelism).sum();
            if total > max {
                cut.push("--max-cores");
            }
            while total > max {
                // The operator grown most over its current parallelism (or
                // the largest) gives one subtask back.
                let grown = |o: &OperatorPlan| {
                    o.parallelism as i64 - current.get(&o.operator).map_or(0, |c| c.parallelism as i64)
                };
                let Some(o) =
                    plan.operators.iter_mut().filter(|o| o.parallelism > 1).max_by_key(|o| (grown(o), o.parallelism))
                else {
                    break;
                };
                o.parallelism -= 1;
                total -= 1;
                if !o.reason.ends_with("(--max-cores)") {
                    o.reason.push_str("; cut to fit (--max-cores)");
                }
            }
        }
        if let Some(max) = self.config.max_memory {
            let total: u64 = plan.operators.iter().filter_map(|o| o.cache_bytes).sum();
            if total > max {
                cut.push("--max-memory");
                let scale = max as f64 / total as f64;
                for o in plan.operators.iter_mut() {
                    if let Some(c) = o.cache_bytes.as_mut() {
                        *c = ((*c as f64 * scale) as u64).max(1);
                        o.reason.push_str("; cut to fit (--max-memory)");
                    }
                }
            }
        }
        cut.join(" and ")
    }

    /// The log line for a window: its inputs, the step and what came of it.
    pub fn record(
        &self,
        obs: &Observation,
        step: &Step,
        applied: bool,
        change_s: Option<f64>,
        why: &str,
    ) -> DecisionRecord {
        DecisionRecord {
            t_s: obs.t_s,
            policy: self.policy.name().into(),
            target_rate: obs.target_rate,
            source_rate: obs.source_rate,
            e2e_p99_ms: obs.e2e_p99_ms,
            background_cores: obs.background_cores,
            inputs: obs
                .operators
                .iter()
                .map(|o| OperatorInputs {
                    operator: o.name.clone(),
                    parallelism: o.parallelism,
                    cache_bytes: o.cache_bytes,
                    input_rate: o.records_in_per_s,
                    true_processing_rate: o.true_processing_rate,
                    busy: o.busy_ratio,
                    cpu_cores: o.cpu_cores,
                    hit_ratio: o.hit_ratio,
                    state_p90_us: o.state_read_p90_us,
                })
                .collect(),
            operators: step.plan.operators.clone(),
            applied,
            why: why.to_string(),
            change_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{OperatorConfig, OperatorObservation};

    /// A policy that always asks for `parallelism` subtasks and `cache`.
    struct Fixed {
        parallelism: u32,
        cache: u64,
        applied: u32,
    }

    impl Policy for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        fn decide(&mut self, obs: &Observation) -> Plan {
            let mut plan = Plan::keep(&obs.config(), "fixed");
            plan.operators[1].parallelism = self.parallelism;
            plan.operators[1].cache_bytes = Some(self.cache);
            plan
        }
        fn applied(&mut self, _: &Plan, _: &Observation) {
            self.applied += 1;
        }
    }

    fn window(t_s: f64, p: u32, cache: u64) -> Observation {
        Observation {
            t_s,
            interval_s: 10.0,
            operators: vec![
                OperatorObservation { name: "source".into(), parallelism: 1, ..Default::default() },
                OperatorObservation {
                    name: "join".into(),
                    parallelism: p,
                    cache_bytes: Some(cache),
                    ..Default::default()
                },
            ],
            max_parallelism: 128,
            ..Default::default()
        }
    }

    fn controller(config: ControllerConfig, parallelism: u32) -> Controller {
        Controller::new(Box::new(Fixed { parallelism, cache: 64 << 20, applied: 0 }), config)
    }

    #[test]
    fn activation_waits_for_agreeing_decisions() {
        let mut c = controller(ControllerConfig { activation: 3, warmup_intervals: 0, ..Default::default() }, 4);
        let steps: Vec<bool> = (1..=3).map(|i| c.step(&window(10.0 * i as f64, 1, 32 << 20)).act).collect();
        assert_eq!(steps, [false, false, true]);
        assert_eq!(c.step(&window(40.0, 1, 32 << 20)).why, "change");
        // The current configuration proposed is no change, and resets.
        let mut c = controller(ControllerConfig { activation: 2, warmup_intervals: 0, ..Default::default() }, 1);
        let s = c.step(&window(10.0, 1, 64 << 20));
        assert_eq!((s.act, s.why.as_str()), (false, "no change"));
    }

    #[test]
    fn windows_spanning_a_change_and_the_warm_up_are_not_used() {
        let mut c = controller(ControllerConfig { warmup_intervals: 2, ..Default::default() }, 4);
        // The job's start is a change: two windows of warm-up.
        assert_eq!(c.step(&window(10.0, 1, 32 << 20)).why, "warm-up window 1 of 2");
        assert_eq!(c.step(&window(20.0, 1, 32 << 20)).why, "warm-up window 2 of 2");
        let third = window(30.0, 1, 32 << 20);
        let s = c.step(&third);
        assert!(s.act);
        // The change ran from 30 s to 33 s.
        c.applied(&s.plan, &third, 33.0);
        // Window 30-40 s spans it.
        assert!(c.step(&window(40.0, 4, 64 << 20)).why.contains("spans a change"));
        // The next two whole windows are warm-up.
        assert!(c.step(&window(50.0, 4, 64 << 20)).why.contains("warm-up window 1"));
        assert!(c.step(&window(60.0, 4, 64 << 20)).why.contains("warm-up window 2"));
        assert_eq!(c.step(&window(70.0, 4, 64 << 20)).why, "no change");
    }

    #[test]
    fn cooldown_holds_a_change_until_it_has_passed() {
        let cfg = ControllerConfig { warmup_intervals: 0, cooldown_s: 60.0, ..Default::default() };
        let mut c = controller(cfg, 4);
        let s = c.step(&window(10.0, 1, 32 << 20));
        c.applied(&s.plan, &window(10.0, 1, 32 << 20), 10.0);
        // The job was moved back by someone else: the policy wants 4 again.
        let s = c.step(&window(30.0, 2, 64 << 20));
        assert!(!s.act && s.why.starts_with("cooldown"), "{}", s.why);
        assert!(c.step(&window(70.0, 2, 64 << 20)).act);
    }

    #[test]
    fn limits_cut_the_increases() {
        let cfg = ControllerConfig {
            max_cores: Some(4),
            max_memory: Some(48 << 20),
            warmup_intervals: 0,
            ..Default::default()
        };
        let mut c = controller(cfg, 8);
        let s = c.step(&window(10.0, 1, 32 << 20));
        let join = s.plan.config().get("join").unwrap();
        assert_eq!(join, OperatorConfig { parallelism: 3, cache_bytes: Some(48 << 20) });
        assert!(s.why.contains("--max-cores") && s.why.contains("--max-memory"), "{}", s.why);
        let log = c.record(&window(10.0, 1, 32 << 20), &s, true, Some(1.5), &s.why);
        let line = serde_json::to_string(&log).unwrap();
        for key in ["\"t_s\":10.0", "\"policy\":\"fixed\"", "\"operators\":[", "\"applied\":true", "\"reason\":"] {
            assert!(line.contains(key), "{key} not in {line}");
        }
    }
}
