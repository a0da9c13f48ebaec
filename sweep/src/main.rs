//! `memscale`: the command line of memscale. Thin: it parses options, opens
//! traces, calls the libraries and writes results.

mod autoscale;
mod bench;
mod cache_model;
mod cli;
mod compare_cmd;
mod flink_cmd;
mod input;
mod job;
mod mrc_cmd;
mod nexmark_cmd;
mod output;
mod profile_cmd;
mod progress;
mod report;
mod run_cmd;
mod schedule;
mod sim_cmd;
mod sweep_cmd;
mod trace_cmd;

use std::process::ExitCode;

use clap::Parser;

/// The engine's threads allocate rows, keys and values at every record:
/// glibc's malloc and free were about 12% of a q17 profile's samples, and
/// mimalloc frees to thread-local pages instead (docs/BENCHMARKS.md).
/// RocksDB's C++ side keeps glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the process quietly,
    // as with any Unix tool, instead of failing a print.
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Sim(a) => sim_cmd::run(a),
        cli::Command::Mrc(a) => mrc_cmd::run(a),
        cli::Command::Trace(t) => trace_cmd::run(t),
        cli::Command::Bench(a) => bench::run(a),
        cli::Command::Run(a) => run_cmd::run(a),
        cli::Command::Profile(a) => profile_cmd::run(a),
        cli::Command::Sweep(a) => sweep_cmd::run(a),
        cli::Command::Autoscale(a) => autoscale::run(a),
        cli::Command::Compare(a) => compare_cmd::run(a),
        cli::Command::Nexmark(cli::NexmarkCommand::Export(a)) => nexmark_cmd::export(a),
        cli::Command::Flink(c) => flink_cmd::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// 1 for a failure while a job ran (a subtask failed: a full disk, an I/O
/// error of RocksDB); 2 for everything the command line reports about its
/// input (a file, an option, where results go), as for usage errors.
fn exit_code(e: &anyhow::Error) -> u8 {
    use engine::runtime::EngineError;
    let at_run_time = e.chain().any(|c| {
        matches!(c.downcast_ref::<EngineError>(), Some(EngineError::Operator { .. } | EngineError::Thread(_)))
    });
    if at_run_time {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::runtime::EngineError;

    #[test]
    fn failures_at_run_time_exit_1_and_bad_input_2() {
        let run = anyhow::Error::from(EngineError::Thread("subtask join-0 panicked".into())).context("running q20");
        assert_eq!(exit_code(&run), 1);
        assert_eq!(exit_code(&anyhow::Error::from(EngineError::Config("bad graph".into()))), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("--rate 0: must be positive")), 2);
    }
}
