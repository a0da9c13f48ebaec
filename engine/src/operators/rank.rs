//! Ranking operators: keep-last deduplication, top-N per key, and the
//! "rows that reach the window's maximum" filter.
//!
//! Flink breaks ties by arrival order, which differs between runs at
//! parallelism above one. These operators break ties by a total order on
//! the row instead (documented per operator), so a query's result is the
//! same at every parallelism and can be checked exactly.

use std::cmp::Ordering;
use std::sync::Arc;

use super::window::KeyOf;
use crate::row::{self, Row, RowKind, Value};
use crate::runtime::{Context, OpError, Operator};
use crate::state::StateId;

const STATE: StateId = StateId(0);

/// `ROW_NUMBER() OVER (PARTITION BY key ORDER BY time DESC) = 1`: keeps
/// the latest row per key; of two rows with the same time, the one whose
/// encoding sorts last.
pub struct Deduplicate {
    key: KeyOf,
    state_key: Vec<u8>,
    value: Vec<u8>,
    encoded: Vec<u8>,
}

impl Deduplicate {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["last"];

    /// Keep-last deduplication per `key`.
    pub fn new(key: KeyOf) -> Deduplicate {
        Deduplicate { key, state_key: Vec::new(), value: Vec::new(), encoded: Vec::new() }
    }
}

impl Operator for Deduplicate {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        self.state_key.clear();
        row::encode(&(self.key)(&row), &mut self.state_key);
        // Stored: [time] ++ row, so comparing encodings compares (time, row).
        self.encoded.clear();
        row::encode_int(row.ts as i64, &mut self.encoded);
        row::encode(&row.cols, &mut self.encoded);
        if ctx.get(STATE, &self.state_key, &mut self.value)? {
            if self.encoded <= self.value {
                return Ok(());
            }
            let (t, at) = row::decode_one(&self.value, 0)?;
            let old = row::decode(&self.value[at..])?;
            ctx.emit(Row { kind: RowKind::Retract, ts: t.int() as u64, tag: 0, cols: old });
        }
        ctx.put(STATE, &self.state_key, &self.encoded)?;
        ctx.emit(row);
        Ok(())
    }
}

/// Orders two rows' columns: `Less` ranks first.
pub type RowOrder = Arc<dyn Fn(&[Value], &[Value]) -> Ordering + Send + Sync>;

/// `ROW_NUMBER() OVER (PARTITION BY key ORDER BY ...) <= n` on insert-only
/// input: keeps the best `n` rows per key and emits the rank changes
/// (retract the old ranked row, insert the new one), with the rank number
/// appended as the last column unless the query drops it (q9's `rownum`).
pub struct TopN {
    key: KeyOf,
    n: usize,
    order: RowOrder,
    rank_number: bool,
    state_key: Vec<u8>,
    value: Vec<u8>,
}

impl TopN {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["topn"];

    /// The best `n` rows per `key` by `order`.
    pub fn new(key: KeyOf, n: usize, order: RowOrder) -> TopN {
        TopN { key, n, order, rank_number: true, state_key: Vec::new(), value: Vec::new() }
    }

    /// Emits the ranked rows as they are, without their rank number.
    pub fn without_rank_number(mut self) -> TopN {
        self.rank_number = false;
        self
    }

    fn ranked(&self, cols: &[Value], rank: usize, kind: RowKind, ts: u64) -> Row {
        let mut c = cols.to_vec();
        if self.rank_number {
            c.push(Value::Int(rank as i64));
        }
        Row { kind, ts, tag: 0, cols: c }
    }
}

impl Operator for TopN {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        self.state_key.clear();
        row::encode(&(self.key)(&row), &mut self.state_key);
        let old: Vec<Vec<Value>> =
            if ctx.get(STATE, &self.state_key, &mut self.value)? { row::decode_list(&self.value)? } else { Vec::new() };
        let pos = old.partition_point(|o| (self.order)(o, &row.cols) != Ordering::Greater);
        if pos >= self.n {
            return Ok(());
        }
        let mut new = old.clone();
        new.insert(pos, row.cols.clone());
        new.truncate(self.n);
        for (i, o) in old.iter().enumerate().skip(pos) {
            ctx.emit(self.ranked(o, i + 1, RowKind::Retract, row.ts));
        }
        for (i, o) in new.iter().enumerate().skip(pos) {
            ctx.emit(self.ranked(o, i + 1, RowKind::Insert, row.ts));
        }
        self.value.clear();
        for r in &new {
            row::encode_list_item(r, &mut self.value);
        }
        ctx.put(STATE, &self.state_key, &self.value)?;
        Ok(())
    }
}

/// Per window (keyed by its end), the rows whose `value` column reaches the
/// window's maximum, emitted when the window's input is complete (Nexmark
/// q5's join of counts with their maximum). Input columns: `id` column,
/// `value` column and the window end in column `end`; output `[id, value]`.
///
/// The window's running maximum is kept under the window's own key, and a
/// row below it is dropped at once: the maximum only grows, so such a row
/// can never be emitted. Only candidates are written (a handful per window
/// in arrival order), where keeping every row cost a write per row and a
/// scan over all of them when the window ended.
pub struct WindowMaxFilter {
    id: usize,
    value_col: usize,
    end: usize,
    entry: Vec<u8>,
    value: Vec<u8>,
}

impl WindowMaxFilter {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["candidates"];

    /// Keeps rows with `value >= max(value)` per window end.
    pub fn new(id: usize, value_col: usize, end: usize) -> WindowMaxFilter {
        WindowMaxFilter { id, value_col, end, entry: Vec::new(), value: Vec::new() }
    }
}

impl Operator for WindowMaxFilter {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let end = row.int(self.end);
        let n = row.int(self.value_col);
        // The window's key holds its running maximum.
        self.entry.clear();
        row::encode_int(end, &mut self.entry);
        let max = if ctx.get(STATE, &self.entry, &mut self.value)? {
            Some(row::decode_one(&self.value, 0)?.0.int())
        } else {
            None
        };
        if max.is_some_and(|m| n < m) {
            return Ok(());
        }
        self.value.clear();
        row::encode_int(n, &mut self.value);
        if max.is_none_or(|m| n > m) {
            ctx.put(STATE, &self.entry, &self.value)?;
        }
        if max.is_none() {
            ctx.timer((end as u64).saturating_sub(1), &self.entry);
        }
        let prefix_len = self.entry.len();
        row::encode(&[row.col(self.id).clone()], &mut self.entry);
        ctx.put(STATE, &self.entry, &self.value)?;
        self.entry.truncate(prefix_len);
        Ok(())
    }

    fn on_timer(&mut self, time: u64, key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        let mut rows: Vec<(Value, Value)> = Vec::new();
        let mut bad = None;
        ctx.scan(STATE, key, &mut |k, v| {
            if k.len() == key.len() {
                // The running maximum itself.
                return true;
            }
            match (row::decode_one(k, key.len()), row::decode_one(v, 0)) {
                (Ok((id, _)), Ok((n, _))) => rows.push((id, n)),
                (Err(e), _) | (_, Err(e)) => bad = Some(e),
            }
            bad.is_none()
        })?;
        if let Some(e) = bad {
            return Err(e.into());
        }
        let max = rows.iter().map(|r| r.1.int()).max().unwrap_or(i64::MIN);
        for (id, n) in rows {
            if n.int() >= max {
                ctx.emit(Row::insert(time, 0, vec![id, n]));
            }
        }
        // The whole window goes in one range deletion.
        ctx.delete_prefix(STATE, key)?;
        Ok(())
    }
}
