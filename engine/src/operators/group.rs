//! Non-windowed group aggregates with updating results: every change of a
//! group's result retracts the previous row and inserts the new one, as
//! Flink's `GroupAggFunction` emits (-U, +U).

use std::collections::HashMap;
use std::sync::Arc;

use super::agg::Aggregates;
use super::window::KeyOf;
use crate::row::{self, Row, RowKind, Value};
use crate::runtime::{Context, OpError, Operator};
use crate::state::StateId;

/// Builds the result row of a group from (key, aggregate values).
pub type GroupOutput = Arc<dyn Fn(&[Value], &[Value]) -> Vec<Value> + Send + Sync>;

const ACC: StateId = StateId(0);
const DISTINCT: StateId = StateId(1);

/// `SELECT key, aggs FROM input GROUP BY key`, input may retract.
///
/// Mini-batched, as Flink runs it under the Nexmark configuration
/// (`table.exec.mini-batch.enabled`): within one input batch a group's
/// accumulator is read once, updated in memory by every row of the group,
/// and written once when the batch ends, which then emits one retraction
/// and one new row per changed group instead of a pair per input row.
///
/// Distinct counts ([`Aggregates::with_distinct`]) keep their sets in a
/// second state, one entry per (group, distinct column, value) holding the
/// counts the value has entered (a bit per filter), as Flink's map views
/// do: a row costs one point read per distinct column, and a write when it
/// brings a value new to one of the counts.
pub struct GroupAggregate {
    key: KeyOf,
    aggs: Aggregates,
    output: GroupOutput,
    state_key: Vec<u8>,
    value: Vec<u8>,
    /// A distinct set's entry: group key, column number, value.
    entry: Vec<u8>,
    /// The groups the current batch touched, by encoded key.
    batch: HashMap<Vec<u8>, Pending>,
}

/// A group touched by the current batch.
struct Pending {
    kg: u16,
    key: Vec<Value>,
    /// The accumulator in state before the batch, if the group existed.
    before: Option<Vec<Value>>,
    acc: Vec<Value>,
    /// Time of the group's latest row (the time of what it emits).
    ts: u64,
}

impl GroupAggregate {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["groups"];

    /// The state names it needs with distinct counts.
    pub const STATES_WITH_DISTINCT: &'static [&'static str] = &["groups", "distinct"];

    /// An aggregate of `aggs` per `key`.
    pub fn new(key: KeyOf, aggs: Aggregates, output: GroupOutput) -> GroupAggregate {
        GroupAggregate {
            key,
            aggs,
            output,
            state_key: Vec::new(),
            value: Vec::new(),
            entry: Vec::new(),
            batch: HashMap::new(),
        }
    }
}

/// The counts a distinct value has entered, from its state entry.
fn seen_flags(bytes: &[u8]) -> Result<u64, crate::row::DecodeError> {
    let b: [u8; 8] = bytes
        .try_into()
        .map_err(|_| crate::row::DecodeError { offset: 0, reason: "distinct flags of the wrong length" })?;
    Ok(u64::from_be_bytes(b))
}

impl Operator for GroupAggregate {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let key = (self.key)(&row);
        self.state_key.clear();
        row::encode(&key, &mut self.state_key);
        let pending = match self.batch.get_mut(&self.state_key) {
            Some(p) => p,
            None => {
                let before = if ctx.get(ACC, &self.state_key, &mut self.value)? {
                    Some(self.aggs.decode(&self.value)?)
                } else {
                    None
                };
                let acc = before.clone().unwrap_or_else(|| self.aggs.init());
                let p = Pending { kg: ctx.key_group(), key, before, acc, ts: row.ts };
                self.batch.entry(self.state_key.clone()).or_insert(p)
            }
        };
        let sign = if row.kind == RowKind::Insert { 1 } else { -1 };
        self.aggs.apply(&mut pending.acc, &row, sign);
        pending.ts = pending.ts.max(row.ts);
        let mut slot = self.aggs.distinct_offset();
        for (column, d) in self.aggs.distinct().iter().enumerate() {
            let flags = d.flags(&row);
            if flags != 0 && row.kind == RowKind::Insert {
                self.entry.clear();
                self.entry.extend_from_slice(&self.state_key);
                self.entry.push(column as u8);
                row::encode(std::slice::from_ref(row.col(d.col)), &mut self.entry);
                let seen = if ctx.get(DISTINCT, &self.entry, &mut self.value)? { seen_flags(&self.value)? } else { 0 };
                let new = flags & !seen;
                if new != 0 {
                    ctx.put(DISTINCT, &self.entry, &(seen | flags).to_be_bytes())?;
                    for bit in 0..d.filters.len() {
                        if new & 1 << bit != 0 {
                            let count = &mut pending.acc[slot + bit];
                            *count = Value::Int(count.int() + 1);
                        }
                    }
                }
            }
            slot += d.filters.len();
        }
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context) -> Result<(), OpError> {
        for (state_key, p) in self.batch.drain() {
            ctx.set_key_group(p.kg);
            let exists = Aggregates::rows(&p.acc) > 0;
            if exists {
                self.value.clear();
                row::encode(&p.acc, &mut self.value);
                ctx.put(ACC, &state_key, &self.value)?;
            } else if p.before.is_some() {
                ctx.delete(ACC, &state_key)?;
            }
            let before = p
                .before
                .as_ref()
                .filter(|a| Aggregates::rows(a) > 0)
                .map(|a| (self.output)(&p.key, Aggregates::values(a)));
            let after = exists.then(|| (self.output)(&p.key, Aggregates::values(&p.acc)));
            if before == after {
                continue;
            }
            if let Some(cols) = before {
                ctx.emit(Row { kind: RowKind::Retract, ts: p.ts, tag: 0, cols });
            }
            if let Some(cols) = after {
                ctx.emit(Row::insert(p.ts, 0, cols));
            }
        }
        Ok(())
    }
}
