//! Printing and writing results.

use std::path::Path;

use anyhow::{Context, Result};
use cachesim::sim::{SimResult, Unit};
use cachesim::size::format_size;

/// A size for humans in the curve's unit.
pub fn size_label(size: u64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => format_size(size),
        Unit::Objects => format!("{size} obj"),
    }
}

/// Writes a result file whole or not at all
/// ([`cachesim::file::write_atomically`]); the error names the file.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    cachesim::file::write_atomically(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Writes a CSV file that `fill` writes the records of, atomically.
pub fn write_csv(path: &Path, fill: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> Result<()>) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    fill(&mut w)?;
    write_file(path, &w.into_inner().context("buffering CSV")?)
}

/// Writes rows as CSV, a column per field, atomically.
pub fn write_rows<T: serde::Serialize>(rows: &[T], path: &Path) -> Result<()> {
    write_csv(path, |w| {
        for r in rows {
            w.serialize(r)?;
        }
        Ok(())
    })
}

/// Writes simulation results as CSV (the documented columns).
pub fn write_sim_csv(results: &[SimResult], path: &Path) -> Result<()> {
    write_rows(results, path)
}

/// Writes any serializable value as pretty JSON, atomically.
pub fn write_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<()> {
    write_file(path, &serde_json::to_vec_pretty(value)?)
}
