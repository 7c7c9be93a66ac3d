//! The Warren relay daemon: drives the sans-IO circuit machines of
//! `warren-proto` over the cell links of `warren-net` (docs/spec.md §9,
//! §13).
//!
//! * [`config`]: what an operator sets;
//! * [`node`]: the running relay: keys, host, accept loop, circuit limit;
//! * `circuit_task`: one task per circuit hop, owning its `RelayCircuit`;
//! * `exit`: the exit role, streams to TCP under an exit policy.
#![forbid(unsafe_code)]

mod circuit_task;
pub mod config;
mod error;
mod exit;
mod keys;
pub mod node;

pub use config::RelayConfig;
pub use error::RelayError;
pub use node::{Relay, RelayInfo};
