//! Keyed state: one [`StateStore`] trait per operator subtask, with an
//! in-memory ([`memory::MemoryStore`]) and a RocksDB
//! ([`rocks::RocksStore`]) implementation.
//!
//! Every entry lives under (state, key group, key). Operators name their
//! states up front ([`StateId`] indexes that list) and never see key-group
//! prefixes: the store adds them, so a key-group range is a contiguous key
//! range in every state and moving key groups is moving ranges.

pub mod cache;
pub mod calibrate;
pub mod direct_io;
pub mod memory;
pub mod rocks;
pub mod traced;
pub mod transfer;

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use transfer::Exported;

/// One keyed state of an operator: an index into the names the store was
/// opened with (a column family in RocksDB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateId(pub u16);

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// RocksDB reported an error.
    #[error("{}: RocksDB: {message}", dir.display())]
    Rocks {
        /// The store's directory.
        dir: PathBuf,
        /// RocksDB's message.
        message: String,
    },
    /// The state directory cannot hold RocksDB with direct I/O.
    #[error("{}: {reason}", dir.display())]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A calibration probe gave no usable measurement.
    #[error("{}: calibration: {reason}", dir.display())]
    Calibration {
        /// The probe's scratch directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Moving key groups between stores failed.
    #[error("key-group transfer: {0}")]
    Transfer(String),
    /// A state id the store was not opened with.
    #[error("unknown state id {0}")]
    UnknownState(u16),
}

/// Keyed state of one operator subtask.
///
/// Reads fill a caller-owned buffer so that the record path does not
/// allocate per access.
pub trait StateStore: Send {
    /// Reads `key` of key group `kg` in `state` into `value`; `Ok(false)`
    /// when absent (then `value` is left empty).
    fn get(&mut self, state: StateId, kg: u16, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError>;

    /// Writes `value` under `key`.
    fn put(&mut self, state: StateId, kg: u16, key: &[u8], value: &[u8]) -> Result<(), StateError>;

    /// Appends `operand` to the value of `key` (creating it), without
    /// reading it: RocksDB's merge with an append operator, as Flink's list
    /// state appends.
    fn merge(&mut self, state: StateId, kg: u16, key: &[u8], operand: &[u8]) -> Result<(), StateError>;

    /// Removes `key` (absent keys are fine).
    fn delete(&mut self, state: StateId, kg: u16, key: &[u8]) -> Result<(), StateError>;

    /// Calls `f` with every key (without prefix) and value of key group `kg`
    /// in `state` whose key starts with `prefix`, in key order, until `f`
    /// returns `false`.
    fn scan(
        &mut self,
        state: StateId,
        kg: u16,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError>;

    /// Removes every key of key group `kg` in `state` that starts with
    /// `prefix` (one range deletion in RocksDB, not one tombstone per key:
    /// for large, rare deletions; many small ones would pile up range
    /// tombstones that every read must check).
    fn delete_prefix(&mut self, state: StateId, kg: u16, prefix: &[u8]) -> Result<(), StateError>;

    /// Removes every entry of the key groups in `groups`, in every state
    /// (the source side of a key-group migration).
    fn delete_key_groups(&mut self, groups: RangeInclusive<u16>) -> Result<(), StateError>;

    /// Declares that the entries of `state` whose key ends with a time
    /// before `before` ([`crate::row::encode_time_suffix`]) will never be
    /// read again. The store drops them when it likes, at no cost to the
    /// record path: RocksDB in its compactions, by a compaction filter, as
    /// Flink's state TTL does, instead of a tombstone per entry, which
    /// doubled an interval join's writes. Reads may still see them until
    /// then, so readers filter by time. `before` never decreases.
    fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError>;

    /// The backend's own statistics, when it keeps any (RocksDB does).
    fn stats(&self) -> Option<StoreStats> {
        None
    }

    /// How many states the store was opened with.
    fn state_count(&self) -> usize;

    /// Copies every entry of `groups` (ascending), in every state, out of
    /// the store (the caller deletes them with
    /// [`StateStore::delete_key_groups`] once they have arrived); files go
    /// into `scratch`, on the file system of the target store.
    fn export_key_groups(&mut self, groups: &[u16], _scratch: &Path) -> Result<Exported, StateError> {
        transfer::export_by_scan(self, groups)
    }

    /// [`StateStore::export_key_groups`] for several sets of key groups at
    /// once (one per new owner), as fast as the store can.
    fn export_key_group_sets(&mut self, sets: &[Vec<u16>], scratch: &Path) -> Result<Vec<Exported>, StateError> {
        sets.iter().map(|groups| self.export_key_groups(groups, scratch)).collect()
    }

    /// Adds what another store of the same kind exported.
    fn import_key_groups(&mut self, data: Exported) -> Result<(), StateError> {
        transfer::import_by_put(self, data)
    }

    /// Called once when the subtask ends: stops tracers, releases what the
    /// store holds beyond its data.
    fn finish(&mut self) -> Result<(), StateError> {
        Ok(())
    }

    /// Called on the subtask's thread before its first access: a store
    /// that counts per thread (RocksDB's PerfContext) starts counting here.
    fn attach_thread(&mut self) {}
}

/// A state backend's statistics (cumulative since the store opened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Block-cache hits (all block types).
    pub block_cache_hits: u64,
    /// Block-cache misses (all block types).
    pub block_cache_misses: u64,
    /// Block-cache hits of the subtask's own reads (gets, scans), counted
    /// by its thread's PerfContext: not compaction's or flush's lookups,
    /// which RocksDB's tickers add (three quarters of q20's). `None` when
    /// not counted.
    pub user_block_cache_hits: Option<u64>,
    /// Blocks the subtask's own reads fetched from SST files: their misses
    /// (`None` when not counted).
    pub user_block_reads: Option<u64>,
    /// Bytes read from SST files (with direct I/O: from the disk).
    pub disk_read_bytes: u64,
    /// Bytes in memtables.
    pub memtable_bytes: u64,
    /// Bytes of live SST files.
    pub sst_bytes: u64,
    /// Estimated number of keys.
    pub estimated_keys: u64,
    /// Blocks read from SST files on a cache miss of anything but a
    /// compaction (user reads, table-open prefetch): RocksDB's
    /// `rocksdb.read.block.get.micros` count. Compaction reads, which
    /// bypass the cache, are not among them.
    pub sst_reads: u64,
    /// Microseconds spent in those reads: with `sst_reads`, the cost of a
    /// miss.
    pub sst_read_micros: u64,
}

impl<S: StateStore + ?Sized> StateStore for Box<S> {
    fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError> {
        (**self).expire(state, before)
    }
    fn get(&mut self, state: StateId, kg: u16, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError> {
        (**self).get(state, kg, key, value)
    }
    fn put(&mut self, state: StateId, kg: u16, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        (**self).put(state, kg, key, value)
    }
    fn merge(&mut self, state: StateId, kg: u16, key: &[u8], operand: &[u8]) -> Result<(), StateError> {
        (**self).merge(state, kg, key, operand)
    }
    fn delete(&mut self, state: StateId, kg: u16, key: &[u8]) -> Result<(), StateError> {
        (**self).delete(state, kg, key)
    }
    fn scan(
        &mut self,
        state: StateId,
        kg: u16,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        (**self).scan(state, kg, prefix, f)
    }
    fn delete_prefix(&mut self, state: StateId, kg: u16, prefix: &[u8]) -> Result<(), StateError> {
        (**self).delete_prefix(state, kg, prefix)
    }
    fn delete_key_groups(&mut self, groups: RangeInclusive<u16>) -> Result<(), StateError> {
        (**self).delete_key_groups(groups)
    }
    fn stats(&self) -> Option<StoreStats> {
        (**self).stats()
    }
    fn attach_thread(&mut self) {
        (**self).attach_thread()
    }
    fn state_count(&self) -> usize {
        (**self).state_count()
    }
    fn export_key_groups(&mut self, groups: &[u16], scratch: &Path) -> Result<Exported, StateError> {
        (**self).export_key_groups(groups, scratch)
    }
    fn export_key_group_sets(&mut self, sets: &[Vec<u16>], scratch: &Path) -> Result<Vec<Exported>, StateError> {
        (**self).export_key_group_sets(sets, scratch)
    }
    fn import_key_groups(&mut self, data: Exported) -> Result<(), StateError> {
        (**self).import_key_groups(data)
    }
    fn finish(&mut self) -> Result<(), StateError> {
        (**self).finish()
    }
}

#[cfg(test)]
pub(crate) mod conformance {
    //! Behaviour every [`StateStore`] must have; run on each implementation.
    use super::*;

    /// Expiry: after `settle` (what makes the store act on it: a
    /// compaction for RocksDB), entries of the state whose time is before
    /// the bound are gone and every other entry is intact.
    pub fn check_expiry<S: StateStore>(store: &mut S, settle: &dyn Fn(&mut S)) {
        let (a, b) = (StateId(0), StateId(1));
        let key = |p: &[u8], t: u64, seq: u64| {
            let mut k = p.to_vec();
            crate::row::encode_time_suffix(t, seq, &mut k);
            k
        };
        for (t, seq) in [(1_000, 0), (1_000, 1), (4_999, 2), (5_000, 3), (9_000, 4)] {
            for kg in [0, 7] {
                store.put(a, kg, &key(b"p", t, seq), &t.to_be_bytes()).unwrap();
                store.put(b, kg, &key(b"p", t, seq), &t.to_be_bytes()).unwrap();
            }
        }
        store.put(a, 0, b"short", b"kept").unwrap();
        store.expire(a, 5_000).unwrap();
        settle(store);
        let mut times = Vec::new();
        for kg in [0, 7] {
            store
                .scan(a, kg, b"p", &mut |k, _| {
                    times.push(crate::row::suffix_time(k).unwrap());
                    true
                })
                .unwrap();
        }
        assert_eq!(times, vec![5_000, 9_000, 5_000, 9_000]);
        assert_eq!(count(store, b, 7, b"p"), 5, "another state's entries expired");
        let mut v = Vec::new();
        assert!(store.get(a, 0, b"short", &mut v).unwrap());
    }

    /// Entries of key group `kg` in `state` under `prefix`.
    fn count(store: &mut dyn StateStore, state: StateId, kg: u16, prefix: &[u8]) -> usize {
        let mut n = 0;
        store
            .scan(state, kg, prefix, &mut |_, _| {
                n += 1;
                true
            })
            .unwrap();
        n
    }

    pub fn check(store: &mut dyn StateStore) {
        let (a, b) = (StateId(0), StateId(1));
        let mut v = Vec::new();
        assert!(!store.get(a, 3, b"k", &mut v).unwrap());
        store.put(a, 3, b"k", b"one").unwrap();
        store.put(b, 3, b"k", b"other state").unwrap();
        store.put(a, 4, b"k", b"other group").unwrap();
        assert!(store.get(a, 3, b"k", &mut v).unwrap());
        assert_eq!(v, b"one");
        store.put(a, 3, b"k", b"two").unwrap();
        assert!(store.get(a, 3, b"k", &mut v).unwrap());
        assert_eq!(v, b"two");
        for k in [&b"p/2"[..], b"p/1", b"q/1", b"p/3"] {
            store.put(a, 3, k, k).unwrap();
        }
        let mut seen = Vec::new();
        store
            .scan(a, 3, b"p/", &mut |k, val| {
                assert_eq!(k, val);
                seen.push(k.to_vec());
                true
            })
            .unwrap();
        assert_eq!(seen, vec![b"p/1".to_vec(), b"p/2".to_vec(), b"p/3".to_vec()]);
        let mut n = 0;
        store
            .scan(a, 3, b"", &mut |_, _| {
                n += 1;
                n < 2
            })
            .unwrap();
        assert_eq!(n, 2);
        store.merge(a, 3, b"m", b"ab").unwrap();
        store.merge(a, 3, b"m", b"c").unwrap();
        assert!(store.get(a, 3, b"m", &mut v).unwrap());
        assert_eq!(v, b"abc");
        store.put(a, 3, b"m", b"x").unwrap();
        store.merge(a, 3, b"m", b"y").unwrap();
        assert!(store.get(a, 3, b"m", &mut v).unwrap());
        assert_eq!(v, b"xy");
        store.delete(a, 3, b"m").unwrap();
        store.put(a, 3, b"z/1", b"1").unwrap();
        store.put(a, 3, b"z/2", b"2").unwrap();
        store.put(a, 3, b"zz", b"3").unwrap();
        store.put(a, 4, b"z/1", b"other group").unwrap();
        store.delete_prefix(a, 3, b"z/").unwrap();
        assert!(!store.get(a, 3, b"z/1", &mut v).unwrap());
        assert!(!store.get(a, 3, b"z/2", &mut v).unwrap());
        assert!(store.get(a, 3, b"zz", &mut v).unwrap());
        assert!(store.get(a, 4, b"z/1", &mut v).unwrap());
        store.delete(a, 3, b"zz").unwrap();
        store.delete(a, 4, b"z/1").unwrap();
        store.delete(a, 3, b"k").unwrap();
        assert!(!store.get(a, 3, b"k", &mut v).unwrap());
        assert!(v.is_empty());
        store.delete_key_groups(3..=3).unwrap();
        assert_eq!(count(store, a, 3, b"") + count(store, b, 3, b""), 0);
        assert!(store.get(a, 4, b"k", &mut v).unwrap());
        assert_eq!(v, b"other group");
    }
}
