//! Calibration of the cost of a block-cache hit on this machine.
//!
//! A cache model turns misses into seconds with the cost of a miss, which a
//! run measures (RocksDB's timed block reads). The cost of a hit is too small
//! for RocksDB's timers, so it is measured here: point reads answered from
//! an SST file whose blocks are all cached, against the same reads answered
//! from the memtable; the difference over the cache lookups the SST reads
//! made is what one hit costs (lookup, block search), with the rest of a
//! read's path cancelled out.

use std::path::Path;
use std::time::Instant;

use rust_rocksdb::statistics::Ticker;

use super::cache::OperatorCache;
use super::rocks::{RocksOptions, RocksStore};
use super::{StateError, StateId, StateStore};

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

#[cfg(test)]
mod tests {
    use super::*;

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
