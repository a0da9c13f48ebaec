//! Printing and writing results.

use std::path::Path;

use anyhow::{Context, Result};
use cachesim::sim::{SimResult, Unit};
use cachesim::size::format_size;
use mrc::curve::write_atomically;

/// A size for humans in the curve's unit.
pub fn size_label(size: u64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => format_size(size),
        Unit::Objects => format!("{size} obj"),
    }
}

/// Writes simulation results as CSV (the documented columns).
pub fn write_sim_csv(results: &[SimResult], path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in results {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().context("buffering CSV")?;
    write_atomically(path, &bytes)?;
    Ok(())
}

/// Writes any serializable value as pretty JSON, atomically.
pub fn write_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    write_atomically(path, &bytes)?;
    Ok(())
}
