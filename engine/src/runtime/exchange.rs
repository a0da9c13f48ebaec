//! Moving rows between subtasks: batches over bounded channels (a full
//! channel blocks the sender: backpressure), forward or keyed by key group.
//!
//! A keyed edge computes the row's key group once, on the sending side
//! (Flink's `KeyGroupRangeAssignment`), and ships it with the row, so the
//! receiving operator's state accesses land in that key group. Watermarks
//! and the end-of-input mark follow the rows of a channel in order, which is
//! what makes window results complete when their timer fires.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::metrics::{add_ns, JobMetrics, SubtaskMetrics};
use crate::keygroup::KeyGroups;
use crate::row::Row;

/// Computes the Java-style hash code of a row's key.
pub type KeyFn = Arc<dyn Fn(&Row) -> i32 + Send + Sync>;

/// How rows of an edge reach the downstream subtasks.
#[derive(Clone)]
pub enum Partition {
    /// Subtask i sends to subtask i (equal parallelism).
    Forward,
    /// By key group of the key's hash, to the subtask owning the group.
    Hash(KeyFn),
}

impl Partition {
    /// Keyed by the row's hash code as computed by `f`.
    pub fn by(f: impl Fn(&Row) -> i32 + Send + Sync + 'static) -> Partition {
        Partition::Hash(Arc::new(f))
    }
}

/// What travels over a channel.
pub(crate) enum Message {
    /// Rows with their key groups; `born` is when the oldest source event
    /// behind them was emitted (for end-to-end latency).
    Rows { port: u8, rows: Vec<(u16, Row)>, born: Instant },
    /// No later row from `from` on `port` has an event time below `time`.
    Watermark { port: u8, from: u32, time: u64, born: Instant },
    /// `from` has sent everything on `port`.
    End { port: u8, from: u32 },
}

/// Where an edge's receiving subtasks listen.
pub(crate) struct Edge {
    pub partition: Partition,
    pub port: u8,
    pub targets: Vec<SyncSender<Message>>,
    bufs: Vec<Vec<(u16, Row)>>,
}

impl Edge {
    pub fn new(partition: Partition, port: u8, targets: Vec<SyncSender<Message>>) -> Edge {
        let bufs = targets.iter().map(|_| Vec::new()).collect();
        Edge { partition, port, targets, bufs }
    }
}

/// The downstream side failed; its own error is the one to report.
#[derive(Debug)]
pub(crate) struct Disconnected;

/// Rows reaching the end of the graph.
pub(crate) struct Sink {
    pub collect: Option<Arc<Mutex<Vec<Row>>>>,
    pub local: Vec<Row>,
    pub job: Arc<JobMetrics>,
}

/// The output side of one subtask: its edges (or its sink), batching and
/// backpressure accounting.
pub(crate) struct Outputs {
    edges: Vec<Edge>,
    sink: Option<Sink>,
    index: u32,
    batch: usize,
    key_groups: KeyGroups,
    born: Option<Instant>,
    metrics: Arc<SubtaskMetrics>,
}

impl Outputs {
    pub fn new(
        edges: Vec<Edge>,
        sink: Option<Sink>,
        index: u32,
        batch: usize,
        key_groups: KeyGroups,
        metrics: Arc<SubtaskMetrics>,
    ) -> Outputs {
        Outputs { edges, sink, index, batch, key_groups, born: None, metrics }
    }

    /// Notes that the rows emitted from now on derive from input born at
    /// `born`.
    pub fn derive_from(&mut self, born: Instant) {
        self.born = Some(self.born.map_or(born, |b| b.min(born)));
    }

    /// Routes `rows` (drained) to every edge.
    pub fn emit_all(&mut self, rows: &mut Vec<Row>) -> Result<(), Disconnected> {
        if rows.is_empty() {
            return Ok(());
        }
        self.metrics.records_out.fetch_add(rows.len() as u64, Relaxed);
        if let Some(sink) = &mut self.sink {
            let n = rows.len() as u64;
            if let (Some(born), Ok(mut h)) = (self.born, sink.job.e2e_latency.lock()) {
                let ns = (born.elapsed().as_nanos() as u64).max(1);
                let _ = h.record_n(ns, n);
            }
            sink.job.results.fetch_add(n, Relaxed);
            if sink.collect.is_some() {
                sink.local.append(rows);
            } else {
                rows.clear();
            }
            return Ok(());
        }
        // Every edge but the last gets clones; the last takes the rows.
        let last = self.edges.len() - 1;
        for e in 0..last {
            for row in rows.iter() {
                self.route(e, row.clone())?;
            }
        }
        for row in rows.drain(..) {
            self.route(last, row)?;
        }
        Ok(())
    }

    fn route(&mut self, e: usize, row: Row) -> Result<(), Disconnected> {
        let edge = &mut self.edges[e];
        let (target, kg) = match &edge.partition {
            Partition::Forward => (self.index as usize % edge.targets.len(), 0),
            Partition::Hash(f) => {
                let kg = self.key_groups.of_hash(f(&row));
                (self.key_groups.owner(kg, edge.targets.len() as u32) as usize, kg)
            }
        };
        edge.bufs[target].push((kg, row));
        if edge.bufs[target].len() >= self.batch {
            self.send_buffer(e, target)?;
        }
        Ok(())
    }

    fn send_buffer(&mut self, e: usize, target: usize) -> Result<(), Disconnected> {
        let edge = &mut self.edges[e];
        if edge.bufs[target].is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut edge.bufs[target], Vec::with_capacity(self.batch));
        let born = self.born.unwrap_or_else(Instant::now);
        let msg = Message::Rows { port: edge.port, rows, born };
        send(&edge.targets[target], msg, &self.metrics)
    }

    /// Sends every buffered row.
    pub fn flush(&mut self) -> Result<(), Disconnected> {
        for e in 0..self.edges.len() {
            for t in 0..self.edges[e].targets.len() {
                self.send_buffer(e, t)?;
            }
        }
        if let Some(sink) = &mut self.sink {
            if let Some(all) = &sink.collect {
                if !sink.local.is_empty() {
                    if let Ok(mut all) = all.lock() {
                        all.append(&mut sink.local);
                    }
                }
            }
        }
        self.born = None;
        Ok(())
    }

    /// Flushes, then tells every downstream subtask the watermark.
    pub fn watermark(&mut self, time: u64, born: Instant) -> Result<(), Disconnected> {
        self.flush()?;
        for edge in &self.edges {
            for t in &edge.targets {
                send(t, Message::Watermark { port: edge.port, from: self.index, time, born }, &self.metrics)?;
            }
        }
        Ok(())
    }

    /// Flushes, then ends every downstream channel.
    pub fn end(&mut self) -> Result<(), Disconnected> {
        self.flush()?;
        for edge in &self.edges {
            for t in &edge.targets {
                send(t, Message::End { port: edge.port, from: self.index }, &self.metrics)?;
            }
        }
        Ok(())
    }
}

/// Sends without blocking when there is room; a blocking send counts as
/// backpressure time.
fn send(to: &SyncSender<Message>, msg: Message, metrics: &SubtaskMetrics) -> Result<(), Disconnected> {
    match to.try_send(msg) {
        Ok(()) => Ok(()),
        Err(TrySendError::Disconnected(_)) => Err(Disconnected),
        Err(TrySendError::Full(msg)) => {
            let t = Instant::now();
            let r = to.send(msg).map_err(|_| Disconnected);
            add_ns(&metrics.backpressure_ns, t.elapsed());
            r
        }
    }
}
