//! `memscale sim`.

use anyhow::{bail, Result};
use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate_many, SimOptions, Unit};
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
    let trace = input::load(&a.input)?;
    input::check_warmup(&trace, warmup, &a.input)?;
    let bar = progress::jobs((policies.len() * sizes.len()) as u64, "simulating");
    let results =
        simulate_many(&trace, &policies, &sizes, SimOptions { unit, warmup, user_reads_only: a.user_reads }, &|_| {
            bar.inc(1)
        });
    bar.finish_and_clear();

    println!("{} requests, {} objects, {} bytes requested", trace.len(), trace.n_objects(), trace.bytes_requested());
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
