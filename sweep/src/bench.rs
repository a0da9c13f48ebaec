//! `memscale bench`: throughput of the simulators and MRC algorithms on one
//! core, and optionally the accuracy of the approximate MRCs.

use std::time::Instant;

use anyhow::Result;
use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate, simulate_many, SimOptions, Unit, Warmup};
use cachesim::size::{parse_size, parse_sizes};
use mrc::aet::aet_mrc;
use mrc::exact::exact_mrc;
use mrc::minisim::{minisim_mrc, sample_trace};
use mrc::shards::{shards_mrc, ShardsConfig};
use mrc::Mrc;
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::input;
use crate::output::write_json;

#[derive(Serialize)]
struct Throughput {
    what: String,
    requests: u64,
    seconds: f64,
    mreq_per_s: f64,
}

#[derive(Serialize)]
struct Accuracy {
    what: String,
    mae: f64,
}

#[derive(Serialize, Default)]
struct Report {
    trace: String,
    requests: u64,
    objects: u64,
    load_seconds: f64,
    throughput: Vec<Throughput>,
    accuracy: Vec<Accuracy>,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64())
}

pub fn run(a: BenchArgs) -> Result<()> {
    let policies = PolicySpec::parse_list(&a.policy)?;
    let size = parse_size(&a.size)?;
    let mae_sizes = parse_sizes(&a.mae_sizes)?;
    let (trace, load) = timed(|| input::load(&a.input));
    let trace = trace?;
    let n = trace.len() as u64;
    let mut report = Report {
        trace: input::display(&a.input),
        requests: n,
        objects: trace.n_objects() as u64,
        load_seconds: load,
        ..Default::default()
    };
    println!("{}: {} requests, {} objects; loaded in {:.2} s", report.trace, n, report.objects, load);
    let mut record = |what: String, secs: f64| {
        let t = Throughput { what, requests: n, seconds: secs, mreq_per_s: n as f64 / secs / 1e6 };
        println!("{:<32} {:>8.2} M req/s  ({:.3} s)", t.what, t.mreq_per_s, t.seconds);
        report.throughput.push(t);
    };
    for p in &policies {
        let (_, secs) = timed(|| simulate(&trace, p, size, SimOptions::default()));
        record(format!("sim {p} @ {}", a.size), secs);
    }
    // The exact MRC's pre-pass (previous access of every request) is cached
    // in the trace; time it once and charge it to both runs.
    let (_, prepass) = timed(|| trace.prev_access().len());
    for (unit, name) in [(Unit::Objects, "objects"), (Unit::Bytes, "bytes")] {
        let (_, secs) = timed(|| exact_mrc(&trace, unit, &mae_sizes, Warmup::None));
        record(format!("mrc exact ({name})"), prepass + secs);
    }
    if a.input.trace.is_some() {
        let mut r = input::reader(&a.input)?;
        let cfg = ShardsConfig { rate: a.rate, ..Default::default() };
        let (c, secs) = timed(|| shards_mrc(r.as_mut(), cfg, Unit::Bytes, &mae_sizes, Warmup::None, |_| {}));
        c?;
        record(format!("mrc shards R={} (streaming the file)", a.rate), secs);
    }
    if a.accuracy {
        let exact = exact_mrc(&trace, Unit::Bytes, &mae_sizes, Warmup::None);
        let mut acc = |what: String, m: &Mrc, reference: &Mrc| {
            let mae = m.mean_absolute_error(reference);
            println!("{:<32} MAE {:.5}", what, mae);
            report.accuracy.push(Accuracy { what, mae });
        };
        let mut r = input::reader(&a.input)?;
        let cfg = ShardsConfig { rate: a.rate, ..Default::default() };
        let shards = shards_mrc(r.as_mut(), cfg, Unit::Bytes, &mae_sizes, Warmup::None, |_| {})?;
        acc(format!("shards R={} vs exact", a.rate), &shards, &exact);
        let aet = aet_mrc(&trace, Unit::Bytes, &mae_sizes, Warmup::None);
        acc("aet vs exact".into(), &aet, &exact);
        let mut r = input::reader(&a.input)?;
        let sample = sample_trace(r.as_mut(), a.rate, |_| {})?;
        for name in ["arc", "s3fifo", "lru"] {
            let p = PolicySpec::parse(name)?;
            let full = simulate_many(&trace, std::slice::from_ref(&p), &mae_sizes, SimOptions::default(), &|_| {});
            let full = Mrc::from_sim(&p.to_string(), Unit::Bytes, &full);
            let mini = minisim_mrc(&sample, &p, Unit::Bytes, &mae_sizes, Warmup::None);
            acc(format!("minisim {name} R={} vs full sim", a.rate), &mini, &full);
        }
    }
    if let Some(p) = &a.json {
        write_json(&report, p)?;
    }
    Ok(())
}
