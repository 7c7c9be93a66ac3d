//! The libp2p host: TCP with Noise and Yamux, and QUIC, keyed by the
//! relay's identity (docs/spec.md §13.1).
//!
//! The swarm runs in its own task. Links are substreams of the link
//! behaviour (`link_behaviour`); directory requests (§12.13) go through
//! libp2p request-response, driven by the swarm task. Connections close after an
//! idle timeout once no substream uses them.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use warren_crypto::{RelayIdentity, RelayIdentityKeypair};

use warren_directory::{DirRequest, DirResponse};

use crate::NetError;
use crate::dir::{self, DIR_PROTOCOL, DirCodec, DirServer, IncomingDirRequests, PendingResponse};
use crate::link::Link;
use crate::link_behaviour::{LinkBehaviour, OpenReply};
use crate::peer::{libp2p_keypair, peer_id, relay_identity};

pub use crate::link_behaviour::LINK_PROTOCOL;

/// Substreams one connection may carry: one per circuit hop. Yamux requires
/// its connection receive window (1 GiB in libp2p's configuration) to cover
/// the initial 256 KiB window of every substream, which caps this at 4096;
/// a relay's 10,000 circuits are spread over its connections to many peers
/// (§13.2).
const MAX_SUBSTREAMS: usize = 4096;

fn yamux_config() -> yamux::Config {
    let mut config = yamux::Config::default();
    config.set_max_num_streams(MAX_SUBSTREAMS);
    config
}

/// How long a directory request may take, answer included.
const DIR_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The behaviours of a host: cell links and the directory protocol.
#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
struct Behaviour {
    links: LinkBehaviour,
    dir: request_response::Behaviour<DirCodec>,
}

type Swarm = libp2p::Swarm<Behaviour>;
type Event = SwarmEvent<BehaviourEvent>;

/// How long `start` waits for its listeners to bind.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Commands queued to the swarm task.
const COMMAND_QUEUE: usize = 64;

/// How a host listens and keeps its connections.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Addresses to listen on, e.g. `/ip4/127.0.0.2/tcp/0`. Empty for a
    /// client that only dials.
    pub listen: Vec<Multiaddr>,
    /// How long a connection with no open substream is kept.
    pub idle_timeout: Duration,
    /// Answer directory requests from peers (authorities and directory
    /// caches); otherwise the host only asks.
    pub serve_directory: bool,
}

enum Command {
    /// Make sure a connection to the peer is open, dialling these addresses
    /// if need be; answers when it is, or with the reason it failed.
    Connect(PeerId, Vec<Multiaddr>, oneshot::Sender<Result<(), String>>),
    /// Open a link substream to a connected peer.
    OpenLink(PeerId, OpenReply),
    /// Send a directory request, dialling these addresses if need be.
    DirRequest(PeerId, Vec<Multiaddr>, Vec<u8>, PendingResponse),
}

/// A running libp2p host.
pub struct Host {
    identity: RelayIdentity,
    commands: mpsc::Sender<Command>,
    listen_addrs: Vec<Multiaddr>,
    task: JoinHandle<()>,
}

/// What peers open to or ask of this host.
pub struct Incoming {
    /// Cell links.
    pub links: IncomingLinks,
    /// Directory requests (empty unless the host serves the directory).
    pub dir: IncomingDirRequests,
}

/// Links that peers open to this host.
pub struct IncomingLinks {
    streams: mpsc::Receiver<(PeerId, libp2p::Stream)>,
}

impl IncomingLinks {
    /// The next link a peer opened. Peers whose identity is not an Ed25519
    /// relay identity are refused here.
    pub async fn next(&mut self) -> Option<Link> {
        loop {
            let (peer, stream) = self.streams.recv().await?;
            match relay_identity(&peer) {
                Ok(identity) => return Some(Link::new(identity, stream)),
                Err(e) => tracing::debug!(error = %e, "refused a link"),
            }
        }
    }
}

impl Host {
    /// Builds the swarm, binds the listeners and starts the swarm task.
    pub async fn start(
        identity: &RelayIdentityKeypair,
        config: &HostConfig,
    ) -> Result<(Self, Incoming), NetError> {
        let transport = |e: &dyn std::fmt::Display| NetError::Transport {
            reason: e.to_string(),
        };
        let idle = config.idle_timeout;
        let (links, streams) = LinkBehaviour::new();
        let support = if config.serve_directory {
            ProtocolSupport::Full
        } else {
            ProtocolSupport::Outbound
        };
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(libp2p_keypair(identity)?)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux_config,
            )
            .map_err(|e| transport(&e))?
            .with_quic()
            .with_behaviour(|_| Behaviour {
                links,
                dir: request_response::Behaviour::with_codec(
                    DirCodec,
                    [(DIR_PROTOCOL, support)],
                    request_response::Config::default().with_request_timeout(DIR_REQUEST_TIMEOUT),
                ),
            })
            .map_err(|e| transport(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .build();
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Listen {
                    reason: e.to_string(),
                })?;
        }
        let listen_addrs = bound_addresses(&mut swarm, config.listen.len()).await?;
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let (server, dir_requests, responses) = dir::queues();
        let task = tokio::spawn(run_swarm(swarm, rx, server, responses));
        let host = Self {
            identity: identity.public(),
            commands,
            listen_addrs,
            task,
        };
        let incoming = Incoming {
            links: IncomingLinks { streams },
            dir: dir_requests,
        };
        Ok((host, incoming))
    }

    /// Opens a link to the relay `peer`, dialling one of `addrs` if no
    /// connection is open. The Noise handshake proves the peer's identity.
    pub async fn open_link(
        &self,
        peer: &RelayIdentity,
        addrs: &[Multiaddr],
    ) -> Result<Link, NetError> {
        let id = peer_id(peer)?;
        let (done, connected) = oneshot::channel();
        self.commands
            .send(Command::Connect(id, addrs.to_vec(), done))
            .await
            .map_err(|_| NetError::HostStopped)?;
        connected
            .await
            .map_err(|_| NetError::HostStopped)?
            .map_err(|reason| NetError::OpenLink { reason })?;
        let (reply, opened) = oneshot::channel();
        self.commands
            .send(Command::OpenLink(id, reply))
            .await
            .map_err(|_| NetError::HostStopped)?;
        let stream = opened
            .await
            .map_err(|_| NetError::OpenLink {
                reason: "the connection closed while the link was being opened".into(),
            })?
            .map_err(|reason| NetError::OpenLink { reason })?;
        Ok(Link::new(*peer, stream))
    }

    /// Sends a directory request to `peer`, dialling one of `addrs` if no
    /// connection is open, and waits for the answer.
    pub async fn dir_request(
        &self,
        peer: &RelayIdentity,
        addrs: &[Multiaddr],
        request: &DirRequest,
    ) -> Result<DirResponse, NetError> {
        let id = peer_id(peer)?;
        let bytes = request.encode().map_err(|_| NetError::Internal {
            reason: "a directory request could not be encoded",
        })?;
        let (done, answered) = oneshot::channel();
        self.commands
            .send(Command::DirRequest(id, addrs.to_vec(), bytes, done))
            .await
            .map_err(|_| NetError::HostStopped)?;
        let bytes = answered
            .await
            .map_err(|_| NetError::HostStopped)?
            .map_err(|reason| NetError::DirRequest { reason })?;
        DirResponse::decode(&bytes).map_err(|e| NetError::DirRequest {
            reason: format!("the answer is malformed: {e}"),
        })
    }

    /// This host's identity.
    pub fn identity(&self) -> &RelayIdentity {
        &self.identity
    }

    /// The addresses the listeners bound (ports resolved).
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `count` listeners have reported their bound address.
async fn bound_addresses(swarm: &mut Swarm, count: usize) -> Result<Vec<Multiaddr>, NetError> {
    let mut addrs = Vec::with_capacity(count);
    let wait = async {
        while addrs.len() < count {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => addrs.push(address),
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(NetError::Listen {
                        reason: error.to_string(),
                    });
                }
                SwarmEvent::ListenerClosed {
                    reason: Err(error), ..
                } => {
                    return Err(NetError::Listen {
                        reason: error.to_string(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    };
    match tokio::time::timeout(LISTEN_TIMEOUT, wait).await {
        Ok(result) => result.map(|()| addrs),
        Err(_) => Err(NetError::Listen {
            reason: "the listeners did not bind in time".into(),
        }),
    }
}

/// The swarm task: drives the swarm and applies commands.
async fn run_swarm(
    mut swarm: Swarm,
    mut commands: mpsc::Receiver<Command>,
    server: DirServer,
    mut responses: dir::Responses,
) {
    let mut dials = PendingDials::default();
    let mut requests: HashMap<OutboundRequestId, PendingResponse> = HashMap::new();
    loop {
        tokio::select! {
            event = swarm.select_next_some() => {
                log_event(&event);
                dials.on_event(&event);
                if let SwarmEvent::Behaviour(BehaviourEvent::Dir(event)) = event {
                    on_dir_event(&mut swarm, &server, &mut requests, event);
                }
            }
            command = commands.recv() => match command {
                Some(Command::Connect(peer, addrs, done)) => dials.connect(&mut swarm, peer, addrs, done),
                Some(Command::OpenLink(peer, reply)) => {
                    if swarm.is_connected(&peer) {
                        swarm.behaviour_mut().links.open(peer, reply);
                    } else {
                        let _ = reply.send(Err("the connection to the peer closed".into()));
                    }
                }
                Some(Command::DirRequest(peer, addrs, bytes, done)) => {
                    let id = swarm.behaviour_mut().dir.send_request_with_addresses(&peer, bytes, addrs);
                    requests.insert(id, done);
                }
                None => return,
            },
            Some((channel, bytes)) = responses.recv() => {
                // The requester may have gone; nothing to do then.
                let _ = swarm.behaviour_mut().dir.send_response(channel, bytes);
            }
        }
    }
}

/// Routes an event of the directory protocol: answers to waiting callers,
/// requests to the daemon.
fn on_dir_event(
    swarm: &mut Swarm,
    server: &DirServer,
    requests: &mut HashMap<OutboundRequestId, PendingResponse>,
    event: request_response::Event<Vec<u8>, Vec<u8>>,
) {
    match event {
        request_response::Event::Message { peer, message, .. } => match message {
            request_response::Message::Request {
                request, channel, ..
            } => {
                let refusal = match relay_identity(&peer) {
                    Ok(identity) => server.offer(identity, &request, channel),
                    Err(e) => Some((channel, DirResponse::refused(e))),
                };
                if let Some((channel, response)) = refusal
                    && let Ok(bytes) = response.encode()
                {
                    let _ = swarm.behaviour_mut().dir.send_response(channel, bytes);
                }
            }
            request_response::Message::Response {
                request_id,
                response,
            } => {
                if let Some(done) = requests.remove(&request_id) {
                    let _ = done.send(Ok(response));
                }
            }
        },
        request_response::Event::OutboundFailure {
            request_id, error, ..
        } => {
            if let Some(done) = requests.remove(&request_id) {
                let _ = done.send(Err(error.to_string()));
            }
        }
        request_response::Event::InboundFailure { error, .. } => {
            tracing::debug!(error = %error, "a directory request from a peer failed");
        }
        request_response::Event::ResponseSent { .. } => {}
    }
}

/// Callers waiting for a connection to a peer.
#[derive(Default)]
struct PendingDials {
    waiting: HashMap<PeerId, Vec<oneshot::Sender<Result<(), String>>>>,
}

impl PendingDials {
    fn connect(
        &mut self,
        swarm: &mut Swarm,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        done: oneshot::Sender<Result<(), String>>,
    ) {
        if swarm.is_connected(&peer) {
            let _ = done.send(Ok(()));
            return;
        }
        let dialling = self.waiting.contains_key(&peer);
        self.waiting.entry(peer).or_default().push(done);
        if dialling {
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = swarm.dial(opts) {
            self.finish(peer, Err(e.to_string()));
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => self.finish(*peer_id, Ok(())),
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => self.finish(*peer, Err(error.to_string())),
            _ => {}
        }
    }

    fn finish(&mut self, peer: PeerId, result: Result<(), String>) {
        for done in self.waiting.remove(&peer).unwrap_or_default() {
            let _ = done.send(result.clone());
        }
    }
}

fn log_event(event: &Event) {
    match event {
        SwarmEvent::ConnectionEstablished { .. } => tracing::debug!("link connection established"),
        SwarmEvent::ConnectionClosed { cause, .. } => {
            tracing::debug!(cause = ?cause.as_ref().map(ToString::to_string), "link connection closed");
        }
        SwarmEvent::OutgoingConnectionError { error, .. } => {
            tracing::debug!(error = %error, "dial failed");
        }
        _ => {}
    }
}
