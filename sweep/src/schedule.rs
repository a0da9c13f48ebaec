//! Scripted changes of a run (`memscale run --rescale ... --resize ...`):
//! parsing the schedules against the job's operators, and carrying them
//! out at their times on the running job.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use cachesim::size::{format_size, parse_size};
use engine::runtime::control::{Report, MIN_MEMORY};
use engine::runtime::graph::StageKind;
use engine::runtime::{Change, Control, ControlError, JobGraph, Memory, RescaleOptions};

use crate::job::parse_duration;

/// One change at a time since the start.
#[derive(Clone, Debug)]
pub struct Scheduled {
    /// When, from the start of the run.
    pub at: Duration,
    /// What.
    pub change: Change,
}

/// Splits `TIME:OP=VALUE,...` into (time, operator, value), checking the
/// operator against the graph.
fn items<'a>(option: &str, s: &'a str, graph: &JobGraph) -> Result<Vec<(Duration, &'a str, &'a str)>> {
    let names = || graph.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    s.split(',')
        .map(|item| {
            let item = item.trim();
            let (time, rest) = item
                .split_once(':')
                .ok_or_else(|| anyhow!("{option} `{item}`: expected TIME:OPERATOR=VALUE, such as 20s:join=4"))?;
            let (op, value) = rest
                .split_once('=')
                .ok_or_else(|| anyhow!("{option} `{item}`: expected TIME:OPERATOR=VALUE, such as 20s:join=4"))?;
            let at = parse_duration(option, time)?;
            if graph.stage(op).is_none() {
                bail!("{option} `{item}`: no operator `{op}` in this query (operators: {})", names());
            }
            Ok((at, op, value))
        })
        .collect()
}

/// `--rescale 20s:join=4,40s:join=2`: parallelism changes.
pub fn parse_rescales(
    s: &str,
    graph: &JobGraph,
    max_parallelism: u32,
    options: RescaleOptions,
) -> Result<Vec<Scheduled>> {
    items("--rescale", s, graph)?
        .into_iter()
        .map(|(at, op, value)| {
            if graph.stage(op).is_some_and(|s| matches!(s.kind, StageKind::Source(_))) {
                bail!("--rescale: `{op}` is a source; sources keep the parallelism they start with (--parallelism)");
            }
            if let Some(reason) = graph.stage(op).and_then(|s| s.fixed_parallelism) {
                bail!("--rescale: `{op}` keeps its parallelism: {reason}");
            }
            let p: u32 = value
                .parse()
                .map_err(|_| anyhow!("--rescale {op}={value}: expected a parallelism (a whole number)"))?;
            if p == 0 || p > max_parallelism {
                bail!("--rescale {op}={value}: parallelism must be within 1..={max_parallelism} (--max-parallelism)");
            }
            Ok(Scheduled { at, change: Change::Rescale { operator: op.to_string(), parallelism: p, options } })
        })
        .collect()
}

/// `--resize 30s:join=256MiB` (block cache), `join=256MiB/64MiB` (cache and
/// write-buffer budget) or `join=/64MiB` (write buffers only).
pub fn parse_resizes(s: &str, graph: &JobGraph, rocksdb: bool) -> Result<Vec<Scheduled>> {
    items("--resize", s, graph)?
        .into_iter()
        .map(|(at, op, value)| {
            if !rocksdb || graph.stage(op).is_some_and(|s| s.states.is_empty()) {
                bail!(
                    "--resize {op}: only a stateful operator with --state rocksdb has a block cache and write buffers"
                );
            }
            let (cache, wb) = match value.split_once('/') {
                Some((c, w)) => (c, Some(w)),
                None => (value, None),
            };
            let size = |what: &str, v: &str| -> Result<Option<usize>> {
                if v.is_empty() {
                    return Ok(None);
                }
                let b = parse_size(v).map_err(|e| anyhow!("--resize {op}={value}: {what}: {e}"))?;
                if (b as usize) < MIN_MEMORY {
                    bail!("--resize {op}={value}: a {what} below 1MiB ({}) cannot work", format_size(b));
                }
                Ok(Some(b as usize))
            };
            let memory = Memory {
                cache: size("block cache", cache)?,
                write_buffer: wb.map(|w| size("write-buffer budget", w)).transpose()?.flatten(),
            };
            if memory == Memory::default() {
                bail!("--resize {op}={value}: name a cache size, a write-buffer budget (/SIZE) or both");
            }
            Ok(Scheduled { at, change: Change::Resize { operator: op.to_string(), memory } })
        })
        .collect()
}

/// One line per report, for the console.
pub fn describe(r: &Report) -> String {
    match r {
        Report::Rescale(r) => format!(
            "rescale {} {}→{} ({}): {} key groups, {} keys, {} in {:.3} s ({:.1} MB/s, {} steps); longest record wait {:.1} ms, e2e p99 {:.1} ms during (run before: {:.1} ms)",
            r.operator,
            r.from,
            r.to,
            r.strategy,
            r.key_groups_moved,
            r.keys_moved,
            format_size(r.bytes_moved),
            r.duration_s,
            r.mb_per_s,
            r.steps,
            r.max_record_wait_ms,
            r.e2e_p99_ms_during,
            r.e2e_p99_ms_before,
        ),
        Report::Resize(r) => format!(
            "resize {}: cache {} → {} (usage {} after {:.3} s), write buffers {} → {}",
            r.operator,
            format_size(r.cache_before),
            format_size(r.cache_after),
            format_size(r.cache_usage_after),
            r.duration_s,
            format_size(r.write_buffer_before),
            format_size(r.write_buffer_after),
        ),
    }
}

/// Carries out `schedule` (sorted by time) on a running job, each change
/// at its time; stops early when the job ends. Returns what was done.
pub fn run(control: Control, mut schedule: Vec<Scheduled>, started: Instant, done: impl Fn() -> bool) -> Vec<Report> {
    schedule.sort_by_key(|s| s.at);
    let mut reports = Vec::new();
    for s in schedule {
        while started.elapsed() < s.at {
            if done() {
                return reports;
            }
            std::thread::sleep(Duration::from_millis(5).min(s.at.saturating_sub(started.elapsed())));
        }
        match control.apply(std::slice::from_ref(&s.change)) {
            Ok(rs) => {
                for r in rs {
                    eprintln!("{:>7.1}s {}", started.elapsed().as_secs_f64(), describe(&r));
                    reports.push(r);
                }
            }
            Err(ControlError::Finished) => {
                eprintln!("the job ended before the change at {:.1} s", s.at.as_secs_f64());
                return reports;
            }
            Err(e) => eprintln!("{:>7.1}s change {:?} failed: {e}", started.elapsed().as_secs_f64(), s.change),
        }
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::nexmark::{NexmarkParams, Preset};
    use engine::queries::{build, Query, QueryConfig};

    fn q20() -> JobGraph {
        build(Query::Q20, &QueryConfig::new(NexmarkParams::preset(Preset::Default, 10), 1))
    }

    #[test]
    fn schedules_parse_and_bad_ones_name_the_option() {
        let g = q20();
        let r = parse_rescales("20s:join=4, 40s:join=2", &g, 128, RescaleOptions::default()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].at, Duration::from_secs(40));
        let err = |s: &str| parse_rescales(s, &g, 128, RescaleOptions::default()).unwrap_err().to_string();
        assert!(err("20s:join=0").contains("--rescale join=0: parallelism must be within 1..=128"));
        assert!(err("20s:join=129").contains("1..=128"));
        assert!(err("20s:window=2").contains("no operator `window`"));
        assert!(err("join=2").contains("expected TIME:OPERATOR=VALUE"));
        assert!(err("20s:source=2").contains("sources keep"));
        assert!(err("soon:join=2").contains("--rescale"));
        let m = parse_resizes("30s:join=256MiB/64MiB,31s:join=/2MiB", &g, true).unwrap();
        assert!(
            matches!(&m[0].change, Change::Resize { memory, .. } if memory.cache == Some(256 << 20) && memory.write_buffer == Some(64 << 20))
        );
        assert!(matches!(&m[1].change, Change::Resize { memory, .. } if memory.cache.is_none()));
        let err = |s: &str, rocks| parse_resizes(s, &g, rocks).unwrap_err().to_string();
        assert!(err("30s:join=0", true).contains("below 1MiB"));
        assert!(err("30s:join=64MiB", false).contains("--state rocksdb"));
        assert!(err("30s:join=lots", true).contains("--resize join=lots"));
    }
}
