//! One client circuit (docs/spec.md §9, §14.4): built hop by hop over a
//! link to its guard, then run by a task that owns the `OriginCircuit`, its
//! link and the bridges between its streams and the local connections.

use std::collections::{HashMap, HashSet};
use std::future::pending;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, oneshot};
use warren_crypto::ntor::EphemeralSecret;
use warren_crypto::{HopKeys, RelayIdentity};
use warren_net::bridge::StreamBridge;
use warren_net::host::Host;
use warren_net::link::{LinkReader, LinkWriter};
use warren_proto::cell::{Cell, CircId, DestroyReason};
use warren_proto::circuit::{CircEvent, HopNum, HopTarget, OriginCircuit};
use warren_proto::relay_msg::{EndReason, LinkSpec, RelayMsg, StreamId};
use warren_proto::stream::{StreamEvent, StreamRole};
use warren_proto::time::Timestamp;

use crate::ClientError;

/// The circuit id on the link to the guard: one circuit per link (§13.2).
const CIRC_ID: CircId = CircId(1);
/// Commands queued to a circuit task.
const COMMAND_QUEUE: usize = 32;
/// Circuit-level messages (onion-service replies; introductions on a
/// service's intro circuit) queued to the owner; under an introduction
/// flood the excess is dropped here, before the service's queue.
const MESSAGE_QUEUE: usize = 1024;
/// How long a service's backend may take to accept a connection.
const BACKEND_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream a circuit stream can be bridged to: a local TCP
/// connection, or one end of an in-memory pipe (directory streams).
pub(crate) trait Conn: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Conn for T {}

/// Where a service's circuit sends the streams it accepts: virtual port
/// to local target (§16.3).
pub type PortMap = HashMap<u16, SocketAddr>;

/// What the circuit task is asked to do.
enum Command {
    /// Open a stream to `host:port`; answered once CONNECTED or END comes.
    Begin {
        host: String,
        port: u16,
        reply: oneshot::Sender<Result<StreamId, EndReason>>,
    },
    /// Bridge the open stream `id` to a local connection, after sending
    /// `initial` on the stream.
    Attach {
        id: StreamId,
        conn: Box<dyn Conn>,
        initial: Vec<u8>,
    },
    /// The stream will not be attached: close it.
    Close(StreamId),
    /// Send a circuit-level message to the last built hop.
    Send(RelayMsg),
    /// Send `first` (if any) to the last built hop, then add the
    /// end-to-end hop of a joined rendezvous circuit (§16.3), in one step:
    /// nothing from the far end can arrive in between.
    AddVirtualHop {
        first: Option<RelayMsg>,
        keys: HopKeys,
    },
    /// End the circuit.
    Shutdown,
    /// Authenticate `data` under `label` with the last hop's binding `KH`
    /// (ESTABLISH_INTRO's `handshake_auth`, §16.1).
    Bind {
        label: &'static [u8],
        data: Vec<u8>,
        reply: oneshot::Sender<Option<[u8; 32]>>,
    },
}

/// Which step of a build failed, for the guard rules (§14.2).
#[derive(Debug)]
pub(crate) struct BuildFailure {
    /// The first hop could not be reached or refused the circuit.
    pub(crate) at_guard: bool,
    pub(crate) error: ClientError,
}

/// A handle on a running circuit.
#[derive(Debug, Clone)]
pub(crate) struct Circuit {
    commands: mpsc::Sender<Command>,
    messages: Arc<Mutex<mpsc::Receiver<RelayMsg>>>,
    /// The exit (last hop).
    pub(crate) exit: RelayIdentity,
    /// The guard (first hop).
    pub(crate) guard: RelayIdentity,
}

impl Circuit {
    /// Whether the circuit's task still runs.
    pub(crate) fn is_open(&self) -> bool {
        !self.commands.is_closed()
    }

    /// Opens a stream to `host:port` and waits for the exit's answer.
    pub(crate) async fn begin(&self, host: &str, port: u16) -> Result<StreamId, BeginFailure> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Begin {
                host: host.to_owned(),
                port,
                reply,
            })
            .await
            .map_err(|_| BeginFailure::CircuitClosed)?;
        match answer.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(reason)) => Err(BeginFailure::Ended(reason)),
            Err(_) => Err(BeginFailure::CircuitClosed),
        }
    }

    /// Bridges stream `id` to `conn`, sending `initial` first.
    pub(crate) async fn attach(&self, id: StreamId, conn: impl Conn, initial: Vec<u8>) {
        let _ = self
            .commands
            .send(Command::Attach {
                id,
                conn: Box::new(conn),
                initial,
            })
            .await;
    }

    /// Sends a circuit-level message to the last hop built (an intro or
    /// rendezvous point, §16). False if the circuit is gone.
    pub(crate) async fn send_msg(&self, msg: RelayMsg) -> bool {
        self.commands.send(Command::Send(msg)).await.is_ok()
    }

    /// The next circuit-level message from a hop; `None` once the circuit
    /// is gone.
    pub(crate) async fn next_msg(&self) -> Option<RelayMsg> {
        self.messages.lock().await.recv().await
    }

    /// Sends `first` (if any) to the last hop built, then adds the
    /// end-to-end hop (§16.3); streams then go to the far end.
    pub(crate) async fn add_virtual_hop(&self, first: Option<RelayMsg>, keys: HopKeys) -> bool {
        self.commands
            .send(Command::AddVirtualHop { first, keys })
            .await
            .is_ok()
    }

    /// HMAC of `label | data` under the last hop's binding `KH` (§16.1).
    pub(crate) async fn bind(&self, label: &'static [u8], data: Vec<u8>) -> Option<[u8; 32]> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Bind { label, data, reply })
            .await
            .ok()?;
        answer.await.ok().flatten()
    }

    /// Ends the circuit (DESTROY FINISHED), whatever it carries.
    pub(crate) async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }

    /// Waits until the circuit's task has ended.
    pub(crate) async fn closed(&self) {
        self.commands.closed().await;
    }

    /// Closes stream `id`, which will not be attached.
    pub(crate) async fn close(&self, id: StreamId) {
        let _ = self.commands.send(Command::Close(id)).await;
    }
}

/// Why a stream did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BeginFailure {
    /// The exit answered END with this reason.
    Ended(EndReason),
    /// The circuit closed first.
    CircuitClosed,
}

/// A relay as a hop of a path.
pub(crate) fn hop_target(status: &warren_directory::RelayStatus) -> HopTarget {
    HopTarget {
        identity: status.identity,
        onion_key: status.info.onion_key,
        link_specs: status
            .info
            .addresses
            .iter()
            .filter_map(|a| a.parse::<warren_net::Multiaddr>().ok())
            .map(|a| LinkSpec::Multiaddr(a.to_vec()))
            .collect(),
    }
}

/// The first hop's multiaddrs.
fn first_hop_addrs(target: &HopTarget) -> Vec<warren_net::Multiaddr> {
    target
        .link_specs
        .iter()
        .filter_map(|s| match s {
            LinkSpec::Multiaddr(bytes) => warren_net::Multiaddr::try_from(bytes.clone()).ok(),
            _ => None,
        })
        .collect()
}

/// The clock of one circuit.
struct Clock(Instant);

impl Clock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX))
    }
}

/// Builds a circuit through `path` (guard first) within `timeout`, then
/// starts its task.
pub(crate) async fn build(
    host: &Host,
    path: &[HopTarget],
    timeout: Duration,
    ports: Option<Arc<PortMap>>,
) -> Result<Circuit, BuildFailure> {
    let role = if ports.is_some() {
        StreamRole::Acceptor
    } else {
        StreamRole::Initiator
    };
    let (Some(first), Some(last)) = (path.first(), path.last()) else {
        return Err(BuildFailure {
            at_guard: false,
            error: ClientError::Internal("an empty path"),
        });
    };
    let work = async {
        let link = host
            .open_link(&first.identity, &first_hop_addrs(first))
            .await
            .map_err(|e| BuildFailure {
                at_guard: true,
                error: ClientError::Build(format!("cannot reach the guard: {e}")),
            })?;
        let (mut rx, tx) = link.split();
        let clock = Clock(Instant::now());
        let mut circuit = OriginCircuit::new(
            clock.now(),
            CIRC_ID,
            first,
            EphemeralSecret::generate(&mut rand::rng()),
            timeout,
            role,
        )
        .map_err(|e| BuildFailure {
            at_guard: true,
            error: ClientError::Build(e.to_string()),
        })?;
        for (i, hop) in path.iter().enumerate() {
            if i > 0 {
                circuit
                    .extend(
                        clock.now(),
                        hop,
                        EphemeralSecret::generate(&mut rand::rng()),
                    )
                    .map_err(|e| BuildFailure {
                        at_guard: false,
                        error: ClientError::Build(e.to_string()),
                    })?;
            }
            wait_for_hop(&mut circuit, &mut rx, &tx, &clock, i + 1)
                .await
                .map_err(|error| BuildFailure {
                    at_guard: i == 0,
                    error,
                })?;
        }
        Ok((circuit, rx, tx, clock))
    };
    let (circuit, rx, tx, clock) =
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| BuildFailure {
                at_guard: false,
                error: ClientError::Build(format!("the circuit took longer than {timeout:?}")),
            })??;
    let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let (messages_tx, messages) = mpsc::channel(MESSAGE_QUEUE);
    let task = CircuitTask {
        last_built: HopNum(u8::try_from(circuit.hop_count().saturating_sub(1)).unwrap_or(0)),
        circuit,
        tx,
        clock,
        bridge: StreamBridge::new(),
        begins: HashMap::new(),
        messages: messages_tx,
        ports,
        accepting: HashSet::new(),
    };
    tokio::spawn(task.run(rx, commands_rx));
    Ok(Circuit {
        commands,
        messages: Arc::new(Mutex::new(messages)),
        exit: last.identity,
        guard: first.identity,
    })
}

/// Sends what the circuit has to send and feeds it cells until it has
/// `hops` hops.
async fn wait_for_hop(
    circuit: &mut OriginCircuit,
    rx: &mut LinkReader,
    tx: &LinkWriter,
    clock: &Clock,
    hops: usize,
) -> Result<(), ClientError> {
    loop {
        while let Some(cell) = circuit.poll_transmit() {
            tx.send(cell)
                .await
                .map_err(|e| ClientError::Build(e.to_string()))?;
        }
        while let Some(event) = circuit.poll_event() {
            match event {
                CircEvent::Extended { hops: h } if h == hops => return Ok(()),
                CircEvent::Closed(t) => {
                    return Err(ClientError::Build(format!(
                        "hop {hops} refused the circuit ({:?})",
                        t.reason
                    )));
                }
                _ => {}
            }
        }
        match rx.recv().await {
            Ok(Some(cell)) => {
                if let Err(e) = circuit.handle_cell(clock.now(), cell) {
                    return Err(ClientError::Build(e.to_string()));
                }
            }
            _ => return Err(ClientError::Build("the guard closed the link".into())),
        }
    }
}

/// The task that runs a built circuit.
struct CircuitTask {
    circuit: OriginCircuit,
    /// The last hop built by handshake (not the virtual one).
    last_built: HopNum,
    tx: LinkWriter,
    clock: Clock,
    bridge: StreamBridge,
    begins: HashMap<StreamId, oneshot::Sender<Result<StreamId, EndReason>>>,
    messages: mpsc::Sender<RelayMsg>,
    /// A service's port map: incoming streams are connected to it.
    ports: Option<Arc<PortMap>>,
    /// Incoming streams waiting for their backend connection.
    accepting: HashSet<StreamId>,
}

impl CircuitTask {
    async fn run(mut self, mut rx: LinkReader, mut commands: mpsc::Receiver<Command>) {
        let mut retired = false;
        loop {
            let deadline = self.circuit.poll_timeout();
            tokio::select! {
                cell = rx.recv() => match cell {
                    Ok(Some(cell)) => {
                        let now = self.clock.now();
                        self.handle_cell(now, cell);
                        // The rest of that read, before the pump (§13.2).
                        while let Some(cell) = rx.try_recv() {
                            match cell {
                                Ok(cell) => self.handle_cell(now, cell),
                                Err(_) => {
                                    self.circuit.destroy(DestroyReason::PROTOCOL);
                                    break;
                                }
                            }
                        }
                    }
                    _ => self.circuit.destroy(DestroyReason::CHANNEL_CLOSED),
                },
                command = commands.recv(), if !retired => match command {
                    Some(command) => self.command(command),
                    // Every handle is gone: the circuit is retired, and
                    // closes once its last stream has.
                    None => retired = true,
                },
                Some(event) = self.bridge.next_event() => {
                    let streams = self.circuit.streams();
                    match self.bridge.handle(streams, event) {
                        Some((id, Ok(())))
                            if self.accepting.remove(&id) && streams.accept(id).is_err() =>
                        {
                            self.bridge.forget(id);
                        }
                        Some((id, Err(reason))) => {
                            self.accepting.remove(&id);
                            let _ = streams.reset(id, reason);
                        }
                        _ => {}
                    }
                }
                () = sleep_until(deadline, &self.clock) => {
                    let now = self.clock.now();
                    self.circuit.handle_timeout(now);
                }
            }
            if !self.pump() {
                return;
            }
            if retired && self.begins.is_empty() && self.circuit.streams().is_empty() {
                self.circuit.destroy(DestroyReason::FINISHED);
                let _ = self.pump();
                return;
            }
        }
    }

    fn handle_cell(&mut self, now: Timestamp, cell: Cell) {
        if let Err(e) = self.circuit.handle_cell(now, cell) {
            tracing::debug!(error = %e, "circuit torn down");
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Begin { host, port, reply } => {
                let now = self.clock.now();
                match self.circuit.begin_stream(now, &host, port) {
                    Ok(id) => {
                        self.begins.insert(id, reply);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot open a stream");
                        let _ = reply.send(Err(EndReason::INTERNAL));
                    }
                }
            }
            Command::Attach { id, conn, initial } => {
                let streams = self.circuit.streams();
                if !initial.is_empty()
                    && !matches!(streams.write(id, &initial), Ok(n) if n == initial.len())
                {
                    let _ = streams.reset(id, EndReason::INTERNAL);
                    return;
                }
                self.bridge.open(id, std::future::ready(Ok(conn)));
            }
            Command::Close(id) => {
                let _ = self.circuit.streams().close(id);
            }
            Command::Send(msg) => {
                if let Err(e) = self.circuit.send_msg(self.last_built, msg) {
                    tracing::debug!(error = %e, "cannot send a circuit message");
                }
            }
            Command::Shutdown => self.circuit.destroy(DestroyReason::FINISHED),
            Command::Bind { label, data, reply } => {
                let mac = self
                    .circuit
                    .hop_binding(self.last_built)
                    .and_then(|b| b.authenticate(label, &data).ok());
                let _ = reply.send(mac);
            }
            Command::AddVirtualHop { first, keys } => {
                let sent = first.map_or(Ok(()), |m| self.circuit.send_msg(self.last_built, m));
                if let Err(e) = sent.and_then(|()| self.circuit.add_virtual_hop(keys)) {
                    tracing::debug!(error = %e, "cannot add the end-to-end hop");
                    self.circuit.destroy(DestroyReason::INTERNAL);
                }
            }
        }
    }

    /// Sends the cells the circuit has ready and handles its events.
    /// Returns false once the circuit is closed.
    fn pump(&mut self) -> bool {
        loop {
            let mut progressed = false;
            while let Some(event) = self.circuit.streams().poll_event() {
                progressed = true;
                self.stream_event(event);
            }
            while let Some(cell) = self.circuit.poll_transmit() {
                progressed = true;
                // The circuit window (§10.3) keeps the origin below the
                // link queue; a full queue means the link is stuck.
                if self.tx.try_send(cell).is_err() {
                    self.circuit.destroy(DestroyReason::RESOURCELIMIT);
                }
            }
            while let Some(event) = self.circuit.poll_event() {
                progressed = true;
                match event {
                    CircEvent::Stream(e) => self.stream_event(e),
                    CircEvent::Closed(t) => {
                        tracing::debug!(reason = ?t.reason, remote = t.remote, "circuit closed");
                        return false;
                    }
                    CircEvent::Message { msg, .. } => {
                        if self.messages.try_send(msg).is_err() {
                            tracing::debug!("a circuit message was dropped: nobody reads them");
                        }
                    }
                    CircEvent::Extended { .. } => {}
                }
            }
            if !progressed {
                return true;
            }
        }
    }

    fn stream_event(&mut self, event: StreamEvent) {
        let streams = self.circuit.streams();
        match event {
            StreamEvent::Opened(id) => {
                if let Some(reply) = self.begins.remove(&id)
                    && reply.send(Ok(id)).is_err()
                {
                    let _ = streams.close(id);
                }
            }
            StreamEvent::Ended { id, reason } => {
                if let Some(reply) = self.begins.remove(&id) {
                    let _ = reply.send(Err(reason));
                } else {
                    self.bridge.flush_to_tcp(streams, id);
                }
            }
            StreamEvent::Readable(id) => self.bridge.flush_to_tcp(streams, id),
            StreamEvent::Writable(id) => self.bridge.flush_to_stream(streams, id),
            StreamEvent::Incoming { id, host, port } => {
                // A service's circuit connects the stream to the target of
                // its virtual port (§16.3); a client's accepts none.
                let target = self
                    .ports
                    .as_ref()
                    .filter(|_| host.is_empty())
                    .and_then(|p| p.get(&port).copied());
                match target {
                    Some(addr) => {
                        self.accepting.insert(id);
                        self.bridge.open(id, connect_backend(addr));
                    }
                    None => {
                        let _ = streams.reset(id, EndReason::EXITPOLICY);
                    }
                }
            }
        }
    }
}

/// Connects to a service's backend target.
async fn connect_backend(addr: SocketAddr) -> Result<TcpStream, EndReason> {
    match tokio::time::timeout(BACKEND_CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(conn)) => {
            let _ = conn.set_nodelay(true);
            Ok(conn)
        }
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "the backend refused a stream");
            Err(EndReason::CONNECTREFUSED)
        }
        Err(_) => Err(EndReason::TIMEOUT),
    }
}

async fn sleep_until(deadline: Option<Timestamp>, clock: &Clock) {
    match deadline {
        Some(t) => {
            let now = clock.now();
            let wait = Duration::from_micros(t.as_micros().saturating_sub(now.as_micros()));
            tokio::time::sleep(wait).await;
        }
        None => pending().await,
    }
}

/// The far end of a circuit handle with no circuit behind it, for tests of
/// what holds handles: the handle is open while this lives.
#[cfg(test)]
pub(crate) struct TestEnd {
    pub(crate) exit: RelayIdentity,
    _commands: mpsc::Receiver<Command>,
}

/// A handle whose exit and guard are relay `n`'s identity.
#[cfg(test)]
pub(crate) fn test_circuit(n: u8) -> (Circuit, TestEnd) {
    let (commands, rx) = mpsc::channel(1);
    let (_, messages) = mpsc::channel(1);
    let id = warren_crypto::RelayIdentityKeypair::from_secret_bytes([n; 32]).public();
    (
        Circuit {
            commands,
            messages: Arc::new(Mutex::new(messages)),
            exit: id,
            guard: id,
        },
        TestEnd {
            exit: id,
            _commands: rx,
        },
    )
}
