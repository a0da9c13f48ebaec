//! Calibration, on scratch RocksDBs, of what block-cache hits and misses
//! cost on this machine.
//!
//! A cache model turns misses into seconds. A miss is a block read through
//! RocksDB's own path (the O_DIRECT read, the checksum, the buffer and its
//! copy), which costs a fixed part and a part per byte: [`block_read_cost`]
//! times RocksDB's reads of small blocks and of large ones and fits both.
//! A raw-disk probe cannot: it leaves out everything RocksDB does with the
//! bytes, and a large filter block costs about as much again in that work
//! as in the read itself.
//!
//! The cost of a hit is too small for RocksDB's timers, so
//! [`block_cache_hit_cost_us`] measures it as point reads answered from an
//! SST file whose blocks are all cached, against the same reads answered
//! from the memtable; the difference over the cache lookups the SST reads
//! made is what one hit costs (lookup, block search), with the rest of a
//! read's path cancelled out.

use std::path::Path;
use std::time::Instant;

use rust_rocksdb::statistics::Ticker;

use super::cache::OperatorCache;
use super::rocks::{RocksOptions, RocksStore};
use super::{StateError, StateId, StateStore};

/// What a block read from the disk costs RocksDB: `latency_us + bytes *
/// us_per_byte`, as its `rocksdb.read.block.get.micros` timer counts it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadCost {
    /// Fixed cost of a read, microseconds.
    pub latency_us: f64,
    /// Cost of each byte read, microseconds.
    pub us_per_byte: f64,
}

impl ReadCost {
    /// Microseconds `reads` reads of `bytes` bytes in all cost.
    pub fn micros(&self, reads: f64, bytes: f64) -> f64 {
        reads * self.latency_us + bytes * self.us_per_byte
    }
}

/// Keys of the read-cost probe: one SST file of about 60 MB whose
/// whole-file filter block is about 625 KB, as large as those of the 64 MiB
/// files a run's LSM tree holds.
const READ_KEYS: u64 = 500_000;

/// Fits [`ReadCost`] on scratch RocksDBs in `dir` (removed afterwards),
/// opened as the engine opens its stores (direct I/O): point reads of
/// present keys through a cache far smaller than the data (misses on 4 KiB
/// data blocks and filter and index partitions), then reads of absent keys
/// through a cache smaller than one whole-file filter (each reads that
/// filter, about 625 KB). The two give two equations in the fixed and the
/// per-byte cost. Timings are RocksDB's own, as a run's are.
pub fn block_read_cost(dir: &Path) -> Result<ReadCost, StateError> {
    let scratch = dir.join(format!(".memscale-read-cost-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| StateError::Directory { dir: scratch.clone(), reason: e.to_string() })?;
    let result = (|| {
        let small = timed_block_reads(&scratch.join("small"), true, 1 << 20, 3000, true)?;
        let large = timed_block_reads(&scratch.join("large"), false, 64 << 10, 1000, false)?;
        fit(small, large).ok_or_else(|| StateError::Calibration {
            dir: scratch.clone(),
            reason: format!(
                "block reads of two sizes gave no fit: small {small:?}, large {large:?} (reads, bytes, micros)"
            ),
        })
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Reads, bytes and microseconds of the block reads RocksDB timed while
/// answering `gets` point reads (of present keys, or absent ones) over one
/// SST file, through a cache of `cache_bytes`.
fn timed_block_reads(
    dir: &Path,
    partitioned: bool,
    cache_bytes: usize,
    gets: u64,
    present: bool,
) -> Result<(f64, f64, f64), StateError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StateError::Directory { dir: dir.to_path_buf(), reason: e.to_string() })?;
    let cache = OperatorCache::new(cache_bytes);
    let opts = RocksOptions {
        partitioned_index_filters: partitioned,
        write_buffer_size: 256 << 20,
        ..RocksOptions::new(&cache)
    };
    let mut store = RocksStore::open(dir, &["probe"], &opts)?;
    let state = StateId(0);
    // Values that do not compress, as most state does not after encoding.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut value = [0u8; 100];
    for i in 0..READ_KEYS {
        fill_noise(&mut value, &mut x);
        store.put(state, 0, &(2 * i).to_be_bytes(), &value)?;
    }
    store.flush()?;
    let before = store.stats().unwrap_or_default();
    let bytes0 = store.ticker(Ticker::BlockCacheBytesWrite);
    let mut v = Vec::new();
    for i in 0..gets {
        // A multiplicative walk: every read a different key, in an order no
        // prefetcher follows. Stored keys are even.
        let k = 2 * ((i * 7919) % READ_KEYS) + u64::from(!present);
        store.get(state, 0, &k.to_be_bytes(), &mut v)?;
    }
    let after = store.stats().unwrap_or_default();
    Ok((
        (after.sst_reads - before.sst_reads) as f64,
        (store.ticker(Ticker::BlockCacheBytesWrite) - bytes0) as f64,
        (after.sst_read_micros - before.sst_read_micros) as f64,
    ))
}

/// The line through two (reads, bytes, micros) measurements: per-read and
/// per-byte costs, when the two mean read sizes differ enough to separate
/// them and both costs come out positive.
fn fit(small: (f64, f64, f64), large: (f64, f64, f64)) -> Option<ReadCost> {
    let ((n1, b1, t1), (n2, b2, t2)) = (small, large);
    if n1 < 1.0 || n2 < 1.0 || b2 / n2 < 4.0 * (b1 / n1).max(1.0) {
        return None;
    }
    // Per read: t/n = latency + (b/n) * per_byte.
    let (s1, s2) = (b1 / n1, b2 / n2);
    let us_per_byte = (t2 / n2 - t1 / n1) / (s2 - s1);
    let latency_us = t1 / n1 - s1 * us_per_byte;
    (us_per_byte > 0.0 && latency_us > 0.0).then_some(ReadCost { latency_us, us_per_byte })
}

/// Keys of the probe (about 2 MB of state: every block stays cached).
const KEYS: u64 = 20_000;
/// Timed reads per side.
const READS: u64 = 200_000;

/// Microseconds one block-cache hit costs a point read, measured on a
/// scratch RocksDB in `dir` (removed afterwards) with the engine's options
/// (direct I/O, partitioned index and filters when `partitioned`).
pub fn block_cache_hit_cost_us(dir: &Path, partitioned: bool) -> Result<f64, StateError> {
    let scratch = dir.join(format!(".memscale-hit-cost-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| StateError::Directory { dir: scratch.clone(), reason: e.to_string() })?;
    let result = measure(&scratch, partitioned);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn measure(dir: &Path, partitioned: bool) -> Result<f64, StateError> {
    let cache = OperatorCache::new(64 << 20);
    let opts = RocksOptions { partitioned_index_filters: partitioned, ..RocksOptions::new(&cache) };
    let mut store = RocksStore::open(dir, &["sst", "memtable"], &opts)?;
    let (sst, mem) = (StateId(0), StateId(1));
    let value = [7u8; 100];
    for i in 0..KEYS {
        store.put(sst, 0, &i.to_be_bytes(), &value)?;
    }
    store.flush()?;
    for i in 0..KEYS {
        store.put(mem, 0, &i.to_be_bytes(), &value)?;
    }
    let mut v = Vec::new();
    // A multiplicative walk over the keys: every read a different key, in
    // an order no prefetcher follows.
    let mut reads = |state: StateId, store: &mut RocksStore| -> Result<f64, StateError> {
        let start = Instant::now();
        for i in 0..READS {
            let k = (i * 7919) % KEYS;
            if !store.get(state, 0, &k.to_be_bytes(), &mut v)? {
                return Err(StateError::Calibration { dir: dir.to_path_buf(), reason: format!("key {k} missing") });
            }
        }
        Ok(start.elapsed().as_secs_f64() * 1e6)
    };
    reads(sst, &mut store)?; // warm the cache
    let (h0, m0) = (store.ticker(Ticker::BlockCacheHit), store.ticker(Ticker::BlockCacheMiss));
    let sst_us = reads(sst, &mut store)?;
    let (hits, misses) = (store.ticker(Ticker::BlockCacheHit) - h0, store.ticker(Ticker::BlockCacheMiss) - m0);
    let mem_us = reads(mem, &mut store)?;
    if hits == 0 || misses > hits / 100 {
        return Err(StateError::Calibration {
            dir: dir.to_path_buf(),
            reason: format!("reads were not served from the cache ({hits} hits, {misses} misses)"),
        });
    }
    Ok(((sst_us - mem_us) / hits as f64).max(0.0))
}

/// Fills `bytes` with xorshift noise from `state` (not 0): values that do
/// not compress, as most encoded state does not, so a block on disk is as
/// large as in memory.
pub fn fill_noise(bytes: &mut [u8], state: &mut u64) {
    for chunk in bytes.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_costs_tens_of_microseconds_and_a_large_block_more() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let c = block_read_cost(dir.path()).unwrap();
        eprintln!("{c:?}: 4 KiB {:.1} µs, 512 KiB {:.1} µs", c.micros(1.0, 4096.0), c.micros(1.0, 524288.0));
        // Direct reads from this machine's disk: about 60 us and 1.2 GB/s
        // (2026-12-02). A read served by the page cache (direct I/O lost)
        // takes 1-3 us at 10 GB/s or more and fails both bounds; so does a
        // disk 30 times slower than this one.
        assert!(c.latency_us > 8.0 && c.latency_us < 2_000.0, "{c:?}");
        assert!(c.us_per_byte > 1e-4 && c.us_per_byte < 0.02, "{c:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "scratch DBs removed");
    }

    #[test]
    fn the_fit_recovers_a_line_and_refuses_one_read_size() {
        let truth = ReadCost { latency_us: 50.0, us_per_byte: 0.001 };
        let at = |n: f64, b: f64| (n, b, truth.micros(n, b));
        let c = fit(at(1000.0, 4.0e6), at(100.0, 1.25e7)).unwrap();
        assert!((c.latency_us - 50.0).abs() < 1e-6 && (c.us_per_byte - 0.001).abs() < 1e-12, "{c:?}");
        assert_eq!(fit(at(1000.0, 4.0e6), at(100.0, 4.0e5)), None);
    }

    #[test]
    fn a_hit_costs_a_fraction_of_a_microsecond_to_a_few() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        for partitioned in [false, true] {
            let us = block_cache_hit_cost_us(dir.path(), partitioned).unwrap();
            // A cache lookup and a block search: far below a disk read
            // (tens of microseconds), far above nothing.
            assert!(us > 0.01 && us < 20.0, "hit cost {us} µs (partitioned: {partitioned})");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "scratch DB removed");
    }
}
