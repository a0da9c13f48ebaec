//! `memscale run` as users meet it: a small run leaves its summary,
//! snapshots and result rows; bad options fail with exit code 2 and name
//! what is wrong.

use std::path::Path;
use std::process::{Command, Output};

use engine::nexmark::{NexmarkParams, Preset};
use engine::queries::reference::reference;
use engine::queries::Query;

mod common;
use common::{fails_with, memscale};

fn run_in(dir: &Path, extra: &[&str]) -> Output {
    let out = dir.join("run");
    let mut args = vec![
        "run",
        "--events",
        "20000",
        "--metrics-addr",
        "off",
        "--control-addr",
        "off",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    memscale(&args)
}

#[test]
fn run_writes_summary_snapshots_and_the_final_result() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let results = dir.path().join("q20.csv");
    // Small write buffers: state reaches SST files, so the block cache works.
    let args = [
        "--query",
        "q20",
        "--parallelism",
        "2",
        "--write-buffer",
        "256KiB",
        "--count-user-reads",
        "--results",
        results.to_str().unwrap(),
    ];
    let out = run_in(dir.path(), &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("q20: 20000 events") && stdout.contains("join"), "{stdout}");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["events"], 20000);
    let join = summary["operators"].as_array().unwrap().iter().find(|o| o["name"] == "join").unwrap();
    assert_eq!(join["parallelism"], 2);
    assert!(join["hit_ratio"].as_f64().is_some(), "RocksDB state reports its block cache: {join}");
    // The operator's own reads, counted on its threads, are a part of what
    // RocksDB's tickers count (those add compaction's and flush's lookups).
    let n = |k: &str| join[k].as_u64().unwrap_or_else(|| panic!("no `{k}` in {join}"));
    assert!(n("user_hits") + n("user_misses") > 0, "{join}");
    assert!(n("user_hits") <= n("block_cache_hits") && n("user_misses") <= n("block_cache_misses"), "{join}");
    assert!(join["records_in"].as_u64().unwrap() > 18_000);
    assert!(join["useful_s"].as_f64().unwrap() > 0.0);
    let snapshots = std::fs::read_to_string(dir.path().join("run/metrics.csv")).unwrap();
    assert!(snapshots.starts_with("elapsed_s,operator,subtask,records_in"));
    assert!(snapshots.lines().count() >= 4, "one row per subtask at least once: {snapshots}");
    assert!(!dir.path().join("run/state").exists(), "the state directory is removed without --keep-state");

    // The result rows are the query's final result: the reference's rows.
    let csv = std::fs::read_to_string(&results).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), Query::Q20.columns().join(","));
    let want = reference(Query::Q20, &NexmarkParams::preset(Preset::Default, 20_000));
    assert!(!want.is_empty());
    assert_eq!(lines.count(), want.len());
}

#[test]
fn bad_options_exit_2_and_say_why() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    fails_with(&run_in(dir.path(), &["--query", "q6"]), &["--query", "unknown query `q6`", "q20"]);
    fails_with(&run_in(dir.path(), &["--parallelism", "200"]), &["--parallelism", "200", "1..=128"]);
    fails_with(&run_in(dir.path(), &["--parallelism", "window=2"]), &["no operator `window`", "source, join"]);
    fails_with(&run_in(dir.path(), &["--cache", "0"]), &["--cache", "0 bytes"]);
    let out = dir.path().join("run");
    fails_with(&memscale(&["run", "--duration", "soon", "--out", out.to_str().unwrap()]), &["--duration", "soon"]);
    fails_with(&run_in(dir.path(), &["--preset", "huge"]), &["--preset", "huge"]);
    let tmpfs = engine::state::direct_io::find_tmpfs().expect("no writable tmpfs mount here: cannot test the refusal");
    let shm = tempfile::tempdir_in(tmpfs).unwrap();
    fails_with(&run_in(dir.path(), &["--state-dir", shm.path().to_str().unwrap()]), &["tmpfs"]);
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    fails_with(
        &memscale(&["run", "--events", "10", "--metrics-addr", &addr, "--out", out.to_str().unwrap()]),
        &["--metrics-addr", &addr, "in use"],
    );
    // Rescale and resize schedules are checked before the job starts.
    fails_with(&run_in(dir.path(), &["--rescale", "1s:join=0"]), &["--rescale join=0", "1..=128"]);
    fails_with(&run_in(dir.path(), &["--rescale", "1s:join=129"]), &["--rescale join=129"]);
    fails_with(
        &run_in(dir.path(), &["--rescale", "1s:window=2"]),
        &["--rescale", "no operator `window`", "source, join"],
    );
    fails_with(&run_in(dir.path(), &["--rescale", "join=2"]), &["--rescale", "TIME:OPERATOR=VALUE"]);
    fails_with(&run_in(dir.path(), &["--rescale", "1s:source=2"]), &["--rescale", "sources keep"]);
    fails_with(&run_in(dir.path(), &["--resize", "1s:join=0"]), &["--resize join=0", "below 1MiB"]);
    fails_with(&run_in(dir.path(), &["--migration-batch", "0"]), &["--migration-batch"]);
    fails_with(
        &memscale(&[
            "run",
            "--events",
            "10",
            "--metrics-addr",
            "off",
            "--control-addr",
            &addr,
            "--out",
            out.to_str().unwrap(),
        ]),
        &["--control-addr", &addr, "in use"],
    );
    // State left by an earlier run is not silently reused.
    let state = dir.path().join("old-state");
    std::fs::create_dir_all(state.join("join")).unwrap();
    fails_with(&run_in(dir.path(), &["--state-dir", state.to_str().unwrap()]), &["not empty", "old-state"]);
}

/// A run rescaled and resized by schedule and through the control
/// endpoint gives the query's exact result; the endpoint answers bad
/// requests with the status and a reason, and the job runs on.
#[test]
fn rescaled_runs_keep_their_results_and_the_endpoint_answers() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let results = dir.path().join("q20.csv");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let out = dir.path().join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_memscale"))
        .args(["run", "--query", "q20", "--events", "40000", "--rate", "10000", "--write-buffer", "256KiB"])
        .args(["--rescale", "1s:join=3,2s:join=2", "--resize", "1500ms:join=8MiB", "--strategy", "stop-the-world"])
        .args(["--metrics-addr", "off", "--control-addr", &addr, "--out", out.to_str().unwrap()])
        .args(["--results", results.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let http = |method: &str, path: &str, body: &str| -> (u16, serde_json::Value) {
        use std::io::{Read, Write};
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut s = loop {
            match std::net::TcpStream::connect(&addr) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() > deadline => panic!("control endpoint {addr}: {e}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let json = text.split("\r\n\r\n").nth(1).and_then(|b| serde_json::from_str(b).ok()).unwrap_or_default();
        (status, json)
    };
    let (status, ops) = http("GET", "/operators", "");
    assert_eq!(status, 200);
    assert_eq!(ops.as_array().map(|a| a.len()), Some(2), "{ops}");
    let (status, e) = http("PUT", "/operators/join/parallelism", "{not json");
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("not JSON"), "{e}");
    let (status, e) = http("PUT", "/operators/nope/parallelism", r#"{"parallelism": 2}"#);
    assert_eq!(status, 404, "{e}");
    assert!(e["error"].as_str().unwrap().contains("unknown operator `nope`"), "{e}");
    let (status, e) = http("PUT", "/operators/join/parallelism", r#"{"parallelism": 0}"#);
    assert_eq!(status, 400, "{e}");
    let (status, e) = http("PUT", "/operators/join/memory", r#"{"cache": 0}"#);
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("below the minimum of 1 MiB"), "{e}");
    let (status, e) = http("GET", "/nowhere", "");
    assert_eq!(status, 404, "{e}");
    let (status, job) = http("GET", "/job", "");
    assert_eq!(status, 200);
    assert!(job["operators"].is_array() && job["busy"].is_boolean(), "{job}");
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{err}");
    assert!(err.contains("rescale join 1→3 (stop-the-world)") && err.contains("rescale join 3→2"), "{err}");
    assert!(err.contains("resize join: cache 64MiB → 8MiB"), "{err}");
    let changes: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("rescales.json")).unwrap()).unwrap();
    let changes = changes.as_array().unwrap();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes[0]["key_groups_moved"].as_u64().unwrap() > 0);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["rescale"]["rescales"], 2);
    let join = summary["operators"].as_array().unwrap().iter().find(|o| o["name"] == "join").unwrap();
    assert_eq!((join["parallelism"].as_u64(), join["cache_capacity"].as_u64()), (Some(2), Some(8 << 20)));
    // Without --count-user-reads the operators' own reads are not counted:
    // unknown, not zero.
    assert!(join["user_hits"].is_null() && join["user_misses"].is_null(), "{join}");
    let want = reference(Query::Q20, &NexmarkParams::preset(Preset::Default, 40_000));
    let csv = std::fs::read_to_string(&results).unwrap();
    assert_eq!(csv.lines().count() - 1, want.len(), "the rescaled run's result rows");
}

#[test]
fn profile_predicts_the_hit_ratio_it_measured() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = dir.path().join("profile");
    let o = memscale(&[
        "profile",
        "--query",
        "q20",
        "--events",
        "60000",
        "--preset",
        "large-state",
        "--cache",
        "2MiB",
        "--write-buffer",
        "256KiB",
        "--sizes",
        "64KiB..16MiB:4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The run's two charts, then per operator its hit ratio, key-level hit
    // ratio and throughput; the top names what the operator wants.
    let text = common::check_report(&out.join("report.html"), 5);
    assert!(text.contains("join wants") || text.contains("join is memory-bound and wants"), "{text}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("join wants "), "the console ends with the size the operator wants: {stdout}");
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("profile.json")).unwrap()).unwrap();
    let join = &p["operators"][0];
    assert_eq!(join["name"], "join");
    let measured = join["measured_hit_ratio"].as_f64().expect("RocksDB counted lookups");
    let predicted = join["model_hit_ratio_at_run"].as_f64().unwrap();
    // The block trace replayed through the LRUCache model at the run's own
    // size gives back what RocksDB's statistics counted.
    assert!((measured - predicted).abs() < 0.02, "measured {measured:.4}, model {predicted:.4}");
    // The trace holds the lookups the statistics count (background
    // compactions racing the tracer's end may add a handful).
    let (counted, traced) = (join["lookups"].as_u64().unwrap(), join["traced_lookups"].as_u64().unwrap());
    assert!(counted > 1000 && counted.abs_diff(traced) * 1000 <= counted, "counted {counted}, traced {traced}");
    // The run phase by phase: every event in some phase, and each size's
    // added read time given per phase; 64 KiB, far below the working set,
    // adds reads that 16 MiB does not.
    let phases = p["phases"].as_array().expect("phases");
    assert!(!phases.is_empty());
    let events: u64 = phases.iter().map(|ph| ph["events"].as_u64().unwrap()).sum();
    assert_eq!(events, p["run"]["events"].as_u64().unwrap());
    let points = join["points"].as_array().unwrap();
    let added = |i: usize| -> f64 {
        let e = points[i]["phase_extra_s"].as_array().unwrap();
        assert_eq!(e.len(), phases.len());
        e.iter().map(|x| x.as_f64().unwrap()).sum()
    };
    assert!(added(0) > added(3), "64 KiB adds {} s, 16 MiB {} s", added(0), added(3));
    let csv = std::fs::read_to_string(out.join("profile.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4);
    assert!(!out.join("blocktrace").exists(), "traces are removed unless --keep-traces");
}

#[test]
fn profile_without_a_query_profiles_a_job_whose_memory_matters() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = dir.path().join("profile");
    let o = memscale(&["profile", "--duration", "4s", "--sizes", "1MiB..64MiB:7:log", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no --query: profiling q19 at the large-state preset"));
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("profile.json")).unwrap()).unwrap();
    assert_eq!(p["query"], "q19");
    assert_eq!(p["target_hit_ratio"], 0.85);
    let topn = &p["operators"][0];
    assert_eq!((topn["name"].as_str(), topn["cache_size"].as_u64()), (Some("topn"), Some(16 << 20)));
    let sizes: Vec<u64> =
        topn["points"].as_array().unwrap().iter().map(|p| p["cache_size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, (0..7).map(|e| 1u64 << (20 + e)).collect::<Vec<_>>(), "log-spaced sizes");
    common::check_report(&out.join("report.html"), 5);
}

#[test]
fn a_sweep_started_again_runs_only_what_is_missing() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = dir.path().join("sweep");
    let args =
        ["sweep", "--query", "q20", "--events", "20000", "--sizes", "2MiB,4MiB", "--write-buffer", "256KiB", "--out"];
    let first = memscale(&[&args[..], &[out.to_str().unwrap()]].concat());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let rows = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = rows.lines();
    let header = lines.next().unwrap();
    for col in [
        "cache_size",
        "write_buffer_size",
        "throughput",
        "measured_hit_ratio",
        "predicted_hit_ratio",
        "state_p99_us",
        "disk_read_bytes",
    ] {
        assert!(header.split(',').any(|c| c == col), "column {col} missing from {header}");
    }
    // Every run measured what the profile predicted: the hit ratio within
    // 0.03 (RocksDB's own counters against the LRUCache model). Throughput
    // is only checked to be there: runs of 20,000 events take a fraction of
    // a second, where start-up and the other tests' load dominate (a
    // factor-of-two bound failed once in a full suite).
    let col = |name: &str| header.split(',').position(|c| c == name).unwrap();
    let mut runs = 0;
    for line in lines {
        let cells: Vec<f64> = line.split(',').map(|c| c.parse().unwrap_or(f64::NAN)).collect();
        let (hm, hp) = (cells[col("measured_hit_ratio")], cells[col("predicted_hit_ratio")]);
        assert!(hm > 0.5 && (hm - hp).abs() < 0.03, "measured {hm}, predicted {hp}: {line}");
        let (tm, tp) = (cells[col("throughput")], cells[col("predicted_throughput")]);
        assert!(tm > 0.0 && tp > 0.0, "throughput {tm}, predicted {tp}: {line}");
        runs += 1;
    }
    assert_eq!(runs, 2);
    common::check_report(&out.join("report.html"), 2);
    // `--cache` names a sweep's sizes as `--sizes` does: the same sweep.
    let same =
        ["sweep", "--query", "q20", "--events", "20000", "--cache", "2MiB,4MiB", "--write-buffer", "256KiB", "--out"];
    let again = memscale(&[&same[..], &[out.to_str().unwrap()]].concat());
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("reusing the profile") && err.contains("2 of 2 runs already done"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("sweep.csv")).unwrap(), rows, "nothing re-run, nothing lost");
    assert!(out.join("report.html").exists());
    let other =
        ["sweep", "--query", "q20", "--events", "30000", "--sizes", "2MiB,4MiB", "--write-buffer", "256KiB", "--out"];
    let mixed = memscale(&[&other[..], &[out.to_str().unwrap()]].concat());
    fails_with(&mixed, &["profile.json", "other run options"]);
    assert_eq!(std::fs::read_to_string(out.join("sweep.csv")).unwrap(), rows, "a refused sweep changes nothing");
    // The profile's write buffer is part of what it predicts from.
    let wb =
        ["sweep", "--query", "q20", "--events", "20000", "--sizes", "2MiB,4MiB", "--write-buffer", "1MiB", "--out"];
    fails_with(
        &memscale(&[&wb[..], &[out.to_str().unwrap()]].concat()),
        &["profile.json", "write buffer (64MiB at 256KiB)"],
    );
}

/// A query without keyed state (q14) has no cache to model: its profile
/// says so instead of printing an empty table, and a sweep of it is
/// refused with exit code 2.
#[test]
fn stateless_queries_are_profiled_in_words_and_not_swept() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = dir.path().join("profile");
    let o = memscale(&["profile", "--query", "q14", "--events", "20000", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("q14 keeps no keyed state"), "{stdout}");
    assert!(!stdout.contains("miss_cost"), "an empty table: {stdout}");
    let sweep = dir.path().join("sweep");
    fails_with(
        &memscale(&["sweep", "--query", "q14", "--events", "20000", "--out", sweep.to_str().unwrap()]),
        &["--query q14 keeps no keyed state"],
    );
}
