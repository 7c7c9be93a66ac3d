//! Warren's benchmarks live in `benches/`: `cargo bench -p warren-benches`.
//!
//! * `cell_crypto`: a passing hop, the addressed hop and the origin against
//!   raw ChaCha20 and raw ChaCha20-Poly1305 over the same 512 bytes
//!   (docs/spec.md §5.6);
//! * `handshake`: both sides of the circuit handshake against one X25519
//!   Diffie-Hellman (docs/spec.md §4.4).
#![forbid(unsafe_code)]
