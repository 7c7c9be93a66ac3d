//! Load generator: Tor and Warren measured side by side on this machine
//! (issue 6's targets). A private Tor network on loopback — three
//! directory authorities (keys made with `tor-gencert` and
//! `tor --list-fingerprint`, as chutney does), six relays of which one is
//! an exit (`accept *:*`, as chutney's exits), an onion service and a
//! client with a SOCKS port, all with `TestingTorNetwork 1` — then
//! `warren testnet`, both in front of the same in-process backend and
//! measured by the same code
//! (`warren_benches::load::measure`, as `testnet_load`): time until the
//! first answer through the onion service, time to first byte on an open
//! rendezvous circuit and on a new one, bulk throughput over the onion path
//! and through three hops to the exit, against a direct download. One table
//! with both and the ratios.
//!
//! The exit accepts every address: with a policy that accepts only
//! 127.0.0.0/8 the Tor 0.4.9 client builds circuits to it but attaches no
//! stream ("Found 0 servers that might support 0/1 pending connections").
//! The network has its own authorities, so no client outside it can use
//! that exit. Should Tor's exit download still fail, its row says why and
//! the onion rows stand alone.
//! `KEEP_LOGS=1` keeps both networks' data directories and logs.
//!
//! Needs Debian's `tor` (`apt-get install tor`; without it the bench says so
//! and exits) and the release binary: `cargo build --release --bin warren`,
//! then `cargo bench -p warren-benches --bench tor_side_by_side`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a load generator: it prints its table, and a failure must abort the run"
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warren_benches::load::{Figures, first_byte, measure, socks5_get, stats};
use warren_tests::procs::{Node, free_port, wait_until};

const SAMPLES: usize = 20;
const BULK: u64 = 100_000_000;
/// How long a network may take to answer through its onion service.
const STARTUP: Duration = Duration::from_secs(300);
const AUTHORITIES: usize = 3;
const RELAYS: usize = 6;

/// `tor --version`'s first line, or `None` when tor or tor-gencert is not
/// installed.
fn tor_version() -> Option<String> {
    let out = Command::new("tor").arg("--version").output().ok()?;
    Command::new("tor-gencert")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        text.lines()
            .next()
            .unwrap_or("Tor")
            .trim_end_matches('.')
            .to_owned(),
    )
}

/// Sends `sig` to `pid`.
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether process `pid` still runs (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
}

/// The tor processes of one network; each is stopped by its PID when this
/// is dropped, at the end of the run or on a failure.
struct TorNet {
    procs: Vec<(String, Child)>,
    dirs: Vec<(String, PathBuf)>,
}

impl TorNet {
    fn spawn(&mut self, name: &str, dir: &Path, torrc: &str) {
        let file = dir.join("torrc");
        std::fs::write(&file, torrc).unwrap();
        let out = std::fs::File::create(dir.join("stdout.txt")).unwrap();
        let child = Command::new("tor")
            .args(["-f", file.to_str().unwrap(), "--ignore-missing-torrc"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start tor");
        self.procs.push((name.to_owned(), child));
        self.dirs.push((name.to_owned(), dir.to_owned()));
    }

    /// Panics if a tor process has exited, with the end of its log.
    fn assert_running(&mut self) {
        for (name, child) in &mut self.procs {
            if let Ok(Some(status)) = child.try_wait() {
                let dir = &self.dirs.iter().find(|(n, _)| n == name).unwrap().1;
                let log = std::fs::read_to_string(dir.join("stdout.txt")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                panic!(
                    "tor {name} exited ({status}):\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
    }

    /// The last "Bootstrapped N%" line of `name`'s log.
    fn bootstrap(&self, name: &str) -> String {
        let dir = &self.dirs.iter().find(|(n, _)| n == name).unwrap().1;
        let log = std::fs::read_to_string(dir.join("notice.log")).unwrap_or_default();
        log.lines()
            .rev()
            .find_map(|l| l.split_once("Bootstrapped ").map(|(_, b)| b.to_owned()))
            .unwrap_or_else(|| "not yet bootstrapping".to_owned())
    }
}

impl Drop for TorNet {
    fn drop(&mut self) {
        for (_, child) in &self.procs {
            signal(child.id(), "-TERM");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.procs {
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `cmd` to completion; panics with its output if it fails.
fn run(cmd: &mut Command, input: &[u8]) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run a tor tool");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lines every torrc of the network has.
fn common(dir: &Path, dirauths: &str) -> String {
    format!(
        "TestingTorNetwork 1\n\
         DataDirectory {dir}\n\
         RunAsDaemon 0\n\
         ShutdownWaitLength 0\n\
         Log notice file {dir}/notice.log\n\
         SafeLogging 0\n\
         ProtocolWarnings 1\n\
         DisableDebuggerAttachment 0\n\
         AssumeReachable 1\n\
         PathsNeededToBuildCircuits 0.67\n\
         TestingDirAuthVoteExit *\n\
         TestingDirAuthVoteHSDir *\n\
         TestingDirAuthVoteGuard *\n\
         V3AuthNIntervalsValid 2\n\
         TestingMinExitFlagThreshold 0\n\
         ControlPort 0\n\
         {dirauths}",
        dir = dir.display()
    )
}

/// A relay's own lines: its address, OR port and directory port.
fn relay_lines(nick: &str, ip: &str, or_port: u16, dir_port: u16) -> String {
    format!(
        "Nickname {nick}\n\
         Address {ip}\n\
         OutboundBindAddress {ip}\n\
         ORPort {ip}:{or_port}\n\
         DirPort {ip}:{dir_port}\n\
         SocksPort 0\n\
         ContactInfo {nick}@test.test\n"
    )
}

/// Starts the Tor network in front of `backend`; returns it, the client's
/// SOCKS address and the onion address once the service has answered, and
/// the time from the first key made to that answer.
fn start_tor(root: &Path, backend: SocketAddr) -> (TorNet, SocketAddr, String, Duration) {
    let started = Instant::now();
    let mut net = TorNet {
        procs: Vec::new(),
        dirs: Vec::new(),
    };
    // The authorities: a v3 identity and signing key from tor-gencert, the
    // relay identity from `tor --list-fingerprint`.
    let mut auths = Vec::new();
    let mut dirauths = String::new();
    for i in 0..AUTHORITIES {
        let nick = format!("auth{i}");
        let ip = format!("127.0.0.{}", 20 + i);
        let (or_port, dir_port) = (free_port(&ip), free_port(&ip));
        let dir = root.join(&nick);
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        run(
            Command::new("tor-gencert")
                .args(["--create-identity-key", "--passphrase-fd", "0", "-m", "12"])
                .arg("-i")
                .arg(keys.join("authority_identity_key"))
                .arg("-s")
                .arg(keys.join("authority_signing_key"))
                .arg("-c")
                .arg(keys.join("authority_certificate"))
                .args(["-a", &format!("{ip}:{dir_port}")])
                .current_dir(&dir),
            b"",
        );
        let cert = std::fs::read_to_string(keys.join("authority_certificate")).unwrap();
        let v3ident = cert
            .lines()
            .find_map(|l| l.strip_prefix("fingerprint "))
            .expect("a fingerprint line in the authority certificate")
            .trim()
            .to_owned();
        let listed = run(
            Command::new("tor")
                .args(["--quiet", "--ignore-missing-torrc", "-f", "/dev/null"])
                .args(["--nickname", &nick, "--orport", "1"])
                .args([
                    "--dirserver",
                    "xyzzy 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff",
                ])
                .arg("--datadirectory")
                .arg(&dir)
                .arg("--list-fingerprint"),
            b"",
        );
        let fpr: String = listed
            .lines()
            .rev()
            .find(|l| l.starts_with(&nick))
            .expect("a fingerprint from tor --list-fingerprint")
            .split_whitespace()
            .skip(1)
            .collect();
        assert_eq!(fpr.len(), 40, "fingerprint {fpr:?}");
        writeln!(
            dirauths,
            "DirAuthority {nick} orport={or_port} no-v2 v3ident={v3ident} {ip}:{dir_port} {fpr}"
        )
        .unwrap();
        auths.push((nick, ip, or_port, dir_port, dir));
    }
    for (nick, ip, or_port, dir_port, dir) in &auths {
        let torrc = format!(
            "{}{}\
             AuthoritativeDirectory 1\n\
             V3AuthoritativeDirectory 1\n\
             TestingV3AuthInitialVotingInterval 10\n\
             TestingV3AuthInitialVoteDelay 2\n\
             TestingV3AuthInitialDistDelay 2\n\
             V3AuthVotingInterval 10\n\
             V3AuthVoteDelay 2\n\
             V3AuthDistDelay 2\n\
             ExitPolicy reject *:*\n",
            common(dir, &dirauths),
            relay_lines(nick, ip, *or_port, *dir_port),
        );
        net.spawn(nick, dir, &torrc);
    }
    // Six relays; the last is the exit.
    for i in 0..RELAYS {
        let nick = format!("relay{i}");
        let ip = format!("127.0.0.{}", 30 + i);
        let dir = root.join(&nick);
        std::fs::create_dir_all(&dir).unwrap();
        let policy = if i == RELAYS - 1 {
            "ExitRelay 1\n\
             ExitPolicyRejectPrivate 0\n\
             ExitPolicyRejectLocalInterfaces 0\n\
             ExitPolicy accept *:*\n"
        } else {
            "ExitRelay 0\nExitPolicy reject *:*\n"
        };
        let torrc = format!(
            "{}{}{policy}",
            common(&dir, &dirauths),
            relay_lines(&nick, &ip, free_port(&ip), free_port(&ip)),
        );
        net.spawn(&nick, &dir, &torrc);
    }
    // The onion service, in front of the backend.
    let hs = root.join("hs");
    let hs_keys = hs.join("service");
    std::fs::create_dir_all(&hs_keys).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hs_keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let torrc = format!(
        "{}SocksPort 0\n\
         HiddenServiceDir {}\n\
         HiddenServicePort 80 {backend}\n",
        common(&hs, &dirauths),
        hs_keys.display()
    );
    net.spawn("hs", &hs, &torrc);
    // The client, with Tor's defaults (microdescriptors).
    let client = root.join("client");
    std::fs::create_dir_all(&client).unwrap();
    let socks = SocketAddr::from(([127, 0, 0, 1], free_port("127.0.0.1")));
    let torrc = format!("{}SocksPort {socks}\n", common(&client, &dirauths));
    net.spawn("client", &client, &torrc);

    let onion = wait_until(
        "the onion service's hostname",
        Duration::from_secs(60),
        || {
            net.assert_running();
            let h = std::fs::read_to_string(hs_keys.join("hostname")).ok()?;
            let h = h.trim();
            (!h.is_empty()).then(|| h.to_owned())
        },
    );
    println!("tor: {onion} in front of {backend}; client SOCKS {socks}");
    let mut last = Instant::now();
    loop {
        net.assert_running();
        let attempt =
            socks5_get(socks, "probe", &onion, 80, "/api/hello", STARTUP).and_then(first_byte);
        match attempt {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    started.elapsed() < STARTUP,
                    "the Tor onion service did not answer within {STARTUP:?}: {e}"
                );
                if last.elapsed() > Duration::from_secs(10) {
                    println!(
                        "tor: {:.0} s, client {}, service {}; last try: {e}",
                        started.elapsed().as_secs_f64(),
                        net.bootstrap("client"),
                        net.bootstrap("hs"),
                    );
                    last = Instant::now();
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    let usable = started.elapsed();
    println!(
        "tor: the onion service answered after {:.1} s",
        usable.as_secs_f64()
    );
    (net, socks, onion, usable)
}

/// `warren testnet` in front of `backend`; its controller is interrupted
/// (as a user stops it) and every node it started waited for, or killed by
/// its PID, when this is dropped.
struct Warren {
    controller: Node,
    pids: Vec<u32>,
}

impl Drop for Warren {
    fn drop(&mut self) {
        if let Some(pid) = self.controller.pid() {
            signal(pid, "-INT");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && self.pids.iter().any(|p| alive(*p)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        for p in &self.pids {
            if alive(*p) {
                signal(*p, "-KILL");
            }
        }
        self.controller.kill();
    }
}

fn run_warren(root: &Path, backend: SocketAddr) -> Figures {
    let dir = root.join("net");
    let started = Instant::now();
    let mut w = Warren {
        controller: Node::spawn(
            "testnet",
            &root.join("controller"),
            &[
                "testnet",
                "--data-dir",
                dir.to_str().unwrap(),
                "--backend",
                &backend.to_string(),
            ],
        ),
        pids: Vec::new(),
    };
    let state: serde_json::Value = wait_until("testnet.json", STARTUP, || {
        w.controller.assert_running();
        serde_json::from_str(&std::fs::read_to_string(dir.join("testnet.json")).ok()?).ok()
    });
    let usable = started.elapsed();
    w.pids = state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["pid"].as_u64())
        .filter_map(|p| u32::try_from(p).ok())
        .collect();
    println!(
        "warren: the onion service answered after {:.1} s",
        usable.as_secs_f64()
    );
    let socks: SocketAddr = state["socks"].as_str().unwrap().parse().unwrap();
    let onion = state["service_address"].as_str().unwrap();
    measure(socks, onion, backend, SAMPLES, BULK, usable, &w.pids).expect("measure warren")
}

fn ratio(w: f64, t: f64) -> String {
    if t > 0.0 {
        format!("{:.3}", w / t)
    } else {
        "-".to_owned()
    }
}

fn print_table(tor_version: &str, tor: Figures, warren: Figures) {
    println!();
    println!("| what | {tor_version} | Warren | Warren / Tor | issue 6's aim |");
    println!("|---|---|---|---|---|");
    println!(
        "| start to the first answer through the onion service | {:.1} s | {:.1} s | {} | |",
        tor.usable.as_secs_f64(),
        warren.usable.as_secs_f64(),
        ratio(warren.usable.as_secs_f64(), tor.usable.as_secs_f64())
    );
    for (name, t, w) in [
        ("open rendezvous circuit", tor.warm, warren.warm),
        ("new rendezvous", tor.fresh, warren.fresh),
    ] {
        let (tl, tm, tp) = stats(t);
        let (wl, wm, wp) = stats(w);
        println!(
            "| time to first byte, {name}, {SAMPLES} samples (min / median / p90) | \
             {tl:.1} / {tm:.1} / {tp:.1} ms | {wl:.1} / {wm:.1} / {wp:.1} ms | \
             {} / {} / {} | median ≤ 0.333 |",
            ratio(wl, tl),
            ratio(wm, tm),
            ratio(wp, tp)
        );
    }
    let mb = BULK / 1_000_000;
    println!(
        "| bulk, {mb} MB over the onion path (6 relays), one circuit | {:.1} MB/s | {:.1} MB/s | {} | ≥ 10 |",
        tor.onion_mbs,
        warren.onion_mbs,
        ratio(warren.onion_mbs, tor.onion_mbs)
    );
    println!(
        "| CPU all nodes spent per MB of that download | {:.0} ms | {:.0} ms | {} | |",
        tor.onion_cpu_ms_per_mb,
        warren.onion_cpu_ms_per_mb,
        ratio(warren.onion_cpu_ms_per_mb, tor.onion_cpu_ms_per_mb)
    );
    let show = |r: &Result<f64, String>| match r {
        Ok(v) => format!("{v:.1} MB/s"),
        Err(e) => format!("failed: {e}"),
    };
    let exit_ratio = match (&tor.exit_mbs, &warren.exit_mbs) {
        (Ok(t), Ok(w)) => ratio(*w, *t),
        _ => "-".to_owned(),
    };
    println!(
        "| bulk, {mb} MB through 3 hops to the exit | {} | {} | {exit_ratio} | |",
        show(&tor.exit_mbs),
        show(&warren.exit_mbs)
    );
    println!(
        "| bulk, {mb} MB direct from the backend (baseline, same run) | {:.0} MB/s | {:.0} MB/s | | |",
        tor.direct_mbs, warren.direct_mbs
    );
}

fn main() {
    let Some(version) = tor_version() else {
        println!("tor not installed: apt-get install tor");
        return;
    };
    let backend = warren::demo_backend::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("start the backend");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_owned();
    // `KEEP_LOGS=1` keeps the data directories (and logs) of both networks.
    let _tmp = if std::env::var_os("KEEP_LOGS").is_some() {
        println!("data directories under {}", tmp.keep().display());
        None
    } else {
        Some(tmp)
    };
    println!("{version}: 3 authorities, 6 relays (1 exit), an onion service, a client");
    let tor = {
        let (net, socks, onion, usable) = start_tor(&root.join("tor"), backend);
        let pids: Vec<u32> = net.procs.iter().map(|(_, child)| child.id()).collect();
        let figures =
            measure(socks, &onion, backend, SAMPLES, BULK, usable, &pids).expect("measure tor");
        drop(net);
        println!("tor: measured and stopped");
        figures
    };
    println!("warren testnet, in front of the same backend");
    let warren = run_warren(&root.join("warren"), backend);
    println!("warren: measured and stopped");
    print_table(&version, tor, warren);
}
