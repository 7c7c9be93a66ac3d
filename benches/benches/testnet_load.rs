//! Load generator: `warren testnet` as a user starts it, measured
//! (docs/spec.md §13–§16): time until the first answer through the onion
//! service, time to first byte through an open rendezvous circuit and a
//! new one, bulk throughput over the six-relay onion path and over three
//! hops to the exit, against a direct download from the same backend in
//! the same run, and the peak resident memory of each role.
//!
//! Needs the release binary: `cargo build --release --bin warren`, then
//! `cargo bench -p warren-benches --bench testnet_load`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use warren_tests::procs::{Node, wait_until};

const SAMPLES: usize = 20;
const BULK: u64 = 100_000_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    (ms(v[0]), ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

fn first_byte(mut s: TcpStream) -> TcpStream {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).expect("a first byte");
    s
}

/// Reads a response to its end; returns the bytes after the head.
fn drain(mut s: TcpStream) -> u64 {
    let mut buf = vec![0u8; 256 * 1024];
    let mut head: Vec<u8> = Vec::new();
    let mut body: Option<u64> = None;
    loop {
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            return body.unwrap_or(0);
        }
        match body.as_mut() {
            Some(b) => *b += n as u64,
            None => {
                head.extend_from_slice(&buf[..n]);
                if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    body = Some((head.len() - p - 4) as u64);
                }
            }
        }
    }
}

/// A SOCKS5 connection through `socks` to `host:80` (a domain-name
/// request), with `user` as the username (its own isolation key), that has
/// sent `GET path`.
fn socks5_get(socks: SocketAddr, user: &str, host: &str, path: &str) -> TcpStream {
    socks5_get_port(socks, user, host, 80, path)
}

/// [`socks5_get`] to `host:port`.
fn socks5_get_port(socks: SocketAddr, user: &str, host: &str, port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(socks).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(&[5, 1, 2]).unwrap();
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).unwrap();
    let mut auth = vec![1, u8::try_from(user.len()).unwrap()];
    auth.extend(user.as_bytes());
    auth.extend([1, b'x']);
    s.write_all(&auth).unwrap();
    s.read_exact(&mut reply).unwrap();
    let mut req = vec![5, 1, 0, 3, u8::try_from(host.len()).unwrap()];
    req.extend(host.as_bytes());
    req.extend(port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut connected = [0u8; 10];
    s.read_exact(&mut connected).unwrap();
    assert_eq!(connected[1], 0, "SOCKS reply {}", connected[1]);
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// Whether process `pid` still runs (not gone, not a zombie).
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
}

fn peak_rss_kib(pid: u64) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("net");
    let started = Instant::now();
    let mut controller = Node::spawn(
        "testnet",
        &root.path().join("controller"),
        &["testnet", "--data-dir", dir.to_str().unwrap()],
    );
    let state: serde_json::Value = wait_until("testnet.json", Duration::from_secs(120), || {
        controller.assert_running();
        serde_json::from_str(&std::fs::read_to_string(dir.join("testnet.json")).ok()?).ok()
    });
    let usable = started.elapsed();
    let socks: SocketAddr = state["socks"].as_str().unwrap().parse().unwrap();
    let backend: SocketAddr = state["backend"].as_str().unwrap().parse().unwrap();
    let address = state["service_address"].as_str().unwrap().to_owned();
    let backend_host = backend.ip().to_string();

    // The same isolation key each time: the open rendezvous circuit.
    let mut warm = Vec::new();
    first_byte(socks5_get(socks, "warm", &address, "/api/hello"));
    for _ in 0..SAMPLES {
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        first_byte(socks5_get(socks, "warm", &address, "/api/hello"));
        warm.push(t.elapsed());
    }
    // A new isolation key per request: a new rendezvous each time (the
    // descriptor is cached; rendezvous and intro circuits are built for
    // the request).
    let mut fresh = Vec::new();
    for i in 0..SAMPLES {
        let t = Instant::now();
        first_byte(socks5_get(
            socks,
            &format!("fresh{i}"),
            &address,
            "/api/hello",
        ));
        fresh.push(t.elapsed());
    }
    let t = Instant::now();
    let mut direct = TcpStream::connect(backend).unwrap();
    direct
        .write_all(format!("GET /large/{BULK} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(drain(direct), BULK);
    let direct_mbs = BULK as f64 / t.elapsed().as_secs_f64() / 1e6;
    let t = Instant::now();
    let bulk = socks5_get(socks, "bulk", &address, &format!("/large/{BULK}"));
    assert_eq!(drain(bulk), BULK);
    let onion_mbs = BULK as f64 / t.elapsed().as_secs_f64() / 1e6;
    let t = Instant::now();
    let bulk = socks5_get_port(
        socks,
        "exit",
        &backend_host,
        backend.port(),
        &format!("/large/{BULK}"),
    );
    assert_eq!(drain(bulk), BULK);
    let exit_mbs = BULK as f64 / t.elapsed().as_secs_f64() / 1e6;

    let mut rss: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for n in state["nodes"].as_array().unwrap() {
        if let Some(kib) = peak_rss_kib(n["pid"].as_u64().unwrap()) {
            rss.entry(n["role"].as_str().unwrap().to_owned())
                .or_default()
                .push(kib);
        }
    }

    println!("| what | result |");
    println!("|---|---|");
    println!(
        "| start to the first answer through the onion service | {:.1} s |",
        usable.as_secs_f64()
    );
    for (name, v) in [("open rendezvous circuit", warm), ("new rendezvous", fresh)] {
        let (lo, med, p90) = stats(v);
        println!(
            "| time to first byte, {name}, {SAMPLES} samples | min {lo:.1} ms, median {med:.1} ms, p90 {p90:.1} ms |"
        );
    }
    println!(
        "| bulk, {} MB over the onion path (6 relays) / direct | {onion_mbs:.1} MB/s / {direct_mbs:.0} MB/s ({:.3}) |",
        BULK / 1_000_000,
        onion_mbs / direct_mbs
    );
    println!(
        "| bulk, {} MB through 3 hops to the exit / direct | {exit_mbs:.1} MB/s ({:.3}) |",
        BULK / 1_000_000,
        exit_mbs / direct_mbs
    );
    for (role, v) in rss {
        let max = v.iter().max().copied().unwrap_or(0);
        println!(
            "| peak RSS, {role} ({} processes) | max {:.1} MiB |",
            v.len(),
            max as f64 / 1024.0
        );
    }
    // Ctrl-C, as a user stops it.
    let _ = std::process::Command::new("kill")
        .args(["-INT", &controller.pid().unwrap().to_string()])
        .status();
    let pids: Vec<u64> = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["pid"].as_u64())
        .collect();
    wait_until("every node to stop", Duration::from_secs(30), || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
}
