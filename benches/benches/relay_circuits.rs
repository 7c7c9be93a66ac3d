//! Load generator: how many circuits one relay holds and what an idle
//! circuit costs it (docs/spec.md §13.5). Starts a `warren relay` process
//! on loopback, opens 10,000 one-hop circuits to it from this process
//! (several client hosts, since one connection carries at most 4,096
//! substreams), and reads the relay's resident memory before and after.
//!
//! Needs the release binary: `cargo build --release --bin warren`, then
//! `cargo bench -p warren-benches --bench relay_circuits`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::time::{Duration, Instant};

use futures::future::join_all;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::ntor::EphemeralSecret;
use warren_crypto::{OnionKeypair, RelayIdentity, RelayIdentityKeypair};
use warren_net::Multiaddr;
use warren_net::host::{Host, HostConfig};
use warren_net::keystore::read_key_file;
use warren_net::link::{LinkReader, LinkWriter};
use warren_proto::cell::CircId;
use warren_proto::circuit::{CircEvent, HopTarget, OriginCircuit};
use warren_proto::stream::StreamRole;
use warren_proto::time::Timestamp;
use warren_tests::procs::{Node, free_port};

const CIRCUITS: usize = 10_000;
const HOSTS: usize = 4;
const BATCH: usize = 250;

/// The relay process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One open circuit, held so that it stays open.
struct Held {
    _circuit: OriginCircuit,
    _rx: LinkReader,
    _tx: LinkWriter,
}

async fn open(host: &Host, target: &HopTarget, addrs: &[Multiaddr]) -> Held {
    let link = host.open_link(&target.identity, addrs).await.expect("link");
    let (mut rx, tx) = link.split();
    let mut circuit = OriginCircuit::new(
        Timestamp::ZERO,
        CircId(1),
        target,
        EphemeralSecret::generate(&mut rand::rng()),
        Duration::from_secs(60),
        StreamRole::Initiator,
    )
    .unwrap();
    while let Some(cell) = circuit.poll_transmit() {
        tx.send(cell).await.unwrap();
    }
    loop {
        let Some(cell) = rx.recv().await.unwrap() else {
            panic!("the relay closed a link before CREATED");
        };
        circuit.handle_cell(Timestamp::ZERO, cell).unwrap();
        if let Some(CircEvent::Extended { hops: 1 }) = circuit.poll_event() {
            break;
        }
    }
    Held {
        _circuit: circuit,
        _rx: rx,
        _tx: tx,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = tempfile::tempdir().unwrap();
    let ip = "127.0.0.61";
    let listen = format!("/ip4/{ip}/tcp/{}", free_port(ip));
    let dir = root.path().join("relay");
    let info = root.path().join("relay.info");
    let mut relay = Node::spawn(
        "relay",
        &dir,
        &[
            "relay",
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            &listen,
            "--max-circuits",
            "10000",
            "--info-file",
            info.to_str().unwrap(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !info.exists() {
        relay.assert_running();
        assert!(Instant::now() < deadline, "the relay did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&info).unwrap();
    let identity: RelayIdentity = text
        .lines()
        .find_map(|l| l.strip_prefix("identity "))
        .unwrap()
        .parse()
        .unwrap();
    let onion: OnionKeypair = read_key_file(&dir.join("onion.key")).unwrap();
    let target = HopTarget {
        identity,
        onion_key: onion.public(),
        link_specs: Vec::new(),
    };
    let addrs: Vec<Multiaddr> = vec![listen.parse().unwrap()];
    let mut hosts = Vec::new();
    for i in 0..HOSTS {
        let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(i as u64));
        let config = HostConfig {
            listen: Vec::new(),
            idle_timeout: Duration::from_secs(600),
            serve_directory: false,
        };
        hosts.push(Host::start(&key, &config).await.unwrap().0);
    }
    // Warm the connections so the baseline includes them.
    let mut held: Vec<Held> = join_all(hosts.iter().map(|h| open(h, &target, &addrs))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = relay.pid().unwrap();
    let before = rss_kib(pid);
    let started = Instant::now();
    while held.len() < CIRCUITS {
        let n = BATCH.min(CIRCUITS - held.len());
        let base = held.len();
        let batch = (0..n).map(|i| open(&hosts[(base + i) % HOSTS], &target, &addrs));
        held.extend(join_all(batch).await);
        if held.len() % 2000 < BATCH {
            println!("{} circuits open", held.len());
        }
    }
    let took = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / (CIRCUITS - HOSTS) as f64;
    println!(
        "relay holding {} circuits (limit 10,000), {HOSTS} client connections",
        held.len()
    );
    println!(
        "opened in {took:.1} s: {:.0} circuits/s",
        (CIRCUITS - HOSTS) as f64 / took
    );
    println!(
        "relay RSS {} KiB before, {} KiB after: {:.1} KiB per idle circuit (target at most 16 KiB)",
        before,
        after,
        per / 1024.0
    );
    relay.kill();
}
