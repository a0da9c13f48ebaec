//! From the engine's cumulative metrics to an autoscaler [`Observation`]
//! of the last window: every figure a difference of counters between two
//! readings, per subtask where DS2 wants it (true rates), over the
//! operator's own reads where Justin wants it (hit ratio).

use std::sync::Arc;
use std::time::Duration;

use autoscaler::job::{Observation, OperatorObservation};
use engine::runtime::graph::{JobGraph, StageKind};
use engine::runtime::metrics::{latency_histogram, JobMetrics};
use engine::runtime::rate::RateShape;
use engine::runtime::snapshot::{JobSnapshot, SubtaskSnapshot};
use hdrhistogram::Histogram;

/// What the graph says about each operator (fixed while the job runs).
#[derive(Clone, Debug)]
pub struct Topology {
    /// Each one's inputs (indices).
    pub inputs: Vec<Vec<usize>>,
    /// Sources.
    pub sources: Vec<bool>,
    /// Stages that keep their parallelism (sources, and operators the
    /// graph fixes).
    pub fixed: Vec<bool>,
}

impl Topology {
    /// The topology of `graph`.
    pub fn of(graph: &JobGraph) -> Topology {
        Topology {
            inputs: graph.stages.iter().map(|s| s.inputs.iter().map(|i| i.from).collect()).collect(),
            sources: graph.stages.iter().map(|s| matches!(s.kind, StageKind::Source(_))).collect(),
            fixed: graph
                .stages
                .iter()
                .map(|s| matches!(s.kind, StageKind::Source(_)) || s.fixed_parallelism.is_some())
                .collect(),
        }
    }
}

/// One reading of the metrics.
struct Reading {
    t_s: f64,
    snapshot: JobSnapshot,
    /// Per operator, its state-read latency since the start (ns).
    reads: Vec<Histogram<u64>>,
}

fn read(metrics: &JobMetrics) -> Reading {
    let snapshot = metrics.snapshot();
    let reads = metrics
        .operators
        .iter()
        .map(|op| {
            let mut h = latency_histogram();
            for s in op.subtasks() {
                let _ = h.add(&s.latency_total().get);
            }
            h
        })
        .collect();
    Reading { t_s: snapshot.elapsed_s, snapshot, reads }
}

/// Consecutive windows over one job's metrics.
pub struct Window {
    metrics: Arc<JobMetrics>,
    topology: Topology,
    target: Target,
    max_parallelism: u32,
    last: Reading,
}

/// The sources' target: a rate and how it moves.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Events/s the shape multiplies.
    pub rate: f64,
    /// How it moves over the run.
    pub shape: RateShape,
}

impl Target {
    /// Events the target asks for by `t` seconds.
    pub fn events_by(&self, t: f64) -> f64 {
        self.shape.events_by(self.rate, t)
    }
}

impl Window {
    /// Windows starting now.
    pub fn new(metrics: Arc<JobMetrics>, topology: Topology, target: Target, max_parallelism: u32) -> Window {
        let last = read(&metrics);
        Window { metrics, topology, target, max_parallelism, last }
    }

    /// The window since the last call (or since [`Window::new`]).
    pub fn observe(&mut self) -> Observation {
        let now = read(&self.metrics);
        let obs = observation(&self.last, &now, &self.topology, self.target, self.max_parallelism, &self.metrics);
        self.last = now;
        obs
    }
}

fn observation(
    a: &Reading,
    b: &Reading,
    topo: &Topology,
    target: Target,
    max_parallelism: u32,
    metrics: &JobMetrics,
) -> Observation {
    let dt = (b.t_s - a.t_s).max(1e-6);
    let mut operators = Vec::with_capacity(b.snapshot.operators.len());
    for (i, op) in b.snapshot.operators.iter().enumerate() {
        let before = a.snapshot.operators.get(i);
        let prev = |s: &SubtaskSnapshot| -> Option<&SubtaskSnapshot> {
            before.and_then(|o| o.subtasks.iter().find(|x| x.subtask == s.subtask))
        };
        let delta = |f: &dyn Fn(&SubtaskSnapshot) -> f64| -> f64 {
            op.subtasks.iter().map(|s| f(s) - prev(s).map_or(0.0, f)).sum::<f64>().max(0.0)
        };
        let records_in = delta(&|s| s.records_in as f64);
        let records_out = delta(&|s| s.records_out as f64);
        let useful = delta(&|s| s.useful_s);
        let cpu = delta(&|s| s.cpu_s);
        let backpressure = delta(&|s| s.backpressure_s);
        // Zero where not counted: the hit ratio is then unknown, not 0.
        let (hits, misses) =
            (delta(&|s| s.user_hits.unwrap_or(0) as f64), delta(&|s| s.user_misses.unwrap_or(0) as f64));
        let (reads, read_us) = (delta(&|s| s.sst_reads as f64), delta(&|s| s.sst_read_micros as f64));
        // DS2: the sum over the running instances of each one's records
        // per useful second.
        let (mut tpr, mut tor) = (0.0, 0.0);
        for s in op.subtasks.iter().filter(|s| !s.retired) {
            let u = s.useful_s - prev(s).map_or(0.0, |p| p.useful_s);
            if u > 1e-6 {
                tpr += s.records_in.saturating_sub(prev(s).map_or(0, |p| p.records_in)) as f64 / u;
                tor += s.records_out.saturating_sub(prev(s).map_or(0, |p| p.records_out)) as f64 / u;
            }
        }
        let p = op.parallelism.max(1) as f64;
        let source = topo.sources.get(i).copied().unwrap_or(false);
        let state_read_p90_us = b.reads.get(i).and_then(|h| {
            let mut d = h.clone();
            let base = a.reads.get(i)?;
            d.subtract(base).ok()?;
            (!d.is_empty()).then(|| d.value_at_quantile(0.9) as f64 / 1000.0)
        });
        operators.push(OperatorObservation {
            name: op.name.clone(),
            inputs: topo.inputs.get(i).cloned().unwrap_or_default(),
            source,
            rescalable: !topo.fixed.get(i).copied().unwrap_or(source),
            has_cache: op.stateful && op.cache_capacity.is_some(),
            parallelism: op.parallelism,
            cache_bytes: op.cache_capacity,
            cache_usage_bytes: op.cache_usage,
            state_bytes: op.state_bytes,
            // The engine's jobs start with no state, so its mean growth
            // since the start is bytes over the time run: a window of a few
            // seconds sees 0 or a whole memtable's flush, as it happens.
            state_growth_per_s: op.state_bytes as f64 / b.t_s.max(dt),
            records_in_per_s: records_in / dt,
            records_out_per_s: records_out / dt,
            useful_s: useful,
            busy_ratio: (useful / (dt * p)).min(1.0),
            cpu_cores: Some(cpu / dt),
            backpressure_ratio: (backpressure / (dt * p)).min(1.0),
            true_processing_rate: tpr,
            true_output_rate: tor,
            hit_ratio: (hits + misses > 0.0).then(|| hits / (hits + misses)),
            lookups_per_record: if records_in > 0.0 { (hits + misses) / records_in } else { 0.0 },
            miss_cost_us: (reads > 0.0).then(|| read_us / reads),
            state_read_p90_us,
        });
    }
    let events = b.snapshot.events.saturating_sub(a.snapshot.events) as f64;
    let process_cpu = b.snapshot.process_cpu_s - a.snapshot.process_cpu_s;
    let operators_cpu: f64 = operators.iter().filter_map(|o| o.cpu_cores).sum::<f64>() * dt;
    let e2e = metrics.e2e_window(Duration::from_secs_f64(a.t_s), Duration::from_secs_f64(b.t_s));
    Observation {
        t_s: b.t_s,
        interval_s: dt,
        operators,
        source_rate: events / dt,
        // The target over the window (a moving one: its mean there).
        target_rate: (target.events_by(b.t_s) - target.events_by(a.t_s)) / dt,
        backlog_events: (target.events_by(b.t_s) - b.snapshot.events as f64).max(0.0),
        e2e_p99_ms: if e2e.is_empty() { 0.0 } else { e2e.value_at_quantile(0.99) as f64 / 1e6 },
        max_parallelism,
        background_cores: Some((process_cpu - operators_cpu).max(0.0) / dt),
    }
}
