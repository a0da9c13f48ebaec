//! report.html of an autoscaled run: the sources' rate against the
//! target, each operator's parallelism, cache and hit ratio over time, the
//! changes made with their reasons, and the run's totals.

use std::collections::BTreeMap;

use cachesim::size::format_size;

use autoscaler::DecisionRecord;

use super::timeline::{Row, Totals};
use crate::cli::AutoscaleArgs;
use crate::report::{escape, line_chart, page, table, Series};

/// One series per operator of `f` over time (operators for which `f`
/// gives nothing are left out).
fn per_operator(rows: &[Row], f: impl Fn(&Row) -> Option<f64>) -> Vec<Series> {
    let mut by: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in rows {
        if let Some(v) = f(r) {
            if !by.contains_key(r.operator.as_str()) {
                order.push(&r.operator);
            }
            by.entry(&r.operator).or_default().push((r.t_s, v));
        }
    }
    order
        .into_iter()
        .map(|name| Series { name: name.to_string(), points: by.remove(name).unwrap_or_default(), markers_only: false })
        .collect()
}

/// What a report shows of a run, whichever job it drove.
pub struct RunFacts<'a> {
    /// The policy's name.
    pub policy: &'a str,
    /// The job driven, in words (`the engine`, `Flink job ID at URL`).
    pub job: String,
    /// Every decision.
    pub decisions: &'a [DecisionRecord],
    /// The timeline.
    pub timeline: &'a [Row],
    /// Its totals.
    pub totals: &'a Totals,
    /// Events/s the sources sustained.
    pub sustained: f64,
    /// End-to-end p99 over the run, ms (`None`: not measured).
    pub e2e_p99_ms: Option<f64>,
    /// Changes of parallelism and of memory.
    pub rescales: usize,
    /// Changes of memory.
    pub resizes: usize,
    /// The final configuration.
    pub end: &'a str,
    /// The start configuration, in words.
    pub start: String,
    /// Whose reads the hit ratio counts, in words.
    pub hit_ratio_of: &'static str,
    /// How often the timeline has a row, in words.
    pub timeline_every: &'static str,
}

/// The page.
pub fn render(a: &AutoscaleArgs, o: &RunFacts) -> String {
    let sources: Vec<&str> = {
        let mut v: Vec<&str> = o
            .decisions
            .first()
            .map(|d| d.inputs.iter().take(1).map(|i| i.operator.as_str()).collect())
            .unwrap_or_default();
        v.dedup();
        v
    };
    let source = sources.first().copied().unwrap_or("source");
    let rate: Vec<(f64, f64)> =
        o.timeline.iter().filter(|r| r.operator == source).map(|r| (r.t_s, r.input_rate)).collect();
    let target: Vec<(f64, f64)> =
        o.timeline.iter().filter(|r| r.operator == source).map(|r| (r.t_s, r.target_rate)).collect();
    let rate_chart = line_chart(
        "Events per second: the sources against the target",
        "seconds",
        "events/s",
        &[
            Series { name: "sources".into(), points: rate, markers_only: false },
            Series { name: "target".into(), points: target, markers_only: false },
        ],
        None,
    );
    let stateful = |r: &Row| r.cache_bytes.is_some();
    let p_chart = line_chart(
        "Parallelism per operator",
        "seconds",
        "subtasks",
        &per_operator(o.timeline, |r| (r.operator != source).then_some(r.parallelism as f64)),
        None,
    );
    let c_chart = line_chart(
        "Block cache per operator",
        "seconds",
        "MiB",
        &per_operator(o.timeline, |r| r.cache_bytes.map(|b| b as f64 / (1u64 << 20) as f64)),
        None,
    );
    let h_chart = line_chart(
        &format!("Hit ratio of {}", o.hit_ratio_of),
        "seconds",
        "hit ratio",
        &per_operator(o.timeline, |r| if stateful(r) { r.hit_ratio } else { None }),
        Some(1.0),
    );
    let changes: Vec<Vec<String>> = o
        .decisions
        .iter()
        .filter(|d| d.applied)
        .flat_map(|d| {
            d.operators.iter().filter_map(move |p| {
                let before = d.inputs.iter().find(|i| i.operator == p.operator)?;
                (before.parallelism != p.parallelism || before.cache_bytes != p.cache_bytes).then(|| {
                    let size = |b: Option<u64>| b.map_or("-".to_string(), format_size);
                    vec![
                        format!("{:.0}", d.t_s),
                        p.operator.clone(),
                        format!("{} → {}", before.parallelism, p.parallelism),
                        format!("{} → {}", size(before.cache_bytes), size(p.cache_bytes)),
                        format!("{:.2}", d.change_s.unwrap_or(0.0)),
                        p.reason.clone(),
                    ]
                })
            })
        })
        .collect();
    let t = &o.totals;
    let summary = table(
        &[
            "policy",
            "target events/s",
            "sustained events/s",
            "rescales / resizes",
            "end",
            "core-s",
            "GiB-s",
            "s behind target",
            "e2e p99 ms",
        ],
        &[vec![
            o.policy.to_string(),
            a.rate.to_string(),
            format!("{:.0}", o.sustained),
            format!("{} / {}", o.rescales, o.resizes),
            o.end.to_string(),
            format!("{:.0}", t.core_s),
            format!("{:.1}", t.gib_s),
            format!("{:.0}", t.violation_s),
            o.e2e_p99_ms.map_or("-".to_string(), |l| format!("{l:.1}")),
        ]],
    );
    let body = format!(
        "<p>{q} ({preset}) on {job} at a target of {rate} events/s under <b>{policy}</b>, from {start}; decisions every {interval}. \
         Decisions: <code>decisions.jsonl</code>; every {every}: <code>timeline.csv</code>.</p>{summary}\
         <h2>Throughput</h2>{rate_chart}<h2>Resources</h2>{p_chart}{c_chart}<h2>Cache</h2>{h_chart}\
         <h2>Changes</h2>{changes}",
        q = escape(&a.query),
        preset = escape(&a.preset),
        rate = a.rate,
        policy = o.policy,
        job = escape(&o.job),
        every = o.timeline_every,
        start = escape(&o.start),
        interval = escape(&a.interval),
        changes = if changes.is_empty() {
            "<p>None.</p>".to_string()
        } else {
            table(&["t (s)", "operator", "parallelism", "cache", "took (s)", "why"], &changes)
        },
    );
    page(&format!("memscale autoscale: {} under {}", a.query, o.policy), &body)
}
