//! Helpers shared by the engine's integration tests.

#![allow(dead_code)]

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
