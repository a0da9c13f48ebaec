//! The [`Mrc`] type: miss ratios at cache sizes, with CSV and JSON output.

use std::path::Path;

use cachesim::sim::{SimResult, Unit};
use serde::{Deserialize, Serialize};

use crate::error::MrcError;

/// One point of a miss-ratio curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MrcPoint {
    /// Cache size (bytes or objects, per the curve's unit).
    pub cache_size: u64,
    /// Fraction of requests that miss.
    pub miss_ratio: f64,
    /// Fraction of requested bytes that miss.
    pub byte_miss_ratio: f64,
}

/// A miss-ratio curve sampled at a set of sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mrc {
    /// Algorithm that produced it (`exact`, `shards`, `aet`, `minisim:arc`, ...).
    pub algo: String,
    /// Unit of `cache_size`.
    pub unit: Unit,
    /// Points in increasing size.
    pub points: Vec<MrcPoint>,
}

impl Mrc {
    /// The curve a simulation traced out: the results of `policy`, in the
    /// order given.
    pub fn from_sim(policy: &str, unit: Unit, results: &[SimResult]) -> Mrc {
        let points = results
            .iter()
            .filter(|r| r.policy == policy)
            .map(|r| MrcPoint {
                cache_size: r.cache_size,
                miss_ratio: r.miss_ratio,
                byte_miss_ratio: r.byte_miss_ratio,
            })
            .collect();
        Mrc { algo: policy.to_string(), unit, points }
    }

    /// Miss ratio at `size`: the point at the largest sampled size not above
    /// it (a step curve), or 1 below the first point.
    pub fn miss_ratio_at(&self, size: u64) -> f64 {
        match self.points.partition_point(|p| p.cache_size <= size) {
            0 => 1.0,
            i => self.points[i - 1].miss_ratio,
        }
    }

    /// Mean absolute difference of miss ratios with `other` at the sizes both
    /// have.
    pub fn mean_absolute_error(&self, other: &Mrc) -> f64 {
        let mut sum = 0.0;
        let mut n = 0usize;
        for p in &self.points {
            if let Some(q) = other.points.iter().find(|q| q.cache_size == p.cache_size) {
                sum += (p.miss_ratio - q.miss_ratio).abs();
                n += 1;
            }
        }
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }

    /// Writes CSV rows `algo,cache_size,miss_ratio,byte_miss_ratio` for each
    /// curve, with one header.
    pub fn write_csv(curves: &[Mrc], path: &Path) -> Result<(), MrcError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| MrcError::Output { path: path.to_path_buf(), reason: e.to_string() };
        w.write_record(["algo", "cache_size", "miss_ratio", "byte_miss_ratio"]).map_err(io)?;
        for c in curves {
            for p in &c.points {
                w.write_record([
                    c.algo.clone(),
                    p.cache_size.to_string(),
                    format!("{:.6}", p.miss_ratio),
                    format!("{:.6}", p.byte_miss_ratio),
                ])
                .map_err(io)?;
            }
        }
        let bytes = w.into_inner().map_err(|e| MrcError::Output { path: path.to_path_buf(), reason: e.to_string() })?;
        write_atomically(path, &bytes)
    }

    /// Writes the curves as a JSON array.
    pub fn write_json(curves: &[Mrc], path: &Path) -> Result<(), MrcError> {
        let bytes = serde_json::to_vec_pretty(curves)
            .map_err(|e| MrcError::Output { path: path.to_path_buf(), reason: e.to_string() })?;
        write_atomically(path, &bytes)
    }
}

/// [`cachesim::file::write_atomically`], its error naming `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), MrcError> {
    cachesim::file::write_atomically(path, bytes)
        .map_err(|e| MrcError::Output { path: path.to_path_buf(), reason: e.to_string() })
}
