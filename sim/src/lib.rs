//! The Warren discrete-event simulator: drives the real `warren-crypto`,
//! `warren-proto` and `warren-directory` code over a modelled network with a
//! virtual clock and a seeded RNG.
//!
//! Pure: it never depends on tokio, sockets, `warren-net`, clock reads or the
//! OS RNG. The simulator lands with the simulator work (see the project's
//! issue list).
#![forbid(unsafe_code)]
