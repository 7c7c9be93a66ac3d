//! What a relay operator sets (docs/spec.md §13.3).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use warren_crypto::RelayIdentity;
use warren_directory::Roles;
use warren_directory::exit_policy::ExitPolicy;
use warren_net::Multiaddr;
use warren_net::dir_client::AuthorityEntry;

use crate::RelayError;

/// The default cap on concurrent circuits.
pub const DEFAULT_MAX_CIRCUITS: usize = 10_000;

/// The default cap on queued cells: 256 MiB.
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 256 << 20;

/// The default advertised bandwidth: 10 MB/s.
pub const DEFAULT_BANDWIDTH: u64 = 10_000_000;

/// A relay's settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where the relay keeps its keys (mode 0600) and its state files.
    pub data_dir: PathBuf,
    /// Addresses to listen on, e.g. `/ip4/127.0.0.2/tcp/9101`.
    pub listen: Vec<Multiaddr>,
    /// Circuits held at once; a CREATE beyond this is refused with DESTROY
    /// RESOURCELIMIT.
    pub max_circuits: usize,
    /// How long a link connection with no circuit on it is kept.
    pub idle_timeout: Duration,
    /// How long a new link may take to deliver its CREATE.
    pub create_timeout: Duration,
    /// The exit policy; `None` (the default) means this relay is no exit.
    pub exit_policy: Option<Arc<ExitPolicy>>,
    /// The directory authorities to publish the descriptor to and fetch
    /// the consensus from; empty for a relay outside any directory.
    pub authorities: Vec<AuthorityEntry>,
    /// The bandwidth the descriptor advertises, in bytes per second.
    pub bandwidth: u64,
    /// The roles offered besides exit (which the exit policy decides).
    pub roles: Roles,
    /// Relays run by the same operator (§12.2).
    pub family: BTreeSet<RelayIdentity>,
    /// How often the descriptor is published again (§12.14).
    pub publish_interval: Duration,
    /// An optional plain-HTTP port for `GET /consensus` (§12.13).
    pub http_listen: Option<SocketAddr>,
    /// An optional Prometheus port, loopback only (§13.5).
    pub metrics_listen: Option<SocketAddr>,
    /// The rate at which cells are relayed, in bytes per second (both
    /// directions together); `None`: no limit (§13.5).
    pub bandwidth_rate: Option<u64>,
    /// The burst above the rate, in bytes (default: one second's worth).
    pub bandwidth_burst: Option<u64>,
    /// The memory all link queues may hold, in bytes (§13.5).
    pub max_queue_bytes: usize,
    /// Test mode only: record every circuit's previous and next peer, and
    /// every stored descriptor, in this file, for anonymity tests
    /// (§16.6). Never set on a relay that carries real traffic.
    pub hop_record: Option<PathBuf>,
}

impl RelayConfig {
    /// A configuration with the defaults and the given data directory and
    /// listen addresses (each parsed, with the bad one named on error).
    pub fn new(data_dir: PathBuf, listen: &[String]) -> Result<Self, RelayError> {
        let listen = listen
            .iter()
            .map(|a| {
                a.parse().map_err(|e| {
                    RelayError::Config(format!("listen address {a:?} is not a multiaddr: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = Self {
            data_dir,
            listen,
            max_circuits: DEFAULT_MAX_CIRCUITS,
            idle_timeout: Duration::from_secs(60),
            create_timeout: Duration::from_secs(30),
            exit_policy: None,
            authorities: Vec::new(),
            bandwidth: DEFAULT_BANDWIDTH,
            roles: Roles::GUARD
                | Roles::MIDDLE
                | Roles::HSDIR
                | Roles::INTRO
                | Roles::RENDEZVOUS
                | Roles::DIRCACHE,
            family: BTreeSet::new(),
            publish_interval: Duration::from_secs(600),
            http_listen: None,
            metrics_listen: None,
            bandwidth_rate: None,
            bandwidth_burst: None,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            hop_record: None,
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses settings the relay cannot run with.
    pub fn check(&self) -> Result<(), RelayError> {
        if self.listen.is_empty() {
            return Err(RelayError::Config(
                "a relay needs at least one listen address".into(),
            ));
        }
        if self.roles.contains(Roles::EXIT) {
            return Err(RelayError::Config(
                "the exit role comes from an exit policy; set exit_policy instead of the role"
                    .into(),
            ));
        }
        if self.bandwidth_rate == Some(0) {
            return Err(RelayError::Config(
                "bandwidth_rate must be positive (leave it out for no limit)".into(),
            ));
        }
        if self.max_queue_bytes < 64 * 1024 {
            return Err(RelayError::Config(
                "max_queue_bytes must be at least 64 KiB".into(),
            ));
        }
        if self.publish_interval.is_zero() {
            return Err(RelayError::Config(
                "publish_interval must be at least one second".into(),
            ));
        }
        if self.max_circuits == 0 {
            return Err(RelayError::Config("max_circuits must be at least 1".into()));
        }
        Ok(())
    }
}
