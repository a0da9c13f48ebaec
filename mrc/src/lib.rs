//! # memscale-mrc
//!
//! Miss-ratio curves (MRCs): the fraction of requests a cache misses, as a
//! function of its size.
//!
//! - [`exact`]: LRU by Mattson's stack distances in one pass, O(N log M),
//!   object and byte granularity ([`stack`] holds the Fenwick-tree stack).
//! - [`shards`]: SHARDS, fixed-rate and fixed-size, streaming from a reader.
//! - [`aet`]: AET, from reuse times in O(N).
//! - [`minisim`]: MiniSim, any [`cachesim`] policy on a sampled trace.
//! - [`curve`]: the [`Mrc`] type with CSV and JSON output; [`plot`] draws it.
//!
//! ```
//! use cachesim::request::Request;
//! use cachesim::sim::{Unit, Warmup};
//! use cachesim::trace::dense::DenseTrace;
//!
//! let reqs: Vec<Request> =
//!     [1u64, 2, 1, 3, 1, 2].iter().map(|&id| Request { id, size: 1, ..Request::default() }).collect();
//! let trace = DenseTrace::from_requests(&reqs);
//! let mrc = mrc::exact::exact_mrc(&trace, Unit::Objects, &[1, 2, 3], Warmup::None);
//! // Three first accesses always miss; at 2 objects, 1 hits twice more.
//! assert!((mrc.points[1].miss_ratio - 4.0 / 6.0).abs() < 1e-12);
//! ```

#![warn(missing_docs)]

pub mod aet;
pub mod curve;
pub mod error;
pub mod exact;
pub mod fenwick;
pub mod histogram;
pub mod minisim;
pub mod plot;
pub mod shards;
pub mod stack;
pub mod tally;

pub use curve::{Mrc, MrcPoint};
pub use error::MrcError;
