//! Errors of MRC construction and output.

use std::path::PathBuf;

use cachesim::{ConfigError, TraceError};

/// Why an MRC could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum MrcError {
    /// The trace could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A parameter is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An output file could not be written.
    #[error("{}: cannot write: {reason}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
