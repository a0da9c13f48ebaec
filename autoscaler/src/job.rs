//! What an autoscaler sees of a job and what it can ask of it: the
//! [`ScalableJob`] trait, the per-interval [`Observation`] it returns, and
//! the [`Plan`] it carries out. The engine implements it in process; a
//! Flink adapter implements it over Flink's REST API.

use cachesim::size::format_size;
use serde::{Deserialize, Serialize};

/// One operator's figures over the last policy interval (not since the
/// start: every rate here is a difference of counters over the interval).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperatorObservation {
    /// Operator name.
    pub name: String,
    /// Indices (into [`Observation::operators`]) of the operators that feed
    /// it: the job graph, in topological order.
    pub inputs: Vec<usize>,
    /// A source: it emits the job's events; its parallelism stays.
    pub source: bool,
    /// Whether its parallelism can change (sources' cannot on the engine).
    pub rescalable: bool,
    /// Whether it keeps keyed state in a block cache that can be sized.
    pub has_cache: bool,
    /// Subtasks now.
    pub parallelism: u32,
    /// Block-cache capacity, bytes (shared by its subtasks), if any.
    pub cache_bytes: Option<u64>,
    /// Bytes in the cache at the end of the interval.
    pub cache_usage_bytes: Option<u64>,
    /// Bytes of keyed state (memtables and SST files) at the end of the
    /// interval.
    pub state_bytes: u64,
    /// How fast that grows, bytes/s (negative: shrinks): over as long a
    /// span as the job can tell (the engine: since the job started, with
    /// no state; Flink: over the interval).
    pub state_growth_per_s: f64,
    /// Records received per second (a source: events generated per second).
    pub records_in_per_s: f64,
    /// Records emitted per second.
    pub records_out_per_s: f64,
    /// DS2's useful time in the interval, seconds, summed over subtasks:
    /// processing, excluding waits on input and output.
    pub useful_s: f64,
    /// Useful time over the interval's wall time, mean over subtasks (what
    /// Flink calls busy time, 0 to 1).
    pub busy_ratio: f64,
    /// Cores its subtasks' threads kept busy in the interval: CPU seconds
    /// per second, summed over subtasks (part of the useful time, whose
    /// rest is waiting for the disk or for a core), if the job can tell.
    #[serde(default)]
    pub cpu_cores: Option<f64>,
    /// Time blocked on output, over the wall time, mean over subtasks.
    pub backpressure_ratio: f64,
    /// DS2's aggregated true processing rate: records in per useful
    /// second, summed over subtasks.
    pub true_processing_rate: f64,
    /// DS2's aggregated true output rate: records out per useful second,
    /// summed over subtasks.
    pub true_output_rate: f64,
    /// Block-cache hit ratio of the operator's own reads in the interval
    /// (not compaction's), if it read anything.
    pub hit_ratio: Option<f64>,
    /// Block lookups of its own reads per record received, in the interval.
    pub lookups_per_record: f64,
    /// Mean cost of a block-cache miss (a block read from the disk),
    /// microseconds, in the interval, if there were misses.
    pub miss_cost_us: Option<f64>,
    /// State-read latency p90 in the interval, microseconds.
    pub state_read_p90_us: Option<f64>,
}

impl OperatorObservation {
    /// Output records per input record (1 when nothing came in).
    pub fn selectivity(&self) -> f64 {
        if self.true_processing_rate > 0.0 {
            self.true_output_rate / self.true_processing_rate
        } else if self.records_in_per_s > 0.0 {
            self.records_out_per_s / self.records_in_per_s
        } else {
            1.0
        }
    }

    /// What it is configured with now.
    pub fn config(&self) -> OperatorConfig {
        OperatorConfig { parallelism: self.parallelism, cache_bytes: self.cache_bytes }
    }
}

/// A job over the last policy interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// End of the interval, seconds since the job started.
    pub t_s: f64,
    /// Length of the interval, seconds.
    pub interval_s: f64,
    /// Operators in topological order.
    pub operators: Vec<OperatorObservation>,
    /// Events the sources emitted per second in the interval.
    pub source_rate: f64,
    /// Events per second the job should sustain.
    pub target_rate: f64,
    /// Events the sources are behind the target since the start (0 when
    /// they keep up): the job's lag.
    pub backlog_events: f64,
    /// End-to-end latency p99 of the rows that reached the sinks in the
    /// interval, ms.
    pub e2e_p99_ms: f64,
    /// Maximum parallelism (key groups): no operator goes above it.
    pub max_parallelism: u32,
    /// Cores the job's process kept busy in the interval besides its
    /// operators' threads (RocksDB's flushes and compactions, the metrics
    /// endpoint), if the job can tell: on one machine, cores its operators
    /// cannot have.
    #[serde(default)]
    pub background_cores: Option<f64>,
}

impl Observation {
    /// The operator of this name.
    pub fn operator(&self, name: &str) -> Option<&OperatorObservation> {
        self.operators.iter().find(|o| o.name == name)
    }

    /// The job's configuration now.
    pub fn config(&self) -> Config {
        Config { operators: self.operators.iter().map(|o| (o.name.clone(), o.config())).collect() }
    }
}

/// An operator's resources.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorConfig {
    /// Subtasks.
    pub parallelism: u32,
    /// Block cache, bytes, if the operator has one.
    pub cache_bytes: Option<u64>,
}

/// Every operator's resources, in topological order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// (operator, its resources).
    pub operators: Vec<(String, OperatorConfig)>,
}

impl Config {
    /// The resources of `name`.
    pub fn get(&self, name: &str) -> Option<OperatorConfig> {
        self.operators.iter().find(|(n, _)| n == name).map(|(_, c)| *c)
    }

    /// Cores: one per subtask.
    pub fn cores(&self) -> u32 {
        self.operators.iter().map(|(_, c)| c.parallelism).sum()
    }

    /// Block-cache bytes over every operator.
    pub fn cache_bytes(&self) -> u64 {
        self.operators.iter().filter_map(|(_, c)| c.cache_bytes).sum()
    }

    /// `name=P@SIZE` (or `name=P`) pairs joined by `;`, for summaries.
    pub fn describe(&self) -> String {
        self.operators
            .iter()
            .map(|(n, c)| match c.cache_bytes {
                Some(b) => format!("{n}={}@{}", c.parallelism, format_size(b)),
                None => format!("{n}={}", c.parallelism),
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// One operator's part of a plan: the resources it should have and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatorPlan {
    /// The operator.
    pub operator: String,
    /// Subtasks it should have.
    pub parallelism: u32,
    /// Block cache it should have, bytes (`None`: it has none).
    pub cache_bytes: Option<u64>,
    /// Why, in words.
    pub reason: String,
}

/// A whole configuration to move to: every operator's (parallelism,
/// memory), with the reasons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Per operator, in topological order.
    pub operators: Vec<OperatorPlan>,
}

impl Plan {
    /// The configuration the plan asks for.
    pub fn config(&self) -> Config {
        Config {
            operators: self
                .operators
                .iter()
                .map(|o| {
                    (o.operator.clone(), OperatorConfig { parallelism: o.parallelism, cache_bytes: o.cache_bytes })
                })
                .collect(),
        }
    }

    /// The plan's part for `name`.
    pub fn operator(&self, name: &str) -> Option<&OperatorPlan> {
        self.operators.iter().find(|o| o.operator == name)
    }

    /// The operators whose resources differ from `current`.
    pub fn changes<'a>(&'a self, current: &'a Config) -> impl Iterator<Item = &'a OperatorPlan> + 'a {
        self.operators.iter().filter(move |o| {
            current.get(&o.operator) != Some(OperatorConfig { parallelism: o.parallelism, cache_bytes: o.cache_bytes })
        })
    }

    /// The plan that keeps `current` as it is, each operator with `reason`.
    pub fn keep(current: &Config, reason: &str) -> Plan {
        Plan {
            operators: current
                .operators
                .iter()
                .map(|(n, c)| OperatorPlan {
                    operator: n.clone(),
                    parallelism: c.parallelism,
                    cache_bytes: c.cache_bytes,
                    reason: reason.to_string(),
                })
                .collect(),
        }
    }
}

/// What carrying out a plan did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Operators whose parallelism changed.
    pub rescaled: Vec<String>,
    /// Operators whose memory changed.
    pub resized: Vec<String>,
    /// Seconds the changes took, in all.
    pub duration_s: f64,
}

/// A running job an autoscaler can watch and change.
pub trait ScalableJob {
    /// Why an observation or a change failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The figures since the previous call (the first call: since the
    /// start).
    fn observe(&mut self) -> Result<Observation, Self::Error>;

    /// Moves the job to `plan`'s configuration; operators it leaves as
    /// they are are not touched.
    fn apply(&mut self, plan: &Plan) -> Result<Applied, Self::Error>;

    /// Whether the job has ended (its sources are done).
    fn is_finished(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_describes_itself_and_a_plan_names_its_changes() {
        let c = Config {
            operators: vec![
                ("source".into(), OperatorConfig { parallelism: 1, cache_bytes: None }),
                ("join".into(), OperatorConfig { parallelism: 4, cache_bytes: Some(256 << 20) }),
            ],
        };
        assert_eq!(c.describe(), "source=1;join=4@256MiB");
        assert_eq!((c.cores(), c.cache_bytes()), (5, 256 << 20));
        let mut plan = Plan::keep(&c, "hold");
        assert_eq!(plan.changes(&c).count(), 0);
        plan.operators[1].parallelism = 2;
        assert_eq!(plan.changes(&c).map(|o| o.operator.as_str()).collect::<Vec<_>>(), ["join"]);
    }
}
