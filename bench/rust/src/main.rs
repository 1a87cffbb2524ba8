//! The Rust crate's side of the cross-implementation benchmark: a worker
//! serving BenchmarkService with the crates.io `vgi-rpc` crate.
//!
//! Usage: vgi-bench-rust              serve on stdin/stdout
//!        vgi-bench-rust --unix PATH  serve on a unix socket at PATH
//!        vgi-bench-rust --tcp        serve on loopback TCP port 0, print PORT:<n>
//!        vgi-bench-rust --http       serve HTTP on loopback port 0, print PORT:<n>
//!        vgi-bench-rust --driver     a client driver (bench/py/client.py's JSON-line protocol)

mod driver;
mod service;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn usage() -> ExitCode {
    eprintln!("usage: vgi-bench-rust [--unix PATH | --tcp | --http | --driver]");
    ExitCode::from(2)
}

fn serve_stdio(server: &vgi_rpc::RpcServer) {
    // Raw fds 0 and 1: Rust's Stdout is line-buffered (it would flush at every
    // 0x0A byte of a binary stream). The crate flushes after each response.
    // SAFETY: fds 0 and 1 are open for the process's lifetime and owned here only.
    let stdin = unsafe { File::from_raw_fd(0) };
    let stdout = unsafe { File::from_raw_fd(1) };
    let r = BufReader::with_capacity(1 << 16, stdin);
    let w = BufWriter::with_capacity(1 << 16, stdout);
    server.notify_transport(vgi_rpc::TransportKind::Pipe, Default::default());
    server.serve(r, w);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let server = Arc::new(service::build_server());
    let shutdown = Arc::new(AtomicBool::new(false));
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => serve_stdio(&server),
        ["--unix", path] => {
            if let Err(e) = vgi_rpc::unix::serve_unix(server, path, None, shutdown, || {}) {
                eprintln!("vgi-bench-rust: unix {path}: {e}");
                return ExitCode::FAILURE;
            }
        }
        ["--tcp"] => {
            let r = vgi_rpc::tcp::serve_tcp(server, "127.0.0.1", 0, None, shutdown, |_, port| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "PORT:{port}");
                let _ = out.flush();
            });
            if let Err(e) = r {
                eprintln!("vgi-bench-rust: tcp: {e}");
                return ExitCode::FAILURE;
            }
        }
        ["--http"] => return serve_http(server),
        ["--driver"] => return driver::run(),
        _ => return usage(),
    }
    ExitCode::SUCCESS
}

fn serve_http(server: Arc<vgi_rpc::RpcServer>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vgi-bench-rust: tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r: std::io::Result<()> = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let state = vgi_rpc::http::HttpState::builder()
            .server(server)
            // vgi-rpc 0.15.0 routes `{prefix}/{method}`; the current protocol
            // (Python 0.52.2, our client) posts to `{prefix}/{protocol}/{method}`.
            .prefix("/BenchmarkService")
            .disable_response_compression()
            .max_body_size(1 << 30)
            .build();
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "PORT:{port}")?;
            out.flush()?;
        }
        // The crate's handlers take the body through axum's `Bytes` extractor,
        // whose own 2 MiB default limit applies whatever max_body_size says:
        // lift it here to the same ceiling.
        let app = vgi_rpc::http::build_router(state).layer(axum::extract::DefaultBodyLimit::max(1 << 30));
        axum::serve(listener, app).with_graceful_shutdown(vgi_rpc::http::shutdown_signal()).await
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vgi-bench-rust: http: {e}");
            ExitCode::FAILURE
        }
    }
}
