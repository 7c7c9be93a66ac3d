//! The circuit level of fidelity (docs/sim.md §10): circuits are built by
//! the directory's path selection and each client's real guard set, their
//! build time is the round trips of the handshakes plus the modelled relay
//! costs, and responses are flows that share the relays' bandwidth
//! ([`crate::flows`]). No cell is made; a run of a Tor-sized network takes
//! seconds. With `[churn]`, relays leave and come back at consensus rounds
//! (docs/sim.md §10.5), at which the authorities that are up vote
//! (§10.6). Onion services are in [`onion`] (docs/sim.md §11).

mod onion;

pub use onion::{ConnectionReport, OnionEnds, OnionReport};

use rand_chacha::ChaCha20Rng;

use crate::authorities::{Authorities, for_want_of_authorities};
use crate::clock::SimTime;
use crate::error::SimError;
use crate::flows::{Due, FlowId, Flows};
use crate::netmodel::{Network, NodeId};
use crate::paths::{ClientGuards, PathSelector, unix_time};
use crate::queue::EventQueue;
use crate::relays::Directory;
use crate::report::{CircuitRecord, ConsensusReport, Outcome};
use crate::rng::{exponential_ns, uniform};
use crate::run::RunOutput;
use crate::scenario::{ClientClass, Scenario};

/// What happens at one instant.
enum Event {
    /// The client starts its next circuit.
    Start { client: usize },
    /// The client's circuit `number` is built: its first request starts.
    Built { client: usize, number: usize },
    /// The client sends BEGIN for its next request on circuit `number`.
    Request { client: usize, number: usize },
    /// The first response byte reaches the client: the flow starts.
    FirstByte { client: usize, number: usize },
    /// A flow's finish time at its rate when it was set: its last byte
    /// arrives, unless it has slowed down since (or the time is stale).
    FlowDone(Due),
    /// The client's build of circuit `number` failed.
    BuildFailed {
        client: usize,
        number: usize,
        guard_failed: bool,
        why: BuildFailure,
    },
    /// A consensus round (docs/sim.md §10.5, §10.6): relays leave and come
    /// back, the authorities that are up vote.
    Consensus,
    /// Something happens to an onion service (docs/sim.md §11).
    Onion(onion::OnionEvent),
}

/// Why a build failed.
#[derive(Clone, Copy)]
enum BuildFailure {
    /// A hop took longer than the build timeout.
    TimedOut,
    /// A relay of the path, listed in the consensus the client has, is not
    /// running (docs/sim.md §10.6).
    NotRunning,
}

impl BuildFailure {
    fn reason(self) -> &'static str {
        match self {
            Self::TimedOut => "circuit timed out",
            Self::NotRunning => "a relay of the path is not running",
        }
    }
}

/// Why a circuit that found no valid consensus failed (docs/sim.md §10.6).
pub(crate) const NO_CONSENSUS: &str = "no valid consensus: the last one has expired";

/// One client.
struct Client {
    node: NodeId,
    class: usize,
    guards: ClientGuards,
    started: usize,
    active: Option<Active>,
}

/// The circuit a client is using.
struct Active {
    number: usize,
    path: [usize; 3],
    started: SimTime,
    built: Option<SimTime>,
    /// Round trip from the client to the exit and back, with the relays'
    /// per-cell costs on the way (BEGIN → first byte).
    ttfb_ns: u64,
    requests: usize,
    request_started: SimTime,
    first_ttfb: Option<u64>,
    transfer_ns: u64,
    bytes: u64,
    /// The response in transfer.
    flow: Option<FlowId>,
    /// An onion connection's state (docs/sim.md §11); `None` for exit
    /// circuits.
    onion: Option<onion::Pending>,
}

/// The simulated world at the circuit level.
pub(crate) struct World<'s> {
    scenario: &'s Scenario,
    rng: ChaCha20Rng,
    queue: EventQueue<Event>,
    now: SimTime,
    net: Network,
    dir: Directory,
    paths: PathSelector,
    flows: Flows,
    clients: Vec<Client>,
    records: Vec<CircuitRecord>,
    last_finish: SimTime,
    handshakes: u64,
    due: Vec<Due>,
    /// Which relays are running (all without churn).
    running: Vec<bool>,
    /// The directory authorities (docs/sim.md §10.6).
    authorities: Authorities,
    /// Consensuses made since the first.
    round: u64,
    /// The rounds and the circuits that found no valid consensus.
    tally: ConsensusReport,
    /// The onion services (docs/sim.md §11).
    services: onion::Services,
}

impl<'s> World<'s> {
    /// The relays, their consensus and the clients of `scenario`, from
    /// `seed` (the relays are drawn as at the cell level).
    pub(crate) fn new(scenario: &'s Scenario, seed: u64) -> Result<Self, SimError> {
        let mut rng = crate::rng::seeded(seed);
        let mut net = Network::new(scenario);
        let dir = Directory::build(scenario, &mut net, &mut rng)?;
        let running = vec![true; dir.statuses().len()];
        let (authorities, paths) = Authorities::first_round(scenario, seed, &dir)?;
        let tally = authorities.first_tally();
        let flows = Flows::new(dir.statuses().iter().map(|s| s.bandwidth));
        let mut world = Self {
            scenario,
            rng,
            queue: EventQueue::new(),
            now: SimTime::ZERO,
            net,
            dir,
            paths,
            flows,
            clients: Vec::new(),
            records: Vec::new(),
            last_finish: SimTime::ZERO,
            handshakes: 0,
            due: Vec::new(),
            running,
            authorities,
            round: 0,
            tally,
            services: onion::Services::default(),
        };
        world.add_services()?;
        world.add_clients();
        if let Some(churn) = &scenario.churn {
            world
                .queue
                .push(SimTime::from_nanos(churn.interval_ns), Event::Consensus);
        }
        Ok(world)
    }

    fn add_clients(&mut self) {
        for client in 0..self.scenario.clients.count {
            let (node, class, start) =
                crate::scenario::place_client(self.scenario, &mut self.net, &mut self.rng);
            self.clients.push(Client {
                node,
                class,
                guards: ClientGuards::default(),
                started: 0,
                active: None,
            });
            self.queue
                .push(SimTime::from_nanos(start), Event::Start { client });
        }
    }

    /// Runs until no event is left; `progress(done, total)` is called as
    /// circuits finish.
    pub(crate) fn run(
        mut self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<RunOutput, SimError> {
        let total = crate::run::circuits_asked(self.scenario, self.clients.iter().map(|c| c.class));
        let events = crate::run::drive(&mut self, total, progress)?;
        progress(self.records.len(), total);
        let onion = self.onion_report();
        let responsible = self.responsible();
        let onion_ends = self.onion_ends();
        Ok(RunOutput {
            onion,
            responsible,
            onion_ends,
            client_classes: self.clients.iter().map(|c| c.class).collect(),
            circuits: self.records,
            events,
            end: self.last_finish,
            handshakes: self.handshakes,
            dir: self.dir,
            consensus: Some(self.tally),
        })
    }

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        match event {
            Event::Start { client } => return self.start_circuit(client),
            Event::Built { client, number } if self.is_active(client, number) => {
                self.built(client);
                self.request(client);
            }
            Event::Request { client, number } if self.is_active(client, number) => {
                self.request(client);
            }
            Event::FirstByte { client, number } if self.is_active(client, number) => {
                self.first_byte(client);
            }
            Event::FlowDone(due) => {
                let mut changed = std::mem::take(&mut self.due);
                let owner = self.flows.arrive(self.now, due, &mut changed);
                self.schedule_flows(&mut changed);
                self.due = changed;
                if let Some(client) = owner {
                    self.request_done(client);
                }
            }
            Event::BuildFailed {
                client,
                number,
                guard_failed,
                why,
            } if self.is_active(client, number) => self.build_failed(client, guard_failed, why),
            Event::Consensus => return self.consensus_round(),
            Event::Onion(event) => return self.handle_onion(event),
            // The circuit has ended since (a relay of its path left).
            Event::Built { .. }
            | Event::Request { .. }
            | Event::FirstByte { .. }
            | Event::BuildFailed { .. } => {}
        }
        Ok(())
    }

    /// Whether `client` is still using its circuit `number`.
    fn is_active(&self, client: usize, number: usize) -> bool {
        self.clients
            .get(client)
            .and_then(|c| c.active.as_ref())
            .is_some_and(|a| a.number == number)
    }

    /// A consensus round: each running relay leaves with probability
    /// `leave_share`, each one gone comes back with `return_share`; the
    /// authorities that are up vote on the relays running, and clients pick
    /// from the new consensus if one is made (docs/sim.md §10.6); circuits
    /// through a relay that left fail. The next round is due if anything
    /// else is.
    fn consensus_round(&mut self) -> Result<(), SimError> {
        let scenario: &'s Scenario = self.scenario;
        let Some(churn) = &scenario.churn else {
            return Ok(());
        };
        for running in &mut self.running {
            let u = uniform(&mut self.rng);
            *running = if *running {
                u >= churn.leave_share
            } else {
                u < churn.return_share
            };
        }
        match self
            .authorities
            .round(&self.dir, &self.running, self.now.as_nanos())
        {
            Ok(consensus) => {
                self.paths = PathSelector::new(&self.dir, consensus);
                self.round += 1;
                self.tally.rounds_made += 1;
            }
            Err(e) if for_want_of_authorities(&e) => self.tally.rounds_missed += 1,
            Err(source) => return Err(SimError::Consensus { source }),
        }
        for client in 0..self.clients.len() {
            let gone = self
                .clients
                .get(client)
                .and_then(|c| c.active.as_ref())
                .is_some_and(|a| a.path.iter().any(|&r| !self.is_running(r)));
            if !gone {
                continue;
            }
            let flow = self
                .clients
                .get_mut(client)
                .and_then(|c| c.active.as_mut())
                .and_then(|a| a.flow.take());
            if let Some(flow) = flow {
                let mut changed = std::mem::take(&mut self.due);
                self.flows.abort(self.now, flow, &mut changed);
                self.schedule_flows(&mut changed);
                self.due = changed;
            }
            let pause = self.think(client);
            let why = "a relay of the path left the network".into();
            self.finish(client, Outcome::Failed(why), pause);
        }
        if !self.queue.is_empty() {
            let next = self.now.plus_nanos(churn.interval_ns);
            self.queue.push(next, Event::Consensus);
        }
        Ok(())
    }

    /// Whether relay `r` is running.
    fn is_running(&self, r: usize) -> bool {
        self.running.get(r).copied().unwrap_or(true)
    }

    /// The client's next think time.
    fn think(&mut self, client: usize) -> u64 {
        self.class(client)
            .map_or(0, |c| exponential_ns(&mut self.rng, c.think_time_ns))
    }

    fn class(&self, client: usize) -> Option<&'s ClientClass> {
        let scenario: &'s Scenario = self.scenario;
        scenario
            .clients
            .classes
            .get(self.clients.get(client)?.class)
    }

    /// One-way latency between two nodes.
    fn latency(&self, a: NodeId, b: NodeId) -> u64 {
        self.net.latency_ns(a, b)
    }

    /// Picks a path and works out when each hop's handshake completes.
    fn start_circuit(&mut self, client: usize) -> Result<(), SimError> {
        if unix_time(self.now.as_nanos()) > self.paths.consensus().valid_until() {
            self.no_consensus(client);
            return Ok(());
        }
        if self
            .class(client)
            .is_some_and(|c| c.traffic == crate::scenario::Traffic::Onion)
        {
            return self.start_onion(client);
        }
        let now_ns = self.now.as_nanos();
        let Some(c) = self.clients.get_mut(client) else {
            return Ok(());
        };
        let name = crate::engine::label(client, c.started);
        let path = c
            .guards
            .pick(&self.paths, self.round, now_ns, &mut self.rng, &name)?;
        crate::invariant::check_path(&name, &path)?;
        let node = c.node;
        let number = c.started;
        c.started += 1;
        let costs = self.scenario.costs;
        let timeout = u64::try_from(costs.build_timeout.as_nanos()).unwrap_or(u64::MAX);
        // Hop k's handshake: a round trip from the client through hops
        // 1..k, the relay's handshake cost, and the per-cell cost of the
        // EXTEND and EXTENDED at each earlier hop.
        let nodes = path.map(|r| self.dir.relays().get(r).map_or(r, |relay| relay.node));
        let [g, m, e] = nodes;
        let legs = [
            self.latency(node, g),
            self.latency(g, m),
            self.latency(m, e),
        ];
        let mut one_way = 0;
        let mut build = 0u64;
        for (k, (leg, relay)) in legs.iter().zip(path).enumerate() {
            one_way += leg;
            let earlier = u64::try_from(k).unwrap_or(0);
            // To the relay and back, with the EXTEND and its answer at each
            // earlier hop; a relay that is running adds its handshake.
            let reach = 2 * one_way + 2 * earlier * costs.cell_ns;
            let running = self.is_running(relay);
            let hop = if running {
                self.handshakes += 1;
                reach + costs.handshake_ns
            } else {
                reach
            };
            let failure = if hop > timeout {
                Some((timeout, BuildFailure::TimedOut))
            } else {
                (!running).then_some((hop, BuildFailure::NotRunning))
            };
            if let Some((after, why)) = failure {
                let at = self.now.plus_nanos(build + after);
                self.begin(client, number, path, 0);
                let event = Event::BuildFailed {
                    client,
                    number,
                    guard_failed: k == 0,
                    why,
                };
                self.queue.push(at, event);
                return Ok(());
            }
            build += hop;
        }
        // BEGIN crosses three relays; the first data cell crosses three on
        // the way back (as the cell level's 6 costs: docs/sim.md §8).
        let ttfb = 2 * one_way + 6 * costs.cell_ns;
        self.begin(client, number, path, ttfb);
        self.queue
            .push(self.now.plus_nanos(build), Event::Built { client, number });
        Ok(())
    }

    fn begin(&mut self, client: usize, number: usize, path: [usize; 3], ttfb_ns: u64) {
        let now = self.now;
        if let Some(c) = self.clients.get_mut(client) {
            c.active = Some(Active {
                number,
                path,
                started: now,
                built: None,
                ttfb_ns,
                requests: 0,
                request_started: now,
                first_ttfb: None,
                transfer_ns: 0,
                bytes: 0,
                flow: None,
                onion: None,
            });
        }
    }

    /// The circuit is built: its guard is confirmed (it is used at once).
    fn built(&mut self, client: usize) {
        let now = self.now;
        let Some(c) = self.clients.get_mut(client) else {
            return;
        };
        let Some(a) = c.active.as_mut() else { return };
        a.built = Some(now);
        let [guard, ..] = a.path;
        c.guards.succeeded(&self.dir, guard, now.as_nanos());
    }

    fn request(&mut self, client: usize) {
        let now = self.now;
        let Some(a) = self.clients.get_mut(client).and_then(|c| c.active.as_mut()) else {
            return;
        };
        a.request_started = now;
        let at = now.plus_nanos(a.ttfb_ns);
        let number = a.number;
        self.queue.push(at, Event::FirstByte { client, number });
    }

    fn first_byte(&mut self, client: usize) {
        let now = self.now;
        let down = self.scenario.clients.down;
        let bytes = self.class(client).map_or(1, |c| c.response_bytes);
        let Some(a) = self.clients.get_mut(client).and_then(|c| c.active.as_mut()) else {
            return;
        };
        a.first_ttfb.get_or_insert(now.since(a.request_started));
        let path = a.path;
        let mut changed = std::mem::take(&mut self.due);
        a.flow = Some(
            self.flows
                .start(now, path, down, bytes, client, &mut changed),
        );
        self.schedule_flows(&mut changed);
        self.due = changed;
    }

    fn schedule_flows(&mut self, due: &mut Vec<Due>) {
        for d in due.drain(..) {
            self.queue.push(d.at, Event::FlowDone(d));
        }
    }

    /// A response is in: the next request after the think time, or the
    /// circuit is done.
    fn request_done(&mut self, client: usize) {
        let now = self.now;
        let Some(class) = self.class(client) else {
            return;
        };
        let pause = exponential_ns(&mut self.rng, class.think_time_ns);
        let next = now.plus_nanos(pause);
        let in_time = self.in_time(next);
        let Some(a) = self.clients.get_mut(client).and_then(|c| c.active.as_mut()) else {
            return;
        };
        a.requests += 1;
        a.flow = None;
        a.bytes += class.response_bytes;
        a.transfer_ns += now.since(a.request_started);
        if a.requests < class.requests && in_time {
            let number = a.number;
            self.queue.push(next, Event::Request { client, number });
            return;
        }
        self.finish(client, Outcome::Complete, pause);
    }

    fn build_failed(&mut self, client: usize, guard_failed: bool, why: BuildFailure) {
        let now_ns = self.now.as_nanos();
        let pause = self.think(client);
        if let Some(c) = self.clients.get_mut(client)
            && let (true, Some([guard, ..])) = (guard_failed, c.active.as_ref().map(|a| a.path))
        {
            c.guards.failed(&self.dir, guard, now_ns);
        }
        self.finish(client, Outcome::Failed(why.reason().into()), pause);
    }

    /// Whether `at` is before the scenario's end (if it has one).
    fn in_time(&self, at: SimTime) -> bool {
        self.scenario.duration_ns.is_none_or(|d| at.as_nanos() <= d)
    }

    /// Records the circuit and schedules the next one after `pause`.
    fn finish(&mut self, client: usize, outcome: Outcome, pause: u64) {
        let Some(a) = self.clients.get_mut(client).and_then(|c| c.active.take()) else {
            return;
        };
        self.onion_finished(&a, &outcome);
        let complete = outcome == Outcome::Complete;
        let record = CircuitRecord {
            client,
            circuit: a.number,
            path: Some(a.path),
            start_ns: a.started.as_nanos(),
            build_ns: a.built.map(|b| b.since(a.started)),
            ttfb_ns: a.first_ttfb,
            transfer_ns: complete.then_some(a.transfer_ns),
            bytes: a.bytes,
            outcome,
        };
        self.record(record, pause);
    }

    /// The client's circuit finds no valid consensus (docs/sim.md §10.6): it
    /// fails at once, and the client tries again when a new consensus may
    /// have come, at the next round (or after its think time, if later).
    fn no_consensus(&mut self, client: usize) {
        let pause = self.think(client);
        let now_ns = self.now.as_nanos();
        let to_round = self
            .scenario
            .churn
            .as_ref()
            .map_or(0, |c| c.interval_ns - now_ns % c.interval_ns);
        let Some(c) = self.clients.get_mut(client) else {
            return;
        };
        let number = c.started;
        c.started += 1;
        self.tally.circuits_without_consensus += 1;
        let record = CircuitRecord {
            client,
            circuit: number,
            path: None,
            start_ns: now_ns,
            build_ns: None,
            ttfb_ns: None,
            transfer_ns: None,
            bytes: 0,
            outcome: Outcome::Failed(NO_CONSENSUS.into()),
        };
        self.record(record, pause.max(to_round));
    }

    /// Adds `record` and schedules the client's next circuit after `pause`,
    /// if it has one left and the run is not over.
    fn record(&mut self, record: CircuitRecord, pause: u64) {
        let client = record.client;
        let circuits = self.class(client).map_or(0, |c| c.circuits);
        let next = self.now.plus_nanos(pause);
        let more = self.in_time(next)
            && self
                .clients
                .get(client)
                .is_some_and(|c| c.started < circuits);
        self.records.push(record);
        self.last_finish = self.now;
        if more {
            self.queue.push(next, Event::Start { client });
        }
    }
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
