//! Memory changes in place: a grown block cache raises the hit ratio of a
//! running q20 at the large-state preset; a shrunk one holds no more than
//! its new capacity within a second.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use engine::nexmark::{NexmarkParams, Preset};
use engine::queries::{build, Query, QueryConfig};
use engine::runtime::metrics::JobMetrics;
use engine::runtime::{start, Backend, Memory, RocksConfig, RunConfig};

/// Block-cache hits and misses of `op` so far.
fn lookups(m: &JobMetrics, op: &str) -> (u64, u64) {
    let s = m.snapshot();
    let o = s.operators.iter().find(|o| o.name == op).expect("operator");
    (o.block_cache_hits, o.block_cache_misses)
}

/// The hit ratio of `op` over the next `d`.
fn hit_ratio_over(m: &JobMetrics, op: &str, d: Duration) -> f64 {
    let (h0, m0) = lookups(m, op);
    std::thread::sleep(d);
    let (h1, m1) = lookups(m, op);
    let (h, n) = (h1 - h0, (h1 - h0) + (m1 - m0));
    assert!(n > 1000, "only {n} lookups in {d:?}: the test would prove nothing");
    h as f64 / n as f64
}

#[test]
fn a_grown_cache_hits_more_and_a_shrunk_one_fits_at_once() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut rc = RocksConfig::new(dir.path());
    rc.cache = 4 << 20;
    rc.write_buffer_size = 1 << 20;
    let mut cfg = RunConfig::new(Backend::RocksDb(rc));
    cfg.rate = Some(40_000);
    let params = NexmarkParams::preset(Preset::LargeState, 10_000_000);
    let job = start(build(Query::Q20, &QueryConfig::new(params, 1)), &cfg).unwrap();
    let (metrics, control) = (job.metrics(), job.control());
    let started = Instant::now();
    while metrics.events.load(Relaxed) < 80_000 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let small = hit_ratio_over(&metrics, "join", Duration::from_secs(2));
    let grown = control.resize("join", Memory { cache: Some(512 << 20), write_buffer: None }).unwrap();
    assert_eq!(grown.cache_after, 512 << 20);
    std::thread::sleep(Duration::from_millis(500));
    let large = hit_ratio_over(&metrics, "join", Duration::from_secs(2));
    assert!(large > small + 0.02, "hit ratio {small:.3} at 4 MiB, {large:.3} after growing to 512 MiB");
    let used = metrics.snapshot().operators.iter().find(|o| o.name == "join").and_then(|o| o.cache_usage).unwrap();
    assert!(used > 4 << 20, "the grown cache holds more than the old capacity: {used}");
    let shrunk = control.resize("join", Memory { cache: Some(2 << 20), write_buffer: Some(4 << 20) }).unwrap();
    assert!(shrunk.duration_s < 1.0, "{shrunk:?}");
    assert!(shrunk.cache_usage_after <= shrunk.cache_after, "{shrunk:?}");
    assert_eq!((shrunk.cache_after, shrunk.write_buffer_after), (2 << 20, 4 << 20));
    job.stop();
    job.wait().unwrap();
}
