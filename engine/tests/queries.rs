//! Every Nexmark query equals its single-threaded reference, on both state
//! backends, at parallelism 1 and 3 (the results as multisets, after
//! applying retractions).

mod common;

use common::{assert_same_rows, per_bidder_totals};
use std::path::Path;

use engine::nexmark::{NexmarkParams, Preset};
use engine::operators::sink::unescape_path_name;
use engine::queries::reference::{materialize, reference};
use engine::queries::{build, Query, QueryConfig};
use engine::row::Value;
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
                    let mut want: Vec<Vec<Value>> =
                        want.iter().map(|r| r.iter().map(|v| Value::Str(v.to_string())).collect()).collect();
                    want.sort();
                    assert_same_rows(&label, &committed_rows(&query_config.out.join("bid")), &want);
                    continue;
                }
                _ => {}
            }
            assert_same_rows(&label, &got, &want);
        }
    }
}

/// Every row q10 wrote under `table`, with its partition values from the
/// path, sorted; fails on a file still in progress or a partition without
/// `_SUCCESS`.
fn committed_rows(table: &Path) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    let mut partitions = 0;
    for dt in std::fs::read_dir(table).unwrap() {
        let dt = dt.unwrap().path();
        for hm in std::fs::read_dir(&dt).unwrap() {
            let hm = hm.unwrap().path();
            partitions += 1;
            assert!(hm.join("_SUCCESS").exists(), "{} was never committed", hm.display());
            let part = |p: &Path, name: &str| {
                let file = p.file_name().unwrap().to_str().unwrap().to_string();
                let value = file.strip_prefix(&format!("{name}=")).unwrap_or_else(|| panic!("{file}: not {name}=..."));
                Value::Str(unescape_path_name(value))
            };
            let (dt_value, hm_value) = (part(&dt, "dt"), part(&hm, "hm"));
            for f in std::fs::read_dir(&hm).unwrap() {
                let f = f.unwrap().path();
                let name = f.file_name().unwrap().to_str().unwrap().to_string();
                assert!(!name.ends_with(".inprogress"), "{} is still in progress", f.display());
                if name == "_SUCCESS" {
                    continue;
                }
                let mut reader = csv::ReaderBuilder::new().has_headers(false).from_path(&f).unwrap();
                for record in reader.records() {
                    let mut row: Vec<Value> = record.unwrap().iter().map(|s| Value::Str(s.to_string())).collect();
                    row.extend([dt_value.clone(), hm_value.clone()]);
                    rows.push(row);
                }
            }
        }
    }
    assert!(partitions > 0, "no partitions under {}", table.display());
    rows.sort();
    rows
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
