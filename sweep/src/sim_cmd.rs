//! `memscale sim`.

use anyhow::{bail, Result};
use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate_stream, SimOptions, Unit};
use mrc::Mrc;

use crate::cli::SimArgs;
use crate::output::{size_label, write_json, write_sim_csv};
use crate::{input, progress};

pub fn run(a: SimArgs) -> Result<()> {
    let policies = PolicySpec::parse_list(&a.policy)?;
    let (sizes, unit, warmup) = input::sizes(&a.sizes)?;
    if unit == Unit::Objects && policies.iter().any(|p| matches!(p, PolicySpec::RocksDbLru(_))) {
        bail!("--unit objects: rocksdb-lru models a byte-charged cache; use --unit bytes");
    }
    for out in [&a.output.csv, &a.output.json, &a.output.plot] {
        input::prepare_output(out)?;
    }
    // One pass over the file: only per-object state is held, so a user
    // pays for reading the trace once and never for holding it (Belady,
    // which needs the future, loads it).
    let mut reader = input::reader(&a.input)?;
    let bar = progress::reading("simulating");
    let (results, read) = simulate_stream(
        reader.as_mut(),
        input::op_filter(&a.input),
        &policies,
        &sizes,
        SimOptions { unit, warmup, user_reads_only: a.user_reads },
        &mut |n| bar.set_position(n),
    )?;
    bar.finish_and_clear();
    if read.requests == 0 {
        bail!(
            "{}: the trace holds no requests{}",
            input::display(&a.input),
            if a.input.ops == crate::cli::OpsArg::Reads { " that are reads" } else { "" }
        );
    }
    if read.counted == 0 {
        bail!(
            "--warmup/--warmup-time: the warm-up covers all {} requests of {}; nothing would be counted",
            read.requests,
            input::display(&a.input)
        );
    }
    println!("{} requests, {} objects, {} bytes requested", read.requests, read.objects, read.bytes);
    println!("{:<28} {:>12} {:>12} {:>10} {:>10}", "policy", "cache size", "misses", "miss ratio", "byte mr");
    for r in &results {
        println!(
            "{:<28} {:>12} {:>12} {:>10.4} {:>10.4}",
            r.policy,
            size_label(r.cache_size, unit),
            r.misses,
            r.miss_ratio,
            r.byte_miss_ratio
        );
    }
    if let Some(p) = &a.output.csv {
        write_sim_csv(&results, p)?;
    }
    if let Some(p) = &a.output.json {
        write_json(&results, p)?;
    }
    if let Some(p) = &a.output.plot {
        let curves: Vec<Mrc> = policies.iter().map(|pol| Mrc::from_sim(&pol.to_string(), unit, &results)).collect();
        mrc::plot::plot(&curves, &format!("miss ratio: {}", input::display(&a.input)), p)?;
    }
    Ok(())
}
