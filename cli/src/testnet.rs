//! `warren testnet`: a whole network on loopback, each node a separate
//! `warren` process on its own 127.0.x.y, running the same code a
//! deployment runs: three authorities, relays (one an exit for loopback
//! targets), a demo backend behind an onion service, and a client with its
//! SOCKS5 and HTTP entries.
//!
//! The controller (this process) makes the keys and configs, starts the
//! nodes, shows progress until the first request through the onion service
//! is answered, writes `testnet.json`, and stops every node on Ctrl-C or
//! `warren testnet stop`.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use warren_directory::{AuthorityIdentity, AuthoritySet, Consensus};

/// The state file in the data directory.
pub(crate) const STATE_FILE: &str = "testnet.json";
/// Voting interval of the testnet's authorities, in seconds.
const INTERVAL: u64 = 5;
/// How long the network may take to come up.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// One node in `testnet.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NodeState {
    /// `authority`, `relay`, `exit`, `service` or `client`.
    pub(crate) role: String,
    /// Its name, e.g. `relay3`.
    pub(crate) name: String,
    /// Where it listens (a multiaddr, or host:port for the client).
    pub(crate) address: String,
    /// Its process id.
    pub(crate) pid: u32,
}

/// `testnet.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    /// The `.warren` address of the onion service in front of the backend.
    pub(crate) service_address: Option<String>,
    /// The client's SOCKS5 entry, host:port.
    pub(crate) socks: String,
    /// The client's HTTP proxy entry, host:port.
    pub(crate) http: String,
    /// The backend behind the network, host:port.
    pub(crate) backend: String,
    /// The controller's process id.
    pub(crate) controller_pid: u32,
    /// Every node.
    pub(crate) nodes: Vec<NodeState>,
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) relays: usize,
    pub(crate) data_dir: PathBuf,
    pub(crate) backend: Option<SocketAddr>,
}

struct Node {
    name: String,
    role: &'static str,
    address: String,
    child: Child,
}

/// The running network; dropping it stops every node.
pub(crate) struct Testnet {
    nodes: Vec<Node>,
    pub(crate) state: State,
}

fn free_port(ip: &str) -> anyhow::Result<u16> {
    Ok(TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .with_context(|| format!("no free port on {ip}"))?
        .port())
}

/// The SOCKS and HTTP entries: the defaults when free, else free ports.
fn entry(default: &str) -> anyhow::Result<SocketAddr> {
    match TcpListener::bind(default) {
        Ok(l) => Ok(l.local_addr()?),
        Err(_) => Ok(SocketAddr::from(([127, 0, 0, 1], free_port("127.0.0.1")?))),
    }
}

/// Starts one node. Every node gets one worker thread: the testnet's
/// processes share one machine, and on a 2-core machine this cuts the CPU
/// an onion download costs the whole network by about a tenth.
fn spawn(exe: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<Child> {
    std::fs::create_dir_all(dir)?;
    let log = std::fs::File::create(dir.join("log.txt"))?;
    let out = std::fs::File::create(dir.join("out.txt"))?;
    Command::new(exe)
        .args(["--threads", "1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

/// The steps of coming up, for the progress lines.
const STEPS: usize = 7;

fn step(n: usize, what: &str) {
    let _ = writeln!(std::io::stdout(), "[{n}/{STEPS}] {what}");
}

impl Testnet {
    /// Starts the network and waits until a stream through it works.
    pub(crate) fn start(opts: &Options) -> anyhow::Result<Self> {
        let started = Instant::now();
        let exe = std::env::current_exe().context("finding the warren binary")?;
        let dir = &opts.data_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut net = Self {
            nodes: Vec::new(),
            state: State {
                service_address: None,
                socks: String::new(),
                http: String::new(),
                backend: String::new(),
                controller_pid: std::process::id(),
                nodes: Vec::new(),
            },
        };

        step(1, "making the authorities' keys");
        let mut entries = String::new();
        let mut listens = Vec::new();
        for i in 1..=3 {
            let ip = format!("127.0.10.{i}");
            let adir = dir.join(format!("authority{i}"));
            let listen = format!("/ip4/{ip}/tcp/{}", free_port(&ip)?);
            if !adir.join("authority.cert").exists() {
                let out = Command::new(&exe)
                    .args(["authority", "init", "--data-dir"])
                    .arg(&adir)
                    .args(["--address", &listen])
                    .output()
                    .context("warren authority init")?;
                if !out.status.success() {
                    bail!(
                        "warren authority init failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
            let line = std::fs::read_to_string(adir.join("authority-entry.toml"))?;
            // The address may have changed since the keys were made.
            let line = line
                .lines()
                .map(|l| {
                    if l.starts_with("addresses = ") {
                        format!("addresses = [\"{listen}\"]")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            entries.push_str(&line);
            entries.push_str("\n\n");
            listens.push((adir, listen, ip));
        }

        step(2, "starting 3 authorities");
        let mut http_ports = Vec::new();
        for (i, (adir, listen, ip)) in listens.iter().enumerate() {
            let http = format!("{ip}:{}", free_port(ip)?);
            let config = format!(
                "data_dir = {adir:?}\nlisten = [\"{listen}\"]\nhttp_listen = \"{http}\"\n\
                 vote_interval_secs = {INTERVAL}\nvalid_intervals = 6\nflag_thresholds = \"testnet\"\n\n{entries}"
            );
            let path = adir.join("authority.toml");
            std::fs::write(&path, config)?;
            let child = spawn(
                &exe,
                adir,
                &["authority", "--config", path.to_str().unwrap_or_default()],
            )?;
            net.nodes.push(Node {
                name: format!("authority{}", i + 1),
                role: "authority",
                address: listen.clone(),
                child,
            });
            http_ports.push(http);
        }

        step(
            3,
            &format!(
                "starting {} relays (one an exit for loopback targets)",
                opts.relays
            ),
        );
        for i in 0..opts.relays {
            let ip = format!("127.0.10.{}", 11 + i);
            let rdir = dir.join(format!("relay{i}"));
            std::fs::create_dir_all(&rdir)?;
            let listen = format!("/ip4/{ip}/tcp/{}", free_port(&ip)?);
            let exit = i + 1 == opts.relays;
            let policy = if exit {
                "exit_policy = [\"accept 127.0.0.0/8:1-65535\", \"reject *:*\"]\n"
            } else {
                ""
            };
            let config = format!(
                "data_dir = {rdir:?}\nlisten = [\"{listen}\"]\npublish_interval_secs = {INTERVAL}\n{policy}\n{entries}"
            );
            let path = rdir.join("relay.toml");
            std::fs::write(&path, config)?;
            let child = spawn(
                &exe,
                &rdir,
                &["relay", "--config", path.to_str().unwrap_or_default()],
            )?;
            net.nodes.push(Node {
                name: format!("relay{i}"),
                role: if exit { "exit" } else { "relay" },
                address: listen,
                child,
            });
        }

        let backend = match opts.backend {
            Some(addr) => addr,
            None => warren::demo_backend::start(SocketAddr::from(([127, 0, 0, 1], 0)))
                .context("starting the demo backend")?,
        };
        step(4, "waiting for a consensus that lists every relay");
        let set = authority_set(&entries)?;
        net.wait_for_consensus(&http_ports, &set, opts.relays, started)?;

        step(5, "starting the onion service in front of the backend");
        let sdir = dir.join("service");
        std::fs::create_dir_all(&sdir)?;
        let config = format!(
            "data_dir = {sdir:?}\n\n[[services]]\nname = \"demo\"\nports = [\"80 {backend}\"]\n\n{entries}"
        );
        let path = sdir.join("service.toml");
        std::fs::write(&path, config)?;
        let child = spawn(
            &exe,
            &sdir,
            &["service", "--config", path.to_str().unwrap_or_default()],
        )?;
        net.nodes.push(Node {
            name: "service".into(),
            role: "service",
            address: String::new(),
            child,
        });
        let out = sdir.join("out.txt");
        net.wait_for_output(&out, "service demo: ", started)?;
        let address = std::fs::read_to_string(&out)?
            .lines()
            .find_map(|l| l.strip_prefix("service demo: "))
            .and_then(|l| l.split_whitespace().next())
            .context("the service did not print its address")?
            .to_owned();
        if let Some(n) = net.nodes.last_mut() {
            n.address.clone_from(&address);
        }

        step(6, "starting the client and building its first circuit");
        let socks = entry(warren_client::client::DEFAULT_SOCKS)?;
        let http = entry(warren_client::client::DEFAULT_HTTP)?;
        let cdir = dir.join("client");
        std::fs::create_dir_all(&cdir)?;
        let config = format!(
            "data_dir = {cdir:?}\nsocks_listen = [\"{socks}\"]\nhttp_listen = [\"{http}\"]\n\n{entries}"
        );
        let path = cdir.join("client.toml");
        std::fs::write(&path, config)?;
        let child = spawn(
            &exe,
            &cdir,
            &["client", "--config", path.to_str().unwrap_or_default()],
        )?;
        net.nodes.push(Node {
            name: "client".into(),
            role: "client",
            address: socks.to_string(),
            child,
        });
        net.wait_for_output(&cdir.join("out.txt"), "bootstrap 100%", started)?;

        step(7, "waiting for the first answer through the onion service");
        net.wait_for_onion(socks, &address, started)?;
        net.state.service_address = Some(address);

        net.state.socks = socks.to_string();
        net.state.http = http.to_string();
        net.state.backend = backend.to_string();
        net.state.nodes = net
            .nodes
            .iter()
            .map(|n| NodeState {
                role: n.role.into(),
                name: n.name.clone(),
                address: n.address.clone(),
                pid: n.child.id(),
            })
            .collect();
        let json = serde_json::to_string_pretty(&net.state)?;
        let tmp = dir.join("testnet.json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, dir.join(STATE_FILE))?;
        let _ = writeln!(
            std::io::stdout(),
            "ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(net)
    }

    /// Fails with the node's log when any node has exited.
    fn check_nodes(&mut self) -> anyhow::Result<()> {
        for n in &mut self.nodes {
            if let Ok(Some(status)) = n.child.try_wait() {
                bail!(
                    "{} exited ({status}) while the testnet came up; see its log.txt",
                    n.name
                );
            }
        }
        Ok(())
    }

    fn wait_for_consensus(
        &mut self,
        http: &[String],
        set: &AuthoritySet,
        relays: usize,
        started: Instant,
    ) -> anyhow::Result<()> {
        let mut shown = usize::MAX;
        loop {
            self.check_nodes()?;
            let listed = http
                .iter()
                .filter_map(|a| a.parse().ok())
                .filter_map(|a| fetch_consensus(a, set))
                .map(|c| c.relays().len())
                .max();
            if let Some(n) = listed {
                if n != shown {
                    let _ = writeln!(
                        std::io::stdout(),
                        "      consensus lists {n} of {relays} relays"
                    );
                    shown = n;
                }
                if n >= relays {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("no consensus listing every relay after {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Polls `GET /` on the service through the client's SOCKS entry until
    /// an HTTP answer comes (the descriptor takes a moment to publish).
    fn wait_for_onion(
        &mut self,
        socks: SocketAddr,
        address: &str,
        started: Instant,
    ) -> anyhow::Result<()> {
        loop {
            self.check_nodes()?;
            if socks_get(socks, address).is_ok_and(|head| head.starts_with(b"HTTP/1.")) {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("the onion service did not answer in {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for_output(&mut self, file: &Path, text: &str, started: Instant) -> anyhow::Result<()> {
        loop {
            self.check_nodes()?;
            if std::fs::read_to_string(file)
                .unwrap_or_default()
                .contains(text)
            {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("the client did not bootstrap in {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops every node: SIGINT, then SIGKILL for any that lingers.
    pub(crate) fn stop(&mut self) {
        for n in self.nodes.iter().rev() {
            let _ = Command::new("kill")
                .args(["-INT", &n.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for n in self.nodes.iter_mut().rev() {
            while matches!(n.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
        self.nodes.clear();
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `GET /` to `host:80` through the SOCKS5 entry `socks` (RFC 1928,
/// a domain-name request) and returns the start of the answer.
fn socks_get(socks: SocketAddr, host: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect_timeout(&socks, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(&[5, 1, 0])?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply)?;
    let name = u8::try_from(host.len()).map_err(std::io::Error::other)?;
    let mut req = vec![5, 1, 0, 3, name];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&80u16.to_be_bytes());
    s.write_all(&req)?;
    let mut answer = [0u8; 10];
    s.read_exact(&mut answer)?;
    if answer.get(1) != Some(&0) {
        return Err(std::io::Error::other("the SOCKS request failed"));
    }
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut head = vec![0u8; 16];
    s.read_exact(&mut head)?;
    Ok(head)
}

/// The authority set of the `[[authorities]]` entries in `entries`.
fn authority_set(entries: &str) -> anyhow::Result<AuthoritySet> {
    let ids = entries
        .lines()
        .filter_map(|l| l.strip_prefix("identity = \""))
        .map(|l| l.trim_end_matches('"').parse::<AuthorityIdentity>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuthoritySet::new(ids)?)
}

/// The consensus an authority's HTTP port serves, if it verifies.
fn fetch_consensus(addr: SocketAddr, set: &AuthoritySet) -> Option<Consensus> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /consensus HTTP/1.1\r\nHost: testnet\r\n\r\n")
        .ok()?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return None;
    }
    Consensus::decode(response.get(split + 4..)?)
        .ok()?
        .verify(set)
        .ok()
        .map(|c| c.dangerously_assume_timely())
}

/// Stops a detached testnet from its state file: the controller first,
/// then any node still running.
pub(crate) fn stop_detached(data_dir: &Path) -> anyhow::Result<usize> {
    let path = data_dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no running testnet: cannot read {}", path.display()))?;
    let state: State =
        serde_json::from_str(&text).with_context(|| format!("in {}", path.display()))?;
    let signal = |sig: &str, pid: u32| {
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut stopped = 0;
    if signal("-TERM", state.controller_pid) {
        stopped += 1;
    }
    std::thread::sleep(Duration::from_secs(1));
    for n in &state.nodes {
        if signal("-INT", n.pid) {
            stopped += 1;
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(stopped)
}
