//! Nexmark queries on Flink: the query's SQL (`flink/sql/`, shared with
//! `scripts/flink_conformance.py`) over a rate-limited source with
//! memscale's event mix and key distributions, written to a blackhole sink.
//!
//! The source is a small Java job (`flink/java/`), compiled here with
//! `javac` against the distribution's own jars: Flink's nexmark connector
//! jar is on no registry this project can reach, and SQL's `datagen`
//! connector draws every field independently (no hot auctions, no bids on
//! auctions that exist). The Java source is a `DataGeneratorSource` over
//! event numbers, rate-limited, whose position is checkpointed: a job
//! resubmitted from a savepoint goes on with the next event.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::home::FlinkHome;
use crate::rest::RestClient;
use crate::FlinkError;

/// The Java job's entry class.
pub const ENTRY_CLASS: &str = "memscale.NexmarkJob";

const JAVA_SOURCES: [(&str, &str); 2] = [
    ("NexmarkGenerator.java", include_str!("../java/memscale/NexmarkGenerator.java")),
    ("NexmarkJob.java", include_str!("../java/memscale/NexmarkJob.java")),
];

const QUERIES: [(&str, &str); 22] = [
    ("q0", include_str!("../sql/q0.sql")),
    ("q1", include_str!("../sql/q1.sql")),
    ("q2", include_str!("../sql/q2.sql")),
    ("q3", include_str!("../sql/q3.sql")),
    ("q4", include_str!("../sql/q4.sql")),
    ("q5", include_str!("../sql/q5.sql")),
    ("q7", include_str!("../sql/q7.sql")),
    ("q8", include_str!("../sql/q8.sql")),
    ("q9", include_str!("../sql/q9.sql")),
    ("q10", include_str!("../sql/q10.sql")),
    ("q11", include_str!("../sql/q11.sql")),
    ("q12", include_str!("../sql/q12.sql")),
    ("q13", include_str!("../sql/q13.sql")),
    ("q14", include_str!("../sql/q14.sql")),
    ("q15", include_str!("../sql/q15.sql")),
    ("q16", include_str!("../sql/q16.sql")),
    ("q17", include_str!("../sql/q17.sql")),
    ("q18", include_str!("../sql/q18.sql")),
    ("q19", include_str!("../sql/q19.sql")),
    ("q20", include_str!("../sql/q20.sql")),
    ("q21", include_str!("../sql/q21.sql")),
    ("q22", include_str!("../sql/q22.sql")),
];

/// The queries that have Flink SQL here.
pub fn queries() -> impl Iterator<Item = &'static str> {
    QUERIES.iter().map(|(q, _)| *q)
}

/// The Flink SQL of `query` (its `--` comment lines dropped).
pub fn query_sql(query: &str) -> Result<String, FlinkError> {
    let (_, text) = QUERIES.iter().find(|(q, _)| *q == query).ok_or_else(|| {
        FlinkError::Invalid(format!(
            "--query {query}: no Flink SQL for it; queries on Flink: {}",
            queries().collect::<Vec<_>>().join(", ")
        ))
    })?;
    Ok(text.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n").trim().to_string())
}

/// A Nexmark job to submit: the query, the source's rate and generator
/// parameters, and the resources.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NexmarkJobSpec {
    /// Query name (`q20`).
    pub query: String,
    /// The generator's preset, by name (`default`, `large-state`).
    #[serde(default)]
    pub preset: String,
    /// Events per second: the source's limit and its event-time rate.
    pub rate: u64,
    /// Event time of event 0, ms since the epoch.
    pub base_time_ms: u64,
    /// Events in all (`None`: unbounded).
    pub events: Option<u64>,
    /// Auctions open at a time.
    pub in_flight_auctions: u64,
    /// People active at a time.
    pub active_people: u64,
    /// One in this many bids goes to a hot auction.
    pub hot_auction_ratio: u64,
    /// One in this many bids comes from a hot bidder.
    pub hot_bidder_ratio: u64,
    /// One in this many auctions comes from a hot seller.
    pub hot_seller_ratio: u64,
    /// RocksDB memory of every slot, bytes (block cache and write buffers;
    /// Flink gives the block cache 5/6 of it at its default write-buffer
    /// ratio 0.5).
    pub rocksdb_memory_per_slot: u64,
    /// Parallelism of every vertex but the source's (1).
    pub parallelism: u32,
    /// Key groups.
    pub max_parallelism: u32,
}

impl NexmarkJobSpec {
    /// The Java job's arguments.
    pub fn program_args(&self) -> Result<Vec<String>, FlinkError> {
        let mut args = vec![
            ("sql", query_sql(&self.query)?),
            ("name", format!("memscale {} at {}/s", self.query, self.rate)),
            ("rate", self.rate.to_string()),
            ("base-time", self.base_time_ms.to_string()),
            ("events", self.events.unwrap_or(0).to_string()),
            ("in-flight-auctions", self.in_flight_auctions.to_string()),
            ("active-people", self.active_people.to_string()),
            ("hot-auction-ratio", self.hot_auction_ratio.to_string()),
            ("hot-bidder-ratio", self.hot_bidder_ratio.to_string()),
            ("hot-seller-ratio", self.hot_seller_ratio.to_string()),
            ("rocksdb-memory-per-slot", self.rocksdb_memory_per_slot.to_string()),
            ("max-parallelism", self.max_parallelism.to_string()),
        ];
        Ok(args.drain(..).flat_map(|(k, v)| [format!("--{k}"), v]).collect())
    }

    /// Checks the values; the message names the option.
    pub fn validate(&self) -> Result<(), FlinkError> {
        query_sql(&self.query)?;
        let checks = [
            (self.rate == 0, "--rate must be at least 1 event/s"),
            (self.parallelism == 0, "--parallelism must be at least 1"),
            (self.rocksdb_memory_per_slot < (1 << 20), "--memory-per-slot must be at least 1MiB"),
            (self.parallelism > self.max_parallelism, "--parallelism must not exceed --max-parallelism"),
        ];
        match checks.iter().find(|(bad, _)| *bad) {
            Some((_, msg)) => Err(FlinkError::Invalid(msg.to_string())),
            None => Ok(()),
        }
    }
}

/// A submitted job: what memscale needs to find it again and to resubmit
/// it (memory changes go through a savepoint and a new job).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The job's id now.
    pub job_id: String,
    /// The uploaded jar's id on the cluster.
    pub jar_id: String,
    /// What was submitted (its memory and parallelism as of the last
    /// (re)submission).
    pub spec: NexmarkJobSpec,
    /// Events the sources emitted in the job's earlier incarnations
    /// (before the savepoints it was resubmitted from).
    #[serde(default)]
    pub events_before: u64,
    /// Ms since the epoch when the first incarnation was submitted.
    pub submitted_at_ms: u64,
}

impl Submission {
    /// Where the submission of `job` is kept under the cluster's folder.
    pub fn path(cluster_dir: &Path, job: &str) -> PathBuf {
        cluster_dir.join("jobs").join(format!("{job}.json"))
    }

    /// Writes it under the cluster's folder.
    pub fn save(&self, cluster_dir: &Path) -> Result<(), FlinkError> {
        let path = Submission::path(cluster_dir, &self.job_id);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(FlinkError::io(parent))?;
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&path, text).map_err(FlinkError::io(&path))
    }

    /// The submission of `job`, if memscale submitted it from `cluster_dir`.
    pub fn load(cluster_dir: &Path, job: &str) -> Result<Option<Submission>, FlinkError> {
        let path = Submission::path(cluster_dir, job);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| FlinkError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FlinkError::io(&path)(e)),
        }
    }
}

/// Compiles the Java job into `dir/memscale-nexmark.jar` (again only when
/// its sources changed).
pub fn build_jar(home: &FlinkHome, dir: &Path) -> Result<PathBuf, FlinkError> {
    let src = dir.join("java");
    let classes = dir.join("classes");
    let jar = dir.join("memscale-nexmark.jar");
    let stamp = dir.join("memscale-nexmark.sources");
    let fingerprint: String = JAVA_SOURCES.iter().map(|(n, s)| format!("{n}:{}\n", s.len() as u64 ^ hash(s))).collect();
    if jar.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == fingerprint) {
        return Ok(jar);
    }
    let pkg = src.join("memscale");
    std::fs::create_dir_all(&pkg).map_err(FlinkError::io(&pkg))?;
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::create_dir_all(&classes).map_err(FlinkError::io(&classes))?;
    let mut files = Vec::new();
    for (name, text) in JAVA_SOURCES {
        let p = pkg.join(name);
        std::fs::write(&p, text).map_err(FlinkError::io(&p))?;
        files.push(p);
    }
    let classpath = format!("{}/*", home.lib().display());
    run(
        "javac",
        Command::new("javac").args(["--release", "17", "-nowarn", "-cp", &classpath, "-d"]).arg(&classes).args(&files),
    )?;
    run("jar", Command::new("jar").arg("cf").arg(&jar).arg("-C").arg(&classes).arg("."))?;
    std::fs::write(&stamp, fingerprint).map_err(FlinkError::io(&stamp))?;
    Ok(jar)
}

/// FNV-1a: enough to tell whether the embedded sources changed.
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

fn run(program: &str, cmd: &mut Command) -> Result<(), FlinkError> {
    let out = cmd.output().map_err(|e| FlinkError::Io {
        path: program.into(),
        cause: std::io::Error::new(e.kind(), format!("{e} (a JDK 17 must be on PATH)")),
    })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        return Err(FlinkError::Command {
            program: program.into(),
            status: out.status.to_string(),
            output: text.chars().take(2000).collect(),
        });
    }
    Ok(())
}

/// Builds the jar if needed, uploads it and runs `spec` (from `savepoint`
/// if given); the new job's id and the jar's.
pub fn run_job(
    client: &RestClient,
    home: &FlinkHome,
    cluster_dir: &Path,
    spec: &NexmarkJobSpec,
    jar_id: Option<&str>,
    savepoint: Option<&str>,
) -> Result<(String, String), FlinkError> {
    spec.validate()?;
    let args = spec.program_args()?;
    let jar_id = match jar_id {
        Some(id) => id.to_string(),
        None => client.upload_jar(&build_jar(home, cluster_dir)?)?,
    };
    let job = client.run_jar(&jar_id, ENTRY_CLASS, &args, spec.parallelism, savepoint)?;
    Ok((job, jar_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> NexmarkJobSpec {
        NexmarkJobSpec {
            query: "q20".into(),
            preset: "default".into(),
            rate: 10_000,
            base_time_ms: 1_700_000_000_000,
            events: None,
            in_flight_auctions: 100,
            active_people: 1000,
            hot_auction_ratio: 2,
            hot_bidder_ratio: 4,
            hot_seller_ratio: 4,
            rocksdb_memory_per_slot: 64 << 20,
            parallelism: 1,
            max_parallelism: 128,
        }
    }

    #[test]
    fn every_query_has_a_select_and_unknown_ones_are_named() {
        for q in queries() {
            let sql = query_sql(q).unwrap();
            assert!(sql.starts_with("SELECT"), "{q}: {sql}");
        }
        let e = query_sql("q99").unwrap_err().to_string();
        assert!(e.contains("--query q99") && e.contains("q20"), "{e}");
    }

    #[test]
    fn a_spec_becomes_name_value_pairs_and_bad_values_name_their_option() {
        let args = spec().program_args().unwrap();
        assert_eq!(args.len() % 2, 0);
        let at = |k: &str| args.iter().position(|a| a == k).map(|i| args[i + 1].clone());
        assert_eq!(at("--rate").as_deref(), Some("10000"));
        assert_eq!(at("--events").as_deref(), Some("0"));
        assert!(at("--sql").unwrap().contains("INNER JOIN auction"));
        let bad = NexmarkJobSpec { rate: 0, ..spec() };
        assert!(bad.validate().unwrap_err().to_string().contains("--rate"));
        let bad = NexmarkJobSpec { parallelism: 200, ..spec() };
        assert!(bad.validate().unwrap_err().to_string().contains("--max-parallelism"));
    }

    #[test]
    fn a_submission_is_found_again_by_its_job() {
        let dir = tempfile::tempdir().unwrap();
        let s = Submission {
            job_id: "ab".repeat(16),
            jar_id: "x_memscale-nexmark.jar".into(),
            spec: spec(),
            events_before: 5,
            submitted_at_ms: 1,
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Submission::load(dir.path(), &s.job_id).unwrap(), Some(s));
        assert_eq!(Submission::load(dir.path(), "nope").unwrap(), None);
    }
}
