//! The event loop (docs/sim.md §2, §4): cells move between nodes through the
//! network model; relays run the real [`RelayCircuit`] machine on each, after
//! a modelled processing delay; clients run the real [`OriginCircuit`]
//! (in [`origin`]) over paths picked through their guard sets from the
//! authorities' consensus, as at the circuit level.

mod origin;

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use warren_crypto::ntor::EphemeralSecret;
use warren_proto::cell::{Cell, CellCmd, ChanMsg, CircId, Destroy, DestroyReason};
use warren_proto::circuit::{RelayAction, RelayCircuit, Verdict};
use warren_proto::relay_msg::StreamId;
use warren_proto::stream::{StreamEvent, StreamRead};

use crate::clock::SimTime;
use crate::error::SimError;
use crate::netmodel::{Network, NodeId};
use crate::paths::PathSelector;
use crate::queue::EventQueue;
use crate::relays::Directory;
use crate::report::{CircuitRecord, ConsensusReport};
use crate::run::RunOutput;
use crate::scenario::Scenario;

pub(crate) use origin::Client;

/// What happens at one instant.
enum Event {
    /// Client `client` starts its next circuit.
    ClientStart { client: usize },
    /// A cell reached `to`'s download queue.
    Arrive {
        from: NodeId,
        to: NodeId,
        cell: Cell,
    },
    /// A cell has been received in full at `to`.
    Receive {
        from: NodeId,
        to: NodeId,
        cell: Cell,
    },
    /// Relay `relay` has done its work on a cell from `from`.
    Process {
        relay: usize,
        from: NodeId,
        cell: Cell,
    },
    /// Client `client`'s circuit timer is due.
    Timeout { client: usize },
}

/// Whose a circuit id is at the node that receives cells on it.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// The client's own circuit.
    Origin,
    /// Hop `hop`, on the side of its previous node.
    FromPrev(usize),
    /// Hop `hop`, on the side of its next node.
    FromNext(usize),
}

/// Which client circuit a relay hop belongs to (simulator bookkeeping: the
/// relays themselves never learn it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    client: usize,
    number: usize,
}

/// A stream that ends at an exit hop and the response still to send.
struct ExitStream {
    id: StreamId,
    remaining: u64,
    closed: bool,
}

/// One relay's part of one circuit.
struct Hop {
    circuit: RelayCircuit,
    relay: usize,
    prev: (NodeId, CircId),
    next: Option<(NodeId, CircId)>,
    owner: Option<Owner>,
    streams: Vec<ExitStream>,
}

/// The whole simulated world.
pub(crate) struct World<'s> {
    scenario: &'s Scenario,
    rng: ChaCha20Rng,
    queue: EventQueue<Event>,
    now: SimTime,
    net: Network,
    dir: Directory,
    /// The consensus of the authorities' first round (docs/sim.md §10.6).
    paths: PathSelector,
    consensus: ConsensusReport,
    clients: Vec<Client>,
    hops: Vec<Option<Hop>>,
    /// `(receiving node, circuit id)` → what the cell is for.
    routes: BTreeMap<(NodeId, u32), Route>,
    /// When each relay's processor is next free.
    cpu_free: Vec<SimTime>,
    next_circ_id: u32,
    records: Vec<CircuitRecord>,
    /// When the last circuit finished (stale timers may run later).
    last_finish: SimTime,
    /// CREATE handshakes relays completed.
    handshakes: u64,
}

/// Response bytes an exit offers a stream in one write.
const WRITE_CHUNK: usize = 16 * 1024;
/// The response body (its content does not matter; its length does).
static RESPONSE: [u8; WRITE_CHUNK] = [0x5a; WRITE_CHUNK];

impl<'s> World<'s> {
    /// Builds the relays, directory and clients of `scenario` from `seed`.
    pub(crate) fn new(scenario: &'s Scenario, seed: u64) -> Result<Self, SimError> {
        let mut rng = crate::rng::seeded(seed);
        let mut net = Network::new(scenario);
        let dir = Directory::build(scenario, &mut net, &mut rng)?;
        let (authorities, paths) =
            crate::authorities::Authorities::first_round(scenario, seed, &dir)?;
        let mut world = Self {
            paths,
            consensus: authorities.first_tally(),
            cpu_free: vec![SimTime::ZERO; dir.relays().len()],
            scenario,
            rng,
            queue: EventQueue::new(),
            now: SimTime::ZERO,
            net,
            dir,
            clients: Vec::new(),
            hops: Vec::new(),
            routes: BTreeMap::new(),
            next_circ_id: 1,
            records: Vec::new(),
            last_finish: SimTime::ZERO,
            handshakes: 0,
        };
        world.add_clients();
        Ok(world)
    }

    /// Runs until no event is left; `progress(done, total)` is called as
    /// circuits finish. Returns the circuit records, the events handled and
    /// when the last circuit finished.
    pub(crate) fn run(
        mut self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RunOutput, SimError> {
        let total =
            crate::run::circuits_asked(self.scenario, self.clients.iter().map(Client::class));
        let events = crate::run::drive(&mut self, total, progress)?;
        self.record_unfinished();
        progress(self.records.len(), total);
        Ok(RunOutput {
            client_classes: self.clients.iter().map(Client::class).collect(),
            circuits: self.records,
            events,
            end: self.last_finish,
            handshakes: self.handshakes,
            dir: self.dir,
            onion: None,
            responsible: Vec::new(),
            onion_ends: Vec::new(),
            consensus: Some(self.consensus),
        })
    }

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        match event {
            Event::ClientStart { client } => {
                if self
                    .scenario
                    .duration_ns
                    .is_some_and(|d| self.now.as_nanos() > d)
                {
                    return Ok(());
                }
                self.start_circuit(client)
            }
            Event::Arrive { from, to, cell } => {
                let at = self.net.receive(self.now, to);
                self.queue.push(at, Event::Receive { from, to, cell });
                Ok(())
            }
            Event::Receive { from, to, cell } => self.receive(from, to, cell),
            Event::Process { relay, from, cell } => self.process(relay, from, cell),
            Event::Timeout { client } => self.client_timeout(client),
        }
    }

    /// Sends `cell` from `from` to `to` now.
    fn send(&mut self, from: NodeId, to: NodeId, cell: Cell) {
        let at = self.net.send(self.now, from, to, &mut self.rng);
        self.queue.push(at, Event::Arrive { from, to, cell });
    }

    /// A fresh circuit id (unique in the run, so unique on every link).
    fn circ_id(&mut self) -> CircId {
        let id = CircId(self.next_circ_id);
        self.next_circ_id = self.next_circ_id.wrapping_add(1).max(1);
        id
    }

    /// A cell has been received at `to`: a client handles it at once; a
    /// relay after its processor has done the modelled work.
    fn receive(&mut self, from: NodeId, to: NodeId, cell: Cell) -> Result<(), SimError> {
        let relays = self.dir.relays().len();
        if to >= relays {
            return self.client_cell(to - relays, cell);
        }
        let costs = self.scenario.costs;
        let cost = if cell.cmd == CellCmd::CREATE {
            costs.handshake_ns
        } else {
            costs.cell_ns
        };
        let Some(free) = self.cpu_free.get_mut(to) else {
            return Ok(());
        };
        let done = self.now.max(*free).plus_nanos(cost);
        *free = done;
        if done == self.now {
            return self.process(to, from, cell);
        }
        self.queue.push(
            done,
            Event::Process {
                relay: to,
                from,
                cell,
            },
        );
        Ok(())
    }

    /// Relay `relay` acts on a cell from `from`, as its channel would.
    fn process(&mut self, relay: usize, from: NodeId, mut cell: Cell) -> Result<(), SimError> {
        // Relays are the first nodes: relay `i` is node `i`.
        let node = relay;
        let now = self.now.to_timestamp();
        match self.routes.get(&(node, cell.circ_id.0)).copied() {
            None if cell.cmd == CellCmd::CREATE => return self.accept_create(relay, from, &cell),
            Some(Route::FromPrev(h)) => {
                let Some(hop) = self.hops.get_mut(h).and_then(Option::as_mut) else {
                    return Ok(());
                };
                if let (Ok(Verdict::Forward), Some((next, id))) =
                    (hop.circuit.handle_from_prev(now, &mut cell), hop.next)
                {
                    cell.circ_id = id;
                    self.send(node, next, cell);
                }
                return self.drain_hop(h);
            }
            Some(Route::FromNext(h)) => {
                let Some(hop) = self.hops.get_mut(h).and_then(Option::as_mut) else {
                    return Ok(());
                };
                if let Ok(Verdict::Forward) = hop.circuit.handle_from_next(&mut cell) {
                    let (prev, id) = hop.prev;
                    cell.circ_id = id;
                    self.send(node, prev, cell);
                }
                return self.drain_hop(h);
            }
            // Cells for circuits this relay no longer knows are dropped, as
            // a daemon drops them.
            None | Some(Route::Origin) => {}
        }
        Ok(())
    }

    /// A CREATE on a new circuit id: the relay side of the handshake.
    fn accept_create(&mut self, relay: usize, from: NodeId, cell: &Cell) -> Result<(), SimError> {
        let eph = EphemeralSecret::generate(&mut self.rng);
        let Some(keys) = self.dir.relays().get(relay) else {
            return Ok(());
        };
        let identity = keys.identity.public();
        match RelayCircuit::accept_create(eph, &identity, &[&keys.onion], cell) {
            Ok((circuit, created)) => {
                self.handshakes += 1;
                let owner = self.owner_of(from, cell.circ_id);
                let h = self.hops.len();
                self.hops.push(Some(Hop {
                    circuit,
                    relay,
                    prev: (from, cell.circ_id),
                    next: None,
                    owner,
                    streams: Vec::new(),
                }));
                self.routes
                    .insert((relay, cell.circ_id.0), Route::FromPrev(h));
                if let Some(owner) = owner {
                    self.note_hop(owner, relay, from)?;
                }
                self.send_msg(relay, from, cell.circ_id, &created, owner)
            }
            Err(_) => {
                let destroy = ChanMsg::Destroy(Destroy {
                    reason: DestroyReason::PROTOCOL,
                });
                self.send_msg(relay, from, cell.circ_id, &destroy, None)
            }
        }
    }

    /// The client circuit a CREATE from `from` on `id` belongs to.
    fn owner_of(&self, from: NodeId, id: CircId) -> Option<Owner> {
        let relays = self.dir.relays().len();
        if from >= relays {
            let client = from - relays;
            let number = self.clients.get(client)?.active_number()?;
            return Some(Owner { client, number });
        }
        match self.routes.get(&(from, id.0)) {
            Some(Route::FromNext(h)) => self.hops.get(*h)?.as_ref()?.owner,
            _ => None,
        }
    }

    /// Encodes `msg` on `id` and sends it from `from` to `to`.
    fn send_msg(
        &mut self,
        from: NodeId,
        to: NodeId,
        id: CircId,
        msg: &ChanMsg,
        owner: Option<Owner>,
    ) -> Result<(), SimError> {
        let cell = msg.encode(id).map_err(|source| SimError::Protocol {
            circuit: owner.map_or_else(|| "a circuit".into(), |o| label(o.client, o.number)),
            action: "encode a cell",
            source,
        })?;
        self.send(from, to, cell);
        Ok(())
    }

    /// Carries out hop `h`'s actions and serves its exit streams until
    /// neither has anything left to do.
    fn drain_hop(&mut self, h: usize) -> Result<(), SimError> {
        loop {
            let Some(hop) = self.hops.get_mut(h).and_then(Option::as_mut) else {
                return Ok(());
            };
            let Some(action) = hop.circuit.poll_action() else {
                if self.serve_streams(h)? {
                    continue;
                }
                return Ok(());
            };
            self.carry_out(h, action)?;
        }
    }

    fn carry_out(&mut self, h: usize, action: RelayAction) -> Result<(), SimError> {
        let Some(hop) = self.hops.get_mut(h).and_then(Option::as_mut) else {
            return Ok(());
        };
        let (node, owner, prev, next) = (hop.relay, hop.owner, hop.prev, hop.next);
        match action {
            RelayAction::ToPrev(msg) => self.send_msg(node, prev.0, prev.1, &msg, owner),
            RelayAction::ToNext(msg) => match next {
                Some((to, id)) => self.send_msg(node, to, id, &msg, owner),
                None => Ok(()),
            },
            RelayAction::Extend {
                identity, create, ..
            } => {
                let next = self.dir.by_identity(&identity);
                let Some(to) = next.and_then(|r| self.dir.relays().get(r)).map(|r| r.node) else {
                    hop.circuit.next_failed(DestroyReason::CONNECTFAILED);
                    return Ok(());
                };
                let id = self.circ_id();
                if let Some(hop) = self.hops.get_mut(h).and_then(Option::as_mut) {
                    hop.next = Some((to, id));
                }
                self.routes.insert((node, id.0), Route::FromNext(h));
                self.send_msg(node, to, id, &ChanMsg::Create(create), owner)
            }
            // Circuit-level messages are for onion-service roles, which this
            // model does not run yet; a relay without the role ignores them.
            RelayAction::Deliver(_) => Ok(()),
            RelayAction::Closed(_) => {
                self.forget_hop(h);
                Ok(())
            }
        }
    }

    /// Relay `r`'s node.
    fn relay_node(&self, r: usize) -> NodeId {
        self.dir.relays().get(r).map_or(r, |relay| relay.node)
    }

    fn forget_hop(&mut self, h: usize) {
        if let Some(hop) = self.hops.get_mut(h).and_then(Option::take) {
            self.routes.remove(&(hop.relay, hop.prev.1.0));
            if let Some((_, id)) = hop.next {
                self.routes.remove(&(hop.relay, id.0));
            }
        }
    }

    /// The exit side of hop `h`'s streams: accepts each BEGIN, checks the
    /// invariant, writes the response, ends the stream once it is all
    /// written. Returns whether anything was done.
    fn serve_streams(&mut self, h: usize) -> Result<bool, SimError> {
        let owner = self
            .hops
            .get(h)
            .and_then(Option::as_ref)
            .and_then(|hop| hop.owner);
        let response = owner
            .and_then(|o| self.class_of(o.client))
            .map_or(0, |c| c.response_bytes);
        let Some(hop) = self.hops.get_mut(h).and_then(Option::as_mut) else {
            return Ok(false);
        };
        let mut did = false;
        let mut incoming = false;
        while let Some(event) = hop.circuit.streams().poll_event() {
            did = true;
            match event {
                StreamEvent::Incoming { id, .. } => {
                    let _accepted = hop.circuit.streams().accept(id);
                    hop.streams.push(ExitStream {
                        id,
                        remaining: response,
                        closed: false,
                    });
                    incoming = true;
                }
                StreamEvent::Readable(id) => {
                    let mut sink = [0u8; 512];
                    while let Ok(StreamRead::Bytes(_)) = hop.circuit.streams().read(id, &mut sink) {
                    }
                }
                StreamEvent::Ended { id, .. } => hop.streams.retain(|s| s.id != id),
                StreamEvent::Opened(_) | StreamEvent::Writable(_) => {}
            }
        }
        for s in &mut hop.streams {
            did |= write_response(&mut hop.circuit, s);
        }
        if let (true, Some(owner)) = (incoming, hop.owner) {
            let exit = hop.relay;
            self.check_exit(owner, exit)?;
        }
        Ok(did)
    }
}

/// Writes as much of `s`'s response as the stream takes; ends it once all
/// is written. Returns whether anything was written or ended.
fn write_response(circuit: &mut RelayCircuit, s: &mut ExitStream) -> bool {
    let mut did = false;
    while s.remaining > 0 {
        let len = usize::try_from(s.remaining).map_or(WRITE_CHUNK, |r| r.min(WRITE_CHUNK));
        let chunk = RESPONSE.get(..len).unwrap_or(&RESPONSE);
        match circuit.streams().write(s.id, chunk) {
            Ok(n) if n > 0 => {
                s.remaining = s.remaining.saturating_sub(n as u64);
                did = true;
            }
            _ => break,
        }
    }
    if s.remaining == 0 && !s.closed {
        s.closed = true;
        let _ended = circuit.streams().close(s.id);
        did = true;
    }
    did
}

/// How errors and records name a circuit.
pub(crate) fn label(client: usize, number: usize) -> String {
    format!("client {client}, circuit {number}")
}

impl crate::run::Engine for World<'_> {
    fn step(&mut self) -> Option<Result<(), SimError>> {
        let (at, event) = self.queue.pop()?;
        self.now = at;
        Some(self.handle(event))
    }

    fn finished(&self) -> usize {
        self.records.len()
    }
}
