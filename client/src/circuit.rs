//! One client circuit (docs/spec.md §9, §14.4): built hop by hop over a
//! link to its guard, then run by a task that owns the `OriginCircuit`, its
//! link and the bridges between its streams and the local connections.

use std::collections::HashMap;
use std::future::pending;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use warren_crypto::RelayIdentity;
use warren_crypto::ntor::EphemeralSecret;
use warren_net::bridge::StreamBridge;
use warren_net::host::Host;
use warren_net::link::{LinkReader, LinkWriter};
use warren_proto::cell::{CircId, DestroyReason};
use warren_proto::circuit::{CircEvent, HopTarget, OriginCircuit};
use warren_proto::relay_msg::{EndReason, LinkSpec, StreamId};
use warren_proto::stream::{StreamEvent, StreamRole};
use warren_proto::time::Timestamp;

use crate::ClientError;

/// The circuit id on the link to the guard: one circuit per link (§13.2).
const CIRC_ID: CircId = CircId(1);
/// Commands queued to a circuit task.
const COMMAND_QUEUE: usize = 32;

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
        conn: TcpStream,
        initial: Vec<u8>,
    },
    /// The stream will not be attached: close it.
    Close(StreamId),
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
    pub(crate) async fn attach(&self, id: StreamId, conn: TcpStream, initial: Vec<u8>) {
        let _ = self
            .commands
            .send(Command::Attach { id, conn, initial })
            .await;
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
) -> Result<Circuit, BuildFailure> {
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
            StreamRole::Initiator,
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
    let task = CircuitTask {
        circuit,
        tx,
        clock,
        bridge: StreamBridge::new(),
        begins: HashMap::new(),
    };
    tokio::spawn(task.run(rx, commands_rx));
    Ok(Circuit {
        commands,
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
    tx: LinkWriter,
    clock: Clock,
    bridge: StreamBridge,
    begins: HashMap<StreamId, oneshot::Sender<Result<StreamId, EndReason>>>,
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
                        if let Err(e) = self.circuit.handle_cell(now, cell) {
                            tracing::debug!(error = %e, "circuit torn down");
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
                Some(event) = self.bridge.events.recv() => {
                    let streams = self.circuit.streams();
                    if let Some((id, Err(reason))) = self.bridge.handle(streams, event) {
                        let _ = streams.reset(id, reason);
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
                    _ => {}
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
            StreamEvent::Incoming { id, .. } => {
                // A client accepts no streams.
                let _ = streams.reset(id, EndReason::EXITPOLICY);
            }
        }
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
    let id = warren_crypto::RelayIdentityKeypair::from_secret_bytes([n; 32]).public();
    (
        Circuit {
            commands,
            exit: id,
            guard: id,
        },
        TestEnd {
            exit: id,
            _commands: rx,
        },
    )
}
