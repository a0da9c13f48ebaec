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

/// Runs one cache over the trace.
pub fn run(
    trace: &DenseTrace,
    cache: &mut dyn Cache,
    start: usize,
    unit: Unit,
    user_reads_only: bool,
) -> (u64, u64, u64, u64) {
    let needs = cache.needs();
    let next: &[u32] = if needs.next_access { trace.next_access() } else { &[] };
    let (mut requests, mut misses, mut bytes, mut byte_misses) = (0u64, 0u64, 0u64, 0u64);
    let objects = unit == Unit::Objects;
    for (i, (&obj, &real_size)) in trace.ids.iter().zip(&trace.sizes).enumerate() {
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
            requests += 1;
            bytes += real_size as u64;
            if !hit {
                misses += 1;
                byte_misses += real_size as u64;
            }
        }
    }
    (requests, misses, bytes, byte_misses)
}

/// Simulates one policy at one size.
pub fn simulate(trace: &DenseTrace, policy: &PolicySpec, size: u64, opts: SimOptions) -> SimResult {
    let mut cache = policy.build(size, trace.n_objects());
    let start = opts.warmup.start_index(trace);
    let (requests, misses, bytes_requested, byte_misses) =
        run(trace, cache.as_mut(), start, opts.unit, opts.user_reads_only);
    SimResult {
        policy: policy.to_string(),
        cache_size: size,
        requests,
        misses,
        miss_ratio: ratio(misses, requests),
        bytes_requested,
        byte_misses,
        byte_miss_ratio: ratio(byte_misses, bytes_requested),
    }
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
}
