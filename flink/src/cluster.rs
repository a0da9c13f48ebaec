//! A standalone Flink cluster on loopback, one job manager and one task
//! manager, configured for autoscaling RocksDB state: the adaptive
//! scheduler (parallelism changes without resubmission), RocksDB with
//! incremental checkpoints, operator-scoped block-cache metrics,
//! keyed-state latency tracking, and its checkpoints, savepoints, logs and
//! configuration under one folder.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::home::FlinkHome;
use crate::rest::{Overview, RestClient};
use crate::FlinkError;

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Its folder: conf/, log/, checkpoints/, savepoints/, the job jar.
    pub dir: PathBuf,
    /// REST port on 127.0.0.1.
    pub rest_port: u16,
    /// Job manager RPC port on 127.0.0.1.
    pub rpc_port: u16,
    /// Task slots (one subtask of every vertex each).
    pub slots: u32,
    /// Task manager process memory, bytes.
    pub taskmanager_memory: u64,
    /// Checkpoint interval, seconds (the adaptive scheduler rescales from
    /// the latest checkpoint, so this bounds a rescale's wait).
    pub checkpoint_interval_s: u64,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            dir: PathBuf::from("out/flink"),
            rest_port: 8081,
            rpc_port: 6123,
            slots: 8,
            taskmanager_memory: 4 << 30,
            checkpoint_interval_s: 5,
        }
    }
}

impl ClusterConfig {
    /// The REST address.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rest_port)
    }

    /// The folder savepoints go to.
    pub fn savepoint_dir(&self) -> PathBuf {
        absolute(&self.dir).join("savepoints")
    }

    /// Flink's config.yaml for this cluster.
    pub fn config_yaml(&self, home: &FlinkHome) -> String {
        let dir = absolute(&self.dir);
        let d = dir.display();
        let java_opts = java_opts(home).unwrap_or_default();
        let tm_mib = self.taskmanager_memory >> 20;
        format!(
            "# Written by `memscale flink up`; rewritten at every start.\n\
             env.java.opts.all: \"{java_opts}\"\n\
             env.log.dir: {d}/log\n\
             env.pid.dir: {d}\n\
             jobmanager.rpc.address: 127.0.0.1\n\
             jobmanager.rpc.port: {rpc}\n\
             jobmanager.bind-host: 127.0.0.1\n\
             jobmanager.memory.process.size: 1024m\n\
             # Parallelism changes through PUT /jobs/:id/resource-requirements.\n\
             jobmanager.scheduler: adaptive\n\
             jobmanager.adaptive-scheduler.resource-stabilization-timeout: 2s\n\
             taskmanager.host: 127.0.0.1\n\
             taskmanager.bind-host: 127.0.0.1\n\
             taskmanager.numberOfTaskSlots: {slots}\n\
             taskmanager.memory.process.size: {tm_mib}m\n\
             # RocksDB's memory is set per job (fixed per slot), outside managed memory.\n\
             taskmanager.memory.managed.size: 128m\n\
             parallelism.default: 1\n\
             rest.address: 127.0.0.1\n\
             rest.bind-address: 127.0.0.1\n\
             rest.port: {rest}\n\
             web.upload.dir: {d}/upload\n\
             state.backend.type: rocksdb\n\
             state.backend.incremental: true\n\
             execution.checkpointing.interval: {ckpt}s\n\
             execution.checkpointing.dir: file://{d}/checkpoints\n\
             execution.checkpointing.savepoint-dir: file://{d}/savepoints\n\
             state.backend.rocksdb.metrics.block-cache-hit: true\n\
             state.backend.rocksdb.metrics.block-cache-miss: true\n\
             state.backend.rocksdb.metrics.block-cache-usage: true\n\
             state.backend.rocksdb.metrics.block-cache-capacity: true\n\
             state.backend.rocksdb.metrics.total-sst-files-size: true\n\
             state.backend.rocksdb.metrics.cur-size-all-mem-tables: true\n\
             state.backend.latency-track.keyed-state-enabled: true\n\
             state.backend.latency-track.sample-interval: 100\n\
             metrics.fetcher.update-interval: 1000\n",
            rpc = self.rpc_port,
            slots = self.slots,
            rest = self.rest_port,
            ckpt = self.checkpoint_interval_s,
        )
    }
}

/// The JVM options of the distribution's own config.yaml (Java 17 needs
/// its `--add-opens`).
fn java_opts(home: &FlinkHome) -> Option<String> {
    let text = std::fs::read_to_string(home.conf().join("config.yaml")).ok()?;
    text.lines().find_map(|l| l.trim_start().strip_prefix("all:").map(|s| s.trim().trim_matches('"').to_string()))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Runs a script of Flink's with this cluster's configuration.
fn script(home: &FlinkHome, dir: &Path, name: &str, args: &[&str]) -> Result<(), FlinkError> {
    let path = home.script(name);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .env("FLINK_CONF_DIR", absolute(dir).join("conf"))
        .env_remove("FLINK_HOME")
        .output()
        .map_err(FlinkError::io(&path))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(FlinkError::Command {
            program: format!("{} {}", path.display(), args.join(" ")),
            status: out.status.to_string(),
            output: tail(&text, 800),
        });
    }
    Ok(())
}

fn tail(s: &str, n: usize) -> String {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
    s[start..].trim().to_string()
}

/// Starts the cluster and waits until its task manager has registered its
/// slots. Refuses if the REST or RPC port is taken (naming it, and saying
/// when a Flink cluster already answers there).
pub fn up(home: &FlinkHome, config: &ClusterConfig) -> Result<Overview, FlinkError> {
    let client = RestClient::new(&config.url());
    if let Ok(o) = client.overview() {
        return Err(FlinkError::Invalid(format!(
            "a Flink {} cluster already answers at {} (memscale flink down --dir {} stops the one memscale started)",
            o.flink_version,
            config.url(),
            config.dir.display()
        )));
    }
    for (option, port) in [("--rest-port", config.rest_port), ("--rpc-port", config.rpc_port)] {
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            return Err(FlinkError::Invalid(format!("{option} {port}: the port is in use")));
        }
    }
    let dir = &config.dir;
    let conf = dir.join("conf");
    for sub in ["conf", "log", "checkpoints", "savepoints", "upload"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(FlinkError::io(dir.join(sub)))?;
    }
    let yaml = conf.join("config.yaml");
    std::fs::write(&yaml, config.config_yaml(home)).map_err(FlinkError::io(&yaml))?;
    for entry in std::fs::read_dir(home.conf()).map_err(FlinkError::io(home.conf()))?.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("log4j") {
            std::fs::copy(entry.path(), conf.join(&name)).map_err(FlinkError::io(entry.path()))?;
        }
    }
    script(home, dir, "jobmanager.sh", &["start"])?;
    script(home, dir, "taskmanager.sh", &["start"])?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(o) = client.overview() {
            if o.taskmanagers >= 1 && o.slots_total >= config.slots {
                return Ok(o);
            }
        }
        if Instant::now() > deadline {
            return Err(FlinkError::Timeout {
                what: format!(
                    "the cluster at {} with {} slots (logs in {})",
                    config.url(),
                    config.slots,
                    dir.join("log").display()
                ),
                seconds: 90,
            });
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Stops the cluster started from `dir` (its task manager, then its job
/// manager); running jobs end with it.
pub fn down(home: &FlinkHome, dir: &Path) -> Result<(), FlinkError> {
    let conf = dir.join("conf").join("config.yaml");
    if !conf.is_file() {
        return Err(FlinkError::Invalid(format!(
            "{} has no cluster (no conf/config.yaml): nothing to stop",
            dir.display()
        )));
    }
    script(home, dir, "taskmanager.sh", &["stop"])?;
    script(home, dir, "jobmanager.sh", &["stop"])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_turns_on_what_the_autoscaler_reads() {
        let dir = tempfile::tempdir().unwrap();
        let home = crate::home::fake_home(dir.path());
        let c = ClusterConfig { dir: "/x/flink".into(), rest_port: 18081, ..ClusterConfig::default() };
        let y = c.config_yaml(&home);
        for line in [
            "jobmanager.scheduler: adaptive",
            "rest.port: 18081",
            "state.backend.rocksdb.metrics.block-cache-hit: true",
            "state.backend.rocksdb.metrics.block-cache-miss: true",
            "state.backend.latency-track.keyed-state-enabled: true",
            "execution.checkpointing.savepoint-dir: file:///x/flink/savepoints",
            "taskmanager.numberOfTaskSlots: 8",
        ] {
            assert!(y.lines().any(|l| l == line), "missing `{line}` in\n{y}");
        }
    }

    #[test]
    fn a_port_in_use_is_refused_by_name() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let home = crate::home::fake_home(dir.path());
        let c =
            ClusterConfig { dir: dir.path().join("c"), rpc_port: port, rest_port: free_port(), ..Default::default() };
        let e = up(&home, &c).unwrap_err().to_string();
        assert_eq!(e, format!("--rpc-port {port}: the port is in use"));
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }
}
