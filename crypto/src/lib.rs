//! Warren's cryptography: keys and key files, `.warren` addresses, the
//! circuit handshake, relay-layer crypto, onion service key blinding
//! (docs/spec.md §2–§6) and, with the feature `pow`, the onion-service
//! client puzzle (§16.4).
//!
//! This crate is pure: it does no I/O, reads no clock and no operating-system
//! randomness. Randomness comes in as `&mut R where R: CryptoRng`, and time
//! as numbers. Secrets are zeroized when dropped and never printed.
#![forbid(unsafe_code)]

pub mod blind;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hs_ntor;
pub mod hs_seal;
mod kdf;
pub mod keyfile;
pub mod keys;
pub mod layer;
pub mod ntor;
pub mod onion_addr;
#[cfg(feature = "pow")]
pub mod pow;

pub use blind::{BlindedKeypair, BlindedPublicKey, TimePeriod};
pub use error::CryptoError;
pub use keyfile::{KeyFile, KeyKind};
pub use keys::{
    ClientAuthKeypair, ClientAuthPublicKey, OnionKeypair, OnionPublicKey, RelayIdentity,
    RelayIdentityKeypair, ServiceIdentity, ServiceIdentityKeypair, Signature,
};
pub use layer::{
    AUTH_HEADER_LEN, CellTag, CircuitBinding, HopKeys, LayerKey, MARKER_LEN, RELAY_BODY_LEN,
    Recognized, RelayBody, TAG_LEN,
};
pub use ntor::{
    EphemeralSecret, HANDSHAKE_NTOR, NTOR_CLIENT_MSG_LEN, NTOR_SERVER_MSG_LEN, NtorClientState,
    client_finish, client_start, server_respond,
};
pub use onion_addr::HsAddress;
#[cfg(feature = "pow")]
pub use pow::{POW_LABEL, PowSolution};
