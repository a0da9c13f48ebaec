//! Per-operator cache models from one profiling run: the block-level trace
//! of every stateful operator (its subtasks' RocksDB traces merged in time
//! order, as the one shared cache saw them) replayed through the RocksDB
//! LRUCache model at every size, beside plain LRU curves and the key-level
//! curve; measured hit ratio and miss cost; a throughput prediction.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use autoscaler::model::phases::{phases, Mark, Phase, Run};
use cachesim::policy::rocksdb_lru::RocksDbLruConfig;
use cachesim::policy::PolicySpec;
use cachesim::request::BlockKind;
use cachesim::sim::{simulate_many, simulate_marked, Counts, SimOptions, SimResult, Unit, Warmup};
use cachesim::size::format_size;
use cachesim::trace::dense::{DenseTrace, DenseTraceBuilder, FLAG_BACKGROUND};
use cachesim::trace::merge::MergedReader;
use cachesim::trace::rocksdb::RocksDbReader;
use cachesim::trace::TraceReader;
use engine::runtime::snapshot::{JobSnapshot, OperatorSnapshot};
use rayon::prelude::*;
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
    /// Seconds of useful time this operator would gain (or lose) at this
    /// size, phase by phase of the run ([`Profile::phases`]): the change in
    /// misses times the fixed cost of a read plus the change in bytes
    /// missed times the cost of a byte, calibrated, scaled up to what the
    /// run's timed reads cost: on average for misses the size adds, in that
    /// phase for misses it avoids.
    #[serde(default)]
    pub phase_extra_s: Vec<f64>,
    /// Share of the user lookups that are of blocks charging more than one
    /// shard of a cache this size holds (RocksDB splits a cache into at
    /// most 64 shards of at least 512 KiB). RocksDB never keeps such a
    /// block: inserting it empties its shard, and it leaves at its release.
    #[serde(default)]
    pub oversized_share: f64,
    /// Share of the user lookups that are of blocks within a quarter of a
    /// shard's capacity (0.8-1.25 times it). Whether each fits its shard
    /// depends on how many keys the compaction that wrote its file cut into
    /// it, which changes between identical runs: the measured hit ratio at
    /// this size can move by about this share from run to run.
    #[serde(default)]
    pub near_shard_share: f64,
}

/// A profiling run and the models it gives.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    /// The run's metrics at its end.
    pub run: JobSnapshot,
    /// The run, phase by phase: a state's cost changes as it grows (more
    /// files, larger filters), and a job that keeps up early and falls
    /// behind late is slower than its mean cost says.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// The models of its stateful operators.
    pub operators: Vec<OperatorModel>,
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
    /// Fixed cost of a block read, microseconds (calibrated through
    /// RocksDB's read path on this machine).
    pub read_latency_us: f64,
    /// Cost of a byte read, microseconds (calibrated likewise).
    pub us_per_byte: f64,
    /// Smallest cache size whose predicted hit ratio reaches the target
    /// (between points, read on a log size axis).
    pub size_for_target: Option<u64>,
    /// The knee of the predicted curve (largest gain over the chord, sizes
    /// on a log axis).
    pub knee: Option<u64>,
    /// The curves.
    pub points: Vec<CurvePoint>,
    /// Key-level LRU curve from the key trace: (bytes of keys and values,
    /// hit ratio), when a key trace was recorded.
    pub key_points: Vec<(u64, f64)>,
}

/// Reads every block trace of `op` (files `<op>.<subtask>.trace` in `dir`)
/// as one time-ordered trace.
/// An operator's subtasks' block traces merged in time order, as its one
/// shared cache saw them.
fn block_reader(dir: &Path, op: &OperatorSnapshot) -> Result<MergedReader> {
    let mut inputs: Vec<Box<dyn TraceReader>> = Vec::new();
    for k in 0..op.parallelism {
        let p = dir.join(format!("{}.{k}.trace", op.name));
        let r = RocksDbReader::open(&p).with_context(|| format!("block trace of `{}`", op.name))?;
        inputs.push(Box::new(r));
    }
    Ok(MergedReader::new(inputs))
}

/// An operator's block trace read once: every lookup, the data-block lookups of user reads alone,
/// and what RocksDB recorded of its hits.
fn block_trace(dir: &Path, op: &OperatorSnapshot) -> Result<(DenseTrace, DenseTrace, Recorded)> {
    let mut merged = block_reader(dir, op)?;
    let (mut all, mut data) = (DenseTraceBuilder::new(&merged), DenseTraceBuilder::new(&merged));
    let mut rec = Recorded::default();
    cachesim::trace::for_each_request(&mut merged, |q| {
        rec.add(q);
        all.push(q)?;
        if q.tags.block == BlockKind::Data && !q.tags.background {
            data.push(q)?;
        }
        Ok(())
    })?;
    Ok((all.finish(), data.finish(), rec))
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
        cachesim::trace::for_each_request(&mut block_reader(dir, op)?, |q| {
            all.add(q);
            Ok(())
        })?;
    }
    Ok(all)
}

/// The key trace split by operator (the stage index each access is tagged
/// with), in one pass.
fn key_traces(path: &Path) -> Result<HashMap<u32, DenseTrace>> {
    let mut r = cachesim::trace::open(path, &Default::default())?;
    let (source, rate) = (r.path().to_path_buf(), r.sample_rate());
    let mut by_stage: HashMap<u32, DenseTraceBuilder> = HashMap::new();
    cachesim::trace::for_each_request(r.as_mut(), |q| {
        by_stage.entry(q.tags.stream).or_insert_with(|| DenseTraceBuilder::from_source(&source, rate)).push(q)
    })?;
    Ok(by_stage.into_iter().map(|(stage, b)| (stage, b.finish())).collect())
}

/// Where a job's traces are.
pub struct Traces {
    /// Directory of RocksDB block traces.
    pub blocks: PathBuf,
    /// The key trace, if recorded.
    pub keys: Option<PathBuf>,
}

/// What block reads and cache hits cost on this machine, calibrated
/// beside a profiling run.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// A block read from the disk through RocksDB's read path.
    pub read: engine::state::calibrate::ReadCost,
    /// Cost of one block-cache hit, microseconds.
    pub hit_cost_us: f64,
}

/// The run's progress now, for cutting it into phases.
pub fn mark_now(s: &JobSnapshot) -> Mark {
    Mark {
        unix_us: unix_us_now(),
        events: s.events,
        useful_s: s.operators.iter().map(|o| o.useful_s / o.parallelism.max(1) as f64).collect(),
        read_us: s.operators.iter().map(|o| o.sst_read_micros as f64).collect(),
    }
}

/// The mark of a job about to start.
pub fn mark_start() -> Mark {
    Mark { unix_us: unix_us_now(), ..Mark::default() }
}

fn unix_us_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Builds the model of every stateful operator of a finished run, at
/// `sizes`, with `target` the hit ratio to find a size for; `marks` is the
/// run's timeline (see [`phases`]).
pub fn analyze(
    snapshot: &JobSnapshot,
    marks: &[Mark],
    rate: Option<u64>,
    traces: &Traces,
    sizes: &[u64],
    target: f64,
    costs: &Calibration,
) -> Result<Profile> {
    let model = PolicySpec::parse(MODEL)?;
    let PolicySpec::RocksDbLru(shards) = &model else { bail!("the model `{MODEL}` is not RocksDB's LRUCache") };
    let lru = PolicySpec::parse("lru")?;
    let (phases, bounds) = phases(marks);
    let key_traces = traces.keys.as_deref().map(key_traces).transpose()?.unwrap_or_default();
    let mut out = Vec::new();
    for (stage, op) in snapshot.operators.iter().enumerate() {
        if !op.stateful {
            continue;
        }
        let Some(cache_size) = op.cache_capacity else { bail!("operator `{}` has no block cache", op.name) };
        // Data blocks alone give the curve of the state itself, without
        // the index and filter blocks that share the cache.
        let (trace, data, recorded) = block_trace(&traces.blocks, op)?;
        let charges = user_lookup_charges(&trace, shards);
        let data_mrc = mrc::exact::exact_mrc(&data, Unit::Bytes, sizes, Warmup::None);
        let mut all_sizes: Vec<u64> = sizes.iter().copied().chain([cache_size]).collect();
        all_sizes.sort_unstable();
        all_sizes.dedup();
        let opts = SimOptions { unit: Unit::Bytes, warmup: Warmup::None, user_reads_only: true };
        // Where each phase starts in the trace (RocksDB stamps its records
        // with the wall clock the marks read); the first phase takes
        // everything before, the last everything after.
        let mut cuts: Vec<usize> = bounds.iter().map(|m| trace.times.partition_point(|&t| t < m.unix_us)).collect();
        if let Some(first) = cuts.first_mut() {
            *first = 0;
        }
        if let Some(last) = cuts.last_mut() {
            *last = trace.len();
        }
        let modelled: Vec<(SimResult, Vec<Counts>)> =
            all_sizes.par_iter().map(|&size| simulate_marked(&trace, &model, size, opts, &cuts)).collect();
        let lru_results = simulate_many(&trace, std::slice::from_ref(&lru), &all_sizes, opts, &|_| {});
        let at = |size: u64| {
            let i = all_sizes.iter().position(|&s| s == size).unwrap_or(0);
            &modelled[i]
        };
        let lru_hit = |size: u64| {
            lru_results
                .iter()
                .find(|r| r.cache_size == size)
                .map_or((0.0, 0.0), |r| (1.0 - r.miss_ratio, 1.0 - r.byte_miss_ratio))
        };
        let lookups = op.block_cache_hits + op.block_cache_misses;
        let read = costs.read;
        let run = at(cache_size);
        // A miss the run made and a larger cache avoids saves what the
        // run's timed reads say it cost in that phase: several times the
        // calibrated cost when compaction competes with it (q20, whole
        // filters: 3.6 times). A miss a smaller cache adds is a new read
        // with no phase of its own measured: it costs what the run's reads
        // cost on average, as RocksDB timed them (`miss_cost_us`), scaled
        // to the calibrated cost of a read of its size. Beside a running
        // LSM (flushes and compactions writing, the other operators
        // reading) that is well above the idle disk's: q9 at large-state
        // read 4 KiB blocks at 195-236 µs per read against 87 µs
        // calibrated, and the per-phase factor, dominated by a few phases
        // right after compactions, overstated its 8 MiB point by 29%.
        let paid = |j: usize, r: &Counts| -> f64 {
            let calibrated = read.micros(r.misses as f64, r.byte_misses as f64);
            let timed = phases.get(j).and_then(|p| p.read_us.get(stage)).copied().unwrap_or(0.0);
            if calibrated > 0.0 {
                (timed / calibrated).max(1.0)
            } else {
                1.0
            }
        };
        let added = {
            let run_total = match (run.1.first(), run.1.last()) {
                (Some(first), Some(last)) => last.since(first),
                _ => Counts::default(),
            };
            let one_read = if run_total.misses > 0 {
                read.micros(1.0, run_total.byte_misses as f64 / run_total.misses as f64)
            } else {
                0.0
            };
            match op.miss_cost_us {
                Some(timed) if one_read > 0.0 => (timed / one_read).max(1.0),
                _ => 1.0,
            }
        };
        let phase_extra = |counts: &[Counts]| -> Vec<f64> {
            counts
                .windows(2)
                .zip(run.1.windows(2))
                .enumerate()
                .map(|(j, (c, r))| {
                    let (c, r) = (c[1].since(&c[0]), r[1].since(&r[0]));
                    let us =
                        read.micros(c.misses as f64 - r.misses as f64, c.byte_misses as f64 - r.byte_misses as f64);
                    us * if us < 0.0 { paid(j, &r) } else { added } / 1e6
                })
                .collect()
        };
        let points: Vec<CurvePoint> = sizes
            .iter()
            .map(|&s| {
                let (result, counts) = at(s);
                let data = data_mrc.points.iter().find(|p| p.cache_size == s);
                let (oversized_share, near_shard_share) = shard_fit(&charges, shards, s);
                CurvePoint {
                    cache_size: s,
                    model_hit_ratio: 1.0 - result.miss_ratio,
                    model_misses: result.misses as f64,
                    model_miss_bytes: result.byte_misses as f64,
                    lru_hit_ratio: lru_hit(s).0,
                    lru_byte_hit_ratio: lru_hit(s).1,
                    data_lru_hit_ratio: data.map_or(0.0, |p| 1.0 - p.miss_ratio),
                    data_lru_byte_hit_ratio: data.map_or(0.0, |p| 1.0 - p.byte_miss_ratio),
                    predicted_throughput: 0.0,
                    phase_extra_s: phase_extra(counts),
                    oversized_share,
                    near_shard_share,
                }
            })
            .collect();
        let key_points = match key_traces.get(&(stage as u32)) {
            Some(kt) => {
                if kt.is_empty() {
                    Vec::new()
                } else {
                    let ws = kt.working_set_bytes().max(1);
                    let ksizes: Vec<u64> = (1..=32).map(|i| ws * i / 32).collect();
                    let mrc = mrc::exact::exact_mrc(kt, Unit::Bytes, &ksizes, Warmup::None);
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
            model_hit_ratio_at_run: 1.0 - run.0.miss_ratio,
            traced_lookups: trace.len() as u64,
            blocks: trace.n_objects() as u64,
            working_set_bytes: trace.working_set_bytes(),
            miss_cost_us: op.miss_cost_us,
            hit_cost_us: costs.hit_cost_us,
            run_misses: run.0.misses as f64,
            run_miss_bytes: run.0.byte_misses as f64,
            read_latency_us: read.latency_us,
            us_per_byte: read.us_per_byte,
            size_for_target: None,
            knee: None,
            points,
            key_points,
        };
        let curve = hit_curve(&m.points);
        m.size_for_target = curve.as_ref().and_then(|c| c.size_for(target));
        m.knee = curve.as_ref().and_then(|c| c.knee());
        for i in 0..m.points.len() {
            let extra = m.phase_extras(&m.points[i]);
            m.points[i].predicted_throughput = predict_throughput(snapshot, &phases, rate, &[(&m.name, &extra)]);
        }
        out.push(m);
    }
    Ok(Profile { run: snapshot.clone(), phases, operators: out })
}

/// [`autoscaler::model::phases::predict_throughput`] for a finished run.
pub fn predict_throughput(s: &JobSnapshot, phases: &[Phase], rate: Option<u64>, changes: &[(&str, &[f64])]) -> f64 {
    let run = Run {
        events: s.events,
        source_s: s.source_s,
        elapsed_s: s.elapsed_s,
        sustained_throughput: s.sustained_throughput,
        operators: s.operators.iter().map(|o| (o.name.clone(), o.parallelism)).collect(),
        useful_s: mark_now(s).useful_s,
    };
    autoscaler::model::phases::predict_throughput(&run, phases, rate, changes)
}

impl OperatorModel {
    /// A warning where some sizes thrash on blocks larger than a cache
    /// shard (whole-file filters of large files, typically), naming the
    /// sizes and what to do; `None` when no size does.
    pub fn shard_warning(&self) -> Option<String> {
        const NOTICEABLE: f64 = 0.01;
        let PolicySpec::RocksDbLru(shards) = PolicySpec::parse(MODEL).ok()? else { return None };
        let largest = self.points.iter().filter(|p| p.oversized_share >= NOTICEABLE).map(|p| p.cache_size).max()?;
        let share = |f: fn(&CurvePoint) -> f64| self.points.iter().map(f).fold(0.0, f64::max) * 100.0;
        let above = self.points.iter().find(|p| p.cache_size > largest);
        Some(format!(
            "{}: at cache sizes up to {}, up to {:.0}% of the user lookups are of blocks larger than a cache \
             shard (RocksDB splits a cache into at most 64 shards of at least 512 KiB, {} each at {}, and \
             never keeps a block larger than its shard), so the hit ratio falls steeply there{}. Up to {:.0}% \
             are of blocks within a quarter of a shard's size: whether each fits depends on where compaction \
             cut its file, so measured hit ratios at those sizes move between identical runs by about that \
             share. Partitioned filters (--filters partitioned) keep filter blocks at a few KiB.",
            self.name,
            format_size(largest),
            share(|p| p.oversized_share),
            format_size(shards.shard_capacity(largest)),
            format_size(largest),
            above.map_or(String::new(), |p| format!("; from {} up, fewer than 1% are", format_size(p.cache_size))),
            share(|p| p.near_shard_share),
        ))
    }

    /// The cache size this operator wants and why, in words a user acts on
    /// (the console's last lines and the report's top). A memory-bound
    /// operator (the job would run more than 5% slower at the smallest
    /// modelled size than at the best) wants the size from which the job
    /// keeps its best pace; any other the size for the target hit ratio, or
    /// where its curve levels when it never reaches the target.
    pub fn wants(&self, target: f64) -> Wants {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return Wants { size: None, memory_bound: false, why: "no cache sizes were modelled".into() };
        };
        let top = self.points.iter().map(|p| p.model_hit_ratio).fold(0.0, f64::max);
        // Where the curve levels: within half a percentage point of its top.
        let levels =
            self.points.iter().find(|p| p.model_hit_ratio >= top - 0.005).map_or(last.cache_size, |p| p.cache_size);
        let mib = |b: u64| format_size(whole_mib(b));
        let mut curve = match self.size_for_target {
            Some(size) => format!("its hit ratio reaches {target} at {}", mib(size)),
            None => format!(
                "its hit ratio stays short of {target}: the rest are first reads of blocks no cache holds \
                 (new keys, blocks compaction has just written)"
            ),
        };
        if let Some(k) = self.knee {
            curve += &format!(", with the knee at {}", mib(k));
        }
        curve += &format!(" and levels at {top:.4} from {}", mib(levels));
        if let Some(h) = self.measured_hit_ratio {
            curve += &format!(
                "; measured {h:.3} at {}, predicted {:.3}",
                format_size(self.cache_size),
                self.model_hit_ratio_at_run
            );
        }
        let fastest = self.points.iter().map(|p| p.predicted_throughput).fold(0.0, f64::max);
        let slowest = first.predicted_throughput;
        if fastest > 0.0 && slowest < 0.95 * fastest {
            let from = self
                .points
                .iter()
                .find(|p| p.predicted_throughput >= 0.98 * fastest)
                .map_or(last.cache_size, |p| p.cache_size);
            let why = format!(
                "below it the job runs slower ({:.1}K events/s with {} against {:.1}K from {}, the most any \
                 size gives). {}",
                slowest / 1e3,
                format_size(first.cache_size),
                fastest / 1e3,
                mib(from),
                capitalize(&curve)
            );
            return Wants { size: Some(whole_mib(from)), memory_bound: true, why };
        }
        let size = self.size_for_target.unwrap_or(levels);
        let pace = if fastest > 0.0 {
            format!(
                ". Not memory-bound at this rate: {:.1}K events/s at every size from {} to {}",
                fastest / 1e3,
                format_size(first.cache_size),
                format_size(last.cache_size)
            )
        } else {
            String::new()
        };
        Wants { size: Some(whole_mib(size)), memory_bound: false, why: curve + &pace }
    }

    /// The point's extra useful seconds phase by phase, or in one phase for
    /// a profile from before phases were kept.
    pub fn phase_extras(&self, point: &CurvePoint) -> Vec<f64> {
        if point.phase_extra_s.is_empty() {
            vec![self.extra_seconds(point)]
        } else {
            point.phase_extra_s.clone()
        }
    }

    /// Seconds of useful time this operator would gain (or lose) at
    /// `point` against the profiled run.
    pub fn extra_seconds(&self, point: &CurvePoint) -> f64 {
        ((point.model_misses - self.run_misses) * self.read_latency_us
            + (point.model_miss_bytes - self.run_miss_bytes) * self.us_per_byte)
            / 1e6
    }
}

/// `bytes` rounded up to a whole MiB: the sizes people configure.
fn whole_mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20) << 20
}

/// What an operator wants of the cache: [`OperatorModel::wants`].
pub struct Wants {
    /// The size to give it, rounded up to a whole MiB.
    pub size: Option<u64>,
    /// Whether the job would run more than 5% slower at the smallest
    /// modelled size than at the best.
    pub memory_bound: bool,
    /// Why that size, in sentences.
    pub why: String,
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// What each user lookup's block charges the cache, ascending.
fn user_lookup_charges(trace: &DenseTrace, cfg: &RocksDbLruConfig) -> Vec<u64> {
    let user = |i: usize| !trace.has_flags || trace.flags[i] & FLAG_BACKGROUND == 0;
    let mut charges: Vec<u64> =
        trace.sizes.iter().enumerate().filter(|&(i, _)| user(i)).map(|(_, &size)| cfg.charge(size)).collect();
    charges.sort_unstable();
    charges
}

/// `(oversized, near)`: the shares of `charges` (ascending) above the shard
/// capacity of a cache of `size` bytes, and within a quarter of it.
fn shard_fit(charges: &[u64], cfg: &RocksDbLruConfig, size: u64) -> (f64, f64) {
    if charges.is_empty() {
        return (0.0, 0.0);
    }
    let shard = cfg.shard_capacity(size);
    let above = |bytes: u64| charges.len() - charges.partition_point(|&c| c <= bytes);
    let n = charges.len() as f64;
    (above(shard) as f64 / n, (above(shard * 4 / 5) - above(shard * 5 / 4)) as f64 / n)
}

/// The hit-ratio curve the autoscaler's model reads (`None` without
/// points).
pub fn hit_curve(points: &[CurvePoint]) -> Option<autoscaler::HitCurve> {
    autoscaler::HitCurve::new(points.iter().map(|p| (p.cache_size, p.model_hit_ratio))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of 1000 events in 10 s through one operator of one subtask.
    fn run() -> JobSnapshot {
        let q = r#"{"p50_us":0,"p99_us":0,"p999_us":0,"count":0}"#;
        serde_json::from_str(&format!(
            r#"{{"elapsed_s":10,"events":1000,"results":1000,"throughput":100,"source_s":10,
            "sustained_throughput":100,"latency_p50_ms":1,"latency_p99_ms":2,"operators":[{{"name":"op",
            "parallelism":1,"stateful":true,"cache_capacity":1000,"cache_usage":0,"hit_ratio":null,
            "records_in":1000,"records_out":1000,"useful_s":4,"true_processing_rate":250,
            "true_output_rate":250,"backpressure_s":0,"disk_read_bytes":0,"state_bytes":0,
            "estimated_keys":0,"block_cache_hits":0,"block_cache_misses":0,"miss_cost_us":null,
            "sst_reads":0,"sst_read_micros":0,"get":{q},"put":{q},"subtasks":[]}}]}}"#
        ))
        .unwrap()
    }

    fn halves() -> Vec<Phase> {
        vec![Phase { seconds: 5.0, events: 500, useful_s: vec![2.0], read_us: vec![0.0] }; 2]
    }

    #[test]
    fn a_phase_that_falls_behind_the_rate_slows_the_job_though_the_mean_keeps_up() {
        let (s, extra) = (run(), [0.0, 6.0]);
        let changes = [("op", &extra[..])];
        // Second half: 2 + 6 s of work for 5 s of input at 100 events/s.
        let phased = predict_throughput(&s, &halves(), Some(100), &changes);
        assert!((phased - 1000.0 / 13.0).abs() < 1e-9, "{phased}");
        // As one phase, 10 s of work fits the 10 s of input.
        let total = [6.0];
        let mean = predict_throughput(&s, &[], Some(100), &[("op", &total[..])]);
        assert!((mean - 100.0).abs() < 1e-9, "{mean}");
        // Unthrottled, the added work adds up: 10 + 6 s.
        let free = predict_throughput(&s, &halves(), None, &changes);
        assert!((free - 1000.0 / 16.0).abs() < 1e-9, "{free}");
        // No change, the measured rate.
        assert!((predict_throughput(&s, &halves(), Some(100), &[]) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn lookups_of_blocks_larger_than_a_shard_are_told_apart_from_those_near_it() {
        let cfg = RocksDbLruConfig::default();
        // 8 MiB: shards of 512 KiB (524,288 bytes); 64 MiB: of 1 MiB.
        let mut charges = vec![4096u64; 6];
        // 0.76, 0.86, 1.0, 1.14 and 1.34 shards of 8 MiB.
        charges.extend([400_000, 450_000, 524_288, 600_000, 700_000]);
        let (oversized, near) = shard_fit(&charges, &cfg, 8 << 20);
        assert!((oversized - 2.0 / 11.0).abs() < 1e-12, "{oversized}");
        assert!((near - 3.0 / 11.0).abs() < 1e-12, "{near}");
        assert_eq!(shard_fit(&charges, &cfg, 64 << 20), (0.0, 0.0));
        assert_eq!(shard_fit(&[], &cfg, 8 << 20), (0.0, 0.0));
    }

    #[test]
    fn the_shard_note_names_the_largest_size_that_thrashes_and_the_next_that_does_not() {
        let point = |mib: u64, oversized: f64, near: f64| {
            let mut p: CurvePoint = serde_json::from_str(&format!(
                r#"{{"cache_size":{},"model_hit_ratio":0.9,"model_misses":0,"model_miss_bytes":0,
                "lru_hit_ratio":0.9,"lru_byte_hit_ratio":0.9,"data_lru_hit_ratio":0.9,
                "data_lru_byte_hit_ratio":0.9,"predicted_throughput":0}}"#,
                mib << 20
            ))
            .unwrap();
            (p.oversized_share, p.near_shard_share) = (oversized, near);
            p
        };
        let model = |points: Vec<CurvePoint>| -> OperatorModel {
            let mut m: OperatorModel = serde_json::from_str(
                r#"{"name":"join","parallelism":1,"cache_size":67108864,"lookups":0,"measured_hit_ratio":null,
                "model_hit_ratio_at_run":0.9,"traced_lookups":0,"blocks":0,"working_set_bytes":0,
                "miss_cost_us":null,"run_misses":0,"run_miss_bytes":0,"read_latency_us":0,"us_per_byte":0,
                "size_for_target":null,"knee":null,"points":[],"key_points":[]}"#,
            )
            .unwrap();
            m.points = points;
            m
        };
        assert!(model(vec![point(8, 0.005, 0.3), point(64, 0.0, 0.0)]).shard_warning().is_none());
        let note = model(vec![point(8, 0.21, 0.065), point(16, 0.2, 0.09), point(64, 0.0, 0.0)])
            .shard_warning()
            .expect("a note");
        for needle in ["up to 16MiB", "up to 21%", "512KiB each at 16MiB", "from 64MiB up", "Up to 9%"] {
            assert!(note.contains(needle), "`{needle}` not in: {note}");
        }
    }
}
