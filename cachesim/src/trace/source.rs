//! A buffered byte source that knows its offset and tells a clean end of
//! file from a record cut short.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::TraceError;

/// The four bytes every zstd frame starts with.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

const BUFFER_BYTES: usize = 1 << 20;

/// Opens a file for reading, decompressing zstd transparently.
pub fn open_stream(path: &Path) -> Result<Box<dyn Read + Send>, TraceError> {
    let mut file = File::open(path).map_err(|e| TraceError::io(path, e))?;
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut file, &mut magic).map_err(|e| TraceError::io(path, e))?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let chained = head.chain(file);
    if n == 4 && magic == ZSTD_MAGIC {
        let decoder = zstd::stream::read::Decoder::new(chained).map_err(|e| TraceError::io(path, e))?;
        Ok(Box::new(decoder))
    } else {
        Ok(Box::new(chained))
    }
}

/// Reads the first bytes of a (possibly zstd-compressed) file, for format
/// detection.
pub fn peek(path: &Path, len: usize) -> Result<Vec<u8>, TraceError> {
    let mut stream = open_stream(path)?;
    let mut buf = vec![0u8; len];
    let n = read_up_to(&mut stream, &mut buf).map_err(|e| corrupt_io(path, 0, e))?;
    buf.truncate(n);
    Ok(buf)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A decompression failure is corrupt content, not an OS error.
fn corrupt_io(path: &Path, offset: u64, e: io::Error) -> TraceError {
    if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::Other) {
        TraceError::Corrupt { path: path.to_path_buf(), offset, what: "compressed stream", reason: e.to_string() }
    } else {
        TraceError::io(path, e)
    }
}

/// Buffered reading of fixed and variable-size binary records.
pub struct ByteSource {
    path: PathBuf,
    inner: BufReader<Box<dyn Read + Send>>,
    offset: u64,
}

impl ByteSource {
    /// Opens `path` (zstd transparently).
    pub fn open(path: &Path) -> Result<ByteSource, TraceError> {
        let stream = open_stream(path)?;
        Ok(ByteSource::from_reader(path, stream))
    }

    /// Wraps any reader; `path` is used in error messages.
    pub fn from_reader(path: &Path, reader: Box<dyn Read + Send>) -> ByteSource {
        ByteSource { path: path.to_path_buf(), inner: BufReader::with_capacity(BUFFER_BYTES, reader), offset: 0 }
    }

    /// The file name errors carry.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Fills `out` completely. `Ok(false)` at a clean end of file (no byte
    /// left); a truncation error when the file ends inside the record.
    #[inline]
    pub fn read_record(&mut self, out: &mut [u8], what: &'static str) -> Result<bool, TraceError> {
        let buf = self.inner.fill_buf().map_err(|e| corrupt_io(&self.path, self.offset, e))?;
        if buf.len() >= out.len() {
            out.copy_from_slice(&buf[..out.len()]);
            self.inner.consume(out.len());
            self.offset += out.len() as u64;
            return Ok(true);
        }
        if buf.is_empty() {
            return Ok(false);
        }
        self.read_record_slow(out, what)
    }

    #[cold]
    fn read_record_slow(&mut self, out: &mut [u8], what: &'static str) -> Result<bool, TraceError> {
        let start = self.offset;
        let mut filled = 0;
        while filled < out.len() {
            let buf = self.inner.fill_buf().map_err(|e| corrupt_io(&self.path, self.offset, e))?;
            if buf.is_empty() {
                return Err(TraceError::Truncated {
                    path: self.path.clone(),
                    offset: start,
                    what,
                    needed: out.len(),
                    available: filled,
                });
            }
            let n = buf.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&buf[..n]);
            self.inner.consume(n);
            self.offset += n as u64;
            filled += n;
        }
        Ok(true)
    }

    /// The buffered bytes, refilling when empty (empty at end of file).
    #[inline]
    pub fn buffered(&mut self) -> Result<&[u8], TraceError> {
        let path = &self.path;
        let offset = self.offset;
        self.inner.fill_buf().map_err(|e| corrupt_io(path, offset, e))
    }

    /// Marks `n` buffered bytes as read.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.offset += n as u64;
    }

    /// Reads exactly `out.len()` bytes that must be present (a field inside a
    /// record already started at `record_start`).
    pub fn read_field(&mut self, out: &mut [u8], record_start: u64, what: &'static str) -> Result<(), TraceError> {
        let at = self.offset;
        match self.read_record(out, what) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TraceError::Truncated {
                path: self.path.clone(),
                offset: record_start,
                what,
                needed: (at - record_start) as usize + out.len(),
                available: (at - record_start) as usize,
            }),
            Err(TraceError::Truncated { path, what, needed, available, .. }) => Err(TraceError::Truncated {
                path,
                offset: record_start,
                what,
                needed: (at - record_start) as usize + needed,
                available: (at - record_start) as usize + available,
            }),
            Err(e) => Err(e),
        }
    }

    /// Builds a corruption error at `offset`.
    pub fn corrupt(&self, offset: u64, what: &'static str, reason: impl Into<String>) -> TraceError {
        TraceError::Corrupt { path: self.path.clone(), offset, what, reason: reason.into() }
    }
}

/// Little-endian `u16` at `at`.
#[inline]
pub fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Little-endian `u32` at `at`.
#[inline]
pub fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Little-endian `u64` at `at`.
#[inline]
pub fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}
