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
use crate::stack::Distance;
use crate::tally::DistanceTally;

/// Runs the stack algorithm over `trace`; the tally answers exactly at
/// `probes` (sizes in `unit`) and approximately everywhere else. A trace
/// recorded with spatial sampling at rate r has its distances scaled by 1/r.
///
/// Time positions are request indices and each request's previous access
/// comes from one sequential pre-pass ([`DenseTrace::prev_access`]), so the
/// main loop needs no per-object lookups and no renumbering
/// ([`crate::stack::StackDistance`] is the streaming variant). Only the
/// distance of `unit` is computed: [`Distance::objects`] is 0 in a byte
/// tally and [`Distance::bytes`] 0 in an object one.
pub fn exact_tally(trace: &DenseTrace, unit: Unit, probes: &[u64], warmup: Warmup) -> DistanceTally {
    match unit {
        Unit::Objects => run(ObjectMarkers::new(trace.len()), trace, unit, probes, warmup),
        Unit::Bytes => run(ByteMarkers::new(trace.len()), trace, unit, probes, warmup),
    }
}

/// The exact LRU MRC at `sizes`.
pub fn exact_mrc(trace: &DenseTrace, unit: Unit, sizes: &[u64], warmup: Warmup) -> Mrc {
    exact_tally(trace, unit, sizes, warmup).mrc("exact")
}

/// Live markers over request positions: the most recent access of every
/// object seen so far.
trait Markers {
    /// How many requests ahead to prefetch: enough to overlap cache misses,
    /// few enough that the outstanding lines fit the core's fill buffers.
    /// Tuned on the 20 M-request Zipf trace of docs/BENCHMARKS.md.
    const PREFETCH_AHEAD: usize;

    /// Hints the CPU to load what [`Markers::take`] at `pos` will read.
    fn prefetch(&self, pos: usize);

    /// Removes the marker at `pos`; returns the distance of a request of
    /// `size` bytes whose previous access was at `pos`.
    fn take(&mut self, pos: usize, size: u32) -> Distance;

    /// Adds a marker at `pos`, the newest position so far.
    fn put(&mut self, pos: usize, size: u32);
}

fn run<M: Markers>(mut markers: M, trace: &DenseTrace, unit: Unit, probes: &[u64], warmup: Warmup) -> DistanceTally {
    let mut tally = DistanceTally::new(unit, probes);
    let start = warmup.start_index(trace);
    let inv_rate = 1.0 / trace.sample_rate.clamp(f64::MIN_POSITIVE, 1.0);
    let prev = trace.prev_access();
    let sizes = &trace.sizes;
    for (i, (&p, &size)) in prev.iter().zip(sizes).enumerate() {
        // The loop is bound by cache misses on the markers of earlier
        // requests; start fetching them a few requests ahead.
        if let Some(&ahead) = prev.get(i + M::PREFETCH_AHEAD) {
            if ahead != NEVER {
                markers.prefetch(ahead as usize);
            }
        }
        let d = (p != NEVER).then(|| markers.take(p as usize, size));
        markers.put(i, size);
        if i >= start {
            tally.record(d, size, inv_rate, inv_rate);
        }
    }
    tally
}

#[inline]
fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is only a hint; it neither faults nor reads
    // memory into the program, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Sum of the entries after index `i` (branch-free, so it vectorizes).
#[inline]
fn sum_after<const N: usize, T: Copy + Into<u64>>(xs: &[T; N], i: usize) -> u64 {
    xs.iter().enumerate().map(|(k, &x)| if k > i { x.into() } else { 0 }).sum()
}

/// Object distances: a bit per position in 64-bit words, marker counts of a
/// block of 512 positions (8 words, one cache line) by popcount, and a
/// Fenwick tree of counts over blocks, small enough to stay in a core's
/// cache. A request touches one line of bits and the tree.
struct ObjectMarkers {
    bits: Vec<Bits>,
    tree: Fenwick<u64>,
    live: u64,
    newest_block: usize,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bits([u64; 8]);

impl ObjectMarkers {
    fn new(n: usize) -> ObjectMarkers {
        let blocks = n / 512 + 1;
        ObjectMarkers { bits: vec![Bits([0; 8]); blocks], tree: Fenwick::new(blocks), live: 0, newest_block: 0 }
    }
}

impl Markers for ObjectMarkers {
    const PREFETCH_AHEAD: usize = 32;

    #[inline]
    fn prefetch(&self, pos: usize) {
        let b = pos / 512;
        prefetch_line(&self.bits[b]);
        prefetch_line(self.tree.entry_ptr(b));
    }

    #[inline]
    fn take(&mut self, pos: usize, _size: u32) -> Distance {
        let (b, wi, off) = (pos / 512, (pos / 64) % 8, pos % 64);
        let mut objects = if b == self.newest_block { 0 } else { self.live - self.tree.prefix(b) };
        let block = &mut self.bits[b].0;
        objects += block.iter().enumerate().map(|(k, w)| if k > wi { w.count_ones() as u64 } else { 0 }).sum::<u64>();
        let later = if off == 63 { 0 } else { block[wi] & (!0u64 << (off + 1)) };
        objects += later.count_ones() as u64 + 1;
        block[wi] &= !(1u64 << off);
        self.tree.sub(b, 1);
        self.live -= 1;
        Distance { objects, bytes: 0 }
    }

    #[inline]
    fn put(&mut self, pos: usize, _size: u32) {
        let b = pos / 512;
        self.newest_block = b;
        self.bits[b].0[(pos / 64) % 8] |= 1 << (pos % 64);
        self.tree.add(b, 1);
        self.live += 1;
    }
}

/// Byte distances: the size of each position's live marker (0 when none),
/// 16 to a cache line, then byte sums of lines, 8 to a line (128
/// positions), and of those groups, 8 to a line (1024 positions), then a
/// Fenwick tree of bytes over blocks of 1024 positions. A request reads
/// three lines it can fetch ahead and a tree that stays in a core's cache;
/// a size of 0 stands for "no marker" because an empty object adds nothing
/// to a byte distance.
struct ByteMarkers {
    sizes: Vec<Sizes>,
    line_bytes: Vec<Sums>,
    group_bytes: Vec<Sums>,
    tree: Fenwick<u64>,
    live_bytes: u64,
    newest_block: usize,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Sizes([u32; 16]);

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Sums([u64; 8]);

impl ByteMarkers {
    fn new(n: usize) -> ByteMarkers {
        let blocks = n / 1024 + 1;
        ByteMarkers {
            sizes: vec![Sizes([0; 16]); blocks * 64],
            line_bytes: vec![Sums([0; 8]); blocks * 8],
            group_bytes: vec![Sums([0; 8]); blocks],
            tree: Fenwick::new(blocks),
            live_bytes: 0,
            newest_block: 0,
        }
    }
}

impl Markers for ByteMarkers {
    const PREFETCH_AHEAD: usize = 8;

    #[inline]
    fn prefetch(&self, pos: usize) {
        let (line, group, block) = (pos / 16, pos / 128, pos / 1024);
        prefetch_line(&self.sizes[line]);
        prefetch_line(&self.line_bytes[group]);
        prefetch_line(&self.group_bytes[block]);
        prefetch_line(self.tree.entry_ptr(block));
    }

    #[inline]
    fn take(&mut self, pos: usize, size: u32) -> Distance {
        let (line, group, block) = (pos / 16, pos / 128, pos / 1024);
        let (off, li, gi) = (pos % 16, line % 8, group % 8);
        let mut bytes = if block == self.newest_block { 0 } else { self.live_bytes - self.tree.prefix(block) };
        bytes += sum_after(&self.group_bytes[block].0, gi);
        bytes += sum_after(&self.line_bytes[group].0, li);
        let slots = &mut self.sizes[line].0;
        bytes += sum_after(slots, off) + size as u64;
        let old = std::mem::take(&mut slots[off]) as u64;
        self.line_bytes[group].0[li] -= old;
        self.group_bytes[block].0[gi] -= old;
        self.tree.sub(block, old);
        self.live_bytes -= old;
        Distance { objects: 0, bytes }
    }

    #[inline]
    fn put(&mut self, pos: usize, size: u32) {
        let (line, group, block) = (pos / 16, pos / 128, pos / 1024);
        self.newest_block = block;
        self.sizes[line].0[pos % 16] = size;
        let bytes = size as u64;
        self.line_bytes[group].0[line % 8] += bytes;
        self.group_bytes[block].0[group % 8] += bytes;
        self.tree.add(block, bytes);
        self.live_bytes += bytes;
    }
}
