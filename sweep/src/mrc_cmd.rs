//! `memscale mrc`.

use anyhow::Result;
use cachesim::policy::PolicySpec;
use cachesim::sim::Unit;
use cachesim::trace::dense::DenseTrace;
use mrc::aet::aet_mrc;
use mrc::exact::{exact_mrc, exact_tally};
use mrc::minisim::{minisim_mrc, sample_trace};
use mrc::shards::{shards_mrc, ShardsConfig};
use mrc::Mrc;

use crate::cli::{AlgoArg, MrcArgs};
use crate::output::size_label;
use crate::{input, progress};

pub fn run(a: MrcArgs) -> Result<()> {
    let (sizes, unit, warmup) = input::sizes(&a.sizes)?;
    let policy = PolicySpec::parse(&a.policy)?;
    if a.algo.iter().any(|x| matches!(x, AlgoArg::Shards | AlgoArg::Minisim)) {
        cachesim::sampling::threshold(a.rate)?;
    }
    for out in [&a.output.csv, &a.output.json, &a.output.plot] {
        input::prepare_output(out)?;
    }
    let needs_dense = a.full || a.algo.iter().any(|x| matches!(x, AlgoArg::Exact | AlgoArg::Aet));
    let dense: Option<DenseTrace> = if needs_dense { Some(input::load(&a.input)?) } else { None };
    if let Some(d) = &dense {
        input::check_warmup(d, warmup, &a.input)?;
    }
    let mut curves: Vec<Mrc> = Vec::new();
    for algo in &a.algo {
        let curve = match algo {
            AlgoArg::Exact => exact_mrc(dense_ref(&dense), unit, &sizes, warmup),
            AlgoArg::Aet => aet_mrc(dense_ref(&dense), unit, &sizes, warmup),
            AlgoArg::Shards => {
                let mut r = input::reader(&a.input)?;
                let bar = progress::reading("SHARDS");
                let cfg = ShardsConfig { rate: a.rate, max_samples: a.max_samples, adjust: true };
                let c = shards_mrc(r.as_mut(), cfg, unit, &sizes, warmup, |n| bar.set_position(n))?;
                bar.finish_and_clear();
                c
            }
            AlgoArg::Minisim => {
                let mut r = input::reader(&a.input)?;
                let bar = progress::reading("sampling");
                let sample = sample_trace(r.as_mut(), a.rate, |n| bar.set_position(n))?;
                bar.finish_and_clear();
                if sample.trace.is_empty() {
                    anyhow::bail!(
                        "{}: no object was sampled at rate {}; raise --rate",
                        input::display(&a.input),
                        a.rate
                    );
                }
                minisim_mrc(&sample, &policy, unit, &sizes, warmup)
            }
        };
        curves.push(curve);
    }
    print_table(&curves, unit);
    if a.full {
        let full = exact_tally(dense_ref(&dense), unit, &[], warmup).full_curve("exact-full");
        println!("\nfull exact curve ({} steps):", full.points.len());
        for p in &full.points {
            println!("{:>14} {:.6} {:.6}", size_label(p.cache_size, unit), p.miss_ratio, p.byte_miss_ratio);
        }
    }
    if let Some(p) = &a.output.csv {
        Mrc::write_csv(&curves, p)?;
    }
    if let Some(p) = &a.output.json {
        Mrc::write_json(&curves, p)?;
    }
    if let Some(p) = &a.output.plot {
        mrc::plot::plot(&curves, &format!("MRC: {}", input::display(&a.input)), p)?;
    }
    Ok(())
}

fn dense_ref(d: &Option<DenseTrace>) -> &DenseTrace {
    // `run` loads the trace whenever an algorithm needs it in memory.
    d.as_ref().expect("trace loaded for in-memory algorithms")
}

fn print_table(curves: &[Mrc], unit: Unit) {
    print!("{:>14}", "cache size");
    for c in curves {
        print!(" {:>22}", format!("{} mr/byte-mr", c.algo));
    }
    println!();
    let n = curves.first().map_or(0, |c| c.points.len());
    for i in 0..n {
        print!("{:>14}", size_label(curves[0].points[i].cache_size, unit));
        for c in curves {
            let p = c.points[i];
            print!(" {:>22}", format!("{:.4} / {:.4}", p.miss_ratio, p.byte_miss_ratio));
        }
        println!();
    }
}
