//! RocksDB's binary block-cache trace, as written by
//! `DB::StartBlockCacheTrace` and `db_bench -block_cache_trace_file`.
//!
//! Every record is `u64 timestamp_us | u8 type | u32 payload_len | payload`
//! (little-endian). The first record (type 1, trace begin) carries the magic
//! `feedcafedeadbeef` and RocksDB's major and minor version. An access
//! payload is: block key (varint32-prefixed), u64 block size, u64 cf id, cf
//! name (prefixed), u32 level, u64 SST file number, u8 caller, u8 is_hit,
//! u8 no_insert; for Get and MultiGet callers then u64 get id, u8
//! from-snapshot and the referenced key (prefixed); for those callers on
//! data blocks then u64 referenced data size, u64 keys in block and u8 key
//! exists. Callers (RocksDB's `TableReaderCaller`): 1 Get, 2 MultiGet,
//! 3 iterator, 9 prefetch, 10 compaction. Block types: 7 index, 8 filter, 9 data, 10 dictionary, 11 range
//! deletion.
//!
//! The block key becomes the request id through a pinned hash
//! ([`crate::hash::hash_bytes`]). The stream tag numbers column families by
//! name, in order of first appearance: column-family ids are per DB, so in
//! traces of several DBs (one per operator subtask) the same id can mean
//! different states, while the same name means the same one.

use std::path::Path;

use super::source::{le_u32, le_u64, ByteSource};
use super::{Format, TraceReader};
use crate::error::TraceError;
use crate::hash::hash_bytes;
use crate::request::{BlockKind, Request, Tags};

/// The magic string in the header record.
pub const MAGIC: &[u8] = b"feedcafedeadbeef";
const TYPE_BEGIN: u8 = 1;
const TYPE_END: u8 = 2;
const CALLER_GET: u8 = 1;
const CALLER_MULTI_GET: u8 = 2;
const CALLER_ITERATOR: u8 = 3;
const MAX_PAYLOAD: u32 = 64 << 20;

/// Streams a RocksDB block-cache trace.
pub struct RocksDbReader {
    src: ByteSource,
    payload: Vec<u8>,
    version: (u32, u32),
    start_time_us: u64,
    cf_names: Vec<(u32, String)>,
}

/// A parse cursor over one payload, reporting failures at the record.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| le_u32(b, 0))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| le_u64(b, 0))
    }
    fn varint32(&mut self) -> Option<u32> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u32) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let n = self.varint32()? as usize;
        self.take(n)
    }
}

impl RocksDbReader {
    /// Opens a trace and checks its header.
    pub fn open(path: &Path) -> Result<RocksDbReader, TraceError> {
        let mut r = RocksDbReader {
            src: ByteSource::open(path)?,
            payload: Vec::with_capacity(256),
            version: (0, 0),
            start_time_us: 0,
            cf_names: Vec::new(),
        };
        let Some((ts, ty)) = r.next_record()? else {
            return Err(TraceError::Empty { path: path.to_path_buf() });
        };
        let mut c = Cursor { bytes: &r.payload, pos: 0 };
        let ok = ty == TYPE_BEGIN && c.prefixed() == Some(MAGIC);
        if !ok {
            return Err(r.src.corrupt(0, "RocksDB trace header", "no trace-begin record with magic feedcafedeadbeef"));
        }
        let (Some(major), Some(minor)) = (c.u32(), c.u32()) else {
            return Err(r.src.corrupt(0, "RocksDB trace header", "header ends before the RocksDB version"));
        };
        r.version = (major, minor);
        r.start_time_us = ts;
        Ok(r)
    }

    /// RocksDB major and minor version that wrote the trace.
    pub fn rocksdb_version(&self) -> (u32, u32) {
        self.version
    }

    /// Time of the header record, in microseconds since the Unix epoch.
    pub fn start_time_us(&self) -> u64 {
        self.start_time_us
    }

    /// Reads one raw record into `self.payload`; returns timestamp and type.
    fn next_record(&mut self) -> Result<Option<(u64, u8)>, TraceError> {
        let mut head = [0u8; 13];
        let at = self.src.offset();
        if !self.src.read_record(&mut head, "RocksDB trace record header")? {
            return Ok(None);
        }
        let ts = le_u64(&head, 0);
        let ty = head[8];
        let len = le_u32(&head, 9);
        if len > MAX_PAYLOAD {
            return Err(self.src.corrupt(at, "RocksDB trace record", format!("payload length {len} is implausible")));
        }
        self.payload.resize(len as usize, 0);
        self.src.read_field(&mut self.payload, at, "RocksDB trace record")?;
        Ok(Some((ts, ty)))
    }
}

impl TraceReader for RocksDbReader {
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        {
            let at = self.src.offset();
            let Some((ts, ty)) = self.next_record()? else {
                return Ok(false);
            };
            if ty == TYPE_END {
                return Ok(false);
            }
            if !(7..=11).contains(&ty) {
                // Query traces and I/O traces share the envelope; a block
                // trace holds only block accesses.
                return Err(self.src.corrupt(
                    at,
                    "RocksDB trace record",
                    format!("record type {ty} is not a block access"),
                ));
            }
            let mut c = Cursor { bytes: &self.payload, pos: 0 };
            let parsed = (|| {
                let key = c.prefixed()?;
                let block_size = c.u64()?;
                let _cf_id = c.u64()?;
                let cf_name = c.prefixed()?;
                let _level = c.u32()?;
                let _sst = c.u64()?;
                let caller = c.u8()?;
                let is_hit = c.u8()?;
                let no_insert = c.u8()?;
                if caller == CALLER_GET || caller == CALLER_MULTI_GET {
                    let _get_id = c.u64()?;
                    let _snapshot = c.u8()?;
                    let _referenced = c.prefixed()?;
                    if ty == 9 {
                        let _ref_size = c.u64()?;
                        let _keys = c.u64()?;
                        let _exists = c.u8()?;
                    }
                }
                Some((hash_bytes(key), block_size, cf_name, caller, is_hit, no_insert))
            })();
            let Some((id, block_size, cf_name, caller, is_hit, no_insert)) = parsed else {
                return Err(self.src.corrupt(at, "RocksDB block access", "payload ends inside a field"));
            };
            let stream = match self.cf_names.iter().position(|(_, name)| name.as_bytes() == cf_name) {
                Some(i) => i as u32,
                None => {
                    self.cf_names.push((self.cf_names.len() as u32, String::from_utf8_lossy(cf_name).into_owned()));
                    self.cf_names.len() as u32 - 1
                }
            };
            *req = Request {
                time: ts,
                id,
                size: block_size.min(u32::MAX as u64) as u32,
                next_access: None,
                tags: Tags {
                    stream,
                    block: BlockKind::from_rocksdb_code(ty),
                    caller,
                    recorded_hit: Some(is_hit != 0),
                    no_insert: no_insert != 0,
                    background: !matches!(caller, CALLER_GET | CALLER_MULTI_GET | CALLER_ITERATOR),
                    ..Tags::default()
                },
                ..Request::default()
            };
            Ok(true)
        }
    }

    fn format(&self) -> Format {
        Format::RocksDb
    }

    fn path(&self) -> &Path {
        self.src.path()
    }

    fn stream_names(&self) -> Vec<(u32, String)> {
        self.cf_names.clone()
    }
}
