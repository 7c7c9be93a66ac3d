//! The client side of the event loop (docs/sim.md §4): each client builds
//! its circuits one after another with the real [`OriginCircuit`] over a
//! path picked through its guard set ([`ClientGuards`], as at the circuit
//! level), opens a stream at the exit, reads the response, and records the
//! times.

use warren_crypto::ntor::EphemeralSecret;
use warren_proto::cell::{Cell, DestroyReason};
use warren_proto::circuit::{CircEvent, OriginCircuit};
use warren_proto::relay_msg::StreamId;
use warren_proto::stream::{StreamEvent, StreamRead, StreamRole};

use super::{Event, Owner, Route, World, label};
use crate::clock::SimTime;
use crate::error::SimError;
use crate::invariant;
use crate::netmodel::NodeId;
use crate::paths::ClientGuards;
use crate::relays::STREAM_PORT;
use crate::report::{CircuitRecord, Outcome};
use crate::rng::exponential_ns;
use crate::scenario::ClientClass;

/// The host every simulated stream asks the exit for.
const STREAM_HOST: &str = "sim.example";

/// One client and its circuit in progress.
pub(crate) struct Client {
    node: NodeId,
    /// Its class in `scenario.clients.classes`.
    class: usize,
    guards: ClientGuards,
    started: usize,
    active: Option<Active>,
    /// The earliest timer event scheduled for this client.
    timer: Option<SimTime>,
}

impl Client {
    /// The number of the circuit in progress.
    pub(crate) fn active_number(&self) -> Option<usize> {
        self.active.as_ref().map(|a| a.number)
    }

    /// Its class in `scenario.clients.classes`.
    pub(crate) fn class(&self) -> usize {
        self.class
    }
}

/// A circuit in progress and what has been measured on it.
struct Active {
    number: usize,
    origin: OriginCircuit,
    path: [usize; 3],
    /// Hops extended so far.
    extended: usize,
    /// The relays that accepted this circuit's CREATEs, in order, with the
    /// node each heard the CREATE from.
    observed: Vec<(usize, NodeId)>,
    started: SimTime,
    built: Option<SimTime>,
    begun: Option<SimTime>,
    stream: Option<StreamId>,
    first_byte: Option<SimTime>,
    received: u64,
}

impl World<'_> {
    /// Adds the scenario's clients and schedules their first circuits.
    pub(super) fn add_clients(&mut self) {
        for client in 0..self.scenario.clients.count {
            let (node, class, start) =
                crate::scenario::place_client(self.scenario, &mut self.net, &mut self.rng);
            self.clients.push(Client {
                node,
                class,
                guards: ClientGuards::default(),
                started: 0,
                active: None,
                timer: None,
            });
            self.queue
                .push(SimTime::from_nanos(start), Event::ClientStart { client });
        }
    }

    /// Picks a path and sends CREATE to its guard.
    pub(super) fn start_circuit(&mut self, client: usize) -> Result<(), SimError> {
        let now_ns = self.now.as_nanos();
        let Some(c) = self.clients.get_mut(client) else {
            return Ok(());
        };
        let (number, node) = (c.started, c.node);
        let name = label(client, number);
        // One consensus for the run: round 0.
        let path = c
            .guards
            .pick(&self.paths, 0, now_ns, &mut self.rng, &name)?;
        invariant::check_path(&name, &path)?;
        let id = self.circ_id();
        let eph = EphemeralSecret::generate(&mut self.rng);
        let [guard, ..] = path;
        let first = self.dir.target(guard).ok_or_else(|| missing(&name))?;
        let origin = OriginCircuit::new(
            self.now.to_timestamp(),
            id,
            &first,
            eph,
            self.scenario.costs.build_timeout,
            StreamRole::Initiator,
        )
        .map_err(|source| protocol(&name, "start the circuit", source))?;
        self.routes.insert((node, id.0), Route::Origin);
        if let Some(c) = self.clients.get_mut(client) {
            c.started += 1;
            c.active = Some(Active {
                number,
                origin,
                path,
                extended: 0,
                observed: Vec::new(),
                started: self.now,
                built: None,
                begun: None,
                stream: None,
                first_byte: None,
                received: 0,
            });
        }
        self.drain_origin(client)
    }

    /// A cell arrived at client `client`.
    pub(super) fn client_cell(&mut self, client: usize, cell: Cell) -> Result<(), SimError> {
        let now = self.now.to_timestamp();
        let node = self.clients.get(client).map(|c| c.node);
        let Some(node) = node else { return Ok(()) };
        if !matches!(
            self.routes.get(&(node, cell.circ_id.0)),
            Some(Route::Origin)
        ) {
            return Ok(());
        }
        if let Some(a) = self.clients.get_mut(client).and_then(|c| c.active.as_mut()) {
            // An error has torn the circuit down; its Closed event says so.
            let _torn = a.origin.handle_cell(now, cell);
        }
        self.drain_origin(client)
    }

    /// Client `client`'s timer is due.
    pub(super) fn client_timeout(&mut self, client: usize) -> Result<(), SimError> {
        let now = self.now.to_timestamp();
        if let Some(c) = self.clients.get_mut(client) {
            c.timer = None;
            if let Some(a) = c.active.as_mut() {
                a.origin.handle_timeout(now);
            }
        }
        self.drain_origin(client)
    }

    /// Sends the origin's cells and acts on its events until it is quiet;
    /// then schedules its timer.
    fn drain_origin(&mut self, client: usize) -> Result<(), SimError> {
        loop {
            let Some(c) = self.clients.get_mut(client) else {
                return Ok(());
            };
            let node = c.node;
            let Some(a) = c.active.as_mut() else {
                return Ok(());
            };
            let [guard, ..] = a.path;
            if let Some(cell) = a.origin.poll_transmit() {
                let to = self.relay_node(guard);
                self.send(node, to, cell);
                continue;
            }
            let Some(event) = a.origin.poll_event() else {
                break;
            };
            self.circuit_event(client, event)?;
        }
        self.schedule_timer(client);
        Ok(())
    }

    fn schedule_timer(&mut self, client: usize) {
        let Some(c) = self.clients.get_mut(client) else {
            return;
        };
        let Some(deadline) = c.active.as_ref().and_then(|a| a.origin.poll_timeout()) else {
            return;
        };
        let at = SimTime::from_timestamp(deadline).max(self.now);
        if c.timer.is_none_or(|t| at < t) {
            c.timer = Some(at);
            self.queue.push(at, Event::Timeout { client });
        }
    }

    fn circuit_event(&mut self, client: usize, event: CircEvent) -> Result<(), SimError> {
        let now = self.now;
        let Some(c) = self.clients.get_mut(client) else {
            return Ok(());
        };
        let Some(a) = c.active.as_mut() else {
            return Ok(());
        };
        let name = label(client, a.number);
        let [guard, ..] = a.path;
        match event {
            CircEvent::Extended { hops } if hops < a.path.len() => {
                a.extended = hops;
                let next = a.path.get(hops).and_then(|&r| self.dir.target(r));
                let target = next.ok_or_else(|| missing(&name))?;
                let eph = EphemeralSecret::generate(&mut self.rng);
                a.origin
                    .extend(now.to_timestamp(), &target, eph)
                    .map_err(|source| protocol(&name, "extend", source))?;
            }
            CircEvent::Extended { hops } => {
                a.extended = hops;
                a.built = Some(now);
                let id = a
                    .origin
                    .begin_stream(now.to_timestamp(), STREAM_HOST, STREAM_PORT)
                    .map_err(|source| protocol(&name, "open a stream", source))?;
                a.begun = Some(now);
                a.stream = Some(id);
                // The circuit is built and used: its guard is confirmed.
                c.guards.succeeded(&self.dir, guard, now.as_nanos());
            }
            CircEvent::Stream(StreamEvent::Readable(id) | StreamEvent::Ended { id, .. }) => {
                return self.read_response(client, id);
            }
            CircEvent::Closed(t) => {
                // Torn down before the first hop answered: reaching the
                // guard failed, and the guard code's retry schedule applies.
                if a.extended == 0 {
                    c.guards.failed(&self.dir, guard, now.as_nanos());
                }
                return self.finish(client, Outcome::Failed(t.reason.to_string()));
            }
            CircEvent::Stream(_) | CircEvent::Message { .. } => {}
        }
        Ok(())
    }

    /// Reads what has arrived on the stream; finishes the circuit once the
    /// whole response is in, or the stream ended short.
    fn read_response(&mut self, client: usize, id: StreamId) -> Result<(), SimError> {
        let now = self.now;
        let want = self.class_of(client).map_or(0, |c| c.response_bytes);
        let Some(a) = self.clients.get_mut(client).and_then(|c| c.active.as_mut()) else {
            return Ok(());
        };
        let mut buf = [0u8; 4096];
        let mut ended = false;
        loop {
            match a.origin.streams().read(id, &mut buf) {
                Ok(StreamRead::Bytes(n)) => {
                    a.first_byte.get_or_insert(now);
                    a.received += n as u64;
                }
                Ok(StreamRead::Finished(_)) | Err(_) => {
                    ended = true;
                    break;
                }
                Ok(StreamRead::WouldBlock) => break,
            }
        }
        if a.received >= want {
            return self.finish(client, Outcome::Complete);
        }
        if ended {
            let problem = format!("the stream ended after {} of {want} bytes", a.received);
            return self.finish(client, Outcome::Failed(problem));
        }
        Ok(())
    }

    /// Records the circuit, tears it down and schedules the next one.
    fn finish(&mut self, client: usize, outcome: Outcome) -> Result<(), SimError> {
        let (think, circuits) = self
            .class_of(client)
            .map_or((0, 0), |c| (c.think_time_ns, c.circuits));
        let pause = exponential_ns(&mut self.rng, think);
        let now = self.now;
        let Some(c) = self.clients.get_mut(client) else {
            return Ok(());
        };
        let node = c.node;
        let Some(mut a) = c.active.take() else {
            return Ok(());
        };
        let more = c.started < circuits;
        a.origin.destroy(DestroyReason::FINISHED);
        let [guard, ..] = a.path;
        let to = self.relay_node(guard);
        while let Some(cell) = a.origin.poll_transmit() {
            self.send(node, to, cell);
        }
        self.routes.remove(&(node, a.origin.circ_id().0));
        self.records.push(record(client, &a, now, outcome));
        self.last_finish = now;
        if more {
            self.queue
                .push(now.plus_nanos(pause), Event::ClientStart { client });
        }
        Ok(())
    }

    /// Records circuits still in progress when the queue ran dry.
    pub(super) fn record_unfinished(&mut self) {
        let now = self.now;
        for (client, c) in self.clients.iter_mut().enumerate() {
            if let Some(a) = c.active.take() {
                let outcome = Outcome::Failed("stalled: the run ended first".into());
                self.records.push(record(client, &a, now, outcome));
                self.last_finish = now;
            }
        }
    }

    /// A relay accepted a CREATE of `owner`'s circuit from `from`.
    pub(super) fn note_hop(
        &mut self,
        owner: Owner,
        relay: usize,
        from: NodeId,
    ) -> Result<(), SimError> {
        let Some(a) = self.active_of(owner) else {
            return Ok(());
        };
        a.observed.push((relay, from));
        let relays: Vec<usize> = a.observed.iter().map(|(r, _)| *r).collect();
        invariant::check_path(&label(owner.client, owner.number), &relays)
    }

    /// The exit `exit` got `owner`'s BEGIN: the relay next to the client and
    /// the relay next to the destination must differ (docs/sim.md §6).
    pub(super) fn check_exit(&mut self, owner: Owner, exit: usize) -> Result<(), SimError> {
        let client_node = self.clients.get(owner.client).map(|c| c.node);
        let Some(a) = self.active_of(owner) else {
            return Ok(());
        };
        let observed = a.observed.clone();
        invariant::check_ends(
            &label(owner.client, owner.number),
            &observed,
            client_node,
            exit,
        )
    }

    /// Client `client`'s class.
    pub(super) fn class_of(&self, client: usize) -> Option<&ClientClass> {
        let class = self.clients.get(client)?.class;
        self.scenario.clients.classes.get(class)
    }

    fn active_of(&mut self, owner: Owner) -> Option<&mut Active> {
        self.clients
            .get_mut(owner.client)?
            .active
            .as_mut()
            .filter(|a| a.number == owner.number)
    }
}

fn record(client: usize, a: &Active, now: SimTime, outcome: Outcome) -> CircuitRecord {
    let since = |t: Option<SimTime>, from: Option<SimTime>| Some(t?.since(from?));
    CircuitRecord {
        client,
        circuit: a.number,
        path: Some(a.path),
        start_ns: a.started.as_nanos(),
        build_ns: since(a.built, Some(a.started)),
        ttfb_ns: since(a.first_byte, a.begun),
        transfer_ns: matches!(outcome, Outcome::Complete)
            .then(|| since(Some(now), a.begun))
            .flatten(),
        bytes: a.received,
        outcome,
    }
}

fn missing(circuit: &str) -> SimError {
    SimError::NoPath {
        circuit: circuit.to_owned(),
        position: "next hop",
        hint: "a picked relay is missing from the directory",
    }
}

fn protocol(circuit: &str, action: &'static str, source: warren_proto::ProtoError) -> SimError {
    SimError::Protocol {
        circuit: circuit.to_owned(),
        action,
        source,
    }
}
