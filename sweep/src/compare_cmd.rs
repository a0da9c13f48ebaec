//! `memscale compare`: every policy on the same job, from the same start,
//! at the same target; an oracle (the cheapest fixed configuration on a
//! grid that sustains the target); summary.csv, summary.json, report.html.
//! Runs already in the output directory are read back, not run again.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use cachesim::size::{format_size, parse_size, parse_sizes};
use serde::{Deserialize, Serialize};

use crate::autoscale::{self, RunSummary};
use crate::cli::{AutoscaleArgs, CompareArgs, JustinDefaultsArg, PolicyArg, ScenarioArg, StrategyArg};
use crate::job::parse_duration;
use crate::output::write_json;
use crate::report::{escape, line_chart, page, table, Series};

/// What makes two comparisons the same (compare.json): a directory holding
/// another is refused, not mixed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Identity {
    query: String,
    preset: String,
    target_rate: u64,
    scenario: ScenarioArg,
    duration: String,
    start_parallelism: String,
    start_cache: String,
    interval: String,
    warmup: u32,
    core_price: f64,
    gib_price: f64,
    /// The MRC policy's horizon (comparisons made before it had one used
    /// 30 s).
    #[serde(default = "thirty_seconds")]
    horizon: String,
    max_parallelism: u32,
}

fn thirty_seconds() -> String {
    "30s".into()
}

/// One row of summary.csv.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// Policy, or `oracle`.
    pub policy: String,
    /// Changes of configuration (mean over repeats): plans carried out,
    /// each one change however many operators it rescales and resizes at
    /// once, as DS2 counts its steps.
    pub rescales: f64,
    /// Seconds until the target was sustained (empty: never, in some repeat).
    pub converge_s: Option<f64>,
    /// Core-seconds.
    pub core_s: f64,
    /// GiB-seconds of block cache.
    pub gib_s: f64,
    /// Cost at the prices given.
    pub cost: f64,
    /// Seconds more than a second's events behind the target.
    pub violation_s: f64,
    /// Final configuration, `op=P@SIZE` joined by `;`.
    #[serde(rename = "final")]
    pub final_config: String,
    /// Operators' changes within them (mean over repeats): each
    /// operator's rescales and resizes counted apart.
    #[serde(default)]
    pub operator_changes: f64,
}

/// One fixed configuration the oracle ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct OracleRun {
    parallelism: u32,
    cache: u64,
    config: String,
    cores: u32,
    cache_bytes: u64,
    cost: f64,
    sustained_throughput: f64,
    sustains: bool,
}

/// summary.json.
#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    identity: &'a Identity,
    rows: &'a [Row],
    runs: &'a [RunSummary],
    oracle_runs: &'a [OracleRun],
}

/// The options of one policy's run.
fn run_args(c: &CompareArgs, policy: PolicyArg, out: PathBuf, profile: Option<PathBuf>) -> AutoscaleArgs {
    AutoscaleArgs {
        query: c.query.clone(),
        preset: c.preset.clone(),
        rate: c.target_rate,
        policy,
        scenario: c.scenario,
        duration: c.duration.clone(),
        start_parallelism: c.start_parallelism.clone(),
        start_cache: c.start_cache.clone(),
        write_buffer: "8MiB".into(),
        out,
        metrics_addr: "off".into(),
        interval: c.interval.clone(),
        warmup: c.warmup,
        activation: 1,
        cooldown: "0s".into(),
        max_cores: None,
        max_memory: None,
        strategy: StrategyArg::Progressive,
        scaling_factor: 0.0,
        target_rate_ratio: None,
        justin_defaults: JustinDefaultsArg::Code,
        justin_base: None,
        justin_hit_min: None,
        justin_latency_us: None,
        flink_utilization: 0.7,
        flink_scale_down_delay: "60s".into(),
        core_price: c.core_price,
        gib_price: c.gib_price,
        headroom: 0.9,
        horizon: c.horizon.clone(),
        profile,
        cores: None,
        profile_events: c.profile_events,
        max_parallelism: c.max_parallelism,
        state_dir: None,
        flink: None,
        job: None,
        flink_dir: PathBuf::from("out/flink"),
    }
}

fn policy_name(p: PolicyArg) -> &'static str {
    match p {
        PolicyArg::Ds2 => "ds2",
        PolicyArg::Justin => "justin",
        PolicyArg::Flink => "flink",
        PolicyArg::Mrc => "mrc",
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| format!("{} is unreadable", path.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn run(c: CompareArgs) -> Result<()> {
    if c.target_rate == 0 {
        bail!("--target-rate 0: the target must be at least 1 event/s");
    }
    if c.repeat == 0 {
        bail!("--repeat 0: at least one round");
    }
    if c.policies.is_empty() {
        bail!("--policies: name at least one of ds2, justin, flink, mrc");
    }
    for (name, v) in [("--core-price", c.core_price), ("--gib-price", c.gib_price)] {
        if !(v > 0.0 && v.is_finite()) {
            bail!("{name} {v}: a price must be positive");
        }
    }
    let duration = parse_duration("--duration", &c.duration)?;
    parse_duration("--interval", &c.interval)?;
    let grid_p: Vec<u32> = c
        .oracle_parallelism
        .split(',')
        .map(|v| v.trim().parse::<u32>().ok().filter(|&p| p >= 1 && p <= c.max_parallelism))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            anyhow!("--oracle-parallelism `{}`: whole numbers from 1 to --max-parallelism", c.oracle_parallelism)
        })?;
    let grid_c = parse_sizes(&c.oracle_cache).map_err(|e| anyhow!("--oracle-cache: {}", e.reason))?;
    if grid_c.iter().any(|&b| b < 1 << 20) {
        bail!("--oracle-cache `{}`: every size at least 1MiB", c.oracle_cache);
    }
    parse_size(&c.start_cache).map_err(|e| anyhow!("--start-cache: {e}"))?;
    std::fs::create_dir_all(&c.out).with_context(|| format!("--out {}: cannot create", c.out.display()))?;
    let identity = Identity {
        query: c.query.clone(),
        preset: c.preset.clone(),
        target_rate: c.target_rate,
        scenario: c.scenario,
        duration: c.duration.clone(),
        start_parallelism: c.start_parallelism.clone(),
        start_cache: c.start_cache.clone(),
        interval: c.interval.clone(),
        warmup: c.warmup,
        core_price: c.core_price,
        gib_price: c.gib_price,
        horizon: c.horizon.clone(),
        max_parallelism: c.max_parallelism,
    };
    let id_path = c.out.join("compare.json");
    match read_json::<Identity>(&id_path)? {
        Some(old) if old != identity => bail!(
            "--out {} holds a comparison with other options ({}); choose another --out or remove it",
            c.out.display(),
            serde_json::to_string(&old)?
        ),
        _ => write_json(&identity, &id_path)?,
    }

    // The mrc policy's model: one profile for all its runs.
    let profile_dir = c.out.join("profile");
    if c.policies.contains(&PolicyArg::Mrc) && !profile_dir.join("profile.json").exists() {
        let a = run_args(&c, PolicyArg::Mrc, c.out.clone(), None);
        autoscale::policies::profile_into(&a, &profile_dir)?;
    }

    let mut runs: Vec<RunSummary> = Vec::new();
    for round in 1..=c.repeat {
        for &policy in &c.policies {
            let name = policy_name(policy);
            let dir = if c.repeat > 1 { c.out.join(format!("{name}-{round}")) } else { c.out.join(name) };
            if let Some(done) = read_json::<RunSummary>(&dir.join("summary.json"))? {
                eprintln!("{name} (round {round}): done before, read from {}", dir.display());
                runs.push(done);
                continue;
            }
            let profile = (policy == PolicyArg::Mrc).then(|| profile_dir.clone());
            let (_, s) = autoscale::execute(&run_args(&c, policy, dir, profile))?;
            runs.push(s);
        }
    }
    let mut rows: Vec<Row> = c.policies.iter().map(|&p| mean_row(policy_name(p), &runs)).collect();
    let mut oracle_runs = Vec::new();
    if !c.no_oracle {
        let (row, tried) = oracle(&c, &grid_p, &grid_c, duration.as_secs_f64())?;
        oracle_runs = tried;
        rows.extend(row);
    }
    write_csv(&rows, &c.out.join("summary.csv"))?;
    write_json(
        &Summary { identity: &identity, rows: &rows, runs: &runs, oracle_runs: &oracle_runs },
        &c.out.join("summary.json"),
    )?;
    let html = report(&c, &rows, &oracle_runs);
    crate::output::write_file(&c.out.join("report.html"), html.as_bytes())?;
    print(&rows);
    println!("report: {}", c.out.join("report.html").display());
    Ok(())
}

/// The mean of a policy's runs.
fn mean_row(policy: &str, runs: &[RunSummary]) -> Row {
    let mine: Vec<&RunSummary> = runs.iter().filter(|r| r.policy == policy).collect();
    let n = mine.len().max(1) as f64;
    let mean = |f: &dyn Fn(&RunSummary) -> f64| mine.iter().map(|r| f(r)).sum::<f64>() / n;
    let converge: Option<Vec<f64>> = mine.iter().map(|r| r.converge_s).collect();
    Row {
        policy: policy.to_string(),
        rescales: mean(&|r| r.reconfigurations.unwrap_or(r.rescales + r.resizes) as f64),
        operator_changes: mean(&|r| (r.rescales + r.resizes) as f64),
        converge_s: converge.filter(|v| !v.is_empty()).map(|v| v.iter().sum::<f64>() / v.len() as f64),
        core_s: mean(&|r| r.totals.core_s),
        gib_s: mean(&|r| r.totals.gib_s),
        cost: mean(&|r| r.cost),
        violation_s: mean(&|r| r.totals.violation_s),
        final_config: mine.last().map_or(String::new(), |r| r.end.clone()),
    }
}

/// Fixed configurations in order of cost until one sustains the target:
/// the cheapest that does (and every run tried).
fn oracle(c: &CompareArgs, grid_p: &[u32], grid_c: &[u64], seconds: f64) -> Result<(Option<Row>, Vec<OracleRun>)> {
    let probe = run_args(c, PolicyArg::Ds2, c.out.join("oracle"), None);
    let base = autoscale::job_args(&probe).setup(&c.out.join("oracle"))?;
    let graph = engine::queries::build(base.query, &base.query_config);
    let sources: Vec<(String, u32)> = graph
        .stages
        .iter()
        .filter(|s| matches!(s.kind, engine::runtime::graph::StageKind::Source(_)))
        .map(|s| (s.name.clone(), s.parallelism))
        .collect();
    let stateful = graph.stages.iter().filter(|s| !s.states.is_empty()).count() as u64;
    let others = graph.stages.len() as u32 - sources.len() as u32;
    let source_cores: u32 = sources.iter().map(|s| s.1).sum();
    let mut grid: Vec<OracleRun> = Vec::new();
    for &p in grid_p {
        for &cache in grid_c {
            let cores = source_cores + others * p;
            let cache_bytes = cache * stateful;
            let rate = cores as f64 * c.core_price + cache_bytes as f64 / (1u64 << 30) as f64 * c.gib_price;
            let config = std::iter::once(p.to_string())
                .chain(sources.iter().map(|(n, sp)| format!("{n}={sp}")))
                .collect::<Vec<_>>()
                .join(",");
            grid.push(OracleRun {
                parallelism: p,
                cache,
                config,
                cores,
                cache_bytes,
                cost: rate * seconds / 3600.0,
                sustained_throughput: 0.0,
                sustains: false,
            });
        }
    }
    grid.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    let mut tried = Vec::new();
    for mut g in grid {
        let path = c.out.join("oracle").join(format!("p{}-{}.json", g.parallelism, format_size(g.cache)));
        let done = match read_json::<OracleRun>(&path)? {
            Some(d) => d,
            None => {
                eprintln!("oracle: parallelism {}, cache {}", g.parallelism, format_size(g.cache));
                let mut args = autoscale::job_args(&probe);
                args.parallelism = g.config.clone();
                args.cache = Some(format_size(g.cache));
                let dir = c.out.join("oracle");
                let mut setup = args.setup(&dir)?;
                setup.run_config.rate_shape = autoscale::scenario(&probe).1;
                let finished = setup.execute(None, std::time::Duration::from_secs(1), &mut |_| Ok(()))?;
                g.sustained_throughput = finished.snapshot.sustained_throughput;
                // What the sources were asked for over the run, on average.
                let (rate, shape) = autoscale::scenario(&probe);
                let asked = shape.events_by(rate as f64, seconds) / seconds;
                g.sustains = g.sustained_throughput >= asked * 0.97;
                write_json(&g, &path)?;
                g
            }
        };
        tried.push(done.clone());
        if done.sustains {
            let d = done;
            return Ok((
                Some(Row {
                    policy: "oracle".into(),
                    rescales: 0.0,
                    converge_s: Some(0.0),
                    core_s: d.cores as f64 * seconds,
                    gib_s: d.cache_bytes as f64 / (1u64 << 30) as f64 * seconds,
                    cost: d.cost,
                    violation_s: 0.0,
                    final_config: format!("p={}@{} each", d.parallelism, format_size(d.cache)),
                    operator_changes: 0.0,
                }),
                tried,
            ));
        }
    }
    eprintln!("oracle: no configuration of the grid sustains the target");
    Ok((None, tried))
}

fn write_csv(rows: &[Row], path: &Path) -> Result<()> {
    crate::output::write_csv(path, |w| {
        w.write_record([
            "policy",
            "rescales",
            "converge_s",
            "core_s",
            "gib_s",
            "cost",
            "violation_s",
            "final",
            "operator_changes",
        ])?;
        for r in rows {
            w.write_record([
                r.policy.clone(),
                crate::report::trim(r.rescales),
                r.converge_s.map_or(String::new(), |v| format!("{v:.1}")),
                format!("{:.1}", r.core_s),
                format!("{:.3}", r.gib_s),
                format!("{:.6}", r.cost),
                format!("{:.1}", r.violation_s),
                r.final_config.clone(),
                crate::report::trim(r.operator_changes),
            ])?;
        }
        Ok(())
    })
}

fn print(rows: &[Row]) {
    println!(
        "{:<8} {:>9} {:>10} {:>10} {:>8} {:>8} {:>10} {:>11}  final",
        "policy", "rescales", "(per op)", "converge", "core-s", "GiB-s", "cost", "violation"
    );
    for r in rows {
        println!(
            "{:<8} {:>9} {:>10} {:>10} {:>8.0} {:>8.2} {:>10.6} {:>10.0}s  {}",
            r.policy,
            crate::report::trim(r.rescales),
            crate::report::trim(r.operator_changes),
            r.converge_s.map_or("never".into(), |v| format!("{v:.0} s")),
            r.core_s,
            r.gib_s,
            r.cost,
            r.violation_s,
            r.final_config
        );
    }
}

/// One timeline column of a run, read back from its timeline.csv.
fn timeline_series(
    dir: &Path,
    name: &str,
    pick: impl Fn(&csv::StringRecord) -> Option<(String, f64, f64)>,
) -> Vec<Series> {
    let Ok(mut r) = csv::Reader::from_path(dir.join("timeline.csv")) else { return Vec::new() };
    let mut by: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for rec in r.records().flatten() {
        if let Some((op, t, v)) = pick(&rec) {
            match by.iter_mut().find(|(n, _)| *n == op) {
                Some((_, pts)) => pts.push((t, v)),
                None => by.push((op, vec![(t, v)])),
            }
        }
    }
    by.into_iter().map(|(op, points)| Series { name: format!("{name} {op}"), points, markers_only: false }).collect()
}

fn report(c: &CompareArgs, rows: &[Row], oracle_runs: &[OracleRun]) -> String {
    let field = |rec: &csv::StringRecord, i: usize| rec.get(i).and_then(|v| v.parse::<f64>().ok());
    let mut rate = Vec::new();
    let mut par = Vec::new();
    let mut cache = Vec::new();
    for &p in &c.policies {
        let name = policy_name(p);
        let dir = if c.repeat > 1 { c.out.join(format!("{name}-1")) } else { c.out.join(name) };
        rate.extend(timeline_series(&dir, name, |r| {
            (r.get(1)? == "source").then(|| Some((String::new(), field(r, 0)?, field(r, 4)?))).flatten()
        }));
        par.extend(timeline_series(&dir, name, |r| {
            (r.get(1)? != "source").then(|| Some((r.get(1)?.to_string(), field(r, 0)?, field(r, 2)?))).flatten()
        }));
        cache.extend(timeline_series(&dir, name, |r| {
            Some((r.get(1)?.to_string(), field(r, 0)?, field(r, 3)? / (1u64 << 20) as f64))
        }));
    }
    if let Some(&p) = c.policies.first() {
        let name = policy_name(p);
        let dir = if c.repeat > 1 { c.out.join(format!("{name}-1")) } else { c.out.join(name) };
        rate.extend(timeline_series(&dir, "target", |r| {
            (r.get(1)? == "source").then(|| Some((String::new(), field(r, 0)?, field(r, 5)?))).flatten()
        }));
    }
    let max_cost = rows.iter().map(|r| r.cost).fold(0.0, f64::max).max(1e-12);
    let bars: String = rows
        .iter()
        .map(|r| {
            format!(
                "<div class=\"bar\"><span>{}</span><div style=\"width:{:.1}%\"></div><b>{:.6}</b></div>",
                escape(&r.policy),
                r.cost / max_cost * 80.0,
                r.cost
            )
        })
        .collect();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.policy.clone(),
                crate::report::trim(r.rescales),
                crate::report::trim(r.operator_changes),
                r.converge_s.map_or("never".into(), |v| format!("{v:.0}")),
                format!("{:.0}", r.core_s),
                format!("{:.2}", r.gib_s),
                format!("{:.6}", r.cost),
                format!("{:.0}", r.violation_s),
                r.final_config.clone(),
            ]
        })
        .collect();
    let oracle_rows: Vec<Vec<String>> = oracle_runs
        .iter()
        .map(|o| {
            vec![
                o.parallelism.to_string(),
                format_size(o.cache),
                format!("{:.6}", o.cost),
                format!("{:.0}", o.sustained_throughput),
                if o.sustains { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    let body = format!(
        "<style>.bar{{display:flex;align-items:center;gap:8px;margin:4px 0}}.bar span{{width:70px}}\
         .bar div{{height:18px;background:#1f77b4}}</style>\
         <p>{q} ({preset}) at a target of {target} events/s from parallelism {sp}, cache {sc}; {dur} per run, \
         {rounds} round(s). Rescales: changes of configuration, each carried out at once however many operators \
         it rescales and resizes (DS2's steps); per operator: those operators' rescales and resizes counted \
         apart; converge: seconds until the sources kept up for \
         the rest of the run; violation: seconds more than a second's events behind the target.</p>{table}\
         <h2>Cost</h2>{bars}<h2>Throughput</h2>{rate}<h2>Parallelism</h2>{par}<h2>Block cache</h2>{cache}\
         <h2>Oracle runs, in order of cost</h2>{oracle}",
        q = escape(&c.query),
        preset = escape(&c.preset),
        target = c.target_rate,
        sp = escape(&c.start_parallelism),
        sc = escape(&c.start_cache),
        dur = escape(&c.duration),
        rounds = c.repeat,
        table = table(
            &[
                "policy",
                "rescales",
                "per operator",
                "converge (s)",
                "core-s",
                "GiB-s",
                "cost",
                "violation (s)",
                "final"
            ],
            &table_rows
        ),
        rate = line_chart("Sources' events/s, per policy", "seconds", "events/s", &rate, None),
        par = line_chart("Parallelism, per policy and operator", "seconds", "subtasks", &par, None),
        cache = line_chart("Block cache, per policy and operator", "seconds", "MiB", &cache, None),
        oracle = if oracle_rows.is_empty() {
            "<p>Not run.</p>".into()
        } else {
            table(&["parallelism", "cache", "cost", "sustained events/s", "sustains"], &oracle_rows)
        },
    );
    page(&format!("memscale compare: {} at {} events/s", c.query, c.target_rate), &body)
}
