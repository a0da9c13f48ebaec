//! MiniSim (Waldspurger et al., ATC'17): the MRC of any policy from a
//! spatially sampled trace, simulating each size scaled by the rate.

use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate_many, SimOptions, Unit, Warmup};
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::TraceReader;

use crate::curve::{Mrc, MrcPoint};
use crate::error::MrcError;
use cachesim::sampling::{threshold, MODULUS};

/// A spatially sampled trace with what the full trace held.
pub struct Sample {
    /// The sampled requests.
    pub trace: DenseTrace,
    /// The effective rate R.
    pub rate: f64,
    /// Requests in the full trace.
    pub full_requests: u64,
    /// Bytes requested in the full trace.
    pub full_bytes: u64,
}

/// Reads the requests of objects sampled at `rate` into memory.
pub fn sample_trace(reader: &mut dyn TraceReader, rate: f64, progress: impl FnMut(u64)) -> Result<Sample, MrcError> {
    let t = threshold(rate)?;
    let (trace, skipped) = DenseTrace::load_sampled(reader, OpFilter::All, t, progress)?;
    let full_requests = trace.len() as u64 + skipped.requests;
    let full_bytes = trace.bytes_requested() + skipped.bytes;
    Ok(Sample { trace, rate: t as f64 / MODULUS as f64, full_requests, full_bytes })
}

/// Simulates `policy` on a sample at `sizes` scaled by the rate, in
/// parallel.
///
/// Without warm-up, miss ratios are the sample's misses scaled by 1/R over
/// the full trace's totals (as SHARDS's adjustment does), which keeps a hot
/// object that is in or out of the sample from skewing the curve; with
/// warm-up they are the sample's own ratios.
pub fn minisim_mrc(sample: &Sample, policy: &PolicySpec, unit: Unit, sizes: &[u64], warmup: Warmup) -> Mrc {
    let (sampled, rate) = (&sample.trace, sample.rate);
    let scaled: Vec<u64> = sizes.iter().map(|&s| ((s as f64 * rate).round() as u64).max(1)).collect();
    let warmup = match warmup {
        Warmup::Requests(n) => Warmup::Requests((n as f64 * rate).round() as u64),
        w => w,
    };
    let results = simulate_many(
        sampled,
        std::slice::from_ref(policy),
        &scaled,
        SimOptions { unit, warmup, ..SimOptions::default() },
        &|_| {},
    );
    let points = sizes
        .iter()
        .zip(&results)
        .map(|(&size, r)| {
            let (miss_ratio, byte_miss_ratio) = match warmup {
                Warmup::None if sample.full_requests > 0 => (
                    (r.misses as f64 / rate / sample.full_requests as f64).min(1.0),
                    (r.byte_misses as f64 / rate / sample.full_bytes.max(1) as f64).min(1.0),
                ),
                _ => (r.miss_ratio, r.byte_miss_ratio),
            };
            MrcPoint { cache_size: size, miss_ratio, byte_miss_ratio }
        })
        .collect();
    Mrc { algo: format!("minisim:{policy}"), unit, points }
}
