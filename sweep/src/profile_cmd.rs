//! `memscale profile`: one traced run, then a report per stateful operator.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use cachesim::size::{format_size, parse_sizes};
use engine::runtime::snapshot::JobSnapshot;
use engine::runtime::Backend;
use serde::Serialize;

use crate::cache_model::{analyze, mark_now, mark_start, Calibration, OperatorModel, Profile, Traces, MODEL};
use crate::cli::ProfileArgs;
use crate::job::JobSetup;
use crate::output::write_json;
use crate::report::{escape, line_chart, page, size_chart, table, Series};

/// profile.json.
#[derive(Serialize)]
struct ProfileFile<'a> {
    query: &'a str,
    model: &'a str,
    target_hit_ratio: f64,
    #[serde(flatten)]
    profile: &'a Profile,
}

/// Seconds between the marks of the run's timeline (merged into at most a
/// few dozen phases afterwards).
const MARK_EVERY: Duration = Duration::from_secs(1);

/// Runs `setup` with traces into `dir`, then models every stateful
/// operator at `sizes`.
pub fn profile(setup: &mut JobSetup, dir: &Path, sizes: &[u64], target: f64, key_trace: bool) -> Result<Profile> {
    let Backend::RocksDb(rc) = &mut setup.run_config.backend else {
        bail!("profiling models RocksDB's block cache: use --state rocksdb");
    };
    let blocks = dir.join("blocktrace");
    if blocks.exists() {
        std::fs::remove_dir_all(&blocks).with_context(|| format!("cannot clear {}", blocks.display()))?;
    }
    rc.block_trace = Some((blocks.clone(), 1));
    let partitioned = rc.partitioned_index_filters;
    let keys = key_trace.then(|| dir.join("keys.mstrace"));
    if let Some(k) = &keys {
        setup.run_config.key_trace = Some((k.clone(), 1.0));
    }
    let mut marks = vec![mark_start()];
    let finished = setup.execute(None, MARK_EVERY, &mut |s| {
        marks.push(mark_now(s));
        Ok(())
    })?;
    let bar = crate::progress::spinner("modelling the block cache");
    // A miss costs a fixed part and a part per byte (filter and index
    // blocks are far larger than data blocks, and small caches miss them),
    // both through RocksDB's own read path.
    let costs = Calibration {
        read: engine::state::calibrate::block_read_cost(dir)?,
        hit_cost_us: engine::state::calibrate::block_cache_hit_cost_us(dir, partitioned)?,
    };
    let traces = Traces { blocks, keys };
    let profile = analyze(&finished.snapshot, &marks, setup.run_config.rate, &traces, sizes, target, &costs)?;
    bar.finish_and_clear();
    Ok(profile)
}

/// The hit ratio `profile` finds the size for, unless told.
const DEFAULT_TARGET_HIT_RATIO: f64 = 0.9;
/// ... and for the q19 job it runs without --query, whose curve levels
/// near 0.9.
const STORY_TARGET_HIT_RATIO: f64 = 0.85;

pub fn run(a: ProfileArgs) -> Result<()> {
    let sizes = parse_sizes(&a.sizes).map_err(|e| anyhow!("--sizes: {}", e.reason))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}: cannot create", a.out.display()))?;
    let mut job = a.job.clone();
    let story = job.default_to_memory_bound();
    if story {
        eprintln!(
            "no --query: profiling {}, cache {} (a job whose memory matters)",
            job.describe_pacing(),
            job.cache.as_deref().unwrap_or_default()
        );
    }
    let target = a.target_hit_ratio.unwrap_or(if story { STORY_TARGET_HIT_RATIO } else { DEFAULT_TARGET_HIT_RATIO });
    if !(target > 0.0 && target <= 1.0) {
        bail!("--target-hit-ratio {target}: must be in (0, 1]");
    }
    let mut setup = job.setup(&a.out)?;
    let query = setup.query.name();
    let profiled = profile(&mut setup, &a.out, &sizes, target, !a.no_key_trace)?;
    let (snapshot, models) = (&profiled.run, &profiled.operators);
    if !a.keep_traces {
        let _ = std::fs::remove_dir_all(a.out.join("blocktrace"));
        let _ = std::fs::remove_file(a.out.join("keys.mstrace"));
    }
    let file = ProfileFile { query, model: MODEL, target_hit_ratio: target, profile: &profiled };
    write_json(&file, &a.out.join("profile.json"))?;
    write_csv(models, &a.out.join("profile.csv"))?;
    let html = report(query, &profiled, target);
    crate::output::write_file(&a.out.join("report.html"), html.as_bytes())?;
    print(query, snapshot, models, target);
    println!("report: {}", a.out.join("report.html").display());
    Ok(())
}

fn write_csv(models: &[OperatorModel], path: &Path) -> Result<()> {
    crate::output::write_csv(path, |w| {
        w.write_record([
            "operator",
            "cache_size",
            "model_hit_ratio",
            "lru_hit_ratio",
            "lru_byte_hit_ratio",
            "data_lru_hit_ratio",
            "data_lru_byte_hit_ratio",
            "predicted_throughput",
            "oversized_share",
            "near_shard_share",
        ])?;
        for m in models {
            for p in &m.points {
                w.write_record([
                    m.name.clone(),
                    p.cache_size.to_string(),
                    format!("{:.6}", p.model_hit_ratio),
                    format!("{:.6}", p.lru_hit_ratio),
                    format!("{:.6}", p.lru_byte_hit_ratio),
                    format!("{:.6}", p.data_lru_hit_ratio),
                    format!("{:.6}", p.data_lru_byte_hit_ratio),
                    format!("{:.1}", p.predicted_throughput),
                    format!("{:.6}", p.oversized_share),
                    format!("{:.6}", p.near_shard_share),
                ])?;
            }
        }
        Ok(())
    })
}

fn opt_size(s: Option<u64>) -> String {
    s.map_or("-".into(), format_size)
}

fn opt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.4}"))
}

fn print(query: &str, s: &JobSnapshot, models: &[OperatorModel], target: f64) {
    println!(
        "{query}: {} events at {:.0} events/s sustained ({:.0} events/s with the final drain)",
        s.events, s.sustained_throughput, s.throughput
    );
    if models.is_empty() {
        println!("{}", stateless(query));
        return;
    }
    println!(
        "{:<10} {:>9} {:>10} {:>10} {:>12} {:>11} {:>12} {:>9} {:>9}",
        "operator",
        "cache",
        "measured",
        "predicted",
        "working_set",
        "knee",
        format!("for {target}"),
        "miss_cost",
        "hit_cost"
    );
    for m in models {
        println!(
            "{:<10} {:>9} {:>10} {:>10.4} {:>12} {:>11} {:>12} {:>9} {:>9}",
            m.name,
            format_size(m.cache_size),
            opt_ratio(m.measured_hit_ratio),
            m.model_hit_ratio_at_run,
            format_size(m.working_set_bytes),
            opt_size(m.knee),
            opt_size(m.size_for_target),
            m.miss_cost_us.map_or("-".into(), |c| format!("{c:.1}us")),
            format!("{:.2}us", m.hit_cost_us),
        );
    }
    for warning in models.iter().filter_map(OperatorModel::shard_warning) {
        println!("note: {warning}");
    }
    println!();
    for m in models {
        let w = m.wants(target);
        match w.size {
            Some(size) => println!("{} wants {}: {}.", m.name, format_size(size), w.why),
            None => println!("{}: {}.", m.name, w.why),
        }
    }
}

/// What a profile of a query without keyed state says instead of curves.
fn stateless(query: &str) -> String {
    format!(
        "{query} keeps no keyed state: no operator has a block cache, so there is no curve to draw and \
         no memory to size; its throughput is the one above at any cache size"
    )
}

/// The run phase by phase: the source's rate, and how busy each operator
/// was (the share of the phase its subtasks spent working): where an
/// operator reaches 100%, the job went at its pace.
fn timeline(p: &Profile) -> String {
    if p.phases.is_empty() {
        return String::new();
    }
    let mut at = 0.0;
    let mid: Vec<f64> = p
        .phases
        .iter()
        .map(|ph| {
            at += ph.seconds;
            at - ph.seconds / 2.0
        })
        .collect();
    let rate = Series {
        name: "source".into(),
        points: p.phases.iter().zip(&mid).map(|(ph, &t)| (t, ph.events as f64 / ph.seconds.max(1e-9) / 1e3)).collect(),
        markers_only: false,
    };
    let busy: Vec<Series> = p
        .run
        .operators
        .iter()
        .enumerate()
        .map(|(i, o)| Series {
            name: o.name.clone(),
            points: p
                .phases
                .iter()
                .zip(&mid)
                .map(|(ph, &t)| (t, ph.useful_s.get(i).copied().unwrap_or(0.0) / ph.seconds.max(1e-9)))
                .collect(),
            markers_only: false,
        })
        .collect();
    let mut html = "<h2>The run, phase by phase</h2><p>Throughput predictions replay each phase: a phase in \
                    which an operator's added reads take longer than the source's events take to arrive \
                    slows the job.</p>"
        .to_string();
    html += &line_chart("events per second", "seconds since start", "K events/s", &[rate], None);
    html += &line_chart("share of each phase spent working", "seconds since start", "busy", &busy, Some(1.0));
    html
}

fn mib(b: u64) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

fn report(query: &str, profiled: &Profile, target: f64) -> String {
    let (s, models) = (&profiled.run, &profiled.operators);
    let mut body = format!(
        "<p>{} events in {:.1} s: {:.0} events/s sustained by the sources ({:.0} events/s counting the \
         final drain); end-to-end latency p50 {:.1} ms, p99 {:.1} ms. \
         Predictions replay each operator's block-level trace (RocksDB's own tracer, all subtasks merged in \
         time order) through the model <code>{}</code>. A lookup costs the hit cost (calibrated on this \
         machine: cached point reads against memtable reads) plus, when it misses, a block read: a fixed \
         cost and a cost per byte, both calibrated through RocksDB's read path (direct I/O) on this \
         machine. Throughput against cache follows from the misses the model predicts at each size, \
         phase by phase of the run: where an operator's added read time makes it slower than the \
         source in a phase, that phase takes longer.</p>",
        s.events,
        s.elapsed_s,
        s.sustained_throughput,
        s.throughput,
        s.latency_p50_ms,
        s.latency_p99_ms,
        escape(MODEL)
    );
    let mut verdict = String::from("<div class=\"verdict\">");
    for m in models {
        let w = m.wants(target);
        let head = match (w.size, w.memory_bound) {
            (Some(size), true) => format!(
                "<strong>{}</strong> is memory-bound and wants <strong>{}</strong>",
                escape(&m.name),
                format_size(size)
            ),
            (Some(size), false) => format!("<strong>{}</strong> wants {}", escape(&m.name), format_size(size)),
            (None, _) => format!("<strong>{}</strong>", escape(&m.name)),
        };
        verdict += &format!("<p>{head}: {}.</p>", escape(&w.why));
    }
    if models.is_empty() {
        verdict += &format!("<p>{}</p>", escape(&stateless(query)));
    }
    verdict += "</div>";
    body = verdict + &body;
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.parallelism.to_string(),
                format_size(m.cache_size),
                opt_ratio(m.measured_hit_ratio),
                format!("{:.4}", m.model_hit_ratio_at_run),
                m.lookups.to_string(),
                m.traced_lookups.to_string(),
                format_size(m.working_set_bytes),
                opt_size(m.knee),
                opt_size(m.size_for_target),
                m.miss_cost_us.map_or("-".into(), |c| format!("{c:.1} µs")),
                format!("{:.2} µs", m.hit_cost_us),
            ]
        })
        .collect();
    body += &table(
        &[
            "operator",
            "parallelism",
            "cache",
            "measured hit ratio",
            "predicted hit ratio",
            "lookups",
            "traced lookups",
            "working set",
            "knee",
            &format!("size for {target}"),
            "miss cost",
            "hit cost",
        ],
        &rows,
    );
    body += &timeline(profiled);
    for m in models {
        body += &format!("<h2>{}</h2>", escape(&m.name));
        if let Some(warning) = m.shard_warning() {
            body += &format!("<p><strong>Note.</strong> {}</p>", escape(&warning));
        }
        let mut series = vec![
            Series {
                name: "RocksDB LRUCache model".into(),
                points: m.points.iter().map(|p| (mib(p.cache_size), p.model_hit_ratio)).collect(),
                markers_only: false,
            },
            Series {
                name: "LRU (objects)".into(),
                points: m.points.iter().map(|p| (mib(p.cache_size), p.lru_hit_ratio)).collect(),
                markers_only: false,
            },
            Series {
                name: "LRU (bytes)".into(),
                points: m.points.iter().map(|p| (mib(p.cache_size), p.lru_byte_hit_ratio)).collect(),
                markers_only: false,
            },
            Series {
                name: "LRU, data blocks only".into(),
                points: m.points.iter().map(|p| (mib(p.cache_size), p.data_lru_hit_ratio)).collect(),
                markers_only: false,
            },
        ];
        if let Some(h) = m.measured_hit_ratio {
            series.push(Series { name: "measured".into(), points: vec![(mib(m.cache_size), h)], markers_only: true });
        }
        body += &size_chart(
            &format!("{}: block-cache hit ratio", m.name),
            "block cache (log scale)",
            "hit ratio",
            &series,
            Some(1.0),
        );
        if !m.key_points.is_empty() {
            let key = Series {
                name: "key-level LRU".into(),
                points: m.key_points.iter().map(|&(b, h)| (mib(b), h)).collect(),
                markers_only: false,
            };
            body += &size_chart(
                &format!("{}: key-level hit ratio (keys and values)", m.name),
                "state bytes cached (log scale)",
                "hit ratio",
                &[key],
                Some(1.0),
            );
        }
        let tp = Series {
            name: "predicted".into(),
            points: m.points.iter().map(|p| (mib(p.cache_size), p.predicted_throughput / 1e3)).collect(),
            markers_only: false,
        };
        let measured = Series {
            name: "measured".into(),
            points: vec![(mib(m.cache_size), s.sustained_throughput / 1e3)],
            markers_only: true,
        };
        body += &size_chart(
            &format!("{}: job throughput against this operator's cache", m.name),
            "block cache (log scale)",
            "K events/s",
            &[tp, measured],
            None,
        );
    }
    page(&format!("memscale profile: {query}"), &body)
}
