//! The subcommands of `warren`.

pub(crate) mod authority;
pub(crate) mod client;
pub(crate) mod keygen;
pub(crate) mod relay;
pub(crate) mod service;
pub(crate) mod sim;
pub(crate) mod testnet;
