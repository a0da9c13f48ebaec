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

/// `SELECT key, aggs FROM input GROUP BY key`, input may retract.
///
/// Mini-batched, as Flink runs it under the Nexmark configuration
/// (`table.exec.mini-batch.enabled`): within one input batch a group's
/// accumulator is read once, updated in memory by every row of the group,
/// and written once when the batch ends, which then emits one retraction
/// and one new row per changed group instead of a pair per input row.
pub struct GroupAggregate {
    key: KeyOf,
    aggs: Aggregates,
    output: GroupOutput,
    state_key: Vec<u8>,
    value: Vec<u8>,
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

    /// An aggregate of `aggs` per `key`.
    pub fn new(key: KeyOf, aggs: Aggregates, output: GroupOutput) -> GroupAggregate {
        GroupAggregate { key, aggs, output, state_key: Vec::new(), value: Vec::new(), batch: HashMap::new() }
    }
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
