//! The command line as users meet it: results, output files, and clear
//! errors with exit code 2 on bad input.

use std::path::{Path, PathBuf};

mod common;
use common::{fails_with, memscale};

fn cloudphysics() -> String {
    cachesim::trace::golden_trace_path().display().to_string()
}

#[test]
fn sim_writes_documented_csv_with_golden_lru() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("out/sim.csv");
    let json = dir.path().join("sim.json");
    let plot = dir.path().join("sim.svg");
    let out = memscale(&[
        "sim",
        &cloudphysics(),
        "--policy",
        "lru,fifo",
        "--sizes",
        "128MiB..1GiB:8",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("policy,cache_size,requests,misses,miss_ratio,bytes_requested,byte_misses,byte_miss_ratio")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&first[..4], &["lru", "134217728", "113872", "93374"]);
    assert_eq!(first[6], "4214303232");
    assert_eq!(text.lines().count(), 17);
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 16);
}

#[test]
fn mrc_exact_csv_matches_sim() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("mrc.csv");
    let png = dir.path().join("mrc.png");
    let out = memscale(&[
        "mrc",
        &cloudphysics(),
        "--algo",
        "exact",
        "--sizes",
        "128MiB,1GiB",
        "--csv",
        csv.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "algo,cache_size,miss_ratio,byte_miss_ratio");
    // 93374 / 113872 and 71704 / 113872.
    assert!(lines[1].starts_with("exact,134217728,0.819991,"), "{}", lines[1]);
    assert!(lines[2].starts_with("exact,1073741824,0.629689,"), "{}", lines[2]);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = write(dir.path(), "cut.oracleGeneral.bin", &[1u8; 30]);
    fails_with(
        &memscale(&["sim", &truncated, "--sizes", "1MiB"]),
        &["cut.oracleGeneral.bin", "byte offset 24", "truncated"],
    );
    fails_with(&memscale(&["mrc", &truncated, "--algo", "shards", "--sizes", "1MiB"]), &["byte offset 24"]);
    fails_with(&memscale(&["trace", "info", &truncated]), &["byte offset 24"]);
    let empty = write(dir.path(), "empty.oracleGeneral.bin", b"");
    fails_with(&memscale(&["sim", &empty, "--sizes", "1MiB"]), &["empty.oracleGeneral.bin", "no requests"]);
    fails_with(&memscale(&["trace", "info", &empty]), &["no requests"]);
    let cp = cloudphysics();
    fails_with(&memscale(&["sim", &cp, "--sizes", "0"]), &["--sizes", "0"]);
    fails_with(&memscale(&["sim", &cp, "--sizes", "12XB"]), &["--sizes", "unknown unit"]);
    fails_with(&memscale(&["sim", &cp, "--sizes", "1MiB", "--policy", "lru,nope"]), &["unknown policy `nope`"]);
    fails_with(&memscale(&["sim", &cp, "--sizes", "1MiB", "--policy", "clock:bits=99"]), &["bits=99"]);
    fails_with(&memscale(&["sim", &cp, "--format", "memscale", "--sizes", "1MiB"]), &["bad magic"]);
    fails_with(&memscale(&["sim", &cp, "--format", "rocksdb", "--sizes", "1MiB"]), &["feedcafedeadbeef"]);
    fails_with(&memscale(&["sim", &cp, "--format", "csv", "--sizes", "1MiB"]), &["cloudPhysicsIO"]);
    fails_with(&memscale(&["sim", &cp, "--format", "parquet"]), &["parquet"]);
    fails_with(&memscale(&["mrc", &cp, "--algo", "shards", "--rate", "0"]), &["--rate"]);
    fails_with(&memscale(&["sim", &cp, "--sizes", "1GiB", "--warmup", "200000"]), &["--warmup", "113872"]);
    fails_with(&memscale(&["mrc", &cp, "--algo", "shards", "--warmup", "200000"]), &["--warmup", "113872"]);
    let missing = memscale(&["sim", "/nonexistent/trace.bin"]);
    fails_with(&missing, &["/nonexistent/trace.bin"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "the cause said once: {err}");
    let mystery = write(dir.path(), "mystery", &[0xff, 0, 1, 2]);
    fails_with(&memscale(&["trace", "info", &mystery]), &["mystery", "--format"]);
    fails_with(&memscale(&["sim", &cp, "--sizes", "1MiB", "--csv", "/proc/memscale/x.csv"]), &["/proc/memscale"]);
    let sweep = dir.path().join("sweep").display().to_string();
    fails_with(&memscale(&["sweep", "--cache", "8MiB", "--sizes", "16MiB", "--out", &sweep]), &["--cache and --sizes"]);
    fails_with(
        &memscale(&["sweep", "--cache", "join=8MiB", "--out", &sweep]),
        &["--cache `join=8MiB`", "per-operator"],
    );
    fails_with(&memscale(&["sweep", "--cache", "8MiB..512MiB", "--out", &sweep]), &["--cache: range", "needs a count"]);
    fails_with(&memscale(&["sweep", "--sizes", "512KiB", "--out", &sweep]), &["at least 1MiB"]);
    assert!(!Path::new(&sweep).exists(), "a refused sweep writes nothing");
}

#[test]
fn convert_and_gen_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let gen = dir.path().join("g.csv");
    let out = memscale(&[
        "trace",
        "gen",
        "-o",
        gen.to_str().unwrap(),
        "--to",
        "csv",
        "--requests",
        "5000",
        "--objects",
        "300",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ora = dir.path().join("g.oracleGeneral.bin");
    let out = memscale(&["trace", "convert", gen.to_str().unwrap(), "-o", ora.to_str().unwrap(), "--to", "oracle"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&ora).unwrap().len(), 5000 * 24);
    let a = memscale(&["sim", gen.to_str().unwrap(), "--policy", "arc", "--sizes", "64KiB,1MiB"]);
    let b = memscale(&["sim", ora.to_str().unwrap(), "--policy", "arc", "--sizes", "64KiB,1MiB"]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    let info = memscale(&["trace", "info", "--json", ora.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["requests"], 5000);
    // A RocksDB block trace keeps its column-family names as operator names.
    let block = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cachesim/tests/data/db_bench_readrandom.trace.zst");
    let keys = dir.path().join("k.mstrace");
    let out =
        memscale(&["trace", "convert", block.to_str().unwrap(), "-o", keys.to_str().unwrap(), "--to", "memscale"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info = memscale(&["trace", "info", "--json", keys.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!((v["requests"].as_u64(), v["streams"][0]["name"].as_str()), (Some(3000), Some("default")));
}

/// `yyyy-MM-dd HH:mm:ss.SSS` (UTC) in ms since the epoch.
fn parse_timestamp(s: &str) -> i64 {
    let (date, time) = s.split_once(' ').unwrap();
    let days = engine::queries::tables::parse_day(date).unwrap();
    let mut hms = time.split(':');
    let (h, m): (i64, i64) = (hms.next().unwrap().parse().unwrap(), hms.next().unwrap().parse().unwrap());
    let secs: f64 = hms.next().unwrap().parse().unwrap();
    days * 86_400_000 + h * 3_600_000 + m * 60_000 + (secs * 1000.0).round() as i64
}

#[test]
fn exported_events_are_the_events_a_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let out = memscale(&["nexmark", "export", "--events", "5000", "-o", events.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = |table: &str| -> Vec<csv::StringRecord> {
        let path = events.join(table).join("part-0.csv");
        csv::ReaderBuilder::new().has_headers(false).from_path(&path).unwrap().records().map(|r| r.unwrap()).collect()
    };
    let (people, auctions, bids) = (rows("person"), rows("auction"), rows("bid"));
    assert_eq!((people.len(), auctions.len(), bids.len()), (100, 300, 4600), "Nexmark's 1:3:46 mix");
    assert!(people.iter().all(|r| r.len() == 8) && auctions.iter().all(|r| r.len() == 10));
    let schema = std::fs::read_to_string(events.join("schema.sql")).unwrap();
    assert_eq!(schema.matches("CREATE TABLE").count(), 3, "{schema}");

    // q0 passes every bid through: its results, from the engine's own
    // sources and result writer, are the exported bids.
    let results = dir.path().join("q0.csv");
    let run = memscale(&[
        "run",
        "--query",
        "q0",
        "--events",
        "5000",
        "--metrics-addr",
        "off",
        "--out",
        dir.path().join("run").to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut from_run: Vec<Vec<String>> = csv::Reader::from_path(&results)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    // q0's columns: auction, bidder, price, dateTime (ms), extra.
    let mut exported: Vec<Vec<String>> = bids
        .iter()
        .map(|b| {
            assert_eq!(b.len(), 7, "{b:?}");
            vec![b[0].into(), b[1].into(), b[2].into(), parse_timestamp(&b[5]).to_string(), b[6].into()]
        })
        .collect();
    from_run.sort();
    exported.sort();
    assert_eq!(from_run.len(), 4600);
    assert!(from_run == exported, "the exported bids differ from the bids q0 read");

    fails_with(&memscale(&["nexmark", "export", "--events", "0", "-o", "x"]), &["--events"]);
    fails_with(&memscale(&["nexmark", "export", "--preset", "huge", "-o", "x"]), &["--preset", "huge"]);
    let file = events.join("schema.sql");
    fails_with(&memscale(&["nexmark", "export", "-o", file.to_str().unwrap()]), &["not a directory"]);
}
