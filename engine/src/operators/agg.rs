//! Aggregate functions and their accumulators, shared by window and group
//! aggregates. An accumulator is a list of values (one per function plus a
//! row count), encoded in state between rows.

use std::sync::Arc;

use crate::row::{self, DecodeError, Row, Value};

/// A row predicate (for `COUNT(*) FILTER (WHERE ...)`).
pub type RowPredicate = Arc<dyn Fn(&Row) -> bool + Send + Sync>;

/// One aggregate function over input rows.
#[derive(Clone)]
pub enum AggFn {
    /// `COUNT(*)`.
    Count,
    /// `COUNT(*) FILTER (WHERE p)`.
    CountIf(RowPredicate),
    /// `SUM(col)`.
    Sum(usize),
    /// `MIN(col)` (insert-only input).
    Min(usize),
    /// `MAX(col)` (insert-only input).
    Max(usize),
}

impl AggFn {
    fn init(&self) -> Value {
        match self {
            AggFn::Count | AggFn::CountIf(_) | AggFn::Sum(_) => Value::Int(0),
            AggFn::Min(_) => Value::Int(i64::MAX),
            AggFn::Max(_) => Value::Int(i64::MIN),
        }
    }

    /// Folds `row` in with `sign` +1 (insert) or −1 (retraction).
    fn apply(&self, acc: &mut Value, row: &Row, sign: i64) {
        let a = acc.int();
        let v = match self {
            AggFn::Count => a + sign,
            AggFn::CountIf(p) => a + if p(row) { sign } else { 0 },
            AggFn::Sum(c) => a + sign * row.int(*c),
            // Retraction of a min or max would need every value; the
            // queries that use them feed insert-only input.
            AggFn::Min(c) => a.min(row.int(*c)),
            AggFn::Max(c) => a.max(row.int(*c)),
        };
        *acc = Value::Int(v);
    }
}

/// A list of aggregate functions with a row count in front.
#[derive(Clone)]
pub struct Aggregates {
    fns: Vec<AggFn>,
}

impl Aggregates {
    /// The functions, in output order.
    pub fn new(fns: Vec<AggFn>) -> Aggregates {
        Aggregates { fns }
    }

    /// A fresh accumulator: `[rows, f0, f1, ...]`.
    pub fn init(&self) -> Vec<Value> {
        std::iter::once(Value::Int(0)).chain(self.fns.iter().map(AggFn::init)).collect()
    }

    /// Folds a row in (`sign` +1) or out (−1).
    pub fn apply(&self, acc: &mut [Value], row: &Row, sign: i64) {
        acc[0] = Value::Int(acc[0].int() + sign);
        for (f, a) in self.fns.iter().zip(&mut acc[1..]) {
            f.apply(a, row, sign);
        }
    }

    /// Folds accumulator `other` into `acc` (merging session windows).
    pub fn merge(&self, acc: &mut [Value], other: &[Value]) {
        acc[0] = Value::Int(acc[0].int() + other[0].int());
        for (i, f) in self.fns.iter().enumerate() {
            let (a, b) = (acc[i + 1].int(), other[i + 1].int());
            acc[i + 1] = Value::Int(match f {
                AggFn::Count | AggFn::CountIf(_) | AggFn::Sum(_) => a + b,
                AggFn::Min(_) => a.min(b),
                AggFn::Max(_) => a.max(b),
            });
        }
    }

    /// Values in an accumulator.
    pub fn width(&self) -> usize {
        self.fns.len() + 1
    }

    /// Rows folded in (net of retractions).
    pub fn rows(acc: &[Value]) -> i64 {
        acc[0].int()
    }

    /// The function values, without the row count.
    pub fn values(acc: &[Value]) -> &[Value] {
        &acc[1..]
    }

    /// Reads appended partial accumulators (one or more) and folds them
    /// into one.
    pub fn decode_partials(&self, bytes: &[u8]) -> Result<Vec<Value>, DecodeError> {
        let all = row::decode(bytes)?;
        let w = self.width();
        if all.is_empty() || all.len() % w != 0 {
            return Err(DecodeError { offset: 0, reason: "partial accumulators of the wrong width" });
        }
        let mut acc = all[..w].to_vec();
        for part in all[w..].chunks(w) {
            self.merge(&mut acc, part);
        }
        Ok(acc)
    }

    /// Reads an accumulator from state bytes.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<Value>, DecodeError> {
        let acc = row::decode(bytes)?;
        if acc.len() != self.fns.len() + 1 {
            return Err(DecodeError { offset: 0, reason: "accumulator of the wrong width" });
        }
        Ok(acc)
    }
}
