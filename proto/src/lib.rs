//! The Warren wire protocol, sans-IO (docs/spec.md §7–§11).
//!
//! This crate does no I/O: no sockets, no tasks, no clock, no OS randomness.
//!
//! ```text
//!   cells from links ──▶ ┌──────────────────────────┐ ──▶ cells to links
//!   app calls (streams) ─▶│ OriginCircuit /          │ ──▶ events (streams, messages)
//!   now: Timestamp ──────▶│ RelayCircuit             │ ──▶ next timer deadline
//!                         └──────────────────────────┘
//! ```
//!
//! * [`codec`]: the one reader/writer every message goes through;
//! * [`cell`]: fixed-size link cells and channel messages (§7);
//! * [`relay_msg`]: relay messages inside a cell's encrypted body (§8, §11);
//! * [`circuit`]: the origin and relay-hop state machines (§9);
//! * [`stream`] and [`flow`]: streams, their buffers and windows (§10);
//! * [`intro_queue`]: an onion service's introduction queue and puzzle
//!   effort (§16.4);
//! * [`time`]: time as an input (§1.2).
#![forbid(unsafe_code)]

pub mod cell;
pub mod circuit;
pub mod codec;
mod error;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod intro_queue;
pub mod relay_msg;
pub mod stream;
pub mod time;

pub use error::{ErrorKind, ProtoError};
