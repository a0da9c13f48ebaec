//! Where an edge's rows go: a versioned table from key group to subtask
//! that the runtime replaces while the job runs.
//!
//! Every sending subtask holds the table it routes by; the edge's
//! [`Route`] holds the newest. A sender compares the two versions (one
//! atomic load) whenever it emits, flushes or forwards a watermark, and on
//! a change it first sends every row it routed by the old table, then a
//! [`Message::Marker`] to every old and new target, then routes by the new
//! table. A receiver that has the marker of every sender has seen every
//! row the old table sent it: the point where a key group's state can
//! leave (Megaphone's frontier, as a marker in each channel).

use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use super::exchange::{Message, Partition};
use super::migrate::Control;

/// A subtask's mailbox for control messages (plans, state handed over,
/// new upstream senders): unbounded, beside its bounded data channel, so
/// that handing state over never waits on a full channel. A subtask reads
/// it before every data message; [`Inbox::push`] wakes one that waits.
pub(crate) struct Inbox {
    queue: Mutex<Vec<Control>>,
    pending: AtomicBool,
}

impl Inbox {
    pub fn new() -> Arc<Inbox> {
        Arc::new(Inbox { queue: Mutex::new(Vec::new()), pending: AtomicBool::new(false) })
    }

    /// Queues `c`; `data` (the subtask's data channel) gets a wake-up
    /// when it has room (a full channel means the subtask is busy and
    /// reads the inbox before its next message anyway).
    pub fn push(&self, c: Control, data: &SyncSender<Message>) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        self.pending.store(true, Release);
        let _ = data.try_send(Message::Wake);
    }

    /// Everything queued, in order (empty without a lock when nothing is).
    pub fn take(&self) -> Vec<Control> {
        if !self.pending.load(Acquire) {
            return Vec::new();
        }
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.pending.store(false, Release);
        std::mem::take(&mut *q)
    }
}

/// One receiving subtask of an edge.
#[derive(Clone)]
pub(crate) struct Target {
    /// The subtask's id (stable across rescales; not its position).
    pub id: u32,
    /// Its data channel.
    pub tx: SyncSender<Message>,
}

/// One version of an edge's routing.
pub(crate) struct Table {
    /// Increases with every change.
    pub version: u64,
    /// The receiving subtasks, in position order.
    pub targets: Vec<Target>,
    /// Key group → index into `targets` (keyed edges).
    pub owner: Vec<u16>,
    /// Subtask i sends to target i (a forward edge whose two sides still
    /// have equal parallelism); otherwise a forward edge deals rows round
    /// robin, as Flink's rebalance.
    pub pointwise: bool,
}

impl Table {
    /// The position of the target with `id`.
    pub fn position(&self, id: u32) -> Option<usize> {
        self.targets.iter().position(|t| t.id == id)
    }
}

/// An edge into one input port of a stage: its partitioning and the
/// newest table.
pub(crate) struct Route {
    pub partition: Partition,
    pub port: u8,
    version: AtomicU64,
    table: Mutex<Arc<Table>>,
}

impl Route {
    pub fn new(partition: Partition, port: u8, table: Table) -> Arc<Route> {
        Arc::new(Route { partition, port, version: AtomicU64::new(table.version), table: Mutex::new(Arc::new(table)) })
    }

    /// The newest version (what senders compare theirs with).
    pub fn version(&self) -> u64 {
        self.version.load(Acquire)
    }

    /// The newest table.
    pub fn table(&self) -> Arc<Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs `table` (its version must exceed the current one).
    pub fn publish(&self, table: Table) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        debug_assert!(table.version > t.version);
        let v = table.version;
        *t = Arc::new(table);
        self.version.store(v, Release);
    }
}
