//! AET (Hu et al., ATC'16): the LRU MRC from the reuse-time distribution in
//! O(N) time.
//!
//! With P(t) the probability that a request's reuse time exceeds t (first
//! accesses never reuse), a cache of c objects holds the objects referenced
//! within the last AET(c) requests, where AET(c) solves
//! `∫_0^AET(c) P(t) dt = c`, and misses with probability P(AET(c)). For
//! byte sizes, c is the size divided by the mean object size.

use cachesim::sim::{Unit, Warmup};
use cachesim::trace::dense::DenseTrace;

use crate::curve::{Mrc, MrcPoint};
use crate::histogram::{bucket_high, bucket_of};

const NEVER: u32 = u32::MAX;

/// The AET MRC at `sizes`.
pub fn aet_mrc(trace: &DenseTrace, unit: Unit, sizes: &[u64], warmup: Warmup) -> Mrc {
    let start = warmup.start_index(trace);
    let mut last = vec![NEVER; trace.n_objects()];
    let mut counts: Vec<f64> = Vec::new();
    let mut bytes: Vec<f64> = Vec::new();
    let (mut n, mut total_bytes, mut cold, mut cold_bytes) = (0f64, 0f64, 0f64, 0f64);
    for (i, (&obj, &size)) in trace.ids.iter().zip(&trace.sizes).enumerate() {
        let prev = std::mem::replace(&mut last[obj as usize], i as u32);
        if i < start {
            continue;
        }
        n += 1.0;
        total_bytes += size as f64;
        if prev == NEVER {
            cold += 1.0;
            cold_bytes += size as f64;
            continue;
        }
        let b = bucket_of((i as u32 - prev) as u64);
        if b >= counts.len() {
            counts.resize(b + 1, 0.0);
            bytes.resize(b + 1, 0.0);
        }
        counts[b] += 1.0;
        bytes[b] += size as f64;
    }
    let mean_size = if n > 0.0 { total_bytes / n } else { 1.0 };
    // Walk reuse time upward: `above` requests have reuse time beyond the
    // current bucket; the area under P grows by P × bucket width.
    let mut above: f64 = counts.iter().sum::<f64>() + cold;
    let mut above_bytes: f64 = bytes.iter().sum::<f64>() + cold_bytes;
    let mut area = 0.0;
    let mut prev_high: i64 = 0;
    let mut b = 1usize; // reuse times are at least 1
    let mut points = Vec::with_capacity(sizes.len());
    let ratio = |x: f64, t: f64| {
        if t > 0.0 {
            (x / t).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    for &size in sizes {
        let target = match unit {
            Unit::Objects => size as f64,
            Unit::Bytes => size as f64 / mean_size,
        };
        while area < target && b < counts.len() {
            // P(rt > t) for t in (prev_high, high_b): requests in buckets >= b.
            let high = bucket_high(b) as i64;
            area += (high - prev_high) as f64 * ratio(above, n);
            above -= counts[b];
            above_bytes -= bytes[b];
            prev_high = high;
            b += 1;
        }
        points.push(MrcPoint {
            cache_size: size,
            miss_ratio: ratio(above, n),
            byte_miss_ratio: ratio(above_bytes, total_bytes),
        });
    }
    // Reuse time 0 never happens; bucket 0 is empty by construction.
    debug_assert!(counts.first().is_none_or(|c| *c == 0.0));
    Mrc { algo: "aet".into(), unit, points }
}
