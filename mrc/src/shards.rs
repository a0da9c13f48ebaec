//! SHARDS (Waldspurger et al., FAST'15): the LRU MRC from a spatially
//! sampled trace, streaming, in memory proportional to the sample.
//!
//! Fixed rate: keep objects whose hash falls below `T = R · P`, compute their
//! stack distances, and scale distances by 1/R. With SHARDS's adjustment,
//! the difference between the true number of requests (and bytes) and the
//! sample's weighted count is added as hits at the smallest distance.
//!
//! Fixed size: start at rate R and, whenever more than `max_samples`
//! objects are tracked, lower T to the largest tracked hash and drop the
//! objects at or above it. Each sampled request weighs 1/R at the rate in
//! force when it is seen.
//!
//! A trace that was itself recorded at rate r (memscale's sampled key
//! traces use the same hash rule) is sampled at min(R, r) in effect.

use std::collections::BinaryHeap;

use cachesim::request::Request;
use cachesim::sampling::Skipped;
use cachesim::sim::{Unit, Warmup};
use cachesim::trace::{for_each_request, TraceReader};
use rustc_hash::FxHashMap;

use crate::curve::Mrc;
use crate::error::MrcError;
use crate::stack::StackDistance;
use crate::tally::DistanceTally;
use cachesim::sampling::{sample_hash, threshold, MODULUS};

/// SHARDS parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShardsConfig {
    /// Sampling rate R (the starting rate in fixed-size mode).
    pub rate: f64,
    /// Fixed-size mode: at most this many tracked objects.
    pub max_samples: Option<usize>,
    /// Apply SHARDS's adjustment: divide the sample's estimated misses by
    /// the true totals (both modes).
    pub adjust: bool,
}

impl Default for ShardsConfig {
    fn default() -> ShardsConfig {
        ShardsConfig { rate: 0.01, max_samples: None, adjust: true }
    }
}

/// Streams `reader` and returns the SHARDS MRC at `sizes`.
pub fn shards_mrc(
    reader: &mut dyn TraceReader,
    cfg: ShardsConfig,
    unit: Unit,
    sizes: &[u64],
    warmup: Warmup,
    mut progress: impl FnMut(u64),
) -> Result<Mrc, MrcError> {
    let trace_rate = reader.sample_rate();
    if let Some(0) = cfg.max_samples {
        return Err(cachesim::ConfigError::new("--max-samples", "must be at least 1").into());
    }
    let mut state = Shards {
        t: threshold(cfg.rate.min(trace_rate))?,
        max_samples: cfg.max_samples,
        stack: StackDistance::new(cfg.max_samples.unwrap_or(1 << 16)),
        tally: DistanceTally::new(unit, sizes),
        ids: FxHashMap::default(),
        free: Vec::new(),
        next_dense: 0,
        by_hash: BinaryHeap::new(),
        sampled: 0,
    };
    let (mut seen, mut counted_seen, mut counted_bytes) = (0u64, 0u64, 0u64);
    let mut batch = vec![Request::default(); 4096];
    if warmup == Warmup::None {
        // Fast path: the reader skips unsampled records without decoding
        // them, and only counts them.
        let mut skipped = Skipped::default();
        loop {
            let n = reader.read_sampled(&mut batch, state.t, &mut skipped)?;
            if n == 0 {
                break;
            }
            for req in &batch[..n] {
                counted_bytes += req.size as u64;
                state.sample(req, true);
            }
            seen += n as u64;
            progress(seen + skipped.requests);
        }
        seen += skipped.requests;
        counted_seen = seen;
        counted_bytes += skipped.bytes;
    } else {
        let mut first_time = None;
        for_each_request(reader, |req| {
            seen += 1;
            if seen & ((1 << 22) - 1) == 0 {
                progress(seen);
            }
            let counted = match warmup {
                Warmup::None => true,
                Warmup::Requests(n) => seen > n,
                Warmup::Time(d) => req.time >= first_time.get_or_insert(req.time).saturating_add(d),
            };
            counted_seen += counted as u64;
            counted_bytes += if counted { req.size as u64 } else { 0 };
            if sample_hash(req.id) < state.t {
                state.sample(req, counted);
            }
            Ok(())
        })?;
    }
    progress(seen);
    if seen == 0 {
        return Err(cachesim::TraceError::Empty { path: reader.path().to_path_buf() }.into());
    }
    if counted_seen == 0 {
        return Err(cachesim::ConfigError::new(
            "--warmup",
            format!("the warm-up covers all {seen} requests of {}; nothing would be counted", reader.path().display()),
        )
        .into());
    }
    let label = if cfg.max_samples.is_some() { "shards-fixed-size" } else { "shards" };
    if cfg.adjust && state.sampled > 0 {
        // The full trace had counted_seen / trace_rate requests.
        state.tally.adjust_to_totals(counted_seen as f64 / trace_rate, counted_bytes as f64 / trace_rate);
    }
    Ok(state.tally.mrc(label))
}

/// The state of one SHARDS pass.
struct Shards {
    t: u64,
    max_samples: Option<usize>,
    stack: StackDistance,
    tally: DistanceTally,
    ids: FxHashMap<u64, u32>,
    free: Vec<u32>,
    next_dense: u32,
    by_hash: BinaryHeap<(u64, u64)>,
    sampled: u64,
}

impl Shards {
    /// Feeds one request that passed the sampling threshold.
    #[inline]
    fn sample(&mut self, req: &Request, counted: bool) {
        let dense = match self.ids.get(&req.id) {
            Some(&d) => d,
            None => {
                let d = self.free.pop().unwrap_or_else(|| {
                    self.next_dense += 1;
                    self.next_dense - 1
                });
                self.stack.grow(d as usize + 1);
                self.ids.insert(req.id, d);
                if self.max_samples.is_some() {
                    self.by_hash.push((sample_hash(req.id), req.id));
                }
                d
            }
        };
        let d = self.stack.access(dense, req.size);
        if counted {
            // Each sampled request stands for 1/R requests of the full trace.
            let inv_rate = MODULUS as f64 / self.t as f64;
            self.tally.record(d, req.size, inv_rate, inv_rate);
            self.sampled += 1;
        }
        if let Some(max) = self.max_samples {
            while self.ids.len() > max {
                // Lower the threshold to the largest tracked hash and drop
                // every object at or above it.
                let Some(&(top, _)) = self.by_hash.peek() else { break };
                self.t = top;
                while let Some(&(h, id)) = self.by_hash.peek() {
                    if h < self.t {
                        break;
                    }
                    self.by_hash.pop();
                    if let Some(d) = self.ids.remove(&id) {
                        self.stack.remove(d);
                        self.free.push(d);
                    }
                }
            }
        }
    }
}
