//! MiniSim (Waldspurger et al., ATC'17): the MRC of any policy from a
//! spatially sampled trace, simulating each size scaled by the rate.

use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate_many, SimOptions, Unit, Warmup};
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::TraceReader;

use crate::curve::{Mrc, MrcPoint};
use crate::error::MrcError;
use crate::sampling::{sample_hash, threshold, MODULUS};

/// Reads the requests of objects sampled at `rate` into memory.
pub fn sample_trace(reader: &mut dyn TraceReader, rate: f64, progress: impl FnMut(u64)) -> Result<(DenseTrace, f64), MrcError> {
    let t = threshold(rate)?;
    let trace = DenseTrace::load_with(reader, OpFilter::All, |r| sample_hash(r.id) < t, progress)?;
    Ok((trace, t as f64 / MODULUS as f64))
}

/// Simulates `policy` on a sampled trace (sampled at `rate`) at `sizes`
/// scaled by the rate, in parallel.
pub fn minisim_mrc(sampled: &DenseTrace, rate: f64, policy: &PolicySpec, unit: Unit, sizes: &[u64], warmup: Warmup) -> Mrc {
    let scaled: Vec<u64> = sizes.iter().map(|&s| ((s as f64 * rate).round() as u64).max(1)).collect();
    let warmup = match warmup {
        Warmup::Requests(n) => Warmup::Requests((n as f64 * rate).round() as u64),
        w => w,
    };
    let results = simulate_many(sampled, std::slice::from_ref(policy), &scaled, SimOptions { unit, warmup }, &|_| {});
    let points = sizes
        .iter()
        .zip(&results)
        .map(|(&size, r)| MrcPoint { cache_size: size, miss_ratio: r.miss_ratio, byte_miss_ratio: r.byte_miss_ratio })
        .collect();
    Mrc { algo: format!("minisim:{policy}"), unit, points }
}
