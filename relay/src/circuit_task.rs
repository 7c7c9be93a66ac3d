//! One circuit hop at a relay: a task that owns the hop's `RelayCircuit`
//! and its two links (docs/spec.md §9.5, §13.2).
//!
//! Cells the relay passes on are processed in place and queued on the other
//! link without waiting; a link queue that is full means a peer ignores flow
//! control, and the circuit is shed (DESTROY RESOURCELIMIT).

use std::future::{Future, pending};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use warren_crypto::ntor::EphemeralSecret;
use warren_net::link::{Link, LinkReader, LinkWriter};
use warren_net::{Multiaddr, NetError};
use warren_proto::cell::{Cell, ChanMsg, CircId, Destroy, DestroyReason};
use warren_proto::circuit::{RelayAction, RelayCircuit, Verdict};
use warren_proto::relay_msg::LinkSpec;
use warren_proto::stream::StreamEvent;

use crate::exit::ExitStreams;
use crate::limits::Registration;
use crate::node::Shared;
use crate::onion_roles::{IntroRefusal, ROLE_QUEUE, Registered, RoleMsg};
use tokio::sync::mpsc;
use warren_directory::Roles;
use warren_proto::cell::CELL_LEN;
use warren_proto::relay_msg::{
    EstablishIntro, Extension, HANDSHAKE_AUTH_LABEL, IntroEstablished, Introduce2, IntroduceAck,
    IntroduceAckStatus, RelayMsg, Rendezvous2, RendezvousEstablished,
};

/// The circuit id a relay uses on the links it opens: each link carries one
/// circuit, so one id serves (§13.2).
const OUTBOUND_CIRC_ID: CircId = CircId(1);

type Extending = Pin<Box<dyn Future<Output = Result<Link, NetError>> + Send>>;

/// Runs one circuit hop from its first cell (which must be CREATE) to its
/// teardown. Holds a circuit slot (`_permit`) until it ends.
pub(crate) async fn run(shared: Arc<Shared>, link: Link, _permit: OwnedSemaphorePermit) {
    let prev_peer = *link.peer();
    let (mut prev_rx, prev_tx) = link.split();
    let Some(cell) = first_cell(&shared, &mut prev_rx).await else {
        return;
    };
    let eph = EphemeralSecret::generate(&mut rand::rng());
    let identity = shared.keys.identity.public();
    let (circuit, created) =
        match RelayCircuit::accept_create(eph, &identity, &[&shared.keys.onion], &cell) {
            Ok(accepted) => accepted,
            Err(e) => {
                shared.metrics.circuits_failed.inc();
                tracing::debug!(error = %e, "refused a CREATE");
                let _ = send(
                    &prev_tx,
                    ChanMsg::Destroy(Destroy {
                        reason: e.destroy_reason(),
                    }),
                    cell.circ_id,
                );
                return;
            }
        };
    if send(&prev_tx, created, cell.circ_id).is_err() {
        return;
    }
    shared.metrics.circuits_created.inc();
    let _open = OpenCircuit::new(&shared.metrics);
    let queues = shared.queues.register(vec![prev_tx.clone()]);
    let mut hop = Hop {
        shared: shared.clone(),
        circuit,
        prev_id: cell.circ_id,
        prev_tx,
        next: None,
        extending: None,
        pending_create: None,
        exit: ExitStreams::new(shared.config.exit_policy.clone(), shared.hsdir.clone()),
        queues,
        unpaid: 0,
        role: None,
        partner: None,
        registered: Registered {
            owner: shared.roles.owner(),
            registry: shared.roles.clone(),
        },
        prev_peer,
    };
    if let Some(record) = &shared.record {
        record.created(hop.registered.owner, &prev_peer);
    }
    hop.run(prev_rx).await;
}

/// Counts a circuit as open while it lives.
struct OpenCircuit(prometheus_client::metrics::gauge::Gauge);

impl OpenCircuit {
    fn new(metrics: &crate::metrics::RelayMetrics) -> Self {
        metrics.circuits_open.inc();
        Self(metrics.circuits_open.clone())
    }
}

impl Drop for OpenCircuit {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Answers a link's CREATE with DESTROY `reason` and drops the link.
pub(crate) async fn refuse(
    shared: Arc<Shared>,
    link: Link,
    reason: DestroyReason,
    _permit: OwnedSemaphorePermit,
) {
    shared.metrics.circuits_refused.inc();
    let (mut rx, tx) = link.split();
    if let Some(cell) = first_cell(&shared, &mut rx).await {
        let _ = tx.send(destroy_cell(reason, cell.circ_id)).await;
    }
}

async fn first_cell(shared: &Shared, rx: &mut LinkReader) -> Option<Cell> {
    match tokio::time::timeout(shared.config.create_timeout, rx.recv()).await {
        Ok(Ok(Some(cell))) => Some(cell),
        _ => None,
    }
}

struct Hop {
    shared: Arc<Shared>,
    circuit: RelayCircuit,
    prev_id: CircId,
    prev_tx: LinkWriter,
    next: Option<(LinkReader, LinkWriter)>,
    extending: Option<Extending>,
    pending_create: Option<ChanMsg>,
    /// The streams that end at this relay: exit and directory streams.
    exit: ExitStreams,
    /// This circuit's place in the memory watch.
    queues: Registration,
    /// Cells sent since the bandwidth rate was last paid.
    unpaid: usize,
    /// How other circuits reach this one (onion-service roles, §16): made
    /// when the circuit takes a role, so that the others hold no queue.
    role: Option<(mpsc::Sender<RoleMsg>, mpsc::Receiver<RoleMsg>)>,
    /// The circuit this one is joined to at a rendezvous point.
    partner: Option<mpsc::Sender<RoleMsg>>,
    /// This circuit's intro and rendezvous registrations.
    registered: Registered,
    /// The link peer the circuit came from.
    prev_peer: warren_crypto::RelayIdentity,
}

impl Drop for Hop {
    fn drop(&mut self) {
        if let Some(partner) = self.partner.take() {
            let _ = partner.try_send(RoleMsg::PartnerClosed);
        }
    }
}

impl Hop {
    async fn run(&mut self, mut prev_rx: LinkReader) {
        let mut shutdown = self.shared.shutdown.clone();
        let shed = self.queues.shed.clone();
        loop {
            tokio::select! {
                cell = prev_rx.recv() => {
                    self.cell_from_prev(cell);
                    // The rest of that read, before the actions (§13.2).
                    while self.circuit.teardown_reason().is_none()
                        && let Some(cell) = prev_rx.try_recv()
                    {
                        self.cell_from_prev(cell.map(Some));
                    }
                }
                cell = recv_next(&mut self.next) => {
                    self.cell_from_next(cell);
                    while self.circuit.teardown_reason().is_none()
                        && let Some(cell) = self.next.as_mut().and_then(|(rx, _)| rx.try_recv())
                    {
                        self.cell_from_next(cell.map(Some));
                    }
                }
                () = shed.notified() => {
                    tracing::debug!("circuit shed: the relay's queues are over their cap");
                    self.circuit.destroy(DestroyReason::RESOURCELIMIT);
                }
                link = poll_extending(&mut self.extending) => self.extended(link),
                Some(msg) = recv_role(&mut self.role) => self.role_msg(msg),
                Some(event) = self.exit.bridge.next_event() => {
                    let streams = self.circuit.streams();
                    match self.exit.bridge.handle(streams, event) {
                        Some((id, Ok(()))) if streams.accept(id).is_err() => {
                            self.exit.bridge.forget(id);
                        }
                        Some((id, Err(reason))) => {
                            let _ = streams.reset(id, reason);
                        }
                        _ => {}
                    }
                }
                _ = shutdown.changed() => return,
            }
            if !self.carry_out_actions() {
                return;
            }
            // The operator's bandwidth rate: cells sent in debt wait here,
            // and the links and windows carry the wait back to the senders.
            let unpaid = std::mem::take(&mut self.unpaid);
            if unpaid > 0
                && let Some(bucket) = &self.shared.bucket
            {
                let wait = bucket.take(unpaid * CELL_LEN);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn cell_from_prev(&mut self, cell: Result<Option<Cell>, NetError>) {
        let Ok(Some(mut cell)) = cell else {
            return self.circuit.prev_failed();
        };
        self.shared.metrics.cell_in();
        let now = self.shared.now();
        match self.circuit.handle_from_prev(now, &mut cell) {
            Ok(Verdict::Forward) if self.circuit.is_spliced() => {
                // For the circuit joined at this rendezvous point.
                let sent = self
                    .partner
                    .as_ref()
                    .map(|p| p.try_send(RoleMsg::Cell(Box::new(cell))));
                if !matches!(sent, Some(Ok(()))) {
                    self.circuit.destroy(DestroyReason::RESOURCELIMIT);
                }
            }
            Ok(Verdict::Forward) => {
                cell.circ_id = OUTBOUND_CIRC_ID;
                let sent = self.next.as_ref().map(|(_, tx)| tx.try_send(cell));
                if matches!(sent, Some(Ok(()))) {
                    self.cell_out();
                } else {
                    self.circuit.destroy(DestroyReason::RESOURCELIMIT);
                }
            }
            Ok(Verdict::Consumed) => {}
            Err(e) => tracing::debug!(error = %e, "circuit torn down"),
        }
    }

    fn cell_from_next(&mut self, cell: Result<Option<Cell>, NetError>) {
        let Ok(Some(mut cell)) = cell else {
            self.next = None;
            return self.circuit.next_failed(DestroyReason::CHANNEL_CLOSED);
        };
        self.shared.metrics.cell_in();
        match self.circuit.handle_from_next(&mut cell) {
            Ok(Verdict::Forward) => {
                cell.circ_id = self.prev_id;
                if self.prev_tx.try_send(cell).is_ok() {
                    self.cell_out();
                } else {
                    self.circuit.destroy(DestroyReason::RESOURCELIMIT);
                }
            }
            Ok(Verdict::Consumed) => {}
            Err(e) => tracing::debug!(error = %e, "circuit torn down"),
        }
    }

    fn stream_event(&mut self, event: StreamEvent) {
        let streams = self.circuit.streams();
        let exit = &mut self.exit;
        match event {
            StreamEvent::Incoming { id, host, port } => match exit.open(id, host, port) {
                Ok(kind) => {
                    if kind == crate::exit::Opened::Exit {
                        self.shared.metrics.exit_streams.inc();
                    }
                }
                // Not an exit (or not to there), not an HSDir (§13.4, §15.6).
                Err(reason) => {
                    let _ = streams.reset(id, reason);
                }
            },
            StreamEvent::Readable(id) | StreamEvent::Ended { id, .. } => {
                exit.bridge.flush_to_tcp(streams, id)
            }
            StreamEvent::Writable(id) => exit.bridge.flush_to_stream(streams, id),
            StreamEvent::Opened(_) => {}
        }
    }

    fn extended(&mut self, link: Result<Link, NetError>) {
        self.extending = None;
        let create = self.pending_create.take();
        match (link, create) {
            (Ok(link), Some(create)) => {
                if let Some(record) = &self.shared.record {
                    record.extended(self.registered.owner, &self.prev_peer, link.peer());
                }
                let (rx, tx) = link.split();
                if send(&tx, create, OUTBOUND_CIRC_ID).is_ok() {
                    self.queues
                        .set_writers(vec![self.prev_tx.clone(), tx.clone()]);
                    self.next = Some((rx, tx));
                } else {
                    self.circuit.next_failed(DestroyReason::CONNECTFAILED);
                }
            }
            (Err(e), _) => {
                tracing::debug!(error = %e, "extend failed");
                self.circuit.next_failed(DestroyReason::CONNECTFAILED);
            }
            (Ok(_), None) => self.circuit.next_failed(DestroyReason::INTERNAL),
        }
    }

    /// An onion-service message addressed to this hop (§16.1, §16.2).
    fn deliver(&mut self, msg: RelayMsg) {
        let roles = self.shared.config.roles;
        let reply = match msg {
            RelayMsg::EstablishIntro(ei) if roles.contains(Roles::INTRO) => self
                .establish_intro(&ei)
                .map(|()| RelayMsg::IntroEstablished(IntroEstablished::default())),
            RelayMsg::Introduce1(i1) if roles.contains(Roles::INTRO) => {
                let relayed = self.shared.roles.introduce(Introduce2 {
                    auth_key: i1.auth_key,
                    extensions: i1.extensions,
                    encrypted: i1.encrypted,
                });
                let status = match relayed {
                    Ok(()) => {
                        self.shared.metrics.introductions.inc();
                        IntroduceAckStatus::SUCCESS
                    }
                    Err(IntroRefusal::UnknownService) => IntroduceAckStatus::UNKNOWN_SERVICE,
                    Err(IntroRefusal::RateLimited) => {
                        self.shared.metrics.introductions_refused.inc();
                        IntroduceAckStatus::RATE_LIMITED
                    }
                    Err(IntroRefusal::CantRelay) => IntroduceAckStatus::CANT_RELAY,
                };
                Ok(RelayMsg::IntroduceAck(IntroduceAck {
                    status,
                    extensions: Vec::new(),
                }))
            }
            RelayMsg::EstablishRendezvous(er) if roles.contains(Roles::RENDEZVOUS) => {
                let queue = self.role_sender();
                if self
                    .shared
                    .roles
                    .establish_rendezvous(self.registered.owner, er.cookie, queue)
                {
                    Ok(RelayMsg::RendezvousEstablished(RendezvousEstablished))
                } else {
                    Err("the rendezvous cookie is in use")
                }
            }
            RelayMsg::Rendezvous1(r1) if roles.contains(Roles::RENDEZVOUS) => {
                match self.shared.roles.take_rendezvous(&r1.cookie) {
                    Some(partner) if self.circuit.splice().is_ok() => {
                        let joined = RoleMsg::Joined {
                            handshake: r1.handshake,
                            partner: self.role_sender(),
                            partner_prev: self.prev_peer,
                        };
                        if partner.try_send(joined).is_ok() {
                            self.shared.metrics.rendezvous_joined.inc();
                            self.partner = Some(partner);
                            return;
                        }
                        Err("the client's circuit is gone")
                    }
                    _ => Err("no circuit waits on that rendezvous cookie"),
                }
            }
            _ => Err("an onion-service message this relay does not serve"),
        };
        match reply {
            Ok(reply) => {
                if self.circuit.send_to_origin(reply).is_err() {
                    self.circuit.destroy(DestroyReason::INTERNAL);
                }
            }
            Err(why) => {
                tracing::debug!(reason = why, "refused an onion-service request");
                self.circuit.destroy(DestroyReason::PROTOCOL);
            }
        }
    }

    /// Checks ESTABLISH_INTRO (§16.1) and registers this circuit.
    fn establish_intro(&mut self, ei: &EstablishIntro) -> Result<(), &'static str> {
        let key = warren_crypto::RelayIdentity::from_bytes(&ei.auth_key)
            .map_err(|_| "the auth key is not a valid Ed25519 key")?;
        let signed = ei.signed_part().map_err(|_| "malformed")?;
        key.verify(&signed, &warren_crypto::Signature(ei.signature))
            .map_err(|_| "the auth key did not sign ESTABLISH_INTRO")?;
        if !self
            .circuit
            .binding()
            .verify(HANDSHAKE_AUTH_LABEL, &ei.auth_key, &ei.handshake_auth)
        {
            return Err("handshake_auth does not match this circuit");
        }
        let rate = ei.extensions.iter().find_map(|e| match e {
            Extension::DosParams {
                rate_per_sec,
                burst,
            } => Some((*rate_per_sec, *burst)),
            _ => None,
        });
        let queue = self.role_sender();
        self.shared
            .roles
            .establish_intro(self.registered.owner, ei.auth_key, queue, rate);
        Ok(())
    }

    /// A message from another circuit's task (§16.1, §16.2).
    fn role_msg(&mut self, msg: RoleMsg) {
        match msg {
            RoleMsg::Introduce2(i2) => {
                if self
                    .circuit
                    .send_to_origin(RelayMsg::Introduce2(i2))
                    .is_err()
                {
                    self.circuit.destroy(DestroyReason::INTERNAL);
                }
            }
            RoleMsg::Joined {
                handshake,
                partner,
                partner_prev,
            } => {
                if let Some(record) = &self.shared.record {
                    record.joined(self.registered.owner, &self.prev_peer, &partner_prev);
                }
                let told = self
                    .circuit
                    .send_to_origin(RelayMsg::Rendezvous2(Rendezvous2 { handshake }));
                if told.is_err() || self.circuit.splice().is_err() {
                    self.circuit.destroy(DestroyReason::PROTOCOL);
                }
                self.partner = Some(partner);
            }
            RoleMsg::Cell(mut cell) => match self.circuit.handle_from_next(&mut cell) {
                Ok(Verdict::Forward) => {
                    cell.circ_id = self.prev_id;
                    if self.prev_tx.try_send(*cell).is_ok() {
                        self.cell_out();
                    } else {
                        self.circuit.destroy(DestroyReason::RESOURCELIMIT);
                    }
                }
                Ok(Verdict::Consumed) => {}
                Err(e) => tracing::debug!(error = %e, "joined circuit torn down"),
            },
            RoleMsg::PartnerClosed => {
                self.partner = None;
                self.circuit.next_failed(DestroyReason::FINISHED);
            }
        }
    }

    /// The queue other circuits reach this one by, made on first use.
    fn role_sender(&mut self) -> mpsc::Sender<RoleMsg> {
        let (tx, _) = self.role.get_or_insert_with(|| mpsc::channel(ROLE_QUEUE));
        tx.clone()
    }

    /// Counts a cell sent.
    fn cell_out(&mut self) {
        self.unpaid += 1;
        self.shared.metrics.cell_out();
    }

    /// Carries out what the circuit asks for. Returns false once the circuit
    /// is closed.
    fn carry_out_actions(&mut self) -> bool {
        while let Some(event) = self.circuit.streams().poll_event() {
            self.stream_event(event);
        }
        while let Some(action) = self.circuit.poll_action() {
            match action {
                RelayAction::ToPrev(msg) => {
                    if send(&self.prev_tx, msg, self.prev_id).is_err() {
                        self.circuit.prev_failed();
                    } else {
                        self.cell_out();
                    }
                }
                RelayAction::ToNext(msg) => {
                    if let Some((_, tx)) = &self.next
                        && send(tx, msg, OUTBOUND_CIRC_ID).is_ok()
                    {
                        self.cell_out();
                    }
                }
                RelayAction::Extend {
                    identity,
                    link_specs,
                    create,
                } => {
                    let addrs = multiaddrs(&link_specs);
                    let shared = self.shared.clone();
                    self.pending_create = Some(ChanMsg::Create(create));
                    self.extending = Some(Box::pin(async move {
                        shared.host.open_link(&identity, &addrs).await
                    }));
                }
                RelayAction::Deliver(msg) => self.deliver(msg),
                RelayAction::Closed(teardown) => {
                    tracing::debug!(reason = %teardown.reason, remote = teardown.remote, "circuit closed");
                    return false;
                }
            }
        }
        true
    }
}

/// Encodes `msg` for circuit `id` and queues it without waiting.
fn send(tx: &LinkWriter, msg: ChanMsg, id: CircId) -> Result<(), ()> {
    let cell = msg.encode(id).map_err(|_| ())?;
    tx.try_send(cell).map_err(|_| ())
}

fn destroy_cell(reason: DestroyReason, id: CircId) -> Cell {
    let destroy = ChanMsg::Destroy(Destroy { reason });
    destroy.encode(id).unwrap_or(Cell {
        circ_id: id,
        cmd: warren_proto::cell::CellCmd::DESTROY,
        body: [0; warren_proto::cell::CELL_BODY_LEN],
    })
}

async fn recv_next(next: &mut Option<(LinkReader, LinkWriter)>) -> Result<Option<Cell>, NetError> {
    match next {
        Some((rx, _)) => rx.recv().await,
        None => pending().await,
    }
}

async fn recv_role(
    role: &mut Option<(mpsc::Sender<RoleMsg>, mpsc::Receiver<RoleMsg>)>,
) -> Option<RoleMsg> {
    match role {
        Some((_, rx)) => rx.recv().await,
        None => pending().await,
    }
}

async fn poll_extending(extending: &mut Option<Extending>) -> Result<Link, NetError> {
    match extending {
        Some(fut) => fut.await,
        None => pending().await,
    }
}

/// The addresses in EXTEND's link specifiers that a libp2p host can dial.
fn multiaddrs(specs: &[LinkSpec]) -> Vec<Multiaddr> {
    specs
        .iter()
        .filter_map(|spec| match spec {
            LinkSpec::Multiaddr(bytes) => Multiaddr::try_from(bytes.clone()).ok(),
            LinkSpec::Ipv4(addr) => format!("/ip4/{}/tcp/{}", addr.ip(), addr.port())
                .parse()
                .ok(),
            LinkSpec::Ipv6(addr) => format!("/ip6/{}/tcp/{}", addr.ip(), addr.port())
                .parse()
                .ok(),
            _ => None,
        })
        .collect()
}
