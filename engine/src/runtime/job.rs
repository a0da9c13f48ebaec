//! Running a [`JobGraph`]: one thread per subtask, bounded channels between
//! them, state opened per subtask, metrics shared with whoever watches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cachesim::TraceError;
use rust_rocksdb::WriteBufferManager;

use super::exchange::{Disconnected, Edge, Message, Outputs, Sink};
use super::graph::{JobGraph, StageKind};
use super::metrics::{add_ns, latency_histogram, JobMetrics, OperatorMetrics, SubtaskMetrics, Timed};
use super::operator::{now_ms, Context, OpError, Operator, Timers};
use super::source::Source;
use crate::keygroup::KeyGroups;
use crate::row::Row;
use crate::state::cache::OperatorCache;
use crate::state::memory::MemoryStore;
use crate::state::rocks::{RocksOptions, RocksStore};
use crate::state::traced::{KeyTraceWriter, Traced};
use crate::state::{StateError, StateStore};

/// Where keyed state lives.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Ordered in-memory maps.
    Memory,
    /// RocksDB, one DB per subtask under `dir/<operator>/<subtask>`.
    RocksDb(RocksConfig),
}

/// RocksDB settings of a run.
#[derive(Clone, Debug)]
pub struct RocksConfig {
    /// State directory (must support O_DIRECT when `direct_io`).
    pub dir: PathBuf,
    /// Block-cache bytes per operator when not set in `operator_cache`.
    pub cache: usize,
    /// Block-cache bytes by operator name.
    pub operator_cache: HashMap<String, usize>,
    /// Memtable bytes per column family.
    pub write_buffer_size: usize,
    /// Direct reads and direct flush/compaction I/O.
    pub direct_io: bool,
    /// Partitioned index and filter blocks (see
    /// [`RocksOptions::partitioned_index_filters`]).
    pub partitioned_index_filters: bool,
    /// Write RocksDB's block-cache trace of every subtask's DB into this
    /// directory (`<operator>.<subtask>.trace`), keeping blocks whose hash
    /// is divisible by the given sampling frequency (1 = all).
    pub block_trace: Option<(PathBuf, u64)>,
}

impl RocksConfig {
    /// Defaults: 64 MiB cache per operator, 8 MiB write buffers, direct I/O,
    /// partitioned index and filters.
    pub fn new(dir: &Path) -> RocksConfig {
        RocksConfig {
            dir: dir.to_path_buf(),
            cache: 64 << 20,
            operator_cache: HashMap::new(),
            write_buffer_size: 8 << 20,
            direct_io: true,
            partitioned_index_filters: true,
            block_trace: None,
        }
    }

    /// The cache size of `operator`.
    pub fn cache_of(&self, operator: &str) -> usize {
        self.operator_cache.get(operator).copied().unwrap_or(self.cache)
    }
}

/// How to run a job.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Key-group layout (max parallelism).
    pub key_groups: KeyGroups,
    /// State backend.
    pub backend: Backend,
    /// Rows per channel message.
    pub batch_size: usize,
    /// Messages a channel holds before its sender blocks.
    pub channel_capacity: usize,
    /// Watermark = largest event time seen − this delay (Nexmark's DDL uses
    /// 4 s).
    pub watermark_delay_ms: u64,
    /// Source events per second over all source subtasks (`None`: as fast
    /// as the job goes).
    pub rate: Option<u64>,
    /// Record every state access into this key trace at this sampling rate.
    pub key_trace: Option<(PathBuf, f64)>,
    /// Keep the rows that reach the sinks (tests, `--results`).
    pub collect_results: bool,
}

impl RunConfig {
    /// Defaults around a backend.
    pub fn new(backend: Backend) -> RunConfig {
        RunConfig {
            key_groups: KeyGroups::default(),
            backend,
            batch_size: 512,
            channel_capacity: 16,
            watermark_delay_ms: 4000,
            rate: None,
            key_trace: None,
            collect_results: false,
        }
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The graph or the configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// Opening or using state failed.
    #[error("operator `{operator}` subtask {subtask}: {source}")]
    Operator {
        /// Operator name.
        operator: String,
        /// Subtask index.
        subtask: u32,
        /// The failure.
        source: OpError,
    },
    /// Opening state failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The key trace failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// A subtask thread could not start or panicked.
    #[error("{0}")]
    Thread(String),
}

/// What a finished job leaves.
pub struct JobOutput {
    /// Wall time from start to the last subtask's end.
    pub elapsed: Duration,
    /// The rows that reached the sinks, when collected.
    pub results: Option<Vec<Row>>,
    /// Key-trace records written, when tracing.
    pub traced_accesses: Option<u64>,
}

type TaskResult = Result<(), EngineError>;

/// A job whose subtasks are running.
pub struct RunningJob {
    metrics: Arc<JobMetrics>,
    threads: Vec<JoinHandle<TaskResult>>,
    results: Option<Arc<Mutex<Vec<Row>>>>,
    trace: Option<KeyTraceWriter>,
    started: Instant,
    stop: Arc<AtomicBool>,
}

impl RunningJob {
    /// Ends the sources now; the job then drains: every row in flight is
    /// processed and every pending window fires, as at the end of a bounded
    /// input.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
    }

    /// Live metrics.
    pub fn metrics(&self) -> Arc<JobMetrics> {
        self.metrics.clone()
    }

    /// Whether every subtask has ended.
    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Waits for every subtask; the first real failure wins over the
    /// disconnections it caused downstream and upstream.
    pub fn wait(self) -> Result<JobOutput, EngineError> {
        let mut first: Option<EngineError> = None;
        let mut disconnected = false;
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(EngineError::Thread(m))) if m == DISCONNECTED => disconnected = true,
                Ok(Err(e)) => {
                    first.get_or_insert(e);
                }
                Err(_) => {
                    first.get_or_insert(EngineError::Thread("a subtask panicked".into()));
                }
            }
        }
        let elapsed = self.started.elapsed();
        let traced_accesses = match self.trace {
            Some(w) => Some(w.finish()?),
            None => None,
        };
        if let Some(e) = first {
            return Err(e);
        }
        if disconnected {
            return Err(EngineError::Thread(DISCONNECTED.into()));
        }
        let results = self.results.map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(|p| p.into_inner())));
        Ok(JobOutput { elapsed, results, traced_accesses })
    }
}

const DISCONNECTED: &str = "a subtask stopped early";

impl From<Disconnected> for EngineError {
    fn from(_: Disconnected) -> EngineError {
        EngineError::Thread(DISCONNECTED.into())
    }
}

/// Runs `graph` to the end.
pub fn run(graph: JobGraph, cfg: &RunConfig) -> Result<JobOutput, EngineError> {
    start(graph, cfg)?.wait()
}

/// Opens state, wires channels and starts every subtask.
pub fn start(graph: JobGraph, cfg: &RunConfig) -> Result<RunningJob, EngineError> {
    graph.validate(cfg.key_groups.max_parallelism()).map_err(EngineError::Config)?;
    if cfg.batch_size == 0 || cfg.channel_capacity == 0 {
        return Err(EngineError::Config("batch size and channel capacity must be at least 1".into()));
    }
    let stages = &graph.stages;
    // Receivers of every operator subtask, senders handed to upstream edges.
    let mut senders: Vec<Vec<SyncSender<Message>>> = Vec::new();
    let mut receivers: Vec<Vec<Option<Receiver<Message>>>> = Vec::new();
    for s in stages {
        let (tx, rx): (Vec<_>, Vec<_>) = (0..s.parallelism)
            .map(|_| {
                let (t, r) = sync_channel(cfg.channel_capacity);
                (t, Some(r))
            })
            .unzip();
        senders.push(if s.inputs.is_empty() { Vec::new() } else { tx });
        receivers.push(rx);
    }
    // Downstream edges of each stage: (consumer, port).
    let mut downstream: Vec<Vec<(usize, usize)>> = vec![Vec::new(); stages.len()];
    for (i, s) in stages.iter().enumerate() {
        for (port, input) in s.inputs.iter().enumerate() {
            downstream[input.from].push((i, port));
        }
    }

    let trace = match &cfg.key_trace {
        Some((path, rate)) => {
            let names: Vec<(u16, &str)> = stages.iter().enumerate().map(|(i, s)| (i as u16, s.name.as_str())).collect();
            Some(KeyTraceWriter::create(path, &names, *rate)?)
        }
        None => None,
    };

    let mut operators = Vec::new();
    let mut stores: Vec<Vec<Option<Box<dyn StateStore>>>> = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let subtasks: Vec<Arc<SubtaskMetrics>> =
            (0..s.parallelism).map(|k| Arc::new(SubtaskMetrics::new(&s.name, k))).collect();
        let stateful = !s.states.is_empty();
        let mut cache = None;
        let mut wbm: Option<WriteBufferManager> = None;
        let mut mine = Vec::new();
        for k in 0..s.parallelism {
            if !stateful {
                mine.push(None);
                continue;
            }
            let store: Box<dyn StateStore> = match &cfg.backend {
                Backend::Memory => Box::new(MemoryStore::new(s.states.len())),
                Backend::RocksDb(rc) => {
                    let c = cache.get_or_insert_with(|| OperatorCache::new(rc.cache_of(&s.name)));
                    // One write-buffer manager per operator caps its memtables
                    // at two full write buffers per state and subtask, so
                    // memtable memory stays bounded and known, as Flink bounds
                    // it under managed memory.
                    let budget = rc.write_buffer_size * s.states.len() * s.parallelism as usize * 2;
                    let wbm =
                        wbm.get_or_insert_with(|| WriteBufferManager::new_write_buffer_manager(budget, false)).clone();
                    let opts = RocksOptions {
                        write_buffer_manager: Some(wbm),
                        write_buffer_size: rc.write_buffer_size,
                        direct_io: rc.direct_io,
                        partitioned_index_filters: rc.partitioned_index_filters,
                        key_groups: cfg.key_groups,
                        ..RocksOptions::new(c)
                    };
                    let dir = rc.dir.join(&s.name).join(k.to_string());
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| StateError::Directory { dir: dir.clone(), reason: e.to_string() })?;
                    let mut store = RocksStore::open(&dir, &s.states, &opts)?;
                    if let Some((trace_dir, sampling)) = &rc.block_trace {
                        std::fs::create_dir_all(trace_dir)
                            .map_err(|e| StateError::Directory { dir: trace_dir.clone(), reason: e.to_string() })?;
                        store.start_block_cache_trace(&trace_dir.join(format!("{}.{k}.trace", s.name)), *sampling)?;
                    }
                    Box::new(store)
                }
            };
            let store: Box<dyn StateStore> = match &trace {
                Some(w) => Box::new(Traced::new(store, w.recorder(i as u16, k as u16))),
                None => store,
            };
            mine.push(Some(store));
        }
        stores.push(mine);
        operators.push(OperatorMetrics { name: s.name.clone(), stateful, cache, subtasks });
    }
    let metrics = Arc::new(JobMetrics {
        started: Instant::now(),
        operators,
        results: Default::default(),
        events: Default::default(),
        sources_running: AtomicU64::new(
            stages.iter().filter(|s| matches!(s.kind, StageKind::Source(_))).map(|s| s.parallelism as u64).sum(),
        ),
        sources_done_ns: Default::default(),
        e2e_latency: Mutex::new(latency_histogram()),
    });
    let results = cfg.collect_results.then(|| Arc::new(Mutex::new(Vec::new())));
    let stop = Arc::new(AtomicBool::new(false));

    let mut threads = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        for k in 0..s.parallelism {
            let m = metrics.operators[i].subtasks[k as usize].clone();
            let edges: Vec<Edge> = downstream[i]
                .iter()
                .map(|&(to, port)| {
                    Edge::new(stages[to].inputs[port].partition.clone(), port as u8, senders[to].clone())
                })
                .collect();
            let sink =
                edges.is_empty().then(|| Sink { collect: results.clone(), local: Vec::new(), job: metrics.clone() });
            let outputs = Outputs::new(edges, sink, k, cfg.batch_size, cfg.key_groups, m.clone());
            let name = format!("{}-{k}", s.name);
            let spawned = match &s.kind {
                StageKind::Source(f) => {
                    let source = f(k, s.parallelism);
                    let pace = cfg.rate.map(|r| r as f64 / s.parallelism as f64);
                    let pacing = Pacing { rate: pace, delay: cfg.watermark_delay_ms, batch: cfg.batch_size };
                    let (job, stop) = (metrics.clone(), stop.clone());
                    std::thread::Builder::new()
                        .name(name)
                        .spawn(move || source_task(source, outputs, m, job, pacing, stop))
                }
                StageKind::Operator(f) => {
                    let op = f(k);
                    let rx = receivers[i][k as usize].take().expect("one receiver per subtask");
                    let senders_per_port: Vec<u32> = s.inputs.iter().map(|inp| stages[inp.from].parallelism).collect();
                    let store = stores[i][k as usize].take();
                    let task = OperatorTask { name: s.name.clone(), index: k, op, rx, senders_per_port, outputs, m };
                    std::thread::Builder::new().name(name).spawn(move || task.run(store))
                }
            };
            threads.push(spawned.map_err(|e| EngineError::Thread(format!("cannot start a thread: {e}")))?);
        }
    }
    // Our copies of the senders must go, or the receivers never see the
    // end of their inputs.
    drop(senders);
    Ok(RunningJob { metrics, threads, results, trace, started: Instant::now(), stop })
}

/// How many events a source emits between watermarks.
const WATERMARK_EVERY: u64 = 2048;

/// How a source subtask emits.
struct Pacing {
    /// Events per second of this subtask, if paced.
    rate: Option<f64>,
    /// Watermark delay, ms.
    delay: u64,
    /// Events per batch.
    batch: usize,
}

fn source_task(
    mut source: Box<dyn Source>,
    mut out: Outputs,
    m: Arc<SubtaskMetrics>,
    job: Arc<JobMetrics>,
    pacing: Pacing,
    stop: Arc<AtomicBool>,
) -> TaskResult {
    let Pacing { rate: pace, delay, batch } = pacing;
    let start = Instant::now();
    let mut rows = Vec::with_capacity(batch);
    let (mut events, mut since_watermark) = (0u64, 0u64);
    loop {
        let busy = Instant::now();
        let bp0 = m.backpressure_ns.load(Relaxed);
        let born = Instant::now();
        let mut p = source.fill(&mut rows, batch);
        p.done |= stop.load(Relaxed);
        events += p.events as u64;
        since_watermark += p.events as u64;
        job.events.fetch_add(p.events as u64, Relaxed);
        m.records_in.fetch_add(p.events as u64, Relaxed);
        out.derive_from(born);
        out.emit_all(&mut rows)?;
        if since_watermark >= WATERMARK_EVERY || p.done {
            since_watermark = 0;
            out.watermark(p.event_time.saturating_sub(delay), born)?;
        }
        let bp = m.backpressure_ns.load(Relaxed) - bp0;
        m.useful_ns.fetch_add((busy.elapsed().as_nanos() as u64).saturating_sub(bp), Relaxed);
        if p.done {
            break;
        }
        if let Some(rate) = pace {
            let due = start + Duration::from_secs_f64(events as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
                add_ns(&m.idle_ns, due - now);
            }
        }
    }
    // The last source to finish stamps the time: the job's sustained rate
    // is its events over this span, without the final drain.
    if job.sources_running.fetch_sub(1, Relaxed) == 1 {
        job.sources_done_ns.store(job.started.elapsed().as_nanos() as u64, Relaxed);
    }
    out.end()?;
    m.finished.store(1, Relaxed);
    Ok(())
}

struct OperatorTask {
    name: String,
    index: u32,
    op: Box<dyn Operator>,
    rx: Receiver<Message>,
    senders_per_port: Vec<u32>,
    outputs: Outputs,
    m: Arc<SubtaskMetrics>,
}

/// Per-input watermark bookkeeping of one subtask.
struct Watermarks {
    /// Per port, per upstream subtask: its watermark (`u64::MAX` once ended).
    per_sender: Vec<Vec<u64>>,
    current: u64,
}

impl Watermarks {
    fn update(&mut self, port: u8, from: u32, time: u64) -> Option<u64> {
        let w = &mut self.per_sender[port as usize][from as usize];
        *w = (*w).max(time);
        let min = self.per_sender.iter().flatten().copied().min().unwrap_or(u64::MAX);
        (min > self.current).then(|| {
            self.current = min;
            min
        })
    }

    fn all_ended(&self) -> bool {
        self.per_sender.iter().flatten().all(|&w| w == u64::MAX)
    }
}

/// How long a subtask with pending processing-time timers sleeps at most.
const PROCESSING_TICK: Duration = Duration::from_millis(20);

impl OperatorTask {
    fn run(self, store: Option<Box<dyn StateStore>>) -> TaskResult {
        let (name, index) = (self.name.clone(), self.index);
        let m = self.m.clone();
        let r = self.run_inner(store).map_err(|e| match e {
            TaskError::Op(source) => EngineError::Operator { operator: name, subtask: index, source },
            TaskError::Disconnected => Disconnected.into(),
        });
        m.finished.store(1, Relaxed);
        r
    }

    fn run_inner(mut self, store: Option<Box<dyn StateStore>>) -> Result<(), TaskError> {
        let mut store = Timed::new(store.unwrap_or_else(|| Box::new(MemoryStore::new(0))), self.m.clone());
        let mut timers = Timers::default();
        let mut pending: Vec<Row> = Vec::with_capacity(1024);
        let mut wm =
            Watermarks { per_sender: self.senders_per_port.iter().map(|&n| vec![0; n as usize]).collect(), current: 0 };
        loop {
            let waited = Instant::now();
            let msg = if timers.processing.is_empty() {
                self.rx.recv().map(Some).map_err(|_| TaskError::Disconnected)?
            } else {
                match self.rx.recv_timeout(PROCESSING_TICK) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return Err(TaskError::Disconnected),
                }
            };
            add_ns(&self.m.idle_ns, waited.elapsed());
            let busy = Instant::now();
            let bp0 = self.m.backpressure_ns.load(Relaxed);
            let mut finished = false;
            match msg {
                Some(Message::Rows { port, rows, born }) => {
                    self.outputs.derive_from(born);
                    self.m.records_in.fetch_add(rows.len() as u64, Relaxed);
                    for (kg, row) in rows {
                        let mut c = Context {
                            key_group: kg,
                            watermark: wm.current,
                            state: &mut store,
                            out: &mut pending,
                            timers: &mut timers,
                        };
                        self.op.process(port as usize, row, &mut c)?;
                        if pending.len() >= 1024 {
                            self.outputs.emit_all(&mut pending)?;
                        }
                    }
                    let mut c = Context {
                        key_group: 0,
                        watermark: wm.current,
                        state: &mut store,
                        out: &mut pending,
                        timers: &mut timers,
                    };
                    self.op.flush(&mut c)?;
                }
                Some(Message::Watermark { port, from, time, born }) => {
                    if let Some(now) = wm.update(port, from, time) {
                        self.outputs.derive_from(born);
                        self.fire_event_timers(now, &mut store, &mut timers, &mut pending)?;
                        self.outputs.emit_all(&mut pending)?;
                        self.outputs.watermark(now, born)?;
                    }
                }
                Some(Message::End { port, from }) => {
                    wm.update(port, from, u64::MAX);
                    if wm.all_ended() {
                        self.fire_event_timers(u64::MAX, &mut store, &mut timers, &mut pending)?;
                        // Processing-time windows still open at the end of
                        // the input close now: nothing is left unreported.
                        self.fire_processing_timers(u64::MAX, wm.current, &mut store, &mut timers, &mut pending)?;
                        finished = true;
                    }
                }
                None => {}
            }
            if !timers.processing.is_empty() {
                self.fire_processing_timers(now_ms(), wm.current, &mut store, &mut timers, &mut pending)?;
            }
            self.outputs.emit_all(&mut pending)?;
            if finished {
                self.outputs.end()?;
            } else {
                self.outputs.flush()?;
            }
            if !finished {
                store.maybe_publish(false);
            }
            let bp = self.m.backpressure_ns.load(Relaxed) - bp0;
            self.m.useful_ns.fetch_add((busy.elapsed().as_nanos() as u64).saturating_sub(bp), Relaxed);
            if finished {
                return self.finish(store);
            }
        }
    }

    fn finish(self, mut store: Timed<Box<dyn StateStore>>) -> Result<(), TaskError> {
        store.finish()?;
        store.maybe_publish(true);
        Ok(())
    }

    fn fire_event_timers(
        &mut self,
        upto: u64,
        store: &mut Timed<Box<dyn StateStore>>,
        timers: &mut Timers,
        pending: &mut Vec<Row>,
    ) -> Result<(), TaskError> {
        while let Some((time, kg, key)) = Timers::pop_due(&mut timers.event, upto) {
            let mut c = Context { key_group: kg, watermark: upto, state: store, out: pending, timers };
            self.op.on_timer(time, &key, &mut c)?;
            if pending.len() >= 1024 {
                self.outputs.emit_all(pending)?;
            }
        }
        Ok(())
    }

    fn fire_processing_timers(
        &mut self,
        upto: u64,
        watermark: u64,
        store: &mut Timed<Box<dyn StateStore>>,
        timers: &mut Timers,
        pending: &mut Vec<Row>,
    ) -> Result<(), TaskError> {
        while let Some((time, kg, key)) = Timers::pop_due(&mut timers.processing, upto) {
            let mut c = Context { key_group: kg, watermark, state: store, out: pending, timers };
            self.op.on_processing_timer(time, &key, &mut c)?;
            if pending.len() >= 1024 {
                self.outputs.emit_all(pending)?;
            }
        }
        Ok(())
    }
}

enum TaskError {
    Op(OpError),
    Disconnected,
}

impl From<OpError> for TaskError {
    fn from(e: OpError) -> TaskError {
        TaskError::Op(e)
    }
}

impl From<StateError> for TaskError {
    fn from(e: StateError) -> TaskError {
        TaskError::Op(e.into())
    }
}

impl From<Disconnected> for TaskError {
    fn from(_: Disconnected) -> TaskError {
        TaskError::Disconnected
    }
}
