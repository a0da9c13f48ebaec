//! Per-operator cache models from one profiling run: the block-level trace
//! of every stateful operator (its subtasks' RocksDB traces merged in time
//! order, as the one shared cache saw them) replayed through the RocksDB
//! LRUCache model at every size, beside plain LRU curves and the key-level
//! curve; measured hit ratio and miss cost; a throughput prediction.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cachesim::policy::PolicySpec;
use cachesim::request::BlockKind;
use cachesim::sim::{simulate_many, SimOptions, Unit, Warmup};
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::merge::MergedReader;
use cachesim::trace::rocksdb::RocksDbReader;
use cachesim::trace::TraceReader;
use engine::runtime::snapshot::{JobSnapshot, OperatorSnapshot};
use serde::{Deserialize, Serialize};

/// The cache model the predictions use: RocksDB's LRUCache with its
/// default shards and high-priority pool, and a per-entry metadata charge.
pub const MODEL: &str = "rocksdb-lru:metadata=100";

/// One size of an operator's curves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Block-cache capacity, bytes.
    pub cache_size: u64,
    /// Hit ratio of the RocksDB LRUCache model: the prediction.
    pub model_hit_ratio: f64,
    /// User-read misses the model predicts.
    pub model_misses: f64,
    /// Bytes those misses read.
    pub model_miss_bytes: f64,
    /// Hit ratio of plain LRU (exact stack distances) on the block trace.
    pub lru_hit_ratio: f64,
    /// Byte hit ratio of plain LRU on the block trace.
    pub lru_byte_hit_ratio: f64,
    /// Hit ratio of plain LRU over data blocks only (the cache holding
    /// nothing else).
    pub data_lru_hit_ratio: f64,
    /// Byte hit ratio of plain LRU over data blocks only.
    pub data_lru_byte_hit_ratio: f64,
    /// Predicted job throughput, events/s, were this operator's cache this
    /// size.
    pub predicted_throughput: f64,
}

/// What one profiling run says about one stateful operator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OperatorModel {
    /// Operator name.
    pub name: String,
    /// Subtasks.
    pub parallelism: u32,
    /// Its block cache in the profiling run, bytes.
    pub cache_size: u64,
    /// Block-cache lookups counted by RocksDB's statistics: user reads and
    /// RocksDB's own (compaction, flush, table-open prefetch).
    pub lookups: u64,
    /// Lookups of user reads (gets and iterators) in the block trace: what
    /// the hit ratios count. Compaction reads neither fill the cache nor
    /// are served by it: they are replayed (a hit refreshes a block) but
    /// not counted, and their number follows background timing.
    #[serde(default)]
    pub user_lookups: u64,
    /// Hit ratio over every lookup, by RocksDB's statistics.
    #[serde(default)]
    pub statistics_hit_ratio: Option<f64>,
    /// Hit ratio of user reads, as RocksDB recorded each lookup in its
    /// block-cache trace.
    pub measured_hit_ratio: Option<f64>,
    /// The model's hit ratio at the run's cache size.
    pub model_hit_ratio_at_run: f64,
    /// Lookups in the block trace.
    pub traced_lookups: u64,
    /// Distinct blocks in the trace.
    pub blocks: u64,
    /// Bytes of distinct blocks: the working set.
    pub working_set_bytes: u64,
    /// Mean cost of a miss (a block read from the disk), microseconds.
    pub miss_cost_us: Option<f64>,
    /// Cost of a hit (a cache lookup and a block search), microseconds,
    /// calibrated on this machine. Every lookup pays it, hit or miss, so it
    /// cancels out of the change between two cache sizes.
    #[serde(default)]
    pub hit_cost_us: f64,
    /// Misses the model predicts at the run's size.
    pub run_misses: f64,
    /// Bytes they read.
    pub run_miss_bytes: f64,
    /// Fixed cost of a block read, microseconds: a probed 4 KiB O_DIRECT
    /// read, slowed as much as the run's timed reads were.
    pub read_latency_us: f64,
    /// Cost of a byte read, microseconds: the probed bandwidth's, slowed as
    /// much as the run's timed reads were.
    pub us_per_byte: f64,
    /// Smallest cache size whose predicted hit ratio reaches the target.
    pub size_for_target: Option<u64>,
    /// The knee of the predicted curve (largest gain over the chord).
    pub knee: Option<u64>,
    /// The curves.
    pub points: Vec<CurvePoint>,
    /// Key-level LRU curve from the key trace: (bytes of keys and values,
    /// hit ratio), when a key trace was recorded.
    pub key_points: Vec<(u64, f64)>,
}

/// Reads every block trace of `op` (files `<op>.<subtask>.trace` in `dir`)
/// as one time-ordered trace.
fn block_trace(dir: &Path, op: &OperatorSnapshot, data_only: bool) -> Result<(DenseTrace, Recorded)> {
    let mut inputs: Vec<Box<dyn TraceReader>> = Vec::new();
    for k in 0..op.parallelism {
        let p = dir.join(format!("{}.{k}.trace", op.name));
        let r = RocksDbReader::open(&p).with_context(|| format!("block trace of `{}`", op.name))?;
        inputs.push(Box::new(r));
    }
    let mut merged = MergedReader::new(inputs);
    let mut rec = Recorded::default();
    let keep = |q: &cachesim::request::Request| {
        rec.add(q);
        !data_only || (q.tags.block == BlockKind::Data && !q.tags.background)
    };
    let trace = DenseTrace::load_with(&mut merged, OpFilter::All, keep, |_| {})?;
    Ok((trace, rec))
}

/// What RocksDB recorded in a block trace of its own hits and misses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recorded {
    /// Lookups of user reads.
    pub user_lookups: u64,
    /// Those that hit.
    pub user_hits: u64,
    /// Misses that read a block into the cache (every lookup but
    /// compaction's), and their bytes.
    pub filling_misses: u64,
    /// Bytes of those misses.
    pub filling_miss_bytes: u64,
}

impl Recorded {
    fn add(&mut self, q: &cachesim::request::Request) {
        let hit = q.tags.recorded_hit == Some(true);
        if !q.tags.background {
            self.user_lookups += 1;
            self.user_hits += hit as u64;
        }
        if !hit && !q.tags.no_insert {
            self.filling_misses += 1;
            self.filling_miss_bytes += q.size as u64;
        }
    }

    /// The user-read hit ratio, if there were user reads.
    pub fn user_hit_ratio(&self) -> Option<f64> {
        (self.user_lookups > 0).then(|| self.user_hits as f64 / self.user_lookups as f64)
    }
}

/// RocksDB's own record of the user-read hits of every stateful operator of
/// a run, from the block traces in `dir`.
pub fn recorded_user_hits(dir: &Path, snapshot: &JobSnapshot) -> Result<Recorded> {
    let mut all = Recorded::default();
    for op in snapshot.operators.iter().filter(|o| o.stateful && o.cache_capacity.is_some()) {
        let (_, r) = block_trace(dir, op, true)?;
        all.user_lookups += r.user_lookups;
        all.user_hits += r.user_hits;
        all.filling_misses += r.filling_misses;
        all.filling_miss_bytes += r.filling_miss_bytes;
    }
    Ok(all)
}

/// The key-level trace of operator number `stage`.
fn key_trace(path: &Path, stage: usize) -> Result<DenseTrace> {
    let mut r = cachesim::trace::open(path, &Default::default())?;
    Ok(DenseTrace::load_with(r.as_mut(), OpFilter::All, |q| q.tags.stream == stage as u32, |_| {})?)
}

/// Where a job's traces are.
pub struct Traces {
    /// Directory of RocksDB block traces.
    pub blocks: PathBuf,
    /// The key trace, if recorded.
    pub keys: Option<PathBuf>,
}

/// What the machine's disk and cache cost, measured beside a profiling run.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// The disk's O_DIRECT read bandwidth, bytes per microsecond (probed:
    /// an upper bound).
    pub bytes_per_us: f64,
    /// Latency of a 4 KiB O_DIRECT read, microseconds (probed: a lower
    /// bound).
    pub read_latency_us: f64,
    /// Cost of one block-cache hit, microseconds.
    pub hit_cost_us: f64,
}

/// Builds the model of every stateful operator of a finished run, at
/// `sizes`, with `target` the hit ratio to find a size for.
pub fn analyze(
    snapshot: &JobSnapshot,
    rate: Option<u64>,
    traces: &Traces,
    sizes: &[u64],
    target: f64,
    costs: &Calibration,
) -> Result<Vec<OperatorModel>> {
    let bytes_per_us = costs.bytes_per_us;
    let model = PolicySpec::parse(MODEL)?;
    let lru = PolicySpec::parse("lru")?;
    let mut out = Vec::new();
    for (stage, op) in snapshot.operators.iter().enumerate() {
        if !op.stateful {
            continue;
        }
        let Some(cache_size) = op.cache_capacity else { bail!("operator `{}` has no block cache", op.name) };
        let (trace, recorded) = block_trace(&traces.blocks, op, false)?;
        // Data blocks alone: the curve of the state itself, without the
        // index and filter blocks that share the cache.
        let (data, _) = block_trace(&traces.blocks, op, true)?;
        let data_mrc = mrc::exact::exact_mrc(&data, Unit::Bytes, sizes, Warmup::None);
        let mut all_sizes: Vec<u64> = sizes.iter().copied().chain([cache_size]).collect();
        all_sizes.sort_unstable();
        all_sizes.dedup();
        let opts = SimOptions { unit: Unit::Bytes, warmup: Warmup::None, user_reads_only: true };
        let results = simulate_many(&trace, &[model.clone(), lru.clone()], &all_sizes, opts, &|_| {});
        let result = |policy: &PolicySpec, size: u64| {
            results.iter().find(|r| r.policy == policy.to_string() && r.cache_size == size)
        };
        let hit = |policy: &PolicySpec, size: u64| {
            result(policy, size).map_or((0.0, 0.0), |r| (1.0 - r.miss_ratio, 1.0 - r.byte_miss_ratio))
        };
        let lookups = op.block_cache_hits + op.block_cache_misses;
        let misses = |size: u64| result(&model, size).map_or((0.0, 0.0), |r| (r.misses as f64, r.byte_misses as f64));
        // A read costs a fixed latency plus its bytes over the disk's
        // bandwidth. The probe gives both on an idle disk (and a fresh
        // probe file may sit in the host's cache); the reads RocksDB timed
        // in the run (the misses that fill the cache: user reads and
        // table-open prefetch, their bytes from the trace) say how much
        // slower the disk was under the run's own compaction I/O. One run
        // cannot tell a slower latency from a slower bandwidth, so both
        // are scaled by that one factor (never below the probe's).
        let probe_us = |n: f64, b: f64| n * costs.read_latency_us + b / bytes_per_us.max(1e-9);
        let slowdown = match (op.sst_reads, recorded.filling_miss_bytes) {
            (n, b) if n > 0 => (op.sst_read_micros as f64 / probe_us(n as f64, b as f64).max(1e-9)).max(1.0),
            _ => 1.0,
        };
        let read_latency_us = costs.read_latency_us * slowdown;
        let us_per_byte = slowdown / bytes_per_us.max(1e-9);
        let model_at_run = hit(&model, cache_size).0;
        let at_run = misses(cache_size);
        let points: Vec<CurvePoint> = sizes
            .iter()
            .map(|&s| CurvePoint {
                cache_size: s,
                model_hit_ratio: hit(&model, s).0,
                model_misses: misses(s).0,
                model_miss_bytes: misses(s).1,
                lru_hit_ratio: hit(&lru, s).0,
                lru_byte_hit_ratio: hit(&lru, s).1,
                data_lru_hit_ratio: data_mrc
                    .points
                    .iter()
                    .find(|p| p.cache_size == s)
                    .map_or(0.0, |p| 1.0 - p.miss_ratio),
                data_lru_byte_hit_ratio: data_mrc
                    .points
                    .iter()
                    .find(|p| p.cache_size == s)
                    .map_or(0.0, |p| 1.0 - p.byte_miss_ratio),
                predicted_throughput: 0.0,
            })
            .collect();
        let key_points = match &traces.keys {
            Some(path) => {
                let kt = key_trace(path, stage)?;
                if kt.is_empty() {
                    Vec::new()
                } else {
                    let ws = kt.working_set_bytes().max(1);
                    let ksizes: Vec<u64> = (1..=32).map(|i| ws * i / 32).collect();
                    let mrc = mrc::exact::exact_mrc(&kt, Unit::Bytes, &ksizes, Warmup::None);
                    mrc.points.iter().map(|p| (p.cache_size, 1.0 - p.miss_ratio)).collect()
                }
            }
            None => Vec::new(),
        };
        let mut m = OperatorModel {
            name: op.name.clone(),
            parallelism: op.parallelism,
            cache_size,
            lookups,
            user_lookups: recorded.user_lookups,
            statistics_hit_ratio: op.hit_ratio,
            measured_hit_ratio: recorded.user_hit_ratio(),
            model_hit_ratio_at_run: model_at_run,
            traced_lookups: trace.len() as u64,
            blocks: trace.n_objects() as u64,
            working_set_bytes: trace.working_set_bytes(),
            miss_cost_us: op.miss_cost_us,
            hit_cost_us: costs.hit_cost_us,
            run_misses: at_run.0,
            run_miss_bytes: at_run.1,
            read_latency_us,
            us_per_byte,
            size_for_target: size_for(&points, target),
            knee: knee(&points),
            points,
            key_points,
        };
        for i in 0..m.points.len() {
            let extra = m.extra_seconds(&m.points[i]);
            m.points[i].predicted_throughput = predict_throughput(snapshot, rate, &[(&m.name, extra)]);
        }
        out.push(m);
    }
    Ok(out)
}

/// Job throughput were the named operators' useful time changed by the
/// given seconds (the change in misses times the fixed cost of a read,
/// plus the change in bytes missed times the cost of a byte): the job goes
/// as fast as its slowest operator can (DS2's true processing rate, in
/// source events), or at the source `rate` when one was set and the job
/// keeps up.
pub fn predict_throughput(s: &JobSnapshot, rate: Option<u64>, changes: &[(&str, f64)]) -> f64 {
    let extra = |o: &OperatorSnapshot| -> f64 { changes.iter().filter(|(n, _)| *n == o.name).map(|(_, dt)| *dt).sum() };
    // Capacity of an operator, in source events per second.
    let capacity = |o: &OperatorSnapshot, useful_s: f64| {
        if useful_s <= 0.0 || o.records_in == 0 {
            return f64::INFINITY;
        }
        let events_per_record = s.events as f64 / o.records_in as f64;
        o.records_in as f64 / (useful_s / o.parallelism as f64) * events_per_record
    };
    let capacity =
        s.operators.iter().map(|o| capacity(o, (o.useful_s + extra(o)).max(1e-9))).fold(f64::INFINITY, f64::min);
    let limit = rate.map_or(f64::INFINITY, |r| r as f64);
    match capacity.min(limit) {
        t if t.is_finite() => t,
        _ => s.sustained_throughput,
    }
}

impl OperatorModel {
    /// Seconds of useful time this operator would gain (or lose) at
    /// `point` against the profiled run.
    pub fn extra_seconds(&self, point: &CurvePoint) -> f64 {
        ((point.model_misses - self.run_misses) * self.read_latency_us
            + (point.model_miss_bytes - self.run_miss_bytes) * self.us_per_byte)
            / 1e6
    }
}

/// The first size reaching `target`, interpolated between points.
fn size_for(points: &[CurvePoint], target: f64) -> Option<u64> {
    let i = points.iter().position(|p| p.model_hit_ratio >= target)?;
    if i == 0 {
        return Some(points[0].cache_size);
    }
    let (a, b) = (&points[i - 1], &points[i]);
    let f = (target - a.model_hit_ratio) / (b.model_hit_ratio - a.model_hit_ratio).max(1e-12);
    Some(a.cache_size + ((b.cache_size - a.cache_size) as f64 * f.clamp(0.0, 1.0)) as u64)
}

/// The size where the predicted curve rises furthest above the chord from
/// its first to its last point (Kneedle on normalized axes).
fn knee(points: &[CurvePoint]) -> Option<u64> {
    let (first, last) = (points.first()?, points.last()?);
    let (dx, dy) = ((last.cache_size - first.cache_size) as f64, last.model_hit_ratio - first.model_hit_ratio);
    if dx <= 0.0 || dy <= 1e-6 {
        return None;
    }
    points
        .iter()
        .map(|p| {
            let x = (p.cache_size - first.cache_size) as f64 / dx;
            let y = (p.model_hit_ratio - first.model_hit_ratio) / dy;
            (y - x, p.cache_size)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(gain, _)| *gain > 0.0)
        .map(|(_, s)| s)
}
