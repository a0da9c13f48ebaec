//! Summary statistics of a trace, computed in one streaming pass.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::TraceReader;
use crate::error::TraceError;
use crate::request::{Op, Request};

/// Per-stream (operator or column family) figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamStats {
    /// Stream id.
    pub id: u32,
    /// Name from the trace, if it has one.
    pub name: Option<String>,
    /// Requests.
    pub requests: u64,
    /// Distinct objects.
    pub objects: u64,
    /// Bytes requested.
    pub bytes_requested: u64,
    /// Sum of distinct objects' last sizes.
    pub working_set_bytes: u64,
}

/// Object-size distribution over requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SizeStats {
    /// Smallest request size.
    pub min: u32,
    /// Largest.
    pub max: u32,
    /// Mean.
    pub mean: f64,
    /// Requests per power-of-two size class: `(upper bound, count)`, where
    /// a class holds sizes in `(bound / 2, bound]`.
    pub histogram: Vec<(u64, u64)>,
}

/// What `memscale trace info` reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TraceStats {
    /// File.
    pub path: String,
    /// Format.
    pub format: String,
    /// Requests.
    pub requests: u64,
    /// Distinct objects.
    pub objects: u64,
    /// Bytes requested.
    pub bytes_requested: u64,
    /// Sum of distinct objects' last sizes.
    pub working_set_bytes: u64,
    /// First timestamp.
    pub first_time: u64,
    /// Last timestamp.
    pub last_time: u64,
    /// Spatial sampling rate of the trace.
    pub sample_rate: f64,
    /// Requests per operation.
    pub ops: BTreeMap<String, u64>,
    /// Requests the trace marked as hits, when it records them.
    pub recorded_hits: Option<u64>,
    /// Size distribution.
    pub sizes: SizeStats,
    /// Per-stream breakdown, by stream id.
    pub streams: Vec<StreamStats>,
}

/// Reads the whole trace and summarizes it.
pub fn summarize(reader: &mut dyn TraceReader, mut progress: impl FnMut(u64)) -> Result<TraceStats, TraceError> {
    let mut req = Request::default();
    let mut st = TraceStats {
        path: reader.path().display().to_string(),
        format: reader.format().to_string(),
        ..Default::default()
    };
    // Object -> (last size, stream).
    let mut objects: FxHashMap<u64, (u32, u32)> = FxHashMap::default();
    let mut streams: BTreeMap<u32, StreamStats> = BTreeMap::new();
    let mut classes = [0u64; 33];
    let mut ops = [0u64; 6];
    let mut hits = 0u64;
    let mut any_recorded = false;
    let (mut min, mut max) = (u32::MAX, 0u32);
    while reader.read(&mut req)? {
        if st.requests == 0 {
            st.first_time = req.time;
        }
        st.requests += 1;
        if st.requests & ((1 << 20) - 1) == 0 {
            progress(st.requests);
        }
        st.last_time = req.time;
        st.bytes_requested += req.size as u64;
        min = min.min(req.size);
        max = max.max(req.size);
        classes[(32 - req.size.saturating_sub(1).leading_zeros()) as usize] += 1;
        ops[req.op as usize] += 1;
        if let Some(h) = req.tags.recorded_hit {
            any_recorded = true;
            hits += h as u64;
        }
        let s =
            streams.entry(req.tags.stream).or_insert_with(|| StreamStats { id: req.tags.stream, ..Default::default() });
        s.requests += 1;
        s.bytes_requested += req.size as u64;
        if objects.insert(req.id, (req.size, req.tags.stream)).is_none() {
            s.objects += 1;
        }
    }
    progress(st.requests);
    if st.requests == 0 {
        return Err(TraceError::Empty { path: reader.path().to_path_buf() });
    }
    st.objects = objects.len() as u64;
    for &(size, stream) in objects.values() {
        st.working_set_bytes += size as u64;
        if let Some(s) = streams.get_mut(&stream) {
            s.working_set_bytes += size as u64;
        }
    }
    for (id, name) in reader.stream_names() {
        if let Some(s) = streams.get_mut(&id) {
            s.name = Some(name);
        }
    }
    st.sample_rate = reader.sample_rate();
    st.ops = Op::ALL
        .iter()
        .filter(|op| ops[**op as usize] > 0)
        .map(|op| (op.name().to_string(), ops[*op as usize]))
        .collect();
    st.recorded_hits = any_recorded.then_some(hits);
    st.sizes = SizeStats {
        min,
        max,
        mean: st.bytes_requested as f64 / st.requests as f64,
        histogram: classes.iter().enumerate().filter(|(_, &c)| c > 0).map(|(k, &c)| (1u64 << k, c)).collect(),
    };
    st.streams = streams.into_values().collect();
    Ok(st)
}
