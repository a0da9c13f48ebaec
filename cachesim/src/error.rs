//! Errors of trace reading and configuration.

use std::io;
use std::path::PathBuf;

/// An error while opening, reading or writing a trace.
///
/// Every variant names the file; those about content name the byte offset
/// (of the decompressed stream, for zstd files) where reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The operating system refused an operation.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error: in the message, not chained as a source,
        /// so that a report of the chain says it once.
        error: io::Error,
    },
    /// The file ends in the middle of a record.
    #[error("{}: truncated {what} at byte offset {offset}: needed {needed} bytes, only {available} left", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Offset where the incomplete record starts.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes the record needs.
        needed: usize,
        /// Bytes the file still had.
        available: usize,
    },
    /// A record has a value no writer of its format produces.
    #[error("{}: corrupt {what} at byte offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Offset of the bad record or field.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The trace holds no requests.
    #[error("{}: the trace holds no requests", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The format could not be told from the content.
    #[error("{}: cannot tell the trace format ({reason}); pass --format oracle|csv|rocksdb|memscale", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was seen.
        reason: String,
    },
    /// A trace is too large for an in-memory structure.
    #[error("{}: {reason}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What limit was hit.
        reason: String,
    },
}

impl TraceError {
    /// Wraps an I/O error with the file it came from.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> TraceError {
        TraceError::Io { path: path.into(), error: source }
    }
}

/// A configuration mistake: a bad option value, policy name or size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {reason}")]
pub struct ConfigError {
    /// The option or parameter at fault, as the user wrote it.
    pub option: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

impl ConfigError {
    /// Builds a configuration error.
    pub fn new(option: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError { option: option.into(), reason: reason.into() }
    }
}
