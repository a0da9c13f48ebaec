//! A trace loaded into memory with object ids renumbered densely.
//!
//! Simulators index per-object state by dense id (an array slot instead of a
//! hash lookup per request), and every policy and cache size of a run shares
//! one loaded copy. Loading costs one hash lookup per request, paid once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::TraceReader;
use crate::error::TraceError;
use crate::request::{Op, Request};
use crate::sampling::Skipped;

/// Marks "never requested again" in [`DenseTrace::next_access`].
pub const NEVER: u32 = u32::MAX;

/// Which requests of a trace count as cache accesses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpFilter {
    /// Every request.
    #[default]
    All,
    /// Only reads (`get`, `seek`, `next`): what a read cache sees.
    Reads,
}

impl OpFilter {
    /// Whether a request of `op` counts.
    pub fn keeps(self, op: Op) -> bool {
        match self {
            OpFilter::All => true,
            OpFilter::Reads => matches!(op, Op::Get | Op::Seek | Op::Next),
        }
    }
}

/// RocksDB would insert the block with high priority (index, filter).
pub const FLAG_HIGH_PRIORITY: u8 = 1;
/// The request must not insert on a miss ([`crate::request::Tags::no_insert`]).
pub const FLAG_NO_INSERT: u8 = 2;
/// The traced system's own lookup ([`crate::request::Tags::background`]).
pub const FLAG_BACKGROUND: u8 = 4;

/// Builds a [`DenseTrace`] request by request: several traces from one
/// pass over a reader (a split by operator, or by block kind).
pub struct DenseTraceBuilder {
    trace: DenseTrace,
    map: FxHashMap<u64, u32>,
}

impl DenseTraceBuilder {
    /// An empty trace of requests read from `reader` (its path and sample
    /// rate).
    pub fn new(reader: &dyn TraceReader) -> DenseTraceBuilder {
        DenseTraceBuilder::from_source(reader.path(), reader.sample_rate())
    }

    /// An empty trace of requests from `source`, sampled at `sample_rate`.
    pub fn from_source(source: &Path, sample_rate: f64) -> DenseTraceBuilder {
        let trace = DenseTrace { sample_rate, source: source.to_path_buf(), ..Default::default() };
        DenseTraceBuilder { trace, map: FxHashMap::default() }
    }

    /// Appends a request; fails when the trace would outgrow 32-bit ids.
    pub fn push(&mut self, req: &Request) -> Result<(), TraceError> {
        self.trace.push(&mut self.map, req)
    }

    /// The trace.
    pub fn finish(self) -> DenseTrace {
        self.trace
    }
}

/// A trace in memory, columns per request, ids renumbered `0..n_objects`.
#[derive(Debug, Default)]
pub struct DenseTrace {
    /// Dense object id per request.
    pub ids: Vec<u32>,
    /// Object size per request, bytes.
    pub sizes: Vec<u32>,
    /// Timestamp per request, in the trace's unit.
    pub times: Vec<u64>,
    /// Per request, [`FLAG_HIGH_PRIORITY`], [`FLAG_NO_INSERT`] and
    /// [`FLAG_BACKGROUND`] bits.
    pub flags: Vec<u8>,
    /// Whether any request has [`FLAG_NO_INSERT`] or [`FLAG_BACKGROUND`]
    /// (simulations read the flags only then).
    pub has_flags: bool,
    /// Original id (key hash, block key hash, obj id) per dense id.
    pub keys: Vec<u64>,
    /// Spatial sampling rate the requests represent (1 = full trace).
    pub sample_rate: f64,
    /// Where the requests came from.
    pub source: PathBuf,
    next: OnceLock<Vec<u32>>,
    prev: OnceLock<Vec<u32>>,
}

impl DenseTrace {
    /// Reads a whole trace into memory.
    pub fn load(reader: &mut dyn TraceReader, filter: OpFilter) -> Result<DenseTrace, TraceError> {
        DenseTrace::load_with(reader, filter, |_| true, |_| {})
    }

    /// Reads a trace, keeping only requests `keep` accepts (MiniSim's spatial
    /// sampling uses this) and calling `progress` with the number of requests
    /// read every 2^20 requests.
    pub fn load_with(
        reader: &mut dyn TraceReader,
        filter: OpFilter,
        mut keep: impl FnMut(&Request) -> bool,
        mut progress: impl FnMut(u64),
    ) -> Result<DenseTrace, TraceError> {
        let mut t = DenseTraceBuilder::new(reader);
        let mut seen: u64 = 0;
        super::for_each_request(reader, |req| {
            seen += 1;
            if seen & ((1 << 20) - 1) == 0 {
                progress(seen);
            }
            if filter.keeps(req.op) && keep(req) {
                t.push(req)?;
            }
            Ok(())
        })?;
        progress(seen);
        Ok(t.finish())
    }

    /// Reads only the requests of objects sampled at `threshold`
    /// ([`crate::sampling`]), letting the reader skip the rest undecoded;
    /// returns the sample and what was skipped.
    pub fn load_sampled(
        reader: &mut dyn TraceReader,
        filter: OpFilter,
        threshold: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(DenseTrace, Skipped), TraceError> {
        let mut t =
            DenseTrace { sample_rate: reader.sample_rate(), source: reader.path().to_path_buf(), ..Default::default() };
        let mut map: FxHashMap<u64, u32> = FxHashMap::default();
        let mut skipped = Skipped::default();
        let mut batch = vec![Request::default(); 4096];
        loop {
            let n = reader.read_sampled(&mut batch, threshold, &mut skipped)?;
            if n == 0 {
                break;
            }
            for req in &batch[..n] {
                if !filter.keeps(req.op) {
                    skipped.requests += 1;
                    skipped.bytes += req.size as u64;
                    continue;
                }
                t.push(&mut map, req)?;
            }
            progress(t.len() as u64 + skipped.requests);
        }
        Ok((t, skipped))
    }

    fn push(&mut self, map: &mut FxHashMap<u64, u32>, req: &Request) -> Result<(), TraceError> {
        if self.ids.len() >= (NEVER - 1) as usize {
            return Err(TraceError::TooLarge {
                path: self.source.clone(),
                reason: format!("more than {} requests do not fit an in-memory simulation", NEVER - 1),
            });
        }
        let next_id = self.keys.len() as u32;
        let id = *map.entry(req.id).or_insert(next_id);
        if id == next_id {
            self.keys.push(req.id);
        }
        self.ids.push(id);
        self.sizes.push(req.size);
        self.times.push(req.time);
        let flags = (req.tags.block.is_high_priority() as u8 * FLAG_HIGH_PRIORITY)
            | (req.tags.no_insert as u8 * FLAG_NO_INSERT)
            | (req.tags.background as u8 * FLAG_BACKGROUND);
        self.has_flags |= flags & (FLAG_NO_INSERT | FLAG_BACKGROUND) != 0;
        self.flags.push(flags);
        Ok(())
    }

    /// Builds a trace from requests in memory.
    pub fn from_requests(requests: &[Request]) -> DenseTrace {
        let mut reader = super::VecReader::new(requests.to_vec());
        // A VecReader cannot fail.
        DenseTrace::load(&mut reader, OpFilter::All).unwrap_or_default()
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no requests.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of distinct objects.
    pub fn n_objects(&self) -> usize {
        self.keys.len()
    }

    /// Sum of request sizes.
    pub fn bytes_requested(&self) -> u64 {
        self.sizes.iter().map(|&s| s as u64).sum()
    }

    /// Sum of each distinct object's size (its last size in the trace).
    pub fn working_set_bytes(&self) -> u64 {
        let mut size = vec![0u32; self.n_objects()];
        for (&id, &s) in self.ids.iter().zip(&self.sizes) {
            size[id as usize] = s;
        }
        size.iter().map(|&s| s as u64).sum()
    }

    /// Largest request size.
    pub fn max_size(&self) -> u32 {
        self.sizes.iter().copied().max().unwrap_or(0)
    }

    /// Index of the next request to the same object, per request, or
    /// [`NEVER`]. Computed on first use by one backward pass.
    pub fn next_access(&self) -> &[u32] {
        self.next.get_or_init(|| {
            let mut last = vec![NEVER; self.n_objects()];
            let mut next = vec![NEVER; self.len()];
            for i in (0..self.len()).rev() {
                let id = self.ids[i] as usize;
                next[i] = last[id];
                last[id] = i as u32;
            }
            next
        })
    }

    /// Index of the previous request to the same object, per request, or
    /// [`NEVER`] on a first access. Computed on first use by one pass.
    pub fn prev_access(&self) -> &[u32] {
        self.prev.get_or_init(|| {
            let mut last = vec![NEVER; self.n_objects()];
            self.ids.iter().enumerate().map(|(i, &id)| std::mem::replace(&mut last[id as usize], i as u32)).collect()
        })
    }

    /// Index of the first request at or after `time_offset` past the first
    /// request's time.
    pub fn index_at_time(&self, time_offset: u64) -> usize {
        let Some(&t0) = self.times.first() else {
            return 0;
        };
        let limit = t0.saturating_add(time_offset);
        self.times.partition_point(|&t| t < limit)
    }
}
