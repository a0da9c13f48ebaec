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
use cachesim::sim::{Unit, Warmup};
use cachesim::trace::TraceReader;
use rustc_hash::FxHashMap;

use crate::curve::Mrc;
use crate::error::MrcError;
use crate::profile::LruProfile;
use crate::sampling::{sample_hash, threshold, MODULUS};
use crate::stack::StackDistance;

/// SHARDS parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShardsConfig {
    /// Sampling rate R (the starting rate in fixed-size mode).
    pub rate: f64,
    /// Fixed-size mode: at most this many tracked objects.
    pub max_samples: Option<usize>,
    /// Apply SHARDS's count adjustment (fixed-rate mode only).
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
    let mut t = threshold(cfg.rate.min(trace_rate))?;
    if let Some(0) = cfg.max_samples {
        return Err(cachesim::ConfigError::new("--max-samples", "must be at least 1").into());
    }
    let mut stack = StackDistance::new(cfg.max_samples.unwrap_or(1 << 16));
    let mut profile = LruProfile::new(unit, sizes);
    let mut ids: FxHashMap<u64, u32> = FxHashMap::default();
    let mut free: Vec<u32> = Vec::new();
    let mut next_dense = 0u32;
    let mut by_hash: BinaryHeap<(u64, u64)> = BinaryHeap::new();
    let mut req = Request::default();
    let (mut seen, mut counted_seen, mut counted_bytes, mut sampled) = (0u64, 0u64, 0u64, 0u64);
    let mut first_time = None;
    while reader.read(&mut req)? {
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
        let h = sample_hash(req.id);
        if h >= t {
            continue;
        }
        let dense = match ids.get(&req.id) {
            Some(&d) => d,
            None => {
                let d = free.pop().unwrap_or_else(|| {
                    next_dense += 1;
                    next_dense - 1
                });
                stack.grow(d as usize + 1);
                ids.insert(req.id, d);
                if cfg.max_samples.is_some() {
                    by_hash.push((h, req.id));
                }
                d
            }
        };
        let d = stack.access(dense, req.size);
        if counted {
            // Each sampled request stands for 1/R requests of the full trace.
            let inv_rate = MODULUS as f64 / t as f64;
            profile.record(d, req.size, inv_rate, inv_rate);
            sampled += 1;
        }
        if let Some(max) = cfg.max_samples {
            while ids.len() > max {
                // Lower the threshold to the largest tracked hash and drop
                // every object at or above it.
                let Some(&(top, _)) = by_hash.peek() else {
                    break;
                };
                t = top;
                while let Some(&(hh, id)) = by_hash.peek() {
                    if hh < t {
                        break;
                    }
                    by_hash.pop();
                    if let Some(d) = ids.remove(&id) {
                        stack.remove(d);
                        free.push(d);
                    }
                }
            }
        }
    }
    progress(seen);
    if seen == 0 {
        return Err(cachesim::TraceError::Empty { path: reader.path().to_path_buf() }.into());
    }
    let label = if cfg.max_samples.is_some() { "shards-fixed-size" } else { "shards" };
    if cfg.adjust && cfg.max_samples.is_none() && sampled > 0 {
        // The full trace had counted_seen / trace_rate requests.
        profile.adjust_to_totals(counted_seen as f64 / trace_rate, counted_bytes as f64 / trace_rate);
    }
    Ok(profile.mrc(label))
}
