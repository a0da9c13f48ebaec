//! Accumulates stack distances into miss ratios: exactly at a set of probe
//! sizes, and as a histogram for the whole curve.
//!
//! Requests carry a weight (1 for a full trace, 1/R for a request sampled
//! at rate R), so the exact stack algorithm and SHARDS share this tally.

use cachesim::sim::Unit;

use crate::curve::{Mrc, MrcPoint};
use crate::histogram::{bucket_high, bucket_of, DistanceHistogram};
use crate::stack::Distance;

/// Hits and requests seen so far, by stack distance.
pub struct DistanceTally {
    unit: Unit,
    probes: Vec<u64>,
    /// Hits (and hit bytes) whose distance first fits probe `k`.
    probe_hits: Vec<(f64, f64)>,
    /// Per histogram bucket up to the largest probe's, the probes below
    /// the bucket and those inside it (`lo..hi`): a distance's probe is one
    /// lookup, with a comparison only when a probe falls in its bucket.
    probe_index: Vec<(u32, u32)>,
    histogram: DistanceHistogram,
    requests: f64,
    bytes: f64,
}

impl DistanceTally {
    /// A profile that counts exactly at `probes` (sorted sizes in `unit`).
    pub fn new(unit: Unit, probes: &[u64]) -> DistanceTally {
        debug_assert!(probes.is_sorted(), "probe sizes must be sorted");
        let buckets = probes.last().map_or(0, |&p| bucket_of(p) + 1);
        let probe_index = (0..buckets)
            .map(|b| {
                let low = if b == 0 { 0 } else { bucket_high(b - 1) + 1 };
                let lo = probes.partition_point(|&p| p < low);
                let hi = probes.partition_point(|&p| p <= bucket_high(b));
                (lo as u32, hi as u32)
            })
            .collect();
        DistanceTally {
            unit,
            probe_index,
            probes: probes.to_vec(),
            probe_hits: vec![(0.0, 0.0); probes.len()],
            histogram: DistanceHistogram::default(),
            requests: 0.0,
            bytes: 0.0,
        }
    }

    /// Counts one request of `size` bytes with weight `w`; `distance` is
    /// `None` for a first access (a miss at every size). Distances are
    /// multiplied by `scale` (1/R under sampling).
    #[inline]
    pub fn record(&mut self, distance: Option<Distance>, size: u32, w: f64, scale: f64) {
        self.requests += w;
        self.bytes += w * size as f64;
        if let Some(d) = distance {
            let raw = match self.unit {
                Unit::Bytes => d.bytes,
                Unit::Objects => d.objects,
            };
            let dist = if scale == 1.0 { raw } else { (raw as f64 * scale).round() as u64 };
            // The number of probes below the distance: the first probe that
            // holds it.
            let b = bucket_of(dist);
            let k = match self.probe_index.get(b) {
                Some(&(lo, hi)) => {
                    let (lo, hi) = (lo as usize, hi as usize);
                    lo + self.probes[lo..hi].iter().filter(|&&p| p < dist).count()
                }
                None => self.probes.len(),
            };
            if k < self.probes.len() {
                let e = &mut self.probe_hits[k];
                e.0 += w;
                e.1 += w * size as f64;
            }
            self.histogram.add_to_bucket(b, w, w * size as f64);
        }
    }

    /// SHARDS's adjustment: the difference between the true totals and
    /// the sample's weighted totals is counted as hits at the smallest
    /// distance (it may be negative). The miss ratio becomes the sample's
    /// weighted misses over the true total: hot objects that happen to be in
    /// or out of the sample, which are mostly hits, no longer skew it.
    pub fn adjust_to_totals(&mut self, requests: f64, bytes: f64) {
        let (dr, db) = (requests - self.requests, bytes - self.bytes);
        self.requests = requests;
        self.bytes = bytes;
        if let Some(e) = self.probe_hits.first_mut() {
            e.0 += dr;
            e.1 += db;
        }
        self.histogram.add_raw(0, dr, db);
    }

    /// The curve at the probe sizes.
    pub fn mrc(&self, algo: &str) -> Mrc {
        let (mut hits, mut hit_bytes) = (0.0, 0.0);
        let points = self
            .probes
            .iter()
            .zip(&self.probe_hits)
            .map(|(&size, &(h, b))| {
                hits += h;
                hit_bytes += b;
                self.point(size, hits, hit_bytes)
            })
            .collect();
        Mrc { algo: algo.to_string(), unit: self.unit, points }
    }

    /// The whole step curve: a point at every distance where it steps (to
    /// within the histogram's 1/512 resolution above 512).
    pub fn full_curve(&self, algo: &str) -> Mrc {
        let points = self.histogram.cumulative().into_iter().map(|(d, h, b)| self.point(d.max(1), h, b)).collect();
        Mrc { algo: algo.to_string(), unit: self.unit, points }
    }

    fn point(&self, size: u64, hits: f64, hit_bytes: f64) -> MrcPoint {
        let ratio = |x: f64, total: f64| {
            if total > 0.0 {
                (1.0 - x / total).clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        MrcPoint {
            cache_size: size,
            miss_ratio: ratio(hits, self.requests),
            byte_miss_ratio: ratio(hit_bytes, self.bytes),
        }
    }
}
