//! Several traces as one, in time order: the subtasks of an operator share
//! one block cache, so their per-DB block traces interleave by timestamp
//! into the sequence of lookups that cache saw.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use super::{Format, TraceReader};
use crate::error::TraceError;
use crate::request::Request;

/// Reads the requests of every input in timestamp order (ties: input
/// order). Each input must be in time order itself.
pub struct MergedReader {
    inputs: Vec<Box<dyn TraceReader>>,
    /// Next request of each input not yet served, keyed by (time, input).
    heads: BinaryHeap<Reverse<(u64, usize)>>,
    pending: Vec<Option<Request>>,
    started: bool,
}

impl MergedReader {
    /// Merges `inputs` (at least one).
    pub fn new(inputs: Vec<Box<dyn TraceReader>>) -> MergedReader {
        let n = inputs.len();
        MergedReader { inputs, heads: BinaryHeap::new(), pending: vec![None; n], started: false }
    }

    fn refill(&mut self, i: usize) -> Result<(), TraceError> {
        let mut r = Request::default();
        if self.inputs[i].read(&mut r)? {
            self.heads.push(Reverse((r.time, i)));
            self.pending[i] = Some(r);
        } else {
            self.pending[i] = None;
        }
        Ok(())
    }
}

impl TraceReader for MergedReader {
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        if !self.started {
            self.started = true;
            for i in 0..self.inputs.len() {
                self.refill(i)?;
            }
        }
        let Some(Reverse((_, i))) = self.heads.pop() else {
            return Ok(false);
        };
        *req = self.pending[i].take().expect("a head has a pending request");
        self.refill(i)?;
        Ok(true)
    }

    fn format(&self) -> Format {
        self.inputs.first().map_or(Format::Oracle, |r| r.format())
    }

    fn path(&self) -> &Path {
        self.inputs.first().map_or(Path::new("<no input>"), |r| r.path())
    }

    fn stream_names(&self) -> Vec<(u32, String)> {
        let mut names: Vec<(u32, String)> = self.inputs.iter().flat_map(|r| r.stream_names()).collect();
        names.sort();
        names.dedup();
        names
    }

    fn sample_rate(&self) -> f64 {
        self.inputs.first().map_or(1.0, |r| r.sample_rate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::VecReader;

    fn at(times: &[u64], id: u64) -> Box<dyn TraceReader> {
        Box::new(VecReader::new(
            times.iter().map(|&t| Request { time: t, id, size: 1, ..Default::default() }).collect(),
        ))
    }

    #[test]
    fn interleaves_by_time() {
        let mut m = MergedReader::new(vec![at(&[1, 4, 9], 1), at(&[2, 3, 10], 2), at(&[], 3)]);
        let mut r = Request::default();
        let mut got = Vec::new();
        while m.read(&mut r).unwrap() {
            got.push((r.time, r.id));
        }
        assert_eq!(got, vec![(1, 1), (2, 2), (3, 2), (4, 1), (9, 1), (10, 2)]);
    }
}
