//! The directory authority (docs/spec.md §12.14): a thin layer over the
//! pure documents of `warren-directory` and the host of `warren-net`.
//!
//! * `keys`: the authority's keys and certificate in its data directory;
//! * `state`: the relays it knows, the votes and signatures of each period;
//! * `reachability`: its own tests of every relay it knows;
//! * `schedule`: vote, sign and publish, period after period;
//! * `serve`: the answers to directory requests.

mod keys;
mod reachability;
mod schedule;
mod serve;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use warren_directory::{AuthorityIdentity, FlagThresholds, VotingSchedule};
use warren_net::Multiaddr;
use warren_net::dir_client::{AuthorityEntry, ConsensusKeeper, DirSource, authority_set};
use warren_net::host::{Host, HostConfig};

pub use keys::{AuthoritySummary, init};

use crate::RelayError;
use crate::dir_http;
use state::State;

/// An authority's settings.
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// Where its keys, certificate and last consensus are.
    pub data_dir: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Every authority of the network, this one included.
    pub authorities: Vec<AuthorityEntry>,
    /// When to vote.
    pub schedule: VotingSchedule,
    /// The flag rules' thresholds.
    pub thresholds: FlagThresholds,
    /// An optional plain-HTTP port for `GET /consensus` (§12.13).
    pub http_listen: Option<SocketAddr>,
}

/// A running authority; dropping it stops it.
pub struct Authority {
    identity: AuthorityIdentity,
    host_addrs: Vec<Multiaddr>,
    http_addr: Option<SocketAddr>,
    tasks: JoinSet<()>,
}

/// What an authority task shares.
pub(crate) struct Shared {
    pub(crate) host: Host,
    pub(crate) keys: keys::AuthorityKeys,
    pub(crate) config: AuthorityConfig,
    pub(crate) set: warren_directory::AuthoritySet,
    pub(crate) state: Mutex<State>,
    /// The secret this authority's shared-random contributions come from
    /// (§12.9), drawn at start.
    pub(crate) srv_secret: zeroize::Zeroizing<[u8; 32]>,
}

/// The hosts of every authority but `me`.
fn other_authorities(config: &AuthorityConfig, me: AuthorityIdentity) -> Vec<DirSource> {
    config
        .authorities
        .iter()
        .filter(|a| a.identity != me)
        .map(|a| a.source.clone())
        .collect()
}

impl Shared {
    /// The other authorities' hosts.
    pub(crate) fn peers(&self) -> Vec<DirSource> {
        other_authorities(&self.config, self.keys.cert.identity())
    }

    /// Locks the state; a task that panicked with it held leaves it usable.
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Authority {
    /// Loads the keys (made by [`init`]), starts the host and the schedule.
    pub async fn start(config: AuthorityConfig) -> Result<Self, RelayError> {
        let keys = keys::AuthorityKeys::load(&config.data_dir)?;
        let set =
            authority_set(&config.authorities).map_err(|e| RelayError::Config(e.to_string()))?;
        let me = keys.cert.identity();
        if !set.contains(&me) {
            return Err(RelayError::Config(format!(
                "this authority ({me}) is not in its own list of authorities; add its entry \
                 (printed by `warren authority init`)"
            )));
        }
        let now = warren_net::dir_client::unix_now();
        if now > keys.cert.expires() {
            return Err(RelayError::Config(
                "the authority certificate has expired; issue a new one with \
                 `warren authority init` on the machine that holds the identity key"
                    .into(),
            ));
        }
        let host_config = HostConfig {
            listen: config.listen.clone(),
            idle_timeout: Duration::from_secs(120),
            serve_directory: true,
        };
        let (host, incoming) = Host::start(&keys.host, &host_config)
            .await
            .map_err(RelayError::Host)?;
        let host_addrs = host.listen_addrs().to_vec();
        let peers = other_authorities(&config, me);
        let (keeper, watch) = ConsensusKeeper::new(config.data_dir.clone(), peers, set.clone());
        let http = match config.http_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| RelayError::Listen { addr, source })?,
            ),
            None => None,
        };
        let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
        let shared = Arc::new(Shared {
            host,
            keys,
            config,
            set,
            state: Mutex::new(State::new(keeper)),
            srv_secret: zeroize::Zeroizing::new(rand::random()),
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(schedule::run(shared.clone()));
        tasks.spawn(reachability::run(shared.clone()));
        tasks.spawn(schedule::catch_up(shared.clone()));
        if let Some(listener) = http {
            let routes = Arc::new(dir_http::DirRoutes(serve::View(shared.clone())));
            tasks.spawn(warren_net::http::serve(listener, routes));
        }
        tasks.spawn(serve::run(shared, incoming.dir));
        drop(watch);
        tracing::info!(addresses = host_addrs.len(), "authority listening");
        Ok(Self {
            identity: me,
            host_addrs,
            http_addr,
            tasks,
        })
    }

    /// The authority's identity.
    pub fn identity(&self) -> AuthorityIdentity {
        self.identity
    }

    /// The bound listen addresses of its host.
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.host_addrs
    }

    /// The bound HTTP address, if it serves HTTP.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }
}

impl Drop for Authority {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}
