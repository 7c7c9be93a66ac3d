//! Load generator: a client's time from request to first byte on a
//! preemptive circuit and on a fresh one, and the circuits it builds per
//! second, on a process network on loopback (docs/spec.md §14.4). The
//! baseline, measured in the same run, is the same request made directly
//! over TCP.
//!
//! Needs the release binary: `cargo build --release --bin warren`, then
//! `cargo bench -p warren-benches --bench client_ttfb`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use warren_tests::procs::{
    socks5_get, start_authorities, start_backend, start_client, start_relay,
};

const SAMPLES: usize = 20;
const BURST: usize = 20;

fn first_byte(mut s: TcpStream) {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("a first byte");
}

fn direct(port: u16) -> Duration {
    let started = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    first_byte(s);
    started.elapsed()
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[0]), ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let auths = start_authorities(root.path(), &["127.0.6.1", "127.0.6.2", "127.0.6.3"], 8, 3);
    let mut nodes = Vec::new();
    for i in 0..6u8 {
        let extra = if i >= 4 {
            "exit_policy = [\"accept 127.0.0.0/8:1-65535\", \"reject *:*\"]"
        } else {
            ""
        };
        nodes.push(start_relay(
            root.path(),
            &format!("relay{i}"),
            &format!("127.0.6.{}", 10 + i),
            &auths.entries,
            8,
            extra,
        ));
    }
    let mut warm = start_client(
        root.path(),
        "warm",
        "127.0.6.30",
        &auths.entries,
        "preemptive_circuits = 2",
    );
    let mut cold = start_client(
        root.path(),
        "cold",
        "127.0.6.31",
        &auths.entries,
        "preemptive_circuits = 0",
    );
    warm.node
        .wait_for_output("bootstrap 100%", Duration::from_secs(90));
    // The cold client builds no circuit until asked: wait for its consensus.
    cold.node
        .wait_for_output("bootstrap 40%", Duration::from_secs(90));
    let backend = start_backend();

    let baseline: Vec<Duration> = (0..SAMPLES).map(|_| direct(backend)).collect();
    let mut preemptive = Vec::new();
    for i in 0..SAMPLES {
        // Let the pool refill: each new username takes a clean circuit.
        std::thread::sleep(Duration::from_millis(500));
        let started = Instant::now();
        first_byte(socks5_get(
            warm.socks,
            &format!("warm{i}"),
            backend,
            "/hello",
        ));
        preemptive.push(started.elapsed());
    }
    let mut fresh = Vec::new();
    for i in 0..SAMPLES {
        let started = Instant::now();
        first_byte(socks5_get(
            cold.socks,
            &format!("cold{i}"),
            backend,
            "/hello",
        ));
        fresh.push(started.elapsed());
    }
    let started = Instant::now();
    let threads: Vec<_> = (0..BURST)
        .map(|i| {
            let socks = cold.socks;
            std::thread::spawn(move || {
                first_byte(socks5_get(socks, &format!("burst{i}"), backend, "/hello"))
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let burst = started.elapsed().as_secs_f64();

    let (b0, b50, b90) = stats(baseline);
    println!(
        "time to first byte, {SAMPLES} samples each (ms)   min     median  p90     median/direct"
    );
    println!("direct TCP                                     {b0:7.2} {b50:7.2} {b90:7.2}");
    for (name, v) in [
        ("preemptive circuit", preemptive),
        ("fresh circuit (3 hops built)", fresh),
    ] {
        let (lo, med, p90) = stats(v);
        println!("{name:<46} {lo:7.2} {med:7.2} {p90:7.2} {:7.1}", med / b50);
    }
    println!(
        "circuits built per second by one client: {:.1} ({BURST} concurrent fresh circuits in {:.2} s)",
        BURST as f64 / burst,
        burst
    );
    drop(nodes);
}
