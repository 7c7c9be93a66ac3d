//! The Warren client: circuit manager, guards, build timeouts, the SOCKS5 and
//! HTTP entries, and the onion-service client and host.
//!
//! The client lands with the client work (see the project's issue list); this
//! crate fixes its place in the dependency order `net ← client ← cli`.
#![forbid(unsafe_code)]
