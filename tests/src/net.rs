//! A network of real relays in one process, on 127.0.0.x, over real
//! libp2p sockets, and an origin driving the real circuit state machine
//! through them (docs/spec.md §9, §13). The relay, client and onion-service
//! tests and the load generators in benches/ all grow from it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test harness: a failure must fail the test that uses it"
)]

use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tempfile::TempDir;
use warren_crypto::RelayIdentityKeypair;
use warren_crypto::ntor::EphemeralSecret;
use warren_net::host::{Host, HostConfig};
use warren_net::link::{LinkReader, LinkWriter};
use warren_proto::cell::{CircId, DestroyReason};
use warren_proto::circuit::{CircEvent, HopTarget, OriginCircuit};
use warren_proto::relay_msg::{EndReason, LinkSpec};
use warren_proto::stream::{StreamEvent, StreamRole};
use warren_proto::time::Timestamp;
use warren_relay::{Relay, RelayConfig};

/// How long any single wait of these helpers may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A relay running in this process on a 127.0.0.x address, with its data
/// directory. Set `relay` to `None` to kill it.
pub struct TestRelay {
    /// The relay; `None` once killed.
    pub relay: Option<Relay>,
    _dir: TempDir,
}

impl TestRelay {
    /// The relay as a circuit hop.
    pub fn target(&self) -> HopTarget {
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

/// Starts a relay (no exit) listening on `ip`.
pub async fn start_relay(ip: &str, max_circuits: usize) -> TestRelay {
    start_relay_with(ip, max_circuits, None).await
}

/// Starts a relay listening on `ip`, an exit when `exit_policy` is given.
pub async fn start_relay_with(
    ip: &str,
    max_circuits: usize,
    exit_policy: Option<&str>,
) -> TestRelay {
    start_relay_configured(ip, |config| {
        config.max_circuits = max_circuits;
        config.exit_policy = exit_policy.map(|p| std::sync::Arc::new(p.parse().unwrap()));
    })
    .await
}

/// Starts a relay listening on `ip` with the defaults changed by `set`.
pub async fn start_relay_configured(ip: &str, set: impl FnOnce(&mut RelayConfig)) -> TestRelay {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        RelayConfig::new(dir.path().join("relay"), &[format!("/ip4/{ip}/tcp/0")]).unwrap();
    set(&mut config);
    let relay = Relay::start(config).await.expect("relay starts");
    TestRelay {
        relay: Some(relay),
        _dir: dir,
    }
}

/// A client's libp2p host, listening nowhere.
pub async fn client_host(seed: u64) -> Host {
    let key = RelayIdentityKeypair::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let config = HostConfig {
        listen: Vec::new(),
        idle_timeout: Duration::from_secs(30),
        serve_directory: false,
    };
    Host::start(&key, &config).await.expect("client host").0
}

/// The origin end of one circuit over a real link to its first hop.
/// The origin end of one circuit over a real link to its first hop.
pub struct Origin {
    /// The origin state machine.
    pub circuit: OriginCircuit,
    /// The link from the first hop.
    pub rx: LinkReader,
    /// The link to the first hop.
    pub tx: LinkWriter,
    /// Every circuit event seen so far.
    pub events: Vec<CircEvent>,
    started: Instant,
}

impl Origin {
    /// Opens a link to `first` and sends CREATE.
    pub async fn create(host: &Host, first: &TestRelay) -> Self {
        Self::create_as(host, first, StreamRole::Initiator).await
    }

    /// Opens a link to `first` and sends CREATE, for a circuit whose end
    /// opens streams (`Initiator`, a client) or accepts them (`Responder`,
    /// an onion service).
    pub async fn create_as(host: &Host, first: &TestRelay, role: StreamRole) -> Self {
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
            role,
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

    /// Now, on this origin's clock.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.started.elapsed().as_micros() as u64)
    }

    /// Sends every cell the machine has ready and collects its events.
    pub async fn flush(&mut self) {
        while let Some(cell) = self.circuit.poll_transmit() {
            self.tx.send(cell).await.expect("send");
        }
        while let Some(e) = self.circuit.poll_event() {
            self.events.push(e);
        }
    }

    /// Feeds cells from the link until `done` holds of the events seen.
    /// Feeds cells from the link until `done` holds of the events seen.
    pub async fn until(&mut self, what: &str, done: impl Fn(&[CircEvent]) -> bool) {
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

    /// Builds a circuit through `path`, hop by hop.
    pub async fn build(host: &Host, path: &[&TestRelay]) -> Self {
        Self::build_as(host, path, StreamRole::Initiator).await
    }

    /// Builds a circuit through `path` whose end has `role`.
    pub async fn build_as(host: &Host, path: &[&TestRelay], role: StreamRole) -> Self {
        let mut origin = Self::create_as(host, path[0], role).await;
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

    /// The reason the circuit was torn down, once it was.
    pub fn closed(&self) -> Option<DestroyReason> {
        self.events.iter().find_map(|e| match e {
            CircEvent::Closed(t) => Some(t.reason),
            _ => None,
        })
    }
}

/// A BEGIN travels to the last hop and its END comes back: the relay offers
/// no exit, so the stream is refused by exit policy.
/// Sends BEGIN for `127.0.0.1:port` to the last hop and waits for its END
/// EXITPOLICY: a round trip through the whole circuit to a relay that is no
/// exit, or whose policy refuses the port.
pub async fn expect_exit_refusal(origin: &mut Origin, port: u16) {
    let now = origin.now();
    let id = origin
        .circuit
        .begin_stream(now, "127.0.0.1", port)
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

/// Byte `i` of the test stream.
pub fn pattern(i: usize) -> u8 {
    ((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 29) as u8
}

impl Origin {
    /// Writes `total` pattern bytes on stream `id` and checks that the same
    /// bytes come back (the target echoes).
    pub async fn echo(&mut self, id: warren_proto::relay_msg::StreamId, total: usize) {
        let (mut sent, mut got) = (0, 0);
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
            assert!(!self.drain_checked(id, &mut got), "the stream ended early");
            self.flush().await;
            if got < total {
                self.next_cell().await;
            }
        }
    }

    /// Reads what stream `id` holds, checking every byte against
    /// [`pattern`] from offset `*got`. Returns true once the stream ended.
    fn drain_checked(&mut self, id: warren_proto::relay_msg::StreamId, got: &mut usize) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.circuit.streams().read(id, &mut buf).expect("read") {
                warren_proto::stream::StreamRead::Bytes(n) => {
                    for (k, b) in buf[..n].iter().enumerate() {
                        assert_eq!(*b, pattern(*got + k), "byte {} arrived altered", *got + k);
                    }
                    *got += n;
                }
                warren_proto::stream::StreamRead::WouldBlock => return false,
                warren_proto::stream::StreamRead::Finished(reason) => {
                    assert_eq!(
                        reason,
                        EndReason::DONE,
                        "the stream ended after {} bytes",
                        *got
                    );
                    return true;
                }
            }
        }
    }

    /// Waits for the next cell from the first hop and hands it to the
    /// circuit, then sends what the circuit has to send.
    pub async fn next_cell(&mut self) {
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

/// A TCP echo server on 127.0.0.1 for one connection.
pub async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = conn.into_split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    port
}

/// A TCP server on 127.0.0.1 that sends `total` pattern bytes to each
/// connection, then closes it.
pub async fn source_server(total: usize) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sent = 0;
                while sent < total {
                    let chunk: Vec<u8> = (sent..total.min(sent + 64 * 1024)).map(pattern).collect();
                    if conn.write_all(&chunk).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    port
}

impl Origin {
    /// Opens a stream to `127.0.0.1:port` through the circuit and waits for
    /// CONNECTED.
    pub async fn connect(&mut self, port: u16) -> warren_proto::relay_msg::StreamId {
        let now = self.now();
        let id = self
            .circuit
            .begin_stream(now, "127.0.0.1", port)
            .expect("begin");
        self.flush().await;
        let opened = CircEvent::Stream(StreamEvent::Opened(id));
        self.until("CONNECTED", |e| e.contains(&opened)).await;
        id
    }

    /// Reads stream `id` to its end, checking every byte against
    /// [`pattern`]; returns how many bytes came.
    pub async fn download(&mut self, id: warren_proto::relay_msg::StreamId) -> usize {
        let mut got = 0;
        while !self.drain_checked(id, &mut got) {
            self.flush().await;
            self.next_cell().await;
        }
        got
    }
}
