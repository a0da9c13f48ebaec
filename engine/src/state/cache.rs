//! An operator's block cache: one RocksDB LRU cache shared by the
//! operator's subtasks, resizable while the job runs.
//!
//! LRUCache, not HyperClockCache: an LRU cache shrinks at once when its
//! capacity drops, so a memory autoscaler that reads usage right after a
//! resize sees the new size (HyperClockCache shrinks only as new inserts
//! evict).

use rust_rocksdb::Cache;

/// A shared, resizable block cache.
#[derive(Clone)]
pub struct OperatorCache {
    cache: Cache,
}

impl OperatorCache {
    /// An LRU cache of `capacity` bytes.
    pub fn new(capacity: usize) -> OperatorCache {
        OperatorCache { cache: Cache::new_lru_cache(capacity) }
    }

    /// The RocksDB cache, for [`super::rocks::RocksOptions::block_cache`].
    pub fn rocksdb(&self) -> &Cache {
        &self.cache
    }

    /// Sets the capacity; shrinking evicts at once (entries pinned by
    /// in-flight reads leave when released).
    pub fn resize(&self, capacity: usize) {
        // `Cache` is a shared handle; resizing through a clone resizes the
        // one cache every subtask uses.
        self.cache.clone().set_capacity(capacity);
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cache.get_capacity()
    }

    /// Bytes held (block charges, including metadata).
    pub fn usage(&self) -> usize {
        self.cache.get_usage()
    }

    /// Bytes held by entries in use right now.
    pub fn pinned_usage(&self) -> usize {
        self.cache.get_pinned_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::rocks::{RocksOptions, RocksStore};
    use crate::state::{StateId, StateStore};

    #[test]
    fn shared_by_subtasks_and_shrinks_at_once() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let cache = OperatorCache::new(8 << 20);
        let opts = RocksOptions::new(&cache);
        let mut subtasks: Vec<RocksStore> =
            (0..2).map(|i| RocksStore::open(&dir.path().join(format!("s{i}")), &["s"], &opts).unwrap()).collect();
        let value = vec![3u8; 400];
        for (i, store) in subtasks.iter_mut().enumerate() {
            for k in 0..20_000u32 {
                store.put(StateId(0), (k % 128) as u16, &(k + i as u32 * 1_000_000).to_be_bytes(), &value).unwrap();
            }
            store.flush().unwrap();
        }
        let mut v = Vec::new();
        for (i, store) in subtasks.iter_mut().enumerate() {
            for k in 0..20_000u32 {
                store.get(StateId(0), (k % 128) as u16, &(k + i as u32 * 1_000_000).to_be_bytes(), &mut v).unwrap();
            }
        }
        let full = cache.usage();
        assert!(full > 6 << 20, "both subtasks fill the one cache: {full}");
        assert!(full <= 8 << 20);
        cache.resize(1 << 20);
        assert_eq!(cache.capacity(), 1 << 20);
        assert!(cache.usage() <= 1 << 20, "usage {} right after shrinking to 1 MiB", cache.usage());
        cache.resize(16 << 20);
        assert_eq!(cache.capacity(), 16 << 20);
    }
}
