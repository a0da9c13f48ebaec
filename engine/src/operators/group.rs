//! Non-windowed group aggregates with updating results: every change of a
//! group's result retracts the previous row and inserts the new one, as
//! Flink's `GroupAggFunction` emits (-U, +U).

use std::sync::Arc;

use super::agg::Aggregates;
use super::window::KeyOf;
use crate::row::{self, Row, RowKind, Value};
use crate::runtime::{Context, OpError, Operator};
use crate::state::StateId;

/// Builds the result row of a group from (key, aggregate values).
pub type GroupOutput = Arc<dyn Fn(&[Value], &[Value]) -> Vec<Value> + Send + Sync>;

const ACC: StateId = StateId(0);

/// `SELECT key, aggs FROM input GROUP BY key`, input may retract.
pub struct GroupAggregate {
    key: KeyOf,
    aggs: Aggregates,
    output: GroupOutput,
    state_key: Vec<u8>,
    value: Vec<u8>,
}

impl GroupAggregate {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["groups"];

    /// An aggregate of `aggs` per `key`.
    pub fn new(key: KeyOf, aggs: Aggregates, output: GroupOutput) -> GroupAggregate {
        GroupAggregate { key, aggs, output, state_key: Vec::new(), value: Vec::new() }
    }
}

impl Operator for GroupAggregate {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let key = (self.key)(&row);
        self.state_key.clear();
        row::encode(&key, &mut self.state_key);
        let old =
            if ctx.get(ACC, &self.state_key, &mut self.value)? { Some(self.aggs.decode(&self.value)?) } else { None };
        let mut acc = old.clone().unwrap_or_else(|| self.aggs.init());
        let sign = if row.kind == RowKind::Insert { 1 } else { -1 };
        self.aggs.apply(&mut acc, &row, sign);
        let before =
            old.as_ref().filter(|a| Aggregates::rows(a) > 0).map(|a| (self.output)(&key, Aggregates::values(a)));
        let after = (Aggregates::rows(&acc) > 0).then(|| (self.output)(&key, Aggregates::values(&acc)));
        if Aggregates::rows(&acc) > 0 {
            self.value.clear();
            row::encode(&acc, &mut self.value);
            ctx.put(ACC, &self.state_key, &self.value)?;
        } else {
            ctx.delete(ACC, &self.state_key)?;
        }
        if before == after {
            return Ok(());
        }
        if let Some(cols) = before {
            ctx.emit(Row { kind: RowKind::Retract, ts: row.ts, tag: 0, cols });
        }
        if let Some(cols) = after {
            ctx.emit(Row::insert(row.ts, 0, cols));
        }
        Ok(())
    }
}
