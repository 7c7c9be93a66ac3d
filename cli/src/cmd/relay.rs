//! `warren relay`: run a relay (docs/spec.md §13.3).
//!
//! Settings come from `--config relay.toml` and flags; a flag wins over the
//! file. The relay keeps its keys in its data directory, prints its identity
//! and, when asked, writes where it listens to a file for scripts.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use warren_directory::exit_policy::ExitPolicy;
use warren_relay::{Relay, RelayConfig};

use crate::config::{RelayFile, authority_entries};

/// Arguments of `warren relay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A TOML file with the relay's settings (see examples/relay.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the relay keeps its keys and state.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// An address to listen on, as a multiaddr (repeatable), e.g.
    /// /ip4/0.0.0.0/tcp/9101.
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// Circuits held at once; CREATEs beyond it are refused.
    #[arg(long, value_name = "N")]
    max_circuits: Option<usize>,
    /// Make this relay an exit with this policy, rules separated by commas,
    /// first match wins, e.g. "accept 127.0.0.0/8:1-65535" (default: no exit).
    #[arg(long, value_name = "RULES")]
    exit_policy: Option<String>,
    /// Write the relay's identity and bound addresses to this file once it
    /// listens (one `identity HEX` line, then one `listen ADDR` line each).
    #[arg(long, value_name = "FILE")]
    info_file: Option<PathBuf>,
}

/// Starts the relay and runs it until Ctrl-C.
pub(crate) fn run(args: &Args, threads: Option<NonZeroUsize>) -> anyhow::Result<()> {
    let config = settings(args)?;
    let runtime = crate::runtime::start(threads)?;
    runtime.block_on(async {
        let relay = Relay::start(config).await?;
        let info = relay.info().clone();
        writeln!(std::io::stdout(), "relay identity {}", info.identity)
            .context("writing to stdout")?;
        if let Some(path) = &args.info_file {
            write_info_file(path, &info).with_context(|| format!("writing {}", path.display()))?;
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("relay stopping");
        drop(relay);
        Ok(())
    })
}

fn settings(args: &Args) -> anyhow::Result<RelayConfig> {
    let file = match &args.config {
        Some(path) => crate::config::load(path)?,
        None => RelayFile::default(),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir)
        .context("no data directory: pass --data-dir or set data_dir in the config file")?;
    let listen = if args.listen.is_empty() {
        file.listen
    } else {
        args.listen.clone()
    };
    let mut config = RelayConfig::new(data_dir, &listen)?;
    if let Some(n) = args.max_circuits.or(file.max_circuits) {
        config.max_circuits = n;
    }
    config.authorities = authority_entries(&file.authorities)?;
    if let Some(bw) = file.bandwidth {
        config.bandwidth = bw;
    }
    if let Some(roles) = &file.roles {
        config.roles = roles.parse().with_context(|| format!("roles {roles:?}"))?;
    }
    config.family = file
        .family
        .iter()
        .map(|f| {
            f.parse()
                .with_context(|| format!("family member {f:?} is not a relay identity"))
        })
        .collect::<anyhow::Result<_>>()?;
    if let Some(secs) = file.publish_interval_secs {
        config.publish_interval = std::time::Duration::from_secs(secs);
    }
    config.http_listen = file.http_listen;
    config.metrics_listen = file.metrics_listen;
    config.bandwidth_rate = file.bandwidth_rate;
    config.bandwidth_burst = file.bandwidth_burst;
    config.hop_record = file.record_hops;
    if let Some(cap) = file.max_queue_bytes {
        config.max_queue_bytes = cap;
    }
    let policy = args
        .exit_policy
        .clone()
        .or(file.exit_policy.map(|rules| rules.join(", ")));
    if let Some(text) = policy {
        let policy: ExitPolicy = text
            .parse()
            .with_context(|| format!("exit policy {text:?}"))?;
        config.exit_policy = Some(Arc::new(policy));
    }
    config.check()?;
    Ok(config)
}

fn write_info_file(path: &std::path::Path, info: &warren_relay::RelayInfo) -> std::io::Result<()> {
    let mut text = format!("identity {}\n", info.identity);
    for addr in &info.listen_addrs {
        text.push_str(&format!("listen {addr}\n"));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
