//! RocksDB's block-cache tracer, read back by memscale's reader: every
//! block access the statistics count is in the trace, with the same hits.

use cachesim::request::{BlockKind, Request};
use cachesim::trace::rocksdb::RocksDbReader;
use cachesim::trace::TraceReader;
mod common;

use engine::state::cache::OperatorCache;
use engine::state::rocks::{RocksOptions, RocksStore};
use engine::state::{StateId, StateStore};
use rust_rocksdb::statistics::Ticker;

#[test]
fn traced_block_accesses_match_rocksdb_statistics() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut store =
        RocksStore::open(&dir.path().join("db"), &["events"], &RocksOptions::new(&OperatorCache::new(1 << 20)))
            .unwrap();
    let mut x = 7u64;
    let mut value = vec![0u8; 500];
    let n = 30_000u64;
    for i in 0..n {
        common::fill_random(&mut value, &mut x);
        store.put(StateId(0), (i % 128) as u16, &i.to_be_bytes(), &value).unwrap();
    }
    store.flush().unwrap();
    let tickers = [
        Ticker::BlockCacheDataHit,
        Ticker::BlockCacheDataMiss,
        Ticker::BlockCacheIndexHit,
        Ticker::BlockCacheIndexMiss,
        Ticker::BlockCacheFilterHit,
        Ticker::BlockCacheFilterMiss,
    ];
    let before: Vec<u64> = tickers.iter().map(|&t| store.ticker(t)).collect();
    let trace = dir.path().join("block.trace");
    store.start_block_cache_trace(&trace, 1).unwrap();
    let mut v = Vec::new();
    for k in 0..4000u64 {
        let i = (k * 7919) % n;
        assert!(store.get(StateId(0), (i % 128) as u16, &i.to_be_bytes(), &mut v).unwrap());
    }
    store.end_block_cache_trace().unwrap();
    let delta: Vec<u64> = tickers.iter().zip(&before).map(|(&t, b)| store.ticker(t) - b).collect();

    let mut reader = RocksDbReader::open(&trace).unwrap();
    let (mut count, mut hits) = ([0u64; 3], [0u64; 3]);
    let mut req = Request::default();
    while reader.read(&mut req).unwrap() {
        let k = match req.tags.block {
            BlockKind::Data => 0,
            BlockKind::Index => 1,
            BlockKind::Filter => 2,
            other => panic!("unexpected block kind {other:?}"),
        };
        count[k] += 1;
        hits[k] += req.tags.recorded_hit.unwrap() as u64;
    }
    assert!(count[0] > 1000, "data block accesses traced: {count:?}");
    for k in 0..3 {
        assert_eq!(count[k], delta[2 * k] + delta[2 * k + 1], "kind {k}: traced {count:?}, statistics {delta:?}");
        assert_eq!(hits[k], delta[2 * k], "kind {k}: traced hits {hits:?}, statistics {delta:?}");
    }
    // Streams are numbered by column-family name ("events" has id 1 in its DB).
    assert_eq!(reader.stream_names(), vec![(0, "events".to_string())]);
    assert!(reader.rocksdb_version().0 >= 11);
}
