//! Real relays over real libp2p sockets on 127.0.0.x, driven by the origin
//! state machine (docs/spec.md §9, §13).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failure must fail the test"
)]

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tempfile::TempDir;
use warren_crypto::RelayIdentityKeypair;
use warren_crypto::ntor::EphemeralSecret;
use warren_net::host::{Host, HostConfig};
use warren_net::link::{LinkReader, LinkWriter};
use warren_proto::cell::{Cell, CellCmd, CircId, DestroyReason};
use warren_proto::circuit::{CircEvent, HopTarget, OriginCircuit};
use warren_proto::relay_msg::{EndReason, LinkSpec};
use warren_proto::stream::{StreamEvent, StreamRole};
use warren_proto::time::Timestamp;
use warren_relay::{Relay, RelayConfig};

const DEADLINE: Duration = Duration::from_secs(20);

struct TestRelay {
    relay: Option<Relay>,
    _dir: TempDir,
}

impl TestRelay {
    fn target(&self) -> HopTarget {
        let relay = self.relay.as_ref().expect("relay running");
        HopTarget {
            identity: relay.info().identity,
            onion_key: relay.onion_key(),
            link_specs: relay
                .info()
                .listen_addrs
                .iter()
                .map(|a| LinkSpec::Multiaddr(a.to_vec()))
                .collect(),
        }
    }
}

async fn start_relay(ip: &str, max_circuits: usize) -> TestRelay {
    start_relay_with(ip, max_circuits, None).await
}

async fn start_relay_with(ip: &str, max_circuits: usize, exit_policy: Option<&str>) -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        RelayConfig::new(dir.path().join("relay"), &[format!("/ip4/{ip}/tcp/0")]).unwrap();
    config.max_circuits = max_circuits;
    config.exit_policy = exit_policy.map(|p| std::sync::Arc::new(p.parse().unwrap()));
    let relay = Relay::start(config).await.expect("relay starts");
    TestRelay {
        relay: Some(relay),
        _dir: dir,
    }
}

async fn client_host(seed: u64) -> Host {
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let config = HostConfig {
        listen: Vec::new(),
        idle_timeout: Duration::from_secs(30),
    };
    Host::start(&key, &config).await.expect("client host").0
}

/// The origin end of one circuit over a real link to its first hop.
struct Origin {
    circuit: OriginCircuit,
    rx: LinkReader,
    tx: LinkWriter,
    events: Vec<CircEvent>,
    started: Instant,
}

impl Origin {
    async fn create(host: &Host, first: &TestRelay) -> Self {
        let target = first.target();
        let relay = first.relay.as_ref().unwrap();
        let link = host
            .open_link(&target.identity, &relay.info().listen_addrs)
            .await
            .expect("link to the first hop");
        let (rx, tx) = link.split();
        let eph = EphemeralSecret::generate(&mut rand::rng());
        let circuit = OriginCircuit::new(
            Timestamp::ZERO,
            CircId(1),
            &target,
            eph,
            Duration::from_secs(10),
            StreamRole::Initiator,
        )
        .unwrap();
        let mut origin = Self {
            circuit,
            rx,
            tx,
            events: Vec::new(),
            started: Instant::now(),
        };
        origin.flush().await;
        origin
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.started.elapsed().as_micros() as u64)
    }

    async fn flush(&mut self) {
        while let Some(cell) = self.circuit.poll_transmit() {
            self.tx.send(cell).await.expect("send");
        }
        while let Some(e) = self.circuit.poll_event() {
            self.events.push(e);
        }
    }

    /// Feeds cells from the link until `done` holds of the events seen.
    async fn until(&mut self, what: &str, done: impl Fn(&[CircEvent]) -> bool) {
        let wait = async {
            while !done(&self.events) {
                match self.rx.recv().await {
                    Ok(Some(cell)) => {
                        let now = self.now();
                        let _ = self.circuit.handle_cell(now, cell);
                    }
                    _ => panic!(
                        "the link closed while waiting for {what}: {:?}",
                        self.events
                    ),
                }
                self.flush().await;
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", self.events));
    }

    async fn build(host: &Host, path: &[&TestRelay]) -> Self {
        let mut origin = Self::create(host, path[0]).await;
        origin
            .until("hop 1", |e| e.contains(&CircEvent::Extended { hops: 1 }))
            .await;
        for (i, relay) in path.iter().enumerate().skip(1) {
            let eph = EphemeralSecret::generate(&mut rand::rng());
            let now = origin.now();
            origin
                .circuit
                .extend(now, &relay.target(), eph)
                .expect("extend");
            origin.flush().await;
            let hops = i + 1;
            origin
                .until("the next hop", |e| {
                    e.contains(&CircEvent::Extended { hops })
                })
                .await;
        }
        origin
    }

    fn closed(&self) -> Option<DestroyReason> {
        self.events.iter().find_map(|e| match e {
            CircEvent::Closed(t) => Some(t.reason),
            _ => None,
        })
    }
}

/// A BEGIN travels to the last hop and its END comes back: the relay offers
/// no exit, so the stream is refused by exit policy.
async fn round_trip_through(origin: &mut Origin) {
    let now = origin.now();
    let id = origin
        .circuit
        .begin_stream(now, "127.0.0.1", 80)
        .expect("begin");
    origin.flush().await;
    let refused = CircEvent::Stream(StreamEvent::Ended {
        id,
        reason: EndReason::EXITPOLICY,
    });
    origin
        .until("END from the last hop", |e| e.contains(&refused))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_hop_circuit_through_real_relays() {
    let relays = [
        start_relay("127.0.0.2", 100).await,
        start_relay("127.0.0.3", 100).await,
        start_relay("127.0.0.4", 100).await,
    ];
    let host = client_host(1).await;
    let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    assert_eq!(origin.circuit.hop_count(), 3);
    round_trip_through(&mut origin).await;
    for r in &relays {
        assert_eq!(r.relay.as_ref().unwrap().open_circuits(), 1);
    }
    origin.circuit.destroy(DestroyReason::REQUESTED);
    origin.flush().await;
    let all_closed = async {
        while relays
            .iter()
            .any(|r| r.relay.as_ref().unwrap().open_circuits() > 0)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, all_closed)
        .await
        .expect("every relay forgot the circuit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_circuit_tears_the_circuit_down_promptly() {
    let mut relays = [
        start_relay("127.0.0.5", 100).await,
        start_relay("127.0.0.6", 100).await,
        start_relay("127.0.0.7", 100).await,
    ];
    let host = client_host(2).await;
    let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    let killed = Instant::now();
    relays[1].relay = None;
    origin
        .until("the teardown", |e| {
            e.iter().any(|e| matches!(e, CircEvent::Closed(_)))
        })
        .await;
    assert_eq!(origin.closed(), Some(DestroyReason::CHANNEL_CLOSED));
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "teardown took {:?}",
        killed.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_for_1000_circuits_refuses_the_1001st_cleanly() {
    const MAX: usize = 1000;
    let relay = start_relay("127.0.0.8", MAX).await;
    let host = client_host(3).await;
    let mut open = Vec::with_capacity(MAX);
    for _ in 0..MAX {
        let mut origin = Origin::create(&host, &relay).await;
        origin
            .until("CREATED", |e| e.contains(&CircEvent::Extended { hops: 1 }))
            .await;
        open.push(origin);
    }
    assert_eq!(relay.relay.as_ref().unwrap().open_circuits(), MAX);
    let mut refused = Origin::create(&host, &relay).await;
    refused
        .until("DESTROY", |e| {
            e.iter().any(|e| matches!(e, CircEvent::Closed(_)))
        })
        .await;
    assert_eq!(refused.closed(), Some(DestroyReason::RESOURCELIMIT));
    // The circuits already open still work, and a freed slot is reused.
    round_trip_through(&mut open[0]).await;
    let mut gone = open.pop().unwrap();
    gone.circuit.destroy(DestroyReason::REQUESTED);
    gone.flush().await;
    let freed = async {
        while relay.relay.as_ref().unwrap().open_circuits() >= MAX {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, freed)
        .await
        .expect("the slot is freed");
    let mut again = Origin::create(&host, &relay).await;
    again
        .until("CREATED", |e| e.contains(&CircEvent::Extended { hops: 1 }))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_cells_close_only_their_circuits() {
    let relays = [
        start_relay("127.0.0.9", 2000).await,
        start_relay("127.0.0.10", 2000).await,
    ];
    let host = client_host(4).await;
    let mut healthy = Origin::build(&host, &[&relays[0], &relays[1]]).await;
    // 100 circuits, each sent 10 malformed cells: 1,000 in all.
    let mut victims = Vec::new();
    for v in 0..100u32 {
        let mut origin = Origin::create(&host, &relays[0]).await;
        origin
            .until("CREATED", |e| e.contains(&CircEvent::Extended { hops: 1 }))
            .await;
        for k in 0..10u32 {
            let mut body = [0u8; 512];
            body[..8].copy_from_slice(&(u64::from(v) << 32 | u64::from(k)).to_be_bytes());
            let cmd = [
                CellCmd::RELAY,
                CellCmd(200),
                CellCmd::CREATED,
                CellCmd::PADDING,
            ][(k % 4) as usize];
            let _ = origin
                .tx
                .send(Cell {
                    circ_id: CircId(1),
                    cmd,
                    body,
                })
                .await;
        }
        victims.push(origin);
    }
    for origin in &mut victims {
        // Each victim circuit is destroyed (or its link dropped) by the relay.
        let wait = async {
            loop {
                match origin.rx.recv().await {
                    Ok(Some(cell)) if cell.cmd == CellCmd::DESTROY => return,
                    Ok(Some(_)) => {}
                    _ => return,
                }
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .expect("the relay closed the bad circuit");
    }
    round_trip_through(&mut healthy).await;
    assert!(healthy.closed().is_none());
}

/// Byte `i` of the test stream.
fn pattern(i: usize) -> u8 {
    ((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 29) as u8
}

impl Origin {
    /// Writes `total` pattern bytes on stream `id` and checks that the same
    /// bytes come back (the target echoes).
    async fn echo(&mut self, id: warren_proto::relay_msg::StreamId, total: usize) {
        let (mut sent, mut got) = (0, 0);
        let mut buf = vec![0u8; 64 * 1024];
        while got < total {
            while sent < total {
                let chunk: Vec<u8> = (sent..total.min(sent + 16 * 1024)).map(pattern).collect();
                let n = self.circuit.streams().write(id, &chunk).expect("write");
                sent += n;
                if n < chunk.len() {
                    break;
                }
            }
            self.flush().await;
            loop {
                match self.circuit.streams().read(id, &mut buf).expect("read") {
                    warren_proto::stream::StreamRead::Bytes(n) => {
                        for (k, b) in buf[..n].iter().enumerate() {
                            assert_eq!(*b, pattern(got + k), "byte {} came back altered", got + k);
                        }
                        got += n;
                    }
                    warren_proto::stream::StreamRead::WouldBlock => break,
                    warren_proto::stream::StreamRead::Finished(r) => {
                        panic!("stream ended early: {r}")
                    }
                }
            }
            self.flush().await;
            if got >= total {
                break;
            }
            let cell = tokio::time::timeout(DEADLINE, self.rx.recv())
                .await
                .expect("the transfer stalled")
                .expect("link")
                .expect("the link closed");
            let now = self.now();
            self.circuit.handle_cell(now, cell).expect("cell");
            self.flush().await;
        }
    }
}

/// A TCP echo server on 127.0.0.1 for one connection.
async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = conn.into_split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_100_mib_through_three_real_relays_to_an_exit_target() {
    const TOTAL: usize = 100 * 1024 * 1024;
    let relays = [
        start_relay("127.0.0.12", 100).await,
        start_relay("127.0.0.13", 100).await,
        start_relay_with("127.0.0.14", 100, Some("accept 127.0.0.0/8:1-65535")).await,
    ];
    let port = echo_server().await;
    let host = client_host(5).await;
    let mut origin = Origin::build(&host, &[&relays[0], &relays[1], &relays[2]]).await;
    let now = origin.now();
    let id = origin
        .circuit
        .begin_stream(now, "127.0.0.1", port)
        .expect("begin");
    origin.flush().await;
    let opened = CircEvent::Stream(StreamEvent::Opened(id));
    origin.until("CONNECTED", |e| e.contains(&opened)).await;
    let started = Instant::now();
    origin.echo(id, TOTAL).await;
    eprintln!(
        "100 MiB up and back through three relays in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_refuses_what_its_policy_does_not_allow() {
    let relay = start_relay_with("127.0.0.15", 100, Some("accept 127.0.0.1/32:1-1000")).await;
    let host = client_host(6).await;
    let mut origin = Origin::build(&host, &[&relay]).await;
    let now = origin.now();
    let id = origin
        .circuit
        .begin_stream(now, "127.0.0.1", 8080)
        .expect("begin");
    origin.flush().await;
    let refused = CircEvent::Stream(StreamEvent::Ended {
        id,
        reason: EndReason::EXITPOLICY,
    });
    origin
        .until("END EXITPOLICY", |e| e.contains(&refused))
        .await;
}
