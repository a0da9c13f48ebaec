//! A running Flink job as the autoscaler's [`ScalableJob`].
//!
//! Observations are differences of cumulative counters between two calls
//! (records in and out, busy and backpressured milliseconds, block-cache
//! hits and misses), not Flink's 60-second meters, so an interval's figures
//! are that interval's. The block-cache counters are RocksDB's tickers of
//! each operator's instance: they count compaction's lookups too (the
//! engine counts only the operator's own reads). State-read latency p90 is
//! Flink's keyed-state latency tracking (sampled, in ns), the largest over
//! the operator's states.
//!
//! Parallelism changes go through the adaptive scheduler
//! (`PUT /jobs/:id/resource-requirements`); Flink restarts the job from its
//! latest checkpoint. Memory changes go through stop-with-savepoint and a
//! resubmission with the new RocksDB memory: Flink sizes RocksDB memory per
//! slot, shared by the subtasks of every stateful operator in the slot, not
//! per operator. memscale credits each of a job's k stateful operators with
//! 1/k of a slot's block cache per subtask, and sizes a slot to give every
//! operator at least what a plan asks per subtask:
//! `slot cache = k × max(op cache / op parallelism)`, the slot's RocksDB
//! memory 6/5 of that (Flink gives the block cache 5/6 of it at its default
//! write-buffer ratio).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autoscaler::job::{Applied, Observation, OperatorObservation, Plan, ScalableJob};

use crate::home::FlinkHome;
use crate::nexmark::{run_job, Submission};
use crate::rest::{Aggregate, JobDetails, RestClient, SavepointStatus};
use crate::FlinkError;

/// How long a restart (rescale or resubmission) may take before apply
/// gives up.
const RESTART_TIMEOUT: Duration = Duration::from_secs(180);

/// The least RocksDB memory a slot gets: below it, write buffers of a
/// few hundred KiB stall every write.
pub const MIN_MEMORY_PER_SLOT: u64 = 8 << 20;

/// The block cache's share of a slot's RocksDB memory (Flink's
/// `(3 - write-buffer-ratio) / 3` at the default ratio 0.5).
const CACHE_SHARE: f64 = 5.0 / 6.0;

/// One vertex as the adapter tracks it.
#[derive(Clone, Debug)]
struct VertexInfo {
    id: String,
    operator: String,
    inputs: Vec<usize>,
    source: bool,
    metrics: VertexMetricNames,
}

/// The operator-scoped metric names of a vertex (they carry Flink's
/// operator names, found by listing).
#[derive(Clone, Debug, Default)]
struct VertexMetricNames {
    source_out: Option<String>,
    hits: Vec<String>,
    misses: Vec<String>,
    capacity: Vec<String>,
    usage: Vec<String>,
    state: Vec<String>,
    latency_p90: Vec<String>,
}

impl VertexMetricNames {
    fn from_list(names: &[String]) -> VertexMetricNames {
        let pick = |f: &dyn Fn(&str) -> bool| names.iter().filter(|n| f(n)).cloned().collect::<Vec<_>>();
        VertexMetricNames {
            source_out: names
                .iter()
                .find(|n| n.starts_with("Source__") && n.ends_with(".numRecordsOut") && n.matches('.').count() == 1)
                .cloned(),
            hits: pick(&|n| n.ends_with(".rocksdb_block_cache_hit")),
            misses: pick(&|n| n.ends_with(".rocksdb_block_cache_miss")),
            capacity: pick(&|n| n.ends_with(".rocksdb_block-cache-capacity")),
            usage: pick(&|n| n.ends_with(".rocksdb_block-cache-usage")),
            state: pick(&|n| {
                n.ends_with(".rocksdb_total-sst-files-size") || n.ends_with(".rocksdb_cur-size-all-mem-tables")
            }),
            latency_p90: pick(&|n| n.contains(".state_name.") && n.ends_with("GetLatency_p90")),
        }
    }

    fn has_cache(&self) -> bool {
        !self.hits.is_empty()
    }

    fn all(&self) -> Vec<String> {
        let mut v = vec!["numRecordsIn".to_string(), "numRecordsOut".to_string()];
        v.extend(self.source_out.iter().cloned());
        for group in [&self.hits, &self.misses, &self.capacity, &self.usage, &self.state, &self.latency_p90] {
            v.extend(group.iter().cloned());
        }
        v
    }
}

/// A vertex's cumulative counters at one moment.
#[derive(Clone, Debug, Default)]
struct Counters {
    parallelism: u32,
    records_in: f64,
    records_out: f64,
    source_events: f64,
    busy_ms: f64,
    backpressured_ms: f64,
    hits: f64,
    misses: f64,
    capacity: Option<f64>,
    usage: Option<f64>,
    state_bytes: f64,
    latency_p90_ns: Option<f64>,
}

/// The whole job at one moment.
#[derive(Clone, Debug)]
struct Sample {
    server_ms: i64,
    vertices: Vec<Counters>,
}

/// A Flink job under an autoscaler.
pub struct FlinkJob {
    client: RestClient,
    home: Option<FlinkHome>,
    cluster_dir: PathBuf,
    savepoint_dir: PathBuf,
    submission: Option<Submission>,
    job: String,
    target_rate: f64,
    vertices: Vec<VertexInfo>,
    max_parallelism: u32,
    previous: Option<Sample>,
    previous_tick: Option<Sample>,
    /// The configuration the last observation reported.
    last_config: autoscaler::job::Config,
    started: Instant,
    finished: bool,
}

impl FlinkJob {
    /// Job `job` on the cluster at `client`, whose sources should sustain
    /// `target_rate` events/s. Its submission record under `cluster_dir`
    /// (written by `memscale flink submit`) is what memory changes
    /// resubmit; without one, the job can be rescaled but not resized.
    /// Refuses an unknown job, one that is not running, and one without
    /// the metrics the policies read.
    pub fn attach(
        client: RestClient,
        home: Option<FlinkHome>,
        cluster_dir: &Path,
        job: &str,
        target_rate: f64,
    ) -> Result<FlinkJob, FlinkError> {
        let details = client.job(job)?;
        // A job just submitted is CREATED or INITIALIZING for a while:
        // only a job that has ended is refused.
        if is_terminal(&details.state) {
            return Err(FlinkError::NotRunning { job: job.into(), state: details.state });
        }
        let submission = Submission::load(cluster_dir, job)?;
        let mut j = FlinkJob {
            client,
            home,
            cluster_dir: cluster_dir.to_path_buf(),
            // Flink resolves a relative target against its own working
            // folder, not ours.
            savepoint_dir: std::path::absolute(cluster_dir.join("savepoints"))
                .map_err(FlinkError::io(cluster_dir.join("savepoints")))?,
            submission,
            job: job.to_string(),
            target_rate,
            vertices: Vec::new(),
            max_parallelism: 128,
            previous: None,
            previous_tick: None,
            last_config: Default::default(),
            started: Instant::now(),
            finished: false,
        };
        j.wait_running(None, Duration::from_secs(60))?;
        j.discover(Duration::from_secs(30))?;
        j.previous = Some(j.settled_sample(Duration::from_secs(30))?);
        j.previous_tick = j.previous.clone();
        Ok(j)
    }

    /// The job's id now (it changes when a memory change resubmits it).
    pub fn job_id(&self) -> &str {
        &self.job
    }

    /// The REST client.
    pub fn client(&self) -> &RestClient {
        &self.client
    }

    /// Reads the job graph and each vertex's metric names; waits up to
    /// `wait` for the RocksDB metrics of a stateful job to appear (Flink
    /// registers them when the state backend opens, and its metric fetcher
    /// lags).
    fn discover(&mut self, wait: Duration) -> Result<(), FlinkError> {
        let deadline = Instant::now() + wait;
        loop {
            let details = self.client.job(&self.job)?;
            let order: Vec<String> = details.plan.nodes.iter().map(|n| n.id.clone()).collect();
            let mut vertices = Vec::new();
            for v in &details.vertices {
                let names = self.client.vertex_metric_names(&self.job, &v.id)?;
                let node = details.plan.nodes.iter().find(|n| n.id == v.id);
                let inputs = node
                    .map(|n| n.inputs.iter().filter_map(|i| order.iter().position(|o| *o == i.id)).collect())
                    .unwrap_or_default();
                let metrics = VertexMetricNames::from_list(&names);
                vertices.push(VertexInfo {
                    id: v.id.clone(),
                    operator: String::new(),
                    inputs,
                    source: v.name.starts_with("Source:"),
                    metrics,
                });
            }
            name_operators(&mut vertices, &details);
            self.max_parallelism = details.vertices.iter().map(|v| v.max_parallelism).max().unwrap_or(128);
            let stateful = vertices.iter().any(|v| v.metrics.has_cache());
            self.vertices = vertices;
            if stateful {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(FlinkError::MissingMetrics {
                    job: self.job.clone(),
                    what: "RocksDB block-cache".into(),
                    hint: "enable state.backend.rocksdb.metrics.block-cache-hit and -miss (memscale flink up does) \
                           and use RocksDB state"
                        .into(),
                });
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// Every vertex's counters, once every stateful vertex reports its
    /// block-cache capacity (Flink's metric fetcher shows 0 or nothing for
    /// a while after a start), or after `wait` as they are.
    fn settled_sample(&self, wait: Duration) -> Result<Sample, FlinkError> {
        let deadline = Instant::now() + wait;
        loop {
            let s = self.sample()?;
            let settled = self
                .vertices
                .iter()
                .zip(&s.vertices)
                .all(|(v, c)| !v.metrics.has_cache() || c.capacity.is_some_and(|x| x > 0.0));
            if settled || Instant::now() > deadline {
                return Ok(s);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Every vertex's counters now.
    fn sample(&self) -> Result<Sample, FlinkError> {
        let details = self.client.job(&self.job)?;
        let mut out = Vec::with_capacity(self.vertices.len());
        for info in &self.vertices {
            let v = details.vertices.iter().find(|v| v.id == info.id).ok_or_else(|| FlinkError::Protocol {
                path: format!("/jobs/{}", self.job),
                detail: format!("vertex {} is gone", info.id),
            })?;
            let m = self.client.vertex_metrics(&self.job, &info.id, &info.metrics.all())?;
            let sum = |names: &[String]| names.iter().filter_map(|n| m.get(n).and_then(|a| a.sum)).sum::<f64>();
            let max = |names: &[String]| {
                names
                    .iter()
                    .filter_map(|n| m.get(n).and_then(|a: &Aggregate| a.max))
                    .fold(None, |acc: Option<f64>, x| Some(acc.map_or(x, |a| a.max(x))))
            };
            let one = |n: &str| m.get(n).and_then(|a| a.sum).unwrap_or(0.0);
            out.push(Counters {
                parallelism: v.parallelism,
                records_in: one("numRecordsIn"),
                records_out: one("numRecordsOut"),
                source_events: info.metrics.source_out.as_deref().map_or(0.0, one),
                busy_ms: v.metrics.busy_ms,
                backpressured_ms: v.metrics.backpressured_ms,
                hits: sum(&info.metrics.hits),
                misses: sum(&info.metrics.misses),
                capacity: max(&info.metrics.capacity),
                usage: max(&info.metrics.usage),
                state_bytes: sum(&info.metrics.state),
                latency_p90_ns: max(&info.metrics.latency_p90),
            });
        }
        Ok(Sample { server_ms: details.now, vertices: out })
    }

    /// Waits until the job and every vertex run, at `parallelism` (vertex
    /// id → subtasks) if given.
    fn wait_running(
        &self,
        parallelism: Option<&HashMap<String, u32>>,
        timeout: Duration,
    ) -> Result<JobDetails, FlinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            let d = self.client.job(&self.job)?;
            if is_terminal(&d.state) {
                return Err(FlinkError::NotRunning { job: self.job.clone(), state: d.state });
            }
            let at_size = parallelism
                .is_none_or(|want| d.vertices.iter().all(|v| want.get(&v.id).is_none_or(|&p| p == v.parallelism)));
            if d.state == "RUNNING" && at_size && d.vertices.iter().all(|v| v.status == "RUNNING") {
                return Ok(d);
            }
            if Instant::now() > deadline {
                return Err(FlinkError::Timeout {
                    what: format!("job {} to run at its new configuration (it is {})", self.job, d.state),
                    seconds: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The stateful vertices' count (they share a slot's cache).
    fn stateful(&self) -> usize {
        self.vertices.iter().filter(|v| v.metrics.has_cache()).count().max(1)
    }

    /// Events the sources emitted before the current incarnation.
    fn events_before(&self) -> f64 {
        self.submission.as_ref().map_or(0.0, |s| s.events_before as f64)
    }

    /// Stop-with-savepoint, then the same program from the savepoint with
    /// `memory` per slot and `parallelism`.
    fn resubmit(&mut self, memory: u64, parallelism: u32, emitted: f64) -> Result<(), FlinkError> {
        let Some(sub) = self.submission.clone() else {
            return Err(FlinkError::Invalid(format!(
                "job {} was not submitted by `memscale flink submit` from {}: its memory cannot change \
                 (a memory change resubmits the job's program from a savepoint)",
                self.job,
                self.cluster_dir.display()
            )));
        };
        let mut spec = sub.spec.clone();
        spec.rocksdb_memory_per_slot = memory;
        spec.parallelism = parallelism;
        // Everything that can be checked is checked before the job stops.
        spec.validate()?;
        let home = match &self.home {
            Some(h) => h.clone(),
            None => FlinkHome::find(None)?,
        };
        let dir = self.savepoint_dir.display().to_string();
        let trigger = self.client.stop_with_savepoint(&self.job, &dir)?;
        let deadline = Instant::now() + RESTART_TIMEOUT;
        let location = loop {
            // A failed stop-with-savepoint leaves the job running.
            match self.client.savepoint_status(&self.job, &trigger)? {
                SavepointStatus::Completed(l) => break l,
                SavepointStatus::Failed(cause) => {
                    return Err(FlinkError::Savepoint { job: self.job.clone(), cause });
                }
                SavepointStatus::InProgress if Instant::now() > deadline => {
                    return Err(FlinkError::Timeout {
                        what: format!("the savepoint of job {}", self.job),
                        seconds: RESTART_TIMEOUT.as_secs(),
                    });
                }
                SavepointStatus::InProgress => std::thread::sleep(Duration::from_millis(300)),
            }
        };
        let launch = |spec: &crate::nexmark::NexmarkJobSpec| {
            match run_job(&self.client, &home, &self.cluster_dir, spec, Some(&sub.jar_id), Some(&location)) {
                // The cluster lost the jar (restarted since): upload it again.
                Err(FlinkError::Http { status: 404, .. }) => {
                    run_job(&self.client, &home, &self.cluster_dir, spec, None, Some(&location))
                }
                other => other,
            }
        };
        let (job, jar_id, spec, failure) = match launch(&spec) {
            Ok((job, jar)) => (job, jar, spec, None),
            // The job is stopped: bring it back as it was before
            // reporting the failure.
            Err(e) => {
                let (job, jar) = launch(&sub.spec)?;
                (job, jar, sub.spec.clone(), Some(e))
            }
        };
        let next = Submission { job_id: job.clone(), jar_id, spec, events_before: emitted.round() as u64, ..sub };
        next.save(&self.cluster_dir)?;
        self.submission = Some(next);
        let old = std::mem::replace(&mut self.job, job);
        match failure {
            None => Ok(()),
            Some(e) => Err(FlinkError::Invalid(format!(
                "resubmitting job {old} with {} per slot failed ({e}); it runs again as it was, as job {}",
                cachesim::size::format_size(memory),
                self.job
            ))),
        }
    }

    /// The job's state checked (waiting out a restart), metric names
    /// rediscovered if some were missing, and every counter now.
    fn refresh(&mut self) -> Result<Sample, FlinkError> {
        let state = self.client.job(&self.job)?.state;
        if state == "FINISHED" {
            self.finished = true;
        } else if state != "RUNNING" {
            self.wait_running(None, Duration::from_secs(60))?;
        }
        if !self.vertices.iter().any(|v| v.metrics.has_cache()) {
            self.discover(Duration::ZERO).ok();
        }
        self.sample()
    }

    /// The figures since the previous call of this method (or since the
    /// last change): for a timeline sampled more often than the
    /// controller observes.
    /// `None` while Flink's metric fetcher has not refreshed since the
    /// previous tick (every counter unchanged: a zero-rate row would be
    /// followed by a doubled one).
    pub fn tick(&mut self) -> Result<Option<Observation>, FlinkError> {
        let now = self.refresh()?;
        if let Some(before) = &self.previous_tick {
            let moved = before.vertices.iter().zip(&now.vertices).any(|(b, c)| {
                b.source_events != c.source_events || b.records_in != c.records_in || b.busy_ms != c.busy_ms
            });
            if !moved {
                return Ok(None);
            }
        }
        let obs = self.delta(self.previous_tick.as_ref(), &now);
        self.last_config = obs.config();
        self.previous_tick = Some(now);
        Ok(Some(obs))
    }

    /// The job's configuration now, as Flink reports it (each vertex's
    /// parallelism, each stateful operator's share of the slots' caches).
    pub fn configuration(&self) -> Result<autoscaler::job::Config, FlinkError> {
        let now = self.sample()?;
        Ok(self.delta(None, &now).config())
    }

    /// The observation of the counters from `before` to `now`.
    fn delta(&self, before: Option<&Sample>, now: &Sample) -> Observation {
        let zeros = Sample { server_ms: now.server_ms, vertices: vec![Counters::default(); now.vertices.len()] };
        let before = before.unwrap_or(&zeros);
        let dt = ((now.server_ms - before.server_ms) as f64 / 1000.0).max(1e-3);
        let k = self.stateful() as f64;
        let mut operators = Vec::with_capacity(self.vertices.len());
        let mut source_rate = 0.0;
        let mut source_total = 0.0;
        for (i, info) in self.vertices.iter().enumerate() {
            let c = &now.vertices[i];
            let zero = Counters::default();
            // Counters restart with new subtasks: then the whole count is
            // this interval's.
            let b = before.vertices.get(i).filter(|b| b.parallelism == c.parallelism).unwrap_or(&zero);
            let d = |x: f64, y: f64| if x >= y { x - y } else { x };
            let events = d(c.source_events, b.source_events);
            let records_in = if info.source { events } else { d(c.records_in, b.records_in) };
            let records_out = d(c.records_out, b.records_out);
            let useful_s = d(c.busy_ms, b.busy_ms) / 1000.0;
            let backpressured_s = d(c.backpressured_ms, b.backpressured_ms) / 1000.0;
            let (hits, misses) = (d(c.hits, b.hits), d(c.misses, b.misses));
            let p = c.parallelism.max(1) as f64;
            if info.source {
                source_rate += events / dt;
                source_total += c.source_events;
            }
            let share = |bytes: Option<f64>| bytes.map(|b| (b / k * p).round() as u64);
            operators.push(OperatorObservation {
                name: info.operator.clone(),
                inputs: info.inputs.clone(),
                source: info.source,
                rescalable: !info.source,
                has_cache: info.metrics.has_cache(),
                parallelism: c.parallelism,
                cache_bytes: if info.metrics.has_cache() { share(c.capacity) } else { None },
                cache_usage_bytes: if info.metrics.has_cache() { share(c.usage) } else { None },
                state_bytes: c.state_bytes as u64,
                state_growth_per_s: (c.state_bytes - b.state_bytes) / dt,
                records_in_per_s: records_in / dt,
                records_out_per_s: records_out / dt,
                useful_s,
                busy_ratio: (useful_s / (dt * p)).min(1.0),
                backpressure_ratio: (backpressured_s / (dt * p)).min(1.0),
                true_processing_rate: if useful_s > 0.0 { records_in / useful_s } else { 0.0 },
                true_output_rate: if useful_s > 0.0 { records_out / useful_s } else { 0.0 },
                hit_ratio: (hits + misses > 0.0).then(|| hits / (hits + misses)),
                lookups_per_record: if records_in > 0.0 { (hits + misses) / records_in } else { 0.0 },
                miss_cost_us: None,
                state_read_p90_us: c.latency_p90_ns.map(|ns| ns / 1000.0),
                // Flink's REST API has no CPU time per task.
                cpu_cores: None,
            });
        }
        let emitted = self.events_before() + source_total;
        let since =
            self.submission.as_ref().map_or(0.0, |s| (now.server_ms as f64 - s.submitted_at_ms as f64) / 1000.0);
        Observation {
            t_s: self.started.elapsed().as_secs_f64(),
            interval_s: dt,
            operators,
            source_rate,
            target_rate: self.target_rate,
            backlog_events: (self.target_rate * since - emitted).max(0.0),
            // Flink has no end-to-end latency of its own without latency
            // markers; the policies here do not read it.
            e2e_p99_ms: 0.0,
            max_parallelism: self.max_parallelism,
            background_cores: None,
        }
    }
}

/// The RocksDB memory per slot `plan` asks for, if it changes memory.
///
/// Flink sizes memory per slot, so an operator's cache is its subtasks'
/// shares (each of the `stateful` operators gets 1/k of a slot's block
/// cache). A plan's cache is the operator's total, as on the engine, where
/// subtasks share one cache and scaling out does not grow it. So: a plan
/// that keeps every stateful operator's cache as `observed` changes no
/// memory; one that changes parallelism (even beyond what the cluster
/// gives: `running`, operator → subtasks it will run at) keeps each
/// subtask's share unless it asks more per subtask;
/// one at the same parallelism gets the memory it asks, grown or shrunk.
/// Slots get at least enough for every operator's cache per subtask, and
/// never less than [`MIN_MEMORY_PER_SLOT`].
fn planned_memory(
    plan: &Plan,
    observed: &autoscaler::job::Config,
    running: &HashMap<String, u32>,
    stateful: usize,
    memory_now: Option<u64>,
) -> Option<u64> {
    let slack = 1u64 << 20;
    let changed = plan.operators.iter().any(|o| {
        let seen = observed.get(&o.operator).and_then(|c| c.cache_bytes);
        matches!((seen, o.cache_bytes), (Some(a), Some(b)) if a.abs_diff(b) > slack)
    });
    if !changed {
        return None;
    }
    let per_subtask = plan
        .operators
        .iter()
        .filter_map(|o| {
            let p = running.get(&o.operator).copied().unwrap_or(o.parallelism).max(1);
            Some(o.cache_bytes? as f64 / p as f64)
        })
        .fold(None, |acc: Option<f64>, x| Some(acc.map_or(x, |a| a.max(x))))?;
    let memory = ((stateful.max(1) as f64 * per_subtask / CACHE_SHARE).ceil() as u64).max(MIN_MEMORY_PER_SLOT);
    // The plan's own parallelism says whether it scales (the cluster may
    // cap what it gets).
    let rescales =
        plan.operators.iter().any(|o| observed.get(&o.operator).is_some_and(|c| o.parallelism != c.parallelism));
    match memory_now {
        Some(now) if rescales => (memory > now + slack).then_some(memory),
        Some(now) => (memory.abs_diff(now) > slack).then_some(memory),
        None => Some(memory),
    }
}

/// Whether a job in `state` has ended for good.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "FINISHED" | "CANCELED" | "FAILED")
}

/// Short operator names from the vertices' chains: `source` for the
/// source, else the chain's first operator in lower case without Flink's
/// `[n]` (`Join[7] -> Calc[8] -> ...` is `join`), numbered when two
/// collide.
fn name_operators(vertices: &mut [VertexInfo], details: &JobDetails) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for v in vertices.iter_mut() {
        let name = details.vertices.iter().find(|d| d.id == v.id).map(|d| d.name.as_str()).unwrap_or("");
        let base = if v.source {
            "source".to_string()
        } else {
            let first = name.split(" -> ").next().unwrap_or(name);
            let first = first.split('[').next().unwrap_or(first).trim();
            let clean: String =
                first.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
            if clean.is_empty() {
                "vertex".into()
            } else {
                clean
            }
        };
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        v.operator = if *n == 1 { base } else { format!("{base}-{n}") };
    }
}

impl ScalableJob for FlinkJob {
    type Error = FlinkError;

    fn observe(&mut self) -> Result<Observation, FlinkError> {
        let now = self.refresh()?;
        let obs = self.delta(self.previous.as_ref(), &now);
        self.last_config = obs.config();
        self.previous = Some(now);
        Ok(obs)
    }

    fn apply(&mut self, plan: &Plan) -> Result<Applied, FlinkError> {
        let started = Instant::now();
        let current = self.client.job(&self.job)?;
        // Every slot holds one subtask of each vertex: no vertex runs more
        // subtasks than the cluster has slots.
        let slots = self.client.overview()?.slots_total.max(1);
        let mut want: HashMap<String, u32> = HashMap::new();
        let mut applied = Applied::default();
        for info in &self.vertices {
            let now = current.vertices.iter().find(|v| v.id == info.id).map_or(1, |v| v.parallelism);
            let p = match plan.operator(&info.operator) {
                Some(o) if !info.source => o.parallelism.clamp(1, self.max_parallelism.min(slots)),
                _ => now,
            };
            if p != now {
                applied.rescaled.push(info.operator.clone());
            }
            want.insert(info.id.clone(), p);
        }
        let running: HashMap<String, u32> =
            self.vertices.iter().filter_map(|v| Some((v.operator.clone(), *want.get(&v.id)?))).collect();
        let memory_now = self.submission.as_ref().map(|s| s.spec.rocksdb_memory_per_slot);
        let memory = planned_memory(plan, &self.last_config, &running, self.stateful(), memory_now);
        let resize = memory.is_some();
        if resize {
            let memory = memory.unwrap_or_default();
            let emitted = self.events_before()
                + self.previous.as_ref().map_or(0.0, |s| s.vertices.iter().map(|c| c.source_events).sum());
            let parallelism =
                self.vertices.iter().filter(|v| !v.source).filter_map(|v| want.get(&v.id)).copied().max().unwrap_or(1);
            self.resubmit(memory, parallelism, emitted)?;
            applied.resized =
                self.vertices.iter().filter(|v| v.metrics.has_cache()).map(|v| v.operator.clone()).collect();
            // The new job starts every vertex at `parallelism`; vertices
            // planned otherwise are set through the scheduler.
            self.wait_running(None, RESTART_TIMEOUT)?;
            let fresh = self.client.job(&self.job)?;
            let uneven = fresh.vertices.iter().any(|v| want.get(&v.id).is_some_and(|&p| p != v.parallelism));
            if uneven {
                let all: Vec<_> = want.iter().map(|(v, p)| (v.clone(), *p)).collect();
                self.client.set_parallelism(&self.job, &all)?;
            }
        } else if !applied.rescaled.is_empty() {
            let all: Vec<_> = want.iter().map(|(v, p)| (v.clone(), *p)).collect();
            self.client.set_parallelism(&self.job, &all)?;
        } else {
            return Ok(applied);
        }
        self.wait_running(Some(&want), RESTART_TIMEOUT)?;
        self.discover(Duration::from_secs(30))?;
        self.previous = Some(self.settled_sample(Duration::from_secs(30))?);
        self.previous_tick = self.previous.clone();
        applied.duration_s = started.elapsed().as_secs_f64();
        Ok(applied)
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(p: u32, cache_mib: u64) -> Plan {
        Plan {
            operators: vec![
                autoscaler::job::OperatorPlan {
                    operator: "source".into(),
                    parallelism: 1,
                    cache_bytes: None,
                    reason: String::new(),
                },
                autoscaler::job::OperatorPlan {
                    operator: "join".into(),
                    parallelism: p,
                    cache_bytes: Some(cache_mib << 20),
                    reason: String::new(),
                },
            ],
        }
    }

    fn config(p: u32, cache_mib: u64) -> autoscaler::job::Config {
        plan(p, cache_mib).config()
    }

    fn running(p: u32) -> HashMap<String, u32> {
        [("source".to_string(), 1), ("join".to_string(), p)].into_iter().collect()
    }

    #[test]
    fn plans_map_onto_memory_per_slot() {
        let mib = 1u64 << 20;
        // 16 MiB per slot: a 13.33 MiB block cache at one subtask.
        let now = Some(16 * mib);
        // DS2 keeps the cache it saw: no memory change, whatever it does to
        // parallelism.
        assert_eq!(planned_memory(&plan(4, 40), &config(1, 40), &running(4), 1, now), None);
        // A vertical step to 32 MiB of cache at one subtask: 6/5 of it per
        // slot (the block cache is 5/6 of a slot's RocksDB memory).
        assert_eq!(planned_memory(&plan(1, 32), &config(1, 16), &running(1), 1, now), Some((32 * mib * 6).div_ceil(5)));
        // Two stateful operators share a slot: twice that.
        assert_eq!(planned_memory(&plan(1, 32), &config(1, 16), &running(1), 2, now), Some((64 * mib * 6).div_ceil(5)));
        // A step back shrinks it, never below the floor.
        assert_eq!(
            planned_memory(&plan(1, 2), &config(1, 32), &running(1), 1, Some(40 * mib)),
            Some(MIN_MEMORY_PER_SLOT)
        );
        // Scaling out 1 -> 8 with the engine's shared total (213 MiB seen,
        // 26 MiB asked): each subtask keeps its share, no shrink.
        assert_eq!(planned_memory(&plan(8, 26), &config(1, 213), &running(8), 1, Some(256 * mib)), None);
        // Asking 26 subtasks of a cluster with 8 slots is still a rescale.
        assert_eq!(planned_memory(&plan(26, 13), &config(8, 213), &running(8), 1, Some(256 * mib)), None);
        // Scaling out while asking more per subtask grows the slots.
        assert_eq!(planned_memory(&plan(2, 100), &config(1, 13), &running(2), 1, now), Some(60 * mib));
    }

    #[test]
    fn metric_names_are_sorted_by_what_they_measure() {
        let names: Vec<String> = [
            "Source__nexmark.numRecordsOut",
            "Source__nexmark.split.1.watermark.currentWatermark",
            "Join[7].rocksdb_block_cache_hit",
            "Join[7].rocksdb_block_cache_miss",
            "Join[7].left-records.rocksdb_block-cache-capacity",
            "Join[7].left-records.rocksdb_total-sst-files-size",
            "Join[7].right-records.rocksdb_cur-size-all-mem-tables",
            "Join[7].state_name.left-records.mapStateGetLatency_p90",
            "Join[7].state_name.left-records.mapStateGetLatency_p99",
            "numRecordsIn",
        ]
        .map(String::from)
        .to_vec();
        let m = VertexMetricNames::from_list(&names);
        assert_eq!(m.source_out.as_deref(), Some("Source__nexmark.numRecordsOut"));
        assert_eq!(m.hits, ["Join[7].rocksdb_block_cache_hit"]);
        assert_eq!(m.capacity.len(), 1);
        assert_eq!(m.state.len(), 2);
        assert_eq!(m.latency_p90, ["Join[7].state_name.left-records.mapStateGetLatency_p90"]);
        assert!(m.has_cache());
    }
}
