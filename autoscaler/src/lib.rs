//! # memscale-autoscaler
//!
//! Memory-aware autoscaling of stateful stream jobs: the memory and
//! throughput model, four policies behind one trait, and a controller,
//! all independent of the engine they drive (no RocksDB here).
//!
//! - [`job`]: the [`ScalableJob`] trait a running job implements
//!   (observe the last interval, apply a plan), with [`Observation`] and
//!   [`Plan`].
//! - [`model`]: hit ratio against cache size ([`HitCurve`]) and an
//!   operator's throughput against parallelism and cache size
//!   ([`OperatorModel`], T(p, c)).
//! - [`policy`]: [`Policy`]: DS2, Justin, Flink's autoscaler, and the
//!   MRC-guided policy.
//! - [`controller`]: policy interval, warm-up, activation, cooldown,
//!   limits and the decision log.
//!
//! ```
//! use autoscaler::job::{Observation, OperatorObservation};
//! use autoscaler::policy::{ds2::Ds2, Policy};
//!
//! // A source at 10,000 events/s feeds `map`, whose one instance handles
//! // 4,000 records per useful second.
//! let obs = Observation {
//!     target_rate: 10_000.0,
//!     source_rate: 10_000.0,
//!     max_parallelism: 128,
//!     operators: vec![
//!         OperatorObservation { name: "source".into(), source: true, parallelism: 1,
//!             records_in_per_s: 10_000.0, records_out_per_s: 10_000.0, ..Default::default() },
//!         OperatorObservation { name: "map".into(), inputs: vec![0], rescalable: true, parallelism: 1,
//!             true_processing_rate: 4_000.0, true_output_rate: 4_000.0, ..Default::default() },
//!     ],
//!     ..Default::default()
//! };
//! let plan = Ds2::default().decide(&obs);
//! assert_eq!(plan.operator("map").unwrap().parallelism, 3);
//! ```

#![warn(missing_docs)]

pub mod controller;
pub mod job;
pub mod model;
pub mod policy;

pub use controller::{Controller, ControllerConfig, DecisionRecord};
pub use job::{Applied, Config, Observation, OperatorObservation, OperatorPlan, Plan, ScalableJob};
pub use model::{HitCurve, OperatorModel};
pub use policy::Policy;
