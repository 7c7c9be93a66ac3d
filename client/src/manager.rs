//! The circuit manager (docs/spec.md §14): paths from the consensus, the
//! persistent guard set, learned build timeouts, preemptive circuits, and
//! streams placed on circuits by isolation key, retried on another path
//! when a hop fails or an exit refuses.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use warren_crypto::RelayIdentity;
use warren_directory::guard::fits_path;
use warren_directory::path::{
    LastHop, exit_candidates, middles_to, pick, pick_middle, weighted_pick,
};
use warren_directory::{
    BuildTimeouts, Consensus, Flags, GuardParams, GuardSet, RelayStatus, Roles, TimeoutParams,
};
use warren_net::dir_client::unix_now;
use warren_net::host::Host;
use warren_proto::relay_msg::{EndReason, StreamId};

use crate::ClientError;
use crate::circuit::{self, BeginFailure, Circuit, PortMap, hop_target};
use crate::metrics::ClientMetrics;
use crate::onion::OnionState;
use crate::pool::{IsolationKey, Pool};

/// The guard state file in the data directory.
pub const GUARDS_FILE: &str = "guards";
/// Paths tried for one stream or one preemptive circuit.
const ATTEMPTS: usize = 3;
/// How long an exit may take to answer a BEGIN.
const BEGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The port preemptive circuits are made for.
const PREEMPTIVE_PORT: u16 = 80;

/// How the manager runs.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Where the guard state is kept.
    pub data_dir: PathBuf,
    /// Clean circuits kept ready.
    pub preemptive: usize,
    /// A circuit takes no new stream this long after its first.
    pub max_dirtiness: Duration,
    /// The guard rules.
    pub guards: GuardParams,
    /// The build-timeout rules.
    pub timeouts: TimeoutParams,
}

/// How far the client has come (§14.6), in percent.
pub mod progress {
    /// Started; no consensus.
    pub const STARTING: u8 = 0;
    /// A consensus is held.
    pub const CONSENSUS: u8 = 40;
    /// Guards are sampled.
    pub const GUARDS: u8 = 60;
    /// The first circuit is built: ready.
    pub const READY: u8 = 100;
}

struct Inner {
    guards: GuardSet,
    timeouts: BuildTimeouts,
    pool: Pool,
}

/// The circuit manager.
pub struct Manager {
    host: Host,
    consensus: watch::Receiver<Option<Arc<Consensus>>>,
    config: ManagerConfig,
    inner: Mutex<Inner>,
    progress: AtomicU8,
    metrics: ClientMetrics,
    onion: OnionState,
}

impl Manager {
    /// A manager over `host`, building from the consensus `consensus`
    /// holds; the guard state is loaded from the data directory.
    pub(crate) fn new(
        host: Host,
        consensus: watch::Receiver<Option<Arc<Consensus>>>,
        config: ManagerConfig,
        metrics: ClientMetrics,
        onion: OnionState,
    ) -> Self {
        let path = config.data_dir.join(GUARDS_FILE);
        let guards = match std::fs::read(&path) {
            Ok(bytes) => GuardSet::decode(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the guard state is unreadable; sampling new guards");
                GuardSet::default()
            }),
            Err(_) => GuardSet::default(),
        };
        let timeouts = BuildTimeouts::new(config.timeouts);
        Self {
            host,
            consensus,
            config,
            inner: Mutex::new(Inner {
                guards,
                timeouts,
                pool: Pool::default(),
            }),
            progress: AtomicU8::new(progress::STARTING),
            metrics,
            onion,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the client keeps about onion services.
    pub(crate) fn onion(&self) -> &OnionState {
        &self.onion
    }

    /// Counts a stream opened or failed.
    pub(crate) fn count_stream(&self, opened: bool) {
        if opened {
            self.metrics.streams_opened.inc();
        } else {
            self.metrics.streams_failed.inc();
        }
    }

    /// The host circuits are built over.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The bootstrap progress in percent (§14.6).
    pub fn progress(&self) -> u8 {
        self.progress.load(Ordering::Relaxed)
    }

    fn advance(&self, to: u8, what: &str) {
        if self.progress.fetch_max(to, Ordering::Relaxed) < to {
            self.metrics.bootstrap_percent.set(i64::from(to));
            tracing::info!(percent = to, "bootstrap: {what}");
        }
    }

    /// The consensus held, or [`ClientError::NotReady`].
    fn current(&self) -> Result<Arc<Consensus>, ClientError> {
        let consensus = self
            .consensus
            .borrow()
            .clone()
            .ok_or(ClientError::NotReady)?;
        self.advance(progress::CONSENSUS, "a valid consensus is held");
        Ok(consensus)
    }

    /// Applies `change` to the guard set and stores it when it changed.
    fn update_guards(&self, change: impl FnOnce(&mut GuardSet)) {
        let changed = {
            let mut inner = self.inner();
            let before = inner.guards.clone();
            change(&mut inner.guards);
            (inner.guards != before).then(|| inner.guards.clone())
        };
        if let Some(guards) = changed {
            self.save_guards(&guards);
        }
    }

    fn save_guards(&self, guards: &GuardSet) {
        let path = self.config.data_dir.join(GUARDS_FILE);
        let tmp = path.with_extension("tmp");
        let written = guards
            .encode()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot store the guard state");
        }
    }

    /// Whether `exit` may carry a stream to `port` by the consensus: its
    /// summary opens the port, or no exit's does (see
    /// [`exit_candidates`]).
    fn exit_fits(consensus: &Consensus, exit: &RelayIdentity, port: u16) -> bool {
        exit_candidates(consensus, port)
            .iter()
            .any(|s| &s.identity == exit)
    }

    /// Chooses a path for `port`: exit, guard, middle (§14.1).
    fn choose_path(
        &self,
        consensus: &Consensus,
        port: u16,
        refused: &[RelayIdentity],
    ) -> Result<[RelayStatus; 3], ClientError> {
        let mut rng = rand::rng();
        let now = unix_now();
        let params = self.config.guards;
        self.update_guards(|g| g.update(consensus, now, &params, &mut rng));
        let guards = self.inner().guards.clone();
        self.advance(progress::GUARDS, "guards sampled");
        let exits = exit_candidates(consensus, port);
        if exits.iter().all(|e| refused.contains(&e.identity)) {
            return Err(ClientError::NotAllowed(format!("port {port}")));
        }
        // Try exits until one fits some guard and middle.
        for _ in 0..8 {
            let Some(exit) = pick(exits.iter().copied(), &[], refused, &mut rng) else {
                break;
            };
            let Some(guard) = guards.choose(consensus, now, &params, |g| fits_path(g, &[exit]))
            else {
                continue;
            };
            let Some(middle) = pick_middle(consensus, &[guard, exit], &mut rng) else {
                continue;
            };
            return Ok([guard.clone(), middle.clone(), exit.clone()]);
        }
        Err(ClientError::Build(
            "no guard, middle and exit of the consensus fit one path".into(),
        ))
    }

    /// Chooses a guard and the middles for a circuit that ends at `last`
    /// (§14.1): an HSDir, intro point or rendezvous point. One middle when
    /// this end chose `last`, two when someone else did.
    fn choose_path_to(
        &self,
        consensus: &Consensus,
        last: &RelayStatus,
        chosen: LastHop,
    ) -> Result<Vec<RelayStatus>, ClientError> {
        let mut rng = rand::rng();
        let now = unix_now();
        let params = self.config.guards;
        self.update_guards(|g| g.update(consensus, now, &params, &mut rng));
        let guards = self.inner().guards.clone();
        self.advance(progress::GUARDS, "guards sampled");
        let guard = guards
            .choose(consensus, now, &params, |g| {
                g.identity != last.identity && fits_path(g, &[last])
            })
            .ok_or_else(|| ClientError::Build("no usable guard fits this path".into()))?;
        let middles = middles_to(consensus, guard, last, chosen, &mut rng)
            .ok_or_else(|| ClientError::Build("no middle relays fit this path".into()))?;
        let mut path = vec![guard.clone()];
        path.extend(middles.into_iter().cloned());
        path.push(last.clone());
        Ok(path)
    }

    /// A relay offering `role`, not in `exclude`, weighted by bandwidth.
    pub(crate) fn pick_role(
        &self,
        role: Roles,
        exclude: &[RelayIdentity],
    ) -> Result<RelayStatus, ClientError> {
        let consensus = self.current()?;
        let candidates: Vec<&RelayStatus> = consensus
            .relays()
            .iter()
            .filter(|s| {
                s.flags.contains(Flags::RUNNING)
                    && s.info.roles.contains(role)
                    && !exclude.contains(&s.identity)
            })
            .collect();
        weighted_pick(&candidates, &mut rand::rng())
            .cloned()
            .ok_or_else(|| ClientError::Build(format!("no relay of the consensus offers {role}")))
    }

    /// The consensus held, for onion-service work (§15).
    pub(crate) fn consensus(&self) -> Result<Arc<Consensus>, ClientError> {
        self.current()
    }

    /// Builds a circuit whose last hop is `last` (§14.1, §15.6, §16): three
    /// hops when this end chose `last`, four when the other end did,
    /// trying up to three guard and middle choices. With `ports` the
    /// circuit accepts streams for a service.
    pub(crate) async fn build_to(
        &self,
        last: &RelayStatus,
        chosen: LastHop,
        ports: Option<Arc<PortMap>>,
    ) -> Result<Circuit, ClientError> {
        let mut last_error = ClientError::Build("no attempt made".into());
        for _ in 0..ATTEMPTS {
            let consensus = self.current()?;
            let path = self.choose_path_to(&consensus, last, chosen)?;
            match self.build_path(&path, ports.clone()).await {
                Ok(circuit) => {
                    if let Some(guard) = path.first() {
                        self.update_guards(|g| g.succeeded(&guard.identity, unix_now()));
                    }
                    return Ok(circuit);
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// Builds a circuit for `port`, trying up to three paths.
    async fn build_for(
        &self,
        port: u16,
        refused: &[RelayIdentity],
    ) -> Result<Circuit, ClientError> {
        let mut last = ClientError::Build("no attempt made".into());
        for _ in 0..ATTEMPTS {
            let consensus = self.current()?;
            let path = self.choose_path(&consensus, port, refused)?;
            match self.build_path(&path, None).await {
                Ok(circuit) => return Ok(circuit),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Builds one circuit along `path` (guard first) within the learned
    /// timeout, recording the build time, the counters and, when the guard
    /// failed, the guard's failure (§14.2, §14.3).
    async fn build_path(
        &self,
        path: &[RelayStatus],
        ports: Option<Arc<PortMap>>,
    ) -> Result<Circuit, ClientError> {
        let hops: Vec<_> = path.iter().map(hop_target).collect();
        let timeout = Duration::from_millis(self.inner().timeouts.timeout_ms());
        let started = Instant::now();
        match circuit::build(&self.host, &hops, timeout, ports).await {
            Ok(circuit) => {
                let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                self.inner().timeouts.record(ms);
                self.metrics.circuits_built.inc();
                self.advance(progress::READY, "a circuit is built; ready");
                Ok(circuit)
            }
            Err(failure) => {
                self.metrics.circuit_build_failures.inc();
                tracing::debug!(error = %failure.error, at_guard = failure.at_guard, "circuit build failed");
                if failure.at_guard
                    && let Some(guard) = path.first()
                {
                    self.update_guards(|g| g.failed(&guard.identity, unix_now()));
                }
                Err(failure.error)
            }
        }
    }

    /// Opens a stream to `host:port` for `key`: on a circuit of `key` or a
    /// clean one, else a new one; another exit when one refuses by policy,
    /// a new circuit when one fails.
    pub(crate) async fn connect(
        &self,
        key: &IsolationKey,
        host: &str,
        port: u16,
    ) -> Result<(Circuit, StreamId), ClientError> {
        let result = self.try_connect(key, host, port).await;
        self.count_stream(result.is_ok());
        result
    }

    async fn try_connect(
        &self,
        key: &IsolationKey,
        host: &str,
        port: u16,
    ) -> Result<(Circuit, StreamId), ClientError> {
        let mut refused: Vec<RelayIdentity> = Vec::new();
        let mut last = ClientError::Build("no attempt made".into());
        for _ in 0..ATTEMPTS {
            let consensus = self.current()?;
            let now = Instant::now();
            let reused = {
                let mut inner = self.inner();
                inner.pool.prune(now, self.config.max_dirtiness);
                inner.pool.claim(key, now, |c| {
                    !refused.contains(&c.exit) && Self::exit_fits(&consensus, &c.exit, port)
                })
            };
            let circuit = match reused {
                Some(c) => c,
                None => {
                    let c = self.build_for(port, &refused).await?;
                    self.inner()
                        .pool
                        .add(c.clone(), Some(key.clone()), Instant::now());
                    c
                }
            };
            match tokio::time::timeout(BEGIN_TIMEOUT, circuit.begin(host, port)).await {
                Ok(Ok(id)) => {
                    self.update_guards(|g| g.succeeded(&circuit.guard, unix_now()));
                    return Ok((circuit, id));
                }
                Ok(Err(BeginFailure::Ended(reason))) => match reason {
                    EndReason::EXITPOLICY => {
                        refused.push(circuit.exit);
                        last = ClientError::NotAllowed(format!("{host}:{port}"));
                    }
                    EndReason::RESOLVEFAILED => {
                        return Err(ClientError::Unreachable(format!(
                            "the exit could not resolve {host}"
                        )));
                    }
                    EndReason::NOROUTE => {
                        return Err(ClientError::Unreachable(format!("no route to {host}")));
                    }
                    EndReason::CONNECTREFUSED => return Err(ClientError::Refused),
                    EndReason::TIMEOUT => {
                        return Err(ClientError::TimedOut(format!(
                            "the exit could not connect to {host}:{port} in time"
                        )));
                    }
                    other => {
                        last = ClientError::Build(format!("the exit ended the stream: {other}"))
                    }
                },
                Ok(Err(BeginFailure::CircuitClosed)) => {
                    last = ClientError::Build("the circuit closed".into());
                }
                Err(_) => {
                    last =
                        ClientError::TimedOut(format!("the exit did not answer for {host}:{port}"));
                }
            }
        }
        Err(last)
    }

    /// Keeps `preemptive` clean circuits ready, forever (§14.4).
    pub(crate) async fn maintain(self: Arc<Self>) {
        // Our own view of the consensus, to wait for the next one: a fresh
        // clone each round would start from the original receiver's last
        // seen version and report a change at once, every time.
        let mut consensus = self.consensus.clone();
        loop {
            consensus.borrow_and_update();
            let (clean, ready) = {
                let mut inner = self.inner();
                inner.pool.prune(Instant::now(), self.config.max_dirtiness);
                (inner.pool.clean(), self.consensus.borrow().is_some())
            };
            if ready {
                self.advance(progress::CONSENSUS, "a valid consensus is held");
            }
            let no_exit = ready
                && self
                    .current()
                    .is_ok_and(|c| exit_candidates(&c, PREEMPTIVE_PORT).is_empty());
            if no_exit {
                // A network without exits (onion services only): one
                // circuit proves the network usable; none is kept.
                if self.progress() < progress::READY {
                    let built = match self.pick_role(Roles::MIDDLE, &[]) {
                        Ok(last) => self.build_to(&last, LastHop::Ours, None).await.map(drop),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = built {
                        tracing::debug!(error = %e, "no circuit yet");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            if ready && clean < self.config.preemptive {
                match self.build_for(PREEMPTIVE_PORT, &[]).await {
                    Ok(c) => self.inner().pool.add(c, None, Instant::now()),
                    Err(e) => {
                        tracing::debug!(error = %e, "no preemptive circuit");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                continue;
            }
            tokio::select! {
                Ok(()) = consensus.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
