//! The monitoring path end to end: a real Prometheus, started with the
//! shipped scrape configuration, scrapes a real `memscale run`; every
//! PromQL expression of every dashboard panel must return series through
//! Prometheus's HTTP API. Also checks the dashboards' structure and the
//! configuration with promtool.
//!
//! Needs `prometheus` and `promtool` on PATH (scripts/setup.sh installs the
//! Debian package).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dashboards() -> Vec<(String, Value)> {
    let dir = repo().join("grafana/dashboards");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("grafana/dashboards") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", p.display()));
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    assert!(out.len() >= 2, "expected the job and memory dashboards in {}", dir.display());
    out
}

/// (dashboard, panel title, expression) of every panel target.
fn expressions() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap().to_string();
                out.push((name.clone(), p["title"].as_str().unwrap().to_string(), expr));
            }
        }
    }
    out
}

#[test]
fn dashboards_follow_grafanas_schema() {
    for (name, d) in dashboards() {
        assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()), "{name}: no uid");
        assert!(d["schemaVersion"].as_u64().unwrap_or(0) >= 36, "{name}: old schema");
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"),
            "{name}: no `datasource` variable"
        );
        let mut ids = std::collections::HashSet::new();
        for p in d["panels"].as_array().unwrap() {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{name}: duplicate panel id {}", p["id"]);
            if p["type"] == "row" {
                continue;
            }
            let uid_var = |ds: &Value| ds["type"] == "prometheus" && ds["uid"] == "${datasource}";
            assert!(uid_var(&p["datasource"]), "{name}/{}: datasource not by uid variable", p["title"]);
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}/{}: no query", p["title"]);
            for t in targets {
                assert!(uid_var(&t["datasource"]), "{name}/{}: target datasource", p["title"]);
            }
        }
    }
}

#[test]
fn promtool_accepts_the_scrape_config() {
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(repo().join("grafana/prometheus.yml"))
        .output()
        .expect("promtool on PATH (scripts/setup.sh installs the Debian package prometheus)");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET `path` from 127.0.0.1:`port`; the body, or None when unreachable.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// Prometheus's answer to an instant query: (series, error).
fn query(port: u16, expr: &str) -> (usize, Option<String>) {
    let Some(body) = http_get(port, &format!("/api/v1/query?query={}", encode(expr))) else {
        return (0, Some("no answer".into()));
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if v["status"] != "success" {
        return (0, Some(body));
    }
    (v["data"]["result"].as_array().map_or(0, |r| r.len()), None)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn every_panel_query_returns_data_from_a_real_prometheus() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (metrics_port, prom_port) = (free_port(), free_port());
    // The shipped configuration, pointed at this run's port.
    let shipped = std::fs::read_to_string(repo().join("grafana/prometheus.yml")).unwrap();
    assert!(shipped.contains("127.0.0.1:9249"), "the shipped config scrapes memscale's default address");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, shipped.replace("127.0.0.1:9249", &format!("127.0.0.1:{metrics_port}"))).unwrap();

    let run_dir = dir.path().join("run");
    let _run = Killed(
        Command::new(env!("CARGO_BIN_EXE_memscale"))
            .args(["run", "--query", "q20", "--duration", "60s", "--rate", "20000", "--write-buffer", "256KiB"])
            .args(["--control-addr", "off"])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}"), "--out"])
            .arg(&run_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start memscale run"),
    );
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus on PATH (scripts/setup.sh installs the Debian package prometheus)"),
    );
    wait_until("Prometheus to scrape memscale", Duration::from_secs(60), || {
        query(prom_port, "memscale_uptime_seconds > 8").0 > 0
    });
    let mut failures = Vec::new();
    for (board, title, expr) in expressions() {
        let concrete = expr.replace("$__rate_interval", "10s").replace("$operator", ".*");
        let mut last = (0, None);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            last = query(prom_port, &concrete);
            if last.0 > 0 || last.1.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        match last {
            (_, Some(err)) => failures.push(format!("{board} / {title}: `{concrete}`: error {err}")),
            (0, None) => failures.push(format!("{board} / {title}: `{concrete}`: no series")),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "panel queries without data:\n{}", failures.join("\n"));
}
