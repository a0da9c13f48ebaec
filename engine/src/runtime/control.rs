//! Changing a running job: an operator's parallelism (its key groups move
//! to new owners) and its memory (block cache and write-buffer budget, in
//! place). [`Control`] plans a change and carries it out through the
//! runtime; the subtasks' side is in [`super::migrate`].
//!
//! A rescale moves the key groups whose owner differs between Flink's
//! assignment at the old and the new parallelism, in steps of one routing
//! table version each:
//! - [`Strategy::StopTheWorld`]: the sources emit a barrier and pause;
//!   once every subtask has it (nothing is in flight), one step moves every
//!   group, then the sources go on. What Flink does by restarting from a
//!   checkpoint, without the restart.
//! - [`Strategy::Progressive`]: Megaphone's fluid migration. Steps of
//!   [`RescaleOptions::batch`] key groups while the job runs; only rows of
//!   a group in transit wait, at its new owner, until its state is in.
//!   Under backpressure a step's markers queue behind full channels, and
//!   that drain, not the move, is its time: a step that waited longer than
//!   [`DRAIN_BUDGET`] beyond its export doubles the next one's size.
//!
//! Sources keep their parallelism: they are the Nexmark generator's
//! partitions, fixed when the job starts.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::mpsc::{channel, sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::exchange::{Message, Partition};
use super::graph::StageKind;
use super::job::{Live, Runtime};
use super::migrate::{Control as Ctl, Peer, SubtaskDone, SubtaskPlan};
use super::routing::{Inbox, Table, Target};

/// The smallest block cache or write-buffer budget a resize accepts.
pub const MIN_MEMORY: usize = 1 << 20;

/// How long a step may take before the change is given up as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// How a rescale moves key groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Pause the sources, drain, move everything, resume.
    StopTheWorld,
    /// Move a few key groups at a time while everything else flows.
    Progressive,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Strategy, String> {
        match s {
            "stop-the-world" | "stw" => Ok(Strategy::StopTheWorld),
            "progressive" | "fluid" => Ok(Strategy::Progressive),
            _ => Err(format!("unknown strategy `{s}` (stop-the-world or progressive)")),
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::StopTheWorld => "stop-the-world",
            Strategy::Progressive => "progressive",
        })
    }
}

/// In which order a progressive rescale moves key groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Ascending key group.
    KeyGroup,
    /// The key groups with the most state accesses first (Spacker's key
    /// prioritization: the hot groups' rows wait the least time overall).
    HotFirst,
}

impl std::str::FromStr for Order {
    type Err = String;
    fn from_str(s: &str) -> Result<Order, String> {
        match s {
            "key-group" => Ok(Order::KeyGroup),
            "hot-first" => Ok(Order::HotFirst),
            _ => Err(format!("unknown order `{s}` (key-group or hot-first)")),
        }
    }
}

/// The longest a progressive step may wait for its markers (its time less
/// the export) before the next step moves twice as many key groups. An
/// unloaded step of q20 takes about 20 ms; behind full channels (16
/// batches of 512 rows per sender) one of q9's took 400 ms, and moving 2
/// groups per such drain made a rescale of 64 groups last 25 s.
pub const DRAIN_BUDGET: Duration = Duration::from_millis(100);

/// How to rescale.
#[derive(Clone, Copy, Debug)]
pub struct RescaleOptions {
    /// Stop-the-world or progressive.
    pub strategy: Strategy,
    /// Key groups in the first step of a progressive rescale (and in every
    /// step while none waits more than [`DRAIN_BUDGET`] for its markers).
    pub batch: usize,
    /// Order of a progressive rescale's key groups.
    pub order: Order,
}

impl Default for RescaleOptions {
    fn default() -> RescaleOptions {
        RescaleOptions { strategy: Strategy::Progressive, batch: 2, order: Order::KeyGroup }
    }
}

/// A new memory budget for an operator (what is `None` stays).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Block-cache capacity, bytes (shared by its subtasks).
    pub cache: Option<usize>,
    /// Write-buffer budget, bytes (memtables of all its subtasks).
    pub write_buffer: Option<usize>,
}

/// One change of a plan.
#[derive(Clone, Debug)]
pub enum Change {
    /// Set an operator's parallelism.
    Rescale {
        /// The operator.
        operator: String,
        /// Its new parallelism.
        parallelism: u32,
        /// How.
        options: RescaleOptions,
    },
    /// Set an operator's memory.
    Resize {
        /// The operator.
        operator: String,
        /// Its new memory.
        memory: Memory,
    },
}

/// What a rescale did.
#[derive(Clone, Debug, Serialize)]
pub struct RescaleReport {
    /// The operator.
    pub operator: String,
    /// Parallelism before.
    pub from: u32,
    /// Parallelism after.
    pub to: u32,
    /// How.
    pub strategy: Strategy,
    /// Steps (routing-table versions).
    pub steps: u32,
    /// Key groups that changed owner.
    pub key_groups_moved: u64,
    /// State entries moved.
    pub keys_moved: u64,
    /// State bytes (keys and values) moved.
    pub bytes_moved: u64,
    /// Timers moved with their key groups.
    pub timers_moved: u64,
    /// From the call to the last step's end, seconds.
    pub duration_s: f64,
    /// Spent exporting and deleting state at the old owners (the longest
    /// subtask per step, summed over steps), seconds.
    pub transfer_s: f64,
    /// Moved bytes per second of the rescale, MB/s.
    pub mb_per_s: f64,
    /// The longest any record waited for the change, ms: how long the
    /// sources stood still (stop-the-world), or the longest a row of a
    /// key group in transit was held (progressive).
    pub max_record_wait_ms: f64,
    /// When the change started, seconds since the job did.
    pub started_s: f64,
    /// End-to-end latency p99 of the rows that reached the sinks while
    /// the change ran, ms (0 when none did; rows a stop-the-world pause
    /// held reach them after: see [`super::metrics::JobMetrics::latency_around`]).
    pub e2e_p99_ms_during: f64,
    /// End-to-end latency p99 of the whole run before the change, ms.
    pub e2e_p99_ms_before: f64,
}

/// What a resize did.
#[derive(Clone, Debug, Serialize)]
pub struct ResizeReport {
    /// The operator.
    pub operator: String,
    /// Cache capacity before and after, bytes.
    pub cache_before: u64,
    /// Cache capacity after.
    pub cache_after: u64,
    /// Cache usage once at or below the new capacity, bytes.
    pub cache_usage_after: u64,
    /// Write-buffer budget before, bytes.
    pub write_buffer_before: u64,
    /// Write-buffer budget after.
    pub write_buffer_after: u64,
    /// Until the usage was within the capacity, seconds.
    pub duration_s: f64,
}

/// What one change of a plan did.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Report {
    /// A rescale.
    Rescale(RescaleReport),
    /// A resize.
    Resize(ResizeReport),
}

/// An operator as the control handle sees it.
#[derive(Clone, Debug, Serialize)]
pub struct OperatorStatus {
    /// Name.
    pub name: String,
    /// A source (its parallelism is fixed).
    pub source: bool,
    /// Keeps keyed state.
    pub stateful: bool,
    /// Subtasks running now.
    pub parallelism: u32,
    /// Their ids, in position order.
    pub subtasks: Vec<u32>,
    /// Block-cache capacity and usage, bytes (RocksDB state only).
    pub cache_capacity: Option<u64>,
    /// Bytes in the cache.
    pub cache_usage: Option<u64>,
    /// Write-buffer budget, bytes (RocksDB state only).
    pub write_buffer_budget: Option<u64>,
}

/// Why a change was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No operator has this name.
    #[error("unknown operator `{name}` (operators: {known})")]
    UnknownOperator {
        /// The name asked for.
        name: String,
        /// The job's operators.
        known: String,
    },
    /// Sources keep the parallelism they started with.
    #[error("operator `{0}` is a source: sources keep their parallelism")]
    Source(String),
    /// The operator keeps its parallelism (see
    /// [`crate::runtime::JobGraph::fix_parallelism`]).
    #[error("operator `{operator}` keeps its parallelism: {reason}")]
    FixedParallelism {
        /// The operator.
        operator: String,
        /// Why.
        reason: &'static str,
    },
    /// Parallelism out of range.
    #[error("operator `{operator}`: parallelism {requested} is outside 1..={max} (the maximum parallelism)")]
    Parallelism {
        /// The operator.
        operator: String,
        /// What was asked.
        requested: u32,
        /// The maximum parallelism.
        max: u32,
    },
    /// A cache or write-buffer budget below [`MIN_MEMORY`].
    #[error("operator `{operator}`: {what} of {bytes} bytes is below the minimum of 1 MiB")]
    MemoryTooSmall {
        /// The operator.
        operator: String,
        /// "block cache" or "write-buffer budget".
        what: &'static str,
        /// What was asked.
        bytes: u64,
    },
    /// The operator has no RocksDB memory to size.
    #[error("operator `{0}` has no block cache or write buffers (stateless, or state in memory)")]
    NoMemory(String),
    /// Another change is running.
    #[error("another change is running; try again when it is done")]
    Busy,
    /// The job is ending or has ended.
    #[error("the job is finishing: its sources have ended")]
    Finished,
    /// The change started and failed.
    #[error("the change failed: {0}")]
    Failed(String),
}

/// The handle that changes a running job ([`super::RunningJob::control`]).
/// Cheap to clone; one change runs at a time.
#[derive(Clone)]
pub struct Control {
    rt: Arc<Runtime>,
}

/// Ends a stage's rescale however it ends: its subtasks may finish again,
/// and those waiting to are woken.
struct Rescaling<'a> {
    rt: &'a Runtime,
    stage: usize,
}

impl Drop for Rescaling<'_> {
    fn drop(&mut self) {
        self.rt.rescaling.store(0, Release);
        let stages = self.rt.stages.lock().unwrap_or_else(|e| e.into_inner());
        for l in &stages[self.stage].live {
            if let Some(p) = &l.peer {
                let _ = p.tx.try_send(Message::Wake);
            }
        }
    }
}

/// Releases the one-change-at-a-time flag however a change ends.
struct BusyGuard<'a>(&'a Runtime);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.store(false, Release);
    }
}

impl Control {
    pub(crate) fn new(rt: Arc<Runtime>) -> Control {
        Control { rt }
    }

    /// Every operator, in topological order.
    pub fn operators(&self) -> Vec<OperatorStatus> {
        let stages = self.rt.stages.lock().unwrap_or_else(|p| p.into_inner());
        self.rt
            .graph
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let m = &self.rt.metrics.operators[i];
                OperatorStatus {
                    name: s.name.clone(),
                    source: matches!(s.kind, StageKind::Source(_)),
                    stateful: !s.states.is_empty(),
                    parallelism: stages[i].live.len() as u32,
                    subtasks: stages[i].live.iter().map(|l| l.id).collect(),
                    cache_capacity: m.cache.as_ref().map(|c| c.capacity() as u64),
                    cache_usage: m.cache.as_ref().map(|c| c.usage() as u64),
                    write_buffer_budget: self.rt.write_buffer_manager(i).map(|w| w.get_buffer_size() as u64),
                }
            })
            .collect()
    }

    /// Rescales and resizes so far.
    pub fn rescale_totals(&self) -> super::snapshot::RescaleSnapshot {
        self.rt.metrics.snapshot().rescale
    }

    /// Whether a change is running.
    pub fn is_busy(&self) -> bool {
        self.rt.busy.load(Relaxed)
    }

    /// Checks a change without making it: the error it would be refused
    /// with, if any (not [`ControlError::Busy`] or `Finished`).
    pub fn check(&self, change: &Change) -> Result<(), ControlError> {
        match change {
            Change::Rescale { operator, parallelism, .. } => {
                let i = self.stage(operator)?;
                if matches!(self.rt.graph.stages[i].kind, StageKind::Source(_)) {
                    return Err(ControlError::Source(operator.clone()));
                }
                if let Some(reason) = self.rt.graph.stages[i].fixed_parallelism {
                    return Err(ControlError::FixedParallelism { operator: operator.clone(), reason });
                }
                let max = self.rt.cfg.key_groups.max_parallelism();
                if *parallelism == 0 || *parallelism > max {
                    return Err(ControlError::Parallelism { operator: operator.clone(), requested: *parallelism, max });
                }
            }
            Change::Resize { operator, memory } => {
                let i = self.stage(operator)?;
                if self.rt.metrics.operators[i].cache.is_none() {
                    return Err(ControlError::NoMemory(operator.clone()));
                }
                for (what, v) in [("block cache", memory.cache), ("write-buffer budget", memory.write_buffer)] {
                    if let Some(b) = v.filter(|&b| b < MIN_MEMORY) {
                        return Err(ControlError::MemoryTooSmall { operator: operator.clone(), what, bytes: b as u64 });
                    }
                }
            }
        }
        Ok(())
    }

    /// Sets `operator`'s parallelism.
    pub fn rescale(
        &self,
        operator: &str,
        parallelism: u32,
        options: RescaleOptions,
    ) -> Result<RescaleReport, ControlError> {
        match self.apply(&[Change::Rescale { operator: operator.into(), parallelism, options }])?.pop() {
            Some(Report::Rescale(r)) => Ok(r),
            _ => Err(ControlError::Failed("the rescale reported nothing".into())),
        }
    }

    /// Sets `operator`'s block cache and write-buffer budget, in place.
    pub fn resize(&self, operator: &str, memory: Memory) -> Result<ResizeReport, ControlError> {
        match self.apply(&[Change::Resize { operator: operator.into(), memory }])?.pop() {
            Some(Report::Resize(r)) => Ok(r),
            _ => Err(ControlError::Failed("the resize reported nothing".into())),
        }
    }

    /// Carries out several changes, one after another, as one change:
    /// every one is checked before the first starts.
    pub fn apply(&self, plan: &[Change]) -> Result<Vec<Report>, ControlError> {
        for c in plan {
            self.check(c)?;
        }
        if self.rt.busy.compare_exchange(false, true, Relaxed, Relaxed).is_err() {
            return Err(ControlError::Busy);
        }
        let _guard = BusyGuard(&self.rt);
        let mut out = Vec::new();
        for c in plan {
            if self.rt.metrics.sources_running.load(Relaxed) == 0 || self.rt.stop.load(Relaxed) {
                return Err(ControlError::Finished);
            }
            if self.rt.abort.load(Relaxed) {
                return Err(ControlError::Failed("a subtask has failed".into()));
            }
            out.push(match c {
                Change::Rescale { operator, parallelism, options } => {
                    Report::Rescale(self.do_rescale(self.stage(operator)?, *parallelism, *options)?)
                }
                Change::Resize { operator, memory } => Report::Resize(self.do_resize(self.stage(operator)?, *memory)),
            });
        }
        Ok(out)
    }

    fn stage(&self, name: &str) -> Result<usize, ControlError> {
        self.rt.graph.stages.iter().position(|s| s.name == name).ok_or_else(|| ControlError::UnknownOperator {
            name: name.to_string(),
            known: self.rt.graph.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    fn do_resize(&self, i: usize, memory: Memory) -> ResizeReport {
        let t = Instant::now();
        let m = &self.rt.metrics.operators[i];
        let wbm = self.rt.write_buffer_manager(i);
        let cache_before = m.cache.as_ref().map_or(0, |c| c.capacity() as u64);
        let write_buffer_before = wbm.map_or(0, |w| w.get_buffer_size() as u64);
        if let (Some(c), Some(bytes)) = (&m.cache, memory.cache) {
            c.resize(bytes);
            // LRUCache evicts at once; entries pinned by reads in flight
            // leave when released: wait (briefly) for those.
            while c.usage() > c.capacity() && t.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if let (Some(w), Some(bytes)) = (wbm, memory.write_buffer) {
            w.set_buffer_size(bytes);
            m.write_buffer_budget.store(bytes as u64, Relaxed);
        }
        self.rt.metrics.rescale.resizes.fetch_add(1, Relaxed);
        ResizeReport {
            operator: m.name.clone(),
            cache_before,
            cache_after: m.cache.as_ref().map_or(0, |c| c.capacity() as u64),
            cache_usage_after: m.cache.as_ref().map_or(0, |c| c.usage() as u64),
            write_buffer_before,
            write_buffer_after: wbm.map_or(0, |w| w.get_buffer_size() as u64),
            duration_s: t.elapsed().as_secs_f64(),
        }
    }

    fn do_rescale(&self, i: usize, p: u32, opts: RescaleOptions) -> Result<RescaleReport, ControlError> {
        let rt = &self.rt;
        let t0 = Instant::now();
        let e2e_before = rt.metrics.e2e_latency();
        let (old_live, first_id) = {
            let stages = rt.stages.lock().unwrap_or_else(|e| e.into_inner());
            (stages[i].live.clone(), stages[i].next_id)
        };
        let old_p = old_live.len() as u32;
        rt.rescaling.store(i + 1, Release);
        let _rescaling = Rescaling { rt, stage: i };
        let mut report = RescaleReport {
            operator: rt.graph.stages[i].name.clone(),
            from: old_p,
            to: p,
            strategy: opts.strategy,
            steps: 0,
            key_groups_moved: 0,
            keys_moved: 0,
            bytes_moved: 0,
            timers_moved: 0,
            duration_s: 0.0,
            transfer_s: 0.0,
            mb_per_s: 0.0,
            max_record_wait_ms: 0.0,
            started_s: t0.duration_since(rt.metrics.started).as_secs_f64(),
            e2e_p99_ms_during: 0.0,
            e2e_p99_ms_before: e2e_before.value_at_quantile(0.99) as f64 / 1e6,
        };
        if p == old_p {
            return Ok(report);
        }
        let routes = &rt.inputs[i];
        let table = routes[0].table();
        let owner_of = |t: &Table| -> Vec<u32> { t.owner.iter().map(|&ix| t.targets[ix as usize].id).collect() };
        let mut current = owner_of(&table);
        let mut version = table.version;

        // Stop-the-world: the sources emit a barrier and stand still; once
        // every operator subtask has passed it on, nothing is in flight.
        let paused = (opts.strategy == Strategy::StopTheWorld).then(Instant::now);
        if paused.is_some() {
            let expected: u64 = {
                let stages = rt.stages.lock().unwrap_or_else(|e| e.into_inner());
                rt.graph
                    .stages
                    .iter()
                    .zip(stages.iter())
                    .filter(|(s, _)| matches!(s.kind, StageKind::Operator(_)))
                    .map(|(_, st)| st.live.len() as u64)
                    .sum()
            };
            rt.aligned.store(0, Relaxed);
            let epoch = rt.barrier_epoch.fetch_add(1, Relaxed) + 1;
            rt.pause.store(epoch, Release);
            let r = self.wait_for(|| rt.aligned.load(Relaxed) >= expected);
            if let Err(e) = r {
                rt.pause.store(0, Release);
                return Err(e);
            }
        }
        let result = self.move_groups(i, p, opts, &old_live, first_id, &mut current, &mut version, &mut report);
        if let Some(since) = paused {
            rt.pause.store(0, Release);
            report.max_record_wait_ms = since.elapsed().as_secs_f64() * 1e3;
        }
        result?;
        let during = {
            let mut after = rt.metrics.e2e_latency();
            let _ = after.subtract(&e2e_before);
            after
        };
        report.e2e_p99_ms_during = if during.is_empty() { 0.0 } else { during.value_at_quantile(0.99) as f64 / 1e6 };
        report.duration_s = t0.elapsed().as_secs_f64();
        report.mb_per_s = report.bytes_moved as f64 / 1e6 / report.duration_s.max(1e-9);
        let r = &rt.metrics.rescale;
        r.rescales.fetch_add(1, Relaxed);
        r.key_groups_moved.fetch_add(report.key_groups_moved, Relaxed);
        r.bytes_moved.fetch_add(report.bytes_moved, Relaxed);
        if let Ok(mut d) = r.durations.lock() {
            d.push(t0.elapsed().as_nanos() as u64);
        }
        Ok(report)
    }

    /// Starts the new subtasks, moves the key groups step by step and
    /// installs the final layout.
    #[allow(clippy::too_many_arguments)]
    fn move_groups(
        &self,
        i: usize,
        p: u32,
        opts: RescaleOptions,
        old_live: &[Live],
        first_id: u32,
        current: &mut [u32],
        version: &mut u64,
        report: &mut RescaleReport,
    ) -> Result<(), ControlError> {
        let rt = &self.rt;
        let kg = rt.cfg.key_groups;
        let stage = &rt.graph.stages[i];
        let failed = |e: super::job::EngineError| ControlError::Failed(e.to_string());
        // Forward edges out of this stage deal round robin from now on.
        for &(to, port) in &rt.downstream[i] {
            let route = &rt.inputs[to][port];
            let t = route.table();
            if matches!(route.partition, Partition::Forward) && t.pointwise {
                route.publish(Table {
                    version: t.version + 1,
                    targets: t.targets.clone(),
                    owner: t.owner.clone(),
                    pointwise: false,
                });
            }
        }
        // New subtasks: known downstream before they send anything, then
        // started (they route by the newest tables).
        let mut all: Vec<Live> = old_live.to_vec();
        let mut next_id = first_id;
        for position in old_live.len() as u32..p {
            let (tx, rx) = sync_channel(rt.cfg.channel_capacity);
            let live = Live { id: next_id, peer: Some(Peer { inbox: Inbox::new(), tx }) };
            next_id += 1;
            {
                let mut stages = rt.stages.lock().unwrap_or_else(|e| e.into_inner());
                stages[i].next_id = next_id;
                for &(to, port) in &rt.downstream[i] {
                    for l in &stages[to].live {
                        if let Some(peer) = &l.peer {
                            peer.inbox.push(Ctl::Join { port: port as u8, from: live.id }, &peer.tx);
                        }
                    }
                }
            }
            let senders: Vec<Vec<u32>> = {
                let stages = rt.stages.lock().unwrap_or_else(|e| e.into_inner());
                stage.inputs.iter().map(|inp| stages[inp.from].live.iter().map(|l| l.id).collect()).collect()
            };
            rt.launch_operator(i, &live, rx, senders, position).map_err(failed)?;
            all.push(live);
            rt.stages.lock().unwrap_or_else(|e| e.into_inner())[i].live = all.clone();
        }
        let final_live: Vec<Live> = all[..p as usize].to_vec();
        let target: Vec<u32> =
            (0..kg.max_parallelism()).map(|g| final_live[kg.owner(g as u16, p) as usize].id).collect();
        let mut moving: Vec<u16> =
            (0..kg.max_parallelism() as u16).filter(|&g| current[g as usize] != target[g as usize]).collect();
        if opts.order == Order::HotFirst {
            let mut hits = vec![0u64; kg.max_parallelism() as usize];
            for m in rt.metrics.operators[i].subtasks() {
                for (g, n) in m.key_group_accesses().iter().enumerate() {
                    if let Some(h) = hits.get_mut(g) {
                        *h += n;
                    }
                }
            }
            moving.sort_by_key(|&g| (std::cmp::Reverse(hits[g as usize]), g));
        }
        let mut step = match opts.strategy {
            Strategy::StopTheWorld => moving.len().max(1),
            Strategy::Progressive => opts.batch.max(1),
        };
        let peer_of = |id: u32| all.iter().find(|l| l.id == id).and_then(|l| l.peer.clone());
        let retiring: Vec<u32> = all[p as usize..].iter().map(|l| l.id).collect();
        let mut in_table: Vec<u32> = all.iter().map(|l| l.id).collect();
        let mut rest: &[u16] = &moving;
        while !rest.is_empty() {
            let (batch, tail) = rest.split_at(step.min(rest.len()));
            rest = tail;
            let began = Instant::now();
            *version += 1;
            let before = in_table.clone();
            let mut next = current.to_vec();
            for &g in batch {
                next[g as usize] = target[g as usize];
            }
            // A retiring subtask leaves the table once it owns nothing.
            in_table.retain(|id| !retiring.contains(id) || next.contains(id));
            let (done_tx, done_rx) = channel::<SubtaskDone>();
            let mut planned = 0;
            for l in all.iter().filter(|l| before.contains(&l.id)) {
                let mut outgoing: BTreeMap<u32, Vec<u16>> = BTreeMap::new();
                let mut incoming = Vec::new();
                for &g in batch {
                    if current[g as usize] == l.id {
                        outgoing.entry(next[g as usize]).or_default().push(g);
                    }
                    if next[g as usize] == l.id {
                        incoming.push(g);
                    }
                }
                let mut out = Vec::new();
                for (to, gs) in outgoing {
                    let peer = peer_of(to).ok_or_else(|| ControlError::Failed(format!("no subtask {to}")))?;
                    out.push((peer, gs));
                }
                let plan = SubtaskPlan {
                    version: *version,
                    outgoing: out,
                    incoming,
                    retire: !in_table.contains(&l.id),
                    verify: rt.cfg.verify_migrations,
                    done: done_tx.clone(),
                };
                let peer =
                    l.peer.as_ref().ok_or_else(|| ControlError::Failed("an operator without a channel".into()))?;
                peer.inbox.push(Ctl::Begin(Box::new(plan)), &peer.tx);
                planned += 1;
            }
            drop(done_tx);
            let targets: Vec<Target> =
                in_table.iter().filter_map(|&id| peer_of(id).map(|p| Target { id, tx: p.tx })).collect();
            let owner: Vec<u16> =
                next.iter().map(|id| targets.iter().position(|t| t.id == *id).unwrap_or(0) as u16).collect();
            for route in &rt.inputs[i] {
                route.publish(Table {
                    version: *version,
                    targets: targets.clone(),
                    owner: owner.clone(),
                    pointwise: false,
                });
            }
            self.wake_upstream(i);
            let mut transfer = Duration::ZERO;
            let mut ended = Vec::new();
            for _ in 0..planned {
                let d = self.recv_done(&done_rx, i, &mut ended)?;
                if let Some(e) = d.error {
                    return Err(ControlError::Failed(e));
                }
                report.key_groups_moved += d.groups_out;
                report.keys_moved += d.keys_out;
                report.bytes_moved += d.bytes_out;
                report.timers_moved += d.timers_out;
                transfer = transfer.max(d.export_time);
                report.max_record_wait_ms = report.max_record_wait_ms.max(d.max_hold.as_secs_f64() * 1e3);
            }
            report.transfer_s += transfer.as_secs_f64();
            report.steps += 1;
            current.copy_from_slice(&next);
            if began.elapsed().saturating_sub(transfer) > DRAIN_BUDGET {
                step = step.saturating_mul(2);
            }
        }
        let mut stages = rt.stages.lock().unwrap_or_else(|e| e.into_inner());
        stages[i].live = final_live;
        Ok(())
    }

    /// Upstream operator subtasks that wait on input would not look at
    /// their tables until a row came: wake them (sources look on their
    /// own).
    fn wake_upstream(&self, i: usize) {
        let stages = self.rt.stages.lock().unwrap_or_else(|e| e.into_inner());
        for inp in &self.rt.graph.stages[i].inputs {
            for l in &stages[inp.from].live {
                if let Some(p) = &l.peer {
                    let _ = p.tx.try_send(Message::Wake);
                }
            }
        }
    }

    /// An upstream subtask that ended before it saw a new table never
    /// sends its end to the targets that table added: send it for it (a
    /// second end is harmless; `ended` remembers whom it was sent for).
    fn end_for_finished_senders(&self, i: usize, ended: &mut Vec<(usize, u32)>) {
        let upstream: Vec<Vec<u32>> = {
            let stages = self.rt.stages.lock().unwrap_or_else(|e| e.into_inner());
            self.rt.graph.stages[i]
                .inputs
                .iter()
                .map(|inp| stages[inp.from].live.iter().map(|l| l.id).collect())
                .collect()
        };
        for (port, inp) in self.rt.graph.stages[i].inputs.iter().enumerate() {
            let subtasks = self.rt.metrics.operators[inp.from].subtasks();
            for &id in &upstream[port] {
                let finished = subtasks.iter().any(|m| m.subtask == id && m.finished.load(Relaxed) != 0 && m.is_live());
                if !finished || ended.contains(&(port, id)) {
                    continue;
                }
                ended.push((port, id));
                for t in &self.rt.inputs[i][port].table().targets {
                    let _ = t.tx.send(Message::End { port: port as u8, from: id });
                }
            }
        }
    }

    fn recv_done(
        &self,
        rx: &std::sync::mpsc::Receiver<SubtaskDone>,
        i: usize,
        ended: &mut Vec<(usize, u32)>,
    ) -> Result<SubtaskDone, ControlError> {
        let t = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(d) => return Ok(d),
                Err(RecvTimeoutError::Timeout) => {
                    self.end_for_finished_senders(i, ended);
                    if self.rt.abort.load(Relaxed) {
                        return Err(ControlError::Failed("a subtask failed during the change".into()));
                    }
                    if t.elapsed() > STEP_TIMEOUT {
                        return Err(ControlError::Failed(format!("a step took over {} s", STEP_TIMEOUT.as_secs())));
                    }
                }
                Err(RecvTimeoutError::Disconnected) if self.rt.abort.load(Relaxed) => {
                    return Err(ControlError::Failed("a subtask failed during the change".into()))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ControlError::Failed("a subtask ended before its part of the change".into()))
                }
            }
        }
    }

    fn wait_for(&self, done: impl Fn() -> bool) -> Result<(), ControlError> {
        let t = Instant::now();
        while !done() {
            if self.rt.abort.load(Relaxed) {
                return Err(ControlError::Failed("a subtask failed during the change".into()));
            }
            if self.rt.metrics.sources_running.load(Relaxed) == 0 {
                return Err(ControlError::Finished);
            }
            if t.elapsed() > STEP_TIMEOUT {
                return Err(ControlError::Failed("the stop-the-world barrier did not align".into()));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }
}
