//! Every policy libCacheSim also has (FIFO, CLOCK, ARC, 2Q, S3-FIFO, SIEVE,
//! LFU, Belady), checked against the `libcachesim`
//! PyPI package on the shipped CloudPhysics trace at 128 MiB..1 GiB.
//!
//! The peer runs for real: the test needs a Python with `libcachesim`
//! (`.venv/bin/python` at the project root, which `scripts/setup.sh` creates, or the
//! interpreter named by `MEMSCALE_PEER_PYTHON`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate_many, SimOptions};

fn peer_python() -> PathBuf {
    if let Ok(p) = std::env::var("MEMSCALE_PEER_PYTHON") {
        return p.into();
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: create it with `python3 -m venv .venv && .venv/bin/pip install libcachesim` (or run scripts/setup.sh)",
        p.display()
    );
    p
}

#[derive(serde::Deserialize)]
struct Reference {
    policy: String,
    cache_size: u64,
    misses: u64,
    byte_misses: u64,
}

/// Runs the peer on `trace_path` and compares every policy at `sizes`.
fn compare(trace_path: &std::path::Path, trace: &cachesim::trace::dense::DenseTrace, sizes: &[u64]) {
    let names = ["fifo", "clock", "arc", "2q", "s3fifo", "sieve", "lfu", "belady"];
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/libcachesim_ref.py");
    let out = Command::new(peer_python())
        .arg(&script)
        .arg(trace_path)
        .arg(names.join(","))
        .arg(sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","))
        .output()
        .expect("run the libcachesim peer");
    assert!(out.status.success(), "peer failed: {}", String::from_utf8_lossy(&out.stderr));
    let refs: Vec<Reference> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("peer JSON")).collect();
    assert_eq!(refs.len(), names.len() * sizes.len());
    let policies: Vec<PolicySpec> = names.iter().map(|n| PolicySpec::parse(n).unwrap()).collect();
    let ours = simulate_many(trace, &policies, sizes, SimOptions::default(), &|_| {});
    let mut failures = Vec::new();
    for (r, o) in refs.iter().zip(&ours) {
        assert_eq!((r.cache_size, PolicySpec::parse(&r.policy).unwrap().to_string()), (o.cache_size, o.policy.clone()));
        if (r.misses, r.byte_misses) != (o.misses, o.byte_misses) {
            failures.push(format!(
                "{} at {} bytes: libCacheSim {} misses / {} bytes, memscale {} / {}",
                r.policy, r.cache_size, r.misses, r.byte_misses, o.misses, o.byte_misses
            ));
        }
    }
    assert!(failures.is_empty(), "{}: mismatches:\n{}", trace_path.display(), failures.join("\n"));
}

#[test]
fn policies_match_libcachesim() {
    let sizes: Vec<u64> = (1..=8).map(|k| k * (128 << 20)).collect();
    compare(&common::cloudphysics_path(), &common::cloudphysics(), &sizes);
}

/// A second workload, written by our oracleGeneral writer and read by
/// libCacheSim's reader: Zipf with scans, where LFU and SIEVE differ.
#[test]
fn policies_match_libcachesim_on_zipf_with_scans() {
    use cachesim::trace::synthetic::{SyntheticSpec, SyntheticTrace};
    let spec = SyntheticSpec {
        requests: 300_000,
        objects: 30_000,
        scan_fraction: 0.1,
        scan_length: 300,
        ..Default::default()
    };
    let reqs: Vec<_> = SyntheticTrace::new(spec).unwrap().collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zipf.oracleGeneral.bin");
    let mut w = cachesim::trace::oracle::OracleWriter::create(&path);
    reqs.iter().for_each(|r| w.write(r));
    w.finish().unwrap();
    let trace = cachesim::trace::dense::DenseTrace::from_requests(&reqs);
    // Small sizes too: there LFU and SIEVE part ways (at large ones they converge).
    compare(&path, &trace, &[1 << 20, 4 << 20, 16 << 20, 64 << 20]);
}
