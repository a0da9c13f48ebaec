//! Helpers shared by the integration tests.

use std::path::PathBuf;

use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::oracle::OracleReader;

/// The CloudPhysics trace from ../shared/data, loaded.
pub fn cloudphysics() -> DenseTrace {
    let path = cloudphysics_path();
    let mut r = OracleReader::open(&path).expect("open trace");
    DenseTrace::load(&mut r, OpFilter::All).expect("read trace")
}

/// Where the CloudPhysics trace lives; fails clearly when it is missing.
#[allow(dead_code)]
pub fn cloudphysics_path() -> PathBuf {
    cachesim::trace::golden_trace_path()
}
