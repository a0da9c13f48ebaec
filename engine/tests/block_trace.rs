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
        // Half the reads go to 1,000 hot keys: the cache's size matters.
        let i = if k % 2 == 0 { (k * 7919) % 1000 } else { (k * 7919) % n };
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

    // The LRUCache model replays the trace at the cache's size (default
    // options: 2 shards at 1 MiB, half the cache a high-priority pool).
    let mut again = RocksDbReader::open(&trace).unwrap();
    let dense = cachesim::trace::dense::DenseTrace::load(&mut again, cachesim::trace::dense::OpFilter::All).unwrap();
    let measured = hits.iter().sum::<u64>() as f64 / count.iter().sum::<u64>() as f64;
    let hit_ratio = |spec: &str| {
        let p = cachesim::policy::PolicySpec::parse(spec).unwrap();
        let r = cachesim::sim::simulate(&dense, &p, 1 << 20, cachesim::sim::SimOptions::default());
        1.0 - r.miss_ratio
    };
    // Which shard a block lands in follows a hash of its cache key, which
    // RocksDB salts per DB session (and seeds per host): one replay is one
    // draw of that placement. The model is the mean over 16 placements.
    const SEEDS: u32 = 16;
    let model =
        (0..SEEDS).map(|s| hit_ratio(&format!("rocksdb-lru:metadata=100,seed={s}"))).sum::<f64>() / SEEDS as f64;
    let lru = hit_ratio("lru");
    eprintln!("hit ratio: RocksDB {measured:.4}, rocksdb-lru model {model:.4}, plain LRU {lru:.4}");
    // RocksDB's own ratio is one placement too: over 25 runs it moved
    // between 0.8523 and 0.8586, the model's mean over 16 placements between
    // 0.8521 and 0.8552, and one placement alone came as far as 0.0082 from
    // RocksDB. Plain LRU sits about 0.02 below.
    assert!((model - measured).abs() <= 0.01, "model {model:.4} vs RocksDB's {measured:.4}");
    // The pools and shards matter here: plain LRU is further off.
    assert!((lru - measured).abs() > (model - measured).abs(), "LRU {lru:.4}, model {model:.4}, RocksDB {measured:.4}");
}
