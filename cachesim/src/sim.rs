//! Running policies over a trace at many cache sizes at once.
//!
//! Each (policy, size) pair is an independent cache fed the same requests;
//! pairs run in parallel on rayon's pool. Requests before the warm-up point
//! update the caches but are not counted. Over a loaded
//! [`DenseTrace`] ([`simulate_many`]) every pair reads the same columns;
//! straight from a reader ([`simulate_stream`]) the requests pass once, in
//! chunks, and only per-object state is held: what a single pass serves
//! (every policy but Belady, which needs the future).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::TraceError;
use crate::policy::{Access, Cache, PolicySpec};
use crate::request::Request;
use crate::trace::dense::{DenseTrace, OpFilter, FLAG_BACKGROUND, FLAG_HIGH_PRIORITY, FLAG_NO_INSERT, NEVER};
use crate::trace::ids::DenseIds;
use crate::trace::TraceReader;

/// What a cache size counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Bytes of object size.
    #[default]
    Bytes,
    /// Objects (every size counts as 1).
    Objects,
}

/// Where counting starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Warmup {
    /// Count every request.
    #[default]
    None,
    /// Skip this many requests.
    Requests(u64),
    /// Skip requests earlier than this much trace time after the first.
    Time(u64),
}

impl Warmup {
    /// The index of the first counted request.
    pub fn start_index(self, trace: &DenseTrace) -> usize {
        match self {
            Warmup::None => 0,
            Warmup::Requests(n) => (n as usize).min(trace.len()),
            Warmup::Time(t) => trace.index_at_time(t),
        }
    }
}

/// The outcome of one policy at one size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimResult {
    /// Policy as written on the command line.
    pub policy: String,
    /// Cache size in `unit`.
    pub cache_size: u64,
    /// Counted requests.
    pub requests: u64,
    /// Counted misses.
    pub misses: u64,
    /// `misses / requests`.
    pub miss_ratio: f64,
    /// Bytes of counted requests.
    pub bytes_requested: u64,
    /// Bytes of counted misses.
    pub byte_misses: u64,
    /// `byte_misses / bytes_requested`.
    pub byte_miss_ratio: f64,
}

impl SimResult {
    /// What `policy` at `size` counted.
    pub fn from_counts(policy: &PolicySpec, size: u64, c: &Counts) -> SimResult {
        SimResult {
            policy: policy.to_string(),
            cache_size: size,
            requests: c.requests,
            misses: c.misses,
            miss_ratio: ratio(c.misses, c.requests),
            bytes_requested: c.bytes,
            byte_misses: c.byte_misses,
            byte_miss_ratio: ratio(c.byte_misses, c.bytes),
        }
    }
}

/// Options of a simulation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimOptions {
    /// Unit of the sizes.
    pub unit: Unit,
    /// Warm-up.
    pub warmup: Warmup,
    /// Count only user reads: requests a RocksDB trace marks as the
    /// database's own (compaction, flush, table-open prefetch) still go
    /// through the cache but are left out of the counts.
    pub user_reads_only: bool,
}

/// What one cache counted over part of a trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Counted requests.
    pub requests: u64,
    /// Counted misses.
    pub misses: u64,
    /// Bytes of counted requests.
    pub bytes: u64,
    /// Bytes of counted misses.
    pub byte_misses: u64,
}

impl Counts {
    /// What was counted after `earlier` (a snapshot of the same run).
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            requests: self.requests - earlier.requests,
            misses: self.misses - earlier.misses,
            bytes: self.bytes - earlier.bytes,
            byte_misses: self.byte_misses - earlier.byte_misses,
        }
    }
}

/// Runs one cache over the trace.
pub fn run(trace: &DenseTrace, cache: &mut dyn Cache, start: usize, unit: Unit, user_reads_only: bool) -> Counts {
    run_marked(trace, cache, start, unit, user_reads_only, &[]).0
}

/// Runs one cache over the trace and also returns, for each request index
/// in `marks` (ascending), the counts of the requests before it: the
/// cache's behaviour phase by phase of the trace, in one pass.
pub fn run_marked(
    trace: &DenseTrace,
    cache: &mut dyn Cache,
    start: usize,
    unit: Unit,
    user_reads_only: bool,
    marks: &[usize],
) -> (Counts, Vec<Counts>) {
    let needs = cache.needs();
    let next: &[u32] = if needs.next_access { trace.next_access() } else { &[] };
    let mut c = Counts::default();
    let mut at_marks = Vec::with_capacity(marks.len());
    let mut pending = marks.iter().copied().peekable();
    let objects = unit == Unit::Objects;
    for (i, (&obj, &real_size)) in trace.ids.iter().zip(&trace.sizes).enumerate() {
        while pending.next_if(|&m| m <= i).is_some() {
            at_marks.push(c);
        }
        let mut a = Access::new(obj, if objects { 1 } else { real_size });
        if needs.next_access {
            a.next = next[i];
        }
        if needs.key {
            a.key = trace.keys[obj as usize];
            a.high_priority = trace.flags[i] & FLAG_HIGH_PRIORITY != 0;
        }
        let mut counted = i >= start;
        if trace.has_flags {
            let f = trace.flags[i];
            a.no_insert = f & FLAG_NO_INSERT != 0;
            counted &= !(user_reads_only && f & FLAG_BACKGROUND != 0);
        }
        let hit = cache.access(&a);
        if counted {
            c.requests += 1;
            c.bytes += real_size as u64;
            if !hit {
                c.misses += 1;
                c.byte_misses += real_size as u64;
            }
        }
    }
    at_marks.extend(pending.map(|_| c));
    (c, at_marks)
}

/// Simulates one policy at one size, with the counts before each request
/// index of `marks` (ascending; see [`run_marked`]).
pub fn simulate_marked(
    trace: &DenseTrace,
    policy: &PolicySpec,
    size: u64,
    opts: SimOptions,
    marks: &[usize],
) -> (SimResult, Vec<Counts>) {
    let mut cache = policy.build(size, trace.n_objects());
    let start = opts.warmup.start_index(trace);
    let (c, at_marks) = run_marked(trace, cache.as_mut(), start, opts.unit, opts.user_reads_only, marks);
    (SimResult::from_counts(policy, size, &c), at_marks)
}

/// Simulates one policy at one size.
pub fn simulate(trace: &DenseTrace, policy: &PolicySpec, size: u64, opts: SimOptions) -> SimResult {
    simulate_marked(trace, policy, size, opts, &[]).0
}

/// Simulates every policy at every size, in parallel; results come back in
/// policy-major order. `done` is called after each pair finishes.
pub fn simulate_many(
    trace: &DenseTrace,
    policies: &[PolicySpec],
    sizes: &[u64],
    opts: SimOptions,
    done: &(dyn Fn(&SimResult) + Sync),
) -> Vec<SimResult> {
    let pairs: Vec<(&PolicySpec, u64)> = policies.iter().flat_map(|p| sizes.iter().map(move |&s| (p, s))).collect();
    if policies.contains(&PolicySpec::Belady) {
        // Compute once before the parallel section.
        trace.next_access();
    }
    pairs
        .par_iter()
        .map(|&(p, s)| {
            let r = simulate(trace, p, s, opts);
            done(&r);
            r
        })
        .collect()
}

/// What a streamed simulation read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamSummary {
    /// Requests simulated (after the op filter), warm-up included.
    pub requests: u64,
    /// Distinct objects among them.
    pub objects: u64,
    /// Bytes they requested.
    pub bytes: u64,
    /// Requests counted (after the warm-up).
    pub counted: u64,
}

/// Requests decoded, renumbered and then fed to every cache at a time:
/// large enough that handing a chunk to rayon costs nothing measurable,
/// small enough to stay in cache.
const CHUNK: usize = 1 << 13;

/// How many requests ahead a cache is asked to prefetch an object's state.
const PREFETCH_AHEAD: usize = 8;

/// One request as every cache of a streamed run sees it.
#[derive(Clone, Copy)]
struct Step {
    access: Access,
    size: u32,
    counted: bool,
}

/// Whether `policies` can run in one pass over a reader
/// ([`simulate_stream`]): all but Belady, which needs each request's next
/// access.
pub fn streams(policies: &[PolicySpec]) -> bool {
    !policies.contains(&PolicySpec::Belady)
}

/// Simulates every policy at every size in one pass over `reader`, holding
/// per-object state only (a dense id per object) instead of the trace:
/// results equal [`simulate_many`]'s over the same requests, in the same
/// policy-major order. `progress` is called with the number of requests
/// read after each chunk. Belady cannot stream ([`streams`]): with it among
/// `policies` the trace is loaded and simulated as [`simulate_many`] does.
pub fn simulate_stream(
    reader: &mut dyn TraceReader,
    filter: OpFilter,
    policies: &[PolicySpec],
    sizes: &[u64],
    opts: SimOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(Vec<SimResult>, StreamSummary), TraceError> {
    if !streams(policies) {
        let trace = DenseTrace::load_with(reader, filter, |_| true, &mut *progress)?;
        let start = opts.warmup.start_index(&trace) as u64;
        let summary = StreamSummary {
            requests: trace.len() as u64,
            objects: trace.n_objects() as u64,
            bytes: trace.bytes_requested(),
            counted: trace.len() as u64 - start.min(trace.len() as u64),
        };
        return Ok((simulate_many(&trace, policies, sizes, opts, &|_| {}), summary));
    }
    let pairs: Vec<(&PolicySpec, u64)> = policies.iter().flat_map(|p| sizes.iter().map(move |&s| (p, s))).collect();
    let mut room = CHUNK;
    let mut caches: Vec<(Box<dyn Cache>, Counts)> =
        pairs.iter().map(|&(p, s)| (p.build(s, room), Counts::default())).collect();
    let needs_key = caches.iter().any(|(c, _)| c.needs().key);
    let objects_unit = opts.unit == Unit::Objects;
    let mut ids = DenseIds::default();
    let mut dense: Vec<u32> = Vec::with_capacity(CHUNK);
    let mut summary = StreamSummary::default();
    let mut batch = vec![Request::default(); CHUNK];
    let mut steps: Vec<Step> = Vec::with_capacity(CHUNK);
    let mut counting = matches!(opts.warmup, Warmup::None);
    let mut first_time: Option<u64> = None;
    let mut read = 0u64;
    loop {
        let n = reader.read_batch(&mut batch)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        steps.clear();
        let kept = || batch[..n].iter().filter(|r| filter.keeps(r.op));
        if summary.requests + n as u64 >= (NEVER - 1) as u64 {
            return Err(TraceError::TooLarge {
                path: reader.path().to_path_buf(),
                reason: format!("more than {} requests: object ids would overflow", NEVER - 1),
            });
        }
        ids.map_batch(kept().map(|r| r.id), &mut dense);
        for (req, &obj) in kept().zip(&dense) {
            if !counting {
                counting = match opts.warmup {
                    Warmup::None => true,
                    Warmup::Requests(k) => summary.requests >= k,
                    Warmup::Time(t) => req.time >= first_time.get_or_insert(req.time).saturating_add(t),
                };
            }
            let mut access = Access::new(obj, if objects_unit { 1 } else { req.size });
            if needs_key {
                access.key = req.id;
                access.high_priority = req.tags.block.is_high_priority();
            }
            access.no_insert = req.tags.no_insert;
            let counted = counting && !(opts.user_reads_only && req.tags.background);
            steps.push(Step { access, size: req.size, counted });
            summary.requests += 1;
            summary.bytes += req.size as u64;
            summary.counted += counted as u64;
        }
        if ids.len() > room {
            room = ids.len().next_power_of_two();
            for (c, _) in &mut caches {
                c.grow(room);
            }
        }
        let feed = |(cache, counts): &mut (Box<dyn Cache>, Counts)| {
            for (i, st) in steps.iter().enumerate() {
                if let Some(ahead) = steps.get(i + PREFETCH_AHEAD) {
                    cache.prefetch(ahead.access.obj);
                }
                let hit = cache.access(&st.access);
                if st.counted {
                    counts.requests += 1;
                    counts.bytes += st.size as u64;
                    if !hit {
                        counts.misses += 1;
                        counts.byte_misses += st.size as u64;
                    }
                }
            }
        };
        if caches.len() > 1 {
            caches.par_iter_mut().for_each(feed);
        } else {
            caches.iter_mut().for_each(feed);
        }
        progress(read);
    }
    summary.objects = ids.len() as u64;
    let results = pairs.iter().zip(&caches).map(|(&(p, size), (_, c))| SimResult::from_counts(p, size, c)).collect();
    Ok((results, summary))
}

/// `num / den`, 0 when `den` is 0.
pub fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Block 0 read by a compaction (no insert, background), then twice by
    /// user reads; block 1 once by a user read.
    fn compaction_then_user_reads() -> DenseTrace {
        let background = FLAG_NO_INSERT | FLAG_BACKGROUND;
        let mut t = DenseTrace::default();
        t.ids = vec![0, 0, 0, 1];
        t.sizes = vec![10; 4];
        t.times = vec![1, 2, 3, 4];
        t.flags = vec![background, 0, 0, 0];
        t.has_flags = true;
        t.keys = vec![100, 101];
        t.sample_rate = 1.0;
        t
    }

    /// A skewed trace of RocksDB-like requests: index blocks among data
    /// blocks, some background reads that must not insert, times rising.
    fn mixed_requests(n: usize) -> Vec<Request> {
        use crate::request::{BlockKind, Op, Tags};
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        (0..n)
            .map(|i| {
                let x: u64 = rng.gen();
                let id = (x % 5000).min(x % 211) * 977 + 3;
                let background = x.is_multiple_of(11);
                Request {
                    time: i as u64 * 3,
                    id,
                    size: 64 + (id % 4000) as u32,
                    op: if x.is_multiple_of(13) { Op::Put } else { Op::Get },
                    tags: Tags {
                        block: if id.is_multiple_of(7) { BlockKind::Index } else { BlockKind::Data },
                        no_insert: background,
                        background,
                        ..Tags::default()
                    },
                    ..Request::default()
                }
            })
            .collect()
    }

    #[test]
    fn streaming_equals_simulating_the_loaded_trace() {
        let reqs = mixed_requests(60_000);
        let policies =
            PolicySpec::parse_list("lru,fifo,clock,arc,2q,s3fifo,sieve,lfu,rocksdb-lru:shard_bits=2").unwrap();
        let sizes = [40_000, 400_000, 4_000_000];
        for filter in [OpFilter::All, OpFilter::Reads] {
            let mut reader = crate::trace::VecReader::new(reqs.clone());
            let trace = DenseTrace::load(&mut reader, filter).unwrap();
            for (unit, warmup, user_reads_only) in [
                (Unit::Bytes, Warmup::None, false),
                (Unit::Bytes, Warmup::Requests(7_000), true),
                (Unit::Objects, Warmup::Time(50_000), false),
            ] {
                let opts = SimOptions { unit, warmup, user_reads_only };
                let sizes: Vec<u64> = sizes.iter().map(|&s| if unit == Unit::Objects { s / 2000 } else { s }).collect();
                let loaded = simulate_many(&trace, &policies, &sizes, opts, &|_| {});
                let mut reader = crate::trace::VecReader::new(reqs.clone());
                let (streamed, summary) =
                    simulate_stream(&mut reader, filter, &policies, &sizes, opts, &mut |_| {}).unwrap();
                assert_eq!(streamed, loaded, "{filter:?} {opts:?}");
                assert_eq!(summary.requests, trace.len() as u64);
                assert_eq!(summary.objects, trace.n_objects() as u64);
                assert_eq!(summary.bytes, trace.bytes_requested());
                assert!(loaded.iter().any(|r| r.misses > 0 && r.misses < r.requests));
            }
        }
    }

    #[test]
    fn compaction_reads_do_not_fill_the_cache_nor_count_as_user_reads() {
        let trace = compaction_then_user_reads();
        for policy in ["lru", "fifo", "rocksdb-lru:shard_bits=0"] {
            let p = PolicySpec::parse(policy).unwrap();
            let all = simulate(&trace, &p, 1000, SimOptions::default());
            // The compaction read misses and does not insert, so the first
            // user read misses too.
            assert_eq!((all.requests, all.misses), (4, 3), "{policy}");
            let user = simulate(&trace, &p, 1000, SimOptions { user_reads_only: true, ..SimOptions::default() });
            assert_eq!((user.requests, user.misses), (3, 2), "{policy}");
        }
    }

    #[test]
    fn counts_at_marks_are_those_of_the_trace_cut_there() {
        let trace_of = |n: usize| {
            let mut t = DenseTrace::default();
            let mut x = 7u64;
            for i in 0..n as u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                t.ids.push(((x >> 33) % 300) as u32);
                t.sizes.push(1 + (x >> 50) as u32 % 64);
                t.times.push(i);
            }
            t.flags = vec![0; n];
            t.keys = (0..300).collect();
            t.sample_rate = 1.0;
            t
        };
        let trace = trace_of(5000);
        let marks = [0, 1, 1234, 1234, 4999, 5000, 6000];
        for policy in ["lru", "s3fifo", "rocksdb-lru:shard_bits=2"] {
            let p = PolicySpec::parse(policy).unwrap();
            let (whole, at) = simulate_marked(&trace, &p, 2000, SimOptions::default(), &marks);
            assert_eq!(at.len(), marks.len());
            for (&m, c) in marks.iter().zip(&at) {
                let prefix = simulate(&trace_of(m.min(trace.len())), &p, 2000, SimOptions::default());
                assert_eq!((c.requests, c.misses, c.byte_misses), (prefix.requests, prefix.misses, prefix.byte_misses));
            }
            assert_eq!(
                at[5],
                Counts {
                    requests: whole.requests,
                    misses: whole.misses,
                    bytes: whole.bytes_requested,
                    byte_misses: whole.byte_misses
                }
            );
        }
    }
}
