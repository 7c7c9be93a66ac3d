//! `warren service`: onion services in front of local backends
//! (docs/spec.md §15, §16). Prints each service's `.warren` address;
//! `warren service address` prints them without starting anything.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::Context;
use warren_client::service::{
    OnionServiceConfig, ServiceConfig, ServiceHost, load_or_create_identity,
};

use crate::config::{ServiceFile, ServiceLine, authority_entries, port_mapping};

/// Arguments of `warren service`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to do (default: run the services).
    #[command(subcommand)]
    action: Option<Action>,
    /// A TOML file with the services (see examples/service.toml).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print each service's .warren address (making its key on first use).
    Address,
}

/// A path from the config file, relative to its directory.
fn relative(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn service(base: &Path, data_dir: &Path, line: &ServiceLine) -> anyhow::Result<OnionServiceConfig> {
    if line.name.is_empty()
        || !line
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        anyhow::bail!(
            "service name {:?}: use letters, digits, '-' and '_' (it names a directory)",
            line.name
        );
    }
    let dir = line
        .data_dir
        .as_ref()
        .map_or_else(|| data_dir.join(&line.name), |d| relative(base, d));
    let mut ports = warren_client::PortMap::new();
    for p in &line.ports {
        let (port, target) = port_mapping(p).with_context(|| format!("service {}", line.name))?;
        ports.insert(port, target);
    }
    let mut config = OnionServiceConfig::new(line.name.clone(), dir, ports);
    if let Some(n) = line.intro_points {
        config.intro_points = n;
    }
    config.clients_file = line.clients_file.as_ref().map(|f| relative(base, f));
    if let Some(r) = line.intro_rate_per_sec {
        config.intro_rate_per_sec = r;
    }
    if let Some(b) = line.intro_burst {
        config.intro_burst = b;
    }
    if let Some(r) = line.client_rate_per_sec {
        config.client_rate_per_sec = r;
    }
    if let Some(pow) = line.pow {
        config.pow = pow;
    }
    Ok(config)
}

fn settings(args: &Args) -> anyhow::Result<ServiceConfig> {
    let path = args
        .config
        .as_ref()
        .context("no configuration: pass --config service.toml (see examples/service.toml)")?;
    let file: ServiceFile = crate::config::load(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let data_dir = file
        .data_dir
        .as_ref()
        .map(|d| relative(base, d))
        .context("no data directory: set data_dir in the config file")?;
    let services = file
        .services
        .iter()
        .map(|line| service(base, &data_dir, line))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("in {}", path.display()))?;
    Ok(ServiceConfig {
        data_dir,
        authorities: authority_entries(&file.authorities)?,
        services,
        metrics_listen: file.metrics_listen,
    })
}

/// Runs the services until Ctrl-C, or prints their addresses.
pub(crate) fn run(args: &Args, threads: Option<NonZeroUsize>) -> anyhow::Result<()> {
    let config = settings(args)?;
    let mut out = std::io::stdout();
    if matches!(args.action, Some(Action::Address)) {
        for s in &config.services {
            let (_, address, _) = load_or_create_identity(&s.data_dir)?;
            writeln!(out, "{} {address}", s.name).context("writing to stdout")?;
        }
        return Ok(());
    }
    let runtime = crate::runtime::start(threads)?;
    runtime.block_on(async {
        let host = ServiceHost::start(config).await?;
        for (name, address, created) in host.addresses() {
            let note = if *created { " (new identity key)" } else { "" };
            writeln!(out, "service {name}: {address}{note}").context("writing to stdout")?;
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("service host stopping");
        drop(host);
        Ok(())
    })
}
