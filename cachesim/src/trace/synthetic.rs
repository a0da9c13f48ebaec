//! Synthetic traces: Zipf or uniform popularity, optionally mixed with
//! sequential scans, with per-object sizes. Deterministic for a seed.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use crate::error::ConfigError;
use crate::hash::mix64;
use crate::request::Request;

/// Popularity of objects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Popularity {
    /// Zipf with exponent `alpha` over object ranks.
    Zipf(f64),
    /// Every object equally likely.
    Uniform,
}

/// A synthetic workload.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSpec {
    /// Requests to generate.
    pub requests: u64,
    /// Distinct objects of the random part.
    pub objects: u64,
    /// Popularity.
    pub popularity: Popularity,
    /// Smallest object size, bytes.
    pub min_size: u32,
    /// Largest object size, bytes (sizes are uniform per object in between).
    pub max_size: u32,
    /// Share of requests that belong to scans, in [0, 1).
    pub scan_fraction: f64,
    /// Objects per scan.
    pub scan_length: u64,
    /// Random seed.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> SyntheticSpec {
        SyntheticSpec {
            requests: 1_000_000,
            objects: 100_000,
            popularity: Popularity::Zipf(0.9),
            min_size: 512,
            max_size: 16 * 1024,
            scan_fraction: 0.0,
            scan_length: 1000,
            seed: 42,
        }
    }
}

/// Streams the requests of a [`SyntheticSpec`].
pub struct SyntheticTrace {
    spec: SyntheticSpec,
    rng: SmallRng,
    zipf: Option<Zipf<f64>>,
    emitted: u64,
    scan_left: u64,
    scan_next: u64,
    scans_started: u64,
}

impl SyntheticTrace {
    /// Checks the spec and prepares the generator.
    pub fn new(spec: SyntheticSpec) -> Result<SyntheticTrace, ConfigError> {
        if spec.objects == 0 {
            return Err(ConfigError::new("--objects", "must be at least 1"));
        }
        if spec.min_size == 0 || spec.min_size > spec.max_size {
            return Err(ConfigError::new(
                "--sizes",
                format!("object sizes {}..{} must satisfy 1 <= min <= max", spec.min_size, spec.max_size),
            ));
        }
        if !(0.0..1.0).contains(&spec.scan_fraction) {
            return Err(ConfigError::new("--scan-fraction", "must be in [0, 1)"));
        }
        if spec.scan_fraction > 0.0 && spec.scan_length == 0 {
            return Err(ConfigError::new("--scan-length", "must be at least 1"));
        }
        let zipf = match spec.popularity {
            Popularity::Zipf(a) if a > 0.0 && a.is_finite() => {
                Some(Zipf::new(spec.objects, a).map_err(|e| ConfigError::new("--alpha", e.to_string()))?)
            }
            Popularity::Zipf(a) => return Err(ConfigError::new("--alpha", format!("{a} must be a positive number"))),
            Popularity::Uniform => None,
        };
        let rng = SmallRng::seed_from_u64(spec.seed);
        Ok(SyntheticTrace { spec, rng, zipf, emitted: 0, scan_left: 0, scan_next: 0, scans_started: 0 })
    }

    fn size_of(&self, id: u64) -> u32 {
        let span = (self.spec.max_size - self.spec.min_size) as u64 + 1;
        self.spec.min_size + (mix64(id ^ self.spec.seed.rotate_left(17)) % span) as u32
    }
}

impl Iterator for SyntheticTrace {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        if self.emitted >= self.spec.requests {
            return None;
        }
        if self.scan_left == 0 && self.spec.scan_fraction > 0.0 {
            // Start scans so that on average `scan_fraction` of requests are
            // scan requests.
            let p = self.spec.scan_fraction
                / (self.spec.scan_length as f64 * (1.0 - self.spec.scan_fraction) + self.spec.scan_fraction);
            if self.rng.gen::<f64>() < p {
                self.scan_left = self.spec.scan_length;
                self.scan_next = self.scans_started.wrapping_mul(self.spec.scan_length);
                self.scans_started += 1;
            }
        }
        let id = if self.scan_left > 0 {
            self.scan_left -= 1;
            self.scan_next += 1;
            // Scan objects live apart from the random ones (top bit set).
            mix64(self.scan_next ^ self.spec.seed) | (1 << 63)
        } else {
            let rank = match &self.zipf {
                Some(z) => z.sample(&mut self.rng) as u64 - 1,
                None => self.rng.gen_range(0..self.spec.objects),
            };
            mix64(rank ^ self.spec.seed) & !(1 << 63)
        };
        let time = self.emitted;
        self.emitted += 1;
        Some(Request { time, id, size: self.size_of(id), ..Request::default() })
    }
}
