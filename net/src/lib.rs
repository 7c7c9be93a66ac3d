//! Warren networking: everything that touches the operating system on behalf
//! of the daemons.
//!
//! Today this is [`keystore`], the on-disk storage of long-term keys (docs/spec.md
//! §2.2). The libp2p host and the cell link protocol join it with the relay
//! work; `warren-net` stays the only crate that imports libp2p.
#![forbid(unsafe_code)]

mod error;
pub mod keystore;

pub use error::NetError;
