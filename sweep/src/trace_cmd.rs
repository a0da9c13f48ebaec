//! `memscale trace info | convert | gen`.

use std::path::Path;

use anyhow::{Context, Result};
use cachesim::request::Request;
use cachesim::size::{format_size, parse_size};
use cachesim::trace::csv::CsvWriter;
use cachesim::trace::memscale::{Header, KeyAccess, MemscaleWriter, OperatorName};
use cachesim::trace::oracle::OracleWriter;
use cachesim::trace::stats::summarize;
use cachesim::trace::synthetic::{Popularity, SyntheticSpec, SyntheticTrace};
use cachesim::trace::TraceReader;

use crate::cli::{DistArg, GenArgs, OutFormatArg, TraceCommand};
use crate::{input, progress};

pub fn run(cmd: TraceCommand) -> Result<()> {
    match cmd {
        TraceCommand::Info { input, json } => info(&input, json),
        TraceCommand::Convert { input, output, to } => {
            input::prepare_output(&Some(output.clone()))?;
            let mut r = input::reader(&input)?;
            let rate = r.sample_rate();
            let bar = progress::reading("converting");
            let mut req = Request::default();
            let mut requests = Vec::new();
            while r.read(&mut req)? {
                requests.push(req);
                if requests.len() & 0xfffff == 0 {
                    bar.set_position(requests.len() as u64);
                }
            }
            bar.finish_and_clear();
            // Block traces name their column families as they go: ask at the end.
            let names = r.stream_names();
            let n = write(&requests, &output, to, &names, rate)?;
            println!("wrote {n} requests to {} ({:?})", output.display(), to);
            Ok(())
        }
        TraceCommand::Gen(g) => generate(g),
    }
}

fn info(input: &crate::cli::InputArgs, json: bool) -> Result<()> {
    let mut r = input::reader(input)?;
    let bar = progress::reading("reading trace");
    let st = summarize(r.as_mut(), |n| bar.set_position(n))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(());
    }
    println!("trace          {} ({})", st.path, st.format);
    println!("requests       {}", st.requests);
    println!("objects        {}", st.objects);
    println!("bytes          {} ({})", st.bytes_requested, format_size(st.bytes_requested));
    println!("working set    {} ({})", st.working_set_bytes, format_size(st.working_set_bytes));
    println!(
        "time span      {} .. {} ({} units)",
        st.first_time,
        st.last_time,
        st.last_time.saturating_sub(st.first_time)
    );
    if st.sample_rate < 1.0 {
        println!("sample rate    {}", st.sample_rate);
    }
    println!("sizes          min {} / mean {:.1} / max {}", st.sizes.min, st.sizes.mean, st.sizes.max);
    for (bound, count) in &st.sizes.histogram {
        println!(
            "  <= {:>10}  {:>12}  {:5.1}%",
            format_size(*bound),
            count,
            100.0 * *count as f64 / st.requests as f64
        );
    }
    let ops: Vec<String> = st.ops.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("operations     {}", ops.join(", "));
    if let Some(h) = st.recorded_hits {
        println!("recorded hits  {} ({:.4} hit ratio)", h, h as f64 / st.requests as f64);
    }
    if st.streams.len() > 1 || st.streams.iter().any(|s| s.name.is_some()) {
        println!("per stream (operator / column family):");
        println!("  {:>6} {:<24} {:>12} {:>10} {:>12}", "id", "name", "requests", "objects", "working set");
        for s in &st.streams {
            println!(
                "  {:>6} {:<24} {:>12} {:>10} {:>12}",
                s.id,
                s.name.as_deref().unwrap_or("-"),
                s.requests,
                s.objects,
                format_size(s.working_set_bytes)
            );
        }
    }
    Ok(())
}

fn write(requests: &[Request], out: &Path, to: OutFormatArg, names: &[(u32, String)], rate: f64) -> Result<u64> {
    match to {
        OutFormatArg::Oracle => {
            let mut w = OracleWriter::create(out);
            requests.iter().for_each(|r| w.write(r));
            Ok(w.finish()?)
        }
        OutFormatArg::Csv => {
            let mut w = CsvWriter::create(out)?;
            for r in requests {
                w.write(r)?;
            }
            w.finish()?;
            Ok(requests.len() as u64)
        }
        OutFormatArg::Memscale => {
            let header = Header {
                sample_rate: rate,
                time_base_us: 0,
                operators: names.iter().map(|(id, name)| OperatorName { id: *id, name: name.clone() }).collect(),
            };
            let mut w = MemscaleWriter::create(out, &header, out.extension().is_some_and(|e| e == "zst"))?;
            for r in requests {
                let operator = u16::try_from(r.tags.stream).with_context(|| {
                    format!("stream id {} does not fit a memscale trace (at most 65535)", r.tags.stream)
                })?;
                w.write(&KeyAccess {
                    time_us: r.time,
                    key_hash: r.id,
                    value_len: r.size,
                    key_len: 0,
                    key_group: r.tags.key_group,
                    operator,
                    subtask: r.tags.subtask,
                    op: r.op,
                })?;
            }
            Ok(w.finish()?)
        }
    }
}

fn generate(g: GenArgs) -> Result<()> {
    let spec = SyntheticSpec {
        requests: g.requests,
        objects: g.objects,
        popularity: match g.dist {
            DistArg::Zipf => Popularity::Zipf(g.alpha),
            DistArg::Uniform => Popularity::Uniform,
        },
        min_size: u32::try_from(parse_size(&g.min_size)?).context("--min-size above 4 GiB")?,
        max_size: u32::try_from(parse_size(&g.max_size)?).context("--max-size above 4 GiB")?,
        scan_fraction: g.scan_fraction,
        scan_length: g.scan_length,
        seed: g.seed,
    };
    input::prepare_output(&Some(g.output.clone()))?;
    let bar = progress::reading("generating");
    let gen = SyntheticTrace::new(spec)?;
    let requests: Vec<Request> = gen
        .inspect(|_| {
            bar.inc(1);
        })
        .collect();
    bar.finish_and_clear();
    let n = write(&requests, &g.output, g.to, &[], 1.0)?;
    println!("wrote {n} requests to {}", g.output.display());
    Ok(())
}
