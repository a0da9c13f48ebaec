//! Opening the trace a command names, or the built-in workload.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cachesim::sim::{Unit, Warmup};
use cachesim::size::parse_sizes;
use cachesim::trace::csv::CsvSpec;
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::synthetic::{SyntheticSpec, SyntheticTrace};
use cachesim::trace::{open, Format, OpenOptions, TraceReader, VecReader};

use crate::cli::{FormatArg, InputArgs, OpsArg, SizeArgs, UnitArg};
use crate::progress;

/// The built-in workload used when no trace is given.
pub fn builtin_spec() -> SyntheticSpec {
    SyntheticSpec { requests: 2_000_000, objects: 200_000, ..SyntheticSpec::default() }
}

/// Opens the trace as a streaming reader.
pub fn reader(args: &InputArgs) -> Result<Box<dyn TraceReader>> {
    let Some(path) = &args.trace else {
        eprintln!("no trace given: using the built-in workload (Zipf 0.9, 2M requests, 200k objects, 512B-16KiB)");
        let reqs: Vec<_> = SyntheticTrace::new(builtin_spec())?.collect();
        return Ok(Box::new(VecReader::new(reqs)));
    };
    let format = match args.format {
        FormatArg::Auto => None,
        FormatArg::Oracle => Some(Format::Oracle),
        FormatArg::Csv => Some(Format::Csv),
        FormatArg::Rocksdb => Some(Format::RocksDb),
        FormatArg::Memscale => Some(Format::Memscale),
    };
    let csv = CsvSpec::parse(&args.csv_columns)?;
    Ok(open(path, &OpenOptions { format, csv })?)
}

/// Which requests count.
pub fn op_filter(args: &InputArgs) -> OpFilter {
    match args.ops {
        OpsArg::All => OpFilter::All,
        OpsArg::Reads => OpFilter::Reads,
    }
}

/// Reads the whole trace into memory, with a progress spinner.
pub fn load(args: &InputArgs) -> Result<DenseTrace> {
    let mut r = reader(args)?;
    let bar = progress::reading("reading trace");
    let trace = DenseTrace::load_with(r.as_mut(), op_filter(args), |_| true, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    if trace.is_empty() {
        anyhow::bail!(
            "{}: the trace holds no requests{}",
            display(args),
            if args.ops == OpsArg::Reads { " that are reads" } else { "" }
        );
    }
    Ok(trace)
}

/// The trace's name for messages.
pub fn display(args: &InputArgs) -> String {
    args.trace.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "<built-in workload>".into())
}

/// Sizes, unit and warm-up from the options.
pub fn sizes(args: &SizeArgs) -> Result<(Vec<u64>, Unit, Warmup)> {
    let sizes = parse_sizes(&args.sizes)?;
    let unit = match args.unit {
        UnitArg::Bytes => Unit::Bytes,
        UnitArg::Objects => Unit::Objects,
    };
    let warmup = match (args.warmup, args.warmup_time) {
        (Some(n), _) => Warmup::Requests(n),
        (None, Some(t)) => Warmup::Time(t),
        (None, None) => Warmup::None,
    };
    Ok((sizes, unit, warmup))
}

/// Refuses a warm-up that leaves no request to count.
pub fn check_warmup(trace: &DenseTrace, warmup: Warmup, args: &InputArgs) -> Result<()> {
    if warmup.start_index(trace) >= trace.len() {
        anyhow::bail!(
            "--warmup/--warmup-time: the warm-up covers all {} requests of {}; nothing would be counted",
            trace.len(),
            display(args)
        );
    }
    Ok(())
}

/// Makes sure an output file's directory exists.
pub fn prepare_output(path: &Option<PathBuf>) -> Result<()> {
    if let Some(p) = path {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", dir.display()))?;
        }
    }
    Ok(())
}
