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
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use warren_benches::load::{measure, stats};
use warren_tests::procs::{Node, wait_until};

const SAMPLES: usize = 20;
const BULK: u64 = 100_000_000;

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
    let nodes: Vec<u32> = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| u32::try_from(n["pid"].as_u64()?).ok())
        .collect();
    let figures =
        measure(socks, &address, backend, SAMPLES, BULK, usable, &nodes).expect("measure");
    let (direct_mbs, onion_mbs) = (figures.direct_mbs, figures.onion_mbs);
    let exit_mbs = figures.exit_mbs.expect("the exit download");

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
    for (name, v) in [
        ("open rendezvous circuit", figures.warm),
        ("new rendezvous", figures.fresh),
    ] {
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
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "| CPU the nodes spent on the onion download | {:.0} ms per MB: {cores} cores carry at most {:.0} MB/s |",
        figures.onion_cpu_ms_per_mb,
        cores as f64 * 1e3 / figures.onion_cpu_ms_per_mb
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
