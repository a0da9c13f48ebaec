//! libCacheSim's oracleGeneral format: 24-byte little-endian records
//! `u32 time, u64 obj_id, u32 obj_size, i64 next_access_vtime`, no header.
//!
//! `next_access_vtime` is -1 (or `i64::MAX`) when the object is never
//! requested again. Like libCacheSim, the reader skips requests of size 0
//! unless told to keep them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::source::{le_u32, le_u64, ByteSource};
use super::{Format, TraceReader};
use crate::error::TraceError;
use crate::request::Request;
use crate::sampling::{sample_hash, Skipped, MODULUS};

/// Bytes per record.
pub const RECORD_BYTES: usize = 24;

/// Streams an oracleGeneral file.
pub struct OracleReader {
    src: ByteSource,
    keep_zero_size: bool,
}

impl OracleReader {
    /// Opens a file (zstd-compressed or not).
    pub fn open(path: &Path) -> Result<OracleReader, TraceError> {
        Ok(OracleReader { src: ByteSource::open(path)?, keep_zero_size: false })
    }

    /// Keeps requests whose size is 0 instead of skipping them.
    pub fn keep_zero_size(mut self, keep: bool) -> OracleReader {
        self.keep_zero_size = keep;
        self
    }
}

/// One decoded record.
enum Record {
    /// A request to hand out.
    Request(Request),
    /// A request of size 0, skipped (libCacheSim's default).
    ZeroSize,
    /// A request whose object is not sampled; its size still counts.
    NotSampled(u32),
}

/// Decodes one 24-byte record, sampling at `threshold` (`MODULUS` or more
/// keeps everything); `Err` holds why the record is corrupt.
#[inline]
fn decode(rec: &[u8], keep_zero_size: bool, threshold: u64) -> Result<Record, String> {
    let size = le_u32(rec, 12);
    let next = le_u64(rec, 16) as i64;
    if next < -1 {
        return Err(format!("next_access_vtime is {next}; only -1 or a request index is valid"));
    }
    if size == 0 && !keep_zero_size {
        return Ok(Record::ZeroSize);
    }
    let id = le_u64(rec, 4);
    if threshold < MODULUS && sample_hash(id) >= threshold {
        return Ok(Record::NotSampled(size));
    }
    Ok(Record::Request(Request {
        time: le_u32(rec, 0) as u64,
        id,
        size,
        next_access: if next < 0 || next == i64::MAX { None } else { Some(next as u64) },
        ..Request::default()
    }))
}

impl OracleReader {
    /// Decodes the whole records in the buffer into `out`, up to its
    /// length; returns (requests decoded, records consumed). A record split
    /// across buffer refills (or cut short at the end) is left for `read`.
    fn decode_buffered(
        &mut self,
        out: &mut [Request],
        threshold: u64,
        skipped: &mut Skipped,
    ) -> Result<(usize, usize), TraceError> {
        let keep_zero = self.keep_zero_size;
        let at = self.src.offset();
        let buf = self.src.buffered()?;
        let whole = buf.len() / RECORD_BYTES;
        let (mut n, mut used) = (0, 0);
        for rec in buf[..whole * RECORD_BYTES].chunks_exact(RECORD_BYTES) {
            if n == out.len() {
                break;
            }
            match decode(rec, keep_zero, threshold) {
                Ok(Record::Request(r)) => {
                    out[n] = r;
                    n += 1;
                }
                Ok(Record::ZeroSize) => {}
                Ok(Record::NotSampled(size)) => {
                    skipped.requests += 1;
                    skipped.bytes += size as u64;
                }
                Err(reason) => {
                    self.src.consume(used);
                    return Err(self.src.corrupt(at + used as u64, "oracleGeneral record", reason));
                }
            }
            used += RECORD_BYTES;
        }
        self.src.consume(used);
        Ok((n, used / RECORD_BYTES))
    }
}

impl TraceReader for OracleReader {
    #[inline]
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        let mut rec = [0u8; RECORD_BYTES];
        loop {
            let at = self.src.offset();
            if !self.src.read_record(&mut rec, "oracleGeneral record")? {
                return Ok(false);
            }
            match decode(&rec, self.keep_zero_size, MODULUS) {
                Ok(Record::Request(r)) => {
                    *req = r;
                    return Ok(true);
                }
                Ok(_) => continue,
                Err(reason) => return Err(self.src.corrupt(at, "oracleGeneral record", reason)),
            }
        }
    }

    fn read_batch(&mut self, out: &mut [Request]) -> Result<usize, TraceError> {
        self.read_sampled(out, MODULUS, &mut Skipped::default())
    }

    fn read_sampled(
        &mut self,
        out: &mut [Request],
        threshold: u64,
        skipped: &mut Skipped,
    ) -> Result<usize, TraceError> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let (n, records) = self.decode_buffered(out, threshold, skipped)?;
            if n > 0 {
                return Ok(n);
            }
            if records > 0 {
                continue; // a stretch of skipped records
            }
            // End of file, or a record split across refills: the careful
            // one-record path (which also reports a truncated last record).
            let mut one = Request::default();
            if !self.read(&mut one)? {
                return Ok(0);
            }
            if threshold >= MODULUS || sample_hash(one.id) < threshold {
                out[0] = one;
                return Ok(1);
            }
            skipped.requests += 1;
            skipped.bytes += one.size as u64;
        }
    }

    fn format(&self) -> Format {
        Format::Oracle
    }

    fn path(&self) -> &Path {
        self.src.path()
    }
}

/// Writes oracleGeneral files.
///
/// The format wants each record's next access, which is only known at the
/// end; the writer keeps the requests until [`OracleWriter::finish`], where
/// it fills them in from a backward pass.
pub struct OracleWriter {
    path: PathBuf,
    records: Vec<(u32, u64, u32)>,
}

impl OracleWriter {
    /// Starts a file at `path` (written on [`OracleWriter::finish`]).
    pub fn create(path: &Path) -> OracleWriter {
        OracleWriter { path: path.to_path_buf(), records: Vec::new() }
    }

    /// Appends one request. Times beyond `u32` seconds are clamped, as the
    /// format cannot hold them.
    pub fn write(&mut self, req: &Request) {
        self.records.push((req.time.min(u32::MAX as u64) as u32, req.id, req.size));
    }

    /// Computes next-access indices and writes the file.
    pub fn finish(self) -> Result<u64, TraceError> {
        let n = self.records.len();
        let mut next = vec![-1i64; n];
        let mut seen: rustc_hash::FxHashMap<u64, usize> = Default::default();
        for i in (0..n).rev() {
            if let Some(&j) = seen.get(&self.records[i].1) {
                next[i] = j as i64;
            }
            seen.insert(self.records[i].1, i);
        }
        let file = File::create(&self.path).map_err(|e| TraceError::io(&self.path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let mut rec = [0u8; RECORD_BYTES];
        for (i, &(time, id, size)) in self.records.iter().enumerate() {
            rec[0..4].copy_from_slice(&time.to_le_bytes());
            rec[4..12].copy_from_slice(&id.to_le_bytes());
            rec[12..16].copy_from_slice(&size.to_le_bytes());
            rec[16..24].copy_from_slice(&next[i].to_le_bytes());
            w.write_all(&rec).map_err(|e| TraceError::io(&self.path, e))?;
        }
        w.flush().map_err(|e| TraceError::io(&self.path, e))?;
        Ok(n as u64)
    }
}
