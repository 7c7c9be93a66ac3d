//! A raw onion-service client for tests and load generators (docs/spec.md
//! §15, §16), built from the library pieces rather than from `warren
//! client`: the consensus fetched from an authority's HTTP port and
//! verified, the descriptor fetched from an HSDir over a three-hop circuit
//! and opened, a rendezvous circuit, INTRODUCE1 made by hand (so that a
//! test can send the very same bytes twice, or a flood of fresh ones), and
//! the joined circuit keyed end to end with an HTTP GET across it.
//!
//! Unlike [`crate::net::Origin`], nothing here panics on a slow or closed
//! circuit: every wait is bounded and returns an error, so that a load
//! generator's tasks can count failures and go on.
//!
//! Also: a `warren service` process with top-level settings (a metrics
//! port), and a reader of its Prometheus figures.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test harness: a failure to set up must fail the test that uses it"
)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use warren_crypto::hs_ntor::{self, HsClientState, IntroKeys};
use warren_crypto::ntor::EphemeralSecret;
use warren_crypto::{HsAddress, RelayIdentity, TimePeriod};
use warren_directory::hs_descriptor::{HsDescriptorContent, IntroPointInfo, SignedHsDescriptor};
use warren_directory::{
    AuthorityIdentity, AuthoritySet, Consensus, DirRequest, DirResponse, Flags, HsDirRing,
    RelayStatus, Roles,
};
use warren_net::Multiaddr;
use warren_net::dir_client::unix_now;
use warren_net::host::Host;
use warren_net::link::{LinkReader, LinkWriter};
use warren_proto::cell::{CircId, DestroyReason};
use warren_proto::circuit::{CircEvent, HopNum, HopTarget, OriginCircuit};
use warren_proto::relay_msg::{
    EstablishRendezvous, Extension, Introduce1, IntroduceAckStatus, IntroducePayload, LinkSpec,
    REND_COOKIE_LEN, RelayCmd, RelayMsg, StreamId,
};
use warren_proto::stream::{StreamEvent, StreamRead, StreamRole};
use warren_proto::time::Timestamp;

use crate::procs::{http_get, wait_until};

/// What went wrong, in words: the raw client's errors are for logs and
/// counters, not for matching.
pub type RawResult<T> = Result<T, String>;

/// The length of a time period in minutes (§6.1), as services use.
pub const HS_PERIOD_MINUTES: u32 = 1440;
/// How long one hop's handshake may take.
const HOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a directory, intro or rendezvous point may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// The authority identities of `[[authorities]]` entries (the `identity =
/// "..."` lines `warren authority init` writes).
pub fn authority_set(entries: &str) -> AuthoritySet {
    let ids = entries.lines().filter_map(|l| {
        let value = l
            .trim()
            .strip_prefix("identity")?
            .trim()
            .strip_prefix('=')?;
        let hex = value.trim().trim_matches('"');
        Some(
            hex.parse::<AuthorityIdentity>()
                .expect("an authority identity"),
        )
    });
    AuthoritySet::new(ids).expect("an authority set")
}

/// The consensus an authority serves on its HTTP port, verified against
/// the authorities of `entries` and valid now.
pub fn fetch_consensus(http: SocketAddr, entries: &str) -> RawResult<Consensus> {
    let (status, bytes) =
        http_get(http, "/consensus").ok_or_else(|| format!("{http} does not answer"))?;
    if status != 200 {
        return Err(format!("{http} answered {status}"));
    }
    Consensus::decode(&bytes)
        .and_then(|c| c.verify(&authority_set(entries)))
        .and_then(|c| c.check_valid_at(unix_now()))
        .map_err(|e| format!("the consensus from {http} is not acceptable: {e}"))
}

/// Polls the authorities' HTTP ports until one serves a good consensus
/// listing at least `relays` Running relays.
pub fn wait_for_consensus(
    http: &[SocketAddr],
    entries: &str,
    relays: usize,
    within: Duration,
) -> Consensus {
    wait_until("a consensus of the relays", within, || {
        http.iter()
            .filter_map(|a| fetch_consensus(*a, entries).ok())
            .find(|c| running(c).count() >= relays)
    })
}

/// The Running relays of `consensus`.
pub fn running(consensus: &Consensus) -> impl Iterator<Item = &RelayStatus> {
    consensus
        .relays()
        .iter()
        .filter(|r| r.flags.contains(Flags::RUNNING))
}

/// A relay as a circuit hop.
pub fn hop_target(status: &RelayStatus) -> HopTarget {
    HopTarget {
        identity: status.identity,
        onion_key: status.info.onion_key,
        link_specs: status
            .info
            .addresses
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| LinkSpec::Multiaddr(a.to_vec()))
            .collect(),
    }
}

/// The origin end of one circuit over its own link to its first hop,
/// driven by hand like [`crate::net::Origin`], with bounded waits that
/// fail instead of panicking.
pub struct RawCircuit {
    /// The origin state machine.
    pub circuit: OriginCircuit,
    rx: LinkReader,
    tx: LinkWriter,
    events: VecDeque<CircEvent>,
    closed: Option<String>,
    started: Instant,
}

impl RawCircuit {
    /// Builds a circuit through `path`, hop by hop, whose end has `role`.
    pub async fn build(host: &Host, path: &[HopTarget], role: StreamRole) -> RawResult<Self> {
        let first = path.first().ok_or("an empty path")?;
        let addrs: Vec<Multiaddr> = first
            .link_specs
            .iter()
            .filter_map(|s| match s {
                LinkSpec::Multiaddr(b) => Multiaddr::try_from(b.clone()).ok(),
                _ => None,
            })
            .collect();
        let link = tokio::time::timeout(HOP_TIMEOUT, host.open_link(&first.identity, &addrs))
            .await
            .map_err(|_| "the link to the first hop timed out".to_owned())?
            .map_err(|e| format!("no link to the first hop: {e}"))?;
        let (rx, tx) = link.split();
        let eph = EphemeralSecret::generate(&mut rand::rng());
        let circuit = OriginCircuit::new(Timestamp::ZERO, CircId(1), first, eph, HOP_TIMEOUT, role)
            .map_err(|e| e.to_string())?;
        let mut c = Self {
            circuit,
            rx,
            tx,
            events: VecDeque::new(),
            closed: None,
            started: Instant::now(),
        };
        c.flush().await?;
        c.extended(1).await?;
        for (i, target) in path.iter().enumerate().skip(1) {
            let eph = EphemeralSecret::generate(&mut rand::rng());
            let now = c.now();
            c.circuit
                .extend(now, target, eph)
                .map_err(|e| e.to_string())?;
            c.flush().await?;
            c.extended(i + 1).await?;
        }
        Ok(c)
    }

    async fn extended(&mut self, hops: usize) -> RawResult<()> {
        self.wait_for(&format!("hop {hops}"), HOP_TIMEOUT, |e| {
            (*e == CircEvent::Extended { hops }).then_some(())
        })
        .await
    }

    /// Now, on this circuit's clock.
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(u64::try_from(self.started.elapsed().as_micros()).unwrap_or(0))
    }

    /// Sends what the machine has ready and collects its events.
    async fn flush(&mut self) -> RawResult<()> {
        while let Some(cell) = self.circuit.poll_transmit() {
            self.tx
                .send(cell)
                .await
                .map_err(|e| format!("the link closed: {e}"))?;
        }
        while let Some(e) = self.circuit.poll_event() {
            if let CircEvent::Closed(t) = &e {
                self.closed = Some(format!("the circuit closed ({:?})", t.reason));
            }
            self.events.push_back(e);
        }
        Ok(())
    }

    /// Waits for one cell and hands it to the machine.
    async fn pump(&mut self) -> RawResult<()> {
        if let Some(why) = &self.closed {
            return Err(why.clone());
        }
        match self.rx.recv().await {
            Ok(Some(cell)) => {
                let now = self.now();
                // An error tears the circuit down; the Closed event says so.
                let _ = self.circuit.handle_cell(now, cell);
                self.flush().await
            }
            Ok(None) => {
                self.closed = Some("the link closed".into());
                Err("the link closed".into())
            }
            Err(e) => {
                self.closed = Some(format!("the link failed: {e}"));
                Err(format!("the link failed: {e}"))
            }
        }
    }

    /// Takes the first event `pick` accepts, feeding cells until one comes,
    /// for at most `timeout`.
    async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&CircEvent) -> Option<T>,
    ) -> RawResult<T> {
        let wait = async {
            loop {
                if let Some((i, t)) = self
                    .events
                    .iter()
                    .enumerate()
                    .find_map(|(i, e)| pick(e).map(|t| (i, t)))
                {
                    self.events.remove(i);
                    return Ok(t);
                }
                self.pump().await.map_err(|e| format!("{what}: {e}"))?;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| Err(format!("no {what} within {timeout:?}")))
    }

    /// Waits for a circuit-level message that `pick` accepts.
    pub async fn message<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        pick: impl Fn(&RelayMsg) -> Option<T>,
    ) -> RawResult<T> {
        self.wait_for(what, timeout, |e| match e {
            CircEvent::Message { msg, .. } => pick(msg),
            _ => None,
        })
        .await
    }

    /// Sends `msg` to the last hop.
    pub async fn send(&mut self, msg: RelayMsg) -> RawResult<()> {
        let hops = self.circuit.hop_count();
        let last = u8::try_from(hops.checked_sub(1).ok_or("no hop built")?)
            .map_err(|_| "too many hops")?;
        self.circuit
            .send_msg(HopNum(last), msg)
            .map_err(|e| e.to_string())?;
        self.flush().await
    }

    /// Whether the circuit is gone.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Tears the circuit down from this end.
    pub async fn close(mut self) {
        self.circuit.destroy(DestroyReason::FINISHED);
        let _ = self.flush().await;
    }

    /// Opens a stream to `host:port` at the last hop (an empty host: the
    /// onion service itself, or an HSDir's directory service).
    pub async fn open_stream(&mut self, host: &str, port: u16) -> RawResult<StreamId> {
        let now = self.now();
        let id = self
            .circuit
            .begin_stream(now, host, port)
            .map_err(|e| e.to_string())?;
        self.flush().await?;
        self.wait_for("CONNECTED", ANSWER_TIMEOUT, |e| match e {
            CircEvent::Stream(StreamEvent::Opened(i)) if *i == id => Some(Ok(())),
            CircEvent::Stream(StreamEvent::Ended { id: i, reason }) if *i == id => {
                Some(Err(format!("the stream was refused: {reason:?}")))
            }
            _ => None,
        })
        .await??;
        Ok(id)
    }

    /// Writes all of `data` on stream `id`.
    async fn write_all(&mut self, id: StreamId, data: &[u8]) -> RawResult<()> {
        let mut sent = 0;
        while sent < data.len() {
            let rest = data.get(sent..).unwrap_or_default();
            let n = self
                .circuit
                .streams()
                .write(id, rest)
                .map_err(|e| e.to_string())?;
            sent += n;
            self.flush().await?;
            if n == 0 {
                tokio::time::timeout(ANSWER_TIMEOUT, self.pump())
                    .await
                    .map_err(|_| "the stream does not take data".to_owned())??;
            }
        }
        Ok(())
    }

    /// Reads what stream `id` holds into `out`; true once it ended.
    fn drain(&mut self, id: StreamId, out: &mut Vec<u8>) -> RawResult<bool> {
        let mut buf = [0u8; 4096];
        loop {
            match self
                .circuit
                .streams()
                .read(id, &mut buf)
                .map_err(|e| e.to_string())?
            {
                StreamRead::Bytes(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
                StreamRead::WouldBlock => return Ok(false),
                StreamRead::Finished(_) => return Ok(true),
            }
        }
    }

    /// Sends one framed directory request (§12.13) on stream `id` and
    /// reads the framed answer.
    pub async fn ask(&mut self, id: StreamId, request: &DirRequest) -> RawResult<DirResponse> {
        let bytes = request.encode().map_err(|e| e.to_string())?;
        let mut frame = u32::try_from(bytes.len())
            .map_err(|_| "request too long")?
            .to_be_bytes()
            .to_vec();
        frame.extend(bytes);
        self.write_all(id, &frame).await?;
        let mut got = Vec::new();
        let wait = async {
            loop {
                let ended = self.drain(id, &mut got)?;
                self.flush().await?;
                if let Some(head) = got.get(..4) {
                    let len = u32::from_be_bytes(head.try_into().unwrap_or_default()) as usize;
                    if let Some(body) = got.get(4..4 + len) {
                        return DirResponse::decode(body).map_err(|e| e.to_string());
                    }
                }
                if ended {
                    return Err("the directory stream ended".to_owned());
                }
                self.pump().await?;
            }
        };
        tokio::time::timeout(ANSWER_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| Err("the directory did not answer".into()))
    }

    /// Sends INTRODUCE1, given as its encoded message data
    /// ([`Introduction::message`]), and returns the intro point's
    /// INTRODUCE_ACK status.
    pub async fn introduce(&mut self, message: &[u8]) -> RawResult<IntroduceAckStatus> {
        self.send_introduce(message).await?;
        self.introduce_ack().await
    }

    /// Sends INTRODUCE1 without waiting for its answer (several may be
    /// under way; the intro point answers them in order).
    pub async fn send_introduce(&mut self, message: &[u8]) -> RawResult<()> {
        let msg = RelayMsg::decode_data(RelayCmd::INTRODUCE1, message)
            .map_err(|e| format!("not an INTRODUCE1: {e}"))?;
        self.send(msg).await
    }

    /// Waits for the next INTRODUCE_ACK; returns its status.
    pub async fn introduce_ack(&mut self) -> RawResult<IntroduceAckStatus> {
        self.message("INTRODUCE_ACK", ANSWER_TIMEOUT, |m| match m {
            RelayMsg::IntroduceAck(a) => Some(a.status),
            _ => None,
        })
        .await
    }

    /// Waits up to `timeout` for RENDEZVOUS2; returns the service's
    /// handshake.
    pub async fn rendezvous2(&mut self, timeout: Duration) -> RawResult<Vec<u8>> {
        self.message("RENDEZVOUS2", timeout, |m| match m {
            RelayMsg::Rendezvous2(r2) => Some(r2.handshake.clone()),
            _ => None,
        })
        .await
    }

    /// Completes the onion-service handshake with the service's answer and
    /// adds the end-to-end hop (§16.3).
    pub fn join(&mut self, state: HsClientState, handshake: &[u8]) -> RawResult<()> {
        let keys = hs_ntor::client_finish(state, handshake)
            .map_err(|e| format!("the service's handshake failed: {e}"))?;
        self.circuit
            .add_virtual_hop(keys)
            .map_err(|e| e.to_string())
    }

    /// `GET path` from the service's port 80 over a new stream of the
    /// joined circuit: the status code and the body.
    pub async fn http_get(&mut self, path: &str) -> RawResult<(u16, Vec<u8>)> {
        let id = self.open_stream("", 80).await?;
        let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        self.write_all(id, head.as_bytes()).await?;
        let mut got = Vec::new();
        let wait = async {
            loop {
                let ended = self.drain(id, &mut got)?;
                self.flush().await?;
                if ended {
                    return Ok::<(), String>(());
                }
                self.pump().await?;
            }
        };
        tokio::time::timeout(ANSWER_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| Err("the response did not end".to_owned()))?;
        parse_response(&got)
            .ok_or_else(|| format!("not an HTTP response: {:?}", String::from_utf8_lossy(&got)))
    }
}

/// The status code and body of an HTTP/1 response.
fn parse_response(bytes: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(bytes.get(..split)?).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, bytes.get(split + 4..)?.to_vec()))
}

/// A service's descriptor, fetched and opened.
#[derive(Debug, Clone)]
pub struct ServiceDescriptor {
    /// The service's address.
    pub address: HsAddress,
    /// The blinded key of the period.
    pub blinded_key: [u8; 32],
    /// The subcredential of the period (§6.4).
    pub subcredential: [u8; 32],
    /// The intro points and the puzzle.
    pub content: HsDescriptorContent,
}

/// A rendezvous circuit with its cookie established.
pub struct Rendezvous {
    /// The circuit, whose last hop is the rendezvous point.
    pub circuit: RawCircuit,
    /// The rendezvous point.
    pub point: RelayStatus,
    /// The cookie it holds for us.
    pub cookie: [u8; REND_COOKIE_LEN],
}

/// An INTRODUCE1 made by hand, and what its client keeps for the
/// rendezvous.
pub struct Introduction {
    /// The encoded INTRODUCE1 message data: send it with
    /// [`RawCircuit::introduce`], as often as wanted.
    pub message: Vec<u8>,
    /// The handshake state, for [`RawCircuit::join`].
    pub state: HsClientState,
}

/// The raw client: a libp2p host and the consensus it builds paths from.
pub struct RawClient {
    /// The host its links come from.
    pub host: Arc<Host>,
    /// The consensus.
    pub consensus: Consensus,
}

impl RawClient {
    /// A client with a host of its own.
    pub async fn new(seed: u64, consensus: Consensus) -> Self {
        Self {
            host: Arc::new(crate::net::client_host(seed).await),
            consensus,
        }
    }

    /// Random distinct Running relays, none of them in `exclude`.
    fn pick(&self, n: usize, exclude: &[RelayIdentity]) -> RawResult<Vec<RelayStatus>> {
        let mut candidates: Vec<&RelayStatus> = running(&self.consensus)
            .filter(|r| !exclude.contains(&r.identity))
            .collect();
        if candidates.len() < n {
            return Err(format!("{} usable relays, {n} needed", candidates.len()));
        }
        candidates.shuffle(&mut rand::rng());
        Ok(candidates.into_iter().take(n).cloned().collect())
    }

    /// The consensus entry of `id`.
    pub fn relay(&self, id: &RelayIdentity) -> RawResult<RelayStatus> {
        self.consensus
            .relay(id)
            .cloned()
            .ok_or_else(|| "a relay that is not in the consensus".to_owned())
    }

    /// A three-hop circuit ending at `last`, through two other relays
    /// chosen at random (none in `avoid`).
    pub async fn circuit_to(
        &self,
        last: &RelayStatus,
        avoid: &[RelayIdentity],
        role: StreamRole,
    ) -> RawResult<RawCircuit> {
        let mut exclude = avoid.to_vec();
        exclude.push(last.identity);
        let mut path: Vec<HopTarget> = self.pick(2, &exclude)?.iter().map(hop_target).collect();
        path.push(hop_target(last));
        RawCircuit::build(&self.host, &path, role).await
    }

    /// Fetches and opens the descriptor of `address` for the current
    /// period from one of its HSDirs (§15.6), each over a three-hop
    /// circuit of its own.
    pub async fn fetch_descriptor(&self, address: &HsAddress) -> RawResult<ServiceDescriptor> {
        let now = unix_now();
        let period = TimePeriod::containing(now, HS_PERIOD_MINUTES).map_err(|e| e.to_string())?;
        let identity = address.identity();
        let blinded = identity.blind(period).map_err(|e| e.to_string())?;
        let subcredential = identity.subcredential(period).map_err(|e| e.to_string())?;
        let hsdirs = HsDirRing::new(&self.consensus, period).responsible(&blinded);
        let mut last = "the consensus lists no HSDir".to_owned();
        for id in hsdirs {
            let hsdir = self.relay(&id)?;
            let answer = async {
                let mut c = self.circuit_to(&hsdir, &[], StreamRole::Initiator).await?;
                let stream = c.open_stream("", 1).await?;
                let answer = c
                    .ask(stream, &DirRequest::GetHsDescriptor(*blinded.as_bytes()))
                    .await;
                c.close().await;
                answer
            };
            let bytes = match answer.await {
                Ok(DirResponse::HsDescriptor(bytes)) => bytes,
                Ok(other) => {
                    last = format!("an HSDir answered {other:?}");
                    continue;
                }
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let descriptor = SignedHsDescriptor::decode(&bytes)
                .and_then(|d| d.verify(&()))
                .and_then(|d| d.check_valid_at(now))
                .map_err(|e| format!("a bad descriptor: {e}"))?;
            if descriptor.blinded_key() != blinded.as_bytes() {
                return Err("a descriptor for another blinded key".into());
            }
            let content = descriptor
                .decrypt(identity, period, None)
                .map_err(|e| format!("the descriptor does not open: {e}"))?;
            return Ok(ServiceDescriptor {
                address: *address,
                blinded_key: *blinded.as_bytes(),
                subcredential,
                content,
            });
        }
        Err(last)
    }

    /// Builds a circuit to a rendezvous point chosen at random (a relay
    /// offering the role, none in `exclude`) and establishes a fresh cookie
    /// there.
    pub async fn rendezvous(&self, exclude: &[RelayIdentity]) -> RawResult<Rendezvous> {
        let mut points: Vec<&RelayStatus> = running(&self.consensus)
            .filter(|r| r.info.roles.contains(Roles::RENDEZVOUS) && !exclude.contains(&r.identity))
            .collect();
        points.shuffle(&mut rand::rng());
        let point = points
            .first()
            .map(|p| (*p).clone())
            .ok_or("no relay offers the rendezvous role")?;
        self.rendezvous_at(&point, rand::random()).await
    }

    /// Builds a circuit to `point` and establishes `cookie` there.
    pub async fn rendezvous_at(
        &self,
        point: &RelayStatus,
        cookie: [u8; REND_COOKIE_LEN],
    ) -> RawResult<Rendezvous> {
        let mut circuit = self.circuit_to(point, &[], StreamRole::Initiator).await?;
        circuit
            .send(RelayMsg::EstablishRendezvous(EstablishRendezvous {
                cookie,
            }))
            .await?;
        circuit
            .message("RENDEZVOUS_ESTABLISHED", ANSWER_TIMEOUT, |m| {
                matches!(m, RelayMsg::RendezvousEstablished(_)).then_some(())
            })
            .await?;
        Ok(Rendezvous {
            circuit,
            point: point.clone(),
            cookie,
        })
    }

    /// A circuit whose last hop is the intro point `intro`.
    pub async fn intro_circuit(&self, intro: &IntroPointInfo) -> RawResult<RawCircuit> {
        let status = self.relay(&intro.relay)?;
        self.circuit_to(&status, &[], StreamRole::Initiator).await
    }
}

/// Makes an INTRODUCE1 for the intro point `intro` of `descriptor`, with a
/// fresh ephemeral key `X`, naming the rendezvous point `point` and
/// `cookie`, with `extensions` (a CLIENT_PROOF, a POW_SOLUTION, or none)
/// in the encrypted payload.
pub fn make_introduction(
    descriptor: &ServiceDescriptor,
    intro: &IntroPointInfo,
    point: &RelayStatus,
    cookie: [u8; REND_COOKIE_LEN],
    extensions: Vec<Extension>,
) -> RawResult<Introduction> {
    let payload = IntroducePayload {
        cookie,
        rend_identity: *point.identity.as_bytes(),
        rend_onion_key: *point.info.onion_key.as_bytes(),
        rend_link_specs: hop_target(point).link_specs,
        extensions,
    }
    .encode()
    .map_err(|e| e.to_string())?;
    let mut msg = Introduce1 {
        auth_key: intro.auth_key,
        extensions: Vec::new(),
        encrypted: vec![0],
    };
    let header = msg.header().map_err(|e| e.to_string())?;
    let keys = IntroKeys {
        auth_key: &intro.auth_key,
        enc_key: &intro.enc_key,
        subcredential: &descriptor.subcredential,
    };
    let eph = EphemeralSecret::generate(&mut rand::rng());
    let (state, encrypted) =
        hs_ntor::client_introduce(eph, &keys, &header, &payload).map_err(|e| e.to_string())?;
    msg.encrypted = encrypted;
    let message = RelayMsg::Introduce1(msg)
        .encode_data()
        .map_err(|e| e.to_string())?;
    Ok(Introduction { message, state })
}

/// Fetches the descriptor of `address` until it lists intro points,
/// taking a newer consensus from the authorities' HTTP ports `http`
/// between attempts (the first consensus may list no HSDir yet). Fails
/// after `within`.
pub async fn wait_for_descriptor(
    client: &mut RawClient,
    http: &[SocketAddr],
    entries: &str,
    address: &HsAddress,
    within: Duration,
) -> RawResult<ServiceDescriptor> {
    let deadline = Instant::now() + within;
    loop {
        let last = match client.fetch_descriptor(address).await {
            Ok(d) if !d.content.intro_points.is_empty() => return Ok(d),
            Ok(_) => "the descriptor lists no intro point".to_owned(),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!("no descriptor within {within:?}: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (http, entries) = (http.to_vec(), entries.to_owned());
        let newer = tokio::task::spawn_blocking(move || {
            http.iter().find_map(|a| fetch_consensus(*a, &entries).ok())
        })
        .await
        .ok()
        .flatten();
        if let Some(newer) = newer {
            client.consensus = newer;
        }
    }
}

/// The value of metric `name` (a counter's `_total` suffix may be left
/// out) with exactly the labels `labels` (e.g. `reason="replayed"`, or ""
/// for none) in a Prometheus text exposition.
pub fn metric_value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let selector = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let wanted = [
        format!("{name}{selector}"),
        format!("{name}_total{selector}"),
    ];
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(key, _)| wanted.iter().any(|w| w == key.trim()))
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Reads metric `name{labels}` from the Prometheus port `addr`: `None`
/// when the port does not answer; 0 when the metric is not exposed yet (a
/// labelled counter appears at its first increment).
pub fn read_metric(addr: SocketAddr, name: &str, labels: &str) -> Option<f64> {
    let (status, body) = http_get(addr, "/metrics")?;
    if status != 200 {
        return None;
    }
    Some(metric_value(&String::from_utf8_lossy(&body), name, labels).unwrap_or(0.0))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn metrics_are_read_with_or_without_the_counter_suffix() {
        let text = "# HELP x\nwarren_service_rendezvous_joined_total 3\n\
                    warren_service_introductions_refused_total{reason=\"replayed\"} 1\n\
                    warren_service_suggested_effort 16\n";
        assert_eq!(
            metric_value(text, "warren_service_rendezvous_joined", ""),
            Some(3.0)
        );
        assert_eq!(
            metric_value(
                text,
                "warren_service_introductions_refused",
                "reason=\"replayed\""
            ),
            Some(1.0)
        );
        assert_eq!(
            metric_value(text, "warren_service_suggested_effort", ""),
            Some(16.0)
        );
        assert_eq!(metric_value(text, "warren_service_introductions", ""), None);
    }

    #[test]
    fn responses_are_split_into_status_and_body() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nhi"),
            Some((200, b"hi".to_vec()))
        );
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n"), None);
    }
}
