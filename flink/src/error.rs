//! Why something Flink was asked failed.

use std::path::PathBuf;

/// An error of the Flink side, each naming what it was about.
#[derive(Debug, thiserror::Error)]
pub enum FlinkError {
    /// Flink's jars and scripts were not found.
    #[error("Flink is not installed: {0} (scripts/setup.sh installs it into .venv-flink, or set FLINK_HOME)")]
    NotInstalled(String),
    /// Nothing answers at the REST address.
    #[error("cannot reach Flink's REST API at {url}: {cause}")]
    Unreachable {
        /// The address asked.
        url: String,
        /// What the connection said.
        cause: String,
    },
    /// The REST API answered with an error status.
    #[error("Flink answered {method} {path} with HTTP {status}: {message}")]
    Http {
        /// GET, POST, PUT, PATCH.
        method: &'static str,
        /// The request's path.
        path: String,
        /// The status code.
        status: u16,
        /// Flink's first error line.
        message: String,
    },
    /// The REST API answered with something memscale cannot read.
    #[error("unexpected answer to {path}: {detail}")]
    Protocol {
        /// The request's path.
        path: String,
        /// What was wrong with it.
        detail: String,
    },
    /// No such job on the cluster.
    #[error("no job {job} on the Flink cluster at {url} (memscale flink status lists the jobs)")]
    UnknownJob {
        /// The job id asked for.
        job: String,
        /// The cluster.
        url: String,
    },
    /// The job is not in a state the request needs.
    #[error("job {job} is {state}, not RUNNING")]
    NotRunning {
        /// The job.
        job: String,
        /// Its state.
        state: String,
    },
    /// The job lacks metrics the autoscaler needs.
    #[error("job {job} has no {what} metrics: {hint}")]
    MissingMetrics {
        /// The job.
        job: String,
        /// Which metrics.
        what: String,
        /// How to get them.
        hint: String,
    },
    /// A savepoint did not complete.
    #[error("savepoint of job {job} failed: {cause}")]
    Savepoint {
        /// The job.
        job: String,
        /// Flink's reason.
        cause: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
    /// A file or program of the cluster's.
    #[error("{path}: {cause}")]
    Io {
        /// The file, folder or program.
        path: PathBuf,
        /// What failed.
        cause: std::io::Error,
    },
    /// A program (javac, jar, Flink's scripts) failed.
    #[error("{program} failed ({status}): {output}")]
    Command {
        /// The program and its first arguments.
        program: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed.
        output: String,
    },
    /// Bad input: an unknown query, a bad option value.
    #[error("{0}")]
    Invalid(String),
}

impl FlinkError {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FlinkError {
        let path = path.into();
        move |cause| FlinkError::Io { path, cause }
    }
}
