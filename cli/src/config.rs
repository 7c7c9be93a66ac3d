//! Configuration files: TOML, read only here (docs/spec.md §13.3).
//!
//! Unknown keys are errors, so a typo in a setting is reported instead of
//! silently ignored; errors name the file, the line and the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use warren_net::dir_client::{AuthorityEntry, DirSource};

/// Reads and parses the TOML file `path` (relay.toml, client.toml,
/// authority.toml); errors name the file, the line and the key.
pub(crate) fn load<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in {}", path.display()))
}

/// The `relay.toml` file (see examples/relay.toml).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RelayFile {
    /// Where the relay keeps its keys and state.
    pub(crate) data_dir: Option<PathBuf>,
    /// Listen addresses, as multiaddrs.
    #[serde(default)]
    pub(crate) listen: Vec<String>,
    /// Circuits held at once.
    pub(crate) max_circuits: Option<usize>,
    /// Exit-policy rules, first match wins (absent: no exit).
    pub(crate) exit_policy: Option<Vec<String>>,
    /// The advertised bandwidth in bytes per second.
    pub(crate) bandwidth: Option<u64>,
    /// Roles besides exit, e.g. "guard,middle,hsdir".
    pub(crate) roles: Option<String>,
    /// Identities of relays run by the same operator.
    #[serde(default)]
    pub(crate) family: Vec<String>,
    /// Seconds between descriptor publications.
    pub(crate) publish_interval_secs: Option<u64>,
    /// A plain-HTTP directory port, e.g. "127.0.0.1:9180".
    pub(crate) http_listen: Option<SocketAddr>,
    /// A loopback Prometheus port, e.g. "127.0.0.1:9190".
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// Relayed bytes per second (absent: no limit).
    pub(crate) bandwidth_rate: Option<u64>,
    /// Bytes allowed above the rate (default: one second's worth).
    pub(crate) bandwidth_burst: Option<u64>,
    /// Bytes all link queues may hold.
    pub(crate) max_queue_bytes: Option<usize>,
    /// Test mode: record every circuit's previous and next peer here.
    pub(crate) record_hops: Option<PathBuf>,
    /// The directory authorities.
    #[serde(default)]
    pub(crate) authorities: Vec<AuthorityLine>,
}

/// One `[[authorities]]` entry, as `warren authority init` prints it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorityLine {
    /// The authority identity key, 64 hex digits.
    pub(crate) identity: String,
    /// The identity of its host, 64 hex digits.
    pub(crate) peer: String,
    /// Its listen addresses, as multiaddrs.
    pub(crate) addresses: Vec<String>,
}

impl AuthorityLine {
    /// The entry, each field checked, the bad one named.
    pub(crate) fn entry(&self) -> anyhow::Result<AuthorityEntry> {
        let identity = self
            .identity
            .parse()
            .with_context(|| format!("authority identity {:?}", self.identity))?;
        let peer = self
            .peer
            .parse()
            .with_context(|| format!("authority peer {:?}", self.peer))?;
        let addrs = self
            .addresses
            .iter()
            .map(|a| {
                a.parse()
                    .with_context(|| format!("authority address {a:?} is not a multiaddr"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if addrs.is_empty() {
            anyhow::bail!("authority {} has no addresses", self.identity);
        }
        Ok(AuthorityEntry {
            identity,
            source: DirSource { peer, addrs },
        })
    }

    /// The TOML block for this entry.
    pub(crate) fn to_toml(&self) -> String {
        let addrs: Vec<String> = self.addresses.iter().map(|a| format!("{a:?}")).collect();
        format!(
            "[[authorities]]\nidentity = \"{}\"\npeer = \"{}\"\naddresses = [{}]\n",
            self.identity,
            self.peer,
            addrs.join(", ")
        )
    }
}

/// All entries of a file, checked.
pub(crate) fn authority_entries(lines: &[AuthorityLine]) -> anyhow::Result<Vec<AuthorityEntry>> {
    lines.iter().map(AuthorityLine::entry).collect()
}

/// The `client.toml` file (see examples/client.toml).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClientFile {
    /// Where the client keeps the consensus and its guards.
    pub(crate) data_dir: Option<PathBuf>,
    /// SOCKS listeners (default 127.0.0.1:9350).
    pub(crate) socks_listen: Option<Vec<SocketAddr>>,
    /// HTTP proxy listeners (default 127.0.0.1:9351).
    pub(crate) http_listen: Option<Vec<SocketAddr>>,
    /// Clean circuits kept ready (default 2).
    pub(crate) preemptive_circuits: Option<usize>,
    /// Seconds a circuit takes new streams after its first (default 600).
    pub(crate) max_dirtiness_secs: Option<u64>,
    /// A loopback Prometheus port.
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// Restricted-discovery keys, one per onion service.
    #[serde(default)]
    pub(crate) onion_keys: Vec<OnionKeyLine>,
    /// The directory authorities.
    #[serde(default)]
    pub(crate) authorities: Vec<AuthorityLine>,
}

/// One `[[onion_keys]]` entry of client.toml: the key this client proves
/// to one onion service with restricted discovery (docs/spec.md §15.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OnionKeyLine {
    /// The service's `.warren` address.
    pub(crate) address: String,
    /// The client key file (`warren keygen client --out FILE`); relative
    /// to the config file's directory.
    pub(crate) key_file: PathBuf,
}

/// The `service.toml` file (see examples/service.toml).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceFile {
    /// Where the consensus and guard state are kept; each service keeps
    /// its keys in `<data_dir>/<name>` unless it names its own directory.
    pub(crate) data_dir: Option<PathBuf>,
    /// A loopback Prometheus port.
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// The services.
    #[serde(default)]
    pub(crate) services: Vec<ServiceLine>,
    /// The directory authorities.
    #[serde(default)]
    pub(crate) authorities: Vec<AuthorityLine>,
}

/// One `[[services]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceLine {
    /// A name for logs (never the address).
    pub(crate) name: String,
    /// Where this service's identity key is kept.
    pub(crate) data_dir: Option<PathBuf>,
    /// "VIRTUAL_PORT HOST:PORT" entries, e.g. "80 127.0.0.1:8080".
    pub(crate) ports: Vec<String>,
    /// Intro points kept (default 3).
    pub(crate) intro_points: Option<usize>,
    /// The file of client public keys allowed (restricted discovery).
    pub(crate) clients_file: Option<PathBuf>,
    /// Introductions per second each intro point lets through (default 25).
    pub(crate) intro_rate_per_sec: Option<u32>,
    /// Introductions an intro point lets through in a burst (default 200).
    pub(crate) intro_burst: Option<u32>,
    /// Introductions per second one client key may make (default 5).
    pub(crate) client_rate_per_sec: Option<u32>,
    /// The client puzzle under load (default true).
    pub(crate) pow: Option<bool>,
}

/// Parses a port mapping "VIRTUAL_PORT HOST:PORT".
pub(crate) fn port_mapping(text: &str) -> anyhow::Result<(u16, SocketAddr)> {
    let mut parts = text.split_whitespace();
    let (Some(port), Some(target), None) = (parts.next(), parts.next(), parts.next()) else {
        anyhow::bail!(
            "port mapping {text:?}: expected \"VIRTUAL_PORT HOST:PORT\", e.g. \"80 127.0.0.1:8080\""
        );
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .with_context(|| format!("port mapping {text:?}: {port:?} is not a port (1-65535)"))?;
    let target: SocketAddr = target
        .parse()
        .with_context(|| format!("port mapping {text:?}: {target:?} is not an IP:PORT address"))?;
    Ok((port, target))
}

/// The `authority.toml` file (see examples/authority.toml).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorityFile {
    /// Where the authority's keys and state are.
    pub(crate) data_dir: Option<PathBuf>,
    /// Listen addresses, as multiaddrs.
    #[serde(default)]
    pub(crate) listen: Vec<String>,
    /// A plain-HTTP directory port.
    pub(crate) http_listen: Option<SocketAddr>,
    /// Seconds between votes (3600 in production).
    pub(crate) vote_interval_secs: Option<u64>,
    /// How many intervals a consensus stays valid (3 by default).
    pub(crate) valid_intervals: Option<u64>,
    /// "production" (default) or "testnet" flag thresholds.
    pub(crate) flag_thresholds: Option<String>,
    /// Every authority, this one included.
    #[serde(default)]
    pub(crate) authorities: Vec<AuthorityLine>,
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_example_parses() {
        let text = include_str!("../../examples/relay.toml");
        let file: RelayFile = toml::from_str(text).unwrap();
        assert!(!file.listen.is_empty());
    }

    #[test]
    fn the_authority_example_parses_and_its_entries_check() {
        let text = include_str!("../../examples/authority.toml");
        let file: AuthorityFile = toml::from_str(text).unwrap();
        assert_eq!(file.authorities.len(), 3);
        authority_entries(&file.authorities).unwrap();
        let again: AuthorityFile = toml::from_str(&file.authorities[0].to_toml()).unwrap();
        assert_eq!(again.authorities[0].identity, file.authorities[0].identity);
    }

    #[test]
    fn the_client_example_parses() {
        let text = include_str!("../../examples/client.toml");
        let file: ClientFile = toml::from_str(text).unwrap();
        assert_eq!(file.authorities.len(), 3);
        authority_entries(&file.authorities).unwrap();
    }

    #[test]
    fn the_service_example_parses_and_its_ports_check() {
        let text = include_str!("../../examples/service.toml");
        let file: ServiceFile = toml::from_str(text).unwrap();
        assert_eq!(file.authorities.len(), 3);
        assert!(!file.services.is_empty());
        for s in &file.services {
            for p in &s.ports {
                port_mapping(p).unwrap();
            }
        }
        assert!(port_mapping("80").is_err());
        assert!(port_mapping("0 127.0.0.1:80").is_err());
        assert!(port_mapping("80 localhost:80").is_err());
    }

    #[test]
    fn a_misspelt_key_is_an_error_that_names_it() {
        let err = toml::from_str::<RelayFile>("max_circuit = 5\n").unwrap_err();
        assert!(err.to_string().contains("max_circuit"), "{err}");
    }
}
