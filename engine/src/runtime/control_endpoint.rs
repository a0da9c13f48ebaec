//! The control endpoint: a running job's [`Control`] over HTTP, JSON in and
//! out, shaped like Flink's REST API.
//!
//! - `GET /job`: operators, whether a change is running, rescales so far;
//! - `GET /operators`: every operator's parallelism, subtasks and memory;
//! - `PUT /operators/{op}/parallelism` with
//!   `{"parallelism": 4, "strategy": "progressive", "batch": 8, "order": "hot-first"}`
//!   (all but `parallelism` optional): the rescale's report;
//! - `PUT /operators/{op}/memory` with `{"cache": "256MiB", "write_buffer": "64MiB"}`
//!   (bytes as a number or a size string; either optional): the resize's
//!   report.
//!
//! Errors answer `{"error": "..."}`: 400 for a malformed body or a value
//! out of range, 404 for an unknown operator or path, 409 while another
//! change runs or once the job is finishing, 500 when a change failed.
//! A change runs on its own thread, so the endpoint answers (409) while it
//! does.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::control::{Control, ControlError, Memory, Order, RescaleOptions, Strategy};
use super::exporter::ListenError;

/// A listening control socket, not yet serving (bind before the job
/// starts, so that a port in use fails first).
pub struct BoundControl {
    server: tiny_http::Server,
    addr: SocketAddr,
}

/// A serving control endpoint; stops when dropped.
pub struct ControlServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BoundControl {
    /// Listens on `addr` (`127.0.0.1:9250`; port 0 picks a free port).
    pub fn bind(addr: &str) -> Result<BoundControl, ListenError> {
        let (server, addr) = super::exporter::listen("--control-addr", addr)?;
        Ok(BoundControl { server, addr })
    }

    /// The address bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `control` until the returned server is dropped.
    pub fn serve(self, control: Control) -> ControlServer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let server = self.server;
        let thread = std::thread::Builder::new()
            .name("control-http".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(100)) else { continue };
                    let control = control.clone();
                    // A rescale takes a while: answer others meanwhile.
                    let _ =
                        std::thread::Builder::new().name("control-request".into()).spawn(move || handle(req, &control));
                }
            })
            .ok();
        ControlServer { stop, thread }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An answer: status and JSON body.
struct Answer(u16, Value);

fn ok(v: impl Serialize) -> Answer {
    Answer(200, serde_json::to_value(v).unwrap_or(Value::Null))
}

fn error(status: u16, message: impl Into<String>) -> Answer {
    Answer(status, json!({ "error": message.into() }))
}

fn handle(mut req: tiny_http::Request, control: &Control) {
    let mut body = String::new();
    let answer = match req.as_reader().take(1 << 20).read_to_string(&mut body) {
        Err(e) => error(400, format!("the body is not UTF-8 text: {e}")),
        Ok(_) => route(req.method(), req.url(), &body, control),
    };
    let ct = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("static header");
    let text = serde_json::to_string_pretty(&answer.1).unwrap_or_default() + "\n";
    let _ = req.respond(tiny_http::Response::from_string(text).with_status_code(answer.0).with_header(ct));
}

fn route(method: &tiny_http::Method, url: &str, body: &str, control: &Control) -> Answer {
    use tiny_http::Method::{Get, Put};
    let path: Vec<&str> = url.split('?').next().unwrap_or("").split('/').filter(|s| !s.is_empty()).collect();
    match (method, path.as_slice()) {
        (Get, ["job"]) => ok(json!({
            "operators": control.operators(),
            "busy": control.is_busy(),
            "rescale": control.rescale_totals(),
        })),
        (Get, ["operators"]) => ok(control.operators()),
        (Put, ["operators", op, "parallelism"]) => match parse_parallelism(body) {
            Ok((p, opts)) => answer(control.rescale(op, p, opts)),
            Err(e) => error(400, e),
        },
        (Put, ["operators", op, "memory"]) => match parse_memory(body) {
            Ok(m) => answer(control.resize(op, m)),
            Err(e) => error(400, e),
        },
        (_, ["job"] | ["operators"] | ["operators", _, "parallelism" | "memory"]) => {
            error(405, format!("{method} is not allowed on {url}"))
        }
        _ => error(404, format!("no such path: {url} (GET /job, GET /operators, PUT /operators/OP/parallelism, PUT /operators/OP/memory)")),
    }
}

fn answer<T: Serialize>(r: Result<T, ControlError>) -> Answer {
    match r {
        Ok(v) => ok(v),
        Err(e) => {
            let status = match e {
                ControlError::UnknownOperator { .. } => 404,
                ControlError::Busy | ControlError::Finished => 409,
                ControlError::Failed(_) => 500,
                _ => 400,
            };
            error(status, e.to_string())
        }
    }
}

fn object(body: &str) -> Result<serde_json::Map<String, Value>, String> {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the body must be a JSON object".into()),
        Err(e) => Err(format!("the body is not JSON: {e}")),
    }
}

fn parse_parallelism(body: &str) -> Result<(u32, RescaleOptions), String> {
    let m = object(body)?;
    let p = m.get("parallelism").and_then(Value::as_u64).ok_or("`parallelism` (a whole number) is required")?;
    let p = u32::try_from(p).map_err(|_| format!("parallelism {p} is too large"))?;
    let mut opts = RescaleOptions::default();
    if let Some(s) = m.get("strategy") {
        opts.strategy = s.as_str().ok_or("`strategy` must be a string")?.parse::<Strategy>()?;
    }
    if let Some(b) = m.get("batch") {
        opts.batch = b.as_u64().filter(|&b| b > 0).ok_or("`batch` must be a whole number above 0")? as usize;
    }
    if let Some(o) = m.get("order") {
        opts.order = o.as_str().ok_or("`order` must be a string")?.parse::<Order>()?;
    }
    for k in m.keys() {
        if !["parallelism", "strategy", "batch", "order"].contains(&k.as_str()) {
            return Err(format!("unknown field `{k}` (parallelism, strategy, batch, order)"));
        }
    }
    Ok((p, opts))
}

fn bytes(name: &str, v: &Value) -> Result<usize, String> {
    match v {
        Value::Number(n) => {
            n.as_u64().map(|b| b as usize).ok_or_else(|| format!("`{name}` must be a whole number of bytes"))
        }
        Value::String(s) => cachesim::size::parse_size(s).map(|b| b as usize).map_err(|e| format!("`{name}`: {e}")),
        _ => Err(format!("`{name}` must be bytes (a number) or a size such as \"256MiB\"")),
    }
}

fn parse_memory(body: &str) -> Result<Memory, String> {
    let m = object(body)?;
    let mut memory = Memory::default();
    for (k, v) in &m {
        match k.as_str() {
            "cache" => memory.cache = Some(bytes(k, v)?),
            "write_buffer" => memory.write_buffer = Some(bytes(k, v)?),
            _ => return Err(format!("unknown field `{k}` (cache, write_buffer)")),
        }
    }
    if memory == Memory::default() {
        return Err("name `cache`, `write_buffer` or both".into());
    }
    Ok(memory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_or_say_why_not() {
        let (p, o) = parse_parallelism(r#"{"parallelism": 4, "strategy": "stop-the-world", "batch": 2}"#).unwrap();
        assert_eq!((p, o.strategy, o.batch), (4, Strategy::StopTheWorld, 2));
        assert!(parse_parallelism("{").unwrap_err().contains("not JSON"));
        assert!(parse_parallelism(r#"{"p": 4}"#).unwrap_err().contains("`parallelism`"));
        assert!(parse_parallelism(r#"{"parallelism": 4, "strategy": "fast"}"#)
            .unwrap_err()
            .contains("unknown strategy"));
        let m = parse_memory(r#"{"cache": "256MiB", "write_buffer": 1048576}"#).unwrap();
        assert_eq!((m.cache, m.write_buffer), (Some(256 << 20), Some(1 << 20)));
        assert!(parse_memory("{}").unwrap_err().contains("cache"));
        assert!(parse_memory(r#"{"cache": "lots"}"#).unwrap_err().contains("`cache`"));
    }
}
