//! A point-in-time view of a job's metrics with the derived values (DS2
//! rates, hit ratios, latency quantiles): what the Prometheus endpoint, the
//! periodic snapshots and the end-of-run summary all report.

use serde::{Deserialize, Serialize};

use super::metrics::{latency_histogram, JobMetrics, StateLatency, SubtaskMetrics};
use hdrhistogram::Histogram;
use std::sync::atomic::Ordering::Relaxed;

/// Microseconds at quantile `q` (0 for an empty histogram).
fn quantile_us(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Latency quantiles, microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Quantiles {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Number of samples.
    pub count: u64,
}

impl Quantiles {
    /// The quantiles of `h` (nanosecond samples).
    pub fn of(h: &Histogram<u64>) -> Quantiles {
        Quantiles {
            p50_us: quantile_us(h, 0.5),
            p99_us: quantile_us(h, 0.99),
            p999_us: quantile_us(h, 0.999),
            count: h.len(),
        }
    }
}

/// One subtask.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubtaskSnapshot {
    /// Subtask index.
    pub subtask: u32,
    /// Rows received (events, for a source).
    pub records_in: u64,
    /// Rows emitted.
    pub records_out: u64,
    /// DS2 useful time, seconds.
    pub useful_s: f64,
    /// CPU time of its thread, seconds (part of the useful time: the rest
    /// is waiting for the disk or for a core).
    #[serde(default)]
    pub cpu_s: f64,
    /// Time waiting for input, seconds.
    pub idle_s: f64,
    /// Time blocked on full output channels, seconds.
    pub backpressure_s: f64,
    /// DS2 true processing rate: records in per useful second.
    pub true_processing_rate: f64,
    /// DS2 true output rate: records out per useful second.
    pub true_output_rate: f64,
    /// Block-cache hits.
    pub block_cache_hits: u64,
    /// Block-cache misses.
    pub block_cache_misses: u64,
    /// Block-cache hits of the subtask's own reads (not compaction's), when
    /// counted (`count_user_reads`).
    #[serde(default)]
    pub user_hits: Option<u64>,
    /// Block-cache misses of its own reads, when counted.
    #[serde(default)]
    pub user_misses: Option<u64>,
    /// Bytes read from SST files.
    pub disk_read_bytes: u64,
    /// Memtable bytes.
    pub memtable_bytes: u64,
    /// Live SST bytes.
    pub sst_bytes: u64,
    /// Estimated keys.
    pub estimated_keys: u64,
    /// Block reads from SST files.
    pub sst_reads: u64,
    /// Microseconds spent reading them.
    pub sst_read_micros: u64,
    /// State read latency (get, scan).
    pub get: Quantiles,
    /// State write latency (put, delete).
    pub put: Quantiles,
    /// Whether the subtask has ended.
    pub finished: bool,
    /// A rescale retired it.
    #[serde(default)]
    pub retired: bool,
}

/// One operator, summed over its subtasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Operator name.
    pub name: String,
    /// Subtasks.
    pub parallelism: u32,
    /// The write-buffer budget of its subtasks together, bytes (0 without
    /// RocksDB state).
    #[serde(default)]
    pub write_buffer_budget: u64,
    /// Whether it keeps keyed state.
    pub stateful: bool,
    /// Block-cache capacity, bytes (RocksDB state only).
    pub cache_capacity: Option<u64>,
    /// Block-cache usage, bytes.
    pub cache_usage: Option<u64>,
    /// Block-cache hit ratio over the run (None without lookups).
    pub hit_ratio: Option<f64>,
    /// Rows received.
    pub records_in: u64,
    /// Rows emitted.
    pub records_out: u64,
    /// Useful time, seconds, summed over subtasks.
    pub useful_s: f64,
    /// CPU time of its subtasks' threads, seconds, summed.
    #[serde(default)]
    pub cpu_s: f64,
    /// Aggregated DS2 true processing rate (sum over subtasks).
    pub true_processing_rate: f64,
    /// Aggregated DS2 true output rate.
    pub true_output_rate: f64,
    /// Backpressure time, seconds, summed.
    pub backpressure_s: f64,
    /// Bytes read from SST files.
    pub disk_read_bytes: u64,
    /// State bytes (memtables + SST files).
    pub state_bytes: u64,
    /// Estimated keys.
    pub estimated_keys: u64,
    /// Block-cache hits.
    pub block_cache_hits: u64,
    /// Block-cache misses.
    pub block_cache_misses: u64,
    /// Block-cache hits of the operator's own reads (gets and scans on its
    /// subtasks' threads; RocksDB's tickers above also count compaction's
    /// and flush's lookups), when counted (`count_user_reads`).
    #[serde(default)]
    pub user_hits: Option<u64>,
    /// Block-cache misses of its own reads, when counted.
    #[serde(default)]
    pub user_misses: Option<u64>,
    /// Mean time of a block read from an SST file, microseconds (the cost
    /// of a miss), when there were reads.
    pub miss_cost_us: Option<f64>,
    /// Block reads from SST files.
    pub sst_reads: u64,
    /// Microseconds spent in them.
    pub sst_read_micros: u64,
    /// State read latency over all subtasks.
    pub get: Quantiles,
    /// State write latency over all subtasks.
    pub put: Quantiles,
    /// Per subtask.
    pub subtasks: Vec<SubtaskSnapshot>,
}

/// The whole job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobSnapshot {
    /// Seconds since the start.
    pub elapsed_s: f64,
    /// Source events emitted.
    pub events: u64,
    /// Rows that reached the sinks.
    pub results: u64,
    /// Events per second since the start (the final drain included).
    pub throughput: f64,
    /// Seconds the sources took to emit every event (the whole run while
    /// they still emit).
    #[serde(default)]
    pub source_s: f64,
    /// Events per second over `source_s`: the rate the job sustained, as
    /// Nexmark measures it at the source (backpressure slows the sources;
    /// the drain after the last event does not count).
    #[serde(default)]
    pub sustained_throughput: f64,
    /// End-to-end latency (source emission to sink) of result rows, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile end-to-end latency, ms.
    pub latency_p99_ms: f64,
    /// CPU time of the whole process so far, seconds: the subtasks' and
    /// everything beside them (RocksDB's flushes and compactions, the
    /// metrics endpoint; in a process that runs more than the job, theirs
    /// too).
    #[serde(default)]
    pub process_cpu_s: f64,
    /// Operators in topological order.
    pub operators: Vec<OperatorSnapshot>,
    /// Rescales and resizes so far.
    #[serde(default)]
    pub rescale: RescaleSnapshot,
}

/// Rescales and resizes so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RescaleSnapshot {
    /// Changes of parallelism completed.
    pub rescales: u64,
    /// Changes of memory completed.
    pub resizes: u64,
    /// Key groups moved.
    pub key_groups_moved: u64,
    /// State bytes moved.
    pub bytes_moved: u64,
    /// Duration of each rescale, seconds.
    pub durations_s: Vec<f64>,
}

fn rate(n: u64, s: f64) -> f64 {
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

fn subtask(m: &SubtaskMetrics, lat: &StateLatency) -> SubtaskSnapshot {
    let s = m.store();
    let useful_s = m.useful_ns.load(Relaxed) as f64 / 1e9;
    let (records_in, records_out) = (m.records_in.load(Relaxed), m.records_out.load(Relaxed));
    SubtaskSnapshot {
        subtask: m.subtask,
        records_in,
        records_out,
        useful_s,
        cpu_s: m.cpu_ns.load(Relaxed) as f64 / 1e9,
        idle_s: m.idle_ns.load(Relaxed) as f64 / 1e9,
        backpressure_s: m.backpressure_ns.load(Relaxed) as f64 / 1e9,
        true_processing_rate: rate(records_in, useful_s),
        true_output_rate: rate(records_out, useful_s),
        block_cache_hits: s.block_cache_hits,
        block_cache_misses: s.block_cache_misses,
        user_hits: s.user_block_cache_hits,
        user_misses: s.user_block_reads,
        disk_read_bytes: s.disk_read_bytes,
        memtable_bytes: s.memtable_bytes,
        sst_bytes: s.sst_bytes,
        estimated_keys: s.estimated_keys,
        sst_reads: s.sst_reads,
        sst_read_micros: s.sst_read_micros,
        get: Quantiles::of(&lat.get),
        put: Quantiles::of(&lat.put),
        finished: m.finished.load(Relaxed) != 0,
        retired: !m.is_live(),
    }
}

impl JobMetrics {
    /// Everything, now.
    pub fn snapshot(&self) -> JobSnapshot {
        let elapsed_s = self.started.elapsed().as_secs_f64();
        let source_s = match self.sources_done_ns.load(Relaxed) {
            0 => elapsed_s,
            ns => ns as f64 / 1e9,
        };
        let events = self.events.load(Relaxed);
        let e2e = self.e2e_latency();
        let operators = self
            .operators
            .iter()
            .map(|op| {
                let (mut get, mut put) = (latency_histogram(), latency_histogram());
                let subtasks: Vec<SubtaskSnapshot> = op
                    .subtasks()
                    .iter()
                    .map(|m| {
                        let lat = m.latency_total();
                        let _ = get.add(&lat.get);
                        let _ = put.add(&lat.put);
                        subtask(m, &lat)
                    })
                    .collect();
                let sum = |f: &dyn Fn(&SubtaskSnapshot) -> u64| subtasks.iter().map(f).sum::<u64>();
                let sumf = |f: &dyn Fn(&SubtaskSnapshot) -> f64| subtasks.iter().map(f).sum::<f64>();
                let (hits, misses) = (sum(&|s| s.block_cache_hits), sum(&|s| s.block_cache_misses));
                OperatorSnapshot {
                    name: op.name.clone(),
                    parallelism: op.parallelism(),
                    write_buffer_budget: op.write_buffer_budget.load(Relaxed),
                    stateful: op.stateful,
                    cache_capacity: op.cache.as_ref().map(|c| c.capacity() as u64),
                    cache_usage: op.cache.as_ref().map(|c| c.usage() as u64),
                    hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
                    records_in: sum(&|s| s.records_in),
                    records_out: sum(&|s| s.records_out),
                    useful_s: sumf(&|s| s.useful_s),
                    cpu_s: sumf(&|s| s.cpu_s),
                    // A retired subtask's rates are of a past configuration:
                    // the operator's are those of the subtasks it runs now.
                    true_processing_rate: sumf(&|s| if s.retired { 0.0 } else { s.true_processing_rate }),
                    true_output_rate: sumf(&|s| if s.retired { 0.0 } else { s.true_output_rate }),
                    backpressure_s: sumf(&|s| s.backpressure_s),
                    disk_read_bytes: sum(&|s| s.disk_read_bytes),
                    state_bytes: sum(&|s| s.memtable_bytes + s.sst_bytes),
                    estimated_keys: sum(&|s| s.estimated_keys),
                    block_cache_hits: hits,
                    block_cache_misses: misses,
                    user_hits: subtasks.iter().map(|s| s.user_hits).sum(),
                    user_misses: subtasks.iter().map(|s| s.user_misses).sum(),
                    sst_reads: sum(&|s| s.sst_reads),
                    sst_read_micros: sum(&|s| s.sst_read_micros),
                    miss_cost_us: {
                        let (n, us) = (sum(&|s| s.sst_reads), sum(&|s| s.sst_read_micros));
                        (n > 0).then(|| us as f64 / n as f64)
                    },
                    get: Quantiles::of(&get),
                    put: Quantiles::of(&put),
                    subtasks,
                }
            })
            .collect();
        JobSnapshot {
            elapsed_s,
            events,
            results: self.results.load(Relaxed),
            throughput: rate(events, elapsed_s),
            source_s,
            sustained_throughput: rate(events, source_s),
            latency_p50_ms: quantile_us(&e2e, 0.5) / 1000.0,
            latency_p99_ms: quantile_us(&e2e, 0.99) / 1000.0,
            process_cpu_s: super::cpu::process_cpu_ns() as f64 / 1e9,
            operators,
            rescale: RescaleSnapshot {
                rescales: self.rescale.rescales.load(Relaxed),
                resizes: self.rescale.resizes.load(Relaxed),
                key_groups_moved: self.rescale.key_groups_moved.load(Relaxed),
                bytes_moved: self.rescale.bytes_moved.load(Relaxed),
                durations_s: self
                    .rescale
                    .durations
                    .lock()
                    .map(|d| d.iter().map(|&ns| ns as f64 / 1e9).collect())
                    .unwrap_or_default(),
            },
        }
    }
}
