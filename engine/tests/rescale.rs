//! Live rescaling loses and duplicates nothing: every stateful Nexmark
//! query, on both state backends, rescaled at least three times while it
//! runs (random operators, parallelisms up and down, both strategies, from
//! a seeded schedule), gives exactly its single-threaded reference's
//! results; every moved key group arrives with the checksum it left with
//! (`RunConfig::verify_migrations`).
//!
//! `MEMSCALE_RESCALE_SEED=N` replays one schedule; `MEMSCALE_RESCALE_CASES=K`
//! draws K schedules per query and backend instead of one.

use std::time::{Duration, Instant};

mod common;

use common::{as_written, assert_same_rows, committed_rows, per_bidder_totals};
use engine::nexmark::{NexmarkParams, Preset};
use engine::queries::reference::{materialize, reference};
use engine::queries::{build, Query, QueryConfig};
use engine::row::Value;
use engine::runtime::{
    start, Backend, Change, ControlError, Memory, Order, RescaleOptions, RocksConfig, RunConfig, Strategy,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// 40 s of event time at 1000 events/s, as the query tests use.
fn params() -> NexmarkParams {
    let mut p = NexmarkParams::preset(Preset::Default, 40_000);
    p.event_rate = 1000;
    p
}

/// Events per second of wall time: the run lasts about five seconds, and
/// every change is due in its first half, so that all land inside it even
/// on a slow host.
const RATE: u64 = 8_000;

/// One scheduled change: when (events emitted) and what.
#[derive(Debug, Clone)]
struct Step {
    at_events: u64,
    change: Change,
}

fn schedule(seed: u64, operators: &[(String, u32)], events: u64) -> Vec<Step> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut parallelism: Vec<u32> = operators.iter().map(|o| o.1).collect();
    let n = rng.gen_range(3..=4);
    let mut at: Vec<u64> = (0..n).map(|_| rng.gen_range(events / 20..events * 9 / 20)).collect();
    at.sort_unstable();
    at.into_iter()
        .map(|at_events| {
            let i = rng.gen_range(0..operators.len());
            let mut p = rng.gen_range(1..=4);
            if p == parallelism[i] {
                p = if p == 1 { 2 } else { p - 1 };
            }
            parallelism[i] = p;
            let options = RescaleOptions {
                strategy: if rng.gen_bool(0.5) { Strategy::Progressive } else { Strategy::StopTheWorld },
                batch: rng.gen_range(4..=24),
                order: if rng.gen_bool(0.5) { Order::KeyGroup } else { Order::HotFirst },
            };
            Step { at_events, change: Change::Rescale { operator: operators[i].0.clone(), parallelism: p, options } }
        })
        .collect()
}

/// Runs `query` under the schedule of `seed`; returns its final rows.
fn run_rescaled(query: Query, backend: Backend, seed: u64) -> Result<Vec<Vec<Value>>, String> {
    let params = params();
    let graph = build(query, &QueryConfig::new(params.clone(), 2));
    let operators: Vec<(String, u32)> =
        graph.stages.iter().filter(|s| !s.states.is_empty()).map(|s| (s.name.clone(), s.parallelism)).collect();
    let steps = schedule(seed, &operators, params.events);
    let mut cfg = RunConfig::new(backend);
    cfg.collect_results = true;
    cfg.batch_size = 64;
    cfg.rate = Some(RATE);
    cfg.verify_migrations = true;
    let job = start(graph, &cfg).map_err(|e| e.to_string())?;
    let control = job.control();
    let metrics = job.metrics();
    let mut applied = 0;
    for step in &steps {
        let deadline = Instant::now() + Duration::from_secs(30);
        while metrics.events.load(std::sync::atomic::Ordering::Relaxed) < step.at_events {
            if Instant::now() > deadline {
                return Err(format!("the job stalled before {step:?}"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        match control.apply(std::slice::from_ref(&step.change)) {
            Ok(_) => applied += 1,
            Err(ControlError::Finished) => break,
            Err(e) => {
                job.stop();
                let cause = job.wait().err().map(|e| format!(" (the job: {e})")).unwrap_or_default();
                return Err(format!("{step:?}: {e}{cause}"));
            }
        }
    }
    let out = job.wait().map_err(|e| e.to_string())?;
    if applied < 3 {
        return Err(format!("only {applied} of {} changes landed before the sources ended", steps.len()));
    }
    let rescales = metrics.snapshot().rescale.rescales;
    if rescales != applied {
        return Err(format!("{applied} rescales applied, the metrics count {rescales}"));
    }
    materialize(out.results.unwrap_or_default())
}

fn check(query: Query) {
    let want = reference(query, &params());
    assert!(!want.is_empty());
    let cases: u64 = std::env::var("MEMSCALE_RESCALE_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let seeds: Vec<u64> = match std::env::var("MEMSCALE_RESCALE_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => vec![s],
        None => {
            let base =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            (0..cases).map(|k| base.wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ query as u64).collect()
        }
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for seed in seeds {
        for (b, name) in ["memory", "rocksdb"].iter().enumerate() {
            let backend = if b == 0 {
                Backend::Memory
            } else {
                let mut rc = RocksConfig::new(&dir.path().join(format!("{query}-{seed}")));
                rc.cache = 4 << 20;
                Backend::RocksDb(rc)
            };
            let label = format!("{query} on {name}, schedule seed {seed} (MEMSCALE_RESCALE_SEED={seed} replays it)");
            let got = run_rescaled(query, backend, seed).unwrap_or_else(|e| panic!("{label}: {e}"));
            let got = if query == Query::Q12 { per_bidder_totals(got) } else { got };
            assert_same_rows(&label, &got, &want);
        }
    }
}

macro_rules! rescale_tests {
    ($($name:ident => $q:expr),* $(,)?) => {
        $(#[test] fn $name() { check($q); })*
    };
}

rescale_tests! {
    q3 => Query::Q3, q4 => Query::Q4, q5 => Query::Q5, q7 => Query::Q7, q8 => Query::Q8,
    q9 => Query::Q9, q11 => Query::Q11, q12 => Query::Q12, q15 => Query::Q15, q16 => Query::Q16,
    q17 => Query::Q17, q18 => Query::Q18, q19 => Query::Q19, q20 => Query::Q20,
}

/// Bad changes are refused with the reason, and the job runs on.
#[test]
fn bad_changes_are_refused_and_the_job_keeps_running() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut cfg = RunConfig::new(Backend::RocksDb(RocksConfig::new(dir.path())));
    cfg.rate = Some(20_000);
    cfg.collect_results = true;
    let job = start(build(Query::Q20, &QueryConfig::new(params(), 1)), &cfg).unwrap();
    let c = job.control();
    let opts = RescaleOptions::default();
    fn err<T>(r: Result<T, ControlError>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }
    assert!(err(c.rescale("nope", 2, opts)).contains("unknown operator `nope` (operators: source, join)"));
    assert!(err(c.rescale("join", 0, opts)).contains("parallelism 0 is outside 1..=128"));
    assert!(err(c.rescale("join", 129, opts)).contains("parallelism 129"));
    assert!(err(c.rescale("source", 2, opts)).contains("sources keep their parallelism"));
    let tiny = Memory { cache: Some(1000), write_buffer: None };
    assert!(err(c.resize("join", tiny)).contains("block cache of 1000 bytes is below the minimum of 1 MiB"));
    assert!(err(c.resize("source", Memory { cache: Some(8 << 20), write_buffer: None })).contains("no block cache"));
    // One change at a time: a second one while the first runs is refused.
    let slow = RescaleOptions { batch: 1, ..opts };
    let first = {
        let c = c.clone();
        std::thread::spawn(move || c.rescale("join", 3, slow))
    };
    while !c.is_busy() && !first.is_finished() {
        std::thread::yield_now();
    }
    assert!(matches!(c.rescale("join", 2, opts), Err(ControlError::Busy)), "a change while another runs");
    let r = first.join().unwrap().unwrap();
    assert_eq!((r.from, r.to), (1, 3));
    assert!(r.steps > 1, "{r:?}");
    assert!(r.key_groups_moved > 0 && r.key_groups_moved < 128, "{r:?}");
    assert_eq!(c.operators().iter().find(|o| o.name == "join").map(|o| o.parallelism), Some(3));
    let out = job.wait().unwrap();
    let got = materialize(out.results.unwrap()).unwrap();
    assert_eq!(got, reference(Query::Q20, &params()));
}

/// q10's file writers keep their parallelism (their in-progress files are
/// theirs to finish); its committer rescales, and every row is still
/// written once and committed.
#[test]
fn q10_rescales_its_committer_and_keeps_its_writers() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut cfg = RunConfig::new(Backend::Memory);
    cfg.rate = Some(RATE);
    cfg.batch_size = 64;
    let mut query_config = QueryConfig::new(params(), 2);
    query_config.out = dir.path().join("q10");
    let job = start(build(Query::Q10, &query_config), &cfg).unwrap();
    let c = job.control();
    let refused = c.rescale("writer", 3, RescaleOptions::default()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(refused.contains("`writer` keeps its parallelism"), "{refused}");
    for p in [3, 1] {
        let options = RescaleOptions { strategy: Strategy::Progressive, batch: 8, ..RescaleOptions::default() };
        c.rescale("committer", p, options).unwrap();
    }
    job.wait().unwrap();
    let got = committed_rows(&query_config.out.join("bid"));
    assert_same_rows("q10 with its committer rescaled", &got, &as_written(&reference(Query::Q10, &params())));
}
