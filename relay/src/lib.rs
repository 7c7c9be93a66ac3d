//! The Warren relay daemon and the directory-authority service: drives the
//! sans-IO machines of `warren-proto` over the links of `warren-net`.
//!
//! The daemon lands with the relay work (see the project's issue list); this
//! crate fixes its place in the dependency order `net ← relay ← cli`.
#![forbid(unsafe_code)]
