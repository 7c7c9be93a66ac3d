//! The service process and one onion service's task (docs/spec.md §15,
//! §16): intro points kept, the descriptor published when they change,
//! when the client list or the suggested effort changes and before it
//! expires, and introductions answered at their rendezvous points, the
//! highest puzzle effort first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use warren_crypto::{
    ClientAuthPublicKey, EphemeralSecret, HsAddress, RelayIdentity, ServiceIdentityKeypair,
    TimePeriod,
};
use warren_directory::hs_descriptor::{HsDescriptorContent, HsDescriptorTimes, PowParams};
use warren_directory::path::LastHop;
use warren_directory::{GuardParams, Roles, TimeoutParams};
use warren_net::dir_client::unix_now;
use warren_net::metrics::{MetricsRoutes, check_loopback};
use warren_proto::intro_queue::{EFFORT_PERIOD, next_effort};
use warren_proto::relay_msg::{Introduce2, RelayMsg, Rendezvous1};

use super::config::{OnionServiceConfig, ServiceConfig};
use super::identity::load_or_create_identity;
use super::intro::{self, IntroPoint};
use super::introductions::{Accepted, Checker, Clients, IntroQueue, Puzzle, ReplayCache};
use super::publish::{self, Published};
use crate::ClientError;
use crate::circuit::PortMap;
use crate::client::{bind, start_manager};
use crate::manager::{Manager, ManagerConfig};
use crate::metrics::ClientMetrics;
use crate::onion::{HS_PERIOD_MINUTES, OnionState};

/// Rendezvous circuits being built at once, per service.
const CONCURRENT_RENDEZVOUS: usize = 16;
/// How often the effort and the clients file are looked at.
const TICK: Duration = Duration::from_secs(1);
/// The least time between two publications.
const MIN_REPUBLISH: Duration = Duration::from_secs(5);
/// How long a relay that failed as intro point is not asked again.
const INTRO_RETRY: Duration = Duration::from_secs(60);

/// A running service process; dropping it stops it.
pub struct ServiceHost {
    addresses: Vec<(String, HsAddress, bool)>,
    tasks: JoinSet<()>,
}

impl ServiceHost {
    /// Loads or makes each service's identity, starts the network host
    /// and runs every service.
    pub async fn start(config: ServiceConfig) -> Result<Self, ClientError> {
        if config.services.is_empty() {
            return Err(ClientError::Config(
                "no onion service is configured ([[services]] entries)".into(),
            ));
        }
        let mut identities = Vec::new();
        for service in &config.services {
            if service.ports.is_empty() {
                return Err(ClientError::Config(format!(
                    "service {}: no ports are mapped (ports = [\"80 127.0.0.1:8080\"])",
                    service.name
                )));
            }
            if !(1..=warren_directory::hs_descriptor::MAX_INTRO_POINTS)
                .contains(&service.intro_points)
            {
                return Err(ClientError::Config(format!(
                    "service {}: intro_points must be between 1 and 10",
                    service.name
                )));
            }
            let (key, address, created) = load_or_create_identity(&service.data_dir)?;
            let mut clients =
                Clients::new(service.clients_file.clone(), service.client_rate_per_sec);
            clients.reload()?;
            identities.push((key, address, created, clients));
        }
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                check_loopback(addr).map_err(|e| ClientError::Config(e.to_string()))?;
                Some(bind(addr).await?)
            }
            None => None,
        };
        let mut registry = Registry::with_prefix("warren_service");
        let client_metrics = ClientMetrics::register(&mut registry);
        let metrics = ServiceMetrics::register(&mut registry);
        let (manager, mut tasks) = start_manager(
            &config.data_dir,
            &config.authorities,
            ManagerConfig {
                data_dir: config.data_dir.clone(),
                preemptive: 0,
                max_dirtiness: Duration::from_secs(600),
                guards: GuardParams::default(),
                timeouts: TimeoutParams::default(),
            },
            client_metrics,
            OnionState::default(),
        )
        .await?;
        if let Some(listener) = metrics_listener {
            let routes = Arc::new(MetricsRoutes(Arc::new(registry)));
            tasks.spawn(warren_net::http::serve(listener, routes));
        }
        let mut addresses = Vec::new();
        for (service, (identity, address, created, clients)) in
            config.services.into_iter().zip(identities)
        {
            addresses.push((service.name.clone(), address, created));
            let task =
                OnionService::new(manager.clone(), service, identity, clients, metrics.clone());
            tasks.spawn(task.run());
        }
        Ok(Self { addresses, tasks })
    }

    /// Each service's name, address, and whether its identity was made on
    /// this start.
    pub fn addresses(&self) -> &[(String, HsAddress, bool)] {
        &self.addresses
    }
}

impl Drop for ServiceHost {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// A service process's metrics: aggregate counters only (§13.5).
#[derive(Debug, Clone, Default)]
struct ServiceMetrics {
    intro_points: Gauge,
    introductions: Counter,
    introductions_refused: Family<ReasonLabel, Counter>,
    introductions_dropped: Counter,
    rendezvous_joined: Counter,
    rendezvous_failed: Counter,
    descriptors_published: Counter,
    suggested_effort: Gauge,
}

impl ServiceMetrics {
    fn register(r: &mut Registry) -> Self {
        let m = Self::default();
        r.register(
            "intro_points",
            "Intro points established",
            m.intro_points.clone(),
        );
        r.register(
            "introductions",
            "Introductions accepted",
            m.introductions.clone(),
        );
        r.register(
            "introductions_refused",
            "Introductions refused, by reason",
            m.introductions_refused.clone(),
        );
        r.register(
            "introductions_dropped",
            "Introductions dropped from a full queue or too old",
            m.introductions_dropped.clone(),
        );
        r.register(
            "rendezvous_joined",
            "Rendezvous points answered (RENDEZVOUS1 sent on a built circuit)",
            m.rendezvous_joined.clone(),
        );
        r.register(
            "rendezvous_failed",
            "Rendezvous that could not be joined",
            m.rendezvous_failed.clone(),
        );
        r.register(
            "descriptors_published",
            "Descriptor uploads accepted by HSDirs",
            m.descriptors_published.clone(),
        );
        r.register(
            "suggested_effort",
            "The puzzle effort suggested (0 when calm or off)",
            m.suggested_effort.clone(),
        );
        m
    }
}

/// What a service's helpers report to its task.
enum Event {
    /// An intro point is established.
    Established(Box<IntroPoint>),
    /// A relay could not be made an intro point.
    EstablishFailed(RelayIdentity),
    /// An introduction arrived through the intro point `auth_key`.
    Introduce { auth_key: [u8; 32], msg: Introduce2 },
    /// The intro point `auth_key` is gone.
    IntroClosed { auth_key: [u8; 32] },
    /// A publication ended.
    Published(Result<Published, ClientError>),
    /// A rendezvous was joined for a client that proved `client`.
    Joined {
        client: ClientAuthPublicKey,
        circuit: crate::circuit::Circuit,
    },
}

/// One onion service's state, owned by its task.
struct OnionService {
    manager: Arc<Manager>,
    config: OnionServiceConfig,
    identity: Arc<ServiceIdentityKeypair>,
    ports: Arc<PortMap>,
    intro_points: HashMap<[u8; 32], IntroPoint>,
    establishing: Vec<RelayIdentity>,
    failed: Vec<(RelayIdentity, Instant)>,
    replay: ReplayCache,
    clients: Clients,
    puzzle: Option<Puzzle>,
    queue: IntroQueue,
    revision: u64,
    dirty: bool,
    publishing: bool,
    last_published: Option<Instant>,
    published_period: Option<TimePeriod>,
    /// The subcredentials introductions are opened with, for a period.
    subcredentials: (Option<TimePeriod>, Vec<[u8; 32]>),
    /// The HSDirs the last publication went to.
    published_to: Vec<RelayIdentity>,
    rendezvous: Arc<Semaphore>,
    /// Joined circuits of clients that proved a key: closed when the key
    /// is revoked.
    joined: Vec<(ClientAuthPublicKey, crate::circuit::Circuit)>,
    metrics: ServiceMetrics,
}

impl OnionService {
    fn new(
        manager: Arc<Manager>,
        config: OnionServiceConfig,
        identity: ServiceIdentityKeypair,
        clients: Clients,
        metrics: ServiceMetrics,
    ) -> Self {
        let puzzle = config.pow.then(|| Puzzle::new(rand::random()));
        Self {
            manager,
            ports: Arc::new(config.ports.clone()),
            config,
            identity: Arc::new(identity),
            intro_points: HashMap::new(),
            establishing: Vec::new(),
            failed: Vec::new(),
            replay: ReplayCache::default(),
            clients,
            puzzle,
            queue: IntroQueue::default(),
            revision: 0,
            dirty: true,
            publishing: false,
            last_published: None,
            published_period: None,
            published_to: Vec::new(),
            subcredentials: (None, Vec::new()),
            rendezvous: Arc::new(Semaphore::new(CONCURRENT_RENDEZVOUS)),
            joined: Vec::new(),
            metrics,
        }
    }

    async fn run(mut self) {
        let name = self.config.name.clone();
        let (events_tx, mut events) = mpsc::channel(1024);
        while self.manager.consensus().is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tracing::info!(service = %name, "onion service starting: establishing intro points");
        let mut tick = tokio::time::interval(TICK);
        let mut effort_at = Instant::now() + EFFORT_PERIOD;
        loop {
            self.keep_intro_points(&events_tx);
            self.maybe_publish(&events_tx);
            let has_work = self.queue.len() > 0;
            tokio::select! {
                Some(event) = events.recv() => self.event(event, &events_tx),
                _ = tick.tick() => {
                    match self.clients.reload() {
                        Ok(true) => {
                            tracing::info!(service = %name, clients = self.clients.keys().len(), "the client list changed; republishing");
                            self.dirty = true;
                            self.close_revoked().await;
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(service = %name, error = %e, "the clients file is unusable; keeping the previous list"),
                    }
                    self.check_hsdirs();
                    if Instant::now() >= effort_at {
                        effort_at = Instant::now() + EFFORT_PERIOD;
                        self.update_effort();
                    }
                }
                permit = self.rendezvous.clone().acquire_owned(), if has_work => {
                    let Ok(permit) = permit else { return };
                    if let Some(accepted) = self.queue.pop(Instant::now()) {
                        let manager = self.manager.clone();
                        let ports = self.ports.clone();
                        let metrics = self.metrics.clone();
                        let events = events_tx.clone();
                        tokio::spawn(async move {
                            let client = accepted.client;
                            match answer(&manager, accepted, ports, permit).await {
                                Ok(circuit) => {
                                    metrics.rendezvous_joined.inc();
                                    if let Some(client) = client {
                                        let joined = Event::Joined { client, circuit: circuit.clone() };
                                        let _ = events.send(joined).await;
                                    }
                                    // Held until the client ends it.
                                    circuit.closed().await;
                                }
                                Err(e) => {
                                    metrics.rendezvous_failed.inc();
                                    tracing::debug!(error = %e, "a rendezvous failed");
                                }
                            }
                        });
                    }
                }
            }
        }
    }

    /// Starts establishing intro points until enough are up or under way.
    fn keep_intro_points(&mut self, events: &mpsc::Sender<Event>) {
        let now = Instant::now();
        self.failed
            .retain(|(_, at)| now.saturating_duration_since(*at) < INTRO_RETRY);
        while self.intro_points.len() + self.establishing.len() < self.config.intro_points {
            let mut exclude: Vec<RelayIdentity> = self
                .intro_points
                .values()
                .map(|i| i.relay.identity)
                .chain(self.establishing.iter().copied())
                .chain(self.failed.iter().map(|(id, _)| *id))
                .collect();
            let relay = match self.manager.pick_role(Roles::INTRO, &exclude) {
                Ok(r) => r,
                Err(_) if !self.failed.is_empty() => {
                    // Every candidate failed lately: try them again.
                    self.failed.clear();
                    exclude.clear();
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no relay for an intro point");
                    return;
                }
            };
            self.establishing.push(relay.identity);
            let manager = self.manager.clone();
            let events = events.clone();
            let limits = (self.config.intro_rate_per_sec, self.config.intro_burst);
            tokio::spawn(async move {
                let event = match intro::establish(&manager, &relay, limits).await {
                    Ok(point) => {
                        read_introductions(point.circuit.clone(), point.auth_key(), events.clone());
                        Event::Established(Box::new(point))
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "an intro point could not be established");
                        Event::EstablishFailed(relay.identity)
                    }
                };
                let _ = events.send(event).await;
            });
        }
    }

    fn event(&mut self, event: Event, events: &mpsc::Sender<Event>) {
        match event {
            Event::Established(point) => {
                tracing::debug!(service = %self.config.name, relay = %point.relay.identity, "intro point established");
                self.establishing.retain(|id| *id != point.relay.identity);
                self.intro_points.insert(point.auth_key(), *point);
                self.metrics
                    .intro_points
                    .set(self.intro_points.len() as i64);
                self.dirty = true;
            }
            Event::EstablishFailed(id) => {
                self.establishing.retain(|e| *e != id);
                self.failed.push((id, Instant::now()));
            }
            Event::IntroClosed { auth_key } => {
                if self.intro_points.remove(&auth_key).is_some() {
                    tracing::info!(service = %self.config.name, "an intro point closed; replacing it");
                    self.metrics
                        .intro_points
                        .set(self.intro_points.len() as i64);
                    self.dirty = true;
                    self.keep_intro_points(events);
                }
            }
            Event::Introduce { auth_key, msg } => self.introduction(auth_key, &msg),
            Event::Joined { client, circuit } => {
                self.joined.retain(|(_, c)| c.is_open());
                self.joined.push((client, circuit));
            }
            Event::Published(result) => {
                self.publishing = false;
                match result {
                    Ok(p) => {
                        self.metrics.descriptors_published.inc_by(p.accepted as u64);
                        if p.accepted == 0 {
                            self.dirty = true;
                        }
                        tracing::info!(
                            service = %self.config.name,
                            accepted = p.accepted,
                            tried = p.tried,
                            intro_points = self.intro_points.len(),
                            "descriptor published"
                        );
                    }
                    Err(e) => {
                        tracing::warn!(service = %self.config.name, error = %e, "cannot publish the descriptor");
                        self.dirty = true;
                    }
                }
            }
        }
    }

    /// Marks the descriptor for publication when the HSDirs responsible
    /// for it are not those it went to (a new shared random value, HSDirs
    /// gone or new).
    fn check_hsdirs(&mut self) {
        let (Some(period), Ok(consensus)) = (self.published_period, self.manager.consensus())
        else {
            return;
        };
        if !self.publishing
            && publish::responsible(&consensus, &self.identity, period) != self.published_to
        {
            tracing::debug!(service = %self.config.name, "the HSDirs changed; republishing");
            self.dirty = true;
        }
    }

    /// Closes the joined circuits of clients no longer listed.
    async fn close_revoked(&mut self) {
        let keys = self.clients.keys().to_vec();
        let (revoked, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.joined)
            .into_iter()
            .filter(|(_, c)| c.is_open())
            .partition(|(k, _)| keys.binary_search(k).is_err());
        self.joined = kept;
        for (_, circuit) in revoked {
            circuit.shutdown().await;
        }
    }

    /// Checks an introduction and queues it.
    fn introduction(&mut self, auth_key: [u8; 32], msg: &Introduce2) {
        let Some(point) = self.intro_points.get(&auth_key) else {
            return;
        };
        let Ok(current) = TimePeriod::containing(unix_now(), HS_PERIOD_MINUTES) else {
            return;
        };
        if self.subcredentials.0 != Some(current) {
            let identity = self.identity.public();
            let previous = TimePeriod {
                number: current.number.saturating_sub(1),
                ..current
            };
            let subs = [current, current.next(), previous]
                .into_iter()
                .filter_map(|p| identity.subcredential(p).ok())
                .collect();
            self.subcredentials = (Some(current), subs);
        }
        let subcredentials = &self.subcredentials.1;
        let enc = point.enc.clone();
        let mut checker = Checker {
            subcredentials,
            replay: &mut self.replay,
            clients: &mut self.clients,
            puzzle: self.puzzle.as_mut(),
        };
        match checker.check(auth_key, &enc, msg, Instant::now()) {
            Ok(accepted) => {
                self.metrics.introductions.inc();
                self.queue.push(accepted, Instant::now());
            }
            Err(refusal) => {
                tracing::debug!(reason = refusal.label(), "an introduction was refused");
                self.metrics
                    .introductions_refused
                    .get_or_create(&ReasonLabel {
                        reason: refusal.label(),
                    })
                    .inc();
            }
        }
    }

    /// Reconsiders the suggested effort (§16.4); a change is published.
    fn update_effort(&mut self) {
        let (dropped, peak) = (self.queue.0.dropped, self.queue.0.peak);
        self.metrics.introductions_dropped.inc_by(dropped);
        self.queue.0.dropped = 0;
        self.queue.0.peak = self.queue.len();
        let Some(puzzle) = self.puzzle.as_mut() else {
            return;
        };
        if puzzle.worn() {
            puzzle.rotate(rand::random());
            self.dirty = true;
        }
        let next = next_effort(puzzle.suggested, dropped, peak, self.queue.len());
        if next != puzzle.suggested {
            tracing::info!(service = %self.config.name, from = puzzle.suggested, to = next, "the suggested puzzle effort changed");
            puzzle.suggested = next;
            self.metrics.suggested_effort.set(i64::from(next));
            self.dirty = true;
        }
    }

    /// Publishes when something changed, the period turned, or the last
    /// descriptor is a third through its lifetime.
    fn maybe_publish(&mut self, events: &mpsc::Sender<Event>) {
        if self.publishing || self.intro_points.is_empty() || !self.establishing.is_empty() {
            return;
        }
        let now = unix_now();
        let Ok(period) = TimePeriod::containing(now, HS_PERIOD_MINUTES) else {
            return;
        };
        let since = self.last_published.map(|t| t.elapsed());
        let due = since.is_none_or(|s| s >= self.config.descriptor_lifetime / 3)
            || self.published_period != Some(period);
        if !(self.dirty || due) || since.is_some_and(|s| s < MIN_REPUBLISH) {
            return;
        }
        if let Some(p) = self.puzzle.as_mut() {
            p.blinded_key = *self.identity.blind(period).public().as_bytes();
        }
        // Milliseconds: a service restarted within a second still
        // publishes a higher revision.
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.revision = self.revision.saturating_add(1).max(now_ms);
        let content = HsDescriptorContent {
            intro_points: self.intro_points.values().map(IntroPoint::info).collect(),
            pow: self
                .puzzle
                .as_ref()
                .filter(|p| p.suggested > 0)
                .map(|p| PowParams {
                    seed: p.seed,
                    suggested_effort: p.suggested,
                }),
        };
        // A minute of slack for HSDirs whose clocks run behind.
        let times = HsDescriptorTimes {
            revision: self.revision,
            published: now.saturating_sub(60),
            lifetime: self.config.descriptor_lifetime.as_secs().saturating_add(60),
        };
        let clients = self.clients.keys().to_vec();
        self.dirty = false;
        self.publishing = true;
        self.last_published = Some(Instant::now());
        self.published_period = Some(period);
        if let Ok(consensus) = self.manager.consensus() {
            self.published_to = publish::responsible(&consensus, &self.identity, period);
        }
        let manager = self.manager.clone();
        let identity = self.identity.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let result =
                publish::publish(&manager, &identity, &content, times, &clients, period).await;
            let _ = events.send(Event::Published(result)).await;
        });
    }
}

/// Sends the introductions arriving on an intro circuit to the service,
/// then that it closed.
fn read_introductions(
    circuit: crate::circuit::Circuit,
    auth_key: [u8; 32],
    events: mpsc::Sender<Event>,
) {
    tokio::spawn(async move {
        while let Some(m) = circuit.next_msg().await {
            if let RelayMsg::Introduce2(msg) = m
                && events
                    .send(Event::Introduce { auth_key, msg })
                    .await
                    .is_err()
            {
                return;
            }
        }
        let _ = events.send(Event::IntroClosed { auth_key }).await;
    });
}

/// Answers an introduction: a circuit to the client's rendezvous point,
/// RENDEZVOUS1 with the handshake, and the end-to-end hop (§16.2, §16.3).
/// The permit (one of the service's concurrent rendezvous) is held until
/// the circuit is joined.
async fn answer(
    manager: &Manager,
    accepted: Accepted,
    ports: Arc<PortMap>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<crate::circuit::Circuit, ClientError> {
    let consensus = manager.consensus()?;
    let rend_id = RelayIdentity::from_bytes(&accepted.payload.rend_identity)
        .map_err(|e| ClientError::Build(format!("a bad rendezvous point: {e}")))?;
    let status = consensus
        .relay(&rend_id)
        .filter(|s| s.info.onion_key.as_bytes() == &accepted.payload.rend_onion_key)
        .ok_or_else(|| {
            ClientError::Build(
                "the rendezvous point is not in the consensus (or its onion key differs)".into(),
            )
        })?
        .clone();
    let circuit = manager
        .build_to(&status, LastHop::Theirs, Some(ports))
        .await?;
    let (keys, handshake) = warren_crypto::hs_ntor::service_respond(
        EphemeralSecret::generate(&mut rand::rng()),
        &accepted.enc,
        &accepted.auth_key,
        &accepted.client_key,
    )
    .map_err(|e| ClientError::Build(e.to_string()))?;
    let r1 = RelayMsg::Rendezvous1(Rendezvous1 {
        cookie: accepted.payload.cookie,
        handshake: handshake.to_vec(),
    });
    if !circuit.add_virtual_hop(Some(r1), keys).await {
        return Err(ClientError::Build("the rendezvous circuit closed".into()));
    }
    drop(permit);
    Ok(circuit)
}
