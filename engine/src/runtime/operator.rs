//! What an operator sees: its input rows, its keyed state and its timers,
//! through a [`Context`]. Routing, key groups and state placement belong to
//! the runtime.

use std::collections::{BTreeMap, BTreeSet};

use crate::row::{DecodeError, Row};
use crate::state::{StateError, StateId, StateStore};

/// Why an operator failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The state backend failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// State held bytes that do not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A sink could not write its output.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// A stateful or stateless stream operator (one instance per subtask).
///
/// Event-time timers fire in time order once the watermark reaches them,
/// with the context set to the key group they were registered in; at the
/// end of the input the watermark jumps to `u64::MAX`, so every pending
/// timer fires and nothing is left behind.
pub trait Operator: Send {
    /// Handles one row arriving on input `port`.
    fn process(&mut self, port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError>;

    /// An event-time timer registered with [`Context::timer`] fired.
    fn on_timer(&mut self, _time: u64, _key: &[u8], _ctx: &mut Context) -> Result<(), OpError> {
        Ok(())
    }

    /// A processing-time timer registered with [`Context::processing_timer`]
    /// fired (late timers fire at the end of the input).
    fn on_processing_timer(&mut self, _time: u64, _key: &[u8], _ctx: &mut Context) -> Result<(), OpError> {
        Ok(())
    }

    /// The end of an input batch: an operator that pre-aggregates rows in
    /// memory (Flink's mini-batch) writes them to state now. Called after
    /// every batch and before any timer fires, so timers see every row
    /// that arrived before the watermark.
    fn flush(&mut self, _ctx: &mut Context) -> Result<(), OpError> {
        Ok(())
    }
}

/// Pending timers of one subtask.
#[derive(Default)]
pub(crate) struct Timers {
    pub event: TimerSet,
    pub processing: TimerSet,
}

/// Timers as (time, key group, key), fired in that order; registering one
/// twice keeps one. Keys are grouped under their (time, key group), so a
/// timer registered again (WindowJoin registers one per row) is found
/// without copying its key.
#[derive(Default)]
pub(crate) struct TimerSet {
    by_time: BTreeMap<(u64, u16), BTreeSet<Vec<u8>>>,
}

impl TimerSet {
    /// Registers a timer; copies the key only when it is new.
    pub fn insert(&mut self, time: u64, kg: u16, key: &[u8]) {
        let keys = self.by_time.entry((time, kg)).or_default();
        if !keys.contains(key) {
            keys.insert(key.to_vec());
        }
    }

    /// Registers a timer whose key is already owned (a moved timer).
    pub fn insert_owned(&mut self, time: u64, kg: u16, key: Vec<u8>) {
        self.by_time.entry((time, kg)).or_default().insert(key);
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    /// Removes and returns the earliest timer at or before `time`.
    pub fn pop_due(&mut self, time: u64) -> Option<(u64, u16, Vec<u8>)> {
        let mut first = self.by_time.first_entry()?;
        let (t, kg) = *first.key();
        if t > time {
            return None;
        }
        let key = first.get_mut().pop_first();
        if first.get().is_empty() {
            first.remove();
        }
        key.map(|k| (t, kg, k))
    }

    /// Removes every timer of the key groups `take` accepts, returning
    /// them as (time, key group, key).
    pub fn take_groups(&mut self, mut take: impl FnMut(u16) -> bool) -> Vec<(u64, u16, Vec<u8>)> {
        let mut out = Vec::new();
        self.by_time.retain(|&(time, kg), keys| {
            if take(kg) {
                out.extend(std::mem::take(keys).into_iter().map(|k| (time, kg, k)));
                false
            } else {
                true
            }
        });
        out
    }
}

/// An operator's view of the runtime while it handles one row or timer.
pub struct Context<'a> {
    pub(crate) subtask: u32,
    pub(crate) key_group: u16,
    pub(crate) watermark: u64,
    pub(crate) state: &'a mut dyn StateStore,
    pub(crate) out: &'a mut Vec<Row>,
    pub(crate) timers: &'a mut Timers,
}

impl Context<'_> {
    /// The id of the running subtask: unique in the job over its whole
    /// life (rescales start subtasks with new ids, never reuse one).
    pub fn subtask(&self) -> u32 {
        self.subtask
    }

    /// The key group of the current row or timer.
    pub fn key_group(&self) -> u16 {
        self.key_group
    }

    /// Switches to key group `kg` (for operators flushing rows they
    /// buffered from several key groups).
    pub(crate) fn set_key_group(&mut self, kg: u16) {
        self.key_group = kg;
    }

    /// The current event-time watermark (0 before the first).
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Reads `key` of the current key group in `state` into `value`.
    pub fn get(&mut self, state: StateId, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError> {
        self.state.get(state, self.key_group, key, value)
    }

    /// Writes `key` of the current key group.
    pub fn put(&mut self, state: StateId, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.state.put(state, self.key_group, key, value)
    }

    /// Appends `operand` to the value of `key` of the current key group,
    /// without reading it.
    pub fn merge(&mut self, state: StateId, key: &[u8], operand: &[u8]) -> Result<(), StateError> {
        self.state.merge(state, self.key_group, key, operand)
    }

    /// Removes every key of the current key group starting with `prefix`.
    pub fn delete_prefix(&mut self, state: StateId, prefix: &[u8]) -> Result<(), StateError> {
        self.state.delete_prefix(state, self.key_group, prefix)
    }

    /// Declares the entries of `state` whose key ends with a time before
    /// `before` dead, in every key group ([`StateStore::expire`]).
    pub fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError> {
        self.state.expire(state, before)
    }

    /// Removes `key` of the current key group.
    pub fn delete(&mut self, state: StateId, key: &[u8]) -> Result<(), StateError> {
        self.state.delete(state, self.key_group, key)
    }

    /// Visits the entries of the current key group whose key starts with
    /// `prefix`, in key order, while `f` returns `true`.
    pub fn scan(
        &mut self,
        state: StateId,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        self.state.scan(state, self.key_group, prefix, f)
    }

    /// Sends a row downstream.
    pub fn emit(&mut self, row: Row) {
        self.out.push(row);
    }

    /// Calls [`Operator::on_timer`] with `key` once the watermark reaches
    /// `time` (registering the same timer twice fires it once).
    pub fn timer(&mut self, time: u64, key: &[u8]) {
        self.timers.event.insert(time, self.key_group, key);
    }

    /// Calls [`Operator::on_processing_timer`] at wall-clock `time` (ms
    /// since the epoch).
    pub fn processing_timer(&mut self, time: u64, key: &[u8]) {
        self.timers.processing.insert(time, self.key_group, key);
    }

    /// Wall-clock time, ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// Wall-clock time, ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
