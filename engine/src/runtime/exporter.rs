//! The Prometheus endpoint: `GET /metrics` answers with a fresh
//! [`JobSnapshot`] in the OpenMetrics text format.
//!
//! Names follow Prometheus conventions: units in names, `_total` for
//! counters (prometheus-client appends it), labels `operator` and
//! `subtask` only (bounded by the job's shape, never by data).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::metrics::JobMetrics;
use super::snapshot::{JobSnapshot, Quantiles};

type Labels = Vec<(&'static str, String)>;

/// A running metrics endpoint; stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Why an endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("{option} {addr}: cannot listen: {reason}")]
pub struct ListenError {
    /// The option that named the address.
    pub option: &'static str,
    /// The address asked for.
    pub addr: String,
    /// The system's reason (for example: address already in use).
    pub reason: String,
}

/// A listening socket not yet serving: bind before starting a job, so a
/// port in use fails before any work starts.
pub struct BoundEndpoint {
    server: tiny_http::Server,
    addr: SocketAddr,
}

impl BoundEndpoint {
    /// Listens on `addr` (such as `127.0.0.1:9249`; port 0 picks a free
    /// port).
    pub fn bind(addr: &str) -> Result<BoundEndpoint, ListenError> {
        let (server, addr) = listen("--metrics-addr", addr)?;
        Ok(BoundEndpoint { server, addr })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `metrics` at `/metrics` until the returned server is dropped.
    pub fn serve(self, metrics: Arc<JobMetrics>) -> MetricsServer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let server = self.server;
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(100)) else { continue };
                    let response = if req.url() == "/metrics" || req.url().starts_with("/metrics?") {
                        let body = render(&metrics.snapshot());
                        let ct = tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                        )
                        .expect("static header");
                        tiny_http::Response::from_string(body).with_header(ct)
                    } else {
                        tiny_http::Response::from_string("memscale: metrics at /metrics\n").with_status_code(404)
                    };
                    let _ = req.respond(response);
                }
            })
            .ok();
        MetricsServer { addr: self.addr, stop, thread }
    }
}

/// An HTTP server on `addr`, and the address it got; errors name `option`.
pub(crate) fn listen(option: &'static str, addr: &str) -> Result<(tiny_http::Server, SocketAddr), ListenError> {
    let fail = |reason: String| ListenError { option, addr: addr.to_string(), reason };
    let server = tiny_http::Server::http(addr).map_err(|e| fail(e.to_string()))?;
    let bound = server.server_addr().to_ip().ok_or_else(|| fail("not an IP address".into()))?;
    Ok((server, bound))
}

impl MetricsServer {
    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn op(name: &str) -> Labels {
    vec![("operator", name.to_string())]
}

fn sub(name: &str, i: u32) -> Labels {
    vec![("operator", name.to_string()), ("subtask", i.to_string())]
}

struct Families {
    registry: Registry,
}

impl Families {
    fn counter(&mut self, name: &str, help: &str, rows: Vec<(Labels, u64)>) {
        let f = Family::<Labels, Counter>::default();
        for (l, v) in rows {
            f.get_or_create(&l).inc_by(v);
        }
        self.registry.register(name, help, f);
    }

    fn counter_f(&mut self, name: &str, help: &str, rows: Vec<(Labels, f64)>) {
        let f = Family::<Labels, Counter<f64, AtomicU64>>::default();
        for (l, v) in rows {
            f.get_or_create(&l).inc_by(v);
        }
        self.registry.register(name, help, f);
    }

    fn gauge(&mut self, name: &str, help: &str, rows: Vec<(Labels, f64)>) {
        let f = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        for (l, v) in rows {
            f.get_or_create(&l).set(v);
        }
        self.registry.register(name, help, f);
    }
}

fn quantile_rows(name: &str, i: u32, kind: &'static str, q: &Quantiles, out: &mut Vec<(Labels, f64)>) {
    for (quantile, us) in [("0.5", q.p50_us), ("0.99", q.p99_us), ("0.999", q.p999_us)] {
        let mut l = sub(name, i);
        l.push(("op", kind.to_string()));
        l.push(("quantile", quantile.to_string()));
        out.push((l, us / 1e6));
    }
}

/// The snapshot in the OpenMetrics text format.
pub fn render(s: &JobSnapshot) -> String {
    let mut f = Families { registry: Registry::default() };
    let ops = &s.operators;
    let per_sub = |get: &dyn Fn(&super::snapshot::SubtaskSnapshot) -> u64| -> Vec<(Labels, u64)> {
        ops.iter().flat_map(|o| o.subtasks.iter().map(|t| (sub(&o.name, t.subtask), get(t)))).collect()
    };
    let per_sub_f = |get: &dyn Fn(&super::snapshot::SubtaskSnapshot) -> f64| -> Vec<(Labels, f64)> {
        ops.iter().flat_map(|o| o.subtasks.iter().map(|t| (sub(&o.name, t.subtask), get(t)))).collect()
    };
    f.counter("memscale_records_in", "Rows received (events, for a source).", per_sub(&|t| t.records_in));
    f.counter("memscale_records_out", "Rows emitted.", per_sub(&|t| t.records_out));
    f.counter_f(
        "memscale_useful_time_seconds",
        "DS2 useful time: busy time excluding waits on input and output.",
        per_sub_f(&|t| t.useful_s),
    );
    f.counter_f("memscale_idle_time_seconds", "Time spent waiting for input.", per_sub_f(&|t| t.idle_s));
    f.counter_f(
        "memscale_backpressure_time_seconds",
        "Time blocked on full output channels.",
        per_sub_f(&|t| t.backpressure_s),
    );
    let stateful = |o: &&super::snapshot::OperatorSnapshot| o.stateful;
    let state_sub = |get: &dyn Fn(&super::snapshot::SubtaskSnapshot) -> u64| -> Vec<(Labels, u64)> {
        ops.iter().filter(stateful).flat_map(|o| o.subtasks.iter().map(|t| (sub(&o.name, t.subtask), get(t)))).collect()
    };
    f.counter("memscale_block_cache_hits", "RocksDB block-cache hits.", state_sub(&|t| t.block_cache_hits));
    f.counter("memscale_block_cache_misses", "RocksDB block-cache misses.", state_sub(&|t| t.block_cache_misses));
    f.counter("memscale_disk_read_bytes", "Bytes read from SST files (direct I/O).", state_sub(&|t| t.disk_read_bytes));
    let state_gauge = |get: &dyn Fn(&super::snapshot::SubtaskSnapshot) -> u64| -> Vec<(Labels, f64)> {
        ops.iter()
            .filter(stateful)
            .flat_map(|o| o.subtasks.iter().map(|t| (sub(&o.name, t.subtask), get(t) as f64)))
            .collect()
    };
    f.gauge("memscale_memtable_bytes", "Bytes in RocksDB memtables.", state_gauge(&|t| t.memtable_bytes));
    f.gauge("memscale_sst_bytes", "Bytes of live SST files.", state_gauge(&|t| t.sst_bytes));
    f.gauge("memscale_state_keys", "Estimated keys in state.", state_gauge(&|t| t.estimated_keys));
    let cache = |get: &dyn Fn(&super::snapshot::OperatorSnapshot) -> Option<u64>| -> Vec<(Labels, f64)> {
        ops.iter().filter_map(|o| get(o).map(|v| (op(&o.name), v as f64))).collect()
    };
    f.gauge(
        "memscale_block_cache_capacity_bytes",
        "Block-cache capacity of the operator.",
        cache(&|o| o.cache_capacity),
    );
    f.gauge("memscale_block_cache_usage_bytes", "Block-cache bytes in use by the operator.", cache(&|o| o.cache_usage));
    f.gauge(
        "memscale_operator_parallelism",
        "Subtasks of the operator.",
        ops.iter().map(|o| (op(&o.name), o.parallelism as f64)).collect(),
    );
    let mut lat = Vec::new();
    for o in ops.iter().filter(stateful) {
        for t in &o.subtasks {
            quantile_rows(&o.name, t.subtask, "get", &t.get, &mut lat);
            quantile_rows(&o.name, t.subtask, "put", &t.put, &mut lat);
        }
    }
    f.gauge("memscale_state_latency_seconds", "State access latency quantiles since the start.", lat);
    f.counter("memscale_source_events", "Events emitted by the sources.", vec![(Vec::new(), s.events)]);
    f.counter("memscale_results", "Rows that reached the sinks.", vec![(Vec::new(), s.results)]);
    f.gauge(
        "memscale_latency_seconds",
        "End-to-end latency of result rows (source emission to sink) since the start.",
        vec![
            (vec![("quantile", "0.5".to_string())], s.latency_p50_ms / 1e3),
            (vec![("quantile", "0.99".to_string())], s.latency_p99_ms / 1e3),
        ],
    );
    let r = &s.rescale;
    f.counter("memscale_rescales", "Changes of parallelism completed.", vec![(Vec::new(), r.rescales)]);
    f.counter("memscale_resizes", "Changes of memory completed.", vec![(Vec::new(), r.resizes)]);
    f.counter(
        "memscale_rescale_key_groups_moved",
        "Key groups moved by rescales.",
        vec![(Vec::new(), r.key_groups_moved)],
    );
    f.counter("memscale_rescale_bytes_moved", "State bytes moved by rescales.", vec![(Vec::new(), r.bytes_moved)]);
    let durations = Histogram::new(exponential_buckets(0.01, 2.0, 12));
    for d in &r.durations_s {
        durations.observe(*d);
    }
    f.registry.register("memscale_rescale_duration_seconds", "Duration of each rescale.", durations);
    f.gauge("memscale_uptime_seconds", "Seconds since the job started.", vec![(Vec::new(), s.elapsed_s)]);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &f.registry);
    out
}
