//! A hit-ratio curve: an operator's block-cache hit ratio against cache
//! size, from a cache model (a miss-ratio curve) at a set of sizes, read
//! between them on a logarithmic size axis.

use serde::{Deserialize, Serialize};

/// Hit ratio against cache size, non-decreasing in size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HitCurve {
    /// (cache bytes, hit ratio), ascending in size.
    points: Vec<(u64, f64)>,
}

/// Why a curve cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CurveError {
    /// No point, or no point with a positive size.
    #[error("a hit-ratio curve needs at least one point with a positive cache size")]
    Empty,
    /// A hit ratio outside [0, 1] or not a number.
    #[error("hit ratio {ratio} at {size} bytes is not within 0 and 1")]
    BadRatio {
        /// Cache size of the point.
        size: u64,
        /// Its ratio.
        ratio: f64,
    },
}

impl HitCurve {
    /// The curve through `points` (any order); sizes of 0 are dropped,
    /// duplicates keep the higher ratio, and a ratio that falls as the
    /// size grows (a model's noise: LRU's never falls) is raised to the
    /// ratio before it, so that "the smallest size reaching h" is one size.
    pub fn new(points: impl IntoIterator<Item = (u64, f64)>) -> Result<HitCurve, CurveError> {
        let mut p: Vec<(u64, f64)> = Vec::new();
        for (size, ratio) in points {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(CurveError::BadRatio { size, ratio });
            }
            if size > 0 {
                p.push((size, ratio));
            }
        }
        if p.is_empty() {
            return Err(CurveError::Empty);
        }
        p.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        p.dedup_by_key(|x| x.0);
        for i in 1..p.len() {
            p[i].1 = p[i].1.max(p[i - 1].1);
        }
        Ok(HitCurve { points: p })
    }

    /// The points, ascending.
    pub fn points(&self) -> &[(u64, f64)] {
        &self.points
    }

    /// Smallest and largest modelled sizes.
    pub fn range(&self) -> (u64, u64) {
        (self.points[0].0, self.points[self.points.len() - 1].0)
    }

    /// Hit ratio at `size` bytes: linear in log(size) between points; the
    /// end points' ratios beyond them (the curve says nothing there).
    pub fn hit_ratio(&self, size: u64) -> f64 {
        let p = &self.points;
        let i = p.partition_point(|x| x.0 < size);
        if i == 0 {
            return p[0].1;
        }
        if i == p.len() {
            return p[p.len() - 1].1;
        }
        let ((s0, h0), (s1, h1)) = (p[i - 1], p[i]);
        let f = ((size as f64).ln() - (s0 as f64).ln()) / ((s1 as f64).ln() - (s0 as f64).ln());
        h0 + (h1 - h0) * f.clamp(0.0, 1.0)
    }

    /// The smallest size whose hit ratio reaches `target` (inverse of
    /// [`HitCurve::hit_ratio`]): the first point's size when it already
    /// does, `None` when no modelled size does.
    pub fn size_for(&self, target: f64) -> Option<u64> {
        let p = &self.points;
        let i = p.iter().position(|x| x.1 >= target)?;
        if i == 0 {
            return Some(p[0].0);
        }
        let ((s0, h0), (s1, h1)) = (p[i - 1], p[i]);
        let f = ((target - h0) / (h1 - h0).max(1e-15)).clamp(0.0, 1.0);
        let ln = (s0 as f64).ln() + f * ((s1 as f64).ln() - (s0 as f64).ln());
        // Rounded up, so the size returned reaches the target.
        Some((ln.exp().ceil() as u64).clamp(s0, s1))
    }

    /// The curve of a state `factor` times as large: every size scaled by
    /// it. A keyed state that grows spreads its accesses over
    /// proportionally more blocks, so the cache that gives a hit ratio
    /// grows with it.
    pub fn scaled(&self, factor: f64) -> HitCurve {
        let f = if factor.is_finite() && factor > 0.0 { factor } else { 1.0 };
        HitCurve { points: self.points.iter().map(|&(s, h)| (((s as f64 * f) as u64).max(1), h)).collect() }
    }

    /// The knee: the size where the curve rises furthest above the chord
    /// from its first to its last point, both axes normalized, sizes on a
    /// log axis (Kneedle). `None` for a flat curve.
    pub fn knee(&self) -> Option<u64> {
        let (first, last) = (self.points[0], self.points[self.points.len() - 1]);
        let (x0, dx) = ((first.0 as f64).ln(), (last.0 as f64).ln() - (first.0 as f64).ln());
        let dy = last.1 - first.1;
        if dx <= 0.0 || dy <= 1e-6 {
            return None;
        }
        self.points
            .iter()
            .map(|&(s, h)| (((h - first.1) / dy) - ((s as f64).ln() - x0) / dx, s))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(gain, _)| *gain > 0.0)
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> HitCurve {
        HitCurve::new([(8 << 20, 0.2), (16 << 20, 0.5), (64 << 20, 0.9), (256 << 20, 0.95)]).unwrap()
    }

    #[test]
    fn reads_between_points_on_a_log_axis_and_holds_the_ends() {
        let c = curve();
        assert_eq!(c.hit_ratio(1 << 20), 0.2);
        assert_eq!(c.hit_ratio(1 << 40), 0.95);
        // 32 MiB is half way from 16 to 64 MiB on a log axis.
        assert!((c.hit_ratio(32 << 20) - 0.7).abs() < 1e-12);
        assert!((c.hit_ratio(16 << 20) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn size_for_inverts_hit_ratio() {
        let c = curve();
        for target in [0.25, 0.5, 0.6, 0.7, 0.89, 0.93] {
            let s = c.size_for(target).unwrap();
            assert!(c.hit_ratio(s) >= target - 1e-9, "{target}: {s}");
            assert!(c.hit_ratio(s - 1) < target + 1e-6, "{target}: {s} is not the smallest");
        }
        assert_eq!(c.size_for(0.1), Some(8 << 20));
        assert_eq!(c.size_for(0.96), None);
    }

    #[test]
    fn a_falling_point_is_raised_and_bad_points_are_refused() {
        let c = HitCurve::new([(4, 0.5), (1, 0.3), (2, 0.2), (0, 0.9)]).unwrap();
        assert_eq!(c.points(), &[(1, 0.3), (2, 0.3), (4, 0.5)]);
        assert_eq!(HitCurve::new([(0, 0.5)]), Err(CurveError::Empty));
        assert!(matches!(HitCurve::new([(1, 1.5)]), Err(CurveError::BadRatio { .. })));
        assert!(matches!(HitCurve::new([(1, f64::NAN)]), Err(CurveError::BadRatio { .. })));
    }

    #[test]
    fn a_larger_state_needs_a_proportionally_larger_cache() {
        let c = curve().scaled(4.0);
        assert!((c.hit_ratio(256 << 20) - 0.9).abs() < 1e-12);
        assert_eq!(c.size_for(0.5), Some(64 << 20));
        assert_eq!(curve().scaled(f64::NAN), curve());
    }

    #[test]
    fn the_knee_is_where_the_curve_bends() {
        assert_eq!(curve().knee(), Some(64 << 20));
        assert_eq!(HitCurve::new([(1, 0.5), (2, 0.5)]).unwrap().knee(), None);
    }
}
