//! timeline.csv: every second and operator, what the job had and did
//! (parallelism, cache, input rate against its target, hit ratio, state
//! latency, end-to-end latency), sampled on a thread of its own so that a
//! change in progress leaves no gap; with the run's totals (core-seconds,
//! GiB-seconds, seconds behind the target).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use autoscaler::job::Observation;
use autoscaler::policy::ds2::estimate;
use serde::Serialize;

use super::window::Window;

/// One second of one operator (the CSV's columns, in order).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Seconds since the job started.
    pub t_s: f64,
    /// Operator.
    pub operator: String,
    /// Subtasks.
    pub parallelism: u32,
    /// Block cache, bytes (empty without one).
    pub cache_bytes: Option<u64>,
    /// Records in per second.
    pub input_rate: f64,
    /// The input rate it must take for the sources to meet the target
    /// (DS2's projection down the graph).
    pub target_rate: f64,
    /// Hit ratio of its own reads.
    pub hit_ratio: Option<f64>,
    /// State-read latency p90, microseconds.
    pub state_p90_us: Option<f64>,
    /// End-to-end latency p99 of the job in that second, ms.
    pub e2e_p99_ms: f64,
}

/// The run in sums.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Totals {
    /// Seconds sampled.
    pub seconds: f64,
    /// Subtasks times seconds.
    pub core_s: f64,
    /// GiB of block cache times seconds.
    pub gib_s: f64,
    /// Seconds in which the sources were more than a second's events
    /// behind the target.
    pub violation_s: f64,
}

/// The rows of one observation, with its share of the totals when it
/// ends by `until_s` (when the sources stop: the drain after it is no
/// policy's doing).
pub fn rows_of(obs: &Observation, until_s: f64, totals: &mut Totals) -> Vec<Row> {
    let targets = estimate(obs, obs.target_rate, 0.0);
    let counted = obs.t_s <= until_s + 0.5;
    if counted {
        totals.seconds += obs.interval_s;
        if obs.backlog_events > obs.target_rate {
            totals.violation_s += obs.interval_s;
        }
    }
    let mut rows = Vec::with_capacity(obs.operators.len());
    for (o, e) in obs.operators.iter().zip(&targets) {
        if counted {
            totals.core_s += o.parallelism as f64 * obs.interval_s;
            totals.gib_s += o.cache_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64 * obs.interval_s;
        }
        rows.push(Row {
            t_s: (obs.t_s * 1000.0).round() / 1000.0,
            operator: o.name.clone(),
            parallelism: o.parallelism,
            cache_bytes: o.cache_bytes,
            input_rate: o.records_in_per_s.round(),
            target_rate: e.target_input.round(),
            hit_ratio: o.hit_ratio.map(|h| (h * 1e4).round() / 1e4),
            state_p90_us: o.state_read_p90_us.map(|u| (u * 10.0).round() / 10.0),
            e2e_p99_ms: (obs.e2e_p99_ms * 100.0).round() / 100.0,
        });
    }
    rows
}

/// The sampling thread.
pub struct Timeline {
    thread: JoinHandle<Result<(Vec<Row>, Totals)>>,
}

impl Timeline {
    /// Samples `window` every second into `path` until `done`; the totals
    /// count the seconds up to `until_s`, when the sources stop (the drain
    /// after it is no policy's doing).
    pub fn start(mut window: Window, done: Arc<AtomicBool>, path: &Path, until_s: f64) -> Result<Timeline> {
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("timeline".into())
            .spawn(move || -> Result<(Vec<Row>, Totals)> {
                let mut csv = csv::Writer::from_writer(file);
                let (mut rows, mut totals) = (Vec::new(), Totals::default());
                while !done.load(Relaxed) {
                    std::thread::sleep(Duration::from_secs(1));
                    let obs = window.observe();
                    for row in rows_of(&obs, until_s, &mut totals) {
                        csv.serialize(&row)?;
                        rows.push(row);
                    }
                    csv.flush().with_context(|| format!("writing {}", path.display()))?;
                }
                Ok((rows, totals))
            })
            .context("cannot start the timeline thread")?;
        Ok(Timeline { thread })
    }

    /// Waits for the thread: every row and the totals.
    pub fn finish(self) -> Result<(Vec<Row>, Totals)> {
        self.thread.join().map_err(|_| anyhow!("the timeline thread panicked"))?
    }
}
