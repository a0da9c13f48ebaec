//! A filesystem sink partitioned by time, as Flink's filesystem connector
//! writes one (Nexmark q10): rows go to CSV files under
//! `DIR/col=value/col=value/`, one file per writer subtask and partition,
//! written as `.part-….inprogress` and renamed to `part-…` when the
//! partition is committed; a committer then writes the partition's
//! `_SUCCESS` file.
//!
//! The partition-time commit trigger: a partition commits once the
//! watermark has passed its commit time (its partition time plus the
//! commit delay), so every row of it has arrived. The writers finalize
//! their files in an event-time timer at that time, before the watermark
//! goes on to the committer; the committer's own timer at the same time
//! fires only when every writer's watermark has passed it, so `_SUCCESS`
//! is written after every file of the partition is final. A row that comes
//! after its partition committed opens the next file (`-1`, `-2`, …) and
//! commits it again, as Flink does with late data.
//!
//! Flink renames in-progress files at checkpoints (and rolls them every
//! minute in q10's configuration); without checkpoints, this sink renames
//! at the commit.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::row::{self, Row, Value};
use crate::runtime::{Context, OpError, Operator};

/// A partition's commit time from its partition values.
pub type CommitTime = Arc<dyn Fn(&[Value]) -> u64 + Send + Sync>;

/// Where a partition's files go, and how it commits.
#[derive(Clone)]
pub struct PartitionedFiles {
    /// The table's directory.
    pub dir: PathBuf,
    /// The partition columns' names: the rows' last columns, in order.
    pub partition_by: &'static [&'static str],
    /// When a partition commits.
    pub commit_time: CommitTime,
}

impl PartitionedFiles {
    /// The directory of the partition with `values`:
    /// `dir/name=value/...`, with the characters Flink escapes in a
    /// partition path escaped as `%XX`.
    pub fn partition_dir(&self, values: &[Value]) -> PathBuf {
        let mut dir = self.dir.clone();
        for (name, v) in self.partition_by.iter().zip(values) {
            dir.push(format!("{name}={}", escape_path_name(&v.to_string())));
        }
        dir
    }

    fn split<'r>(&self, row: &'r Row) -> (&'r [Value], &'r [Value]) {
        row.cols.split_at(row.cols.len().saturating_sub(self.partition_by.len()))
    }
}

/// Escapes what Flink's `PartitionPathUtils.escapePathName` escapes.
pub fn escape_path_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let escaped = (c as u32) < 0x20
            || matches!(
                c,
                '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\' | '\u{7f}' | '{' | '[' | ']' | '^'
            );
        if escaped {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`escape_path_name`].
pub fn unescape_path_name(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%').then(|| s.get(i + 1..i + 3)).flatten();
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One writer subtask's file in one partition.
struct OpenFile {
    /// The partition's values.
    values: Vec<Value>,
    /// Which file of the partition this subtask is on (late rows open the
    /// next).
    seq: u32,
    /// Lines not yet appended.
    pending: Vec<u8>,
}

/// Writes its rows as CSV under their partition's directory (the
/// partition columns go into the path, not the file) and emits one row of
/// partition values per partition it opens a file in, for the committer.
pub struct PartitionedFileWriter {
    files: PartitionedFiles,
    /// Set apart from earlier runs' files in the same directory.
    run: String,
    /// By encoded partition values.
    open: HashMap<Vec<u8>, OpenFile>,
    /// Files already committed per partition.
    committed: HashMap<Vec<u8>, u32>,
    key: Vec<u8>,
    field: String,
}

impl PartitionedFileWriter {
    /// Stateless: no state names.
    pub const STATES: &'static [&'static str] = &[];

    /// A writer of `files`.
    pub fn new(files: PartitionedFiles) -> PartitionedFileWriter {
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let run = format!("{:x}{:x}", std::process::id(), started.as_millis());
        PartitionedFileWriter {
            files,
            run,
            open: HashMap::new(),
            committed: HashMap::new(),
            key: Vec::new(),
            field: String::new(),
        }
    }

    fn file_name(&self, subtask: u32, seq: u32, in_progress: bool) -> String {
        let name = format!("part-{}-{subtask}-{seq}.csv", self.run);
        if in_progress {
            format!(".{name}.inprogress")
        } else {
            name
        }
    }

    /// Appends a partition's pending lines to its in-progress file.
    fn append(&self, f: &mut OpenFile, subtask: u32) -> Result<(), OpError> {
        if f.pending.is_empty() {
            return Ok(());
        }
        let dir = self.files.partition_dir(&f.values);
        let path = dir.join(self.file_name(subtask, f.seq, true));
        let io = |source| OpError::Io { path: path.clone(), source };
        fs::create_dir_all(&dir).map_err(io)?;
        let mut file = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io)?;
        file.write_all(&f.pending).map_err(io)?;
        f.pending.clear();
        Ok(())
    }
}

/// Appends `values` as one CSV line (fields quoted where they need it).
fn csv_line(values: &[Value], field: &mut String, out: &mut Vec<u8>) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        field.clear();
        let _ = write!(field, "{v}");
        if field.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.push(b'\n');
}

impl Operator for PartitionedFileWriter {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        let (data, part) = self.files.split(&row);
        self.key.clear();
        row::encode(part, &mut self.key);
        if !self.open.contains_key(&self.key) {
            let seq = self.committed.get(&self.key).copied().unwrap_or(0);
            self.open.insert(self.key.clone(), OpenFile { values: part.to_vec(), seq, pending: Vec::new() });
            ctx.timer((self.files.commit_time)(part), &self.key);
            ctx.emit(Row::insert(row.ts, 0, part.to_vec()));
        }
        let f = self.open.get_mut(&self.key).expect("opened above");
        csv_line(data, &mut self.field, &mut f.pending);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context) -> Result<(), OpError> {
        let mut open = std::mem::take(&mut self.open);
        let result = open.values_mut().try_for_each(|f| self.append(f, ctx.subtask()));
        self.open = open;
        result
    }

    fn on_timer(&mut self, _time: u64, key: &[u8], ctx: &mut Context) -> Result<(), OpError> {
        let Some(mut f) = self.open.remove(key) else { return Ok(()) };
        let subtask = ctx.subtask();
        self.append(&mut f, subtask)?;
        let dir = self.files.partition_dir(&f.values);
        let from = dir.join(self.file_name(subtask, f.seq, true));
        let to = dir.join(self.file_name(subtask, f.seq, false));
        fs::rename(&from, &to).map_err(|source| OpError::Io { path: from, source })?;
        self.committed.insert(key.to_vec(), f.seq + 1);
        Ok(())
    }
}

/// Writes a partition's `_SUCCESS` file once the watermark has passed its
/// commit time (the success-file commit policy). Input: the writers'
/// partition rows, keyed by partition.
pub struct PartitionCommitter {
    files: PartitionedFiles,
    key: Vec<u8>,
}

impl PartitionCommitter {
    /// Stateless: no state names (pending commits are timers).
    pub const STATES: &'static [&'static str] = &[];

    /// The committer of `files`.
    pub fn new(files: PartitionedFiles) -> PartitionCommitter {
        PartitionCommitter { files, key: Vec::new() }
    }
}

impl Operator for PartitionCommitter {
    fn process(&mut self, _port: usize, row: Row, ctx: &mut Context) -> Result<(), OpError> {
        self.key.clear();
        row::encode(&row.cols, &mut self.key);
        ctx.timer((self.files.commit_time)(&row.cols), &self.key);
        Ok(())
    }

    fn on_timer(&mut self, _time: u64, key: &[u8], _ctx: &mut Context) -> Result<(), OpError> {
        let values = row::decode(key)?;
        let path = self.files.partition_dir(&values).join("_SUCCESS");
        write_empty(&path).map_err(|source| OpError::Io { path, source })
    }
}

fn write_empty(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_paths_escape_as_flink_does() {
        assert_eq!(escape_path_name("10:05"), "10%3A05");
        assert_eq!(escape_path_name("a=b/c"), "a%3Db%2Fc");
        assert_eq!(escape_path_name("2015-07-15"), "2015-07-15");
        for s in ["10:05", "a=b/c%", "plain", "x#y?z"] {
            assert_eq!(unescape_path_name(&escape_path_name(s)), s);
        }
    }

    #[test]
    fn csv_lines_quote_what_needs_it() {
        let mut out = Vec::new();
        let mut field = String::new();
        csv_line(
            &[Value::Int(3), Value::Str("a,b".into()), Value::Str("say \"hi\"".into()), Value::Null],
            &mut field,
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "3,\"a,b\",\"say \"\"hi\"\"\",\n");
    }
}
