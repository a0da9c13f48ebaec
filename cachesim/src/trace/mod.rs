//! Trace formats: one [`TraceReader`] trait, one reader per format, and
//! [`open`], which picks the reader from the content.
//!
//! Readers only parse; they never simulate. Every reader streams, and the
//! binary ones decode into a caller-owned [`Request`] without allocating.

pub mod csv;
pub mod dense;
pub mod ids;
pub mod memscale;
pub mod merge;
pub mod oracle;
pub mod rocksdb;
pub mod source;
pub mod stats;
pub mod synthetic;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{ConfigError, TraceError};
use crate::request::Request;
use crate::sampling::{sample_hash, Skipped};

/// A source of requests.
///
/// `read` is pull-based so that one reader can feed a simulator, a stack
/// distance profiler or a converter alike.
pub trait TraceReader: Send {
    /// Decodes the next request into `req`.
    ///
    /// `Ok(true)`: `req` holds a request. `Ok(false)`: the trace ended
    /// cleanly. `Err`: the trace is unreadable from here on (the error names
    /// the file and byte offset).
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError>;

    /// Decodes up to `out.len()` requests into `out` and returns how many;
    /// 0 means the trace ended. Errors as [`TraceReader::read`]. Readers of
    /// fixed-size records override it to decode straight from their buffer,
    /// which is what lets a sampling pass run at memory speed.
    fn read_batch(&mut self, out: &mut [Request]) -> Result<usize, TraceError> {
        let mut n = 0;
        while n < out.len() && self.read(&mut out[n])? {
            n += 1;
        }
        Ok(n)
    }

    /// Like [`TraceReader::read_batch`], but decodes only requests whose id
    /// is sampled at `threshold` ([`crate::sampling`]); the others are only
    /// added to `skipped`. 0 means the trace ended.
    fn read_sampled(
        &mut self,
        out: &mut [Request],
        threshold: u64,
        skipped: &mut Skipped,
    ) -> Result<usize, TraceError> {
        loop {
            let n = self.read_batch(out)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                if sample_hash(out[i].id) < threshold {
                    out[kept] = out[i];
                    kept += 1;
                } else {
                    skipped.requests += 1;
                    skipped.bytes += out[i].size as u64;
                }
            }
            if kept > 0 {
                return Ok(kept);
            }
        }
    }

    /// The format this reader parses.
    fn format(&self) -> Format;

    /// The file being read.
    fn path(&self) -> &Path;

    /// Names of the streams (operators or column families) seen so far,
    /// by stream id. Empty when the format has none.
    fn stream_names(&self) -> Vec<(u32, String)> {
        Vec::new()
    }

    /// The spatial sampling rate the trace was recorded at (1 = full).
    fn sample_rate(&self) -> f64 {
        1.0
    }
}

impl<R: TraceReader + ?Sized> TraceReader for Box<R> {
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        (**self).read(req)
    }
    fn read_batch(&mut self, out: &mut [Request]) -> Result<usize, TraceError> {
        (**self).read_batch(out)
    }
    fn read_sampled(
        &mut self,
        out: &mut [Request],
        threshold: u64,
        skipped: &mut Skipped,
    ) -> Result<usize, TraceError> {
        (**self).read_sampled(out, threshold, skipped)
    }
    fn format(&self) -> Format {
        (**self).format()
    }
    fn path(&self) -> &Path {
        (**self).path()
    }
    fn stream_names(&self) -> Vec<(u32, String)> {
        (**self).stream_names()
    }
    fn sample_rate(&self) -> f64 {
        (**self).sample_rate()
    }
}

/// A trace format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Format {
    /// libCacheSim oracleGeneral.
    Oracle,
    /// CSV.
    Csv,
    /// RocksDB block-cache trace.
    RocksDb,
    /// memscale key-access trace.
    Memscale,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [Format::Oracle, Format::Csv, Format::RocksDb, Format::Memscale];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Oracle => "oracle",
            Format::Csv => "csv",
            Format::RocksDb => "rocksdb",
            Format::Memscale => "memscale",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Format, ConfigError> {
        match s.to_ascii_lowercase().as_str() {
            "oracle" | "oraclegeneral" => Ok(Format::Oracle),
            "csv" => Ok(Format::Csv),
            "rocksdb" | "block" => Ok(Format::RocksDb),
            "memscale" | "key" => Ok(Format::Memscale),
            other => Err(ConfigError::new(
                "--format",
                format!("unknown format `{other}`; expected auto, oracle, csv, rocksdb or memscale"),
            )),
        }
    }
}

/// Tells the format from the first bytes (after zstd decompression) and the
/// file name.
pub fn detect(path: &Path) -> Result<Format, TraceError> {
    let head = source::peek(path, 512)?;
    if head.is_empty() {
        return Err(TraceError::Empty { path: path.to_path_buf() });
    }
    if head.starts_with(memscale::MAGIC) {
        return Ok(Format::Memscale);
    }
    // RocksDB: 13-byte envelope, then a varint 16 and the magic.
    if head.len() >= 30 && head[8] == 1 && head[13] == 16 && &head[14..30] == rocksdb::MAGIC {
        return Ok(Format::RocksDb);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if name.contains("oraclegeneral") || name.contains(".oracle") {
        return Ok(Format::Oracle);
    }
    let text = head.iter().all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
    if text && (name.contains(".csv") || head.contains(&b',') || head.contains(&b'\t')) {
        return Ok(Format::Csv);
    }
    if name.ends_with(".bin") || name.ends_with(".bin.zst") {
        return Ok(Format::Oracle);
    }
    Err(TraceError::UnknownFormat {
        path: path.to_path_buf(),
        reason: "no memscale or RocksDB magic, not text, and the name does not say oracleGeneral".into(),
    })
}

/// How to open a trace.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// The format, or `None` to detect it.
    pub format: Option<Format>,
    /// Column layout for CSV traces.
    pub csv: csv::CsvSpec,
}

/// Opens `path` with the reader for its format.
pub fn open(path: &Path, options: &OpenOptions) -> Result<Box<dyn TraceReader>, TraceError> {
    let format = match options.format {
        Some(f) => f,
        None => detect(path)?,
    };
    Ok(match format {
        Format::Oracle => Box::new(oracle::OracleReader::open(path)?),
        Format::Csv => Box::new(csv::CsvReader::open(path, &options.csv)?),
        Format::RocksDb => Box::new(rocksdb::RocksDbReader::open(path)?),
        Format::Memscale => Box::new(memscale::MemscaleReader::open(path)?),
    })
}

/// Calls `f` on every request of `reader`, decoding in batches.
pub fn for_each_request(
    reader: &mut dyn TraceReader,
    mut f: impl FnMut(&Request) -> Result<(), TraceError>,
) -> Result<u64, TraceError> {
    let mut batch = vec![Request::default(); 1024];
    let mut total = 0u64;
    loop {
        let n = reader.read_batch(&mut batch)?;
        if n == 0 {
            return Ok(total);
        }
        for r in &batch[..n] {
            f(r)?;
        }
        total += n as u64;
    }
}

/// A reader over requests already in memory (tests, generators).
pub struct VecReader {
    requests: std::vec::IntoIter<Request>,
    path: std::path::PathBuf,
}

impl VecReader {
    /// Serves `requests` in order.
    pub fn new(requests: Vec<Request>) -> VecReader {
        VecReader { requests: requests.into_iter(), path: "<memory>".into() }
    }
}

impl TraceReader for VecReader {
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        match self.requests.next() {
            Some(r) => {
                *req = r;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn format(&self) -> Format {
        Format::Oracle
    }
    fn path(&self) -> &Path {
        &self.path
    }
}

/// The CloudPhysics trace the golden tests of every crate read
/// (`../shared/data/cloudPhysicsIO.oracleGeneral.bin` beside the project
/// root); panics with where it should be when it is missing. For tests.
#[doc(hidden)]
pub fn golden_trace_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cloudPhysicsIO.oracleGeneral.bin");
    assert!(
        path.exists(),
        "{} is missing: the golden tests need ../shared/data beside the project root",
        path.display()
    );
    path
}
