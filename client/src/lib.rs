//! The Warren client (docs/spec.md §14): the circuit manager with its
//! guards and learned build timeouts, and the SOCKS and HTTP entries.
//!
//! * [`client`]: the running client and its settings;
//! * [`manager`]: paths, guards, timeouts, preemptive circuits, isolation;
//! * `circuit`: one circuit's build and its task;
//! * `pool`: the circuits held and which one a stream may use;
//! * `entry`, `socks`, `http_proxy`: the local entries.
#![forbid(unsafe_code)]

mod circuit;
pub mod client;
mod entry;
mod error;
mod http_proxy;
pub mod manager;
mod metrics;
mod pool;
mod socks;

pub use client::{Client, ClientConfig};
pub use error::ClientError;
pub use pool::IsolationKey;
