//! Live metrics of a running job, per operator subtask: record counts,
//! DS2's useful time (busy time excluding waits on input and output),
//! backpressure, state-access latency histograms and RocksDB statistics.
//!
//! Subtask threads write counters with relaxed atomics once per batch and
//! merge their latency histograms into the shared ones a few times a second,
//! so readers (the Prometheus endpoint, snapshots, the end-of-run summary)
//! never slow the record path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::state::cache::OperatorCache;
use crate::state::{StateError, StateId, StateStore, StoreStats};

/// Latencies are recorded in nanoseconds up to one minute, 3 significant
/// digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// Get and put latency histograms.
#[derive(Clone)]
pub struct StateLatency {
    /// Reads (get and scan).
    pub get: Histogram<u64>,
    /// Writes (put and delete).
    pub put: Histogram<u64>,
}

impl Default for StateLatency {
    fn default() -> StateLatency {
        StateLatency { get: latency_histogram(), put: latency_histogram() }
    }
}

impl StateLatency {
    fn add(&mut self, other: &StateLatency) {
        // Both use the same bounds, so adding cannot fail.
        let _ = self.get.add(&other.get);
        let _ = self.put.add(&other.put);
    }

    fn reset(&mut self) {
        self.get.reset();
        self.put.reset();
    }
}

/// Counters of one operator subtask.
pub struct SubtaskMetrics {
    /// Operator (stage) name.
    pub operator: String,
    /// Subtask index.
    pub subtask: u32,
    /// Rows received.
    pub records_in: AtomicU64,
    /// Rows emitted.
    pub records_out: AtomicU64,
    /// Nanoseconds spent processing (DS2 useful time).
    pub useful_ns: AtomicU64,
    /// CPU nanoseconds its thread has used, as last published (at most
    /// 10 ms old while it runs).
    pub cpu_ns: AtomicU64,
    /// Nanoseconds spent waiting for input.
    pub idle_ns: AtomicU64,
    /// Nanoseconds blocked on a full output channel.
    pub backpressure_ns: AtomicU64,
    /// Set when the subtask has finished.
    pub finished: AtomicU64,
    /// Set when a rescale retired the subtask (its counters stay, so
    /// operator totals keep what it did).
    pub retired: AtomicU64,
    /// State accesses per key group, as last published (what a hot-first
    /// migration orders key groups by).
    key_group_accesses: Mutex<Vec<u64>>,
    latency_total: Mutex<StateLatency>,
    latency_recent: Mutex<StateLatency>,
    store: Mutex<StoreStats>,
}

impl SubtaskMetrics {
    pub(crate) fn new(operator: &str, subtask: u32) -> SubtaskMetrics {
        SubtaskMetrics {
            operator: operator.to_string(),
            subtask,
            records_in: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            useful_ns: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            idle_ns: AtomicU64::new(0),
            backpressure_ns: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            retired: AtomicU64::new(0),
            key_group_accesses: Mutex::new(Vec::new()),
            latency_total: Mutex::new(StateLatency::default()),
            latency_recent: Mutex::new(StateLatency::default()),
            store: Mutex::new(StoreStats::default()),
        }
    }

    /// State latencies since the start of the run.
    pub fn latency_total(&self) -> StateLatency {
        self.latency_total.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// State latencies since the last call (for interval quantiles).
    pub fn take_latency_recent(&self) -> StateLatency {
        match self.latency_recent.lock() {
            Ok(mut l) => {
                let out = l.clone();
                l.reset();
                out
            }
            Err(_) => StateLatency::default(),
        }
    }

    /// The state backend's statistics as last published.
    pub fn store(&self) -> StoreStats {
        self.store.lock().map(|s| *s).unwrap_or_default()
    }

    /// State accesses per key group since the subtask started.
    pub fn key_group_accesses(&self) -> Vec<u64> {
        self.key_group_accesses.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Whether the subtask is still part of the job.
    pub fn is_live(&self) -> bool {
        self.retired.load(Relaxed) == 0
    }

    fn publish(&self, local: &mut StateLatency, stats: Option<StoreStats>, accesses: &[u64]) {
        if let Ok(mut a) = self.key_group_accesses.lock() {
            a.clear();
            a.extend_from_slice(accesses);
        }
        if let Ok(mut t) = self.latency_total.lock() {
            t.add(local);
        }
        if let Ok(mut r) = self.latency_recent.lock() {
            r.add(local);
        }
        local.reset();
        if let (Some(s), Ok(mut mine)) = (stats, self.store.lock()) {
            *mine = s;
        }
    }
}

/// One operator's shared pieces: its block cache and write-buffer budget
/// (RocksDB state only) and its subtasks, which rescales add and retire.
pub struct OperatorMetrics {
    /// Operator (stage) name.
    pub name: String,
    /// Whether the operator keeps keyed state.
    pub stateful: bool,
    /// Its block cache, when its state is in RocksDB.
    pub cache: Option<OperatorCache>,
    /// Its write-buffer manager's budget, bytes (RocksDB state only).
    pub write_buffer_budget: AtomicU64,
    /// Every subtask it has had, in the order they started.
    pub(crate) subtasks: Mutex<Vec<Arc<SubtaskMetrics>>>,
}

impl OperatorMetrics {
    pub(crate) fn new(name: &str, stateful: bool, cache: Option<OperatorCache>) -> OperatorMetrics {
        OperatorMetrics {
            name: name.to_string(),
            stateful,
            cache,
            write_buffer_budget: AtomicU64::new(0),
            subtasks: Mutex::new(Vec::new()),
        }
    }

    /// Every subtask it has had, retired ones included (their counters are
    /// part of the operator's totals).
    pub fn subtasks(&self) -> Vec<Arc<SubtaskMetrics>> {
        self.subtasks.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Subtasks running now.
    pub fn parallelism(&self) -> u32 {
        self.subtasks().iter().filter(|s| s.is_live()).count() as u32
    }
}

/// Rescales so far.
#[derive(Default)]
pub struct RescaleMetrics {
    /// Changes of parallelism completed.
    pub rescales: AtomicU64,
    /// Changes of memory completed.
    pub resizes: AtomicU64,
    /// Key groups moved.
    pub key_groups_moved: AtomicU64,
    /// State bytes moved.
    pub bytes_moved: AtomicU64,
    /// Durations of the rescales, nanoseconds.
    pub durations: Mutex<Vec<u64>>,
}

/// Every metric of a job; shared with exporters while the job runs.
pub struct JobMetrics {
    /// When the job started.
    pub started: Instant,
    /// Operators in topological order.
    pub operators: Vec<OperatorMetrics>,
    /// Rows that reached the sinks.
    pub results: AtomicU64,
    /// Source events emitted.
    pub events: AtomicU64,
    /// Source subtasks still emitting.
    pub sources_running: AtomicU64,
    /// Nanoseconds from the start until the last source subtask emitted its
    /// last event (0 while any still runs).
    pub sources_done_ns: AtomicU64,
    /// End-to-end latency of rows reaching the sinks (source emission to
    /// sink), nanoseconds.
    pub e2e_latency: Mutex<Histogram<u64>>,
    /// Rescales and resizes.
    pub rescale: RescaleMetrics,
    /// The same latencies by the second of the run they were recorded in
    /// (2 significant digits): latency in any window, such as the seconds
    /// around a rescale.
    pub e2e_by_second: Mutex<Vec<Histogram<u64>>>,
}

impl JobMetrics {
    /// Records `n` rows of end-to-end latency `ns`, now.
    pub(crate) fn record_e2e(&self, ns: u64, n: u64) {
        if let Ok(mut h) = self.e2e_latency.lock() {
            let _ = h.record_n(ns, n);
        }
        let second = self.started.elapsed().as_secs() as usize;
        if let Ok(mut by) = self.e2e_by_second.lock() {
            while by.len() <= second {
                by.push(Histogram::new_with_bounds(1, 60_000_000_000, 2).expect("valid histogram bounds"));
            }
            let _ = by[second].record_n(ns, n);
        }
    }

    /// End-to-end latency of the rows that reached the sinks in the whole
    /// seconds `from..to` of the run (fractions cut off).
    pub fn e2e_window(&self, from: Duration, to: Duration) -> Histogram<u64> {
        let mut out = Histogram::new_with_bounds(1, 60_000_000_000, 2).expect("valid histogram bounds");
        if let Ok(by) = self.e2e_by_second.lock() {
            let (a, b) = (from.as_secs() as usize, (to.as_secs() as usize).min(by.len()));
            for h in by.get(a..b.max(a)).unwrap_or(&[]) {
                let _ = out.add(h);
            }
        }
        out
    }

    /// End-to-end latency p99, ms, of rows that reached the sinks in the
    /// `window` from `started_s` (seconds into the run, such as a
    /// rescale's start) and in the `window` before it (steady state): what
    /// a change cost the job's latency, rows it held that arrived later
    /// included. 0 for a window without rows.
    pub fn latency_around(&self, started_s: f64, window: Duration) -> (f64, f64) {
        let at = Duration::from_secs_f64(started_s.max(0.0));
        let p99 = |h: Histogram<u64>| if h.is_empty() { 0.0 } else { h.value_at_quantile(0.99) as f64 / 1e6 };
        (p99(self.e2e_window(at, at + window)), p99(self.e2e_window(at.saturating_sub(window), at)))
    }

    /// End-to-end latency histogram so far.
    pub fn e2e_latency(&self) -> Histogram<u64> {
        self.e2e_latency.lock().map(|h| h.clone()).unwrap_or_else(|_| latency_histogram())
    }
}

/// How often a subtask publishes histograms and store statistics.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// A [`StateStore`] wrapper that times every access into local histograms
/// and publishes them (with the store's statistics) a few times a second.
pub(crate) struct Timed<S> {
    inner: S,
    local: StateLatency,
    accesses: Vec<u64>,
    metrics: Arc<SubtaskMetrics>,
    last_publish: Instant,
}

impl<S: StateStore> Timed<S> {
    pub fn new(inner: S, metrics: Arc<SubtaskMetrics>, key_groups: u32) -> Timed<S> {
        let accesses = vec![0; key_groups as usize];
        Timed { inner, local: StateLatency::default(), accesses, metrics, last_publish: Instant::now() }
    }

    fn count(&mut self, kg: u16) {
        if let Some(n) = self.accesses.get_mut(kg as usize) {
            *n += 1;
        }
    }

    /// Publishes if due (or always with `force`).
    pub fn maybe_publish(&mut self, force: bool) {
        if force || self.last_publish.elapsed() >= PUBLISH_EVERY {
            let stats = self.inner.stats();
            self.metrics.publish(&mut self.local, stats, &self.accesses);
            self.last_publish = Instant::now();
        }
    }
}

fn record(h: &mut Histogram<u64>, since: Instant) {
    h.saturating_record((since.elapsed().as_nanos() as u64).max(1));
}

impl<S: StateStore> StateStore for Timed<S> {
    fn get(&mut self, state: StateId, kg: u16, key: &[u8], value: &mut Vec<u8>) -> Result<bool, StateError> {
        self.count(kg);
        let t = Instant::now();
        let r = self.inner.get(state, kg, key, value);
        record(&mut self.local.get, t);
        r
    }

    fn put(&mut self, state: StateId, kg: u16, key: &[u8], value: &[u8]) -> Result<(), StateError> {
        self.count(kg);
        let t = Instant::now();
        let r = self.inner.put(state, kg, key, value);
        record(&mut self.local.put, t);
        r
    }

    fn merge(&mut self, state: StateId, kg: u16, key: &[u8], operand: &[u8]) -> Result<(), StateError> {
        self.count(kg);
        let t = Instant::now();
        let r = self.inner.merge(state, kg, key, operand);
        record(&mut self.local.put, t);
        r
    }

    fn delete(&mut self, state: StateId, kg: u16, key: &[u8]) -> Result<(), StateError> {
        self.count(kg);
        let t = Instant::now();
        let r = self.inner.delete(state, kg, key);
        record(&mut self.local.put, t);
        r
    }

    fn scan(
        &mut self,
        state: StateId,
        kg: u16,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StateError> {
        self.count(kg);
        let t = Instant::now();
        let r = self.inner.scan(state, kg, prefix, f);
        record(&mut self.local.get, t);
        r
    }

    fn delete_prefix(&mut self, state: StateId, kg: u16, prefix: &[u8]) -> Result<(), StateError> {
        let t = Instant::now();
        let r = self.inner.delete_prefix(state, kg, prefix);
        record(&mut self.local.put, t);
        r
    }

    fn delete_key_groups(&mut self, groups: std::ops::RangeInclusive<u16>) -> Result<(), StateError> {
        self.inner.delete_key_groups(groups)
    }

    fn expire(&mut self, state: StateId, before: u64) -> Result<(), StateError> {
        self.inner.expire(state, before)
    }

    fn state_count(&self) -> usize {
        self.inner.state_count()
    }

    fn export_key_groups(
        &mut self,
        groups: &[u16],
        scratch: &std::path::Path,
    ) -> Result<crate::state::transfer::Exported, StateError> {
        self.inner.export_key_groups(groups, scratch)
    }

    fn export_key_group_sets(
        &mut self,
        sets: &[Vec<u16>],
        scratch: &std::path::Path,
    ) -> Result<Vec<crate::state::transfer::Exported>, StateError> {
        self.inner.export_key_group_sets(sets, scratch)
    }

    fn import_key_groups(&mut self, data: crate::state::transfer::Exported) -> Result<(), StateError> {
        self.inner.import_key_groups(data)
    }

    fn stats(&self) -> Option<StoreStats> {
        self.inner.stats()
    }

    fn attach_thread(&mut self) {
        self.inner.attach_thread()
    }

    fn finish(&mut self) -> Result<(), StateError> {
        self.inner.finish()
    }
}

/// Adds `d` to a nanosecond counter.
pub(crate) fn add_ns(c: &AtomicU64, d: Duration) {
    c.fetch_add(d.as_nanos() as u64, Relaxed);
}
