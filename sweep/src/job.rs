//! From command-line options to an engine job: query, Nexmark parameters,
//! parallelism and cache per operator, state backend. Every bad value is
//! reported with the option that carries it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use cachesim::size::parse_size;
use engine::keygroup::KeyGroups;
use engine::nexmark::{NexmarkParams, Preset};
use engine::queries::{Query, QueryConfig};
use engine::runtime::{Backend, RocksConfig, RunConfig};

use crate::cli::{JobArgs, StateArg};

/// Events when neither --events nor --duration is given.
pub const DEFAULT_EVENTS: u64 = 1_000_000;
/// Block cache per stateful operator without `--cache`.
pub const DEFAULT_CACHE: &str = "64MiB";
/// The query `run` and `sweep` run without --query.
pub const DEFAULT_QUERY: &str = "q20";
/// The preset without --preset.
pub const DEFAULT_PRESET: &str = "default";

/// A job ready to start.
pub struct JobSetup {
    /// The query.
    pub query: Query,
    /// Its graph parameters.
    pub query_config: QueryConfig,
    /// The engine configuration.
    pub run_config: RunConfig,
    /// Stop the sources after this long.
    pub duration: Option<Duration>,
    /// The state directory, removed after the run unless kept.
    pub state_dir: Option<PathBuf>,
    /// Keep the state directory.
    pub keep_state: bool,
}

/// Parses `30s`, `2m`, `1500ms`, `1h` or plain seconds.
pub fn parse_duration(option: &str, s: &str) -> Result<Duration> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| anyhow!("{option} `{s}`: expected a duration such as 30s, 2m or 500ms"))?;
    let secs = match unit.trim() {
        "" | "s" => v,
        "ms" => v / 1e3,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        other => bail!("{option} `{s}`: unknown unit `{other}` (use ms, s, m or h)"),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        bail!("{option} `{s}`: must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `V`, `op=V,...` or `V,op=V,...`: a default and per-operator
/// values; operator names are checked against `operators`.
pub fn parse_per_operator<T>(
    option: &str,
    s: &str,
    operators: &[String],
    parse: impl Fn(&str) -> Result<T>,
) -> Result<(Option<T>, HashMap<String, T>)> {
    let mut default = None;
    let mut per = HashMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((op, v)) => {
                let op = op.trim();
                if !operators.iter().any(|o| o == op) {
                    bail!("{option}: the query has no operator `{op}`; its operators are {}", operators.join(", "));
                }
                per.insert(op.to_string(), parse(v.trim()).map_err(|e| anyhow!("{option} {op}: {e}"))?);
            }
            None => {
                if default.is_some() {
                    bail!("{option} `{s}`: two default values");
                }
                default = Some(parse(part).map_err(|e| anyhow!("{option}: {e}"))?);
            }
        }
    }
    Ok((default, per))
}

fn parse_parallelism(max: u32) -> impl Fn(&str) -> Result<u32> {
    move |v| {
        let p: u32 = v.parse().map_err(|_| anyhow!("`{v}` is not a whole number"))?;
        if p == 0 || p > max {
            bail!("parallelism {p} is outside 1..={max} (--max-parallelism)");
        }
        Ok(p)
    }
}

fn parse_cache(v: &str) -> Result<usize> {
    let b = parse_size(v).map_err(|e| anyhow!("{e}"))?;
    if b == 0 {
        bail!("a block cache of 0 bytes cannot hold a single block; give at least 1MiB");
    }
    Ok(b as usize)
}

impl JobArgs {
    /// Without --query, `profile` and `sweep` run a job whose memory
    /// matters, so that a first run shows a curve with a knee: q19 at the
    /// large-state preset, 24,000 events/s for 45 s, a 16 MiB cache (each
    /// unless given; `sweep` sets its own rate and sizes first): below the
    /// size it needs to keep up, so the measured point sits on the steep
    /// part of the curve. Returns whether it did.
    pub fn default_to_memory_bound(&mut self) -> bool {
        if self.query.is_some() {
            return false;
        }
        self.query = Some("q19".into());
        self.preset.get_or_insert_with(|| "large-state".into());
        self.rate.get_or_insert(24_000);
        if self.events.is_none() && self.duration.is_none() {
            self.duration = Some("45s".into());
        }
        self.cache.get_or_insert_with(|| "16MiB".into());
        true
    }

    /// The query, preset, rate and length as given, for a console line:
    /// `q19 at the large-state preset, 24000 events/s, for 45s`.
    pub fn describe_pacing(&self) -> String {
        format!(
            "{} at the {} preset, {}, {}",
            self.query.as_deref().unwrap_or(DEFAULT_QUERY),
            self.preset.as_deref().unwrap_or(DEFAULT_PRESET),
            self.rate.map_or("unpaced".into(), |r| format!("{r} events/s")),
            self.duration
                .as_deref()
                .map_or_else(|| format!("{} events", self.events.unwrap_or(DEFAULT_EVENTS)), |d| format!("for {d}"))
        )
    }

    /// Checks every option and builds the job; `out` is the run directory
    /// (state goes to `out/state` unless --state-dir says otherwise).
    pub fn setup(&self, out: &Path) -> Result<JobSetup> {
        let query: Query =
            self.query.as_deref().unwrap_or(DEFAULT_QUERY).parse().map_err(|e| anyhow!("--query: {e}"))?;
        let keys = KeyGroups::new(self.max_parallelism)
            .ok_or_else(|| anyhow!("--max-parallelism {}: must be within 1..=32768", self.max_parallelism))?;
        let preset: Preset =
            self.preset.as_deref().unwrap_or(DEFAULT_PRESET).parse().map_err(|e| anyhow!("--preset: {e}"))?;
        let duration = self.duration.as_deref().map(|d| parse_duration("--duration", d)).transpose()?;
        let events = match (self.events, duration) {
            (Some(0), _) => bail!("--events must be at least 1"),
            (Some(n), _) => n,
            (None, Some(_)) => u64::MAX,
            (None, None) => DEFAULT_EVENTS,
        };
        let mut params = NexmarkParams::preset(preset, events);
        if self.rate == Some(0) {
            bail!("--rate 0: give at least 1 event/s, or leave --rate out to run as fast as the job goes");
        }
        if let Some(r) = self.rate {
            params.event_rate = r;
        }
        if let Some(n) = self.in_flight_auctions {
            params.in_flight_auctions = n;
        }
        if let Some(n) = self.active_people {
            params.active_people = n;
        }
        if let Some(n) = self.hot_auction_ratio {
            params.hot_auction_ratio = n;
        }
        if let Some(n) = self.hot_bidder_ratio {
            params.hot_bidder_ratio = n;
        }
        if let Some(n) = self.hot_seller_ratio {
            params.hot_seller_ratio = n;
        }
        params.base_time_ms = self.base_time;
        params.validate().map_err(|e| anyhow!("{e}"))?;

        let operators = query.operators();
        let (p, per_p) = parse_per_operator(
            "--parallelism",
            &self.parallelism,
            &operators,
            parse_parallelism(self.max_parallelism),
        )?;
        let mut query_config = QueryConfig::new(params, p.unwrap_or(1));
        query_config.operator_parallelism = per_p;
        query_config.out = out.to_path_buf();

        let (backend, state_dir) = match self.state {
            StateArg::Memory => (Backend::Memory, None),
            StateArg::Rocksdb => {
                let dir = self.state_dir.clone().unwrap_or_else(|| out.join("state"));
                let mut rc = RocksConfig::new(&dir);
                let (c, per_c) = parse_per_operator(
                    "--cache",
                    self.cache.as_deref().unwrap_or(DEFAULT_CACHE),
                    &operators,
                    parse_cache,
                )?;
                if let Some(c) = c {
                    rc.cache = c;
                }
                rc.operator_cache = per_c;
                rc.write_buffer_size = parse_size(&self.write_buffer)
                    .map_err(|e| anyhow!("--write-buffer: {e}"))
                    .and_then(|b| if b < 64 << 10 { Err(anyhow!("--write-buffer: at least 64KiB")) } else { Ok(b) })?
                    as usize;
                rc.direct_io = !self.buffered_io;
                rc.partitioned_index_filters = self.filters == crate::cli::FilterLayoutArg::Partitioned;
                rc.count_user_reads = self.count_user_reads;
                rc.block_trace = self.block_trace.clone().map(|d| (d, self.block_trace_sampling.max(1)));
                (Backend::RocksDb(rc), Some(dir))
            }
        };
        if self.block_trace.is_some() && self.state == StateArg::Memory {
            bail!("--block-trace needs --state rocksdb");
        }
        let mut run_config = RunConfig::new(backend);
        run_config.key_groups = keys;
        run_config.rate = self.rate;
        if let Some(path) = &self.trace {
            if !(self.trace_sample > 0.0 && self.trace_sample <= 1.0) {
                bail!("--trace-sample {}: must be in (0, 1]", self.trace_sample);
            }
            run_config.key_trace = Some((path.clone(), self.trace_sample));
        }
        Ok(JobSetup { query, query_config, run_config, duration, state_dir, keep_state: self.keep_state })
    }
}

/// A finished run: the engine's output and the final metrics.
pub struct Finished {
    /// What the engine returned.
    pub output: engine::runtime::JobOutput,
    /// Metrics at the end, with throughput over the job's own duration.
    pub snapshot: engine::runtime::snapshot::JobSnapshot,
    /// What the scripted changes did.
    pub reports: Vec<engine::runtime::control::Report>,
    /// The job's metrics (latency by second, among others).
    pub metrics: std::sync::Arc<engine::runtime::metrics::JobMetrics>,
}

/// Changes to a run while it runs.
#[derive(Default)]
pub struct Changes {
    /// Scripted changes.
    pub schedule: Vec<crate::schedule::Scheduled>,
    /// The control endpoint to serve.
    pub endpoint: Option<engine::runtime::control_endpoint::BoundControl>,
}

/// Called with each periodic snapshot while the job runs.
pub type OnSnapshot<'a> = &'a mut dyn FnMut(&engine::runtime::snapshot::JobSnapshot) -> Result<()>;

impl JobSetup {
    /// Runs the job: refuses a non-empty state directory, serves metrics on
    /// `endpoint`, calls `on_snapshot` every `interval`, stops the sources
    /// after the duration, and removes the state directory at the end
    /// unless asked to keep it (also when the job fails).
    pub fn execute(
        &self,
        endpoint: Option<engine::runtime::exporter::BoundEndpoint>,
        interval: Duration,
        on_snapshot: OnSnapshot,
    ) -> Result<Finished> {
        self.execute_with(endpoint, Changes::default(), interval, on_snapshot)
    }

    /// [`JobSetup::execute`], with the job's control endpoint served and
    /// scripted changes carried out while it runs.
    pub fn execute_with(
        &self,
        endpoint: Option<engine::runtime::exporter::BoundEndpoint>,
        changes: Changes,
        interval: Duration,
        on_snapshot: OnSnapshot,
    ) -> Result<Finished> {
        self.with_state_dir(|| self.execute_inner(endpoint, changes, interval, on_snapshot))
    }

    /// Runs `f` with the state directory to itself: refuses one that is
    /// not empty, and removes it afterwards unless asked to keep it (also
    /// when `f` fails).
    pub fn with_state_dir<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if let Some(dir) = &self.state_dir {
            if std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
                bail!(
                    "state directory {} is not empty (left by a --keep-state run?); remove it or choose another --state-dir",
                    dir.display()
                );
            }
        }
        let result = f();
        if let (Some(dir), false) = (&self.state_dir, self.keep_state) {
            let _ = std::fs::remove_dir_all(dir);
        }
        result
    }

    fn execute_inner(
        &self,
        endpoint: Option<engine::runtime::exporter::BoundEndpoint>,
        changes: Changes,
        interval: Duration,
        on_snapshot: OnSnapshot,
    ) -> Result<Finished> {
        let graph = engine::queries::build(self.query, &self.query_config);
        let job = engine::runtime::start(graph, &self.run_config)?;
        let metrics = job.metrics();
        let _server = endpoint.map(|e| e.serve(metrics.clone()));
        let _control = changes.endpoint.map(|e| e.serve(job.control()));
        let started_at = std::time::Instant::now();
        let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scheduler = (!changes.schedule.is_empty()).then(|| {
            let (control, schedule, ended) = (job.control(), changes.schedule, ended.clone());
            std::thread::spawn(move || {
                crate::schedule::run(control, schedule, started_at, || ended.load(std::sync::atomic::Ordering::Relaxed))
            })
        });
        let bar = crate::progress::events(self.query.name());
        let started = std::time::Instant::now();
        let mut next_snapshot = started + interval;
        let mut stopped = false;
        while !job.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            bar.set_position(metrics.events.load(std::sync::atomic::Ordering::Relaxed));
            if let (Some(d), false) = (self.duration, stopped) {
                if started.elapsed() >= d {
                    job.stop();
                    stopped = true;
                }
            }
            if std::time::Instant::now() >= next_snapshot {
                next_snapshot += interval;
                if let Err(e) = on_snapshot(&metrics.snapshot()) {
                    job.stop();
                    let _ = job.wait();
                    return Err(e);
                }
            }
        }
        bar.finish_and_clear();
        ended.store(true, std::sync::atomic::Ordering::Relaxed);
        let reports = scheduler.map(|t| t.join().unwrap_or_default()).unwrap_or_default();
        let output = job.wait()?;
        let mut snapshot = metrics.snapshot();
        snapshot.elapsed_s = output.elapsed.as_secs_f64();
        snapshot.throughput = snapshot.events as f64 / snapshot.elapsed_s.max(1e-9);
        on_snapshot(&snapshot)?;
        Ok(Finished { output, snapshot, reports, metrics })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--d", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("--d", "1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("--d", "2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("--d", "3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("--d", "soon").unwrap_err().to_string().contains("--d"));
        assert!(parse_duration("--d", "0s").is_err());
        assert!(parse_duration("--d", "5 parsecs").is_err());
    }

    #[test]
    fn per_operator_values() {
        let ops = vec!["source".to_string(), "join".to_string()];
        let p = |v: &str| v.parse::<u32>().map_err(|e| anyhow!("{e}"));
        let (d, per) = parse_per_operator("--parallelism", "2,join=3", &ops, p).unwrap();
        assert_eq!(d, Some(2));
        assert_eq!(per["join"], 3);
        let e = parse_per_operator("--parallelism", "window=3", &ops, p).unwrap_err().to_string();
        assert!(e.contains("no operator `window`") && e.contains("source, join"), "{e}");
        assert!(parse_per_operator("--parallelism", "2,3", &ops, p).is_err());
    }
}
