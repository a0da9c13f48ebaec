//! Window aggregates: tumbling and hopping windows in event time, tumbling
//! windows in processing time, and session windows.
//!
//! State holds one accumulator per (key, window); a timer at the window's
//! last millisecond (`end − 1`, as Flink's `maxTimestamp`) emits the result
//! and clears the state. Results carry event time `end − 1`.

use std::collections::HashMap;
use std::sync::Arc;

use super::agg::Aggregates;
use crate::row::{self, Row, Value};
use crate::runtime::{Context, OpError, Operator};
use crate::state::StateId;

/// The key of a row, as values.
pub type KeyOf = Arc<dyn Fn(&Row) -> Vec<Value> + Send + Sync>;
/// Builds an output row from (key, window start, window end, aggregate
/// values).
pub type WindowOutput = Arc<dyn Fn(&[Value], u64, u64, &[Value]) -> Row + Send + Sync>;

/// How rows are assigned to windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Windows {
    /// Event-time windows `[k·size, (k+1)·size)`.
    Tumble {
        /// Window length, ms.
        size: u64,
    },
    /// Event-time windows of `size` starting every `slide`.
    Hop {
        /// Window length, ms.
        size: u64,
        /// Distance between window starts, ms.
        slide: u64,
    },
    /// Processing-time tumbling windows (by the wall clock when the row
    /// arrives).
    ProcTumble {
        /// Window length, ms.
        size: u64,
    },
}

impl Windows {
    fn size(self) -> u64 {
        match self {
            Windows::Tumble { size } | Windows::Hop { size, .. } | Windows::ProcTumble { size } => size,
        }
    }

    /// The starts of the windows containing time `t`.
    pub fn starts(self, t: u64, out: &mut Vec<u64>) {
        out.clear();
        match self {
            Windows::Tumble { size } | Windows::ProcTumble { size } => out.push(t - t % size),
            Windows::Hop { size, slide } => {
                let last = t - t % slide;
                let mut s = last;
                loop {
                    out.push(s);
                    if s < slide || s + size <= t + slide {
                        break;
                    }
                    s -= slide;
                }
                out.retain(|&s| s <= t && t < s + size);
                out.reverse();
            }
        }
    }
}

const PANES: StateId = StateId(0);

/// Aggregates per key and window.
///
/// Two things keep state traffic low, as in Flink's slicing window
/// operator with mini-batch: rows are folded into *panes* (slices of one
/// slide; a hopping window of 10 s every 2 s is five panes, so a row
/// updates one pane, not five windows), and rows of one input batch are
/// folded in memory first, so a hot key costs one read and one write per
/// batch, and the batch's partial result is appended to the pane (a merge,
/// no read). A window's timer folds its panes' partials, drops the oldest
/// pane, which no later window needs, and sets the timer of the key's next
/// window while panes remain (one timer per window, not per pane and
/// window).
pub struct WindowAggregate {
    windows: Windows,
    key: KeyOf,
    aggs: Aggregates,
    output: WindowOutput,
    /// The mini-batch: partial accumulators by [`WindowAggregate::batch_key`].
    buffer: HashMap<Vec<u8>, Vec<Value>>,
    key_bytes: Vec<u8>,
    state_key: Vec<u8>,
    value: Vec<u8>,
}

impl WindowAggregate {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["panes"];

    /// An operator computing `aggs` per `key` and window.
    pub fn new(windows: Windows, key: KeyOf, aggs: Aggregates, output: WindowOutput) -> WindowAggregate {
        WindowAggregate {
            windows,
            key,
            aggs,
            output,
            buffer: HashMap::new(),
            key_bytes: Vec::new(),
            state_key: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Pane length: the slide (a tumbling window is one pane).
    fn pane(&self) -> u64 {
        match self.windows {
            Windows::Hop { slide, .. } => slide,
            other => other.size(),
        }
    }

    fn pane_key(&mut self, key: &[u8], pane_end: u64) {
        self.state_key.clear();
        self.state_key.extend_from_slice(key);
        row::encode_int(pane_end as i64, &mut self.state_key);
    }

    fn fire(&mut self, timer_key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        // Timer key: encoded key ++ encoded window end (9 bytes).
        let Some(split) = timer_key.len().checked_sub(9) else {
            return Err(row::DecodeError { offset: 0, reason: "window timer key too short" }.into());
        };
        let (key, end) = (&timer_key[..split], row::decode_one(timer_key, split)?.0.int() as u64);
        let (size, pane) = (self.windows.size(), self.pane());
        let start = end - size;
        // Point reads, not a scan: deleted panes leave tombstones under the
        // key's prefix that a scan would have to step over.
        let mut panes: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut pane_end = start + pane;
        while pane_end <= end {
            self.pane_key(key, pane_end);
            if ctx.get(PANES, &self.state_key, &mut self.value)? {
                panes.push((pane_end, self.value.clone()));
            }
            pane_end += pane;
        }
        let mut acc: Option<Vec<Value>> = None;
        for (_, bytes) in &panes {
            let p = self.aggs.decode_partials(bytes)?;
            match &mut acc {
                Some(a) => self.aggs.merge(a, &p),
                None => acc = Some(p),
            }
        }
        if let Some(acc) = acc {
            let parts = row::decode(key)?;
            ctx.emit((self.output)(&parts, start, end, Aggregates::values(&acc)));
        }
        // The window's first pane belongs to no later window.
        let oldest = start + pane;
        if panes.iter().any(|p| p.0 == oldest) {
            self.pane_key(key, oldest);
            let k = self.state_key.clone();
            ctx.delete(PANES, &k)?;
        }
        // The next window of this key, if it still has a pane; a pane
        // created later registers its own first window.
        let next = end + pane;
        if panes.iter().any(|p| next - size < p.0 && p.0 <= end) {
            let mut t = key.to_vec();
            row::encode_int(next as i64, &mut t);
            match self.windows {
                Windows::ProcTumble { .. } => ctx.processing_timer(next - 1, &t),
                _ => ctx.timer(next - 1, &t),
            }
        }
        Ok(())
    }
}

impl Operator for WindowAggregate {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let t = match self.windows {
            Windows::ProcTumble { .. } => ctx.now_ms(),
            _ => row.ts,
        };
        let pane = self.pane();
        let pane_start = t - t % pane;
        self.key_bytes.clear();
        self.key_bytes.extend_from_slice(&ctx.key_group().to_be_bytes());
        self.key_bytes.extend_from_slice(&pane_start.to_be_bytes());
        row::encode(&(self.key)(&row), &mut self.key_bytes);
        // A key already in the batch (the common case) costs no copy.
        let acc = match self.buffer.get_mut(self.key_bytes.as_slice()) {
            Some(acc) => acc,
            None => self.buffer.entry(self.key_bytes.clone()).or_insert_with(|| self.aggs.init()),
        };
        self.aggs.apply(acc, &row, 1);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context) -> Result<(), OpError> {
        let pane = self.pane();
        let proc_time = matches!(self.windows, Windows::ProcTumble { .. });
        for (batch_key, acc) in std::mem::take(&mut self.buffer) {
            let (kg, pane_start, key) = split_batch_key(&batch_key);
            ctx.set_key_group(kg);
            let pane_end = pane_start + pane;
            self.pane_key(key, pane_end);
            // The pane's first window gets a timer (registering it again
            // is free); each window's timer sets the next while the key
            // has panes left. Its key is the pane's state key: the
            // encoded key and the window end.
            if proc_time {
                ctx.processing_timer(pane_end - 1, &self.state_key);
            } else {
                ctx.timer(pane_end - 1, &self.state_key);
            }
            // A partial accumulator is appended, not read and rewritten:
            // the window's timer folds the partials.
            self.value.clear();
            row::encode(&acc, &mut self.value);
            ctx.merge(PANES, &self.state_key, &self.value)?;
        }
        Ok(())
    }

    fn on_timer(&mut self, _time: u64, key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        self.fire(key, ctx)
    }

    fn on_processing_timer(&mut self, _time: u64, key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        self.fire(key, ctx)
    }
}

/// The parts of a mini-batch key: key group (2 bytes), pane start (8
/// bytes), encoded key.
fn split_batch_key(k: &[u8]) -> (u16, u64, &[u8]) {
    let (kg, rest) = k.split_at(2);
    let (pane, key) = rest.split_at(8);
    (u16::from_be_bytes([kg[0], kg[1]]), u64::from_be_bytes(pane.try_into().unwrap_or_default()), key)
}

const SESSIONS: StateId = StateId(0);

/// Aggregates per key and session (a run of rows with gaps of at most
/// `gap`; a session ends `gap` after its last row). A row exactly `gap`
/// after a session's last one joins it, as in Flink, whose session
/// windows `[ts, ts + gap)` merge when they touch.
pub struct SessionAggregate {
    gap: u64,
    key: KeyOf,
    aggs: Aggregates,
    output: WindowOutput,
    state_key: Vec<u8>,
    value: Vec<u8>,
}

impl SessionAggregate {
    /// The state names this operator needs.
    pub const STATES: &'static [&'static str] = &["sessions"];

    /// An operator computing `aggs` per `key` and session.
    pub fn new(gap: u64, key: KeyOf, aggs: Aggregates, output: WindowOutput) -> SessionAggregate {
        SessionAggregate { gap, key, aggs, output, state_key: Vec::new(), value: Vec::new() }
    }

    /// Open sessions of the key in `self.state_key`: (start, end, acc).
    fn load(&mut self, ctx: &mut Context) -> Result<Vec<(u64, u64, Vec<Value>)>, OpError> {
        if !ctx.get(SESSIONS, &self.state_key, &mut self.value)? {
            return Ok(Vec::new());
        }
        let flat = row::decode(&self.value)?;
        let w = self.aggs.width() + 2;
        if flat.len() % w != 0 {
            return Err(crate::row::DecodeError { offset: 0, reason: "session list of the wrong width" }.into());
        }
        Ok(flat.chunks(w).map(|c| (c[0].int() as u64, c[1].int() as u64, c[2..].to_vec())).collect())
    }

    fn store(&mut self, sessions: &[(u64, u64, Vec<Value>)], ctx: &mut Context) -> Result<(), OpError> {
        if sessions.is_empty() {
            ctx.delete(SESSIONS, &self.state_key)?;
            return Ok(());
        }
        self.value.clear();
        for (s, e, acc) in sessions {
            row::encode(&[Value::Int(*s as i64), Value::Int(*e as i64)], &mut self.value);
            row::encode(acc, &mut self.value);
        }
        ctx.put(SESSIONS, &self.state_key, &self.value)?;
        Ok(())
    }
}

impl Operator for SessionAggregate {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let key = (self.key)(&row);
        self.state_key.clear();
        row::encode(&key, &mut self.state_key);
        let sessions = self.load(ctx)?;
        let (mut start, mut end) = (row.ts, row.ts + self.gap);
        let mut acc = self.aggs.init();
        self.aggs.apply(&mut acc, &row, 1);
        let mut kept = Vec::with_capacity(sessions.len() + 1);
        for (s, e, a) in sessions {
            if s <= end && start <= e {
                start = start.min(s);
                end = end.max(e);
                self.aggs.merge(&mut acc, &a);
            } else {
                kept.push((s, e, a));
            }
        }
        kept.push((start, end, acc));
        kept.sort_by_key(|s| s.0);
        self.store(&kept, ctx)?;
        let k = self.state_key.clone();
        ctx.timer(end - 1, &k);
        Ok(())
    }

    fn on_timer(&mut self, time: u64, key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        self.state_key.clear();
        self.state_key.extend_from_slice(key);
        let sessions = self.load(ctx)?;
        if sessions.is_empty() {
            return Ok(());
        }
        let parts = row::decode(key)?;
        let mut left = Vec::new();
        for (s, e, acc) in sessions {
            if e - 1 <= time {
                ctx.emit((self.output)(&parts, s, e, Aggregates::values(&acc)));
            } else {
                left.push((s, e, acc));
            }
        }
        self.store(&left, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_windows_cover_a_time_exactly() {
        let w = Windows::Hop { size: 10, slide: 2 };
        let mut s = Vec::new();
        w.starts(13, &mut s);
        assert_eq!(s, vec![4, 6, 8, 10, 12]);
        w.starts(3, &mut s);
        assert_eq!(s, vec![0, 2]);
        Windows::Tumble { size: 10 }.starts(19, &mut s);
        assert_eq!(s, vec![10]);
    }
}
