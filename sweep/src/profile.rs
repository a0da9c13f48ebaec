//! Per-operator cache models from one profiling run: the block-level trace
//! of every stateful operator (its subtasks' RocksDB traces merged in time
//! order, as the one shared cache saw them) replayed through the RocksDB
//! LRUCache model at every size, beside plain LRU curves and the key-level
//! curve; measured hit ratio and miss cost; a throughput prediction.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cachesim::policy::PolicySpec;
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
    /// Hit ratio of plain LRU (exact stack distances) on the block trace.
    pub lru_hit_ratio: f64,
    /// Byte hit ratio of plain LRU on the block trace.
    pub lru_byte_hit_ratio: f64,
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
    /// Block-cache lookups counted by RocksDB's statistics.
    pub lookups: u64,
    /// Hit ratio measured by RocksDB's statistics.
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
fn block_trace(dir: &Path, op: &OperatorSnapshot) -> Result<DenseTrace> {
    let mut inputs: Vec<Box<dyn TraceReader>> = Vec::new();
    for k in 0..op.parallelism {
        let p = dir.join(format!("{}.{k}.trace", op.name));
        let r = RocksDbReader::open(&p).with_context(|| format!("block trace of `{}`", op.name))?;
        inputs.push(Box::new(r));
    }
    let mut merged = MergedReader::new(inputs);
    Ok(DenseTrace::load(&mut merged, OpFilter::All)?)
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

/// Builds the model of every stateful operator of a finished run, at
/// `sizes`, with `target` the hit ratio to find a size for.
pub fn analyze(
    snapshot: &JobSnapshot,
    rate: Option<u64>,
    traces: &Traces,
    sizes: &[u64],
    target: f64,
) -> Result<Vec<OperatorModel>> {
    let model = PolicySpec::parse(MODEL)?;
    let lru = PolicySpec::parse("lru")?;
    let mut out = Vec::new();
    for (stage, op) in snapshot.operators.iter().enumerate() {
        if !op.stateful {
            continue;
        }
        let Some(cache_size) = op.cache_capacity else { bail!("operator `{}` has no block cache", op.name) };
        let trace = block_trace(&traces.blocks, op)?;
        let mut all_sizes: Vec<u64> = sizes.iter().copied().chain([cache_size]).collect();
        all_sizes.sort_unstable();
        all_sizes.dedup();
        let opts = SimOptions { unit: Unit::Bytes, warmup: Warmup::None };
        let results = simulate_many(&trace, &[model.clone(), lru.clone()], &all_sizes, opts, &|_| {});
        let hit = |policy: &PolicySpec, size: u64| {
            results
                .iter()
                .find(|r| r.policy == policy.to_string() && r.cache_size == size)
                .map_or((0.0, 0.0), |r| (1.0 - r.miss_ratio, 1.0 - r.byte_miss_ratio))
        };
        let lookups = op.block_cache_hits + op.block_cache_misses;
        let model_at_run = hit(&model, cache_size).0;
        let mut points: Vec<CurvePoint> = sizes
            .iter()
            .map(|&s| CurvePoint {
                cache_size: s,
                model_hit_ratio: hit(&model, s).0,
                lru_hit_ratio: hit(&lru, s).0,
                lru_byte_hit_ratio: hit(&lru, s).1,
                predicted_throughput: 0.0,
            })
            .collect();
        for p in &mut points {
            p.predicted_throughput =
                predict_throughput(snapshot, rate, &[(&op.name, p.model_hit_ratio - model_at_run)]);
        }
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
        out.push(OperatorModel {
            name: op.name.clone(),
            parallelism: op.parallelism,
            cache_size,
            lookups,
            measured_hit_ratio: op.hit_ratio,
            model_hit_ratio_at_run: model_at_run,
            traced_lookups: trace.len() as u64,
            blocks: trace.n_objects() as u64,
            working_set_bytes: trace.working_set_bytes(),
            miss_cost_us: op.miss_cost_us,
            size_for_target: size_for(&points, target),
            knee: knee(&points),
            points,
            key_points,
        });
    }
    Ok(out)
}

/// Job throughput were the named operators' hit ratios changed by the
/// given amounts (new − profiled): each one's useful time changes by its
/// change in misses times its cost of a miss, and the job goes as fast as
/// its slowest operator can (DS2's true processing rate, in source events),
/// or at the source `rate` when one was set and the job keeps up.
pub fn predict_throughput(s: &JobSnapshot, rate: Option<u64>, changes: &[(&str, f64)]) -> f64 {
    let extra = |o: &OperatorSnapshot| -> f64 {
        let Some(cost_us) = o.miss_cost_us else { return 0.0 };
        let lookups = (o.block_cache_hits + o.block_cache_misses) as f64;
        changes.iter().filter(|(n, _)| *n == o.name).map(|(_, dh)| -dh * lookups * cost_us / 1e6).sum()
    };
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
        _ => s.throughput,
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
