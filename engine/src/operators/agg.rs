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

/// `COUNT(DISTINCT col)`, plain and under filters (`COUNT(DISTINCT col)
/// FILTER (WHERE p)`), all over one set of the values seen per group, as
/// Flink keeps one map view per distinct column for every count over it.
///
/// The set lives in state (see
/// [`GroupAggregate`](super::group::GroupAggregate)), not in the
/// accumulator; the accumulator holds the counts. Insert-only input (a
/// retraction would need a count per value, not a flag).
#[derive(Clone)]
pub struct DistinctCount {
    /// The column whose distinct values are counted.
    pub col: usize,
    /// One count per entry: `None` counts every row, `Some(p)` the rows
    /// where `p` holds. At most 64.
    pub filters: Vec<Option<RowPredicate>>,
}

impl DistinctCount {
    /// The counts `row` falls under, one bit per filter.
    pub fn flags(&self, row: &Row) -> u64 {
        self.filters
            .iter()
            .enumerate()
            .filter(|(_, f)| f.as_ref().is_none_or(|p| p(row)))
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }
}

/// A list of aggregate functions with a row count in front, and the
/// counts of any distinct counts behind them.
#[derive(Clone)]
pub struct Aggregates {
    fns: Vec<AggFn>,
    distinct: Vec<DistinctCount>,
}

impl Aggregates {
    /// The functions, in output order.
    pub fn new(fns: Vec<AggFn>) -> Aggregates {
        Aggregates { fns, distinct: Vec::new() }
    }

    /// The functions, then the distinct counts, in output order (group
    /// aggregates only: distinct counts do not merge).
    ///
    /// # Panics
    /// If a distinct count has more than 64 filters (a query's build is
    /// wrong).
    pub fn with_distinct(fns: Vec<AggFn>, distinct: Vec<DistinctCount>) -> Aggregates {
        assert!(distinct.iter().all(|d| d.filters.len() <= 64), "at most 64 counts per distinct column");
        Aggregates { fns, distinct }
    }

    /// The functions.
    pub fn fns(&self) -> &[AggFn] {
        &self.fns
    }

    /// The distinct counts.
    pub fn distinct(&self) -> &[DistinctCount] {
        &self.distinct
    }

    /// Where the distinct counts start in an accumulator.
    pub fn distinct_offset(&self) -> usize {
        1 + self.fns.len()
    }

    /// A fresh accumulator: `[rows, f0, f1, ..., d0, d1, ...]`.
    pub fn init(&self) -> Vec<Value> {
        let counts = self.distinct.iter().map(|d| d.filters.len()).sum();
        std::iter::once(Value::Int(0))
            .chain(self.fns.iter().map(AggFn::init))
            .chain(std::iter::repeat_n(Value::Int(0), counts))
            .collect()
    }

    /// Folds a row in (`sign` +1) or out (−1); distinct counts are the
    /// caller's, as they need the set.
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
        self.distinct_offset() + self.distinct.iter().map(|d| d.filters.len()).sum::<usize>()
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
        if acc.len() != self.width() {
            return Err(DecodeError { offset: 0, reason: "accumulator of the wrong width" });
        }
        Ok(acc)
    }
}
