//! The parts of Flink's REST API memscale uses, typed. Every call names
//! its path in its error; a refused connection is [`FlinkError::Unreachable`].

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::FlinkError;

/// A client of one cluster's REST API.
#[derive(Clone)]
pub struct RestClient {
    base: String,
    agent: ureq::Agent,
}

/// `GET /overview`.
#[derive(Clone, Debug, Deserialize)]
pub struct Overview {
    /// Task managers registered.
    pub taskmanagers: u32,
    /// Task slots in all.
    #[serde(rename = "slots-total")]
    pub slots_total: u32,
    /// Task slots free.
    #[serde(rename = "slots-available")]
    pub slots_available: u32,
    /// Jobs running.
    #[serde(rename = "jobs-running")]
    pub jobs_running: u32,
    /// Flink's version.
    #[serde(rename = "flink-version")]
    pub flink_version: String,
}

/// One job of `GET /jobs/overview`.
#[derive(Clone, Debug, Deserialize)]
pub struct JobSummary {
    /// Job id.
    pub jid: String,
    /// Job name.
    pub name: String,
    /// RUNNING, FINISHED, CANCELED, FAILED, ...
    pub state: String,
    /// Ms since the epoch.
    #[serde(rename = "start-time")]
    pub start_time: i64,
}

/// `GET /jobs/:id`.
#[derive(Clone, Debug, Deserialize)]
pub struct JobDetails {
    /// Job id.
    pub jid: String,
    /// Job name.
    pub name: String,
    /// RUNNING, RESTARTING, CANCELED, ...
    pub state: String,
    /// Ms since the epoch.
    #[serde(rename = "start-time")]
    pub start_time: i64,
    /// Ms since the epoch, on the server's clock.
    pub now: i64,
    /// Vertices (chains of operators), in the plan's order.
    pub vertices: Vec<Vertex>,
    /// The job graph.
    pub plan: JobPlan,
}

/// A job vertex: a chain of operators run by one task per subtask.
#[derive(Clone, Debug, Deserialize)]
pub struct Vertex {
    /// Vertex id (stable across resubmissions of the same program).
    pub id: String,
    /// The chain's operators, `A -> B -> C`.
    pub name: String,
    /// Subtasks now.
    pub parallelism: u32,
    /// Key groups.
    #[serde(rename = "maxParallelism")]
    pub max_parallelism: u32,
    /// RUNNING, ...
    pub status: String,
    /// Cumulative counters, summed over subtasks.
    pub metrics: VertexCounters,
}

/// A vertex's cumulative counters (since its subtasks started).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct VertexCounters {
    /// Records read from the network.
    #[serde(rename = "read-records", default, deserialize_with = "lenient_u64")]
    pub read_records: u64,
    /// Records written to the network.
    #[serde(rename = "write-records", default, deserialize_with = "lenient_u64")]
    pub write_records: u64,
    /// Ms the subtasks were busy (processing), summed.
    #[serde(rename = "accumulated-busy-time", default, deserialize_with = "lenient_f64")]
    pub busy_ms: f64,
    /// Ms the subtasks were blocked on output, summed.
    #[serde(rename = "accumulated-backpressured-time", default, deserialize_with = "lenient_f64")]
    pub backpressured_ms: f64,
    /// Ms the subtasks waited for input, summed.
    #[serde(rename = "accumulated-idle-time", default, deserialize_with = "lenient_f64")]
    pub idle_ms: f64,
}

/// A number Flink may also write as a string (`"NaN"` for a subtask that
/// has not measured yet): what is not a finite number is 0.
fn lenient_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = Value::deserialize(d)?;
    let x = match &v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    Ok(x.filter(|x| x.is_finite()).unwrap_or(0.0))
}

fn lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    lenient_f64(d).map(|x| x.max(0.0) as u64)
}

/// The job graph of `GET /jobs/:id`.
#[derive(Clone, Debug, Deserialize)]
pub struct JobPlan {
    /// One node per vertex.
    pub nodes: Vec<PlanNode>,
}

/// A vertex in the job graph.
#[derive(Clone, Debug, Deserialize)]
pub struct PlanNode {
    /// Vertex id.
    pub id: String,
    /// The vertices that feed it.
    #[serde(default)]
    pub inputs: Vec<PlanInput>,
}

/// An edge into a vertex.
#[derive(Clone, Debug, Deserialize)]
pub struct PlanInput {
    /// The feeding vertex.
    pub id: String,
    /// HASH (a keyed exchange), FORWARD, REBALANCE, ...
    #[serde(default)]
    pub ship_strategy: String,
}

/// A metric aggregated over a vertex's subtasks.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Aggregate {
    /// Sum over subtasks.
    #[serde(default)]
    pub sum: Option<f64>,
    /// Maximum over subtasks.
    #[serde(default)]
    pub max: Option<f64>,
}

/// Where an asynchronous savepoint is.
#[derive(Clone, Debug, PartialEq)]
pub enum SavepointStatus {
    /// Still being taken.
    InProgress,
    /// Done, at this location.
    Completed(String),
    /// Failed, with Flink's reason.
    Failed(String),
}

impl RestClient {
    /// A client of the REST API at `base` (e.g. `http://127.0.0.1:8081`).
    pub fn new(base: &str) -> RestClient {
        let agent =
            ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(3)).timeout(Duration::from_secs(60)).build();
        RestClient { base: base.trim_end_matches('/').to_string(), agent }
    }

    /// The REST address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn answer(
        &self,
        method: &'static str,
        path: &str,
        r: Result<ureq::Response, ureq::Error>,
    ) -> Result<Value, FlinkError> {
        match r {
            Ok(resp) => {
                let text = resp
                    .into_string()
                    .map_err(|e| FlinkError::Protocol { path: path.into(), detail: e.to_string() })?;
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(&text)
                    .map_err(|e| FlinkError::Protocol { path: path.into(), detail: e.to_string() })
            }
            Err(ureq::Error::Status(status, resp)) => {
                let text = resp.into_string().unwrap_or_default();
                Err(FlinkError::Http { method, path: path.into(), status, message: first_error(&text) })
            }
            Err(ureq::Error::Transport(t)) => {
                Err(FlinkError::Unreachable { url: self.url(path), cause: t.to_string() })
            }
        }
    }

    /// GET `path` as JSON.
    pub fn get(&self, path: &str) -> Result<Value, FlinkError> {
        self.answer("GET", path, self.agent.get(&self.url(path)).call())
    }

    fn get_as<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, FlinkError> {
        let v = self.get(path)?;
        serde_json::from_value(v).map_err(|e| FlinkError::Protocol { path: path.into(), detail: e.to_string() })
    }

    fn send(&self, method: &'static str, path: &str, body: &Value) -> Result<Value, FlinkError> {
        let r = self.agent.request(method, &self.url(path)).send_json(body.clone());
        self.answer(method, path, r)
    }

    /// `GET /overview`.
    pub fn overview(&self) -> Result<Overview, FlinkError> {
        self.get_as("/overview")
    }

    /// `GET /jobs/overview`: every job the cluster knows.
    pub fn jobs(&self) -> Result<Vec<JobSummary>, FlinkError> {
        #[derive(Deserialize)]
        struct Jobs {
            jobs: Vec<JobSummary>,
        }
        Ok(self.get_as::<Jobs>("/jobs/overview")?.jobs)
    }

    /// `GET /jobs/:id`; an unknown id is [`FlinkError::UnknownJob`].
    pub fn job(&self, job: &str) -> Result<JobDetails, FlinkError> {
        match self.get_as(&format!("/jobs/{job}")) {
            Err(FlinkError::Http { status: 404, .. }) => {
                Err(FlinkError::UnknownJob { job: job.into(), url: self.base.clone() })
            }
            Err(FlinkError::Http { status: 400, .. }) if !is_job_id(job) => {
                Err(FlinkError::UnknownJob { job: job.into(), url: self.base.clone() })
            }
            other => other,
        }
    }

    /// The names of the metrics a vertex's subtasks report.
    pub fn vertex_metric_names(&self, job: &str, vertex: &str) -> Result<Vec<String>, FlinkError> {
        let v = self.get(&format!("/jobs/{job}/vertices/{vertex}/subtasks/metrics"))?;
        Ok(v.as_array()
            .map(|a| a.iter().filter_map(|m| m.get("id")?.as_str().map(String::from)).collect())
            .unwrap_or_default())
    }

    /// Metrics `names` of a vertex, aggregated over its subtasks (a metric
    /// no subtask reports yet is absent from the map).
    pub fn vertex_metrics(
        &self,
        job: &str,
        vertex: &str,
        names: &[String],
    ) -> Result<HashMap<String, Aggregate>, FlinkError> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let get = names.iter().map(|n| encode(n)).collect::<Vec<_>>().join(",");
        let path = format!("/jobs/{job}/vertices/{vertex}/subtasks/metrics?get={get}&agg=sum,max");
        let v = self.get(&path)?;
        let mut out = HashMap::new();
        for m in v.as_array().into_iter().flatten() {
            let Some(id) = m.get("id").and_then(Value::as_str) else { continue };
            let agg: Aggregate = serde_json::from_value(m.clone()).unwrap_or_default();
            out.insert(id.to_string(), agg);
        }
        Ok(out)
    }

    /// `PUT /jobs/:id/resource-requirements`: each vertex's parallelism
    /// (the adaptive scheduler rescales the job from its latest
    /// checkpoint).
    pub fn set_parallelism(&self, job: &str, parallelism: &[(String, u32)]) -> Result<(), FlinkError> {
        let body: serde_json::Map<String, Value> = parallelism
            .iter()
            .map(|(v, p)| (v.clone(), json!({"parallelism": {"lowerBound": 1, "upperBound": p}})))
            .collect();
        self.send("PUT", &format!("/jobs/{job}/resource-requirements"), &Value::Object(body))?;
        Ok(())
    }

    /// `POST /jars/upload`: the jar's id on the cluster.
    pub fn upload_jar(&self, jar: &Path) -> Result<String, FlinkError> {
        let bytes = std::fs::read(jar).map_err(FlinkError::io(jar))?;
        let boundary = "memscale-jar-upload-7f3a9c";
        let name = jar.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "job.jar".into());
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"{name}\"\r\n\
             Content-Type: application/x-java-archive\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = "/jars/upload";
        let r = self
            .agent
            .post(&self.url(path))
            .set("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
            .send_bytes(&body);
        let v = self.answer("POST", path, r)?;
        let file = v
            .get("filename")
            .and_then(Value::as_str)
            .ok_or_else(|| FlinkError::Protocol { path: path.into(), detail: format!("no filename in {v}") })?;
        Ok(file.rsplit('/').next().unwrap_or(file).to_string())
    }

    /// `POST /jars/:id/run`: runs `entry` of an uploaded jar with `args`
    /// at `parallelism`, from `savepoint` if given; the new job's id.
    pub fn run_jar(
        &self,
        jar_id: &str,
        entry: &str,
        args: &[String],
        parallelism: u32,
        savepoint: Option<&str>,
    ) -> Result<String, FlinkError> {
        let mut body = json!({"entryClass": entry, "programArgsList": args, "parallelism": parallelism});
        if let Some(s) = savepoint {
            body["savepointPath"] = json!(s);
        }
        let path = format!("/jars/{jar_id}/run");
        let v = self.send("POST", &path, &body)?;
        v.get("jobid")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| FlinkError::Protocol { path, detail: format!("no jobid in {v}") })
    }

    /// `POST /jobs/:id/stop`: stop-with-savepoint into `dir`; the trigger
    /// id to poll.
    pub fn stop_with_savepoint(&self, job: &str, dir: &str) -> Result<String, FlinkError> {
        let path = format!("/jobs/{job}/stop");
        let v = self.send("POST", &path, &json!({"targetDirectory": dir, "drain": false}))?;
        v.get("request-id")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| FlinkError::Protocol { path, detail: format!("no request-id in {v}") })
    }

    /// `GET /jobs/:id/savepoints/:trigger`.
    pub fn savepoint_status(&self, job: &str, trigger: &str) -> Result<SavepointStatus, FlinkError> {
        let v = self.get(&format!("/jobs/{job}/savepoints/{trigger}"))?;
        if v.pointer("/status/id").and_then(Value::as_str) != Some("COMPLETED") {
            return Ok(SavepointStatus::InProgress);
        }
        if let Some(loc) = v.pointer("/operation/location").and_then(Value::as_str) {
            return Ok(SavepointStatus::Completed(loc.to_string()));
        }
        let cause = v
            .pointer("/operation/failure-cause/stack-trace")
            .and_then(Value::as_str)
            .map(|s| s.lines().next().unwrap_or(s).to_string())
            .unwrap_or_else(|| v.to_string());
        Ok(SavepointStatus::Failed(cause))
    }

    /// `PATCH /jobs/:id?mode=cancel`.
    pub fn cancel(&self, job: &str) -> Result<(), FlinkError> {
        let path = format!("/jobs/{job}?mode=cancel");
        let r = self.agent.request("PATCH", &self.url(&path)).call();
        self.answer("PATCH", &path, r)?;
        Ok(())
    }
}

/// Flink's job ids are 32 hex digits.
pub fn is_job_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The first line of the first error of a Flink error answer (its
/// `errors` are Java stack traces; the cause a person needs is usually the
/// last `Caused by`).
fn first_error(text: &str) -> String {
    let err = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("errors")?.as_array()?.first()?.as_str().map(String::from))
        .unwrap_or_else(|| text.to_string());
    let cause = err.lines().rfind(|l| l.starts_with("Caused by: ")).map(|l| l.trim_start_matches("Caused by: "));
    let line = cause.unwrap_or_else(|| err.lines().next().unwrap_or(""));
    line.chars().take(500).collect()
}

/// Percent-encodes what a metric name may hold that a query string may not.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_flinks_root_cause_and_names_are_encoded() {
        let text = r#"{"errors":["org.x.RestHandlerException: Could not execute application.\n\tat a.b\nCaused by: java.lang.IllegalArgumentException: --sql is required\n\tat c.d"]}"#;
        assert_eq!(first_error(text), "java.lang.IllegalArgumentException: --sql is required");
        assert_eq!(first_error("plain"), "plain");
        assert_eq!(encode("Join[7].rocksdb_block_cache_hit"), "Join%5B7%5D.rocksdb_block_cache_hit");
        assert!(is_job_id("15b4d4747fdb60b2054f0b224b88108d"));
        assert!(!is_job_id("nope"));
    }

    #[test]
    fn counters_flink_writes_as_nan_read_as_zero() {
        let c: VertexCounters = serde_json::from_str(
            r#"{"read-records": 5, "accumulated-busy-time": "NaN", "accumulated-idle-time": 12.5}"#,
        )
        .unwrap();
        assert_eq!((c.read_records, c.busy_ms, c.idle_ms, c.backpressured_ms), (5, 0.0, 12.5, 0.0));
    }

    #[test]
    fn a_closed_port_is_unreachable_and_names_the_address() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let c = RestClient::new(&format!("http://127.0.0.1:{port}/"));
        let e = c.overview().unwrap_err();
        assert!(matches!(e, FlinkError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}/overview")), "{e}");
    }
}
