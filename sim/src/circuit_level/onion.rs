//! Onion services at the circuit level (docs/sim.md §11): descriptors on
//! the HSDirs the real ring names, intro points, the client's descriptor
//! fetch, rendezvous and introduction circuits, the service's circuit to
//! the rendezvous point, and the service's introduction queue and puzzle
//! effort, run by the pure code of `warren_proto::intro_queue`. An
//! attacker may flood the first service with introductions (§11.3).

use serde::Serialize;
use warren_crypto::{ServiceIdentityKeypair, TimePeriod};
use warren_directory::hsdir_ring::HS_PERIOD_MINUTES;
use warren_directory::path::LastHop;
use warren_directory::{GuardSet, HsDirRing};
use warren_proto::intro_queue::{EFFORT_PERIOD, IntroQueue, QUEUE_MAX_AGE, next_effort};

use super::{Active, Event, World};
use crate::clock::SimTime;
use crate::error::SimError;
use crate::netmodel::NodeId;
use crate::paths::unix_time;
use crate::report::{Outcome, Spread, spread};
use crate::rng::{uniform, weighted_index};

/// How long a client waits for the service at the rendezvous point after
/// its introduction was acknowledged (docs/spec.md §16.4: a client waits
/// 30 s).
const RENDEZVOUS_TIMEOUT_NS: u64 = 30_000_000_000;

/// What happens to onion services at one instant.
pub(super) enum OnionEvent {
    /// An introduction reaches the service.
    Arrives { service: usize, intro: Intro },
    /// The service has answered an introduction.
    Answered { service: usize, intro: Intro },
    /// The client's wait at the rendezvous point is over.
    RendezvousTimeout { client: usize, number: usize },
    /// The attacker sends its next introduction.
    Flood,
    /// Every service reconsiders its suggested effort.
    EffortTick,
}

/// Who sent an introduction.
#[derive(Clone, Copy)]
pub(super) enum Intro {
    /// A client, for its circuit `number`.
    Client { client: usize, number: usize },
    /// The flooding attacker.
    Attacker,
}

/// One onion service.
struct Service {
    node: NodeId,
    guards: GuardSet,
    /// The HSDirs (scenario indices) responsible for its descriptor in the
    /// current period and the next.
    responsible: [Vec<usize>; 2],
    /// Its intro points and the one-way time from each to the service
    /// over the service's intro circuit.
    intro_points: Vec<(usize, u64)>,
    queue: IntroQueue<Intro, u64>,
    suggested: u32,
    busy: bool,
}

/// A client's circuits for one connection (docs/sim.md §11.2), scenario
/// relay indices, guard first: to an HSDir and to an intro point four hops,
/// to its own rendezvous point three (docs/spec.md §14.1).
struct ClientPaths {
    fetch: Vec<usize>,
    rend: [usize; 3],
    intro: Vec<usize>,
    /// The intro point's one-way time to the service.
    ip_to_service: u64,
    /// The effort the client solves at.
    effort: u32,
}

/// A client's onion connection in progress (in its [`Active`]).
pub(super) struct Pending {
    service: usize,
    /// The rendezvous point.
    rend: usize,
    /// One-way time from the client to the rendezvous point.
    to_rend_ns: u64,
    /// The effort the client solved at.
    effort: u32,
    /// The guard of the service's circuit to the rendezvous point, once
    /// the service has built it.
    service_guard: Option<usize>,
}

/// The onion services of a run and what happened to them.
#[derive(Default)]
pub(super) struct Services {
    services: Vec<Service>,
    /// The suggested effort is followed and solutions weigh.
    puzzle: bool,
    flood_sent: u64,
    flood_served: u64,
    flood_end_ns: u64,
    flood_interval_ns: u64,
    /// How each onion connection ended.
    connections: Vec<Connection>,
    peak_effort: u32,
}

/// One onion connection: its service, its start, whether every response
/// arrived, its time from start to first byte, and the guards at its two
/// ends.
struct Connection {
    service: usize,
    start_ns: u64,
    complete: bool,
    ttfb_ns: Option<u64>,
    ends: Option<OnionEnds>,
}

/// The guards at the two ends of an onion connection the service answered
/// (docs/sim.md §9): of the client's rendezvous circuit and of the
/// service's circuit to the rendezvous point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnionEnds {
    /// When the connection started, in ns.
    pub start_ns: u64,
    /// The guard of the client's rendezvous circuit (relay index).
    pub client_guard: usize,
    /// The guard of the service's circuit to the rendezvous point.
    pub service_guard: usize,
}

/// Onion connections of one kind (`summary.json`'s `onion`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionReport {
    /// Connections started.
    pub connections: usize,
    /// Connections whose every response arrived.
    pub succeeded: usize,
    /// `succeeded / connections`.
    pub success_share: f64,
    /// From the connection's start to the first response byte, ms.
    pub ttfb_ms: Option<Spread>,
}

/// What the onion services saw (docs/sim.md §11.5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnionReport {
    /// Services of the run.
    pub services: usize,
    /// Whether the services ran the puzzle.
    pub puzzle: bool,
    /// Every onion connection.
    pub all: ConnectionReport,
    /// Connections to the first service (the flood's target).
    pub target: ConnectionReport,
    /// Connections to the target started while the flood lasted.
    pub target_during_flood: Option<ConnectionReport>,
    /// Introductions the attacker sent.
    pub flood_sent: u64,
    /// Attacker introductions the target answered.
    pub flood_served: u64,
    /// Cores the attacker spends solving: rate × attempts per
    /// introduction × the cost of an attempt.
    pub attacker_cores: f64,
    /// The highest effort a service suggested.
    pub peak_suggested_effort: u32,
}

/// Equi-X attempts (nonces) to solve at `effort`: a nonce gives about two
/// solutions, each passing with probability 1/effort (docs/spec.md §16.4).
fn attempts(effort: u32) -> u64 {
    if effort == 0 {
        0
    } else {
        u64::from(effort).div_ceil(2)
    }
}

impl World<'_> {
    /// Makes the scenario's services: identities from the run's RNG, nodes,
    /// guard sets, intro points and their circuits, and the HSDirs of the
    /// ring for their blinded keys.
    pub(super) fn add_services(&mut self) -> Result<(), SimError> {
        let specs = self.scenario.services.clone();
        let flood = self.scenario.intro_flood;
        self.services.puzzle = flood.is_none_or(|f| f.puzzle);
        let weights: Vec<f64> = self.scenario.regions.iter().map(|r| r.share).collect();
        let period = TimePeriod::containing(unix_time(0), HS_PERIOD_MINUTES)
            .map_err(|_| self.no_service_path("HSDir"))?;
        let rings = [period, period.next()].map(|p| HsDirRing::new(self.paths.consensus(), p));
        for spec in &specs {
            for _ in 0..spec.count {
                let identity = ServiceIdentityKeypair::generate(&mut self.rng);
                let responsible = rings.clone().map(|ring| {
                    ring.responsible(&identity.blind(ring.period()).public())
                        .iter()
                        .filter_map(|id| self.dir.by_identity(id))
                        .collect()
                });
                let region = weighted_index(&mut self.rng, &weights).unwrap_or(0);
                let node = self.net.add_node(region, spec.bandwidth, spec.bandwidth);
                let mut guards = GuardSet::default();
                self.paths.update_guards(&mut guards, 0, &mut self.rng);
                let mut intro_points: Vec<(usize, u64)> = Vec::new();
                for _ in 0..spec.intro_points {
                    let taken: Vec<usize> = intro_points.iter().map(|p| p.0).collect();
                    let Some(ip) = self.paths.pick_role(true, &taken, &mut self.rng) else {
                        break;
                    };
                    let name = format!("service {}", self.services.services.len());
                    // Its own intro point: three hops (docs/spec.md §14.1).
                    let path = self.paths.pick_to(
                        &mut guards,
                        ip,
                        LastHop::Ours,
                        0,
                        &mut self.rng,
                        &name,
                    )?;
                    intro_points.push((ip, self.one_way(node, &path)));
                }
                self.services.services.push(Service {
                    node,
                    guards,
                    responsible,
                    intro_points,
                    queue: IntroQueue::default(),
                    suggested: 0,
                    busy: false,
                });
            }
        }
        if let Some(f) = flood {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a rate from 1e-9 to 1e5 a second: an interval within u64"
            )]
            let interval = (1e9 / f.rate_per_s).round().max(1.0) as u64;
            self.services.flood_interval_ns = interval;
            self.services.flood_end_ns = f.start_ns.saturating_add(f.duration_ns);
            let at = SimTime::from_nanos(f.start_ns);
            self.queue.push(at, Event::Onion(OnionEvent::Flood));
        }
        if self.services.puzzle && !specs.is_empty() {
            let at = SimTime::from_nanos(period_ns());
            self.queue.push(at, Event::Onion(OnionEvent::EffortTick));
        }
        Ok(())
    }

    fn no_service_path(&self, what: &'static str) -> SimError {
        SimError::NoPath {
            circuit: "an onion service".into(),
            position: what,
            hint: "raise relays.count",
        }
    }

    /// The per-HSDir responsible sets of every service, for the adversary
    /// (docs/sim.md §9).
    pub(super) fn responsible(&self) -> Vec<[Vec<usize>; 2]> {
        self.services
            .services
            .iter()
            .map(|s| s.responsible.clone())
            .collect()
    }

    /// The one-way latencies of the links from `origin` along `path`, in
    /// path order.
    fn legs(&self, origin: NodeId, path: &[usize]) -> Vec<u64> {
        let nodes: Vec<NodeId> = path.iter().map(|&r| self.node_of(r)).collect();
        let from = std::iter::once(origin).chain(nodes.iter().copied());
        from.zip(nodes.iter().copied())
            .map(|(a, b)| self.latency(a, b))
            .collect()
    }

    /// The one-way time from `origin` along `path` to its last hop, with
    /// the per-cell cost at each relay on the way.
    fn one_way(&self, origin: NodeId, path: &[usize]) -> u64 {
        let relays = u64::try_from(path.len()).unwrap_or(u64::MAX);
        self.legs(origin, path).iter().sum::<u64>() + relays * self.scenario.costs.cell_ns
    }

    fn node_of(&self, relay: usize) -> NodeId {
        self.dir.relays().get(relay).map_or(relay, |r| r.node)
    }

    /// Builds a circuit from `origin` along `path`: its build time (docs/sim.md
    /// §10.2, one handshake per hop, however many), counting its handshakes.
    fn build(&mut self, origin: NodeId, path: &[usize]) -> u64 {
        let costs = self.scenario.costs;
        let (mut one_way, mut build, mut earlier) = (0, 0, 0);
        for leg in self.legs(origin, path) {
            one_way += leg;
            self.handshakes += 1;
            build += 2 * one_way + costs.handshake_ns + 2 * earlier * costs.cell_ns;
            earlier += 1;
        }
        build
    }

    /// Starts an onion connection (docs/sim.md §11.2): the descriptor from
    /// an HSDir, the rendezvous circuit, the puzzle, the introduction.
    pub(super) fn start_onion(&mut self, client: usize) -> Result<(), SimError> {
        let now_ns = self.now.as_nanos();
        let count = self.services.services.len();
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index below the service count"
        )]
        let service =
            ((uniform(&mut self.rng) * count as f64) as usize).min(count.saturating_sub(1));
        let Some(c) = self.clients.get_mut(client) else {
            return Ok(());
        };
        let (node, number) = (c.node, c.started);
        c.started += 1;
        let mut guards = std::mem::take(c.guards.set());
        let result = self.onion_paths(&mut guards, service, client, number);
        if let Some(c) = self.clients.get_mut(client) {
            *c.guards.set() = guards;
        }
        let ClientPaths {
            fetch,
            rend,
            intro,
            ip_to_service,
            effort,
        } = result?;
        let cell = self.scenario.costs.cell_ns;
        // The descriptor: a circuit to the HSDir, BEGIN_DIR and CONNECTED,
        // the request and the descriptor (two round trips).
        let mut t = self.build(node, &fetch) + 4 * self.one_way(node, &fetch);
        // The rendezvous circuit, ESTABLISH_RENDEZVOUS and its answer.
        let to_rend_ns = self.one_way(node, &rend);
        t += self.build(node, &rend) + 2 * to_rend_ns;
        // The intro circuit, the puzzle, INTRODUCE1; INTRODUCE2 goes on to
        // the service, INTRODUCE_ACK comes back.
        let to_intro = self.one_way(node, &intro);
        t += self.build(node, &intro) + attempts(effort) * self.scenario.costs.pow_attempt_ns;
        let arrives = now_ns + t + to_intro + ip_to_service + cell;
        let acked = now_ns + t + 2 * to_intro;
        let [.., rend_point] = rend;
        self.begin(client, number, rend, 0);
        if let Some(a) = self.active_mut(client) {
            a.onion = Some(Pending {
                service,
                rend: rend_point,
                to_rend_ns,
                effort,
                service_guard: None,
            });
        }
        let intro = Intro::Client { client, number };
        let arrive = OnionEvent::Arrives { service, intro };
        self.queue
            .push(SimTime::from_nanos(arrives), Event::Onion(arrive));
        let wait = OnionEvent::RendezvousTimeout { client, number };
        let at = SimTime::from_nanos(acked + RENDEZVOUS_TIMEOUT_NS);
        self.queue.push(at, Event::Onion(wait));
        Ok(())
    }

    /// The client's three circuits and what its introduction needs
    /// ([`ClientPaths`]).
    fn onion_paths(
        &mut self,
        guards: &mut GuardSet,
        service: usize,
        client: usize,
        number: usize,
    ) -> Result<ClientPaths, SimError> {
        let name = crate::engine::label(client, number);
        let now_ns = self.now.as_nanos();
        let (hsdirs, intro_points, suggested) = {
            let s = self
                .services
                .services
                .get(service)
                .ok_or_else(|| self.no_service_path("onion service"))?;
            (
                s.responsible[0].clone(),
                s.intro_points.clone(),
                s.suggested,
            )
        };
        let pick = |rng: &mut rand_chacha::ChaCha20Rng, n: usize| {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "an index below n"
            )]
            let i = (uniform(rng) * n as f64) as usize;
            i.min(n.saturating_sub(1))
        };
        let hsdir = *hsdirs
            .get(pick(&mut self.rng, hsdirs.len()))
            .ok_or_else(|| self.no_service_path("HSDir"))?;
        // The ring chose the HSDir, the service its intro points: four hops
        // to each; the client chose its rendezvous point: three
        // (docs/spec.md §14.1).
        let fetch =
            self.paths
                .pick_to(guards, hsdir, LastHop::Theirs, now_ns, &mut self.rng, &name)?;
        let exclude: Vec<usize> = intro_points.iter().map(|p| p.0).collect();
        let rp = self
            .paths
            .pick_role(false, &exclude, &mut self.rng)
            .ok_or_else(|| self.no_service_path("rendezvous point"))?;
        let rend = self
            .paths
            .pick_to(guards, rp, LastHop::Ours, now_ns, &mut self.rng, &name)?;
        let rend: [usize; 3] = rend
            .try_into()
            .map_err(|_| self.no_service_path("rendezvous circuit"))?;
        let &(ip, ip_to_service) = intro_points
            .get(pick(&mut self.rng, intro_points.len()))
            .ok_or_else(|| self.no_service_path("intro point"))?;
        let intro =
            self.paths
                .pick_to(guards, ip, LastHop::Theirs, now_ns, &mut self.rng, &name)?;
        for p in [&fetch[..], &rend[..], &intro[..]] {
            crate::invariant::check_path(&name, p)?;
        }
        let effort = if self.services.puzzle { suggested } else { 0 };
        Ok(ClientPaths {
            fetch,
            rend,
            intro,
            ip_to_service,
            effort,
        })
    }

    fn active_mut(&mut self, client: usize) -> Option<&mut Active> {
        self.clients.get_mut(client)?.active.as_mut()
    }

    pub(super) fn handle_onion(&mut self, event: OnionEvent) -> Result<(), SimError> {
        match event {
            OnionEvent::Arrives { service, intro } => self.arrives(service, intro),
            OnionEvent::Answered { service, intro } => {
                if let Some(s) = self.services.services.get_mut(service) {
                    s.busy = false;
                }
                match intro {
                    Intro::Client { client, number } if self.is_active(client, number) => {
                        self.answer(service, client)?;
                    }
                    Intro::Client { .. } => {}
                    Intro::Attacker => self.services.flood_served += 1,
                }
                self.serve(service);
            }
            OnionEvent::RendezvousTimeout { client, number } => {
                let waiting = self.is_active(client, number)
                    && self
                        .clients
                        .get(client)
                        .and_then(|c| c.active.as_ref())
                        .is_some_and(|a| a.built.is_none());
                if waiting {
                    let why = "the service did not come to the rendezvous point".into();
                    let pause = self.think(client);
                    self.finish(client, Outcome::Failed(why), pause);
                }
            }
            OnionEvent::Flood => self.flood(),
            OnionEvent::EffortTick => self.effort_tick(),
        }
        Ok(())
    }

    fn arrives(&mut self, service: usize, intro: Intro) {
        let effort = match intro {
            Intro::Client { client, .. } => self
                .clients
                .get(client)
                .and_then(|c| c.active.as_ref())
                .and_then(|a| a.onion.as_ref())
                .map_or(0, |p| p.effort),
            Intro::Attacker => self.scenario.intro_flood.map_or(0, |f| f.effort),
        };
        let effort = if self.services.puzzle { effort } else { 0 };
        let now_ns = self.now.as_nanos();
        if let Some(s) = self.services.services.get_mut(service) {
            // A dropped introduction is never answered: its client waits
            // out its rendezvous timeout.
            let _ = s.queue.push(intro, effort, now_ns);
        }
        self.serve(service);
    }

    /// When the service is idle, its next introduction (the highest
    /// effort that is not too old) starts being answered.
    fn serve(&mut self, service: usize) {
        let now_ns = self.now.as_nanos();
        let max_age = u64::try_from(QUEUE_MAX_AGE.as_nanos()).unwrap_or(u64::MAX);
        let cost = self.scenario.costs.intro_ns;
        let Some(s) = self.services.services.get_mut(service) else {
            return;
        };
        if s.busy {
            return;
        }
        let too_old = |arrived: u64| now_ns.saturating_sub(arrived) > max_age;
        if let Some(intro) = s.queue.pop(too_old, drop) {
            s.busy = true;
            let answered = OnionEvent::Answered { service, intro };
            self.queue
                .push(self.now.plus_nanos(cost), Event::Onion(answered));
        }
    }

    /// The service answers a client: a circuit of its own to the client's
    /// rendezvous point, RENDEZVOUS1 there and RENDEZVOUS2 on to the
    /// client; the joined circuit is then the client's, its first BEGIN
    /// crossing all six relays (docs/sim.md §11.2).
    fn answer(&mut self, service: usize, client: usize) -> Result<(), SimError> {
        let Some((rend, to_rend_ns, number)) = self
            .clients
            .get(client)
            .and_then(|c| c.active.as_ref())
            .and_then(|a| a.onion.as_ref().map(|p| (p.rend, p.to_rend_ns, a.number)))
        else {
            return Ok(());
        };
        let now_ns = self.now.as_nanos();
        let Some(s) = self.services.services.get_mut(service) else {
            return Ok(());
        };
        let node = s.node;
        let mut guards = std::mem::take(&mut s.guards);
        let name = format!("service {service}");
        // The client chose the rendezvous point: four hops to it
        // (docs/spec.md §14.1).
        let path = self.paths.pick_to(
            &mut guards,
            rend,
            LastHop::Theirs,
            now_ns,
            &mut self.rng,
            &name,
        );
        if let Some(s) = self.services.services.get_mut(service) {
            s.guards = guards;
        }
        let path = path?;
        crate::invariant::check_path(&name, &path)?;
        // A cell across the joined circuit costs each of its six relays
        // one cell, the rendezvous point once, though it ends both one-way
        // times.
        let cell = self.scenario.costs.cell_ns;
        let across = (self.one_way(node, &path) + to_rend_ns).saturating_sub(cell);
        // RENDEZVOUS1 to the rendezvous point, RENDEZVOUS2 on to the client.
        let joined = self.build(node, &path) + across;
        if let Some(a) = self.active_mut(client) {
            a.ttfb_ns = 2 * across;
            if let (Some(p), Some(&service_guard)) = (a.onion.as_mut(), path.first()) {
                p.service_guard = Some(service_guard);
            }
        }
        let at = self.now.plus_nanos(joined);
        self.queue.push(at, Event::Built { client, number });
        Ok(())
    }

    fn flood(&mut self) {
        self.services.flood_sent += 1;
        self.arrives(0, Intro::Attacker);
        let next = self.now.plus_nanos(self.services.flood_interval_ns);
        if next.as_nanos() < self.services.flood_end_ns {
            self.queue.push(next, Event::Onion(OnionEvent::Flood));
        }
    }

    /// Every service reconsiders its suggested effort with the service
    /// code's own controller; the next look is due if anything else is.
    fn effort_tick(&mut self) {
        for s in &mut self.services.services {
            let (dropped, peak) = (s.queue.dropped, s.queue.peak);
            s.queue.dropped = 0;
            s.queue.peak = s.queue.len();
            s.suggested = next_effort(s.suggested, dropped, peak, s.queue.len());
            self.services.peak_effort = self.services.peak_effort.max(s.suggested);
        }
        if !self.queue.is_empty() {
            let at = self.now.plus_nanos(period_ns());
            self.queue.push(at, Event::Onion(OnionEvent::EffortTick));
        }
    }

    /// Notes how an onion connection ended.
    pub(super) fn onion_finished(&mut self, a: &Active, outcome: &Outcome) {
        let Some(p) = &a.onion else { return };
        let complete = *outcome == Outcome::Complete;
        let [client_guard, ..] = a.path;
        self.services.connections.push(Connection {
            service: p.service,
            start_ns: a.started.as_nanos(),
            ends: p.service_guard.map(|service_guard| OnionEnds {
                start_ns: a.started.as_nanos(),
                client_guard,
                service_guard,
            }),
            complete,
            ttfb_ns: a
                .first_ttfb
                .zip(a.built)
                .map(|(t, b)| b.since(a.started) + t),
        });
    }

    /// The two ends of every onion connection the service answered, in
    /// the order they finished (docs/sim.md §9).
    pub(super) fn onion_ends(&self) -> Vec<OnionEnds> {
        self.services
            .connections
            .iter()
            .filter_map(|c| c.ends)
            .collect()
    }

    /// The onion figures of the run, if it has services.
    pub(super) fn onion_report(&self) -> Option<OnionReport> {
        let s = &self.services;
        if s.services.is_empty() {
            return None;
        }
        let flood = self.scenario.intro_flood;
        let report = |keep: &dyn Fn(&Connection) -> bool| {
            let kept: Vec<&Connection> = s.connections.iter().filter(|c| keep(c)).collect();
            let succeeded = kept.iter().filter(|c| c.complete).count();
            #[expect(clippy::cast_precision_loss, reason = "a share")]
            let share = if kept.is_empty() {
                0.0
            } else {
                succeeded as f64 / kept.len() as f64
            };
            #[expect(clippy::cast_precision_loss, reason = "reporting")]
            let ttfb = kept
                .iter()
                .filter_map(|c| c.ttfb_ns)
                .map(|ns| ns as f64 / 1e6)
                .collect();
            ConnectionReport {
                connections: kept.len(),
                succeeded,
                success_share: share,
                ttfb_ms: spread(ttfb),
            }
        };
        #[expect(clippy::cast_precision_loss, reason = "reporting")]
        let attacker_cores = flood.map_or(0.0, |f| {
            let effort = if s.puzzle { f.effort } else { 0 };
            f.rate_per_s * (attempts(effort) * self.scenario.costs.pow_attempt_ns) as f64 / 1e9
        });
        Some(OnionReport {
            services: s.services.len(),
            puzzle: s.puzzle,
            all: report(&|_| true),
            target: report(&|c| c.service == 0),
            target_during_flood: flood.map(|f| {
                let end = f.start_ns.saturating_add(f.duration_ns);
                report(&|c| c.service == 0 && (f.start_ns..end).contains(&c.start_ns))
            }),
            flood_sent: s.flood_sent,
            flood_served: s.flood_served,
            attacker_cores,
            peak_suggested_effort: s.peak_effort,
        })
    }
}

/// The effort controller's period, in nanoseconds.
fn period_ns() -> u64 {
    u64::try_from(EFFORT_PERIOD.as_nanos()).unwrap_or(u64::MAX)
}
