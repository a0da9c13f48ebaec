//! Sources: where rows enter a job. A source subtask pulls batches from a
//! [`Source`], paces them to a target rate when one is set, and derives
//! watermarks from the event time it has reached.

use std::sync::Arc;

use crate::nexmark::{event_time, Event, NexmarkParams, NexmarkSource};
use crate::row::Row;

/// How far a [`Source::fill`] call got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceProgress {
    /// Events consumed by this call (rows emitted may be fewer: a source
    /// may filter).
    pub events: usize,
    /// The largest event time seen so far, ms.
    pub event_time: u64,
    /// The source is exhausted.
    pub done: bool,
}

/// One source subtask's stream of rows, in event-time order.
pub trait Source: Send {
    /// Appends the rows of up to `max_events` events to `out`.
    fn fill(&mut self, out: &mut Vec<Row>, max_events: usize) -> SourceProgress;
}

/// Turns a Nexmark event into the row the query wants, or drops it (the
/// filters and projections Flink chains onto its source).
pub type EventMap = Arc<dyn Fn(Event) -> Option<Row> + Send + Sync>;

/// A Nexmark source subtask with a chained filter/projection.
pub struct NexmarkRows {
    events: NexmarkSource,
    map: EventMap,
    max_ts: u64,
}

impl NexmarkRows {
    /// Subtask `index` of `parallelism` of the Nexmark stream `params`.
    pub fn new(params: &NexmarkParams, index: u32, parallelism: u32, map: EventMap) -> NexmarkRows {
        NexmarkRows { events: params.source(index, parallelism), map, max_ts: 0 }
    }
}

impl Source for NexmarkRows {
    fn fill(&mut self, out: &mut Vec<Row>, max_events: usize) -> SourceProgress {
        let mut events = 0;
        for _ in 0..max_events {
            let Some((_, e)) = self.events.next() else {
                return SourceProgress { events, event_time: self.max_ts, done: true };
            };
            events += 1;
            // Watermarks follow every event, including the filtered ones,
            // so a selective filter does not hold windows back.
            self.max_ts = self.max_ts.max(event_time(&e));
            if let Some(row) = (self.map)(e) {
                out.push(row);
            }
        }
        SourceProgress { events, event_time: self.max_ts, done: self.events.remaining() == 0 }
    }
}
