//! The subcommands of `warren`.

pub(crate) mod keygen;
pub(crate) mod unbuilt;
