//! Spatial sampling by key hash (SHARDS, MiniSim, and the engine's sampled
//! traces all use this rule, so sampling composes).
//!
//! An object is kept iff `mix64(id) mod 2^24 < T`, with rate `R = T / 2^24`.

use cachesim::hash::mix64;
use cachesim::ConfigError;

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
