//! `memscale flink up|down|status|submit|cancel`: a standalone Flink
//! cluster and Nexmark queries on it (the `flink` crate does the work).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Result};
use cachesim::size::{format_size, parse_size};
use flink::cluster::{self, ClusterConfig};
use flink::home::FlinkHome;
use flink::nexmark::{run_job, NexmarkJobSpec, Submission};
use flink::rest::RestClient;

use crate::cli::{FlinkCommand, FlinkSubmitArgs, FlinkUpArgs};
use crate::job::parse_duration;

/// Runs one `memscale flink` command.
pub fn run(c: FlinkCommand) -> Result<()> {
    match c {
        FlinkCommand::Up(a) => up(a),
        FlinkCommand::Down(a) => {
            let home = FlinkHome::find(a.flink_home.as_deref())?;
            cluster::down(&home, &a.dir)?;
            println!("stopped the cluster of {}", a.dir.display());
            Ok(())
        }
        FlinkCommand::Status(a) => status(&RestClient::new(&a.url)),
        FlinkCommand::Submit(a) => submit(a),
        FlinkCommand::Cancel(a) => {
            let client = RestClient::new(&a.url.url);
            let state = client.job(&a.job)?.state;
            if matches!(state.as_str(), "FINISHED" | "CANCELED" | "FAILED") {
                bail!("--job {}: the job is {state} already", a.job);
            }
            client.cancel(&a.job)?;
            println!("cancelled {}", a.job);
            Ok(())
        }
    }
}

fn up(a: FlinkUpArgs) -> Result<()> {
    let home = FlinkHome::find(a.dir.flink_home.as_deref())?;
    let memory = parse_size(&a.taskmanager_memory).map_err(|e| anyhow!("--taskmanager-memory: {e}"))?;
    if memory < 1 << 30 {
        bail!("--taskmanager-memory {}: Flink's task manager needs at least 1GiB", a.taskmanager_memory);
    }
    if a.slots == 0 {
        bail!("--slots 0: a task manager needs at least one slot");
    }
    let interval = parse_duration("--checkpoint-interval", &a.checkpoint_interval)?;
    let config = ClusterConfig {
        dir: a.dir.dir.clone(),
        rest_port: a.rest_port,
        rpc_port: a.rpc_port,
        slots: a.slots,
        taskmanager_memory: memory,
        checkpoint_interval_s: interval.as_secs().max(1),
    };
    eprintln!("starting Flink from {} into {}", home.root().display(), config.dir.display());
    let o = cluster::up(&home, &config)?;
    println!(
        "Flink {} at {}: {} task manager(s), {} slots; logs in {}",
        o.flink_version,
        config.url(),
        o.taskmanagers,
        o.slots_total,
        config.dir.join("log").display()
    );
    Ok(())
}

fn status(client: &RestClient) -> Result<()> {
    let o = client.overview()?;
    println!(
        "Flink {} at {}: {} task manager(s), {} of {} slots free, {} job(s) running",
        o.flink_version,
        client.base(),
        o.taskmanagers,
        o.slots_available,
        o.slots_total,
        o.jobs_running
    );
    for j in client.jobs()? {
        println!("{}  {:<9}  {}", j.jid, j.state, j.name);
        if j.state == "RUNNING" {
            for v in client.job(&j.jid)?.vertices {
                println!("    {} x{}  {}", v.id, v.parallelism, v.name);
            }
        }
    }
    Ok(())
}

/// The generator's parameters of a preset (the engine's, so that both
/// engines see the same key distributions).
fn preset_params(preset: &str) -> Result<engine::nexmark::NexmarkParams> {
    let p: engine::nexmark::Preset = preset.parse().map_err(|e: String| anyhow!("--preset: {e}"))?;
    Ok(engine::nexmark::NexmarkParams::preset(p, 0))
}

fn submit(a: FlinkSubmitArgs) -> Result<()> {
    let params = preset_params(&a.preset)?;
    let memory = parse_size(&a.memory_per_slot).map_err(|e| anyhow!("--memory-per-slot: {e}"))?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let spec = NexmarkJobSpec {
        query: a.query.clone(),
        preset: a.preset.clone(),
        rate: a.rate,
        base_time_ms: a.base_time.unwrap_or(now_ms),
        events: a.events,
        in_flight_auctions: params.in_flight_auctions as u64,
        active_people: params.active_people as u64,
        hot_auction_ratio: params.hot_auction_ratio as u64,
        hot_bidder_ratio: params.hot_bidder_ratio as u64,
        hot_seller_ratio: params.hot_seller_ratio as u64,
        rocksdb_memory_per_slot: memory,
        parallelism: a.parallelism,
        max_parallelism: a.max_parallelism,
    };
    spec.validate()?;
    let client = RestClient::new(&a.url.url);
    let o = client.overview()?;
    if a.parallelism > o.slots_total {
        bail!("--parallelism {}: the cluster at {} has {} slots", a.parallelism, a.url.url, o.slots_total);
    }
    let home = FlinkHome::find(a.dir.flink_home.as_deref())?;
    let (job, jar_id) = run_job(&client, &home, &a.dir.dir, &spec, None, None)?;
    Submission { job_id: job.clone(), jar_id, spec, events_before: 0, submitted_at_ms: now_ms }.save(&a.dir.dir)?;
    eprintln!(
        "{} ({}) at {} events/s, parallelism {}, RocksDB {} per slot: job {job}",
        a.query,
        a.preset,
        a.rate,
        a.parallelism,
        format_size(memory)
    );
    println!("{job}");
    Ok(())
}
