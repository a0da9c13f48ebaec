//! CSV traces with configurable columns.
//!
//! Columns are given by 0-based index or, when the file has a header, by
//! name. With a header and no explicit columns, the reader looks for the
//! usual names (`time`/`timestamp`, `id`/`obj_id`/`key`, `size`/`obj_size`,
//! `op`, `stream`/`operator`). Ids that are not unsigned integers are hashed,
//! so string keys work. Without a size column every object has size 1.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::source::open_stream;
use super::{Format, TraceReader};
use crate::error::{ConfigError, TraceError};
use crate::hash::hash_bytes;
use crate::request::{Op, Request};

/// Where a field lives in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// 0-based column index.
    Index(usize),
    /// Header name.
    Name(String),
}

/// How to read a CSV trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvSpec {
    /// The first row names the columns.
    pub header: bool,
    /// Field separator.
    pub delimiter: u8,
    /// Timestamp column.
    pub time: Option<Column>,
    /// Object id column (required).
    pub id: Option<Column>,
    /// Object size column.
    pub size: Option<Column>,
    /// Operation column (`get`, `put`, ...).
    pub op: Option<Column>,
    /// Operator / stream column (an unsigned integer).
    pub stream: Option<Column>,
}

impl Default for CsvSpec {
    fn default() -> CsvSpec {
        CsvSpec { header: true, delimiter: b',', time: None, id: None, size: None, op: None, stream: None }
    }
}

impl CsvSpec {
    /// Parses `key=value` pairs separated by commas:
    /// `header=true|false`, `delimiter=tab|comma|;`, and
    /// `time|id|size|op|stream=INDEX|NAME`.
    ///
    /// Example: `header=false,time=0,id=1,size=2`.
    pub fn parse(s: &str) -> Result<CsvSpec, ConfigError> {
        let mut spec = CsvSpec::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| ConfigError::new("--csv-columns", format!("`{part}` is not key=value")))?;
            let column = || match value.parse::<usize>() {
                Ok(i) => Column::Index(i),
                Err(_) => Column::Name(value.to_string()),
            };
            match key {
                "header" => {
                    spec.header = value.parse().map_err(|_| {
                        ConfigError::new("--csv-columns", format!("header={value}: expected true or false"))
                    })?
                }
                "delimiter" | "delim" => {
                    spec.delimiter = match value {
                        "tab" | "\\t" => b'\t',
                        "comma" => b',',
                        "space" => b' ',
                        v if v.len() == 1 => v.as_bytes()[0],
                        v => {
                            return Err(ConfigError::new(
                                "--csv-columns",
                                format!("delimiter={v}: expected one character, tab, comma or space"),
                            ))
                        }
                    }
                }
                "time" => spec.time = Some(column()),
                "id" => spec.id = Some(column()),
                "size" => spec.size = Some(column()),
                "op" => spec.op = Some(column()),
                "stream" => spec.stream = Some(column()),
                other => {
                    return Err(ConfigError::new(
                        "--csv-columns",
                        format!("unknown key `{other}`; expected header, delimiter, time, id, size, op, stream"),
                    ))
                }
            }
        }
        Ok(spec)
    }
}

#[derive(Clone, Copy)]
struct Resolved {
    time: Option<usize>,
    id: usize,
    size: Option<usize>,
    op: Option<usize>,
    stream: Option<usize>,
}

/// Streams a CSV trace.
pub struct CsvReader {
    path: PathBuf,
    rows: csv::Reader<Box<dyn std::io::Read + Send>>,
    record: csv::ByteRecord,
    cols: Resolved,
}

impl CsvReader {
    /// Opens `path` (zstd transparently) with `spec`.
    pub fn open(path: &Path, spec: &CsvSpec) -> Result<CsvReader, TraceError> {
        let stream = open_stream(path)?;
        let mut rows = csv::ReaderBuilder::new()
            .has_headers(spec.header)
            .delimiter(spec.delimiter)
            .flexible(true)
            .from_reader(stream);
        let names: Vec<String> = if spec.header {
            rows.headers().map_err(|e| csv_error(path, e))?.iter().map(|h| h.trim().to_ascii_lowercase()).collect()
        } else {
            Vec::new()
        };
        let find = |col: &Option<Column>, defaults: &[&str], what: &str| -> Result<Option<usize>, TraceError> {
            let bad = |reason: String| TraceError::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                what: "CSV header",
                reason,
            };
            match col {
                Some(Column::Index(i)) => Ok(Some(*i)),
                Some(Column::Name(n)) => {
                    if !spec.header {
                        return Err(bad(format!(
                            "{what} column `{n}` is named but the file has no header (header=false)"
                        )));
                    }
                    names
                        .iter()
                        .position(|h| h.eq_ignore_ascii_case(n))
                        .map(Some)
                        .ok_or_else(|| bad(format!("no column named `{n}` (header has: {})", names.join(", "))))
                }
                None => Ok(defaults.iter().find_map(|d| names.iter().position(|h| h == d))),
            }
        };
        let id = find(&spec.id, &["id", "obj_id", "object_id", "key", "block_key"], "id")?;
        let id = match id {
            Some(i) => i,
            None if !spec.header => 1,
            None => {
                return Err(TraceError::Corrupt {
                    path: path.to_path_buf(),
                    offset: 0,
                    what: "CSV header",
                    reason: format!(
                        "no id column (header has: {}); name it with --csv-columns id=NAME",
                        names.join(", ")
                    ),
                })
            }
        };
        let cols = Resolved {
            time: find(&spec.time, &["time", "timestamp", "ts", "clock_time"], "time")?
                .or(if spec.header || spec.time.is_some() { None } else { Some(0) }),
            id,
            size: find(&spec.size, &["size", "obj_size", "object_size", "block_size"], "size")?
                .or(if spec.header || spec.size.is_some() { None } else { Some(2) }),
            op: find(&spec.op, &["op", "operation"], "op")?,
            stream: find(&spec.stream, &["stream", "operator", "cf", "tenant"], "stream")?,
        };
        Ok(CsvReader { path: path.to_path_buf(), rows, record: csv::ByteRecord::new(), cols })
    }

    fn field<'a>(&self, rec: &'a csv::ByteRecord, col: usize, what: &'static str) -> Result<&'a [u8], TraceError> {
        rec.get(col).ok_or_else(|| TraceError::Corrupt {
            path: self.path.clone(),
            offset: rec.position().map_or(0, |p| p.byte()),
            what: "CSV row",
            reason: format!("row has {} fields; the {what} column is {col} (0-based)", rec.len()),
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> TraceError {
    let offset = e.position().map_or(0, |p| p.byte());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => TraceError::io(path, io),
        kind => TraceError::Corrupt { path: path.to_path_buf(), offset, what: "CSV row", reason: format!("{kind:?}") },
    }
}

fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(bytes).ok()?.trim();
    s.parse::<u64>().ok().or_else(|| {
        // Timestamps written as floats (seconds with fractions) are common.
        s.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.8e19).map(|f| f as u64)
    })
}

impl TraceReader for CsvReader {
    fn read(&mut self, req: &mut Request) -> Result<bool, TraceError> {
        let mut record = std::mem::take(&mut self.record);
        let more = self.rows.read_byte_record(&mut record).map_err(|e| csv_error(&self.path, e));
        let result = match more {
            Ok(false) => Ok(false),
            Err(e) => Err(e),
            Ok(true) => self.decode(&record, req).map(|_| true),
        };
        self.record = record;
        result
    }

    fn format(&self) -> Format {
        Format::Csv
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl CsvReader {
    fn decode(&self, rec: &csv::ByteRecord, req: &mut Request) -> Result<(), TraceError> {
        let offset = rec.position().map_or(0, |p| p.byte());
        let bad = |what: &str, raw: &[u8]| TraceError::Corrupt {
            path: self.path.clone(),
            offset,
            what: "CSV row",
            reason: format!("{what} `{}` is not an unsigned integer", String::from_utf8_lossy(raw)),
        };
        let c = self.cols;
        let raw_id = self.field(rec, c.id, "id")?;
        let id = parse_u64(raw_id).unwrap_or_else(|| hash_bytes(raw_id.trim_ascii()));
        let time = match c.time {
            Some(i) => {
                let raw = self.field(rec, i, "time")?;
                parse_u64(raw).ok_or_else(|| bad("time", raw))?
            }
            None => 0,
        };
        let size = match c.size {
            Some(i) => {
                let raw = self.field(rec, i, "size")?;
                let v = parse_u64(raw).ok_or_else(|| bad("size", raw))?;
                u32::try_from(v).map_err(|_| TraceError::Corrupt {
                    path: self.path.clone(),
                    offset,
                    what: "CSV row",
                    reason: format!("size {v} exceeds 4 GiB"),
                })?
            }
            None => 1,
        };
        let op = match c.op {
            Some(i) => {
                let raw = self.field(rec, i, "op")?;
                let s = std::str::from_utf8(raw).unwrap_or("").trim();
                Op::parse(s).ok_or_else(|| TraceError::Corrupt {
                    path: self.path.clone(),
                    offset,
                    what: "CSV row",
                    reason: format!("operation `{s}` is not one of get, put, delete, merge, seek, next"),
                })?
            }
            None => Op::Get,
        };
        let stream = match c.stream {
            Some(i) => {
                let raw = self.field(rec, i, "stream")?;
                let v = parse_u64(raw).ok_or_else(|| bad("stream", raw))?;
                u32::try_from(v).map_err(|_| bad("stream", raw))?
            }
            None => 0,
        };
        *req = Request { time, id, size, op, next_access: None, ..Request::default() };
        req.tags.stream = stream;
        Ok(())
    }
}

/// Writes CSV traces with the header `time,id,size,op,stream`.
pub struct CsvWriter {
    path: PathBuf,
    out: csv::Writer<BufWriter<File>>,
}

impl CsvWriter {
    /// Creates `path` and writes the header.
    pub fn create(path: &Path) -> Result<CsvWriter, TraceError> {
        let file = File::create(path).map_err(|e| TraceError::io(path, e))?;
        let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
        out.write_record(["time", "id", "size", "op", "stream"]).map_err(|e| csv_error(path, e))?;
        Ok(CsvWriter { path: path.to_path_buf(), out })
    }

    /// Appends one request.
    pub fn write(&mut self, r: &Request) -> Result<(), TraceError> {
        self.out.serialize((r.time, r.id, r.size, r.op.name(), r.tags.stream)).map_err(|e| csv_error(&self.path, e))
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<(), TraceError> {
        self.out.flush().map_err(|e| TraceError::io(&self.path, e))
    }
}
