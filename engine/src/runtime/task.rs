//! The loops of one subtask thread: a source that paces and stamps
//! watermarks, and an operator that reads its channel, runs its operator
//! and takes its part in rescales ([`super::migrate`]).

use std::path::PathBuf;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cpu::ThreadCpu;
use super::exchange::{Disconnected, Message, Outputs};
use super::job::{EngineError, Runtime};
use super::metrics::{add_ns, SubtaskMetrics, Timed};
use super::migrate::{Control, Handoff, Inputs, MovedTimer, SubtaskDone, SubtaskPlan};
use super::operator::{now_ms, Context, OpError, Operator, Timers};
use super::routing::Inbox;
use super::source::Source;
use crate::row::Row;
use crate::state::transfer::{checksums, runs};
use crate::state::{StateError, StateStore};

pub(crate) type TaskResult = Result<(), EngineError>;

/// How many events a source emits between watermarks.
const WATERMARK_EVERY: u64 = 2048;

/// How a source subtask emits.
pub(crate) struct Pacing {
    /// Events per second of this subtask, if paced.
    pub rate: Option<f64>,
    /// How the rate moves over the run.
    pub shape: super::rate::RateShape,
    /// Watermark delay, ms.
    pub delay: u64,
    /// Events per batch.
    pub batch: usize,
}

/// How often a paused source looks at its routing tables and the pause.
const PAUSE_POLL: Duration = Duration::from_micros(200);

pub(crate) fn source_task(
    mut source: Box<dyn Source>,
    mut out: Outputs,
    m: Arc<SubtaskMetrics>,
    rt: Arc<Runtime>,
    pacing: Pacing,
) -> TaskResult {
    let Pacing { rate: pace, shape, delay, batch } = pacing;
    let job = rt.metrics.clone();
    let start = Instant::now();
    let mut rows = Vec::with_capacity(batch);
    let (mut events, mut since_watermark, mut passed_barrier) = (0u64, 0u64, 0u64);
    let mut cpu = ThreadCpu::new(&m.cpu_ns);
    loop {
        if rt.abort.load(Relaxed) {
            return Err(Disconnected.into());
        }
        let epoch = rt.pause.load(Acquire);
        if epoch > passed_barrier {
            // Stop-the-world: everything emitted so far drains behind the
            // barrier; the source then only follows routing changes until
            // the pause ends.
            passed_barrier = epoch;
            out.barrier(epoch)?;
            while rt.pause.load(Acquire) == epoch && !rt.stop.load(Relaxed) && !rt.abort.load(Relaxed) {
                out.refresh()?;
                std::thread::sleep(PAUSE_POLL);
            }
        }
        let busy = Instant::now();
        let bp0 = m.backpressure_ns.load(Relaxed);
        // A paced source's events are born when they are due, not when it
        // gets round to them: a source that falls behind (backpressure, a
        // pause) shows it as latency, as Kafka lag would.
        let born = match pace {
            Some(rate) => (start + Duration::from_secs_f64(shape.due_s(rate, events as f64))).min(busy),
            None => busy,
        };
        let mut p = source.fill(&mut rows, batch);
        p.done |= rt.stop.load(Relaxed);
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
        cpu.publish(&m.cpu_ns, p.done);
        if p.done {
            break;
        }
        if let Some(rate) = pace {
            let due = start + Duration::from_secs_f64(shape.due_s(rate, events as f64));
            let now = Instant::now();
            if due > now {
                // Ahead of its rate: what it emitted goes out now rather
                // than when a buffer fills or the next watermark flushes
                // (2,048 events: 68 ms at 30,000/s, the job's whole p99).
                // A source at full speed never gets here and keeps full
                // batches.
                out.flush()?;
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

/// A row of an arriving key group, held until its state is in.
struct Held {
    port: u8,
    kg: u16,
    row: Row,
    born: Instant,
    since: Instant,
}

/// A change this subtask is part of.
struct Change {
    plan: SubtaskPlan,
    /// Arriving key groups whose state is not in yet.
    awaiting: Vec<bool>,
    awaiting_count: usize,
    held: Vec<Held>,
    shipped: bool,
    report: SubtaskDone,
}

pub(crate) struct OperatorTask {
    pub stage: usize,
    pub name: String,
    pub id: u32,
    pub op: Box<dyn Operator>,
    pub rx: Receiver<Message>,
    pub inbox: Arc<Inbox>,
    pub inputs: Inputs,
    pub outputs: Outputs,
    pub m: Arc<SubtaskMetrics>,
    pub rt: Arc<Runtime>,
    /// Its RocksDB directory, removed when the subtask retires.
    pub state_dir: Option<PathBuf>,
    /// Where exported SST files go (beside the state directories).
    pub scratch: PathBuf,
}

/// How long a subtask with pending processing-time timers sleeps at most.
const PROCESSING_TICK: Duration = Duration::from_millis(20);

/// Rows an operator may emit before they go out.
const EMIT_EVERY: usize = 1024;

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

/// The running state of an operator subtask.
struct Running {
    store: Timed<Box<dyn StateStore>>,
    timers: Timers,
    pending: Vec<Row>,
    change: Option<Change>,
}

/// What the loop does after a message.
#[derive(PartialEq)]
enum Next {
    Continue,
    /// Every input ended: fire what is left and end.
    Finish,
    /// A rescale retired the subtask.
    Retire,
}

impl OperatorTask {
    pub fn run(self, store: Box<dyn StateStore>) -> TaskResult {
        let (name, id) = (self.name.clone(), self.id);
        let (m, rt) = (self.m.clone(), self.rt.clone());
        let r = self.run_inner(store).map_err(|e| match e {
            TaskError::Op(source) => EngineError::Operator { operator: name, subtask: id, source },
            TaskError::Disconnected => Disconnected.into(),
        });
        m.finished.store(1, Relaxed);
        if r.is_err() {
            rt.fail();
        }
        r
    }

    fn ctx<'a>(&self, kg: u16, r: &'a mut Running) -> Context<'a> {
        Context {
            subtask: self.id,
            key_group: kg,
            watermark: self.inputs.current,
            state: &mut r.store,
            out: &mut r.pending,
            timers: &mut r.timers,
        }
    }

    fn run_inner(mut self, mut store: Box<dyn StateStore>) -> Result<(), TaskError> {
        store.attach_thread();
        let key_groups = self.rt.cfg.key_groups.max_parallelism();
        let mut r = Running {
            store: Timed::new(store, self.m.clone(), key_groups),
            timers: Timers::default(),
            pending: Vec::with_capacity(EMIT_EVERY),
            change: None,
        };
        let mut cpu = ThreadCpu::new(&self.m.cpu_ns);
        loop {
            let waited = Instant::now();
            let msg = if r.timers.processing.is_empty() {
                self.rx.recv().map(Some).map_err(|_| TaskError::Disconnected)?
            } else {
                match self.rx.recv_timeout(PROCESSING_TICK) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return Err(TaskError::Disconnected),
                }
            };
            add_ns(&self.m.idle_ns, waited.elapsed());
            if self.rt.abort.load(Relaxed) {
                return Err(TaskError::Disconnected);
            }
            let busy = Instant::now();
            let bp0 = self.m.backpressure_ns.load(Relaxed);
            // Control first: a plan is always in before the markers and
            // rows of the table it announces.
            for c in self.inbox.take() {
                self.control(c, &mut r)?;
            }
            if let Some(msg) = msg {
                self.message(msg, &mut r)?;
            }
            if !r.timers.processing.is_empty() {
                self.fire_processing_timers(now_ms(), &mut r)?;
            }
            let next = self.progress(&mut r)?;
            self.outputs.emit_all(&mut r.pending)?;
            match next {
                Next::Continue => {
                    self.outputs.flush()?;
                    r.store.maybe_publish(false);
                }
                Next::Finish => {
                    self.fire_event_timers(u64::MAX, &mut r)?;
                    // Processing-time windows still open at the end of the
                    // input close now: nothing is left unreported.
                    self.fire_processing_timers(u64::MAX, &mut r)?;
                    self.outputs.emit_all(&mut r.pending)?;
                    self.outputs.end()?;
                }
                Next::Retire => self.outputs.retire()?,
            }
            let bp = self.m.backpressure_ns.load(Relaxed) - bp0;
            self.m.useful_ns.fetch_add((busy.elapsed().as_nanos() as u64).saturating_sub(bp), Relaxed);
            cpu.publish(&self.m.cpu_ns, next != Next::Continue);
            if next != Next::Continue {
                r.store.finish()?;
                r.store.maybe_publish(true);
                if next == Next::Retire {
                    self.m.retired.store(1, Relaxed);
                    drop(r);
                    if let Some(dir) = &self.state_dir {
                        // The state left with its key groups; the directory
                        // holds nothing anyone reads.
                        let _ = std::fs::remove_dir_all(dir);
                    }
                }
                return Ok(());
            }
        }
    }

    fn in_change(r: &Running) -> bool {
        r.change.is_some()
    }

    fn message(&mut self, msg: Message, r: &mut Running) -> Result<(), TaskError> {
        match msg {
            Message::Rows { port, rows, born } => {
                self.outputs.derive_from(born);
                self.m.records_in.fetch_add(rows.len() as u64, Relaxed);
                for (kg, row) in rows {
                    if let Some(c) = &mut r.change {
                        if c.awaiting.get(kg as usize).copied().unwrap_or(false) {
                            c.held.push(Held { port, kg, row, born, since: Instant::now() });
                            continue;
                        }
                    }
                    let mut c = self.ctx(kg, r);
                    self.op.process(port as usize, row, &mut c)?;
                    if r.pending.len() >= EMIT_EVERY {
                        self.outputs.emit_all(&mut r.pending)?;
                    }
                }
                let mut c = self.ctx(0, r);
                self.op.flush(&mut c)?;
            }
            Message::Watermark { port, from, time, born } => {
                let in_change = Self::in_change(r);
                if let Some(now) = self.inputs.watermark(port, from, time, in_change) {
                    self.advance(now, born, r)?;
                }
            }
            Message::End { port, from } => {
                let in_change = Self::in_change(r);
                if let Some(now) = self.inputs.end(port, from, in_change) {
                    // The end is a final watermark, but timers at u64::MAX
                    // fire when the subtask finishes, after any change.
                    if now != u64::MAX {
                        self.advance(now, Instant::now(), r)?;
                    }
                }
            }
            Message::Retire { port, from } => {
                if let Some(now) = self.inputs.retire(port, from) {
                    if now != u64::MAX {
                        self.advance(now, Instant::now(), r)?;
                    }
                }
            }
            Message::Marker { port, from, version } => {
                if r.change.as_ref().is_some_and(|c| version >= c.plan.version) {
                    self.inputs.mark(port, from);
                }
            }
            Message::Barrier { port, from, epoch } => {
                if self.inputs.barrier(port, from, epoch) {
                    self.outputs.emit_all(&mut r.pending)?;
                    self.outputs.barrier(epoch)?;
                    self.rt.aligned.fetch_add(1, Relaxed);
                }
            }
            Message::Wake => {}
        }
        Ok(())
    }

    /// The watermark advanced to `now`: due timers fire, then it goes on.
    fn advance(&mut self, now: u64, born: Instant, r: &mut Running) -> Result<(), TaskError> {
        self.outputs.derive_from(born);
        self.fire_event_timers(now, r)?;
        self.outputs.emit_all(&mut r.pending)?;
        self.outputs.watermark(now, born)?;
        Ok(())
    }

    fn control(&mut self, c: Control, r: &mut Running) -> Result<(), TaskError> {
        match c {
            Control::Join { port, from } => self.inputs.join(port, from),
            Control::Begin(plan) => {
                let n = self.rt.cfg.key_groups.max_parallelism() as usize;
                let mut awaiting = vec![false; n];
                for &g in &plan.incoming {
                    awaiting[g as usize] = true;
                }
                let awaiting_count = plan.incoming.len();
                let report = SubtaskDone::default();
                r.change =
                    Some(Change { plan: *plan, awaiting, awaiting_count, held: Vec::new(), shipped: false, report });
            }
            Control::Handoff(h) => self.receive(*h, r)?,
        }
        Ok(())
    }

    /// State of arriving key groups is in: install it, then process the
    /// rows held for them, in the order they came.
    fn receive(&mut self, h: Handoff, r: &mut Running) -> Result<(), TaskError> {
        let Some(change) = &mut r.change else {
            return Err(StateError::Transfer(format!("subtask {} got key groups outside a change", self.id)).into());
        };
        let groups = h.state.groups.clone();
        for &g in &groups {
            if std::mem::replace(&mut change.awaiting[g as usize], false) {
                change.awaiting_count -= 1;
            }
        }
        let verify = change.plan.verify;
        r.store.import_key_groups(h.state)?;
        if let (true, Some(want)) = (verify, &h.checksums) {
            let got = checksums(&mut r.store, &groups)?;
            if &got != want {
                let bad: Vec<u16> = got.iter().zip(want).filter(|(a, b)| a != b).map(|(a, _)| a.0).collect();
                return Err(StateError::Transfer(format!(
                    "key groups {bad:?} from subtask {} arrived with other contents than they left with",
                    h.from
                ))
                .into());
            }
        }
        for (processing, time, kg, key) in h.timers {
            let set = if processing { &mut r.timers.processing } else { &mut r.timers.event };
            set.insert_owned(time, kg, key);
        }
        let Some(change) = &mut r.change else { return Ok(()) };
        let (ready, still): (Vec<Held>, Vec<Held>) =
            std::mem::take(&mut change.held).into_iter().partition(|h| !change.awaiting[h.kg as usize]);
        change.held = still;
        if let Some(longest) = ready.iter().map(|h| h.since.elapsed()).max() {
            change.report.max_hold = change.report.max_hold.max(longest);
        }
        for h in ready {
            self.outputs.derive_from(h.born);
            let mut c = self.ctx(h.kg, r);
            self.op.process(h.port as usize, h.row, &mut c)?;
            if r.pending.len() >= EMIT_EVERY {
                self.outputs.emit_all(&mut r.pending)?;
            }
        }
        let mut c = self.ctx(0, r);
        self.op.flush(&mut c)?;
        Ok(())
    }

    /// Moves a change on: ships leaving key groups once every sender has
    /// switched, ends it once arriving ones are in. Says what the loop
    /// does next.
    fn progress(&mut self, r: &mut Running) -> Result<Next, TaskError> {
        if r.change.as_ref().is_some_and(|c| !c.shipped && self.inputs.all_marked()) {
            self.ship(r)?;
        }
        let done = r.change.as_ref().is_some_and(|c| c.shipped && c.awaiting_count == 0);
        if done {
            let Some(change) = r.change.take() else { return Ok(Next::Continue) };
            if let Some(now) = self.inputs.release() {
                if now != u64::MAX {
                    self.advance(now, Instant::now(), r)?;
                }
            }
            let retire = change.plan.retire;
            let _ = change.plan.done.send(change.report);
            if retire {
                return Ok(Next::Retire);
            }
        }
        // A stage in a rescale stays until its last step, even when its
        // inputs have ended: later steps still move key groups.
        if r.change.is_none() && self.inputs.all_ended() && !self.rt.is_rescaling(self.stage) {
            return Ok(Next::Finish);
        }
        Ok(Next::Continue)
    }

    /// Every row the old table sent is processed: export each leaving key
    /// group's state and timers to its new owner and drop them here.
    fn ship(&mut self, r: &mut Running) -> Result<(), TaskError> {
        let t = Instant::now();
        let Some(change) = &mut r.change else { return Ok(()) };
        change.shipped = true;
        let outgoing = std::mem::take(&mut change.plan.outgoing);
        let verify = change.plan.verify;
        let (mut keys, mut bytes, mut groups_out, mut timers_out) = (0, 0, 0, 0);
        let mut sets: Vec<Vec<u16>> = outgoing.iter().map(|(_, g)| g.clone()).collect();
        for g in &mut sets {
            g.sort_unstable();
        }
        let checks: Vec<Option<Vec<(u16, u64)>>> = if verify {
            sets.iter().map(|g| checksums(&mut r.store, g).map(Some)).collect::<Result<_, _>>()?
        } else {
            vec![None; sets.len()]
        };
        let exported = r.store.export_key_group_sets(&sets, &self.scratch)?;
        let mut all: Vec<u16> = sets.iter().flatten().copied().collect();
        all.sort_unstable();
        for run in runs(&all) {
            r.store.delete_key_groups(run)?;
        }
        // Timers go with their key groups, to each group's new owner.
        let n = self.rt.cfg.key_groups.max_parallelism() as usize;
        let mut owner: Vec<Option<usize>> = vec![None; n];
        for (i, g) in sets.iter().enumerate() {
            for &kg in g {
                owner[kg as usize] = Some(i);
            }
        }
        let mut timers: Vec<Vec<MovedTimer>> = vec![Vec::new(); sets.len()];
        for (processing, set) in [(false, &mut r.timers.event), (true, &mut r.timers.processing)] {
            for (time, kg, key) in set.take_groups(|kg| owner[kg as usize].is_some()) {
                if let Some(i) = owner[kg as usize] {
                    timers[i].push((processing, time, kg, key));
                }
            }
        }
        for (((peer, _), (state, checks)), timers) in
            outgoing.into_iter().zip(exported.into_iter().zip(checks)).zip(timers)
        {
            keys += state.keys;
            bytes += state.bytes;
            groups_out += state.groups.len() as u64;
            timers_out += timers.len() as u64;
            let h = Handoff { from: self.id, state, timers, checksums: checks };
            peer.inbox.push(Control::Handoff(Box::new(h)), &peer.tx);
        }
        if let Some(change) = &mut r.change {
            let rep = &mut change.report;
            (rep.keys_out, rep.bytes_out, rep.groups_out, rep.timers_out) = (keys, bytes, groups_out, timers_out);
            rep.export_time = t.elapsed();
        }
        Ok(())
    }

    fn fire_event_timers(&mut self, upto: u64, r: &mut Running) -> Result<(), TaskError> {
        while let Some((time, kg, key)) = r.timers.event.pop_due(upto) {
            let mut c = Context { watermark: upto, ..self.ctx(kg, r) };
            self.op.on_timer(time, &key, &mut c)?;
            if r.pending.len() >= EMIT_EVERY {
                self.outputs.emit_all(&mut r.pending)?;
            }
        }
        Ok(())
    }

    fn fire_processing_timers(&mut self, upto: u64, r: &mut Running) -> Result<(), TaskError> {
        while let Some((time, kg, key)) = r.timers.processing.pop_due(upto) {
            let mut c = self.ctx(kg, r);
            self.op.on_processing_timer(time, &key, &mut c)?;
            if r.pending.len() >= EMIT_EVERY {
                self.outputs.emit_all(&mut r.pending)?;
            }
        }
        Ok(())
    }
}
