//! # memscale-cachesim
//!
//! Cache traces and cache simulators: the half of memscale that needs no
//! RocksDB.
//!
//! - [`trace`]: one [`trace::TraceReader`] trait and readers for
//!   libCacheSim's oracleGeneral, CSV, RocksDB's block-cache trace and
//!   memscale's key-access trace (zstd-compressed files read transparently),
//!   plus writers, a synthetic generator and trace statistics.
//! - [`policy`]: one [`policy::Cache`] trait and LRU, FIFO, CLOCK, ARC, 2Q,
//!   S3-FIFO, SIEVE, LFU, Belady and a faithful model of RocksDB's LRUCache.
//! - [`sim`]: many policies at many sizes over one loaded trace, in parallel.
//!
//! Readers never simulate and simulators never parse: a trace is read once
//! into a [`trace::dense::DenseTrace`] and every cache runs over it.
//!
//! ```
//! use cachesim::policy::PolicySpec;
//! use cachesim::request::Request;
//! use cachesim::sim::{simulate, SimOptions, Unit};
//! use cachesim::trace::dense::DenseTrace;
//!
//! let reqs: Vec<Request> = [1u64, 2, 1, 3, 1, 2]
//!     .iter()
//!     .map(|&id| Request { id, size: 1, ..Request::default() })
//!     .collect();
//! let trace = DenseTrace::from_requests(&reqs);
//! let lru = PolicySpec::parse("lru").unwrap();
//! let r = simulate(&trace, &lru, 2, SimOptions { unit: Unit::Objects, ..Default::default() });
//! assert_eq!((r.requests, r.misses), (6, 4));
//! ```

#![warn(missing_docs)]

pub mod error;
pub mod file;
pub mod hash;
pub mod policy;
pub mod request;
pub mod sampling;
pub mod sim;
pub mod size;
pub mod trace;

pub use error::{ConfigError, TraceError};
