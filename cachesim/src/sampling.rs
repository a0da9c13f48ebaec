//! Spatial sampling by key hash. SHARDS, MiniSim, trace readers and the
//! engine's sampled traces all use this one rule, so sampling composes: a
//! trace sampled at rate r, sampled again at R, is sampled at min(r, R).
//!
//! An object is kept iff `mix64(id) mod 2^24 < T`, with rate `R = T / 2^24`.

use crate::error::ConfigError;
use crate::hash::mix64;

/// The modulus P.
pub const MODULUS: u64 = 1 << 24;

/// The hash value an object is sampled by, in `0..MODULUS`.
#[inline]
pub fn sample_hash(id: u64) -> u64 {
    mix64(id) & (MODULUS - 1)
}

/// The threshold T for a rate in (0, 1].
pub fn threshold(rate: f64) -> Result<u64, ConfigError> {
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(ConfigError::new("--rate", format!("{rate} is not a sampling rate in (0, 1]")));
    }
    Ok(((rate * MODULUS as f64).round() as u64).clamp(1, MODULUS))
}

/// What a sampled read skipped: the requests not decoded still count toward
/// the trace's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Requests not sampled.
    pub requests: u64,
    /// Their bytes.
    pub bytes: u64,
}
