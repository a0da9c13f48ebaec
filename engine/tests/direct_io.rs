//! Direct I/O is real: block-cache misses become reads from the disk, with
//! the page cache bypassed; without direct I/O the page cache absorbs them.
//! (One test in this binary: it reads the process's own I/O counters.)

mod common;

use engine::state::cache::OperatorCache;
use engine::state::rocks::{RocksOptions, RocksStore};
use engine::state::{StateId, StateStore};
use rust_rocksdb::statistics::Ticker;

/// Bytes this process has caused to be fetched from storage.
fn storage_read_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").expect("/proc/self/io");
    io.lines().find_map(|l| l.strip_prefix("read_bytes: ")).and_then(|v| v.trim().parse().ok()).expect("read_bytes")
}

/// Writes 40 MiB of state, then reads 3000 random keys through a 1 MiB
/// cache; returns (data-block misses, bytes read from storage).
fn misses_and_disk_reads(direct_io: bool) -> (u64, u64) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let opts = RocksOptions { direct_io, ..RocksOptions::new(&OperatorCache::new(1 << 20)) };
    let mut store = RocksStore::open(dir.path(), &["s"], &opts).unwrap();
    // Incompressible values, so that a block on disk is as large as in memory.
    let mut x = 99u64;
    let mut value = vec![0u8; 1000];
    let n = 40_000u64;
    for i in 0..n {
        common::fill_random(&mut value, &mut x);
        store.put(StateId(0), (i % 128) as u16, &i.to_be_bytes(), &value).unwrap();
    }
    store.flush().unwrap();
    let (m0, r0) = (store.ticker(Ticker::BlockCacheDataMiss), storage_read_bytes());
    let mut v = Vec::new();
    let mut x = 12345u64;
    for _ in 0..3000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let i = (x >> 33) % n;
        assert!(store.get(StateId(0), (i % 128) as u16, &i.to_be_bytes(), &mut v).unwrap());
    }
    (store.ticker(Ticker::BlockCacheDataMiss) - m0, storage_read_bytes() - r0)
}

#[test]
fn block_cache_misses_read_the_disk_only_with_direct_io() {
    let (misses, read) = misses_and_disk_reads(true);
    assert!(misses > 2000, "a 1 MiB cache over 40 MiB should miss most reads: {misses}");
    // Every miss fetches at least one data block of about 4 KiB from the disk.
    assert!(read >= misses * 2048, "direct I/O: {misses} misses but only {read} bytes read from storage");
    let (misses_buffered, read_buffered) = misses_and_disk_reads(false);
    eprintln!(
        "direct: {misses} misses, {read} bytes from storage; buffered: {misses_buffered} misses, {read_buffered} bytes"
    );
    assert!(misses_buffered > 2000);
    // Freshly written files sit in the page cache: buffered reads barely
    // touch the disk although the block cache misses as often.
    assert!(read_buffered * 10 < read, "buffered {read_buffered} vs direct {read} bytes");
}
