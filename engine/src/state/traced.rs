//! Key-level access traces: a [`StateStore`] wrapper that records every
//! state access in memscale's key-trace format, fully or spatially sampled
//! by key hash (the SHARDS rule of [`cachesim::sampling`], so `memscale mrc
//! --algo shards` rescales the sample).
//!
//! Recording is a hash, a comparison and a push into a per-subtask buffer;
//! full buffers go over a channel to one writer thread per trace file, so
//! file I/O stays off the record path.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Instant;

use cachesim::hash::hash_bytes;
use cachesim::request::Op;
use cachesim::sampling::{sample_hash, threshold};
use cachesim::trace::memscale::{Header, KeyAccess, MemscaleWriter, OperatorName};
use cachesim::{ConfigError, TraceError};

use super::{StateError, StateId, StateStore};

const BATCH: usize = 4096;
/// Batches in flight before a recording subtask waits for the writer.
const QUEUE: usize = 64;

/// The writer side of a key trace: owns the file and its thread.
pub struct KeyTraceWriter {
    tx: Option<SyncSender<Vec<KeyAccess>>>,
    thread: Option<JoinHandle<Result<u64, TraceError>>>,
    threshold: u64,
    start: Instant,
}

impl KeyTraceWriter {
    /// Creates `path` (zstd-compressed when it ends in `.zst`) naming
    /// `operators`, sampling keys at `rate` (1 = every access).
    pub fn create(path: &Path, operators: &[(u16, &str)], rate: f64) -> Result<KeyTraceWriter, TraceError> {
        let threshold = threshold(rate).map_err(|e: ConfigError| TraceError::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            what: "trace options",
            reason: e.to_string(),
        })?;
        let header = Header {
            sample_rate: rate,
            time_base_us: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0),
            operators: operators
                .iter()
                .map(|&(id, name)| OperatorName { id: id as u32, name: name.to_string() })
                .collect(),
        };
        let compress = path.extension().is_some_and(|e| e == "zst");
        let mut file = MemscaleWriter::create(path, &header, compress)?;
        let (tx, rx): (SyncSender<Vec<KeyAccess>>, Receiver<Vec<KeyAccess>>) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("key-trace-writer".into())
            .spawn(move || {
                for batch in rx {
                    for a in &batch {
                        file.write(a)?;
                    }
                }
                file.finish()
            })
            .map_err(|e| TraceError::io(path, e))?;
        Ok(KeyTraceWriter { tx: Some(tx), thread: Some(thread), threshold, start: Instant::now() })
    }

    /// A recorder for one operator subtask.
    pub fn recorder(&self, operator: u16, subtask: u16) -> KeyRecorder {
        KeyRecorder {
            tx: self.tx.clone(),
            threshold: self.threshold,
            start: self.start,
            operator,
            subtask,
            buf: Vec::with_capacity(BATCH),
        }
    }

    /// Waits for every recorder to be dropped or flushed, then closes the
    /// file; returns the number of accesses written.
    pub fn finish(mut self) -> Result<u64, TraceError> {
        drop(self.tx.take());
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(TraceError::Corrupt {
                path: "<key trace>".into(),
                offset: 0,
                what: "key trace writer",
                reason: "the writer thread panicked".into(),
            }),
            None => Ok(0),
        }
    }
}

/// Records one subtask's accesses into batches for the writer.
pub struct KeyRecorder {
    tx: Option<SyncSender<Vec<KeyAccess>>>,
    threshold: u64,
    start: Instant,
    operator: u16,
    subtask: u16,
    buf: Vec<KeyAccess>,
}

impl KeyRecorder {
    /// Records an access to `key` of key group `kg` in `state`.
    #[inline]
    pub fn record(&mut self, op: Op, state: StateId, kg: u16, key: &[u8], value_len: usize) {
        // The identity of an entry: its state, key group and key.
        let key_hash = hash_bytes(key) ^ ((state.0 as u64) << 48 | (kg as u64) << 32).rotate_left(7);
        if sample_hash(key_hash) >= self.threshold {
            return;
        }
        self.buf.push(KeyAccess {
            time_us: self.start.elapsed().as_micros() as u64,
            key_hash,
            value_len: value_len.min(u32::MAX as usize) as u32,
            key_len: key.len().min(u16::MAX as usize) as u16,
            key_group: kg,
            operator: self.operator,
            subtask: self.subtask,
            op,
        });
        if self.buf.len() == BATCH {
            self.flush();
        }
    }

    /// Hands the buffered accesses to the writer.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        if let Some(tx) = &self.tx {
            // A writer that failed has closed its end; its error surfaces in
            // `KeyTraceWriter::finish`.
            if tx.send(full).is_err() {
                self.tx = None;
            }
        }
    }
}

impl Drop for KeyRecorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A store whose every access is recorded.
pub struct Traced<S> {
    inner: S,
    recorder: KeyRecorder,
}

impl<S: StateStore> Traced<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, recorder: KeyRecorder) -> Traced<S> {
        Traced { inner, recorder }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: StateStore> StateStore for Traced<S> {
    fn get(&mut self, state: StateId, kg: u16, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError> {
        let found = self.inner.get(state, kg, key, value)?;
        self.recorder.record(Op::Get, state, kg, key, value.len());
        Ok(found)
    }

    fn put(&mut self, state: StateId, kg: u16, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.recorder.record(Op::Put, state, kg, key, value.len());
        self.inner.put(state, kg, key, value)
    }

    fn merge(&mut self, state: StateId, kg: u16, key: &[u8], operand: &[u8]) -> Result<(), StateError> {
        self.recorder.record(Op::Merge, state, kg, key, operand.len());
        self.inner.merge(state, kg, key, operand)
    }

    fn delete(&mut self, state: StateId, kg: u16, key: &[u8]) -> Result<(), StateError> {
        self.recorder.record(Op::Delete, state, kg, key, 0);
        self.inner.delete(state, kg, key)
    }

    fn scan(
        &mut self,
        state: StateId,
        kg: u16,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        self.recorder.record(Op::Seek, state, kg, prefix, 0);
        let recorder = &mut self.recorder;
        self.inner.scan(state, kg, prefix, &mut |k, v| {
            recorder.record(Op::Next, state, kg, k, v.len());
            f(k, v)
        })
    }

    fn delete_prefix(&mut self, state: StateId, kg: u16, prefix: &[u8]) -> Result<(), StateError> {
        self.recorder.record(Op::Delete, state, kg, prefix, 0);
        self.inner.delete_prefix(state, kg, prefix)
    }

    fn delete_key_groups(&mut self, groups: std::ops::RangeInclusive<u16>) -> Result<(), StateError> {
        self.inner.delete_key_groups(groups)
    }

    /// Not an access: nothing is recorded (RocksDB drops the entries in
    /// compactions, which the trace does not see either).
    fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError> {
        self.inner.expire(state, before)
    }

    fn stats(&self) -> Option<super::StoreStats> {
        self.inner.stats()
    }

    fn attach_thread(&mut self) {
        self.inner.attach_thread()
    }

    fn state_count(&self) -> usize {
        self.inner.state_count()
    }

    /// A move is not an access of the operator's: not recorded.
    fn export_key_groups(
        &mut self,
        groups: &[u16],
        scratch: &std::path::Path,
    ) -> Result<super::transfer::Exported, StateError> {
        self.inner.export_key_groups(groups, scratch)
    }

    fn export_key_group_sets(
        &mut self,
        sets: &[Vec<u16>],
        scratch: &std::path::Path,
    ) -> Result<Vec<super::transfer::Exported>, StateError> {
        self.inner.export_key_group_sets(sets, scratch)
    }

    fn import_key_groups(&mut self, data: super::transfer::Exported) -> Result<(), StateError> {
        self.inner.import_key_groups(data)
    }

    fn finish(&mut self) -> Result<(), StateError> {
        self.recorder.flush();
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use cachesim::trace::memscale::MemscaleReader;

    fn run(rate: f64) -> (Vec<KeyAccess>, Header) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.mstrace.zst");
        let writer = KeyTraceWriter::create(&path, &[(0, "join"), (1, "agg")], rate).unwrap();
        for (op, subtask) in [(0u16, 0u16), (0, 1), (1, 0)] {
            let mut s = Traced::new(MemoryStore::new(2), writer.recorder(op, subtask));
            let mut v = Vec::new();
            for i in 0..10_000u32 {
                let key = (i % 500).to_be_bytes();
                s.put(StateId(0), (i % 128) as u16, &key, &[1, 2, 3]).unwrap();
                s.get(StateId(0), (i % 128) as u16, &key, &mut v).unwrap();
            }
            s.scan(StateId(0), 3, b"", &mut |_, _| true).unwrap();
        }
        writer.finish().unwrap();
        let mut r = MemscaleReader::open(&path).unwrap();
        let header = r.header().clone();
        let mut out = Vec::new();
        while let Some(a) = r.read_access().unwrap() {
            out.push(a);
        }
        (out, header)
    }

    #[test]
    fn every_access_is_recorded() {
        let (all, header) = run(1.0);
        assert_eq!(header.operators.len(), 2);
        let puts = all.iter().filter(|a| a.op == Op::Put).count();
        let gets = all.iter().filter(|a| a.op == Op::Get).count();
        assert_eq!((puts, gets), (30_000, 30_000));
        assert_eq!(all.iter().filter(|a| a.op == Op::Seek).count(), 3);
        assert!(all.iter().filter(|a| a.op == Op::Next).count() > 0);
        assert!(all.iter().filter(|a| a.op == Op::Get).all(|a| a.value_len == 3 && a.key_len == 4));
        assert_eq!(all.iter().filter(|a| a.operator == 0 && a.subtask == 1).count(), all.len() / 3);
    }

    #[test]
    fn sampling_keeps_whole_keys() {
        let (all, _) = run(1.0);
        let (sampled, header) = run(0.1);
        assert_eq!(header.sample_rate, 0.1);
        let kept: std::collections::HashSet<u64> = sampled.iter().map(|a| a.key_hash).collect();
        // Every access to a sampled key is there, and only those.
        let expected = all.iter().filter(|a| kept.contains(&a.key_hash)).count();
        assert_eq!(sampled.len(), expected);
        let ratio = sampled.len() as f64 / all.len() as f64;
        assert!((0.05..0.2).contains(&ratio), "sampled {ratio}");
    }
}
