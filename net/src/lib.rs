//! Warren networking: everything that touches the operating system on behalf
//! of the daemons, and the only crate that imports libp2p.
//!
//! * [`host`]: the libp2p host (TCP, Noise, Yamux) keyed by the relay
//!   identity (docs/spec.md §13.1);
//! * [`bridge`]: circuit streams bridged to TCP connections;
//! * [`dir`]: the directory protocol on request-response (§12.13);
//! * [`dir_client`]: fetching and keeping the consensus (§12.8);
//! * [`http`]: a small read-only HTTP server (directory and metrics ports);
//! * [`link`]: cells on one substream per circuit hop (§13.2);
//! * [`metrics`]: the loopback-only Prometheus port (§13.5);
//! * [`peer`]: relay identities as libp2p peer ids;
//! * [`keystore`]: long-term keys in 0600 files (§2.5).
#![forbid(unsafe_code)]

pub mod bridge;
pub mod dir;
pub mod dir_client;
mod error;
pub mod host;
pub mod http;
pub mod keystore;
pub mod link;
mod link_behaviour;
pub mod metrics;
pub mod peer;

pub use error::NetError;
pub use libp2p::Multiaddr;
