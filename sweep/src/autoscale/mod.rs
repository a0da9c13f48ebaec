//! `memscale autoscale`: a query on the engine under the autoscaler's
//! controller. The controller observes every interval and carries out its
//! policy's plans through live rescaling; a timeline thread samples every
//! second. Writes timeline.csv, decisions.jsonl, changes.json,
//! summary.json and report.html.

pub mod engine_job;
pub mod flink_run;
pub mod policies;
pub mod report;
pub mod timeline;
pub mod window;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use autoscaler::job::{Observation, ScalableJob};
use autoscaler::{Controller, ControllerConfig, DecisionRecord};
use cachesim::size::{format_size, parse_size};
use engine::runtime::exporter::BoundEndpoint;
use engine::runtime::{RescaleOptions, Strategy};
use serde::{Deserialize, Serialize};

use crate::cli::{AutoscaleArgs, FilterLayoutArg, JobArgs, StateArg, StrategyArg};
use crate::job::{parse_duration, JobSetup};
use crate::output::write_json;
use engine_job::EngineJob;
use timeline::Timeline;
use window::{Target, Topology, Window};

/// The engine job `a` describes, with its start configuration (its rate
/// the one `--scenario`'s shape multiplies: [`scenario`]).
pub fn job_args(a: &AutoscaleArgs) -> JobArgs {
    let (rate, _) = scenario(a);
    JobArgs {
        query: Some(a.query.clone()),
        events: None,
        duration: Some(a.duration.clone()),
        rate: Some(rate),
        parallelism: a.start_parallelism.clone(),
        cache: Some(a.start_cache.clone()),
        write_buffer: a.write_buffer.clone(),
        state: StateArg::Rocksdb,
        preset: Some(a.preset.clone()),
        in_flight_auctions: None,
        active_people: None,
        hot_auction_ratio: None,
        hot_bidder_ratio: None,
        hot_seller_ratio: None,
        base_time: engine::nexmark::DEFAULT_BASE_TIME_MS,
        max_parallelism: a.max_parallelism,
        trace: None,
        trace_sample: 1.0,
        block_trace: None,
        block_trace_sampling: 1,
        state_dir: a.state_dir.clone(),
        keep_state: false,
        buffered_io: false,
        filters: FilterLayoutArg::Partitioned,
        // The policies' live hit ratio is that of the operators' own reads.
        count_user_reads: true,
    }
}

/// The sources' rate and shape for `--scenario` (a run of an unreadable
/// --duration is refused before it matters; 5 minutes meanwhile).
pub fn scenario(a: &AutoscaleArgs) -> (u64, engine::runtime::rate::RateShape) {
    let seconds = parse_duration("--duration", &a.duration).map_or(300.0, |d| d.as_secs_f64());
    a.scenario.shape(a.rate, seconds)
}

/// The engine job's start configuration: subtasks and block-cache bytes.
fn start_resources(setup: &JobSetup) -> (u32, u64) {
    let graph = engine::queries::build(setup.query, &setup.query_config);
    let cores: u32 = graph.stages.iter().map(|s| s.parallelism).sum();
    let cache: u64 = match &setup.run_config.backend {
        engine::runtime::Backend::RocksDb(rc) => {
            graph.stages.iter().filter(|s| !s.states.is_empty()).map(|s| rc.cache_of(&s.name) as u64).sum()
        }
        engine::runtime::Backend::Memory => 0,
    };
    (cores, cache)
}

/// Checks the options that are the autoscaler's own against a start
/// configuration of `start_cores` subtasks and `start_cache` bytes of block
/// cache; each error names its option.
fn controller_config(a: &AutoscaleArgs, start_cores: u32, start_cache: u64) -> Result<ControllerConfig> {
    if a.rate == 0 {
        bail!("--rate 0: the target must be at least 1 event/s");
    }
    let interval = parse_duration("--interval", &a.interval)?;
    let cooldown = if a.cooldown.trim() == "0" || a.cooldown.trim() == "0s" {
        Duration::ZERO
    } else {
        parse_duration("--cooldown", &a.cooldown)?
    };
    if let Some(m) = a.max_cores {
        if m < start_cores {
            bail!("--max-cores {m} is below the start configuration's {start_cores} subtasks (--start-parallelism)");
        }
    }
    let max_memory = match &a.max_memory {
        Some(s) => {
            let b = parse_size(s).map_err(|e| anyhow::anyhow!("--max-memory: {e}"))?;
            if b < start_cache {
                bail!(
                    "--max-memory {s} is below the start configuration's {} of block cache (--start-cache)",
                    format_size(start_cache)
                );
            }
            Some(b)
        }
        None => None,
    };
    Ok(ControllerConfig {
        interval_s: interval.as_secs_f64(),
        warmup_intervals: a.warmup,
        activation: a.activation.max(1),
        cooldown_s: cooldown.as_secs_f64(),
        max_cores: a.max_cores,
        max_memory,
    })
}

/// summary.json: the run in one record (what `memscale compare` reads
/// back when it resumes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// Query.
    pub query: String,
    /// Preset.
    pub preset: String,
    /// Policy.
    pub policy: String,
    /// Target events/s.
    pub target_rate: u64,
    /// Start configuration, as given.
    pub start: String,
    /// Final configuration, `op=P@SIZE;...`.
    pub end: String,
    /// Changes of parallelism.
    pub rescales: usize,
    /// Changes of memory.
    pub resizes: usize,
    /// Plans carried out that changed something: each is one change of
    /// configuration, however many operators it rescales and resizes at
    /// once (`None` in summaries written before it was counted).
    #[serde(default)]
    pub reconfigurations: Option<usize>,
    /// Seconds until the sources kept up with the target for the rest of
    /// the run (`None`: they never did).
    pub converge_s: Option<f64>,
    /// Sums over the timeline.
    #[serde(flatten)]
    pub totals: timeline::Totals,
    /// Cost of the resources used (core-hours and GiB-hours at the prices
    /// given).
    pub cost: f64,
    /// Events emitted.
    pub events: u64,
    /// Events/s the sources sustained.
    pub sustained_throughput: f64,
    /// End-to-end p99 over the run, ms.
    pub latency_p99_ms: f64,
}

/// Seconds from which the sources stayed on the target for the rest of
/// the run: the end of the last second in which they were more than a
/// second's events behind it (their deficit, summed second by second from
/// the timeline's source rows); 0 if they never were, `None` if they were
/// at the end.
pub fn converge_s(rows: &[timeline::Row], source: &str) -> Option<f64> {
    let (mut deficit, mut last_t, mut last_behind, mut behind_at_end) = (0.0f64, 0.0f64, None, false);
    for r in rows.iter().filter(|r| r.operator == source) {
        deficit = (deficit + (r.target_rate - r.input_rate) * (r.t_s - last_t)).max(0.0);
        last_t = r.t_s;
        behind_at_end = deficit > r.target_rate;
        if behind_at_end {
            last_behind = Some(r.t_s);
        }
    }
    if behind_at_end {
        None
    } else {
        Some(last_behind.unwrap_or(0.0))
    }
}

/// Runs the job `a` describes under its policy and writes every file into
/// `a.out`.
pub fn execute(a: &AutoscaleArgs) -> Result<(Outcome, RunSummary)> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}: cannot create", a.out.display()))?;
    // The job's options under the names this command gives them.
    let mut setup = job_args(a).setup(&a.out).map_err(|e| {
        anyhow::anyhow!(
            "{}",
            format!("{e:#}").replace("--parallelism", "--start-parallelism").replace("--cache", "--start-cache")
        )
    })?;
    setup.run_config.rate_shape = scenario(a).1;
    let (start_cores, start_cache) = start_resources(&setup);
    let config = controller_config(a, start_cores, start_cache)?;
    let policy = policies::build(a, None)?;
    let endpoint = match a.metrics_addr.as_str() {
        "off" | "none" => None,
        addr => Some(BoundEndpoint::bind(addr)?),
    };
    let controller = Controller::new(policy, config);
    let options = RescaleOptions {
        strategy: match a.strategy {
            StrategyArg::Progressive => Strategy::Progressive,
            StrategyArg::StopTheWorld => Strategy::StopTheWorld,
        },
        ..RescaleOptions::default()
    };
    eprintln!(
        "{} {} at {} events/s under `{}`: interval {:.0} s, start {}",
        setup.query.name(),
        a.preset,
        a.rate,
        controller.policy(),
        config.interval_s,
        start_description(a)
    );
    let outcome = setup.with_state_dir(|| drive(&setup, controller, endpoint, options, &a.out))?;
    let s = &outcome.snapshot;
    let rescales = outcome.reports.iter().filter(|r| matches!(r, engine::runtime::control::Report::Rescale(_))).count();
    let graph = engine::queries::build(setup.query, &setup.query_config);
    let source = graph.stages.first().map_or("source".to_string(), |s| s.name.clone());
    let t = &outcome.totals;
    let summary = RunSummary {
        query: setup.query.name().to_string(),
        preset: a.preset.clone(),
        policy: outcome.policy.to_string(),
        target_rate: a.rate,
        start: start_description(a),
        end: outcome.end.clone(),
        rescales,
        resizes: outcome.reports.len() - rescales,
        reconfigurations: Some(outcome.decisions.iter().filter(|d| d.applied).count()),
        converge_s: {
            let until = setup.duration.map_or(f64::INFINITY, |d| d.as_secs_f64() + 0.5);
            let ran: Vec<timeline::Row> = outcome.timeline.iter().filter(|r| r.t_s <= until).cloned().collect();
            converge_s(&ran, &source)
        },
        totals: t.clone(),
        cost: (t.core_s * a.core_price + t.gib_s * a.gib_price) / 3600.0,
        events: s.events,
        sustained_throughput: s.sustained_throughput,
        latency_p99_ms: s.latency_p99_ms,
    };
    write_json(&summary, &a.out.join("summary.json"))?;
    write_json(&outcome.reports, &a.out.join("changes.json"))?;
    let html = report::render(
        a,
        &report::RunFacts {
            policy: outcome.policy,
            job: "memscale's engine".into(),
            decisions: &outcome.decisions,
            timeline: &outcome.timeline,
            totals: &outcome.totals,
            sustained: s.sustained_throughput,
            e2e_p99_ms: Some(s.latency_p99_ms),
            rescales: summary.rescales,
            resizes: summary.resizes,
            end: &outcome.end,
            start: start_description(a),
            hit_ratio_of: "each operator's own reads",
            timeline_every: "second",
        },
    );
    crate::output::write_file(&a.out.join("report.html"), html.as_bytes())?;
    Ok((outcome, summary))
}

pub fn run(a: AutoscaleArgs) -> Result<()> {
    let s = match (&a.flink, &a.job) {
        (Some(url), Some(job)) => flink_run::execute(&a, url, job)?,
        _ => execute(&a)?.1,
    };
    println!(
        "{}: {} events, {:.0} events/s sustained against a target of {}; {} rescales, {} resizes; end {}",
        s.query, s.events, s.sustained_throughput, a.rate, s.rescales, s.resizes, s.end
    );
    println!(
        "core-seconds {:.0}, GiB-seconds {:.1}, cost {:.5}, {:.0} s behind the target, target sustained from {}; report: {}",
        s.totals.core_s,
        s.totals.gib_s,
        s.cost,
        s.totals.violation_s,
        s.converge_s.map_or("never".to_string(), |t| format!("{t:.0} s")),
        a.out.join("report.html").display()
    );
    Ok(())
}

pub(crate) fn start_description(a: &AutoscaleArgs) -> String {
    format!("parallelism {}, cache {}", a.start_parallelism, a.start_cache)
}

/// What a run under the controller gave.
pub struct Outcome {
    /// The policy's name.
    pub policy: &'static str,
    /// Every decision.
    pub decisions: Vec<DecisionRecord>,
    /// Every change's report.
    pub reports: Vec<engine::runtime::control::Report>,
    /// The timeline.
    pub timeline: Vec<timeline::Row>,
    /// Its totals.
    pub totals: timeline::Totals,
    /// The final metrics.
    pub snapshot: engine::runtime::snapshot::JobSnapshot,
    /// The final configuration (`op=P@SIZE;...`).
    pub end: String,
}

/// Runs the job under `controller` until its duration is up.
fn drive(
    setup: &JobSetup,
    mut controller: Controller,
    endpoint: Option<BoundEndpoint>,
    options: RescaleOptions,
    out: &Path,
) -> Result<Outcome> {
    let graph = engine::queries::build(setup.query, &setup.query_config);
    let topology = Topology::of(&graph);
    let target = Target { rate: setup.run_config.rate.unwrap_or(0) as f64, shape: setup.run_config.rate_shape };
    let max_p = setup.run_config.key_groups.max_parallelism();
    let job = engine::runtime::start(graph, &setup.run_config)?;
    let metrics = job.metrics();
    let _server = endpoint.map(|e| e.serve(metrics.clone()));
    let done = Arc::new(AtomicBool::new(false));
    let timeline = Timeline::start(
        Window::new(metrics.clone(), topology.clone(), target, max_p),
        done.clone(),
        &out.join("timeline.csv"),
        setup.duration.unwrap_or(Duration::from_secs(300)).as_secs_f64(),
    )?;
    let finished = {
        let metrics = metrics.clone();
        Box::new(move || metrics.sources_running.load(Relaxed) == 0)
    };
    let mut ej =
        EngineJob::new(job.control(), Window::new(metrics.clone(), topology, target, max_p), options, finished);
    let mut log = std::io::BufWriter::new(
        std::fs::File::create(out.join("decisions.jsonl")).context("cannot create decisions.jsonl")?,
    );
    let interval = Duration::from_secs_f64(controller.config().interval_s);
    let duration = setup.duration.unwrap_or(Duration::from_secs(300));
    let started = Instant::now();
    let mut decisions = Vec::new();
    let mut next = started + interval;
    while !job.is_finished() && started.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() < next {
            continue;
        }
        let obs = ej.observe()?;
        let step = controller.step(&obs);
        let record = if step.act && started.elapsed() + Duration::from_secs(2) < duration {
            match ej.apply(&step.plan) {
                Ok(applied) => {
                    let end_s = metrics.started.elapsed().as_secs_f64();
                    controller.applied(&step.plan, &obs, end_s);
                    controller.record(&obs, &step, true, Some(applied.duration_s), &step.why)
                }
                Err(e) => controller.record(&obs, &step, false, None, &format!("the change failed: {e}")),
            }
        } else if step.act {
            controller.record(&obs, &step, false, None, "the run ends before a change would settle")
        } else {
            controller.record(&obs, &step, false, None, &step.why)
        };
        log_decision(&mut log, &obs, &record)?;
        decisions.push(record);
        next = Instant::now() + interval;
    }
    job.stop();
    let end = ej.observe().map(|o| o.config().describe()).unwrap_or_default();
    let reports = std::mem::take(&mut ej.reports);
    let output = job.wait()?;
    done.store(true, Relaxed);
    let (rows, totals) = timeline.finish()?;
    let mut snapshot = metrics.snapshot();
    snapshot.elapsed_s = output.elapsed.as_secs_f64();
    Ok(Outcome { policy: controller.policy(), decisions, reports, timeline: rows, totals, snapshot, end })
}

/// A decision on the console and as a line of decisions.jsonl (flushed:
/// the log is read while the run goes on).
pub(crate) fn log_decision(log: &mut impl Write, obs: &Observation, record: &DecisionRecord) -> Result<()> {
    print_decision(obs, record);
    serde_json::to_writer(&mut *log, record)?;
    log.write_all(b"\n")?;
    log.flush().context("writing decisions.jsonl")
}

/// One line per decision on the console: what changes and why, or why
/// nothing does.
fn print_decision(obs: &Observation, r: &DecisionRecord) {
    let current = obs.config();
    let changes: Vec<String> = r
        .operators
        .iter()
        .filter(|o| {
            current.get(&o.operator).is_some_and(|c| c.parallelism != o.parallelism || c.cache_bytes != o.cache_bytes)
        })
        .map(|o| {
            let c = current.get(&o.operator).unwrap_or_default();
            let size = |b: Option<u64>| b.map_or("-".to_string(), format_size);
            format!(
                "{} {}->{} {}->{} ({})",
                o.operator,
                c.parallelism,
                o.parallelism,
                size(c.cache_bytes),
                size(o.cache_bytes),
                o.reason
            )
        })
        .collect();
    let head = format!("[{:>5.0} s] {} {:.0}/s of {:.0}/s", r.t_s, r.policy, r.source_rate, r.target_rate);
    if changes.is_empty() {
        let why: Vec<String> = r
            .operators
            .iter()
            .filter(|o| obs.operator(&o.operator).is_some_and(|x| x.rescalable) && o.reason != "not asked")
            .map(|o| format!("{}: {}", o.operator, o.reason))
            .collect();
        if why.is_empty() {
            eprintln!("{head}: {}", r.why);
        } else {
            eprintln!("{head}: {} ({})", r.why, why.join("; "));
        }
    } else {
        let verdict = if r.applied {
            format!("applied in {:.2} s", r.change_s.unwrap_or(0.0))
        } else {
            format!("not applied: {}", r.why)
        };
        eprintln!("{head}: {}; {verdict}", changes.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rates: &[f64]) -> Vec<timeline::Row> {
        rates
            .iter()
            .enumerate()
            .map(|(i, &r)| timeline::Row {
                t_s: i as f64 + 1.0,
                operator: "source".into(),
                parallelism: 1,
                cache_bytes: None,
                input_rate: r,
                target_rate: 100.0,
                hit_ratio: None,
                state_p90_us: None,
                e2e_p99_ms: 0.0,
            })
            .collect()
    }

    #[test]
    fn convergence_is_when_the_sources_last_caught_up() {
        // 30, 90, then 130 events behind (more than a second's 100 at
        // 100/s in the fourth second), caught up in the fifth.
        assert_eq!(converge_s(&rows(&[100.0, 70.0, 40.0, 60.0, 250.0, 100.0]), "source"), Some(4.0));
        // Short by less than a second's events: never behind.
        assert_eq!(converge_s(&rows(&[100.0, 60.0, 100.0, 140.0]), "source"), Some(0.0));
        // Behind at the end.
        assert_eq!(converge_s(&rows(&[100.0, 99.0, 50.0, 10.0]), "source"), None);
        assert_eq!(converge_s(&rows(&[]), "source"), Some(0.0));
    }
}
