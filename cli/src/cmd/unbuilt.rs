//! Subcommands whose daemons are not part of this release yet.

use anyhow::bail;

/// Arguments accepted (and ignored) by a subcommand that is not built yet, so
/// that `warren relay --config relay.toml` gives the one-line answer below
/// instead of a usage error.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Arguments for the subcommand.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Says in one line that `name` is not built yet, as an error (exit status 1).
pub(crate) fn run(name: &str) -> anyhow::Result<()> {
    bail!("`warren {name}` is not built yet in this version")
}
