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
use cachesim::trace::dense::{DenseTrace, NEVER};

use crate::curve::Mrc;
use crate::fenwick::Fenwick;
use crate::profile::LruProfile;
use crate::stack::Distance;

/// Runs the stack algorithm over `trace`; the profile answers exactly at
/// `probes` (sizes in `unit`) and approximately everywhere else. A trace
/// recorded with spatial sampling at rate r has its distances scaled by 1/r.
///
/// Time positions are request indices and each request's previous access
/// comes from one sequential pre-pass ([`DenseTrace::prev_access`]), so the
/// main loop needs no per-object lookups and no renumbering
/// ([`crate::stack::StackDistance`] is the streaming variant).
pub fn exact_profile(trace: &DenseTrace, unit: Unit, probes: &[u64], warmup: Warmup) -> LruProfile {
    let mut markers = Markers::new(trace.len());
    let mut profile = LruProfile::new(unit, probes);
    let start = warmup.start_index(trace);
    let inv_rate = 1.0 / trace.sample_rate.clamp(f64::MIN_POSITIVE, 1.0);
    let prev = trace.prev_access();
    let sizes = &trace.sizes;
    let bytes = unit == Unit::Bytes;
    for i in 0..trace.len() {
        // The loop is bound by cache misses on the marker words (and sizes)
        // of earlier requests; start fetching them a few requests ahead.
        if let Some(&ahead) = prev.get(i + if bytes { PREFETCH_AHEAD_BYTES } else { PREFETCH_AHEAD_OBJECTS }) {
            if ahead != NEVER {
                markers.prefetch(ahead as usize, sizes, bytes);
            }
        }
        let size = sizes[i];
        let p = prev[i];
        let d = if p == NEVER {
            None
        } else if bytes {
            Some(markers.take::<true>(p as usize, sizes, size))
        } else {
            Some(markers.take::<false>(p as usize, sizes, size))
        };
        if bytes {
            markers.put::<true>(i, size);
        } else {
            markers.put::<false>(i, size);
        }
        if i >= start {
            profile.record(d, size, inv_rate, inv_rate);
        }
    }
    profile
}

// How many requests ahead to prefetch: enough to overlap misses, few enough
// that the outstanding lines fit the core's fill buffers (objects touch 2
// lines a request, bytes 5). Tuned on the 20 M-request Zipf trace.
const PREFETCH_AHEAD_OBJECTS: usize = 32;
const PREFETCH_AHEAD_BYTES: usize = 6;

/// Live markers over request positions, in a four-level hierarchy so that
/// a request touches a few cache lines it can fetch ahead, plus a tree small
/// enough to stay in a core's cache:
///
/// - position: a bit per position in 64-bit words; sizes from the trace;
/// - group of 8 positions: bytes per group (`groups`, one line per word);
/// - word of 64 positions: bytes per word (`word_bytes`, one line per block);
///   marker counts are popcounts of the block's 8 words (one line);
/// - block of 512 positions: a Fenwick tree of (markers, bytes).
struct Markers {
    bits: Vec<u64>,
    groups: Vec<[u64; 8]>,
    word_bytes: Vec<[u64; 8]>,
    tree: Fenwick,
    live: u64,
    live_bytes: u64,
    newest_block: usize,
}

impl Markers {
    fn new(n: usize) -> Markers {
        let blocks = n / 512 + 1;
        Markers {
            bits: vec![0; blocks * 8],
            groups: vec![[0; 8]; blocks * 8],
            word_bytes: vec![[0; 8]; blocks],
            tree: Fenwick::new(blocks),
            live: 0,
            live_bytes: 0,
            newest_block: 0,
        }
    }

    /// Markers and bytes in blocks after `block`.
    #[inline]
    fn after(&self, block: usize) -> (u64, u64) {
        if block == self.newest_block {
            return (0, 0);
        }
        let (c, b) = self.tree.prefix(block);
        (self.live.wrapping_sub(c), self.live_bytes.wrapping_sub(b))
    }

    /// Hints the CPU to load what [`Markers::take`] at `pos` will read.
    #[inline]
    fn prefetch(&self, pos: usize, sizes: &[u32], bytes: bool) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let (w, b) = (pos / 64, pos / 512);
            // SAFETY: prefetching is only a hint, and every address is within
            // a live allocation (w < bits.len(), b < word_bytes.len(),
            // b + 1 < tree.len(), pos < sizes.len()).
            unsafe {
                _mm_prefetch(self.bits.as_ptr().add(w) as *const i8, _MM_HINT_T0);
                _mm_prefetch(self.tree.entry_ptr(b) as *const i8, _MM_HINT_T0);
                if bytes {
                    _mm_prefetch(self.groups.as_ptr().add(w) as *const i8, _MM_HINT_T0);
                    _mm_prefetch(self.word_bytes.as_ptr().add(b) as *const i8, _MM_HINT_T0);
                    _mm_prefetch(sizes.as_ptr().add(pos) as *const i8, _MM_HINT_T0);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (pos, sizes, bytes);
    }

    /// Removes the marker at `pos`; returns the distances of a request whose
    /// previous access was at `pos` and whose size is `size` (the byte
    /// distance only with `BYTES`).
    #[inline]
    fn take<const BYTES: bool>(&mut self, pos: usize, sizes: &[u32], size: u32) -> Distance {
        let (w, off) = (pos / 64, pos % 64);
        let (b, wi) = (w / 8, w % 8);
        let (mut objects, mut bytes) = self.after(b);
        let block_bits = &self.bits[b * 8..b * 8 + 8];
        objects += block_bits[wi + 1..].iter().map(|x| x.count_ones() as u64).sum::<u64>();
        let word = block_bits[wi];
        let mut later = if off == 63 { 0 } else { word & (!0u64 << (off + 1)) };
        objects += later.count_ones() as u64 + 1;
        let old = if BYTES { sizes[pos] as u64 } else { 0 };
        if BYTES {
            bytes += self.word_bytes[b][wi + 1..].iter().sum::<u64>() + size as u64;
            let g = off / 8;
            let groups = &mut self.groups[w];
            bytes += groups[g + 1..].iter().sum::<u64>();
            // Markers after `pos` in its own group of 8.
            later &= if g == 7 { !0 } else { (1u64 << ((g + 1) * 8)) - 1 };
            while later != 0 {
                bytes += sizes[w * 64 + later.trailing_zeros() as usize] as u64;
                later &= later - 1;
            }
            groups[g] -= old;
            self.word_bytes[b][wi] -= old;
        }
        self.bits[w] = word & !(1u64 << off);
        self.tree.sub(b, 1, old);
        self.live -= 1;
        self.live_bytes = self.live_bytes.wrapping_sub(old);
        Distance { objects, bytes }
    }

    #[inline]
    fn put<const BYTES: bool>(&mut self, pos: usize, size: u32) {
        let (w, b) = (pos / 64, pos / 512);
        self.newest_block = b;
        self.bits[w] |= 1 << (pos % 64);
        let bytes = if BYTES { size as u64 } else { 0 };
        if BYTES {
            self.groups[w][(pos % 64) / 8] += bytes;
            self.word_bytes[b][w % 8] += bytes;
        }
        self.tree.add(b, 1, bytes);
        self.live += 1;
        self.live_bytes += bytes;
    }
}

/// The exact LRU MRC at `sizes`.
pub fn exact_mrc(trace: &DenseTrace, unit: Unit, sizes: &[u64], warmup: Warmup) -> Mrc {
    exact_profile(trace, unit, sizes, warmup).mrc("exact")
}
