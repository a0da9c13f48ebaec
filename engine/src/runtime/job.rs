//! Running a [`JobGraph`]: one thread per subtask, bounded channels between
//! them routed by versioned tables, state opened per subtask, metrics
//! shared with whoever watches, and a [`Runtime`] that can start and retire
//! subtasks while the job runs ([`super::control`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cachesim::TraceError;
use rust_rocksdb::WriteBufferManager;

use super::control::Control;
use super::exchange::{Disconnected, Edge, Message, Outputs, Partition, Sink};
use super::graph::{JobGraph, StageKind};
use super::metrics::{latency_histogram, JobMetrics, OperatorMetrics, SubtaskMetrics};
use super::migrate::{Inputs, Peer};
use super::operator::OpError;
use super::routing::{Inbox, Route, Table, Target};
use super::task::{source_task, OperatorTask, Pacing, TaskResult};
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
    /// Count the block-cache hits and misses of each subtask's own reads
    /// (RocksDB's PerfContext on the subtask's thread) into
    /// `user_hits`/`user_misses`: what a live hit ratio needs, since
    /// RocksDB's tickers also count compaction's lookups. Off by default:
    /// the counters add a thread-local increment to every key comparison
    /// and block lookup, about 3% of q5's and q7's throughput.
    pub count_user_reads: bool,
}

impl RocksConfig {
    /// Defaults: 64 MiB cache per operator, 8 MiB write buffers, direct I/O,
    /// partitioned index and filters, no user-read counters.
    pub fn new(dir: &Path) -> RocksConfig {
        RocksConfig {
            dir: dir.to_path_buf(),
            cache: 64 << 20,
            operator_cache: HashMap::new(),
            write_buffer_size: 8 << 20,
            direct_io: true,
            partitioned_index_filters: true,
            block_trace: None,
            count_user_reads: false,
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
    /// How that rate moves over the run.
    pub rate_shape: super::rate::RateShape,
    /// Record every state access into this key trace at this sampling rate.
    pub key_trace: Option<(PathBuf, f64)>,
    /// Keep the rows that reach the sinks (tests, `--results`).
    pub collect_results: bool,
    /// Check every moved key group's checksum at its new owner against
    /// the one it left with (a scan of both: for tests).
    pub verify_migrations: bool,
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
            rate_shape: super::rate::RateShape::Constant,
            key_trace: None,
            collect_results: false,
            verify_migrations: false,
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
        /// Subtask id.
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

/// A running subtask of a stage.
#[derive(Clone)]
pub(crate) struct Live {
    pub id: u32,
    /// Its inbox and channel (operators only).
    pub peer: Option<Peer>,
}

/// What the runtime keeps of each stage to start subtasks later.
pub(crate) struct StageRuntime {
    /// Subtasks running now, in position order.
    pub live: Vec<Live>,
    /// The id the next new subtask gets.
    pub next_id: u32,
}

/// Everything the subtasks of a job share, and what starting one needs.
pub(crate) struct Runtime {
    pub graph: JobGraph,
    pub cfg: RunConfig,
    pub metrics: Arc<JobMetrics>,
    results: Option<Arc<Mutex<Vec<Row>>>>,
    trace: Mutex<Option<KeyTraceWriter>>,
    /// Per stage, the routes of its input ports.
    pub inputs: Vec<Vec<Arc<Route>>>,
    /// Per stage, the (stage, port) its output feeds.
    pub downstream: Vec<Vec<(usize, usize)>>,
    pub stages: Mutex<Vec<StageRuntime>>,
    wbm: Vec<Option<WriteBufferManager>>,
    threads: Mutex<(Vec<JoinHandle<TaskResult>>, bool)>,
    /// End the sources now.
    pub stop: AtomicBool,
    /// A subtask failed: every other one stops.
    pub abort: AtomicBool,
    /// Stop-the-world: the epoch whose barrier the sources emit and then
    /// wait behind (0: none).
    pub pause: AtomicU64,
    /// Operator subtasks aligned on the current barrier.
    pub aligned: AtomicU64,
    /// The last barrier epoch handed out.
    pub barrier_epoch: AtomicU64,
    /// A change is running.
    pub busy: AtomicBool,
    /// 1 + the stage being rescaled (0: none): its subtasks stay, even with
    /// every input ended, until the last step is done.
    pub rescaling: AtomicUsize,
}

impl Runtime {
    /// Whether stage `i` is being rescaled.
    pub fn is_rescaling(&self, i: usize) -> bool {
        self.rescaling.load(Relaxed) == i + 1
    }

    /// A subtask failed: wake every other one, so that it stops instead of
    /// waiting on input that never comes.
    pub fn fail(&self) {
        self.abort.store(true, Relaxed);
        let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        for s in stages.iter() {
            for l in &s.live {
                if let Some(p) = &l.peer {
                    let _ = p.tx.try_send(Message::Wake);
                }
            }
        }
    }

    /// The write-buffer manager of stage `i` (RocksDB state only).
    pub fn write_buffer_manager(&self, i: usize) -> Option<&WriteBufferManager> {
        self.wbm[i].as_ref()
    }

    /// The directory of subtask `id` of stage `i` (RocksDB state only).
    pub fn state_dir(&self, i: usize, id: u32) -> Option<PathBuf> {
        match &self.cfg.backend {
            Backend::RocksDb(rc) => Some(rc.dir.join(&self.graph.stages[i].name).join(id.to_string())),
            Backend::Memory => None,
        }
    }

    fn scratch_dir(&self, i: usize) -> PathBuf {
        match &self.cfg.backend {
            Backend::RocksDb(rc) => rc.dir.join(&self.graph.stages[i].name).join("moving"),
            Backend::Memory => std::env::temp_dir(),
        }
    }

    /// Opens the state of subtask `id` of stage `i`.
    fn open_store(&self, i: usize, id: u32) -> Result<Box<dyn StateStore>, EngineError> {
        let s = &self.graph.stages[i];
        let store: Box<dyn StateStore> = match (&self.cfg.backend, &self.metrics.operators[i].cache) {
            (Backend::RocksDb(rc), Some(cache)) if !s.states.is_empty() => {
                let opts = RocksOptions {
                    write_buffer_manager: self.wbm[i].clone(),
                    write_buffer_size: rc.write_buffer_size,
                    direct_io: rc.direct_io,
                    partitioned_index_filters: rc.partitioned_index_filters,
                    key_groups: self.cfg.key_groups,
                    // Checksums of moved groups need contents that change
                    // only by the operator's writes.
                    expire_in_compactions: !self.cfg.verify_migrations,
                    count_user_reads: rc.count_user_reads,
                    ..RocksOptions::new(cache)
                };
                let dir = rc.dir.join(&s.name).join(id.to_string());
                std::fs::create_dir_all(&dir)
                    .map_err(|e| StateError::Directory { dir: dir.clone(), reason: e.to_string() })?;
                let mut store = RocksStore::open(&dir, &s.states, &opts)?;
                if let Some((trace_dir, sampling)) = &rc.block_trace {
                    std::fs::create_dir_all(trace_dir)
                        .map_err(|e| StateError::Directory { dir: trace_dir.clone(), reason: e.to_string() })?;
                    store.start_block_cache_trace(&trace_dir.join(format!("{}.{id}.trace", s.name)), *sampling)?;
                }
                Box::new(store)
            }
            _ => Box::new(MemoryStore::new(s.states.len())),
        };
        let trace = self.trace.lock().unwrap_or_else(|p| p.into_inner());
        Ok(match (&*trace, s.states.is_empty()) {
            (Some(w), false) => Box::new(Traced::new(store, w.recorder(i as u16, id as u16))),
            _ => store,
        })
    }

    /// Starts subtask `id` of operator stage `i` at `position`, reading a
    /// channel made beforehand; upstream senders are `senders[port]`.
    pub fn launch_operator(
        self: &Arc<Self>,
        i: usize,
        live: &Live,
        rx: Receiver<Message>,
        senders: Vec<Vec<u32>>,
        position: u32,
    ) -> Result<(), EngineError> {
        let s = &self.graph.stages[i];
        let StageKind::Operator(f) = &s.kind else {
            return Err(EngineError::Config(format!("stage `{}` is not an operator", s.name)));
        };
        let Some(peer) = live.peer.clone() else {
            return Err(EngineError::Config(format!("operator `{}` subtask {} has no channel", s.name, live.id)));
        };
        let m = self.subtask_metrics(i, live.id);
        let store = self.open_store(i, live.id)?;
        let outputs = self.outputs(i, live.id, position, m.clone());
        let task = OperatorTask {
            stage: i,
            name: s.name.clone(),
            id: live.id,
            op: f(live.id),
            rx,
            inbox: peer.inbox,
            inputs: Inputs::new(&senders),
            outputs,
            m,
            rt: self.clone(),
            state_dir: self.state_dir(i, live.id).filter(|_| !s.states.is_empty()),
            scratch: self.scratch_dir(i),
        };
        self.spawn(format!("{}-{}", s.name, live.id), move || task.run(store))
    }

    fn subtask_metrics(&self, i: usize, id: u32) -> Arc<SubtaskMetrics> {
        let op = &self.metrics.operators[i];
        let m = Arc::new(SubtaskMetrics::new(&op.name, id));
        op.subtasks.lock().unwrap_or_else(|p| p.into_inner()).push(m.clone());
        m
    }

    fn outputs(&self, i: usize, id: u32, position: u32, m: Arc<SubtaskMetrics>) -> Outputs {
        let edges: Vec<Edge> =
            self.downstream[i].iter().map(|&(to, port)| Edge::new(self.inputs[to][port].clone())).collect();
        let sink = edges.is_empty().then(|| Sink {
            collect: self.results.clone(),
            local: Vec::new(),
            job: self.metrics.clone(),
        });
        Outputs::new(edges, sink, (id, position), self.cfg.batch_size, self.cfg.key_groups, m)
    }

    fn spawn(&self, name: String, f: impl FnOnce() -> TaskResult + Send + 'static) -> Result<(), EngineError> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if threads.1 {
            return Err(EngineError::Config("the job has ended".into()));
        }
        let h = std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map_err(|e| EngineError::Thread(format!("cannot start a thread: {e}")))?;
        threads.0.push(h);
        Ok(())
    }

    /// Takes the threads started so far; once none are left and the job
    /// is over, no more can start.
    fn take_threads(&self) -> Vec<JoinHandle<TaskResult>> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let out = std::mem::take(&mut threads.0);
        if out.is_empty() {
            threads.1 = true;
        }
        out
    }
}

/// A job whose subtasks are running.
pub struct RunningJob {
    rt: Arc<Runtime>,
    started: Instant,
}

impl RunningJob {
    /// Ends the sources now; the job then drains: every row in flight is
    /// processed and every pending window fires, as at the end of a bounded
    /// input.
    pub fn stop(&self) {
        self.rt.stop.store(true, Relaxed);
    }

    /// Live metrics.
    pub fn metrics(&self) -> Arc<JobMetrics> {
        self.rt.metrics.clone()
    }

    /// The handle that rescales operators and resizes their memory while
    /// the job runs.
    pub fn control(&self) -> Control {
        Control::new(self.rt.clone())
    }

    /// Whether every subtask has ended.
    pub fn is_finished(&self) -> bool {
        self.rt.threads.lock().map(|t| t.0.iter().all(|h| h.is_finished())).unwrap_or(true)
    }

    /// Waits for every subtask (those rescales started too); the first real
    /// failure wins over the disconnections it caused downstream and
    /// upstream.
    pub fn wait(self) -> Result<JobOutput, EngineError> {
        let mut first: Option<EngineError> = None;
        let mut disconnected = false;
        loop {
            let threads = self.rt.take_threads();
            if threads.is_empty() {
                break;
            }
            for t in threads {
                match t.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(EngineError::Thread(m))) if m == DISCONNECTED => disconnected = true,
                    Ok(Err(e)) => {
                        first.get_or_insert(e);
                    }
                    Err(_) => {
                        self.rt.fail();
                        first.get_or_insert(EngineError::Thread("a subtask panicked".into()));
                    }
                }
            }
        }
        let elapsed = self.started.elapsed();
        let trace = self.rt.trace.lock().unwrap_or_else(|p| p.into_inner()).take();
        let traced_accesses = match trace {
            Some(w) => Some(w.finish()?),
            None => None,
        };
        if let Some(e) = first {
            return Err(e);
        }
        if disconnected {
            return Err(EngineError::Thread(DISCONNECTED.into()));
        }
        let results =
            self.rt.results.as_ref().map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(|p| p.into_inner())));
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
    // Channels of every operator subtask; ids start as positions.
    let mut receivers: Vec<Vec<Option<Receiver<Message>>>> = Vec::new();
    let mut runtime_stages = Vec::new();
    for s in stages {
        let mut live = Vec::new();
        let mut rx = Vec::new();
        for k in 0..s.parallelism {
            if matches!(s.kind, StageKind::Source(_)) {
                live.push(Live { id: k, peer: None });
                continue;
            }
            let (t, r) = sync_channel(cfg.channel_capacity);
            live.push(Live { id: k, peer: Some(Peer { inbox: Inbox::new(), tx: t }) });
            rx.push(Some(r));
        }
        receivers.push(rx);
        runtime_stages.push(StageRuntime { live, next_id: s.parallelism });
    }
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
    let mut wbms = Vec::new();
    for s in stages {
        let stateful = !s.states.is_empty();
        let (cache, wbm) = match &cfg.backend {
            Backend::RocksDb(rc) if stateful => {
                // One write-buffer manager per operator caps its memtables
                // at two full write buffers per state and subtask, so
                // memtable memory stays bounded and known, as Flink bounds
                // it under managed memory.
                let budget = rc.write_buffer_size * s.states.len() * s.parallelism as usize * 2;
                (
                    Some(OperatorCache::new(rc.cache_of(&s.name))),
                    Some(WriteBufferManager::new_write_buffer_manager(budget, false)),
                )
            }
            _ => (None, None),
        };
        let op = OperatorMetrics::new(&s.name, stateful, cache);
        if let Some(w) = &wbm {
            op.write_buffer_budget.store(w.get_buffer_size() as u64, Relaxed);
        }
        operators.push(op);
        wbms.push(wbm);
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
        rescale: Default::default(),
        e2e_by_second: Mutex::new(Vec::new()),
    });

    // Version 1 of every input edge's table.
    let mut inputs = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let targets: Vec<Target> = runtime_stages[i]
            .live
            .iter()
            .filter_map(|l: &Live| l.peer.as_ref().map(|p| Target { id: l.id, tx: p.tx.clone() }))
            .collect();
        let routes = s
            .inputs
            .iter()
            .enumerate()
            .map(|(port, input)| {
                let kg = cfg.key_groups;
                let p = targets.len() as u32;
                let owner = (0..kg.max_parallelism()).map(|g| kg.owner(g as u16, p) as u16).collect();
                let pointwise = matches!(input.partition, Partition::Forward);
                Route::new(
                    input.partition.clone(),
                    port as u8,
                    Table { version: 1, targets: targets.clone(), owner, pointwise },
                )
            })
            .collect::<Vec<_>>();
        inputs.push(routes);
    }
    let rt = Arc::new(Runtime {
        graph: graph.clone(),
        cfg: cfg.clone(),
        metrics: metrics.clone(),
        results: cfg.collect_results.then(|| Arc::new(Mutex::new(Vec::new()))),
        trace: Mutex::new(trace),
        inputs,
        downstream,
        stages: Mutex::new(runtime_stages),
        wbm: wbms,
        threads: Mutex::new((Vec::new(), false)),
        stop: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        pause: AtomicU64::new(0),
        aligned: AtomicU64::new(0),
        barrier_epoch: AtomicU64::new(0),
        busy: AtomicBool::new(false),
        rescaling: AtomicUsize::new(0),
    });

    let live: Vec<Vec<Live>> =
        rt.stages.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|s| s.live.clone()).collect();
    let started = (|| -> Result<(), EngineError> {
        for (i, s) in stages.iter().enumerate() {
            for (k, l) in live[i].iter().enumerate() {
                match &s.kind {
                    StageKind::Source(f) => {
                        let m = rt.subtask_metrics(i, l.id);
                        let outputs = rt.outputs(i, l.id, k as u32, m.clone());
                        let source = f(k as u32, s.parallelism);
                        let rate = cfg.rate.map(|r| r as f64 / s.parallelism as f64);
                        let pacing = Pacing {
                            rate,
                            shape: cfg.rate_shape,
                            delay: cfg.watermark_delay_ms,
                            batch: cfg.batch_size,
                        };
                        let rt2 = rt.clone();
                        rt.spawn(format!("{}-{k}", s.name), move || source_task(source, outputs, m, rt2, pacing))?;
                    }
                    StageKind::Operator(_) => {
                        let senders: Vec<Vec<u32>> =
                            s.inputs.iter().map(|inp| live[inp.from].iter().map(|l| l.id).collect()).collect();
                        let rx = receivers[i][k]
                            .take()
                            .ok_or_else(|| EngineError::Thread("a receiver was taken twice".into()))?;
                        rt.launch_operator(i, l, rx, senders, k as u32)?;
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = started {
        rt.fail();
        rt.stop.store(true, Relaxed);
        let job = RunningJob { rt, started: Instant::now() };
        let _ = job.wait();
        return Err(e);
    }
    Ok(RunningJob { rt, started: Instant::now() })
}
