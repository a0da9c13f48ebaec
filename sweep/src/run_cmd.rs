//! `memscale run`: one query on the engine, with live metrics, periodic
//! snapshots, a summary, and optionally the result rows.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use cachesim::size::format_size;
use engine::queries::reference::materialize;
use engine::runtime::exporter::BoundEndpoint;
use engine::runtime::snapshot::JobSnapshot;
use serde::Serialize;

use engine::runtime::control::Report;
use engine::runtime::control_endpoint::BoundControl;
use engine::runtime::{Order, RescaleOptions, Strategy};

use crate::cli::{OrderArg, RunArgs, StrategyArg};
use crate::job::{parse_duration, Changes};
use crate::output::write_json;

/// What `summary.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    query: &'a str,
    preset: &'a str,
    state: &'a str,
    parallelism: &'a str,
    cache: &'a str,
    #[serde(flatten)]
    snapshot: &'a JobSnapshot,
}

pub fn run(a: RunArgs) -> Result<()> {
    let setup = a.job.setup(&a.out)?;
    let interval = parse_duration("--snapshot-interval", &a.snapshot_interval)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}: cannot create", a.out.display()))?;
    let endpoint = match a.metrics_addr.as_str() {
        "off" | "none" => None,
        addr => Some(BoundEndpoint::bind(addr)?),
    };
    if let Some(e) = &endpoint {
        eprintln!("metrics: http://{}/metrics", e.addr());
    }
    let changes = changes(&a, &setup)?;
    let mut setup = setup;
    setup.run_config.collect_results = a.results.is_some();
    let mut snapshots = Snapshots::create(&a.out)?;
    let finished = setup.execute_with(endpoint, changes, interval, &mut |s| snapshots.write(s))?;
    if !finished.reports.is_empty() {
        let records: Vec<ChangeRecord> = finished
            .reports
            .iter()
            .map(|r| {
                let (after, before) = match r {
                    Report::Rescale(x) => {
                        finished.metrics.latency_around(x.started_s, std::time::Duration::from_secs(LATENCY_WINDOW_S))
                    }
                    Report::Resize(_) => (0.0, 0.0),
                };
                ChangeRecord { report: r, e2e_p99_ms_10s_from_start: after, e2e_p99_ms_10s_before: before }
            })
            .collect();
        for rec in &records {
            if let Report::Rescale(x) = rec.report {
                eprintln!(
                    "rescale {} {}→{} at {:.1} s: e2e p99 {:.1} ms in the {LATENCY_WINDOW_S} s from its start, {:.1} ms in the {LATENCY_WINDOW_S} s before",
                    x.operator, x.from, x.to, x.started_s, rec.e2e_p99_ms_10s_from_start, rec.e2e_p99_ms_10s_before
                );
            }
        }
        write_json(&records, &a.out.join("rescales.json"))?;
    }
    let s = &finished.snapshot;
    print_summary(setup.query.name(), s);
    let summary = Summary {
        query: setup.query.name(),
        preset: a.job.preset.as_deref().unwrap_or(crate::job::DEFAULT_PRESET),
        state: if matches!(a.job.state, crate::cli::StateArg::Memory) { "memory" } else { "rocksdb" },
        parallelism: &a.job.parallelism,
        cache: a.job.cache.as_deref().unwrap_or(crate::job::DEFAULT_CACHE),
        snapshot: s,
    };
    write_json(&summary, &a.out.join("summary.json"))?;
    if let (Some(path), Some(rows)) = (&a.results, finished.output.results) {
        let rows = materialize(rows).map_err(|e| anyhow::anyhow!("the result changelog is inconsistent: {e}"))?;
        write_results(path, setup.query.columns(), &rows)?;
        eprintln!("{} result rows in {}", rows.len(), path.display());
    }
    if let (Some(path), Some(n)) = (&a.job.trace, finished.output.traced_accesses) {
        eprintln!("key trace: {n} accesses in {}", path.display());
    }
    Ok(())
}

/// Seconds of the latency windows after and before a rescale.
const LATENCY_WINDOW_S: u64 = 10;

/// One change in rescales.json: its report, and the end-to-end latency in
/// the 10 s from its start against the 10 s before.
#[derive(Serialize)]
struct ChangeRecord<'a> {
    #[serde(flatten)]
    report: &'a Report,
    e2e_p99_ms_10s_from_start: f64,
    e2e_p99_ms_10s_before: f64,
}

/// The scripted changes and the control endpoint, checked against the
/// query's operators before anything starts.
fn changes(a: &RunArgs, setup: &crate::job::JobSetup) -> Result<Changes> {
    let graph = engine::queries::build(setup.query, &setup.query_config);
    let options = RescaleOptions {
        strategy: match a.strategy {
            StrategyArg::Progressive => Strategy::Progressive,
            StrategyArg::StopTheWorld => Strategy::StopTheWorld,
        },
        batch: if a.migration_batch == 0 {
            anyhow::bail!("--migration-batch must be at least 1")
        } else {
            a.migration_batch
        },
        order: match a.order {
            OrderArg::KeyGroup => Order::KeyGroup,
            OrderArg::HotFirst => Order::HotFirst,
        },
    };
    let mut schedule = Vec::new();
    if let Some(s) = &a.rescale {
        schedule.extend(crate::schedule::parse_rescales(
            s,
            &graph,
            setup.run_config.key_groups.max_parallelism(),
            options,
        )?);
    }
    if let Some(s) = &a.resize {
        let rocksdb = matches!(setup.run_config.backend, engine::runtime::Backend::RocksDb(_));
        schedule.extend(crate::schedule::parse_resizes(s, &graph, rocksdb)?);
    }
    let endpoint = match a.control_addr.as_str() {
        "off" | "none" => None,
        addr => {
            let e = BoundControl::bind(addr)?;
            eprintln!("control: http://{}/job", e.addr());
            Some(e)
        }
    };
    Ok(Changes { schedule, endpoint })
}

/// metrics.csv (one row per subtask and snapshot) and metrics.jsonl (one
/// snapshot per line) in the run directory.
struct Snapshots {
    csv: csv::Writer<std::fs::File>,
    jsonl: std::io::BufWriter<std::fs::File>,
}

impl Snapshots {
    fn create(dir: &Path) -> Result<Snapshots> {
        let open = |name: &str| {
            let p = dir.join(name);
            std::fs::File::create(&p).with_context(|| format!("cannot create {}", p.display()))
        };
        let mut csv = csv::Writer::from_writer(open("metrics.csv")?);
        csv.write_record([
            "elapsed_s",
            "operator",
            "subtask",
            "records_in",
            "records_out",
            "useful_s",
            "idle_s",
            "backpressure_s",
            "true_processing_rate",
            "block_cache_hits",
            "block_cache_misses",
            "disk_read_bytes",
            "memtable_bytes",
            "sst_bytes",
            "estimated_keys",
            "get_p99_us",
            "put_p99_us",
        ])?;
        Ok(Snapshots { csv, jsonl: std::io::BufWriter::new(open("metrics.jsonl")?) })
    }

    fn write(&mut self, s: &JobSnapshot) -> Result<()> {
        for o in &s.operators {
            for t in &o.subtasks {
                self.csv.write_record(&[
                    format!("{:.3}", s.elapsed_s),
                    o.name.clone(),
                    t.subtask.to_string(),
                    t.records_in.to_string(),
                    t.records_out.to_string(),
                    format!("{:.6}", t.useful_s),
                    format!("{:.6}", t.idle_s),
                    format!("{:.6}", t.backpressure_s),
                    format!("{:.1}", t.true_processing_rate),
                    t.block_cache_hits.to_string(),
                    t.block_cache_misses.to_string(),
                    t.disk_read_bytes.to_string(),
                    t.memtable_bytes.to_string(),
                    t.sst_bytes.to_string(),
                    t.estimated_keys.to_string(),
                    format!("{:.2}", t.get.p99_us),
                    format!("{:.2}", t.put.p99_us),
                ])?;
            }
        }
        self.csv.flush().context("writing metrics.csv")?;
        serde_json::to_writer(&mut self.jsonl, s)?;
        self.jsonl.write_all(b"\n")?;
        self.jsonl.flush().context("writing metrics.jsonl")?;
        Ok(())
    }
}

fn print_summary(query: &str, s: &JobSnapshot) {
    println!(
        "{query}: {} events in {:.2} s = {:.0} events/s ({:.0} events/s sustained by the sources over {:.2} s); \
         {} result rows; latency p50 {:.2} ms, p99 {:.2} ms",
        s.events,
        s.elapsed_s,
        s.throughput,
        s.sustained_throughput,
        s.source_s,
        s.results,
        s.latency_p50_ms,
        s.latency_p99_ms
    );
    println!(
        "{:<10} {:>4} {:>12} {:>8} {:>9} {:>10} {:>11} {:>11} {:>8}",
        "operator", "par", "records_in", "useful", "hit_ratio", "cache", "state", "get_p99", "put_p99"
    );
    for o in &s.operators {
        let busy = if s.elapsed_s > 0.0 { o.useful_s / (s.elapsed_s * o.parallelism as f64) } else { 0.0 };
        let hit = o.hit_ratio.map_or("-".to_string(), |h| format!("{h:.4}"));
        let cache = o.cache_capacity.map_or("-".to_string(), format_size);
        let state = if o.stateful { format_size(o.state_bytes) } else { "-".into() };
        let lat = |us: f64, stateful: bool| if stateful { format!("{us:.1}us") } else { "-".into() };
        println!(
            "{:<10} {:>4} {:>12} {:>7.0}% {:>9} {:>10} {:>11} {:>11} {:>8}",
            o.name,
            o.parallelism,
            o.records_in,
            busy * 100.0,
            hit,
            cache,
            state,
            lat(o.get.p99_us, o.stateful),
            lat(o.put.p99_us, o.stateful)
        );
    }
}

/// The result rows as CSV, columns in the order of the query's SELECT.
fn write_results(path: &Path, columns: &[&str], rows: &[Vec<engine::row::Value>]) -> Result<()> {
    crate::output::write_csv(path, |w| {
        w.write_record(columns)?;
        for r in rows {
            w.write_record(r.iter().map(|v| v.to_string()))?;
        }
        Ok(())
    })
    .context("--results")
}
