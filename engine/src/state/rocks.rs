//! State in RocksDB: one DB per operator subtask, one column family per
//! state, keys prefixed by key group, direct I/O on, one LRU block cache per
//! operator (shared by its subtasks, resizable while running), bloom
//! filters, and statistics on.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use rust_rocksdb::perf::{set_perf_stats, PerfContext, PerfMetric, PerfStatsLevel};
use rust_rocksdb::statistics::{Histogram, Ticker};
use rust_rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, BlockCacheTraceOptions, BlockCacheTraceWriterOptions, Cache,
    ColumnFamilyDescriptor, CompactionDecision, MergeOperands, Options, ReadOptions, SliceTransform,
    WriteBufferManager, WriteOptions, DB,
};

use super::cache::OperatorCache;
use super::direct_io::check_direct_io;
use super::transfer::{runs, Exported, ExportedData};
use super::{StateError, StateId, StateStore, StoreStats};
use crate::keygroup::KeyGroups;

/// How to open a subtask's store.
#[derive(Clone)]
pub struct RocksOptions {
    /// The operator's block cache (an LRU cache: it shrinks at once when
    /// resized, which a memory autoscaler needs).
    pub block_cache: Cache,
    /// Memtable size per column family, bytes.
    pub write_buffer_size: usize,
    /// Caps memtables across the operator's DBs, when given.
    pub write_buffer_manager: Option<WriteBufferManager>,
    /// Direct reads and direct flush/compaction I/O (on by default: without
    /// them the page cache hides block-cache misses).
    pub direct_io: bool,
    /// Bloom filter bits per key (0 disables filters).
    pub bloom_bits_per_key: f64,
    /// Index and filter blocks live in the block cache (high priority), as
    /// under Flink's managed memory.
    pub cache_index_and_filter_blocks: bool,
    /// Partitioned index and filter blocks, as Flink's
    /// `state.backend.rocksdb.memory.partitioned-index-filters`: an SST
    /// file's filter and index are cut into blocks of about the data-block
    /// size under a small top-level index that stays pinned, so a cache
    /// miss on them reads 4 KiB instead of a whole file's filter (0.5 MB
    /// for a 64 MiB file). On by default: whole-file filters (RocksDB's and
    /// Flink's default) make a cache smaller than a few hundred MiB thrash,
    /// since its shards of 512 KiB barely hold one such filter.
    pub partitioned_index_filters: bool,
    /// Key-group layout.
    pub key_groups: KeyGroups,
    /// Expired entries leave in compactions ([`StateStore::expire`]); off,
    /// they stay (readers skip them anyway), so that a store's contents
    /// change only through its own writes: what a checksum of moved key
    /// groups needs.
    pub expire_in_compactions: bool,
    /// Count the calling thread's block-cache hits and reads from
    /// [`StateStore::attach_thread`] on (PerfContext at `EnableCount`),
    /// for [`StoreStats::user_block_cache_hits`] and
    /// [`StoreStats::user_block_reads`].
    pub count_user_reads: bool,
}

impl RocksOptions {
    /// Defaults around an operator's block cache.
    pub fn new(cache: &OperatorCache) -> RocksOptions {
        RocksOptions {
            block_cache: cache.rocksdb().clone(),
            write_buffer_size: 8 << 20,
            write_buffer_manager: None,
            direct_io: true,
            bloom_bits_per_key: 10.0,
            cache_index_and_filter_blocks: true,
            partitioned_index_filters: true,
            key_groups: KeyGroups::default(),
            expire_in_compactions: true,
            count_user_reads: false,
        }
    }
}

/// One state's part of an export: entries, bytes, and its SST file (none
/// when the groups hold nothing in that state).
type StateExport = (u64, u64, Option<(StateId, PathBuf)>);

/// One subtask's RocksDB.
pub struct RocksStore {
    db: DB,
    opts: Options,
    /// A state's column-family options, for the SST files of a transfer
    /// (uncompressed).
    cf_opts: Options,
    write: WriteOptions,
    dir: PathBuf,
    states: Vec<String>,
    key_groups: KeyGroups,
    key: Vec<u8>,
    block_trace_on: bool,
    prefix_len: usize,
    expire_in_compactions: bool,
    count_user_reads: bool,
    /// Per state, the time before which entries are expired (0: none),
    /// read by that column family's compaction filter.
    expiry: Vec<Arc<AtomicU64>>,
}

/// Bytes of a key, after its key-group prefix, that the prefix extractor
/// takes: one encoded integer field (tag + 8 bytes), the first field of
/// every scanned state key.
const SCAN_PREFIX_BYTES: usize = 9;

/// The append merge operator: the value is the concatenation of the
/// existing value and the operands, in order.
fn append_merge(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut out = existing.map(|e| e.to_vec()).unwrap_or_default();
    for op in operands {
        out.extend_from_slice(op);
    }
    Some(out)
}

/// The smallest key above every key starting with `prefix` (None when
/// the prefix is all 0xff).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

impl RocksStore {
    /// Opens (creating) a DB in `dir` with one column family per name in
    /// `states`. With direct I/O, checks the directory supports it first.
    pub fn open(dir: &Path, states: &[&str], o: &RocksOptions) -> Result<RocksStore, StateError> {
        if o.direct_io {
            check_direct_io(dir)?;
        }
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&o.block_cache);
        table.set_cache_index_and_filter_blocks(o.cache_index_and_filter_blocks);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(false);
        if o.bloom_bits_per_key > 0.0 {
            table.set_bloom_filter(o.bloom_bits_per_key, false);
        }
        if o.partitioned_index_filters {
            table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
            table.set_partition_filters(o.bloom_bits_per_key > 0.0);
            table.set_pin_top_level_index_and_filter(true);
        }
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&table);
        cf_opts.set_write_buffer_size(o.write_buffer_size);
        cf_opts.set_merge_operator_associative("memscale.append", append_merge);
        // Prefix bloom filters over (key group, first key field): a scan of
        // one join key skips every SST file and memtable without it, as a
        // point lookup does with the whole-key filter.
        let prefix_len = o.key_groups.prefix_len() + SCAN_PREFIX_BYTES;
        cf_opts.set_prefix_extractor(SliceTransform::create_fixed_prefix(prefix_len));
        cf_opts.set_memtable_prefix_bloom_ratio(0.05);
        // Point reads of absent keys (a window's empty panes, a join side's
        // unknown key) skip the memtable's skiplist search.
        cf_opts.set_memtable_whole_key_filtering(true);
        let mut opts = cf_opts.clone();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_use_direct_reads(o.direct_io);
        opts.set_use_direct_io_for_flush_and_compaction(o.direct_io);
        opts.enable_statistics();
        if let Some(wbm) = &o.write_buffer_manager {
            opts.set_write_buffer_manager(wbm);
        }
        // Every column family, "default" included, gets our table options:
        // otherwise RocksDB gives "default" its own 32 MiB cache and DB-level
        // properties report the wrong cache.
        let expiry: Vec<Arc<AtomicU64>> = states.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
        let cfs = std::iter::once(("default", None)).chain(states.iter().copied().zip(expiry.iter().map(Some))).map(
            |(name, expiry)| {
                let mut cf = cf_opts.clone();
                if let Some(before) = expiry {
                    let before = Arc::clone(before);
                    cf.set_compaction_filter("memscale.expiry", move |_level: u32, key: &[u8], _value: &[u8]| {
                        match crate::row::suffix_time(key) {
                            Some(t) if t < before.load(Relaxed) => CompactionDecision::Remove,
                            _ => CompactionDecision::Keep,
                        }
                    });
                }
                ColumnFamilyDescriptor::new(name, cf)
            },
        );
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(|e| rocks(dir, e))?;
        // No write-ahead log, as Flink's RocksDB backend: durability comes
        // from checkpoints, and a WAL append per write would dominate.
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        Ok(RocksStore {
            db,
            opts,
            cf_opts: {
                // Moved files are compacted into the target's own layout
                // later: written uncompressed, they cost the move no CPU.
                let mut o = cf_opts.clone();
                o.set_compression_type(rust_rocksdb::DBCompressionType::None);
                o
            },
            write,
            dir: dir.to_path_buf(),
            states: states.iter().map(|s| s.to_string()).collect(),
            key_groups: o.key_groups,
            key: Vec::with_capacity(64),
            block_trace_on: false,
            prefix_len,
            expire_in_compactions: o.expire_in_compactions,
            count_user_reads: o.count_user_reads,
            expiry,
        })
    }

    /// A RocksDB statistics ticker of this DB (cumulative since open).
    pub fn ticker(&self, t: Ticker) -> u64 {
        self.opts.get_ticker_count(t)
    }

    /// An integer DB property, such as `rocksdb.estimate-num-keys`, summed
    /// over the states.
    pub fn property(&self, name: &str) -> Result<u64, StateError> {
        let mut total = 0;
        for s in &self.states {
            let cf = self.db.cf_handle(s).ok_or_else(|| rocks_msg(&self.dir, format!("missing column family {s}")))?;
            total += self.db.property_int_value_cf(cf, name).map_err(|e| rocks(&self.dir, e))?.unwrap_or(0);
        }
        Ok(total)
    }

    /// Writes every memtable to SST files.
    pub fn flush(&self) -> Result<(), StateError> {
        for s in &self.states {
            if let Some(cf) = self.db.cf_handle(s) {
                self.db.flush_cf(cf).map_err(|e| rocks(&self.dir, e))?;
            }
        }
        Ok(())
    }

    /// Starts RocksDB's own block-cache tracer, writing to `path` (the
    /// format [`cachesim::trace::rocksdb`] reads). `sampling` keeps the
    /// blocks whose key hash is divisible by it (1 = every access), so a
    /// sampled block keeps its whole access history.
    pub fn start_block_cache_trace(&mut self, path: &Path, sampling: u64) -> Result<(), StateError> {
        let mut opts = BlockCacheTraceOptions::default();
        opts.set_sampling_frequency(sampling.max(1));
        let writer = BlockCacheTraceWriterOptions::default();
        self.db.start_block_cache_trace(&opts, &writer, path).map_err(|e| rocks(&self.dir, e))?;
        self.block_trace_on = true;
        Ok(())
    }

    /// Stops the block-cache tracer and closes its file.
    pub fn end_block_cache_trace(&mut self) -> Result<(), StateError> {
        self.block_trace_on = false;
        self.db.end_block_cache_trace().map_err(|e| rocks(&self.dir, e))
    }

    /// Writes the entries of `groups` in `state` into a new SST file in
    /// `scratch`: (entries, bytes, the file, if any entry).
    fn export_state(&self, state: StateId, groups: &[u16], scratch: &Path) -> Result<StateExport, StateError> {
        static NEXT_FILE: AtomicU64 = AtomicU64::new(0);
        let path = scratch.join(format!("move-{}.sst", NEXT_FILE.fetch_add(1, Relaxed)));
        let mut writer = rust_rocksdb::SstFileWriter::create(&self.cf_opts);
        let (mut keys, mut bytes, mut opened) = (0u64, 0u64, false);
        let cf = self.cf(state)?;
        for run in runs(groups) {
            let (mut from, mut to) = (Vec::new(), Vec::new());
            self.key_groups.write_prefix(*run.start(), &mut from);
            let mut read = ReadOptions::default();
            read.set_total_order_seek(true);
            // A sequential scan of data leaving this store: read ahead in
            // large direct reads, and keep it out of the cache the operator
            // still uses.
            read.set_readahead_size(2 << 20);
            read.fill_cache(false);
            if (*run.end() as u32) + 1 < self.key_groups.max_parallelism() {
                self.key_groups.write_prefix(run.end() + 1, &mut to);
                read.set_iterate_upper_bound(to);
            }
            let mut it = self.db.raw_iterator_cf_opt(cf, read);
            it.seek(&from);
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                if !opened {
                    writer.open(&path).map_err(|e| rocks(&self.dir, e))?;
                    opened = true;
                }
                writer.put(k, v).map_err(|e| rocks(&self.dir, e))?;
                keys += 1;
                bytes += (k.len() + v.len()) as u64;
                it.next();
            }
            it.status().map_err(|e| rocks(&self.dir, e))?;
        }
        // An empty file can be neither written nor ingested: a state with
        // nothing in these groups sends nothing.
        if !opened {
            return Ok((keys, bytes, None));
        }
        writer.finish().map_err(|e| rocks(&self.dir, e))?;
        Ok((keys, bytes, Some((state, path))))
    }

    /// The underlying DB.
    pub fn db(&self) -> &DB {
        &self.db
    }

    fn cf(&self, s: StateId) -> Result<&rust_rocksdb::ColumnFamily, StateError> {
        let name = self.states.get(s.0 as usize).ok_or(StateError::UnknownState(s.0))?;
        self.db.cf_handle(name).ok_or(StateError::UnknownState(s.0))
    }

    fn make_key(&mut self, kg: u16, key: &[u8]) {
        self.key.clear();
        self.key_groups.write_prefix(kg, &mut self.key);
        self.key.extend_from_slice(key);
    }
}

fn rocks(dir: &Path, e: rust_rocksdb::Error) -> StateError {
    rocks_msg(dir, e.into_string())
}

fn rocks_msg(dir: &Path, message: String) -> StateError {
    StateError::Rocks { dir: dir.to_path_buf(), message }
}

impl StateStore for RocksStore {
    fn get(&mut self, state: StateId, kg: u16, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError> {
        self.make_key(kg, key);
        value.clear();
        let cf = self.cf(state)?;
        match self.db.get_pinned_cf(cf, &self.key).map_err(|e| rocks(&self.dir, e))? {
            Some(v) => {
                value.extend_from_slice(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put(&mut self, state: StateId, kg: u16, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.make_key(kg, key);
        let cf = self.cf(state)?;
        self.db.put_cf_opt(cf, &self.key, value, &self.write).map_err(|e| rocks(&self.dir, e))
    }

    fn merge(&mut self, state: StateId, kg: u16, key: &[u8], operand: &[u8]) -> Result<(), StateError> {
        self.make_key(kg, key);
        let cf = self.cf(state)?;
        self.db.merge_cf_opt(cf, &self.key, operand, &self.write).map_err(|e| rocks(&self.dir, e))
    }

    fn delete(&mut self, state: StateId, kg: u16, key: &[u8]) -> Result<(), StateError> {
        self.make_key(kg, key);
        let cf = self.cf(state)?;
        self.db.delete_cf_opt(cf, &self.key, &self.write).map_err(|e| rocks(&self.dir, e))
    }

    fn scan(
        &mut self,
        state: StateId,
        kg: u16,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        self.make_key(kg, prefix);
        let skip = self.key_groups.prefix_len();
        let mut read = ReadOptions::default();
        if self.key.len() >= self.prefix_len {
            read.set_prefix_same_as_start(true);
        } else {
            read.set_total_order_seek(true);
        }
        if let Some(upper) = successor(&self.key) {
            read.set_iterate_upper_bound(upper);
        }
        let cf = self.cf(state)?;
        let mut it = self.db.raw_iterator_cf_opt(cf, read);
        it.seek(&self.key);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&self.key) || !f(&k[skip..], v) {
                break;
            }
            it.next();
        }
        it.status().map_err(|e| rocks(&self.dir, e))
    }

    fn delete_prefix(&mut self, state: StateId, kg: u16, prefix: &[u8]) -> Result<(), StateError> {
        self.make_key(kg, prefix);
        let cf = self.cf(state)?;
        match successor(&self.key) {
            Some(end) => self.db.delete_range_cf_opt(cf, &self.key, &end, &self.write).map_err(|e| rocks(&self.dir, e)),
            None => {
                // A prefix of all 0xff bytes has no successor: delete key
                // by key.
                let mut keys = Vec::new();
                let prefix = prefix.to_vec();
                self.scan(state, kg, &prefix, &mut |k, _| {
                    keys.push(k.to_vec());
                    true
                })?;
                keys.iter().try_for_each(|k| self.delete(state, kg, k))
            }
        }
    }

    fn delete_key_groups(&mut self, groups: RangeInclusive<u16>) -> Result<(), StateError> {
        let (mut from, mut to) = (Vec::new(), Vec::new());
        self.key_groups.write_prefix(*groups.start(), &mut from);
        self.key_groups.write_prefix(groups.end() + 1, &mut to);
        for s in 0..self.states.len() {
            let cf = self.cf(StateId(s as u16))?;
            self.db.delete_range_cf_opt(cf, &from, &to, &self.write).map_err(|e| rocks(&self.dir, e))?;
        }
        Ok(())
    }

    fn state_count(&self) -> usize {
        self.states.len()
    }

    /// One SST file per state with the groups' entries (a bounded scan per
    /// run of key groups into `SstFileWriter`), for
    /// [`StateStore::import_key_groups`] to ingest by moving the file.
    fn export_key_groups(&mut self, groups: &[u16], scratch: &Path) -> Result<Exported, StateError> {
        let mut out = self.export_key_group_sets(&[groups.to_vec()], scratch)?;
        out.pop().ok_or_else(|| StateError::Transfer("an export returned nothing".into()))
    }

    /// Every (set, state) pair scans and writes on a thread of its own:
    /// the scans' direct reads overlap the writers' filter and index
    /// building, where one thread did them in turn.
    fn export_key_group_sets(&mut self, sets: &[Vec<u16>], scratch: &Path) -> Result<Vec<Exported>, StateError> {
        std::fs::create_dir_all(scratch)
            .map_err(|e| StateError::Directory { dir: scratch.to_path_buf(), reason: e.to_string() })?;
        let this = &*self;
        let results: Vec<Vec<Result<StateExport, StateError>>> = std::thread::scope(|s| {
            let handles: Vec<Vec<_>> = sets
                .iter()
                .map(|groups| {
                    (0..this.states.len())
                        .map(|st| s.spawn(move || this.export_state(StateId(st as u16), groups, scratch)))
                        .collect()
                })
                .collect();
            handles
                .into_iter()
                .map(|hs| {
                    hs.into_iter()
                        .map(|h| {
                            h.join().unwrap_or_else(|_| Err(StateError::Transfer("an export thread panicked".into())))
                        })
                        .collect()
                })
                .collect()
        });
        let mut out = Vec::with_capacity(sets.len());
        for (groups, per_state) in sets.iter().zip(results) {
            let (mut keys, mut bytes, mut files) = (0, 0, Vec::new());
            for r in per_state {
                let (k, b, file) = r?;
                keys += k;
                bytes += b;
                files.extend(file);
            }
            out.push(Exported { groups: groups.clone(), keys, bytes, data: ExportedData::SstFiles(files) });
        }
        Ok(out)
    }

    fn import_key_groups(&mut self, data: Exported) -> Result<(), StateError> {
        match data.data {
            ExportedData::SstFiles(files) => {
                let mut opts = rust_rocksdb::IngestExternalFileOptions::default();
                opts.set_move_files(true);
                for (state, path) in files {
                    let cf = self.cf(state)?;
                    self.db.ingest_external_file_cf_opts(cf, &opts, vec![&path]).map_err(|e| rocks(&self.dir, e))?;
                }
                Ok(())
            }
            entries => super::transfer::import_by_put(self, Exported { data: entries, ..data }),
        }
    }

    fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError> {
        let e = self.expiry.get(state.0 as usize).ok_or(StateError::UnknownState(state.0))?;
        if self.expire_in_compactions {
            e.fetch_max(before, Relaxed);
        }
        Ok(())
    }

    fn attach_thread(&mut self) {
        // Counts only (no timers). Every counter of the level comes on with
        // the two wanted (RocksDB 11 has no per-counter flags), a
        // thread-local increment per key comparison: hence opt-in.
        if self.count_user_reads {
            set_perf_stats(PerfStatsLevel::EnableCount);
        }
    }

    /// The user-read counters are those of the calling thread: call on the
    /// subtask's own (after [`StateStore::attach_thread`]); zero unless
    /// [`RocksOptions::count_user_reads`].
    fn stats(&self) -> Option<StoreStats> {
        let perf = PerfContext::default();
        let prop = |name| self.property(name).unwrap_or(0);
        let reads = self.opts.get_histogram_data(Histogram::ReadBlockGetMicros);
        Some(StoreStats {
            block_cache_hits: self.ticker(Ticker::BlockCacheHit),
            block_cache_misses: self.ticker(Ticker::BlockCacheMiss),
            user_block_cache_hits: self.count_user_reads.then(|| perf.metric(PerfMetric::BlockCacheHitCount)),
            user_block_reads: self.count_user_reads.then(|| perf.metric(PerfMetric::BlockReadCount)),
            disk_read_bytes: self.ticker(Ticker::LastLevelReadBytes) + self.ticker(Ticker::NonLastLevelReadBytes),
            memtable_bytes: prop("rocksdb.cur-size-all-mem-tables"),
            sst_bytes: prop("rocksdb.live-sst-files-size"),
            estimated_keys: prop("rocksdb.estimate-num-keys"),
            sst_reads: reads.count(),
            sst_read_micros: reads.sum(),
        })
    }

    fn finish(&mut self) -> Result<(), StateError> {
        if self.block_trace_on {
            self.block_trace_on = false;
            self.end_block_cache_trace()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conforms() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let mut store =
            RocksStore::open(dir.path(), &["a", "b"], &RocksOptions::new(&OperatorCache::new(1 << 20))).unwrap();
        super::super::conformance::check(&mut store);
        store.flush().unwrap();
        let mut v = Vec::new();
        assert!(store.get(StateId(0), 4, b"k", &mut v).unwrap());
        assert_eq!(v, b"other group");
    }

    #[test]
    fn both_filter_layouts_reach_rocksdb_and_conform() {
        for partitioned in [false, true] {
            let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
            let opts = RocksOptions {
                partitioned_index_filters: partitioned,
                ..RocksOptions::new(&OperatorCache::new(1 << 20))
            };
            let mut store = RocksStore::open(dir.path(), &["a", "b"], &opts).unwrap();
            super::super::conformance::check(&mut store);
            store.flush().unwrap();
            // RocksDB writes the options it runs with into OPTIONS-<n>.
            let written: String = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("OPTIONS-"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect();
            let index = if partitioned { "index_type=kTwoLevelIndexSearch" } else { "index_type=kBinarySearch" };
            assert!(written.contains(index), "{index} not in the OPTIONS file");
            assert!(written.contains(&format!("partition_filters={partitioned}")));
        }
    }

    #[test]
    fn expired_entries_leave_in_compaction() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let mut store =
            RocksStore::open(dir.path(), &["a", "b"], &RocksOptions::new(&OperatorCache::new(1 << 20))).unwrap();
        super::super::conformance::check_expiry(&mut store, &|s: &mut RocksStore| {
            s.flush().unwrap();
            for name in ["a", "b"] {
                let cf = s.db().cf_handle(name).unwrap();
                s.db().compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
            }
        });
    }

    #[test]
    fn key_groups_move_between_dbs_as_sst_files() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let cache = OperatorCache::new(1 << 20);
        let opts = RocksOptions::new(&cache);
        let mut from = RocksStore::open(&dir.path().join("a"), &["a", "b"], &opts).unwrap();
        let mut to = RocksStore::open(&dir.path().join("b"), &["a", "b"], &opts).unwrap();
        for kg in 0..128u16 {
            for k in 0..20u32 {
                from.put(StateId((k % 2) as u16), kg, &k.to_be_bytes(), &[kg as u8; 5]).unwrap();
            }
        }
        from.merge(StateId(0), 127, b"m", b"x").unwrap();
        from.merge(StateId(0), 127, b"m", b"y").unwrap();
        from.flush().unwrap();
        to.put(StateId(0), 126, b"stays", b"1").unwrap();
        let groups: Vec<u16> = (120..=125).chain([127]).collect();
        let want = super::super::transfer::checksums(&mut from, &groups).unwrap();
        let out = from.export_key_groups(&groups, &dir.path().join("scratch")).unwrap();
        assert_eq!(out.keys, 7 * 20 + 1);
        to.import_key_groups(out).unwrap();
        for run in super::super::transfer::runs(&groups) {
            from.delete_key_groups(run).unwrap();
        }
        assert_eq!(super::super::transfer::checksums(&mut to, &groups).unwrap(), want);
        let mut v = Vec::new();
        assert!(to.get(StateId(0), 127, b"m", &mut v).unwrap());
        assert_eq!(v, b"xy");
        assert!(to.get(StateId(0), 126, b"stays", &mut v).unwrap());
        assert!(!from.get(StateId(0), 121, &0u32.to_be_bytes(), &mut v).unwrap());
        assert!(from.get(StateId(0), 126, &0u32.to_be_bytes(), &mut v).unwrap(), "group 126 stayed");
        assert_eq!(std::fs::read_dir(dir.path().join("scratch")).unwrap().count(), 0, "files were moved in");
    }

    #[test]
    fn tmpfs_is_refused_with_a_clear_message() {
        let tmpfs =
            super::super::direct_io::find_tmpfs().expect("no writable tmpfs mount here: cannot test the refusal");
        let dir = tempfile::tempdir_in(tmpfs).unwrap();
        let err = RocksStore::open(dir.path(), &["a"], &RocksOptions::new(&OperatorCache::new(1 << 20))).err().unwrap();
        assert!(err.to_string().contains("tmpfs"), "{err}");
    }
}
