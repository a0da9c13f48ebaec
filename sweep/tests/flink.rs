//! Against a real Flink cluster (the `apache-flink` package that
//! scripts/setup.sh installs into .venv-flink): `memscale flink up`, a
//! Nexmark query submitted, `memscale autoscale --flink` under `ds2` (a
//! parallelism change through the adaptive scheduler) and then under
//! `justin` (a memory change through stop-with-savepoint and
//! resubmission), each change checked on the cluster itself: the job runs
//! at the new configuration, restored from its checkpoint or savepoint,
//! and its source went on where it stopped (no event lost). Refused on the
//! way: an unknown job, an unknown query, an address where nothing answers,
//! a job without RocksDB metrics, a savepoint Flink cannot write (each exit
//! 2, the job left running as it was).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{check_report, fails_with, memscale};
use flink::nexmark::Submission;
use flink::rest::RestClient;
use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Stops the cluster however the test ends.
struct Cluster {
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = memscale(&["flink", "down", "--dir", self.dir.to_str().unwrap()]);
    }
}

fn ok(args: &[&str]) -> String {
    let out = memscale(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "memscale {}: {err}", args.join(" "));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `memscale autoscale --flink` for 40 s under `policy` at 40,000 events/s,
/// a decision every 10 s, into `out`.
fn autoscale(url: &str, job: &str, dir: &Path, policy: &str, extra: &[&str], out: &Path) -> std::process::Output {
    let mut args = vec![
        "autoscale",
        "--flink",
        url,
        "--job",
        job,
        "--flink-dir",
        dir.to_str().unwrap(),
        "--rate",
        "40000",
        "--policy",
        policy,
        "--duration",
        "40s",
        "--interval",
        "10s",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    memscale(&args)
}

/// [`autoscale`], which must succeed.
fn autoscale_ok(url: &str, job: &str, dir: &Path, policy: &str, extra: &[&str], out: &Path) {
    let o = autoscale(url, job, dir, policy, extra, out);
    assert!(o.status.success(), "autoscale {policy}: {}", String::from_utf8_lossy(&o.stderr));
}

fn changes(out: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out.join("changes.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone()
}

/// The restore the job started from: (external path, is a savepoint).
fn restored(client: &RestClient, job: &str) -> Option<(String, bool)> {
    let v = client.get(&format!("/jobs/{job}/checkpoints")).unwrap();
    let r = v.pointer("/latest/restored")?;
    Some((r.get("external_path")?.as_str()?.to_string(), r.get("is_savepoint")?.as_bool()?))
}

/// The event time the job's source side has reached, ms (the watermark
/// its watermark assigner emits, 4 s behind the newest event).
fn event_time_ms(client: &RestClient, job: &str) -> f64 {
    let d = client.job(job).unwrap();
    let source = d.vertices.iter().find(|v| v.name.starts_with("Source:")).unwrap();
    for _ in 0..60 {
        let names = client.vertex_metric_names(job, &source.id).unwrap();
        let wm: Vec<String> = names
            .into_iter()
            .filter(|n| n.starts_with("WatermarkAssigner") && n.ends_with(".currentOutputWatermark"))
            .collect();
        let m = client.vertex_metrics(job, &source.id, &wm).unwrap();
        if let Some(v) = m.values().filter_map(|a| a.max).find(|v| *v > 0.0) {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("job {job} reports no watermark");
}

/// The job's details once it runs again (a failed stop-with-savepoint
/// resumes it), within 30 s.
fn running(client: &RestClient, job: &str) -> flink::rest::JobDetails {
    for _ in 0..60 {
        let d = client.job(job).unwrap();
        if d.state == "RUNNING" {
            return d;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("job {job} does not run again");
}

#[test]
fn autoscale_rescales_and_resizes_a_running_flink_job() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("flink");
    let d = dir.to_str().unwrap();
    let (rest, rpc) = (free_port().to_string(), free_port().to_string());
    let url = format!("http://127.0.0.1:{rest}");
    ok(&[
        "flink",
        "up",
        "--dir",
        d,
        "--rest-port",
        &rest,
        "--rpc-port",
        &rpc,
        "--slots",
        "4",
        "--checkpoint-interval",
        "3s",
    ]);
    let _cluster = Cluster { dir: dir.clone() };
    let client = RestClient::new(&url);

    // Bad input before anything runs: an unknown job, an unknown query, an
    // address where nothing answers.
    let unknown = "0123456789abcdef0123456789abcdef";
    let out = memscale(&["autoscale", "--flink", &url, "--job", unknown, "--flink-dir", d, "--rate", "1000"]);
    fails_with(&out, &[unknown, "memscale flink status"]);
    let out = memscale(&["flink", "submit", "--url", &url, "--dir", d, "--query", "q99", "--rate", "1000"]);
    fails_with(&out, &["--query q99"]);
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = memscale(&["flink", "status", "--url", &nowhere]);
    fails_with(&out, &["cannot reach", &nowhere]);

    // A job without the metrics the policies read: q10 keeps no state, so
    // no vertex reports RocksDB's block cache.
    let stateless = ok(&["flink", "submit", "--url", &url, "--dir", d, "--query", "q10", "--rate", "1000"]);
    let out = memscale(&["autoscale", "--flink", &url, "--job", &stateless, "--flink-dir", d, "--rate", "1000"]);
    fails_with(&out, &[&stateless, "RocksDB block-cache"]);
    assert_eq!(client.job(&stateless).unwrap().state, "RUNNING", "a refused job is left running");
    ok(&["flink", "cancel", "--url", &url, "--job", &stateless]);

    let job = ok(&[
        "flink",
        "submit",
        "--url",
        &url,
        "--dir",
        d,
        "--query",
        "q20",
        "--rate",
        "40000",
        "--memory-per-slot",
        "16MiB",
    ]);
    let base_time = Submission::load(&dir, &job).unwrap().expect("the submission is kept").spec.base_time_ms as f64;

    // DS2: the join is far behind 40,000 events/s at one subtask.
    let ds2 = tmp.path().join("ds2");
    autoscale_ok(&url, &job, &dir, "ds2", &[], &ds2);
    let c = changes(&ds2);
    assert!(c.iter().any(|x| x["rescaled"] == serde_json::json!(["join"])), "{c:?}");
    assert!(c.iter().all(|x| x["job_after"] == job.as_str()), "a rescale keeps the job: {c:?}");
    let d1 = client.job(&job).unwrap();
    assert_eq!(d1.state, "RUNNING");
    let join = d1.vertices.iter().find(|v| v.name.starts_with("Join")).unwrap();
    assert!(join.parallelism > 1, "join still at {}", join.parallelism);
    let (_, from_savepoint) = restored(&client, &job).expect("the rescaled job restored its state");
    assert!(!from_savepoint, "a rescale restores from a checkpoint");
    check_report(&ds2.join("report.html"), 3);
    let timeline = std::fs::read_to_string(ds2.join("timeline.csv")).unwrap();
    assert!(timeline
        .starts_with("t_s,operator,parallelism,cache_bytes,input_rate,target_rate,hit_ratio,state_p90_us,e2e_p99_ms"));

    // A savepoint Flink cannot write (its folder is a file): the memory
    // change fails with exit 2 naming it, and the job runs on as it was.
    let savepoints = dir.join("savepoints");
    let aside = dir.join("savepoints.aside");
    if savepoints.exists() {
        std::fs::rename(&savepoints, &aside).unwrap();
    }
    std::fs::write(&savepoints, b"a file where the savepoints go").unwrap();
    let out = autoscale(&url, &job, &dir, "justin", &["--justin-latency-us", "1"], &tmp.path().join("failed"));
    fails_with(&out, &["savepoint", &job]);
    std::fs::remove_file(&savepoints).unwrap();
    if aside.exists() {
        std::fs::rename(&aside, &savepoints).unwrap();
    }
    let after_failure = running(&client, &job);
    let join_p =
        |d: &flink::rest::JobDetails| d.vertices.iter().find(|v| v.name.starts_with("Join")).unwrap().parallelism;
    assert_eq!(join_p(&after_failure), join_p(&d1), "a failed savepoint changes nothing");

    // Justin, with a latency threshold every read misses: a memory step.
    let before_ms = event_time_ms(&client, &job);
    let justin = tmp.path().join("justin");
    autoscale_ok(&url, &job, &dir, "justin", &["--justin-latency-us", "1"], &justin);
    let c = changes(&justin);
    let resize = c.iter().find(|x| x["resized"] == serde_json::json!(["join"])).unwrap_or_else(|| panic!("{c:?}"));
    let new_job = resize["job_after"].as_str().unwrap().to_string();
    assert_ne!(new_job, job, "a memory change resubmits the job");
    assert_eq!(client.job(&job).unwrap().state, "FINISHED", "the old job stopped with its savepoint");
    let now = client.job(&new_job).unwrap();
    assert_eq!(now.state, "RUNNING");
    let (path, from_savepoint) = restored(&client, &new_job).expect("the new job restored the savepoint");
    assert!(from_savepoint && path.contains("savepoint"), "{path}");
    let sub = Submission::load(&dir, &new_job).unwrap().expect("the resubmission is kept");
    assert!(sub.spec.rocksdb_memory_per_slot > 16 << 20, "{}", sub.spec.rocksdb_memory_per_slot);
    let join = now.vertices.iter().find(|v| v.name.starts_with("Join")).unwrap();
    assert!(join.parallelism > 1, "the resubmitted job keeps its parallelism ({})", join.parallelism);
    // The source went on from its savepoint: its event time is past where
    // the old job was before the change, not back at the first event.
    let after_ms = event_time_ms(&client, &new_job);
    assert!(after_ms >= before_ms, "event time went back: {before_ms} -> {after_ms}");
    assert!(
        after_ms - base_time > 5_000.0,
        "the source started over: {} ms after the first event",
        after_ms - base_time
    );
    assert!(sub.events_before > 0);
    check_report(&justin.join("report.html"), 3);
}
