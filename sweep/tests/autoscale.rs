//! `memscale autoscale` on a memory-bound query (q19 at the large-state
//! preset, whose throughput rises with its cache) from a small cache: DS2
//! answers with parallelism, Justin and the MRC policy with memory. The
//! files scripts rely on have the documented columns and keys; bad options
//! exit 2 and name themselves.

use std::path::Path;

mod common;
use common::memscale;

/// A short autoscaled run of q19 from 4 MiB at `rate` events/s.
fn autoscale(out: &Path, policy: &str, rate: &str, duration: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "autoscale",
        "--query",
        "q19",
        "--preset",
        "large-state",
        "--start-cache",
        "4MiB",
        "--interval",
        "4s",
        "--metrics-addr",
        "off",
        "--policy",
        policy,
        "--out",
        out.to_str().unwrap(),
        "--rate",
        rate,
        "--duration",
        duration,
    ];
    args.extend_from_slice(extra);
    let o = memscale(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{policy}: {err}");
    std::fs::read_to_string(out.join("decisions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{policy}: a decision is not JSON ({e}): {l}")))
        .collect()
}

/// `(parallelism, cache)` of `topn` before and after the first change made.
fn first_change(decisions: &[serde_json::Value]) -> Option<((u64, u64), (u64, u64))> {
    let d = decisions.iter().find(|d| d["applied"] == true)?;
    let find = |list: &serde_json::Value, key: &str| {
        list.as_array()?
            .iter()
            .find(|o| o[key] == "topn")
            .map(|o| (o["parallelism"].as_u64().unwrap_or(0), o["cache_bytes"].as_u64().unwrap_or(0)))
    };
    Some((find(&d["inputs"], "operator")?, find(&d["operators"], "operator")?))
}

#[test]
fn ds2_scales_out_justin_and_mrc_give_memory() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    const START: u64 = 4 << 20;

    // 30,000 events/s: more than one subtask does at 4 MiB (24,600 at
    // 8 MiB, measured).
    let ds2 = autoscale(&dir.path().join("ds2"), "ds2", "30000", "30s", &[]);
    let (before, after) = first_change(&ds2).expect("DS2 changed nothing");
    assert_eq!(before, (1, START));
    assert!(after.0 > 1 && after.1 == START, "DS2 scales out and never sizes memory: {after:?}");
    for d in &ds2 {
        for key in ["t_s", "policy", "operators", "applied", "why", "inputs"] {
            assert!(!d[key].is_null(), "decision without `{key}`: {d}");
        }
        for o in d["operators"].as_array().unwrap() {
            assert!(o["reason"].as_str().is_some_and(|r| !r.is_empty()), "{o}");
        }
    }
    let timeline = std::fs::read_to_string(dir.path().join("ds2/timeline.csv")).unwrap();
    assert_eq!(
        timeline.lines().next().unwrap(),
        "t_s,operator,parallelism,cache_bytes,input_rate,target_rate,hit_ratio,state_p90_us,e2e_p99_ms"
    );
    // One row per second and operator: about 30 seconds of topn.
    let topn = timeline.lines().filter(|l| l.split(',').nth(1) == Some("topn")).count();
    assert!((25..=40).contains(&topn), "{topn} rows of topn");
    common::check_report(&dir.path().join("ds2/report.html"), 4);

    // Every hit ratio below 0.99 asks Justin for memory, and DS2 with a
    // scaling factor of 1 wants more than one subtask from the first
    // decision: Justin's first change is one memory level up, at the same
    // parallelism.
    let justin = autoscale(
        &dir.path().join("justin"),
        "justin",
        "25000",
        "20s",
        &["--justin-hit-min", "0.99", "--scaling-factor", "1"],
    );
    let (before, after) = first_change(&justin).expect("Justin changed nothing");
    assert_eq!(after, (before.0, 2 * START), "level 1 is twice the base (the start cache)");

    // The MRC policy profiles first, then buys cache (a few MiB cost far
    // less than a core) where the curve says it sustains the target.
    let mrc = autoscale(&dir.path().join("mrc"), "mrc", "25000", "40s", &["--profile-events", "150000"]);
    assert!(dir.path().join("mrc/profile/profile.json").exists());
    let (before, after) = first_change(&mrc).expect("MRC changed nothing");
    assert!(after.1 > before.1, "MRC raises memory first: {before:?} -> {after:?}");
}

#[test]
fn bad_options_exit_2_and_name_themselves() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = dir.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["--rate", "0"], "--rate"),
        (vec!["--rate", "1000", "--policy", "magic"], "--policy"),
        (vec!["--rate", "1000", "--policy", "mrc", "--core-price", "0"], "--core-price"),
        (vec!["--rate", "1000", "--policy", "mrc", "--gib-price", "-1"], "--gib-price"),
        (vec!["--rate", "1000", "--max-cores", "1"], "--max-cores"),
        (vec!["--rate", "1000", "--max-memory", "16MiB", "--start-cache", "32MiB"], "--max-memory"),
        (vec!["--rate", "1000", "--interval", "soon"], "--interval"),
        (vec!["--rate", "1000", "--start-parallelism", "0"], "--start-parallelism"),
        (vec!["--rate", "1000", "--start-cache", "0"], "--start-cache"),
    ] {
        let mut all = vec!["autoscale", "--out", out, "--metrics-addr", "off"];
        all.extend_from_slice(&args);
        let o = memscale(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn compare_refuses_bad_options_and_a_directory_of_another_comparison() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let out = dir.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["--target-rate", "0"], "--target-rate"),
        (vec!["--target-rate", "1000", "--repeat", "0"], "--repeat"),
        (vec!["--target-rate", "1000", "--gib-price", "0"], "--gib-price"),
        (vec!["--target-rate", "1000", "--oracle-parallelism", "1,x"], "--oracle-parallelism"),
        (vec!["--target-rate", "1000", "--oracle-cache", "512KiB"], "--oracle-cache"),
        (vec!["--target-rate", "1000", "--policies", "ds2,magic"], "--policies"),
        (vec!["--target-rate", "1000", "--duration", "soon"], "--duration"),
    ] {
        let mut all = vec!["compare", "--out", out];
        all.extend_from_slice(&args);
        let o = memscale(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    }
    // A directory that holds a comparison with other options is not mixed.
    std::fs::write(
        dir.path().join("compare.json"),
        r#"{"query":"q20","preset":"default","target_rate":5,"scenario":"constant","duration":"1m",
        "start_parallelism":"1","start_cache":"8MiB","interval":"10s","warmup":1,"core_price":1.0,
        "gib_price":1.0,"max_parallelism":128}"#,
    )
    .unwrap();
    let o = memscale(&["compare", "--out", out, "--target-rate", "1000"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("holds a comparison with other options"), "{err}");
}
