//! Running policies over a loaded trace at many cache sizes at once.
//!
//! Each (policy, size) pair is an independent cache fed the same requests;
//! pairs run in parallel on rayon's pool. Requests before the warm-up point
//! update the caches but are not counted.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::policy::{Access, Cache, PolicySpec};
use crate::trace::dense::{DenseTrace, FLAG_BACKGROUND, FLAG_HIGH_PRIORITY, FLAG_NO_INSERT};

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
    let result = SimResult {
        policy: policy.to_string(),
        cache_size: size,
        requests: c.requests,
        misses: c.misses,
        miss_ratio: ratio(c.misses, c.requests),
        bytes_requested: c.bytes,
        byte_misses: c.byte_misses,
        byte_miss_ratio: ratio(c.byte_misses, c.bytes),
    };
    (result, at_marks)
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
