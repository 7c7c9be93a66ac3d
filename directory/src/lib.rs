//! The Warren relay directory (docs/spec.md §8): relay descriptors, votes, the
//! deterministic consensus algorithm, signature checks, onion-service
//! descriptors, the HSDir ring and path selection.
//!
//! Pure like `warren-proto`: no I/O, no clock reads, no OS randomness. Time and
//! randomness are arguments. The documents and algorithms land with the
//! directory work (see the project's issue list); this crate fixes their
//! place in the dependency order `crypto ← proto ← directory ← net`.
#![forbid(unsafe_code)]
