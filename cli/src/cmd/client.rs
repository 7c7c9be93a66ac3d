//! `warren client`: the local SOCKS5/SOCKS4a and HTTP proxy entries into
//! the network (docs/spec.md §14). Shows bootstrap progress on the
//! terminal until the first circuit is built.

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use warren_client::{Client, ClientConfig};
use warren_crypto::{ClientAuthKeypair, HsAddress};
use warren_net::keystore::read_key_file;

use crate::config::{ClientFile, authority_entries};

/// Arguments of `warren client`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A TOML file with the client's settings (see examples/client.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the client keeps the consensus and its guards.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A SOCKS listener (repeatable; default 127.0.0.1:9350).
    #[arg(long, value_name = "ADDR")]
    socks_listen: Vec<SocketAddr>,
    /// An HTTP proxy listener (repeatable; default 127.0.0.1:9351).
    #[arg(long, value_name = "ADDR")]
    http_listen: Vec<SocketAddr>,
}

fn settings(args: &Args) -> anyhow::Result<ClientConfig> {
    let file = match &args.config {
        Some(path) => crate::config::load(path)?,
        None => ClientFile::default(),
    };
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir)
        .context("no data directory: pass --data-dir or set data_dir in the config file")?;
    let mut config = ClientConfig::new(data_dir, authority_entries(&file.authorities)?);
    if let Some(socks) = file.socks_listen {
        config.socks_listen = socks;
    }
    if !args.socks_listen.is_empty() {
        config.socks_listen.clone_from(&args.socks_listen);
    }
    if let Some(http) = file.http_listen {
        config.http_listen = http;
    }
    if !args.http_listen.is_empty() {
        config.http_listen.clone_from(&args.http_listen);
    }
    if let Some(n) = file.preemptive_circuits {
        config.preemptive = n;
    }
    config.metrics_listen = file.metrics_listen;
    let base = args
        .config
        .as_deref()
        .and_then(std::path::Path::parent)
        .unwrap_or(std::path::Path::new("."));
    for line in &file.onion_keys {
        let address: HsAddress = line
            .address
            .parse()
            .with_context(|| format!("[[onion_keys]] address {:?}", line.address))?;
        let path = base.join(&line.key_file);
        let key: ClientAuthKeypair = read_key_file(&path)
            .with_context(|| format!("[[onion_keys]] key file {}", path.display()))?;
        config.onion_keys.push((address, Arc::new(key)));
    }
    if let Some(secs) = file.max_dirtiness_secs {
        config.max_dirtiness = Duration::from_secs(secs);
    }
    Ok(config)
}

/// Starts the client and runs it until Ctrl-C.
pub(crate) fn run(args: &Args, threads: Option<NonZeroUsize>) -> anyhow::Result<()> {
    let config = settings(args)?;
    let runtime = crate::runtime::start(threads)?;
    runtime.block_on(async {
        let client = Client::start(config).await?;
        let mut out = std::io::stdout();
        for addr in client.socks_addrs() {
            writeln!(out, "SOCKS5 entry on {addr}").context("writing to stdout")?;
        }
        for addr in client.http_addrs() {
            writeln!(out, "HTTP proxy entry on {addr}").context("writing to stdout")?;
        }
        let progress = async {
            let mut shown = None;
            loop {
                let now = client.progress();
                if shown != Some(now) {
                    let _ = writeln!(std::io::stdout(), "bootstrap {now}%");
                    shown = Some(now);
                }
                if now == 100 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        tokio::select! {
            () = progress => {}
            r = tokio::signal::ctrl_c() => { r.context("waiting for Ctrl-C")?; return Ok(()); }
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("client stopping");
        drop(client);
        Ok(())
    })
}
