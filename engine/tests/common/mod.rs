//! Helpers shared by the engine's integration tests.

#![allow(dead_code)]

use std::path::Path;

use engine::operators::sink::unescape_path_name;
use engine::row::Value;

/// Fills `value` with incompressible noise from `state`: a block on disk
/// is as large as in memory.
pub fn fill_random(value: &mut [u8], state: &mut u64) {
    engine::state::calibrate::fill_noise(value, state);
}

/// q12's windows follow the wall clock; its per-bidder totals do not.
pub fn per_bidder_totals(rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let mut totals = std::collections::BTreeMap::new();
    for r in rows {
        *totals.entry(r[0].int()).or_insert(0) += r[1].int();
    }
    totals.into_iter().map(|(b, n)| vec![Value::Int(b), Value::Int(n)]).collect()
}

/// Fails with the first row where `got` and `want` (sorted multisets)
/// differ.
pub fn assert_same_rows(label: &str, got: &[Vec<Value>], want: &[Vec<Value>]) {
    assert_eq!(got.len(), want.len(), "{label}: {} rows, reference {}", got.len(), want.len());
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{label}: first difference at row {i}:\n got {:?}\nwant {:?}", got[i], want[i]);
    }
}

/// Every row q10 wrote under `table`, with its partition values from the
/// path, sorted; fails on a file still in progress or a partition without
/// `_SUCCESS`.
pub fn committed_rows(table: &Path) -> Vec<Vec<Value>> {
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

/// q10's reference rows as its files hold them (every value as text),
/// sorted.
pub fn as_written(want: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> =
        want.iter().map(|r| r.iter().map(|v| Value::Str(v.to_string())).collect()).collect();
    rows.sort();
    rows
}
