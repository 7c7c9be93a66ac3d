//! Warren's benchmarks live in `benches/`: `cargo bench -p warren-benches`.
//!
//! * `cell_crypto`: a passing hop, the addressed hop and the origin against
//!   raw ChaCha20 and raw ChaCha20-Poly1305 over the same 512 bytes
//!   (docs/spec.md §5.6);
//! * `handshake`: both sides of the circuit handshake against one X25519
//!   Diffie-Hellman (docs/spec.md §4.4).
//!
//! [`load`] holds what the process-network load generators share.
#![forbid(unsafe_code)]

pub mod load;

use std::time::Duration;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use criterion::Criterion;

/// The baseline every cell bench is compared with: a fresh ChaCha20 instance
/// for cell number `counter` (nonce as in docs/spec.md §5.2) XORed over
/// `buf`, as a layer does.
pub fn raw_chacha20_xor(key: &[u8; 32], counter: u64, buf: &mut [u8]) {
    let mut nonce = [0u8; 12];
    if let Some(tail) = nonce.get_mut(4..) {
        tail.copy_from_slice(&counter.to_be_bytes());
    }
    ChaCha20::new(key.into(), (&nonce).into()).apply_keystream(buf);
}

/// The criterion settings of every Warren bench: short runs, so that the
/// whole suite finishes in about a minute on a 2-core machine.
pub fn criterion_config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}
