//! The exact LRU miss-ratio curve in one pass, O(N log M).
//!
//! Mattson's stack property: an LRU cache of size C hits a request exactly
//! when the request's stack distance is at most C. For byte-sized caches the
//! distance is the bytes of the distinct objects referenced since the last
//! access plus the object's own; this equals libCacheSim's LRU (evict from
//! the tail until the new object fits) as long as no object is larger than
//! the cache, because the cached set is then always the longest prefix of
//! the LRU stack that fits.

use cachesim::sim::{Unit, Warmup};
use cachesim::trace::dense::DenseTrace;

use crate::curve::Mrc;
use crate::profile::LruProfile;
use crate::stack::StackDistance;

/// Runs the stack algorithm over `trace`; the profile answers exactly at
/// `probes` (sizes in `unit`) and approximately everywhere else. A trace
/// recorded with spatial sampling at rate r has its distances scaled by 1/r.
pub fn exact_profile(trace: &DenseTrace, unit: Unit, probes: &[u64], warmup: Warmup) -> LruProfile {
    let mut stack = StackDistance::new(trace.n_objects());
    let mut profile = LruProfile::new(unit, probes);
    let start = warmup.start_index(trace);
    let inv_rate = 1.0 / trace.sample_rate.clamp(f64::MIN_POSITIVE, 1.0);
    for (i, (&obj, &size)) in trace.ids.iter().zip(&trace.sizes).enumerate() {
        let d = stack.access(obj, size);
        if i >= start {
            profile.record(d, size, inv_rate, inv_rate);
        }
    }
    profile
}

/// The exact LRU MRC at `sizes`.
pub fn exact_mrc(trace: &DenseTrace, unit: Unit, sizes: &[u64], warmup: Warmup) -> Mrc {
    exact_profile(trace, unit, sizes, warmup).mrc("exact")
}
