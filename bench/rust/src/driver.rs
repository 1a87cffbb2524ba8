//! `--driver`: a client driver speaking bench/py/client.py's JSON-line
//! protocol, so the Rust→Rust pair can be measured.
//!
//! The vgi-rpc crate (0.15.0, and every later release) ships a server only,
//! no RPC client: the client here is ours, a minimal one for the benchmark's
//! workloads over pipe, unix and TCP, written on the crate's Arrow IPC
//! framing (`vgi_rpc::wire::StreamWriter` / `StreamReader`) and its metadata
//! key names. HTTP is not implemented.
//!
//! Figures and MB/s definitions are client.py's: add {calls_per_s, p50_us,
//! p99_us, seconds}; producer {mb_per_s, bytes, seconds} with bytes = rows
//! received × 16; exchange likewise with bytes = rows × 8 × 2 (sent +
//! received); echo {seconds, bytes, rss_before, rss_peak}.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{Array, BinaryArray, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{json, Map, Value};
use vgi_rpc::metadata::{LOG_LEVEL_KEY, LOG_MESSAGE_KEY, REQUEST_VERSION, REQUEST_VERSION_KEY, RPC_METHOD_KEY};
use vgi_rpc::wire::{empty_batch, Metadata, StreamReader, StreamWriter};

use crate::service::transform_schema;

const PROTOCOL_KEY: &str = "vgi_rpc.protocol";
const PROTOCOL: &str = "BenchmarkService";

type DynErr = Box<dyn std::error::Error>;
type Res<T> = std::result::Result<T, DynErr>;

fn err<T>(msg: impl Into<String>) -> Res<T> {
    Err(msg.into().into())
}

struct Conn {
    r: BufReader<Box<dyn Read>>,
    w: BufWriter<Box<dyn Write>>,
    child: Option<Child>,
}

/// A batch the server sent: data, or a log/exception riding on an empty batch.
enum Msg {
    Data(RecordBatch),
    End,
}

/// Reads the next data batch of a response stream, skipping log batches;
/// an EXCEPTION batch becomes an error.
fn next_data<R: Read>(rd: &mut StreamReader<R>) -> Res<Msg> {
    loop {
        match rd.read_next()? {
            None => return Ok(Msg::End),
            Some((batch, md)) => match md.get(LOG_LEVEL_KEY).map(String::as_str) {
                Some("EXCEPTION") => {
                    let m = md.get(LOG_MESSAGE_KEY).cloned().unwrap_or_default();
                    return err(format!("server error: {m}"));
                }
                Some(_) => continue,
                None => return Ok(Msg::Data(batch)),
            },
        }
    }
}

impl Conn {
    fn open(cmd: &Value) -> Res<Conn> {
        let transport = cmd["transport"].as_str().unwrap_or("");
        match transport {
            "pipe" => {
                let argv: Vec<String> = serde_json::from_value(cmd["cmd"].clone())?;
                let (prog, args) = argv.split_first().ok_or("open: empty cmd")?;
                let mut child = Command::new(prog).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
                let stdin: Box<dyn Write> = Box::new(child.stdin.take().ok_or("no stdin")?);
                let stdout: Box<dyn Read> = Box::new(child.stdout.take().ok_or("no stdout")?);
                Ok(Conn { r: BufReader::with_capacity(1 << 16, stdout), w: BufWriter::with_capacity(1 << 16, stdin), child: Some(child) })
            }
            "unix" => {
                let s = UnixStream::connect(cmd["path"].as_str().ok_or("open: no path")?)?;
                let r: Box<dyn Read> = Box::new(s.try_clone()?);
                let w: Box<dyn Write> = Box::new(s);
                Ok(Conn { r: BufReader::with_capacity(1 << 16, r), w: BufWriter::with_capacity(1 << 16, w), child: None })
            }
            "tcp" => {
                let port = cmd["port"].as_u64().or_else(|| cmd["port"].as_str().and_then(|p| p.parse().ok())).ok_or("open: no port")?;
                let s = TcpStream::connect(("127.0.0.1", port as u16))?;
                s.set_nodelay(true)?;
                let r: Box<dyn Read> = Box::new(s.try_clone()?);
                let w: Box<dyn Write> = Box::new(s);
                Ok(Conn { r: BufReader::with_capacity(1 << 16, r), w: BufWriter::with_capacity(1 << 16, w), child: None })
            }
            other => err(format!("unknown transport {other:?} (the Rust driver speaks pipe, unix, tcp)")),
        }
    }

    fn send_request(&mut self, method: &str, params: &RecordBatch) -> Res<()> {
        let mut md = Metadata::new();
        md.insert(RPC_METHOD_KEY.to_string(), method.to_string());
        md.insert(REQUEST_VERSION_KEY.to_string(), REQUEST_VERSION.to_string());
        // The current protocol (Python 0.52.2, our TypeScript) routes by this
        // key and requires it; the crate 0.15.0 does not read it.
        md.insert(PROTOCOL_KEY.to_string(), PROTOCOL.to_string());
        let mut sw = StreamWriter::new(&mut self.w, params.schema().as_ref())?;
        sw.write(params, Some(&md))?;
        sw.finish()?; // writes EOS and flushes
        Ok(())
    }

    fn unary(&mut self, method: &str, params: &RecordBatch) -> Res<Option<RecordBatch>> {
        self.send_request(method, params)?;
        let mut rd = StreamReader::new(&mut self.r)?;
        let mut result = None;
        loop {
            match next_data(&mut rd)? {
                Msg::End => break,
                Msg::Data(b) => result = Some(b),
            }
        }
        Ok(result)
    }

    fn close(mut self) {
        drop(self.w); // EOF on the worker's input: it stops
        if let Some(c) = self.child.as_mut() {
            let _ = c.wait();
        }
    }
}

fn one_row(fields: Vec<(&str, DataType, Arc<dyn Array>)>) -> Res<RecordBatch> {
    let schema: SchemaRef = Arc::new(Schema::new(fields.iter().map(|(n, t, _)| Field::new(*n, t.clone(), false)).collect::<Vec<_>>()));
    Ok(RecordBatch::try_new(schema, fields.into_iter().map(|(_, _, a)| a).collect())?)
}

fn i64_col(v: i64) -> Arc<dyn Array> {
    Arc::new(arrow_array::Int64Array::from(vec![v]))
}

fn f64_col(v: f64) -> Arc<dyn Array> {
    Arc::new(Float64Array::from(vec![v]))
}

fn pct(sorted_ns: &[u64], q: f64) -> f64 {
    let i = ((sorted_ns.len() as f64 * q) as usize).min(sorted_ns.len() - 1);
    sorted_ns[i] as f64 / 1000.0
}

fn run_add(c: &mut Conn, n: usize) -> Res<Value> {
    if n == 0 {
        return err("add: n must be > 0");
    }
    let mut lat = vec![0u64; n];
    let start = Instant::now();
    for (i, slot) in lat.iter_mut().enumerate() {
        let t0 = Instant::now();
        let params = one_row(vec![("a", DataType::Float64, f64_col(i as f64)), ("b", DataType::Float64, f64_col(1.0))])?;
        let r = c.unary("add", &params)?.ok_or("add: no result")?;
        let v = r.column_by_name("result").ok_or("add: no result column")?.as_any().downcast_ref::<Float64Array>().ok_or("add: result not float64")?.value(0);
        *slot = t0.elapsed().as_nanos() as u64;
        if v != i as f64 + 1.0 {
            return err(format!("wrong result {v} for {i} + 1"));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    Ok(json!({"calls_per_s": n as f64 / seconds, "p50_us": pct(&lat, 0.5), "p99_us": pct(&lat, 0.99), "seconds": seconds}))
}

fn bandwidth(nbytes: usize, seconds: f64) -> Value {
    json!({"mb_per_s": nbytes as f64 / seconds / 1e6, "bytes": nbytes, "seconds": seconds})
}

fn run_producer(c: &mut Conn, batches: i64, rows: i64) -> Res<Value> {
    let start = Instant::now();
    let params = one_row(vec![("count", DataType::Int64, i64_col(batches)), ("rows", DataType::Int64, i64_col(rows))])?;
    c.send_request("generate_batches", &params)?;
    let mut got = 0usize;
    {
        // The input stream's schema and first tick go out before the output
        // stream's schema is read: the Python server writes that schema only
        // once it has read the first tick, the crate's server before.
        let tick_schema = Schema::empty();
        let tick = empty_batch(&tick_schema)?;
        let mut input = StreamWriter::new(&mut c.w, &tick_schema)?;
        input.write(&tick, None)?;
        input.flush()?;
        let mut out = StreamReader::new(&mut c.r)?;
        let mut first = true;
        loop {
            if !first {
                input.write(&tick, None)?;
                input.flush()?;
            }
            first = false;
            match next_data(&mut out)? {
                Msg::End => break,
                Msg::Data(b) => got += b.num_rows(),
            }
        }
        input.finish()?;
    }
    let seconds = start.elapsed().as_secs_f64();
    if got as i64 != batches * rows {
        return err(format!("producer: {got} rows, expected {}", batches * rows));
    }
    Ok(bandwidth(got * 16, seconds))
}

fn run_exchange(c: &mut Conn, inputs: &mut HashMap<usize, RecordBatch>, batches: usize, rows: usize) -> Res<Value> {
    let inp = inputs
        .entry(rows)
        .or_insert_with(|| {
            let v: Float64Array = (0..rows).map(|k| k as f64).collect();
            RecordBatch::try_new(transform_schema(), vec![Arc::new(v)]).expect("input batch")
        })
        .clone();
    let start = Instant::now();
    let params = one_row(vec![("factor", DataType::Float64, f64_col(2.0))])?;
    c.send_request("transform", &params)?;
    let mut got = 0usize;
    let mut second = None;
    {
        let mut input = StreamWriter::new(&mut c.w, inp.schema().as_ref())?;
        let mut out: Option<StreamReader<&mut BufReader<Box<dyn Read>>>> = None;
        for _ in 0..batches {
            input.write(&inp, None)?;
            input.flush()?;
            if out.is_none() {
                out = Some(StreamReader::new(&mut c.r)?); // as in run_producer: after the first input
            }
            match next_data(out.as_mut().unwrap())? {
                Msg::End => return err("exchange: stream ended early"),
                Msg::Data(b) => {
                    got += b.num_rows();
                    if b.num_rows() > 1 {
                        second = b.column(0).as_any().downcast_ref::<Float64Array>().map(|a| a.value(1));
                    }
                }
            }
        }
        input.finish()?;
        let mut out = match out {
            Some(o) => o,
            None => StreamReader::new(&mut c.r)?,
        };
        while let Msg::Data(_) = next_data(&mut out)? {}
    }
    let seconds = start.elapsed().as_secs_f64();
    if got != batches * rows || (rows > 1 && second != Some(2.0)) {
        return err(format!("exchange: {got} rows, expected {}", batches * rows));
    }
    Ok(bandwidth(got * 16, seconds))
}

/// (VmRSS, VmHWM) of this process, bytes.
fn memory() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn run_echo(c: &mut Conn, nbytes: usize) -> Res<Value> {
    // Pseudo-random bytes (xorshift): not all zeros, cheap to make.
    let mut payload = vec![0u8; nbytes];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in payload.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = memory().0;
    let start = Instant::now();
    let params = {
        let schema = Arc::new(Schema::new(vec![Field::new("data", DataType::Binary, false)]));
        let arr = BinaryArray::from_vec(vec![payload.as_slice()]);
        RecordBatch::try_new(schema, vec![Arc::new(arr)])?
    };
    let r = c.unary("echo", &params)?.ok_or("echo: no result")?;
    let seconds = start.elapsed().as_secs_f64();
    let rss_peak = memory().1;
    let col = r.column_by_name("result").ok_or("echo: no result column")?;
    let back = col.as_any().downcast_ref::<BinaryArray>().ok_or("echo: result not binary")?.value(0);
    let probes: &[usize] = if nbytes > 0 { &[0, 1, nbytes / 2, nbytes - 1] } else { &[] };
    if back.len() != nbytes || probes.iter().any(|&i| i < nbytes && back[i] != payload[i]) {
        return err(format!("echo: {} bytes back, expected {nbytes} equal bytes", back.len()));
    }
    Ok(json!({"seconds": seconds, "bytes": nbytes, "rss_before": rss_before, "rss_peak": rss_peak}))
}

fn int(cmd: &Value, key: &str) -> Res<i64> {
    cmd[key].as_i64().or_else(|| cmd[key].as_f64().map(|f| f as i64)).ok_or_else(|| format!("missing {key}").into())
}

struct Driver {
    conns: HashMap<String, Conn>,
    inputs: HashMap<usize, RecordBatch>,
}

impl Driver {
    fn handle(&mut self, cmd: &Value) -> Res<Value> {
        let key = cmd["key"].as_str().unwrap_or("").to_string();
        match cmd["op"].as_str().unwrap_or("") {
            "open" => {
                let c = Conn::open(cmd)?;
                if let Some(old) = self.conns.insert(key, c) {
                    old.close();
                }
                Ok(json!({}))
            }
            "run" => {
                let c = self.conns.get_mut(&key).ok_or_else(|| format!("no connection {key:?}"))?;
                match cmd["workload"].as_str().unwrap_or("") {
                    "add" => run_add(c, int(cmd, "n")? as usize),
                    "producer" => run_producer(c, int(cmd, "batches")?, int(cmd, "rows")?),
                    "exchange" => run_exchange(c, &mut self.inputs, int(cmd, "batches")? as usize, int(cmd, "rows")? as usize),
                    "echo" => run_echo(c, int(cmd, "bytes")? as usize),
                    w => err(format!("unknown workload {w:?}")),
                }
            }
            op => err(format!("unknown op {op:?}")),
        }
    }
}

pub fn run() -> std::process::ExitCode {
    let mut d = Driver { conns: HashMap::new(), inputs: HashMap::new() };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({"ok": false, "error": format!("bad command: {e}"), "traceback": ""}),
            Ok(cmd) if cmd["op"] == "close" => break,
            Ok(cmd) => match d.handle(&cmd) {
                Ok(Value::Object(figs)) => {
                    let mut m = Map::new();
                    m.insert("ok".into(), Value::Bool(true));
                    m.extend(figs);
                    Value::Object(m)
                }
                Ok(_) => json!({"ok": true}),
                Err(e) => json!({"ok": false, "error": e.to_string(), "traceback": ""}),
            },
        };
        if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    for (_, c) in d.conns.drain() {
        c.close();
    }
    std::process::ExitCode::SUCCESS
}
