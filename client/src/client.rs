//! A running client (docs/spec.md §14): its host, the consensus it keeps,
//! the circuit manager and the local entries.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use warren_crypto::{ClientAuthKeypair, HsAddress, RelayIdentityKeypair};
use warren_directory::{GuardParams, TimeoutParams};
use warren_net::dir_client::{AuthorityEntry, ConsensusKeeper, authority_set};
use warren_net::host::{Host, HostConfig};

use crate::ClientError;
use crate::entry::{self, Protocol};
use crate::manager::{Manager, ManagerConfig};
use crate::metrics::ClientMetrics;
use crate::onion::OnionState;
use prometheus_client::registry::Registry;
use warren_net::metrics::{MetricsRoutes, check_loopback};

/// The default SOCKS entry.
pub const DEFAULT_SOCKS: &str = "127.0.0.1:9350";
/// The default HTTP proxy entry.
pub const DEFAULT_HTTP: &str = "127.0.0.1:9351";

/// A client's settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where the client keeps the consensus and its guards.
    pub data_dir: PathBuf,
    /// The directory authorities.
    pub authorities: Vec<AuthorityEntry>,
    /// SOCKS listeners; each isolates its streams from the others'.
    pub socks_listen: Vec<SocketAddr>,
    /// HTTP proxy listeners.
    pub http_listen: Vec<SocketAddr>,
    /// Clean circuits kept ready.
    pub preemptive: usize,
    /// A circuit takes no new stream this long after its first.
    pub max_dirtiness: Duration,
    /// An optional Prometheus port, loopback only (§13.5).
    pub metrics_listen: Option<SocketAddr>,
    /// Restricted-discovery keys, one per onion-service address (§15.3).
    pub onion_keys: Vec<(HsAddress, Arc<ClientAuthKeypair>)>,
}

impl ClientConfig {
    /// The defaults: entries on 127.0.0.1:9350 (SOCKS) and :9351 (HTTP),
    /// two preemptive circuits, ten minutes of dirtiness.
    pub fn new(data_dir: PathBuf, authorities: Vec<AuthorityEntry>) -> Self {
        Self {
            data_dir,
            authorities,
            socks_listen: DEFAULT_SOCKS.parse().into_iter().collect(),
            http_listen: DEFAULT_HTTP.parse().into_iter().collect(),
            preemptive: 2,
            max_dirtiness: Duration::from_secs(600),
            metrics_listen: None,
            onion_keys: Vec::new(),
        }
    }
}

/// A running client; dropping it stops it.
pub struct Client {
    socks: Vec<SocketAddr>,
    http: Vec<SocketAddr>,
    manager: Arc<Manager>,
    tasks: JoinSet<()>,
}

pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, ClientError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ClientError::Listen { addr, source })
}

/// Starts what every origin needs — a network host with a fresh link
/// identity, the consensus keeper and the circuit manager (with its
/// preemptive circuits) — and returns the manager and the tasks that run
/// them.
pub(crate) async fn start_manager(
    data_dir: &std::path::Path,
    authorities: &[AuthorityEntry],
    manager_config: ManagerConfig,
    metrics: ClientMetrics,
    onion: OnionState,
) -> Result<(Arc<Manager>, JoinSet<()>), ClientError> {
    if authorities.is_empty() {
        return Err(ClientError::Config(
            "no directory authorities are configured ([[authorities]] entries)".into(),
        ));
    }
    std::fs::create_dir_all(data_dir).map_err(|source| ClientError::State {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let set = authority_set(authorities).map_err(|e| ClientError::Config(e.to_string()))?;
    // A fresh link identity each run: nothing links two runs together.
    let key = RelayIdentityKeypair::generate(&mut rand::rng());
    let host_config = HostConfig {
        listen: Vec::new(),
        idle_timeout: Duration::from_secs(60),
        serve_directory: false,
    };
    let (host, _incoming) = Host::start(&key, &host_config)
        .await
        .map_err(ClientError::Host)?;
    let sources = authorities.iter().map(|a| a.source.clone()).collect();
    let (keeper, watch) = ConsensusKeeper::new(data_dir.to_path_buf(), sources, set);
    let manager = Arc::new(Manager::new(
        host,
        watch.consensus,
        manager_config,
        metrics,
        onion,
    ));
    let mut tasks = JoinSet::new();
    let m = manager.clone();
    tasks.spawn(async move { keeper.run(m.host()).await });
    tasks.spawn(manager.clone().maintain());
    Ok((manager, tasks))
}

impl Client {
    /// Starts the host, the consensus keeper, the manager and the entries.
    pub async fn start(config: ClientConfig) -> Result<Self, ClientError> {
        if config.socks_listen.is_empty() && config.http_listen.is_empty() {
            return Err(ClientError::Config(
                "no SOCKS or HTTP listener is configured".into(),
            ));
        }
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                check_loopback(addr).map_err(|e| ClientError::Config(e.to_string()))?;
                Some(bind(addr).await?)
            }
            None => None,
        };
        let mut registry = Registry::with_prefix("warren_client");
        let metrics = ClientMetrics::register(&mut registry);
        let (manager, mut tasks) = start_manager(
            &config.data_dir,
            &config.authorities,
            ManagerConfig {
                data_dir: config.data_dir.clone(),
                preemptive: config.preemptive,
                max_dirtiness: config.max_dirtiness,
                guards: GuardParams::default(),
                timeouts: TimeoutParams::default(),
            },
            metrics,
            OnionState::new(config.onion_keys),
        )
        .await?;
        if let Some(listener) = metrics_listener {
            let routes = Arc::new(MetricsRoutes(Arc::new(registry)));
            tasks.spawn(warren_net::http::serve(listener, routes));
        }
        let mut index = 0;
        let mut socks = Vec::new();
        for addr in &config.socks_listen {
            let listener = bind(*addr).await?;
            socks.push(listener.local_addr().unwrap_or(*addr));
            tasks.spawn(entry::serve(
                listener,
                Protocol::Socks,
                index,
                manager.clone(),
            ));
            index += 1;
        }
        let mut http = Vec::new();
        for addr in &config.http_listen {
            let listener = bind(*addr).await?;
            http.push(listener.local_addr().unwrap_or(*addr));
            tasks.spawn(entry::serve(
                listener,
                Protocol::Http,
                index,
                manager.clone(),
            ));
            index += 1;
        }
        Ok(Self {
            socks,
            http,
            manager,
            tasks,
        })
    }

    /// The bound SOCKS entries.
    pub fn socks_addrs(&self) -> &[SocketAddr] {
        &self.socks
    }

    /// The bound HTTP entries.
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http
    }

    /// The bootstrap progress in percent.
    pub fn progress(&self) -> u8 {
        self.manager.progress()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}
