//! Moving rows between subtasks: batches over bounded channels (a full
//! channel blocks the sender: backpressure), forward or keyed by key group,
//! through each edge's routing table ([`super::routing`]).
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
use super::routing::{Route, Table};
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
    /// `from` routes by table `version` of `port`'s edge from here on:
    /// every row it routed by an older table precedes this.
    Marker { port: u8, from: u32, version: u64 },
    /// `from` left the job (a retired subtask): it sends nothing more and
    /// holds no watermark back.
    Retire { port: u8, from: u32 },
    /// Stop-the-world alignment: `from` sends nothing more until the
    /// change `epoch` is done.
    Barrier { port: u8, from: u32, epoch: u64 },
    /// The subtask's inbox has control messages.
    Wake,
}

/// One sending subtask's side of an edge: the table it routes by and a
/// buffer per target.
pub(crate) struct Edge {
    route: Arc<Route>,
    table: Arc<Table>,
    bufs: Vec<Vec<(u16, Row)>>,
    next: usize,
}

impl Edge {
    pub fn new(route: Arc<Route>) -> Edge {
        let table = route.table();
        let bufs = table.targets.iter().map(|_| Vec::new()).collect();
        Edge { route, table, bufs, next: 0 }
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
    /// This subtask's id: `from` of what it sends.
    id: u32,
    /// Its position when the job started (forward edges pair positions).
    position: u32,
    batch: usize,
    key_groups: KeyGroups,
    born: Option<Instant>,
    last_watermark: Option<u64>,
    metrics: Arc<SubtaskMetrics>,
}

impl Outputs {
    pub fn new(
        edges: Vec<Edge>,
        sink: Option<Sink>,
        (id, position): (u32, u32),
        batch: usize,
        key_groups: KeyGroups,
        metrics: Arc<SubtaskMetrics>,
    ) -> Outputs {
        Outputs { edges, sink, id, position, batch, key_groups, born: None, last_watermark: None, metrics }
    }

    /// Notes that the rows emitted from now on derive from input born at
    /// `born`.
    pub fn derive_from(&mut self, born: Instant) {
        self.born = Some(self.born.map_or(born, |b| b.min(born)));
    }

    /// Moves to the newest routing table of every edge that changed: rows
    /// routed by the old one go out first, then a marker to every old and
    /// new target, then the last watermark to each new target (so it
    /// starts where the others are).
    pub fn refresh(&mut self) -> Result<(), Disconnected> {
        for e in 0..self.edges.len() {
            if self.edges[e].route.version() == self.edges[e].table.version {
                continue;
            }
            for t in 0..self.edges[e].targets_len() {
                self.send_buffer(e, t)?;
            }
            let edge = &mut self.edges[e];
            let new = edge.route.table();
            let port = edge.route.port;
            let marker = || Message::Marker { port, from: self.id, version: new.version };
            for t in &edge.table.targets {
                if new.position(t.id).is_none() {
                    send(&t.tx, marker(), &self.metrics)?;
                }
            }
            for t in &new.targets {
                send(&t.tx, marker(), &self.metrics)?;
                if let (None, Some(time)) = (edge.table.position(t.id), self.last_watermark) {
                    let born = Instant::now();
                    send(&t.tx, Message::Watermark { port, from: self.id, time, born }, &self.metrics)?;
                }
            }
            edge.bufs = new.targets.iter().map(|_| Vec::new()).collect();
            edge.table = new;
        }
        Ok(())
    }

    /// Routes `rows` (drained) to every edge.
    pub fn emit_all(&mut self, rows: &mut Vec<Row>) -> Result<(), Disconnected> {
        if rows.is_empty() {
            return Ok(());
        }
        self.metrics.records_out.fetch_add(rows.len() as u64, Relaxed);
        if let Some(sink) = &mut self.sink {
            let n = rows.len() as u64;
            if let Some(born) = self.born {
                sink.job.record_e2e((born.elapsed().as_nanos() as u64).max(1), n);
            }
            sink.job.results.fetch_add(n, Relaxed);
            if sink.collect.is_some() {
                sink.local.append(rows);
            } else {
                rows.clear();
            }
            return Ok(());
        }
        self.refresh()?;
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
        let n = edge.bufs.len();
        let (target, kg) = match &edge.route.partition {
            Partition::Forward if edge.table.pointwise => (self.position as usize % n, 0),
            Partition::Forward => {
                edge.next = (edge.next + 1) % n;
                (edge.next, 0)
            }
            Partition::Hash(f) => {
                let kg = self.key_groups.of_hash(f(&row));
                (edge.table.owner[kg as usize] as usize, kg)
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
        let msg = Message::Rows { port: edge.route.port, rows, born };
        send(&edge.table.targets[target].tx, msg, &self.metrics)
    }

    /// Sends every buffered row.
    pub fn flush(&mut self) -> Result<(), Disconnected> {
        for e in 0..self.edges.len() {
            for t in 0..self.edges[e].targets_len() {
                self.send_buffer(e, t)?;
            }
        }
        self.refresh()?;
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
        self.last_watermark = Some(time);
        self.broadcast(|port, from| Message::Watermark { port, from, time, born })
    }

    /// Flushes, then ends every downstream channel.
    pub fn end(&mut self) -> Result<(), Disconnected> {
        self.flush()?;
        self.broadcast(|port, from| Message::End { port, from })
    }

    /// Flushes, then tells every downstream subtask that this one left.
    pub fn retire(&mut self) -> Result<(), Disconnected> {
        self.flush()?;
        self.broadcast(|port, from| Message::Retire { port, from })
    }

    /// Flushes, then passes a stop-the-world barrier on.
    pub fn barrier(&mut self, epoch: u64) -> Result<(), Disconnected> {
        self.flush()?;
        self.broadcast(|port, from| Message::Barrier { port, from, epoch })
    }

    fn broadcast(&mut self, msg: impl Fn(u8, u32) -> Message) -> Result<(), Disconnected> {
        for edge in &self.edges {
            for t in &edge.table.targets {
                send(&t.tx, msg(edge.route.port, self.id), &self.metrics)?;
            }
        }
        Ok(())
    }
}

impl Edge {
    fn targets_len(&self) -> usize {
        self.bufs.len()
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
