//! The library half of the `warren` package: what the binary shares with
//! the load generators under benches/.
#![forbid(unsafe_code)]

pub mod demo_backend;
