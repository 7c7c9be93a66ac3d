//! A running relay (docs/spec.md §13.3): its keys, its libp2p host, the
//! accept loop and the circuit limit.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use warren_crypto::{OnionPublicKey, RelayIdentity};
use warren_net::Multiaddr;
use warren_net::host::{Host, HostConfig, IncomingLinks};
use warren_proto::cell::DestroyReason;
use warren_proto::time::Timestamp;

use crate::dir_cache::{self, CacheView};
use crate::hop_record::HopRecord;
use crate::hsdir::HsDirStore;
use crate::keys::RelayKeys;
use crate::limits::{self, QueueWatch, TokenBucket};
use crate::metrics::RelayMetrics;
use crate::{RelayConfig, RelayError};
use crate::{circuit_task, dir_http, publish};
use prometheus_client::registry::Registry;
use warren_net::dir_client::{ConsensusKeeper, ConsensusWatch, authority_set};
use warren_net::metrics::{MetricsRoutes, check_loopback};

/// Refusals (a DESTROY for a CREATE beyond the circuit limit) in progress at
/// once; beyond this, new links are dropped unanswered.
const MAX_PENDING_REFUSALS: usize = 256;

/// Who a relay is and where it listens.
#[derive(Debug, Clone)]
pub struct RelayInfo {
    /// Its identity (its libp2p peer id is derived from it).
    pub identity: RelayIdentity,
    /// Its bound listen addresses.
    pub listen_addrs: Vec<Multiaddr>,
}

/// What every circuit task of a relay shares.
pub(crate) struct Shared {
    pub(crate) host: Host,
    pub(crate) keys: RelayKeys,
    pub(crate) config: RelayConfig,
    pub(crate) circuits: Arc<Semaphore>,
    started: Instant,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The consensus this relay keeps, when it belongs to a directory.
    pub(crate) consensus: Option<ConsensusWatch>,
    pub(crate) metrics: RelayMetrics,
    /// The bandwidth rate, when one is set.
    pub(crate) bucket: Option<TokenBucket>,
    /// The link queues against the memory cap.
    pub(crate) queues: Arc<QueueWatch>,
    /// The HSDir store, when this relay offers the role (§15.6).
    pub(crate) hsdir: Option<Arc<HsDirStore>>,
    /// Intro points and rendezvous cookies (§16).
    pub(crate) roles: Arc<crate::onion_roles::Registry>,
    /// The hop record, in test mode only (§16.6).
    pub(crate) record: Option<Arc<HopRecord>>,
}

impl Shared {
    /// Now, on the relay's monotonic clock (§1.2).
    pub(crate) fn now(&self) -> Timestamp {
        let micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Timestamp::from_micros(micros)
    }
}

/// A running relay. Dropping it stops it: every circuit is abandoned and its
/// links close, as when the process dies.
pub struct Relay {
    metrics_addr: Option<std::net::SocketAddr>,
    info: RelayInfo,
    onion_key: OnionPublicKey,
    circuits: Arc<Semaphore>,
    max_circuits: usize,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Relay {
    /// Loads or creates the keys, starts the host and begins accepting
    /// circuits.
    pub async fn start(config: RelayConfig) -> Result<Self, RelayError> {
        config.check()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| RelayError::State {
            path: config.data_dir.clone(),
            source,
        })?;
        let keys = RelayKeys::load_or_create(&config.data_dir)?;
        let host_config = HostConfig {
            listen: config.listen.clone(),
            idle_timeout: config.idle_timeout,
            serve_directory: true,
        };
        let (host, incoming) = Host::start(&keys.identity, &host_config)
            .await
            .map_err(RelayError::Host)?;
        let info = RelayInfo {
            identity: keys.identity.public(),
            listen_addrs: host.listen_addrs().to_vec(),
        };
        tracing::info!(addresses = info.listen_addrs.len(), "relay listening");
        let onion_key = keys.onion.public();
        let circuits = Arc::new(Semaphore::new(config.max_circuits));
        let (shutdown, watch_shutdown) = watch::channel(false);
        let max_circuits = config.max_circuits;
        let (keeper, consensus) = if config.authorities.is_empty() {
            (None, None)
        } else {
            let set = authority_set(&config.authorities)
                .map_err(|e| RelayError::Config(e.to_string()))?;
            let sources = config
                .authorities
                .iter()
                .map(|a| a.source.clone())
                .collect();
            let (keeper, watch) = ConsensusKeeper::new(config.data_dir.clone(), sources, set);
            (Some(keeper), Some(watch))
        };
        let http = match config.http_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| RelayError::Listen { addr, source })?,
            ),
            None => None,
        };
        let mut registry = Registry::with_prefix("warren_relay");
        let metrics = RelayMetrics::register(&mut registry);
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                check_loopback(addr).map_err(|e| RelayError::Config(e.to_string()))?;
                Some(
                    tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(|source| RelayError::Listen { addr, source })?,
                )
            }
            None => None,
        };
        let bucket = config.bandwidth_rate.map(|rate| {
            let burst = config.bandwidth_burst.unwrap_or(rate);
            TokenBucket::new(rate, burst.max(warren_proto::cell::CELL_LEN as u64))
        });
        let queues = Arc::new(QueueWatch::new(config.max_queue_bytes));
        let record = match &config.hop_record {
            Some(path) => {
                tracing::warn!(
                    "test mode: recording the previous and next hop of every circuit; \
                     never run a relay for real traffic like this"
                );
                Some(Arc::new(HopRecord::create(path).map_err(|source| {
                    RelayError::State {
                        path: path.clone(),
                        source,
                    }
                })?))
            }
            None => None,
        };
        let hsdir = config
            .roles
            .contains(warren_directory::Roles::HSDIR)
            .then(|| Arc::new(HsDirStore::new(record.clone())));
        let shared = Arc::new(Shared {
            host,
            keys,
            config,
            circuits: circuits.clone(),
            started: Instant::now(),
            shutdown: watch_shutdown,
            consensus,
            metrics: metrics.clone(),
            bucket,
            queues: queues.clone(),
            hsdir,
            roles: Arc::default(),
            record,
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(limits::watch_queues(queues, metrics));
        if let Some(keeper) = keeper {
            let s = shared.clone();
            tasks.spawn(async move { keeper.run(&s.host).await });
            tasks.spawn(publish::run(shared.clone()));
        }
        if let (Some(listener), Some(watch)) = (http, &shared.consensus) {
            let routes = Arc::new(dir_http::DirRoutes(CacheView(watch.clone())));
            tasks.spawn(warren_net::http::serve(listener, routes));
        }
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        if let Some(listener) = metrics_listener {
            let routes = Arc::new(MetricsRoutes(Arc::new(registry)));
            tasks.spawn(warren_net::http::serve(listener, routes));
        }
        tasks.spawn(dir_cache::run(shared.clone(), incoming.dir));
        tasks.spawn(accept_loop(shared, incoming.links));
        Ok(Self {
            metrics_addr,
            info,
            onion_key,
            circuits,
            max_circuits,
            shutdown,
            tasks,
        })
    }

    /// Who the relay is and where it listens.
    pub fn info(&self) -> &RelayInfo {
        &self.info
    }

    /// The relay's current onion key (it goes into the relay's descriptor).
    pub fn onion_key(&self) -> OnionPublicKey {
        self.onion_key
    }

    /// The bound metrics port, when one is configured.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Circuits open now.
    pub fn open_circuits(&self) -> usize {
        self.max_circuits
            .saturating_sub(self.circuits.available_permits())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.tasks.abort_all();
    }
}

/// Accepts links; each one carries one circuit hop, run by its own task
/// while a circuit slot is free, refused with DESTROY RESOURCELIMIT when
/// none is.
async fn accept_loop(shared: Arc<Shared>, mut incoming: IncomingLinks) {
    let mut tasks = JoinSet::new();
    let refusals = Arc::new(Semaphore::new(MAX_PENDING_REFUSALS));
    loop {
        tokio::select! {
            link = incoming.next() => {
                let Some(link) = link else { return };
                let permit = if shared.queues.under_pressure() {
                    // Queued memory is high: take no new circuit for now.
                    Err(())
                } else {
                    shared.circuits.clone().try_acquire_owned().map_err(|_| ())
                };
                match permit {
                    Ok(permit) => {
                        tasks.spawn(circuit_task::run(shared.clone(), link, permit));
                    }
                    Err(_) => match refusals.clone().try_acquire_owned() {
                        Ok(permit) => {
                            tracing::debug!("circuit limit reached; refusing a CREATE");
                            tasks.spawn(circuit_task::refuse(shared.clone(), link, DestroyReason::RESOURCELIMIT, permit));
                        }
                        // Under a flood even refusals are bounded: drop the link.
                        Err(_) => drop(link),
                    },
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
}
