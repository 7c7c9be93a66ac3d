//! The Warren relay daemon: drives the sans-IO circuit machines of
//! `warren-proto` over the cell links of `warren-net` (docs/spec.md §9,
//! §13).
//!
//! * [`config`]: what an operator sets;
//! * [`node`]: the running relay: keys, host, accept loop, circuit limit;
//! * `circuit_task`: one task per circuit hop, owning its `RelayCircuit`;
//! * `exit`: the exit role, streams to TCP under an exit policy;
//! * [`authority`]: the directory authority daemon (§12.14);
//! * `dir_http`: the optional plain-HTTP directory port (§12.13);
//! * `publish`: the relay's descriptor, sent to every authority;
//! * `dir_cache`: the consensus kept and served to others.
#![forbid(unsafe_code)]

pub mod authority;
mod circuit_task;
pub mod config;
mod dir_cache;
mod dir_http;
mod error;
mod exit;
mod hop_record;
mod hsdir;
mod keys;
mod limits;
mod metrics;
pub mod node;
mod onion_roles;
mod publish;

pub use config::RelayConfig;
pub use error::RelayError;
pub use node::{Relay, RelayInfo};
