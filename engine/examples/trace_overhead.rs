//! Cost of key-level access tracing on the state path: the same read-
//! modify-write loop on a RocksDB store (direct I/O, 64 MiB cache, 200,000
//! keys of 100 bytes) without tracing, with a full trace and with a 1%
//! sampled trace; prints accesses per second (best of three interleaved
//! rounds) and the overhead.
//!
//! cargo run --release -p memscale-engine --example trace_overhead [STATE_DIR]
//!
//! This bounds the overhead from above: a query does more per record than
//! one get and one put, so tracing is a smaller share of its time.
//!
//! It also times the recorder alone (no store), in nanoseconds per access:
//! that cost times a query's state accesses per event, over its time per
//! event, is tracing's share of the query, a figure the host's noise does
//! not swamp the way it swamps two whole runs (docs/BENCHMARKS.md).

use std::path::PathBuf;
use std::time::Instant;

use cachesim::request::Op;
use engine::state::cache::OperatorCache;
use engine::state::rocks::{RocksOptions, RocksStore};
use engine::state::traced::{KeyTraceWriter, Traced};
use engine::state::{StateId, StateStore};

const KEYS: u32 = 200_000;
const OPS: u32 = 2_000_000;

fn workload(store: &mut dyn StateStore) -> f64 {
    let mut v = Vec::with_capacity(128);
    let mut x = 1u64;
    let start = Instant::now();
    for _ in 0..OPS {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let k = ((x >> 33) as u32 % KEYS).to_be_bytes();
        let kg = (k[3] % 128) as u16;
        store.get(StateId(0), kg, &k, &mut v).expect("get");
        v.resize(100, 1);
        store.put(StateId(0), kg, &k, &v).expect("put");
    }
    2.0 * OPS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let base = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/trace_overhead"));
    let run = |label: &str, rate: Option<f64>| -> f64 {
        let dir = base.join(label);
        let _ = std::fs::remove_dir_all(&dir);
        let cache = OperatorCache::new(64 << 20);
        let store = match RocksStore::open(&dir, &["s"], &RocksOptions::new(&cache)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        let rate_per_s = match rate {
            None => workload(&mut { store }),
            Some(r) => {
                let writer = KeyTraceWriter::create(&dir.join("keys.mstrace"), &[(0, "bench")], r).expect("trace file");
                let per_s = workload(&mut Traced::new(store, writer.recorder(0, 0)));
                let n = writer.finish().expect("trace written");
                eprintln!("{label}: {n} accesses traced");
                per_s
            }
        };
        let _ = std::fs::remove_dir_all(&dir);
        rate_per_s
    };
    // Warm up once, then interleave the three and keep each one's best of
    // three rounds: the host's noise (tens of %) is larger than the effect.
    run("warmup", None);
    let (mut plain, mut full, mut sampled) = (0f64, 0f64, 0f64);
    for _ in 0..3 {
        plain = plain.max(run("plain", None));
        full = full.max(run("full", Some(1.0)));
        sampled = sampled.max(run("sampled", Some(0.01)));
    }
    println!(
        "state accesses/s: untraced {:.0}, full trace {:.0} ({:+.1}%), 1% sample {:.0} ({:+.1}%)",
        plain,
        full,
        100.0 * (plain / full - 1.0),
        sampled,
        100.0 * (plain / sampled - 1.0)
    );
    let dir = base.join("recorder");
    let _ = std::fs::create_dir_all(&dir);
    for rate in [1.0, 0.01] {
        let best = (0..3).map(|_| recorder_ns(&dir, rate)).fold(f64::INFINITY, f64::min);
        println!("recorder alone, rate {rate}: {best:.1} ns per access (best of 3)");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nanoseconds per [`engine::state::traced::KeyRecorder::record`] call on
/// 20-byte keys (a key group, an encoded integer and some), trace written.
fn recorder_ns(dir: &std::path::Path, rate: f64) -> f64 {
    const N: u64 = 10_000_000;
    let writer = KeyTraceWriter::create(&dir.join("keys.mstrace"), &[(0, "bench")], rate).expect("trace file");
    let mut rec = writer.recorder(0, 0);
    let mut key = [7u8; 20];
    let start = Instant::now();
    for i in 0..N {
        key[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        rec.record(Op::Get, StateId(0), (i % 128) as u16, std::hint::black_box(&key), 100);
    }
    rec.flush();
    let ns = start.elapsed().as_nanos() as f64 / N as f64;
    drop(rec);
    writer.finish().expect("trace written");
    ns
}
