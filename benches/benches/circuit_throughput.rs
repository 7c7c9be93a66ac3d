//! Load generator: the bulk throughput of one three-hop circuit through
//! three real relays on loopback, against a direct TCP download from the
//! same server measured in the same run (docs/spec.md §13).
//!
//! `cargo bench -p warren-benches --bench circuit_throughput` prints a table
//! of three runs of each.

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::time::Instant;

use tokio::io::AsyncReadExt;
use warren_tests::net::{Origin, client_host, source_server, start_relay, start_relay_with};

const TOTAL: usize = 256 * 1024 * 1024;
const RUNS: usize = 3;

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

async fn direct(port: u16) -> f64 {
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    let started = Instant::now();
    loop {
        let n = conn.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        got += n;
    }
    assert_eq!(got, TOTAL);
    mb_per_s(got, started.elapsed().as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let port = source_server(TOTAL).await;
    let relays = [
        start_relay("127.0.0.21", 100).await,
        start_relay("127.0.0.22", 100).await,
        start_relay_with("127.0.0.23", 100, Some("accept 127.0.0.0/8:1-65535")).await,
    ];
    let host = client_host(21).await;
    println!("| run | direct TCP MB/s | 3-hop circuit MB/s | circuit / direct |");
    println!("|---|---|---|---|");
    for run in 1..=RUNS {
        let direct = direct(port).await;
        let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
        let id = origin.connect(port).await;
        let started = Instant::now();
        let got = origin.download(id).await;
        assert_eq!(got, TOTAL);
        let circuit = mb_per_s(got, started.elapsed().as_secs_f64());
        println!(
            "| {run} | {direct:.0} | {circuit:.1} | {:.3} |",
            circuit / direct
        );
    }
    println!(
        "({} MiB per transfer; the circuit's bytes are checked)",
        TOTAL >> 20
    );
}
