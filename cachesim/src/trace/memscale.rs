//! memscale's own key-level access trace: what the engine records for every
//! state access of every operator.
//!
//! Layout (little-endian):
//!
//! ```text
//! header  magic "MSKTRACE" | u16 version (1) | u16 flags (0) | f64 sample_rate
//!         | u64 time_base_us | u32 n_operators
//!         | n_operators × (u32 operator_id | u16 name_len | name, UTF-8)
//! record  u64 time_us (since time_base_us) | u64 key_hash | u32 value_len
//!         | u16 key_len | u16 key_group | u16 operator_id | u16 subtask
//!         | u8 op | u8 reserved (0) | u16 reserved (0)          = 32 bytes
//! ```
//!
//! `sample_rate` is 1 for a full trace and R for a trace sampled spatially
//! by key hash (SHARDS-style), so an MRC built from it can rescale. The
//! object size of a request is `key_len + value_len`, the bytes the entry
//! occupies in the store.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::source::{le_u16, le_u32, le_u64, ByteSource};
use super::{Format, TraceReader};
use crate::error::TraceError;
use crate::request::{Op, Request, Tags};

/// First bytes of every memscale key trace.
pub const MAGIC: &[u8; 8] = b"MSKTRACE";
/// The version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Bytes per record.
pub const RECORD_BYTES: usize = 32;
const MAX_OPERATORS: u32 = 65_536;

/// One state access, as the engine records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyAccess {
    /// Microseconds since the trace's time base.
    pub time_us: u64,
    /// 64-bit hash of the (key-group-prefixed) key.
    pub key_hash: u64,
    /// Value length in bytes (0 for reads that missed, deletes, seeks).
    pub value_len: u32,
    /// Key length in bytes.
    pub key_len: u16,
    /// Key group of the key.
    pub key_group: u16,
    /// Operator id, an index into the header's operator table.
    pub operator: u16,
    /// Subtask of the operator.
    pub subtask: u16,
    /// The state operation.
    pub op: Op,
}

/// An operator as the header names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorName {
    /// Id used in records.
    pub id: u32,
    /// Human-readable name.
    pub name: String,
}

/// The header of a memscale trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// 1 for a full trace; R in (0, 1] for a spatially sampled one.
    pub sample_rate: f64,
    /// Unix time, in microseconds, that record times count from.
    pub time_base_us: u64,
    /// Operator table.
    pub operators: Vec<OperatorName>,
}

/// Streams a memscale key trace.
pub struct MemscaleReader {
    src: ByteSource,
    header: Header,
}

impl MemscaleReader {
    /// Opens a file and reads its header.
    pub fn open(path: &Path) -> Result<MemscaleReader, TraceError> {
        let mut src = ByteSource::open(path)?;
        let header = read_header(&mut src)?;
        Ok(MemscaleReader { src, header })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads the next record as the engine wrote it.
    pub fn read_access(&mut self) -> Result<Option<KeyAccess>, TraceError> {
        let mut rec = [0u8; RECORD_BYTES];
        let at = self.src.offset();
        if !self.src.read_record(&mut rec, "memscale record")? {
            return Ok(None);
        }
        let op = Op::from_code(rec[28])
            .ok_or_else(|| self.src.corrupt(at, "memscale record", format!("unknown operation code {}", rec[28])))?;
        Ok(Some(KeyAccess {
            time_us: le_u64(&rec, 0),
            key_hash: le_u64(&rec, 8),
            value_len: le_u32(&rec, 16),
            key_len: le_u16(&rec, 20),
            key_group: le_u16(&rec, 22),
            operator: le_u16(&rec, 24),
            subtask: le_u16(&rec, 26),
            op,
        }))
    }
}

fn read_header(src: &mut ByteSource) -> Result<Header, TraceError> {
    let mut fixed = [0u8; 32];
    if !src.read_record(&mut fixed, "memscale header")? {
        return Err(TraceError::Empty { path: src.path().to_path_buf() });
    }
    if &fixed[0..8] != MAGIC {
        return Err(src.corrupt(0, "memscale header", "bad magic (expected \"MSKTRACE\")"));
    }
    let version = le_u16(&fixed, 8);
    if version != VERSION {
        return Err(src.corrupt(
            8,
            "memscale header",
            format!("version {version}; this build reads version {VERSION}"),
        ));
    }
    let sample_rate =
        f64::from_le_bytes(fixed[12..20].try_into().map_err(|_| src.corrupt(12, "memscale header", "short"))?);
    if !(sample_rate > 0.0 && sample_rate <= 1.0) {
        return Err(src.corrupt(12, "memscale header", format!("sample rate {sample_rate} is not in (0, 1]")));
    }
    let time_base_us = le_u64(&fixed, 20);
    let n_operators = le_u32(&fixed, 28);
    if n_operators > MAX_OPERATORS {
        return Err(src.corrupt(28, "memscale header", format!("{n_operators} operators; at most {MAX_OPERATORS}")));
    }
    let mut operators = Vec::with_capacity(n_operators as usize);
    for _ in 0..n_operators {
        let at = src.offset();
        let mut head = [0u8; 6];
        src.read_field(&mut head, at, "memscale operator table")?;
        let id = le_u32(&head, 0);
        let len = le_u16(&head, 4) as usize;
        let mut name = vec![0u8; len];
        src.read_field(&mut name, at, "memscale operator table")?;
        let name = String::from_utf8(name)
            .map_err(|_| src.corrupt(at, "memscale operator table", "operator name is not UTF-8"))?;
        operators.push(OperatorName { id, name });
    }
    Ok(Header { sample_rate, time_base_us, operators })
}

impl TraceReader for MemscaleReader {
    #[inline]
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        let Some(a) = self.read_access()? else {
            return Ok(false);
        };
        *req = Request {
            time: a.time_us,
            id: a.key_hash,
            size: (a.key_len as u32).saturating_add(a.value_len),
            op: a.op,
            next_access: None,
            tags: Tags { stream: a.operator as u32, subtask: a.subtask, key_group: a.key_group, ..Tags::default() },
        };
        Ok(true)
    }

    fn format(&self) -> Format {
        Format::Memscale
    }

    fn path(&self) -> &Path {
        self.src.path()
    }

    fn stream_names(&self) -> Vec<(u32, String)> {
        self.header.operators.iter().map(|o| (o.id, o.name.clone())).collect()
    }

    fn sample_rate(&self) -> f64 {
        self.header.sample_rate
    }
}

/// Writes a memscale key trace, zstd-compressed or plain.
pub struct MemscaleWriter {
    path: PathBuf,
    out: Sink,
    records: u64,
}

enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

impl Sink {
    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(bytes),
            Sink::Zstd(w) => w.write_all(bytes),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Zstd(w) => w.finish()?.flush(),
        }
    }
}

impl MemscaleWriter {
    /// Creates `path` and writes the header. With `compress`, the file is
    /// one zstd stream (level 3).
    pub fn create(path: &Path, header: &Header, compress: bool) -> Result<MemscaleWriter, TraceError> {
        let file = File::create(path).map_err(|e| TraceError::io(path, e))?;
        let buffered = BufWriter::with_capacity(1 << 20, file);
        let out = if compress {
            Sink::Zstd(zstd::stream::write::Encoder::new(buffered, 3).map_err(|e| TraceError::io(path, e))?)
        } else {
            Sink::Plain(buffered)
        };
        let mut w = MemscaleWriter { path: path.to_path_buf(), out, records: 0 };
        let mut head = Vec::with_capacity(64);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&0u16.to_le_bytes());
        head.extend_from_slice(&header.sample_rate.to_le_bytes());
        head.extend_from_slice(&header.time_base_us.to_le_bytes());
        head.extend_from_slice(&(header.operators.len() as u32).to_le_bytes());
        for op in &header.operators {
            let name = op.name.as_bytes();
            let len = name.len().min(u16::MAX as usize);
            head.extend_from_slice(&op.id.to_le_bytes());
            head.extend_from_slice(&(len as u16).to_le_bytes());
            head.extend_from_slice(&name[..len]);
        }
        w.out.write_all(&head).map_err(|e| TraceError::io(&w.path, e))?;
        Ok(w)
    }

    /// Appends one access.
    #[inline]
    pub fn write(&mut self, a: &KeyAccess) -> Result<(), TraceError> {
        let mut rec = [0u8; RECORD_BYTES];
        rec[0..8].copy_from_slice(&a.time_us.to_le_bytes());
        rec[8..16].copy_from_slice(&a.key_hash.to_le_bytes());
        rec[16..20].copy_from_slice(&a.value_len.to_le_bytes());
        rec[20..22].copy_from_slice(&a.key_len.to_le_bytes());
        rec[22..24].copy_from_slice(&a.key_group.to_le_bytes());
        rec[24..26].copy_from_slice(&a.operator.to_le_bytes());
        rec[26..28].copy_from_slice(&a.subtask.to_le_bytes());
        rec[28] = a.op as u8;
        self.out.write_all(&rec).map_err(|e| TraceError::io(&self.path, e))?;
        self.records += 1;
        Ok(())
    }

    /// Flushes everything to disk; returns the number of records.
    pub fn finish(self) -> Result<u64, TraceError> {
        self.out.finish().map_err(|e| TraceError::io(&self.path, e))?;
        Ok(self.records)
    }
}
