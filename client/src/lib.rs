//! The Warren client (docs/spec.md §14): the circuit manager with its
//! guards and learned build timeouts, and the SOCKS and HTTP entries.
//!
//! * [`client`]: the running client and its settings;
//! * [`manager`]: paths, guards, timeouts, preemptive circuits, isolation;
//! * `circuit`: one circuit's build and its task;
//! * `pool`: the circuits held and which one a stream may use;
//! * `entry`, `socks`, `http_proxy`: the local entries;
//! * `onion`, `dir_stream`: reaching onion services (§15, §16);
//! * [`service`]: hosting onion services (`warren service`).
#![forbid(unsafe_code)]

mod circuit;
pub mod client;
mod dir_stream;
mod entry;
mod error;
mod http_proxy;
pub mod manager;
mod metrics;
mod onion;
mod pool;
pub mod service;
mod socks;

pub use circuit::PortMap;
pub use client::{Client, ClientConfig};
pub use error::ClientError;
pub use onion::HS_PERIOD_MINUTES;
pub use pool::IsolationKey;
