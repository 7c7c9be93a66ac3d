//! The libp2p behaviour of cell links (docs/spec.md §13.2): one substream
//! per circuit hop on the protocol `/warren/link/1`.
//!
//! Inbound substreams go to the daemon through a queue of
//! [`INBOUND_QUEUE`] links, so that a burst of circuits arriving together is
//! taken, not dropped; beyond it they are refused (the relay is overloaded)
//! and counted in the log. Outbound substreams are negotiated concurrently,
//! any number at once per connection.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::task::{Context, Poll};

use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::ReadyUpgrade;
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, NotifyHandler, Stream, StreamProtocol, SubstreamProtocol, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

/// The protocol name of a cell link (§13.2).
pub const LINK_PROTOCOL: StreamProtocol = StreamProtocol::new("/warren/link/1");

/// Inbound links waiting for the daemon to take them.
pub(crate) const INBOUND_QUEUE: usize = 1024;

/// The answer to a request for an outbound link.
pub(crate) type OpenReply = oneshot::Sender<Result<Stream, String>>;

/// The behaviour: hands inbound substreams to the daemon, opens outbound
/// ones on request.
pub(crate) struct LinkBehaviour {
    inbound: mpsc::Sender<(PeerId, Stream)>,
    requests: VecDeque<(PeerId, OpenReply)>,
}

impl LinkBehaviour {
    /// A behaviour and the receiving end of its inbound queue.
    pub(crate) fn new() -> (Self, mpsc::Receiver<(PeerId, Stream)>) {
        let (inbound, rx) = mpsc::channel(INBOUND_QUEUE);
        (
            Self {
                inbound,
                requests: VecDeque::new(),
            },
            rx,
        )
    }

    /// Opens a link substream to `peer`, which must be connected.
    pub(crate) fn open(&mut self, peer: PeerId, reply: OpenReply) {
        self.requests.push_back((peer, reply));
    }
}

impl NetworkBehaviour for LinkBehaviour {
    type ConnectionHandler = LinkHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(LinkHandler::new(peer, self.inbound.clone()))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(LinkHandler::new(peer, self.inbound.clone()))
    }

    fn on_swarm_event(&mut self, _: FromSwarm<'_>) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        match self.requests.pop_front() {
            Some((peer_id, reply)) => Poll::Ready(ToSwarm::NotifyHandler {
                peer_id,
                handler: NotifyHandler::Any,
                event: reply,
            }),
            None => Poll::Pending,
        }
    }
}

/// One connection's side of the behaviour.
pub(crate) struct LinkHandler {
    peer: PeerId,
    inbound: mpsc::Sender<(PeerId, Stream)>,
    to_open: VecDeque<OpenReply>,
}

impl LinkHandler {
    fn new(peer: PeerId, inbound: mpsc::Sender<(PeerId, Stream)>) -> Self {
        Self {
            peer,
            inbound,
            to_open: VecDeque::new(),
        }
    }
}

impl ConnectionHandler for LinkHandler {
    type FromBehaviour = OpenReply;
    type ToBehaviour = Infallible;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = ReadyUpgrade<StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = OpenReply;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, ()> {
        SubstreamProtocol::new(ReadyUpgrade::new(LINK_PROTOCOL), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, OpenReply, Infallible>> {
        match self.to_open.pop_front() {
            Some(reply) => Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(ReadyUpgrade::new(LINK_PROTOCOL), reply),
            }),
            None => Poll::Pending,
        }
    }

    fn on_behaviour_event(&mut self, reply: OpenReply) {
        self.to_open.push_back(reply);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<'_, Self::InboundProtocol, Self::OutboundProtocol, (), OpenReply>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: stream,
                ..
            }) => {
                let taken = self.inbound.try_send((self.peer, stream));
                if taken.is_err() {
                    tracing::debug!("inbound link queue full: refusing a link");
                }
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: stream,
                info: reply,
            }) => {
                let _ = reply.send(Ok(stream));
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info: reply, error }) => {
                let _ = reply.send(Err(error.to_string()));
            }
            _ => {}
        }
    }
}
