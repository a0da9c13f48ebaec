//! Stream-stream joins on insert-only inputs: the regular (unbounded) join,
//! the interval join, and the tumbling-window join.
//!
//! A row's side is its tag (0 left, 1 right), not its input port: both
//! sides may arrive over one keyed input (two tables of one source, as in
//! Nexmark) or over two.

use std::sync::Arc;

use super::window::KeyOf;
use crate::row::{self, Row, Value};
use crate::runtime::{Context, OpError, Operator};
use crate::state::StateId;

/// Builds the joined row from (left, right), or drops the pair (a residual
/// non-equi condition).
pub type JoinOutput = Arc<dyn Fn(&Row, &Row) -> Option<Row> + Send + Sync>;

/// An unbounded inner equi-join: each side keeps every row it has seen, as
/// Flink's regular join does for append-only inputs without a unique key
/// (per join key, a map from row to its multiplicity).
pub struct RegularJoin {
    keys: [KeyOf; 2],
    output: JoinOutput,
    prefix: Vec<u8>,
    entry: Vec<u8>,
    /// The other side's matches of the row at hand (kept for its capacity).
    matches: Vec<(Row, u32)>,
}

impl RegularJoin {
    /// The state names this operator needs: one per side.
    pub const STATES: &'static [&'static str] = &["left", "right"];

    /// A join on `left_key(l) == right_key(r)`.
    pub fn new(left_key: KeyOf, right_key: KeyOf, output: JoinOutput) -> RegularJoin {
        RegularJoin { keys: [left_key, right_key], output, prefix: Vec::new(), entry: Vec::new(), matches: Vec::new() }
    }
}

impl Operator for RegularJoin {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let side = side_of(&row);
        let (mine, other) = (StateId(side as u16), StateId(1 - side as u16));
        self.prefix.clear();
        row::encode(&(self.keys[side])(&row), &mut self.prefix);
        self.entry.clear();
        self.entry.extend_from_slice(&self.prefix);
        row::encode(&row.cols, &mut self.entry);
        // The multiplicity of a row is the length of its value: one byte
        // appended per copy, a write without a read.
        ctx.merge(mine, &self.entry, &[1])?;
        let plen = self.prefix.len();
        let mut matches = std::mem::take(&mut self.matches);
        let mut bad = None;
        ctx.scan(other, &self.prefix, &mut |k, v| {
            match row::decode(&k[plen..]) {
                Ok(cols) => matches.push((Row::insert(0, 0, cols), v.len() as u32)),
                Err(e) => bad = Some(e),
            }
            bad.is_none()
        })?;
        if let Some(e) = bad {
            return Err(e.into());
        }
        for (mut o, n) in matches.drain(..) {
            o.ts = row.ts;
            let (l, r) = if side == 0 { (&row, &o) } else { (&o, &row) };
            if let Some(mut out) = (self.output)(l, r) {
                out.ts = l.ts.max(r.ts);
                for _ in 1..n {
                    ctx.emit(out.clone());
                }
                ctx.emit(out);
            }
        }
        self.matches = matches;
        Ok(())
    }
}

/// The join side of a row: its tag.
fn side_of(row: &Row) -> usize {
    (row.tag as usize).min(1)
}

/// An inner equi-join where a right row at time `t_r` matches left rows
/// with times in `[t_r − lower, t_r + upper]`. Each side keeps its rows by
/// (key, time), one entry per row, as long as the watermark says a partner
/// can still arrive (Flink's interval join keeps them by key and time too).
///
/// Rows past that horizon expire ([`crate::state::StateStore::expire`])
/// instead of being deleted one by one: a tombstone per row doubled the
/// writes of q7, and RocksDB drops them in compactions for free. Reads skip
/// expired rows, so results are those of deleting them at the watermark.
pub struct IntervalJoin {
    keys: [KeyOf; 2],
    lower: u64,
    upper: u64,
    output: JoinOutput,
    prefix: Vec<u8>,
    entry: Vec<u8>,
    value: Vec<u8>,
    /// Keeps entries of one key and time apart: the writing subtask's id
    /// in the high half, a counter in the low.
    seq: u32,
    /// The watermark the last expiry was declared at.
    expired_at: u64,
    /// The other side's partners of the row at hand (kept for its capacity).
    partners: Vec<Row>,
}

impl IntervalJoin {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["left", "right"];

    /// Left row at `t_l` joins right row at `t_r` when
    /// `t_r − lower <= t_l <= t_r + upper`.
    pub fn new(left_key: KeyOf, right_key: KeyOf, lower: u64, upper: u64, output: JoinOutput) -> IntervalJoin {
        IntervalJoin {
            keys: [left_key, right_key],
            lower,
            upper,
            output,
            prefix: Vec::new(),
            entry: Vec::new(),
            value: Vec::new(),
            seq: 0,
            expired_at: 0,
            partners: Vec::new(),
        }
    }

    /// Times before which `side`'s rows can meet no row still to come
    /// under `watermark`: a left row at `t` waits for right rows up to
    /// `t + lower`, a right row for left rows up to `t + upper`.
    fn horizon(&self, side: usize, watermark: u64) -> u64 {
        watermark.saturating_sub(if side == 0 { self.lower } else { self.upper })
    }
}

impl Operator for IntervalJoin {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let side = side_of(&row);
        let (mine, other) = (StateId(side as u16), StateId(1 - side as u16));
        let watermark = ctx.watermark();
        if watermark > self.expired_at {
            self.expired_at = watermark;
            ctx.expire(StateId(0), self.horizon(0, watermark))?;
            ctx.expire(StateId(1), self.horizon(1, watermark))?;
        }
        self.prefix.clear();
        row::encode(&(self.keys[side])(&row), &mut self.prefix);
        self.entry.clear();
        self.entry.extend_from_slice(&self.prefix);
        row::encode_time_suffix(row.ts, (ctx.subtask() as u64) << 32 | self.seq as u64, &mut self.entry);
        self.seq = self.seq.wrapping_add(1);
        self.value.clear();
        row::encode(&row.cols, &mut self.value);
        ctx.put(mine, &self.entry, &self.value)?;
        // Partners: times in the window this row accepts and not expired.
        let (from, to) = if side == 0 {
            (row.ts.saturating_sub(self.upper), row.ts + self.lower)
        } else {
            (row.ts.saturating_sub(self.lower), row.ts + self.upper)
        };
        let from = from.max(self.horizon(1 - side, watermark));
        // Partners decoded as the scan meets them, into a buffer kept for
        // its capacity.
        let mut partners = std::mem::take(&mut self.partners);
        let mut bad = None;
        ctx.scan(other, &self.prefix, &mut |k, v| {
            let t = row::suffix_time(k).unwrap_or(u64::MAX);
            if t > to {
                return false;
            }
            if t >= from {
                match row::decode(v) {
                    Ok(cols) => partners.push(Row::insert(t, 0, cols)),
                    Err(e) => bad = Some(e),
                }
            }
            bad.is_none()
        })?;
        if let Some(e) = bad {
            return Err(e.into());
        }
        for o in partners.drain(..) {
            let (l, r) = if side == 0 { (&row, &o) } else { (&o, &row) };
            if let Some(mut out) = (self.output)(l, r) {
                out.ts = l.ts.max(r.ts);
                ctx.emit(out);
            }
        }
        self.partners = partners;
        Ok(())
    }
}

/// Builds a window join's row from (left columns, right columns, window
/// start, window end).
pub type WindowJoinOutput = Arc<dyn Fn(&[Value], &[Value], u64, u64) -> Row + Send + Sync>;

/// An inner join of two inputs grouped by key and tumbling window: per
/// window, each side's distinct rows for a key are kept until the window
/// ends, then every left row meets every right row (Flink's window join
/// over two window aggregates).
pub struct WindowJoin {
    size: u64,
    keys: [KeyOf; 2],
    output: WindowJoinOutput,
    entry: Vec<u8>,
}

impl WindowJoin {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["left", "right"];

    /// Joins rows of equal key in the same `size` ms tumbling window;
    /// `output(left cols, right cols, start, end)` builds the result.
    pub fn new(size: u64, left_key: KeyOf, right_key: KeyOf, output: WindowJoinOutput) -> WindowJoin {
        WindowJoin { size, keys: [left_key, right_key], output, entry: Vec::new() }
    }

    fn side_rows(&mut self, side: u16, prefix: &[u8], ctx: &mut Context) -> Result<Vec<Vec<u8>>, OpError> {
        let mut rows = Vec::new();
        let plen = prefix.len();
        ctx.scan(StateId(side), prefix, &mut |k, _| {
            rows.push(k[plen..].to_vec());
            true
        })?;
        // Point deletions: a key's window holds a row or two, and a range
        // deletion per key and window would pile up range tombstones that
        // every later read must check.
        for r in &rows {
            let mut k = prefix.to_vec();
            k.extend_from_slice(r);
            ctx.delete(StateId(side), &k)?;
        }
        Ok(rows)
    }
}

impl Operator for WindowJoin {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let side = side_of(&row);
        let end = row.ts - row.ts % self.size + self.size;
        // Entry: [end, key] ++ row (a set: duplicates collapse, as GROUP BY).
        self.entry.clear();
        row::encode_int(end as i64, &mut self.entry);
        row::encode(&(self.keys[side])(&row), &mut self.entry);
        // The timer's key is the entry's [end, key] prefix.
        let timer_key_len = self.entry.len();
        row::encode(&row.cols, &mut self.entry);
        ctx.put(StateId(side as u16), &self.entry, &[])?;
        ctx.timer(end - 1, &self.entry[..timer_key_len]);
        Ok(())
    }

    fn on_timer(&mut self, _time: u64, key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        let end = row::decode_one(key, 0)?.0.int() as u64;
        let left = self.side_rows(0, key, ctx)?;
        let right = self.side_rows(1, key, ctx)?;
        // Each right row decoded once, not once per left row.
        let right: Vec<Vec<Value>> = right.iter().map(|r| row::decode(r)).collect::<Result<_, _>>()?;
        for l in &left {
            let l = row::decode(l)?;
            for r in &right {
                ctx.emit((self.output)(&l, r, end - self.size, end));
            }
        }
        Ok(())
    }
}
