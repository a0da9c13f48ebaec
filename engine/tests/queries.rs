//! Every Nexmark query equals its single-threaded reference, on both state
//! backends, at parallelism 1 and 3 (the results as multisets, after
//! applying retractions).

mod common;

use common::{as_written, assert_same_rows, committed_rows, per_bidder_totals};

use engine::nexmark::{NexmarkParams, Preset};
use engine::queries::reference::{materialize, reference};
use engine::queries::{build, Query, QueryConfig};
use engine::runtime::{run, Backend, RocksConfig, RunConfig};

/// 40 s of event time at 1000 events/s: four tumbling windows, twenty hops,
/// sessions that end and restart.
fn params() -> NexmarkParams {
    let mut p = NexmarkParams::preset(Preset::Default, 40_000);
    p.event_rate = 1000;
    p
}

fn check(query: Query) {
    let params = params();
    let want = reference(query, &params);
    assert!(!want.is_empty(), "{query}: the reference result is empty; the test would prove nothing");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for (b, backend) in [Backend::Memory, Backend::RocksDb(RocksConfig::new(dir.path()))].into_iter().enumerate() {
        for parallelism in [1, 3] {
            let mut backend = backend.clone();
            if let Backend::RocksDb(rc) = &mut backend {
                rc.dir = dir.path().join(format!("{query}-{parallelism}"));
                rc.cache = 4 << 20;
            }
            let label = format!("{query} on {} at parallelism {parallelism}", ["memory", "rocksdb"][b]);
            let mut cfg = RunConfig::new(backend);
            cfg.collect_results = true;
            // Small batches: more interleaving between subtasks.
            cfg.batch_size = 64;
            let mut query_config = QueryConfig::new(params.clone(), parallelism);
            query_config.out = dir.path().join(format!("{query}-{parallelism}-{b}-out"));
            let graph = build(query, &query_config);
            let out = run(graph, &cfg).unwrap_or_else(|e| panic!("{label}: {e}"));
            let mut got = materialize(out.results.unwrap()).unwrap_or_else(|e| panic!("{label}: {e}"));
            match query {
                Query::Q12 => got = per_bidder_totals(got),
                Query::Q10 => {
                    assert!(got.is_empty(), "{label}: the file sink emitted rows");
                    let got = committed_rows(&query_config.out.join("bid"));
                    assert_same_rows(&label, &got, &as_written(&want));
                    continue;
                }
                _ => {}
            }
            assert_same_rows(&label, &got, &want);
        }
    }
}

macro_rules! query_tests {
    ($($name:ident => $q:expr),* $(,)?) => {
        $(#[test] fn $name() { check($q); })*
    };
}

query_tests! {
    q0 => Query::Q0, q1 => Query::Q1, q2 => Query::Q2, q3 => Query::Q3, q4 => Query::Q4,
    q5 => Query::Q5, q7 => Query::Q7, q8 => Query::Q8, q9 => Query::Q9, q10 => Query::Q10,
    q11 => Query::Q11, q12 => Query::Q12, q13 => Query::Q13, q14 => Query::Q14, q15 => Query::Q15,
    q16 => Query::Q16, q17 => Query::Q17, q18 => Query::Q18, q19 => Query::Q19, q20 => Query::Q20,
    q21 => Query::Q21, q22 => Query::Q22,
}
