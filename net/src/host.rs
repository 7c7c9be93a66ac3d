//! The libp2p host: TCP, Noise and Yamux, keyed by the relay's identity
//! (docs/spec.md §13.1).
//!
//! The swarm runs in its own task. Links are opened and accepted through
//! `libp2p-stream`; the swarm task only learns peer addresses and keeps
//! connections, which close after an idle timeout once no substream uses
//! them.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, StreamProtocol, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use warren_crypto::{RelayIdentity, RelayIdentityKeypair};

use crate::NetError;
use crate::link::Link;
use crate::peer::{libp2p_keypair, peer_id, relay_identity};

/// The protocol name of a cell link (§13.2).
pub const LINK_PROTOCOL: StreamProtocol = StreamProtocol::new("/warren/link/1");

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
}

enum Command {
    /// Make sure a connection to the peer is open, dialling these addresses
    /// if need be; answers when it is, or with the reason it failed.
    Connect(PeerId, Vec<Multiaddr>, oneshot::Sender<Result<(), String>>),
}

/// A running libp2p host.
pub struct Host {
    identity: RelayIdentity,
    control: libp2p_stream::Control,
    commands: mpsc::Sender<Command>,
    listen_addrs: Vec<Multiaddr>,
    task: JoinHandle<()>,
}

/// Links that peers open to this host.
pub struct IncomingLinks {
    streams: libp2p_stream::IncomingStreams,
}

impl IncomingLinks {
    /// The next link a peer opened. Peers whose identity is not an Ed25519
    /// relay identity are refused here.
    pub async fn next(&mut self) -> Option<Link> {
        loop {
            let (peer, stream) = self.streams.next().await?;
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
    ) -> Result<(Self, IncomingLinks), NetError> {
        let transport = |e: &dyn std::fmt::Display| NetError::Transport {
            reason: e.to_string(),
        };
        let idle = config.idle_timeout;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(libp2p_keypair(identity)?)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux_config,
            )
            .map_err(|e| transport(&e))?
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
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
        let mut control = swarm.behaviour().new_control();
        let streams = control
            .accept(LINK_PROTOCOL)
            .map_err(|_| NetError::Internal {
                reason: "the link protocol was registered twice",
            })?;
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let task = tokio::spawn(run_swarm(swarm, rx));
        let host = Self {
            identity: identity.public(),
            control,
            commands,
            listen_addrs,
            task,
        };
        Ok((host, IncomingLinks { streams }))
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
        let stream = self
            .control
            .clone()
            .open_stream(id, LINK_PROTOCOL)
            .await
            .map_err(|e| NetError::OpenLink {
                reason: e.to_string(),
            })?;
        Ok(Link::new(*peer, stream))
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
async fn bound_addresses(
    swarm: &mut libp2p::Swarm<libp2p_stream::Behaviour>,
    count: usize,
) -> Result<Vec<Multiaddr>, NetError> {
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
    mut swarm: libp2p::Swarm<libp2p_stream::Behaviour>,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut dials = PendingDials::default();
    loop {
        tokio::select! {
            event = swarm.select_next_some() => {
                log_event(&event);
                dials.on_event(&event);
            }
            command = commands.recv() => match command {
                Some(Command::Connect(peer, addrs, done)) => dials.connect(&mut swarm, peer, addrs, done),
                None => return,
            },
        }
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
        swarm: &mut libp2p::Swarm<libp2p_stream::Behaviour>,
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

    fn on_event(&mut self, event: &SwarmEvent<()>) {
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

fn log_event(event: &SwarmEvent<()>) {
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
