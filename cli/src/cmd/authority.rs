//! `warren authority`: run a directory authority (docs/spec.md §12.14), and
//! `warren authority init`: make its keys and print its entry for every
//! node's configuration.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::Context;
use warren_directory::{FlagThresholds, VotingSchedule};
use warren_relay::authority::{self, Authority, AuthorityConfig};

use crate::config::{AuthorityFile, AuthorityLine, authority_entries};

/// How long `init` certifies the signing key for: one year.
const CERT_LIFETIME: u64 = 365 * 24 * 3600;

/// Arguments of `warren authority`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// A TOML file with the authority's settings (see examples/authority.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the authority keeps its keys and state.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create the authority's keys (or renew its signing key's certificate)
    /// and print its [[authorities]] entry.
    Init(InitArgs),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// Where to keep the keys.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The address others reach the authority at (repeatable), e.g.
    /// /ip4/192.0.2.10/tcp/9200.
    #[arg(long, value_name = "MULTIADDR", required = true)]
    address: Vec<String>,
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, threads: Option<NonZeroUsize>) -> anyhow::Result<()> {
    match &args.action {
        Some(Action::Init(init)) => run_init(init),
        None => run_daemon(args, threads),
    }
}

fn run_init(args: &InitArgs) -> anyhow::Result<()> {
    for a in &args.address {
        a.parse::<warren_net::Multiaddr>()
            .with_context(|| format!("address {a:?} is not a multiaddr"))?;
    }
    let now = warren_net::dir_client::unix_now();
    let summary = authority::init(&args.data_dir, now, CERT_LIFETIME)?;
    let line = AuthorityLine {
        identity: summary.identity.to_string(),
        peer: summary.peer.to_string(),
        addresses: args.address.clone(),
    };
    let entry = line.to_toml();
    std::fs::write(args.data_dir.join("authority-entry.toml"), &entry)
        .with_context(|| format!("writing into {}", args.data_dir.display()))?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "# authority keys in {}; signing certificate valid for 365 days.\n\
         # Add this entry to every authority, relay and client configuration:\n{entry}",
        args.data_dir.display()
    )
    .context("writing to stdout")
}

fn settings(args: &Args) -> anyhow::Result<AuthorityConfig> {
    let file = match &args.config {
        Some(path) => crate::config::load(path)?,
        None => AuthorityFile::default(),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir)
        .context("no data directory: pass --data-dir or set data_dir in the config file")?;
    let listen = file
        .listen
        .iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("listen address {a:?} is not a multiaddr"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if listen.is_empty() {
        anyhow::bail!("an authority needs at least one listen address (listen = [...])");
    }
    let schedule = VotingSchedule::new(
        file.vote_interval_secs.unwrap_or(3600),
        file.valid_intervals.unwrap_or(3),
    )?;
    let thresholds = match file.flag_thresholds.as_deref().unwrap_or("production") {
        "production" => FlagThresholds::PRODUCTION,
        "testnet" => FlagThresholds::TESTNET,
        other => {
            anyhow::bail!("flag_thresholds = {other:?}: expected \"production\" or \"testnet\"")
        }
    };
    Ok(AuthorityConfig {
        data_dir,
        listen,
        authorities: authority_entries(&file.authorities)?,
        schedule,
        thresholds,
        http_listen: file.http_listen,
    })
}

fn run_daemon(args: &Args, threads: Option<NonZeroUsize>) -> anyhow::Result<()> {
    let config = settings(args)?;
    let runtime = crate::runtime::start(threads)?;
    runtime.block_on(async {
        let authority = Authority::start(config).await?;
        writeln!(
            std::io::stdout(),
            "authority identity {}",
            authority.identity()
        )
        .context("writing to stdout")?;
        if let Some(addr) = authority.http_addr() {
            tracing::info!(port = addr.port(), "directory HTTP port open");
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("authority stopping");
        drop(authority);
        Ok(())
    })
}
