//! Circuits: the origin's view and a relay's view (docs/spec.md §9).
//!
//! * [`OriginCircuit`]: the client or service end. Builds the circuit hop by
//!   hop (CREATE, then EXTEND through the last hop), wraps each outgoing cell
//!   in one layer per hop and unwraps incoming ones until a hop recognises it,
//!   and carries the circuit's streams.
//! * [`RelayCircuit`]: one relay's part of a circuit. Removes or adds its own
//!   layer, passes on cells it does not recognise, and acts on the ones
//!   addressed to it (EXTEND, streams that end here, onion-service messages).
//!
//! Both are sans-IO: cells and time go in; cells, actions, events and timer
//! deadlines come out. Any violation tears the circuit down with a
//! [`DestroyReason`] and never delivers a byte that failed authentication.

mod origin;
mod relay;

pub use origin::{CircEvent, HopTarget, OriginCircuit};
pub use relay::{RelayAction, RelayCircuit, Verdict};

use crate::cell::DestroyReason;

/// Why and by whom a circuit was torn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    /// The reason carried in the DESTROY cell.
    pub reason: DestroyReason,
    /// True when the DESTROY came from the network; false when this end
    /// decided (a failed check, a timeout, or a local request).
    pub remote: bool,
}

/// The position of a hop on a circuit, counted from the origin (0 = the
/// first hop, the guard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HopNum(pub u8);

/// Hops one circuit may have (§9.2): three relays, and room for the longer
/// paths of onion services and the virtual end-to-end hop.
pub const MAX_HOPS: usize = 8;

#[cfg(test)]
mod testnet;
#[cfg(test)]
mod tests;
