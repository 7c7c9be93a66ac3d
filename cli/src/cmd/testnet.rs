//! `warren testnet`: the whole network on loopback in one command, and
//! `warren testnet stop` for one started with `--detach`.

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::testnet::{Options, STATE_FILE, State, Testnet, stop_detached};

/// Where a detached testnet keeps its state unless told otherwise.
const DEFAULT_DETACHED_DIR: &str = "warren-testnet";

/// Arguments of `warren testnet`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Relays to start (at least 4: guard, middle, exit and a spare).
    #[arg(long, value_name = "N", default_value_t = 10)]
    relays: usize,
    /// Keep keys and state here between runs (default: a temporary
    /// directory, or ./warren-testnet with --detach).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Put your own API behind the network instead of the demo backend.
    #[arg(long, value_name = "HOST:PORT")]
    backend: Option<SocketAddr>,
    /// Start it in the background; stop it with `warren testnet stop`.
    #[arg(long)]
    detach: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Stop a testnet started with --detach.
    Stop {
        /// Its data directory.
        #[arg(long, value_name = "DIR", default_value = DEFAULT_DETACHED_DIR)]
        data_dir: PathBuf,
    },
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, threads: Option<NonZeroUsize>) -> anyhow::Result<()> {
    if let Some(Action::Stop { data_dir }) = &args.action {
        let n = stop_detached(data_dir)?;
        writeln!(
            std::io::stdout(),
            "stopped the testnet in {} ({n} processes)",
            data_dir.display()
        )?;
        return Ok(());
    }
    if args.relays < 4 {
        bail!("a testnet needs at least 4 relays (--relays)");
    }
    if args.detach {
        return detach(args);
    }
    let (data_dir, _temp) = match &args.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("warren-testnet-")
                .tempdir()
                .context("making a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let opts = Options {
        relays: args.relays,
        data_dir: data_dir.clone(),
        backend: args.backend,
    };
    let runtime = crate::runtime::start(threads)?;
    let mut net = Testnet::start(&opts)?;
    print_summary(&net.state, &data_dir);
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })?;
    let _ = writeln!(std::io::stdout(), "stopping every node");
    net.stop();
    let _ = std::fs::remove_file(data_dir.join(STATE_FILE));
    Ok(())
}

fn print_summary(state: &State, data_dir: &std::path::Path) {
    let count = |role: &str| state.nodes.iter().filter(|n| n.role == role).count();
    let address = state.service_address.as_deref().unwrap_or_default();
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "\nWarren testnet: {} authorities, {} relays ({} exit), 1 onion service, 1 client.\n\
         \x20 service        {address}\n\
         \x20                (in front of {})\n\
         \x20 SOCKS5 entry   {}\n\
         \x20 HTTP proxy     {}\n\
         \nTry:\n\
         \x20 curl --socks5-hostname {} http://{address}/api/hello\n\
         \x20 curl -x http://{} http://{address}/api/time\n\
         \x20 curl --socks5-hostname {} http://{address}/large/10000000 | sha256sum\n\
         \nState and logs: {} ({STATE_FILE}). Ctrl-C stops every node.",
        count("authority"),
        count("relay") + count("exit"),
        count("exit"),
        state.backend,
        state.socks,
        state.http,
        state.socks,
        state.http,
        state.socks,
        data_dir.display()
    );
}

/// Starts the testnet as a background process and returns once it is
/// ready (or failed).
fn detach(args: &Args) -> anyhow::Result<()> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DETACHED_DIR));
    std::fs::create_dir_all(&data_dir)?;
    let state_path = data_dir.join(STATE_FILE);
    if state_path.exists() {
        bail!(
            "a testnet already runs in {} (stop it with `warren testnet stop --data-dir {}`)",
            data_dir.display(),
            data_dir.display()
        );
    }
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(data_dir.join("controller.txt"))?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "testnet",
        "--relays",
        &args.relays.to_string(),
        "--data-dir",
    ])
    .arg(&data_dir);
    if let Some(b) = args.backend {
        cmd.args(["--backend", &b.to_string()]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the testnet in the background")?;
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&state_path) {
            let state: State = serde_json::from_str(&text)?;
            print_summary(&state, &data_dir);
            writeln!(
                std::io::stdout(),
                "Running in the background: `warren testnet stop --data-dir {}` stops it.",
                data_dir.display()
            )?;
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "the testnet did not come up ({status}); see {}",
                data_dir.join("controller.txt").display()
            );
        }
        if started.elapsed() > Duration::from_secs(180) {
            bail!("the testnet did not come up in 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
