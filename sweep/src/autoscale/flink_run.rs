//! `memscale autoscale --flink URL --job ID`: the same controller, policies,
//! decision log, timeline and report as on the engine, driving a Flink job
//! through its REST API ([`flink::job::FlinkJob`]). The job is the user's:
//! it keeps running after the command ends (its id changes when a memory
//! change resubmitted it; the last line says which it is).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use autoscaler::job::{Observation, ScalableJob};
use autoscaler::Controller;
use flink::home::FlinkHome;
use flink::job::FlinkJob;
use flink::nexmark::Submission;
use flink::rest::RestClient;
use serde::Serialize;

use super::timeline::{rows_of, Totals};
use super::{controller_config, converge_s, log_decision, policies, report, RunSummary};
use crate::cli::{AutoscaleArgs, PolicyArg};
use crate::job::parse_duration;
use crate::output::write_json;

/// How often the timeline samples the job (Flink's metric fetcher
/// refreshes every second; two make steadier rates).
const TIMELINE_PERIOD: Duration = Duration::from_secs(2);

/// One change carried out, for changes.json.
#[derive(Serialize)]
struct Change {
    t_s: f64,
    job_before: String,
    job_after: String,
    rescaled: Vec<String>,
    resized: Vec<String>,
    duration_s: f64,
    config_before: String,
    config_after: String,
}

/// Runs the controller against Flink job `job` at `url` for `--duration`
/// and writes every file into `--out`.
pub fn execute(a: &AutoscaleArgs, url: &str, job: &str) -> Result<RunSummary> {
    if a.rate == 0 {
        bail!("--rate 0: the target must be at least 1 event/s");
    }
    if a.policy == PolicyArg::Mrc && a.profile.is_none() {
        bail!("--policy mrc on a Flink job needs --profile DIR: a memscale profile of the same query (memscale profile --query Q --preset P --out DIR)");
    }
    let duration = parse_duration("--duration", &a.duration)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}: cannot create", a.out.display()))?;
    let client = RestClient::new(url);
    let slots = client.overview().with_context(|| format!("--flink {url}"))?.slots_total;
    let home = FlinkHome::find(None).ok();
    let mut fj = FlinkJob::attach(client, home, &a.flink_dir, job, a.rate as f64)
        .with_context(|| format!("--flink {url} --job {job}"))?;
    let submission = Submission::load(&a.flink_dir, job)?;
    let mut first = None;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        first = fj.tick()?;
        if first.is_some() {
            break;
        }
    }
    let Some(first) = first else {
        bail!("--job {job}: its counters did not move in 30 s: the job makes no progress");
    };
    let start_config = first.config();
    let config = controller_config(a, start_config.cores(), start_config.cache_bytes())?;
    let stateful: Vec<String> = first.operators.iter().filter(|o| o.has_cache).map(|o| o.name.clone()).collect();
    // Justin's memory levels start from the job's cache, not from the
    // engine's --start-cache.
    let mut policy_args = a.clone();
    if a.justin_base.is_none() {
        if let Some(b) = first.operators.iter().filter_map(|o| o.cache_bytes).max() {
            policy_args.justin_base = Some(b.to_string());
        }
    }
    let policy = policies::build(&policy_args, Some(&stateful))?;
    let mut controller = Controller::new(policy, config);
    let (query, preset) = match &submission {
        Some(s) => (s.spec.query.clone(), s.spec.preset.clone()),
        None => (a.query.clone(), a.preset.clone()),
    };
    eprintln!(
        "Flink job {job} ({query}) at {url}, target {} events/s under `{}`: interval {:.0} s, start {}",
        a.rate,
        controller.policy(),
        config.interval_s,
        start_config.describe()
    );

    let mut log = std::io::BufWriter::new(
        std::fs::File::create(a.out.join("decisions.jsonl")).context("cannot create decisions.jsonl")?,
    );
    let timeline_path = a.out.join("timeline.csv");
    let mut csv =
        csv::Writer::from_path(&timeline_path).with_context(|| format!("cannot create {}", timeline_path.display()))?;
    let (mut rows, mut totals) = (Vec::new(), Totals::default());
    let mut decisions = Vec::new();
    let mut changes = Vec::new();
    let (mut rescales, mut resizes) = (0, 0);
    let interval = Duration::from_secs_f64(config.interval_s);
    let started = Instant::now();
    let until_s = duration.as_secs_f64();
    let mut next_tick = started + TIMELINE_PERIOD;
    let mut next_decision = started + interval;
    let mut last: Observation = first;
    let mut failure = None;
    while !fj.is_finished() && started.elapsed() < duration {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        if now >= next_tick {
            let Some(mut obs) = fj.tick()? else { continue };
            obs.t_s = started.elapsed().as_secs_f64();
            for row in rows_of(&obs, until_s, &mut totals) {
                csv.serialize(&row)?;
                rows.push(row);
            }
            csv.flush().with_context(|| format!("writing {}", timeline_path.display()))?;
            last = obs;
            next_tick = now + TIMELINE_PERIOD;
        }
        if now < next_decision {
            continue;
        }
        let mut obs = fj.observe()?;
        obs.t_s = started.elapsed().as_secs_f64();
        let step = controller.step(&obs);
        let record = if step.act && started.elapsed() + Duration::from_secs(10) < duration {
            let before_job = fj.job_id().to_string();
            let before = obs.config();
            let at = started.elapsed().as_secs_f64();
            match fj.apply(&step.plan) {
                Ok(applied) if applied.rescaled.is_empty() && applied.resized.is_empty() => controller.record(
                    &obs,
                    &step,
                    false,
                    None,
                    &format!("the plan is beyond the cluster: its {slots} slots cap every vertex's parallelism"),
                ),
                Ok(applied) => {
                    // The restart's seconds: the old configuration's
                    // resources, the sources stopped.
                    let gap = applied.duration_s;
                    totals.seconds += gap;
                    totals.core_s += before.cores() as f64 * gap;
                    totals.gib_s += before.cache_bytes() as f64 / (1u64 << 30) as f64 * gap;
                    totals.violation_s += gap;
                    rescales += usize::from(!applied.rescaled.is_empty());
                    resizes += usize::from(!applied.resized.is_empty());
                    changes.push(Change {
                        t_s: at,
                        job_before: before_job,
                        job_after: fj.job_id().to_string(),
                        rescaled: applied.rescaled.clone(),
                        resized: applied.resized.clone(),
                        duration_s: applied.duration_s,
                        config_before: before.describe(),
                        config_after: fj.configuration().map(|c| c.describe()).unwrap_or_default(),
                    });
                    controller.applied(&step.plan, &obs, started.elapsed().as_secs_f64());
                    controller.record(&obs, &step, true, Some(applied.duration_s), &step.why)
                }
                Err(e) => {
                    let r = controller.record(&obs, &step, false, None, &format!("the change failed: {e}"));
                    failure = Some(e);
                    r
                }
            }
        } else if step.act {
            controller.record(&obs, &step, false, None, "the run ends before a change would settle")
        } else {
            controller.record(&obs, &step, false, None, &step.why)
        };
        log_decision(&mut log, &obs, &record)?;
        decisions.push(record);
        if let Some(e) = failure.take() {
            // A failed stop-with-savepoint leaves the job running, and a
            // failed resubmission brings it back as it was: the error is
            // the user's to see, the job theirs to keep.
            return Err(anyhow::Error::from(e).context(format!(
                "a change at {:.0} s failed (decisions.jsonl has it); the Flink job runs on as {}",
                obs.t_s,
                fj.job_id()
            )));
        }
        next_decision = Instant::now() + interval;
        next_tick = Instant::now() + TIMELINE_PERIOD;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let end = last.config().describe();
    let source = last.operators.iter().find(|o| o.source).map_or("source".to_string(), |o| o.name.clone());
    let sustained = {
        let src: Vec<_> = rows.iter().filter(|r| r.operator == source).collect();
        if src.is_empty() {
            0.0
        } else {
            src.iter().map(|r| r.input_rate).sum::<f64>() / src.len() as f64
        }
    };
    let summary = RunSummary {
        query: query.clone(),
        preset: preset.clone(),
        policy: controller.policy().to_string(),
        target_rate: a.rate,
        start: start_config.describe(),
        end: end.clone(),
        rescales,
        resizes,
        reconfigurations: Some(decisions.iter().filter(|d| d.applied).count()),
        converge_s: converge_s(&rows, &source),
        totals: totals.clone(),
        cost: (totals.core_s * a.core_price + totals.gib_s * a.gib_price) / 3600.0,
        events: (sustained * elapsed) as u64,
        sustained_throughput: sustained,
        latency_p99_ms: 0.0,
    };
    write_json(&summary, &a.out.join("summary.json"))?;
    write_json(&changes, &a.out.join("changes.json"))?;
    let mut shown = a.clone();
    shown.query = query;
    shown.preset = preset;
    let html = report::render(
        &shown,
        &report::RunFacts {
            policy: controller.policy(),
            job: format!("Flink job {job} at {url}"),
            decisions: &decisions,
            timeline: &rows,
            totals: &totals,
            sustained,
            e2e_p99_ms: None,
            rescales,
            resizes,
            end: &end,
            start: start_config.describe(),
            hit_ratio_of: "each operator's RocksDB (its tickers: compaction's lookups included)",
            timeline_every: "2 s",
        },
    );
    crate::output::write_file(&a.out.join("report.html"), html.as_bytes())?;
    eprintln!("the Flink job runs on as {} (memscale flink cancel --job {} ends it)", fj.job_id(), fj.job_id());
    Ok(summary)
}
