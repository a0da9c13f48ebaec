//! The subtask's side of a key-group migration: what a change of routing
//! asks of each subtask, and the bookkeeping of its inputs (watermarks per
//! sender, markers, barriers) that keeps results exact across it.
//!
//! One change moves a set of key groups, each from its old owner to its
//! new one, as one table version of the stage's input edges:
//! - every subtask of the stage gets a [`SubtaskPlan`] before the table is
//!   published; senders then mark the switch in each channel;
//! - a key group's old owner, once it has every sender's marker, has seen
//!   every row the old table sent it: it exports the group's state and
//!   timers ([`Handoff`]) into the new owner's inbox and deletes its copy;
//! - the new owner holds the group's rows until the handoff is in, then
//!   processes them in arrival order;
//! - while a subtask is in a change, it applies no watermark a sender sent
//!   after its marker. Both owners' watermarks then stay at or below the
//!   one at the markers, below every timer that moves, so nothing fires
//!   early, twice, or after the watermark it was due under.

use std::collections::BTreeMap;
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use super::exchange::Message;
use super::routing::Inbox;
use crate::state::transfer::Exported;

/// A control message to one subtask, through its [`Inbox`].
pub(crate) enum Control {
    /// A change of routing begins: what this subtask gives and receives.
    Begin(Box<SubtaskPlan>),
    /// Key groups arrive from their old owner.
    Handoff(Box<Handoff>),
    /// A subtask started upstream and will send on `port`.
    Join { port: u8, from: u32 },
}

/// Where a subtask reaches another: its inbox and its data channel.
#[derive(Clone)]
pub(crate) struct Peer {
    pub inbox: Arc<Inbox>,
    pub tx: SyncSender<Message>,
}

/// One subtask's part of a change.
pub(crate) struct SubtaskPlan {
    /// The table version the change installs.
    pub version: u64,
    /// Key groups leaving this subtask, by new owner.
    pub outgoing: Vec<(Peer, Vec<u16>)>,
    /// Key groups arriving here.
    pub incoming: Vec<u16>,
    /// The subtask owns nothing once the change is done: it leaves.
    pub retire: bool,
    /// Compare each group's checksum before and after the move.
    pub verify: bool,
    /// Where the subtask reports.
    pub done: Sender<SubtaskDone>,
}

/// A timer that moves with its key group: (processing time?, time, key
/// group, key).
pub(crate) type MovedTimer = (bool, u64, u16, Vec<u8>);

/// State and timers of key groups, from the old owner to the new.
pub(crate) struct Handoff {
    pub from: u32,
    pub state: Exported,
    pub timers: Vec<MovedTimer>,
    /// Per group, its checksum at the old owner (when verifying).
    pub checksums: Option<Vec<(u16, u64)>>,
}

/// What a subtask reports at the end of its part of a change.
#[derive(Debug, Default)]
pub(crate) struct SubtaskDone {
    /// Groups, keys and bytes it sent.
    pub groups_out: u64,
    pub keys_out: u64,
    pub bytes_out: u64,
    /// Timers it sent.
    pub timers_out: u64,
    /// Time spent exporting and deleting.
    pub export_time: Duration,
    /// The longest any row of an arriving group was held here.
    pub max_hold: Duration,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// One upstream subtask as a receiver sees it.
#[derive(Clone, Copy, Debug)]
struct SenderState {
    watermark: u64,
    /// Its marker of the change in progress has arrived.
    marked: bool,
    /// Its watermark after the marker, applied when the change is done.
    deferred: Option<u64>,
    ended: bool,
    barrier: u64,
}

impl SenderState {
    fn new() -> SenderState {
        SenderState { watermark: 0, marked: false, deferred: None, ended: false, barrier: 0 }
    }
}

/// A subtask's inputs: per port, per upstream subtask id, its watermark and
/// where it is in a change.
pub(crate) struct Inputs {
    ports: Vec<BTreeMap<u32, SenderState>>,
    /// The subtask's watermark: the least of its senders'.
    pub current: u64,
}

impl Inputs {
    /// Inputs from the subtasks `senders[port]`.
    pub fn new(senders: &[Vec<u32>]) -> Inputs {
        Inputs {
            ports: senders.iter().map(|ids| ids.iter().map(|&id| (id, SenderState::new())).collect()).collect(),
            current: 0,
        }
    }

    fn sender(&mut self, port: u8, from: u32) -> &mut SenderState {
        self.ports[port as usize].entry(from).or_insert_with(SenderState::new)
    }

    /// A new upstream subtask (it holds the watermark back until it sends
    /// one of its own).
    pub fn join(&mut self, port: u8, from: u32) {
        self.sender(port, from);
    }

    /// `from`'s watermark; while `in_change`, one sent after its marker
    /// waits. Returns the subtask's new watermark when it advanced.
    pub fn watermark(&mut self, port: u8, from: u32, time: u64, in_change: bool) -> Option<u64> {
        let s = self.sender(port, from);
        if in_change && s.marked {
            s.deferred = Some(s.deferred.map_or(time, |d| d.max(time)));
            return None;
        }
        s.watermark = s.watermark.max(time);
        self.advance()
    }

    /// `from` ended its input on `port` (a final watermark).
    pub fn end(&mut self, port: u8, from: u32, in_change: bool) -> Option<u64> {
        self.sender(port, from).ended = true;
        self.watermark(port, from, u64::MAX, in_change)
    }

    /// `from` left the job.
    pub fn retire(&mut self, port: u8, from: u32) -> Option<u64> {
        self.ports[port as usize].remove(&from);
        self.advance()
    }

    /// `from`'s marker of table `version` arrived.
    pub fn mark(&mut self, port: u8, from: u32) {
        self.sender(port, from).marked = true;
    }

    /// Every sender's marker is in (an ended sender sends none and needs
    /// none: every row it sent came before its end).
    pub fn all_marked(&self) -> bool {
        self.ports.iter().flat_map(|p| p.values()).all(|s| s.marked || s.ended)
    }

    /// The change is done: deferred watermarks apply, markers reset.
    pub fn release(&mut self) -> Option<u64> {
        for s in self.ports.iter_mut().flat_map(|p| p.values_mut()) {
            s.marked = false;
            if let Some(d) = s.deferred.take() {
                s.watermark = s.watermark.max(d);
            }
        }
        self.advance()
    }

    /// `from` passed barrier `epoch`; true once every sender has.
    pub fn barrier(&mut self, port: u8, from: u32, epoch: u64) -> bool {
        let s = self.sender(port, from);
        s.barrier = s.barrier.max(epoch);
        self.ports.iter().flat_map(|p| p.values()).all(|s| s.barrier >= epoch || s.ended)
    }

    /// Every input has ended.
    pub fn all_ended(&self) -> bool {
        self.ports.iter().flat_map(|p| p.values()).all(|s| s.ended && s.deferred.is_none())
    }

    fn advance(&mut self) -> Option<u64> {
        let min = self.ports.iter().flat_map(|p| p.values()).map(|s| s.watermark).min().unwrap_or(u64::MAX);
        (min > self.current).then(|| {
            self.current = min;
            min
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_after_a_marker_wait_for_the_change() {
        let mut i = Inputs::new(&[vec![1, 2]]);
        assert_eq!(i.watermark(0, 1, 10, true), None);
        assert_eq!(i.watermark(0, 2, 15, true), Some(10));
        i.mark(0, 1);
        assert!(!i.all_marked());
        assert_eq!(i.watermark(0, 1, 20, true), None, "after its marker, sender 1 waits");
        i.mark(0, 2);
        assert!(i.all_marked());
        assert_eq!(i.release(), Some(15));
        assert_eq!(i.watermark(0, 2, 30, false), Some(20));
    }

    #[test]
    fn joined_senders_hold_back_and_retired_ones_release() {
        let mut i = Inputs::new(&[vec![1]]);
        assert_eq!(i.watermark(0, 1, 10, false), Some(10));
        i.join(0, 7);
        assert_eq!(i.watermark(0, 1, 20, false), None, "the new sender holds the watermark at 10");
        assert_eq!(i.watermark(0, 7, 25, false), Some(20));
        assert_eq!(i.retire(0, 1), Some(25));
        assert!(!i.all_ended());
        assert_eq!(i.end(0, 7, false), Some(u64::MAX));
        assert!(i.all_ended());
    }

    #[test]
    fn ended_senders_count_as_marked_and_aligned() {
        let mut i = Inputs::new(&[vec![1], vec![2]]);
        i.end(1, 2, false);
        i.mark(0, 1);
        assert!(i.all_marked());
        assert!(i.barrier(0, 1, 3));
    }
}
