//! The settings of `warren service` (docs/spec.md §15, §16).

use std::path::PathBuf;
use std::time::Duration;

use crate::circuit::PortMap;
use warren_net::dir_client::AuthorityEntry;

/// One onion service.
#[derive(Debug, Clone)]
pub struct OnionServiceConfig {
    /// A name for logs and metrics (not secret, not the address).
    pub name: String,
    /// Where its identity key and state are kept.
    pub data_dir: PathBuf,
    /// Virtual port → local target.
    pub ports: PortMap,
    /// Intro points kept (3 by default, at most 10).
    pub intro_points: usize,
    /// The file of client keys allowed to find and reach the service
    /// (restricted discovery, §15.3): one hex X25519 public key per line,
    /// `#` comments. Re-read when it changes: keys are added and revoked
    /// without a restart. `None`: anyone with the address.
    pub clients_file: Option<PathBuf>,
    /// The introduction rate each intro point enforces (§16.1).
    pub intro_rate_per_sec: u32,
    /// The introduction burst each intro point allows.
    pub intro_burst: u32,
    /// Introductions per second allowed for one client key.
    pub client_rate_per_sec: u32,
    /// Whether the client puzzle is on (§16.4).
    pub pow: bool,
    /// How long each descriptor holds; it is republished well before.
    pub descriptor_lifetime: Duration,
}

impl OnionServiceConfig {
    /// A service named `name` keeping its state in `data_dir`, with the
    /// defaults: 3 intro points, 25 introductions/s (burst 200) at each,
    /// 5/s per client key, the puzzle on, 3-hour descriptors.
    pub fn new(name: impl Into<String>, data_dir: PathBuf, ports: PortMap) -> Self {
        Self {
            name: name.into(),
            data_dir,
            ports,
            intro_points: 3,
            clients_file: None,
            intro_rate_per_sec: 25,
            intro_burst: 200,
            client_rate_per_sec: 5,
            pow: cfg!(feature = "pow"),
            descriptor_lifetime: Duration::from_secs(3 * 3600),
        }
    }
}

/// The process that hosts services.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Where the consensus and the guard state are kept.
    pub data_dir: PathBuf,
    /// The directory authorities.
    pub authorities: Vec<AuthorityEntry>,
    /// The services.
    pub services: Vec<OnionServiceConfig>,
    /// An optional Prometheus port, loopback only (§13.5).
    pub metrics_listen: Option<std::net::SocketAddr>,
}
