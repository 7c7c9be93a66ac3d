//! The `warren` command: one binary for every role in a Warren network.
//!
//! Each subcommand lives in `cmd/`; this file parses the command line,
//! installs logging and dispatches.
#![forbid(unsafe_code)]

mod cmd;
mod config;
mod logging;
mod runtime;
mod testnet;

use std::num::NonZeroUsize;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Warren: an onion-routed relay network that puts APIs behind hidden services.
#[derive(Debug, Parser)]
#[command(name = "warren", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing's env-filter syntax, e.g. `info` or `warren=debug`).
    /// Defaults to the WARREN_LOG environment variable, then `info`.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,

    /// Worker threads for a node's async runtime (authority, relay, client,
    /// service, testnet). Defaults to one per core.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<NonZeroUsize>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a directory authority that votes on and signs the relay directory.
    Authority(cmd::authority::Args),
    /// Run a relay: carries circuits for the network.
    Relay(cmd::relay::Args),
    /// Run a client: local SOCKS5 and HTTP proxy entries into the network.
    Client(cmd::client::Args),
    /// Run an onion service in front of a local backend API.
    Service(cmd::service::Args),
    /// Generate a key and store it in a new 0600 key file.
    Keygen(cmd::keygen::Args),
    /// Run the deterministic network simulator on a scenario.
    Sim(cmd::sim::Args),
    /// Start a whole network on loopback: authorities, relays, a service, a client.
    Testnet(cmd::testnet::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log.as_deref());
    let result = match cli.command {
        Command::Keygen(args) => cmd::keygen::run(&args),
        Command::Authority(args) => cmd::authority::run(&args, cli.threads),
        Command::Relay(args) => cmd::relay::run(&args, cli.threads),
        Command::Client(args) => cmd::client::run(&args, cli.threads),
        Command::Service(args) => cmd::service::run(&args, cli.threads),
        Command::Sim(args) => cmd::sim::run(&args),
        Command::Testnet(args) => cmd::testnet::run(&args, cli.threads),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}
