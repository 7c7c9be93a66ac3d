//! A network of real `warren` processes on 127.0.0.x (docs/spec.md §12.14,
//! §13): authorities made with `warren authority init`, relays started with
//! `warren relay --config`, each with its own data directory and log file,
//! each stopped by PID when its [`Node`] is dropped. The directory, client
//! and onion-service tests, and `warren testnet`'s own tests, grow from it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test harness: a failure must fail the test that uses it"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `warren` binary of this build (cargo builds it for the cli's own
/// integration tests, so `cargo test --workspace` always has it).
pub fn warren_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("WARREN_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/warren
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("warren"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --bin warren` (cargo test --workspace does)",
        bin.display()
    );
    bin
}

/// A TCP port free on `ip` now.
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// One running `warren` process.
pub struct Node {
    /// What it is: "authority", "relay", ...
    pub role: &'static str,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its log (stderr) file.
    pub log: PathBuf,
    /// Its standard output, in a file.
    pub out: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Starts `warren ARGS` with its stderr in `dir/log.txt`, logging at
    /// info.
    pub fn spawn(role: &'static str, dir: &Path, args: &[&str]) -> Self {
        Self::spawn_logging(role, dir, args, "info")
    }

    /// Starts `warren ARGS` logging with `filter` (tracing's env-filter
    /// syntax).
    pub fn spawn_logging(role: &'static str, dir: &Path, args: &[&str], filter: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join("log.txt");
        let out = dir.join("out.txt");
        let stderr = std::fs::File::create(&log).unwrap();
        let stdout = std::fs::File::create(&out).unwrap();
        let child = Command::new(warren_bin())
            .args(args)
            .env("WARREN_LOG", filter)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start warren");
        Self {
            role,
            dir: dir.to_path_buf(),
            log,
            out,
            child: Some(child),
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The CPU time the process has used (user and system), from
    /// `/proc/PID/stat`, in clock ticks of 1/100 s; `None` once it is gone.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // The fields after the command name, which ends with ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let user: u64 = fields.get(11)?.parse().ok()?;
        let system: u64 = fields.get(12)?.parse().ok()?;
        Some(user + system)
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Fails if the process has exited, showing its log.
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("{} exited with {status}:\n{}", self.role, self.log_text());
        }
    }

    /// What it has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What it has printed so far.
    pub fn out_text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits until its standard output contains `text`.
    pub fn wait_for_output(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.out_text().contains(text) {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} did not print {text:?} within {within:?}:\n{}\n{}",
                self.role,
                self.out_text(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until its log contains `text`.
    pub fn wait_for_log(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log_text().contains(text) {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} did not log {text:?} within {within:?}:\n{}",
                self.role,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Directory authorities running as processes.
pub struct Authorities {
    /// The `[[authorities]]` entries of all of them, for other configs.
    pub entries: String,
    /// The processes, in the order of `ips`.
    pub nodes: Vec<Node>,
    /// Their HTTP directory ports.
    pub http: Vec<SocketAddr>,
}

/// Makes and starts one authority per address in `ips`, voting every
/// `interval` seconds, each consensus valid for `valid_intervals`.
pub fn start_authorities(
    root: &Path,
    ips: &[&str],
    interval: u64,
    valid_intervals: u64,
) -> Authorities {
    let mut entries = String::new();
    let mut listen = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let dir = root.join(format!("authority{i}"));
        let addr = format!("/ip4/{ip}/tcp/{}", free_port(ip));
        let out = Command::new(warren_bin())
            .args(["authority", "init", "--data-dir"])
            .arg(&dir)
            .args(["--address", &addr])
            .output()
            .expect("warren authority init");
        assert!(out.status.success(), "authority init: {out:?}");
        entries.push_str(&std::fs::read_to_string(dir.join("authority-entry.toml")).unwrap());
        entries.push('\n');
        listen.push(addr);
    }
    let mut nodes = Vec::new();
    let mut http = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let dir = root.join(format!("authority{i}"));
        let http_addr: SocketAddr = format!("{ip}:{}", free_port(ip)).parse().unwrap();
        let config = format!(
            "data_dir = {dir:?}\nlisten = [{:?}]\nhttp_listen = \"{http_addr}\"\n\
             vote_interval_secs = {interval}\nvalid_intervals = {valid_intervals}\n\
             flag_thresholds = \"testnet\"\n\n{entries}",
            listen[i]
        );
        let path = dir.join("authority.toml");
        std::fs::write(&path, config).unwrap();
        nodes.push(Node::spawn(
            "authority",
            &dir,
            &["authority", "--config", path.to_str().unwrap()],
        ));
        http.push(http_addr);
    }
    Authorities {
        entries,
        nodes,
        http,
    }
}

/// Starts a relay on `ip` in `root/name`, in the directory of `entries`,
/// publishing every `publish_interval` seconds; `extra` is added to its
/// relay.toml (e.g. an exit policy).
pub fn start_relay(
    root: &Path,
    name: &str,
    ip: &str,
    entries: &str,
    publish_interval: u64,
    extra: &str,
) -> Node {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "data_dir = {dir:?}\nlisten = [\"/ip4/{ip}/tcp/{}\"]\n\
         publish_interval_secs = {publish_interval}\n{extra}\n\n{entries}",
        free_port(ip)
    );
    let path = dir.join("relay.toml");
    std::fs::write(&path, config).unwrap();
    Node::spawn(
        "relay",
        &dir,
        &["relay", "--config", path.to_str().unwrap()],
    )
}

/// A client process on `ip` with a SOCKS and an HTTP entry on free ports.
pub struct TestClient {
    /// The process.
    pub node: Node,
    /// Its SOCKS entry.
    pub socks: SocketAddr,
    /// Its HTTP proxy entry.
    pub http: SocketAddr,
}

/// Starts `warren client` on `ip` in `root/name`, in the directory of
/// `entries`; `extra` is added to its client.toml.
pub fn start_client(root: &Path, name: &str, ip: &str, entries: &str, extra: &str) -> TestClient {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let socks: SocketAddr = format!("{ip}:{}", free_port(ip)).parse().unwrap();
    let http: SocketAddr = format!("{ip}:{}", free_port(ip)).parse().unwrap();
    let config = format!(
        "data_dir = {dir:?}\nsocks_listen = [\"{socks}\"]\nhttp_listen = [\"{http}\"]\n{extra}\n\n{entries}"
    );
    let path = dir.join("client.toml");
    std::fs::write(&path, config).unwrap();
    let node = Node::spawn(
        "client",
        &dir,
        &["client", "--config", path.to_str().unwrap()],
    );
    TestClient { node, socks, http }
}

/// A small HTTP/1.1 backend on 127.0.0.1 in a thread: `GET /hello` gives a
/// JSON body, `GET /bytes/N` N pattern bytes, anything else 404. Each
/// connection serves one request and closes.
pub fn start_backend() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || serve_backend(conn));
        }
    });
    port
}

/// The JSON body of the backend's `/hello`.
pub const HELLO: &str = "{\"service\":\"warren-test\",\"ok\":true}";

fn serve_backend(mut conn: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
    let (status, body): (&str, Vec<u8>) = if path == "/hello" {
        ("200 OK", HELLO.as_bytes().to_vec())
    } else if let Some(n) = path
        .strip_prefix("/bytes/")
        .and_then(|n| n.parse::<usize>().ok())
    {
        ("200 OK", (0..n).map(crate::net::pattern).collect())
    } else {
        ("404 Not Found", b"not found\n".to_vec())
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend(body);
    let _ = conn.set_nodelay(true);
    let _ = conn.write_all(&response);
}

/// Opens a SOCKS5 connection through `socks` to `127.0.0.1:port`, with
/// `user` as the username (a fresh isolation key per name), and sends an
/// HTTP GET of `path`. Returns the connection, ready to read the response.
pub fn socks5_get(socks: SocketAddr, user: &str, port: u16, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(socks).expect("connect to the SOCKS entry");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(&[5, 1, 2]).unwrap();
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 2], "username/password accepted");
    let mut auth = vec![1, u8::try_from(user.len()).unwrap()];
    auth.extend(user.as_bytes());
    auth.extend([1, b'x']);
    s.write_all(&auth).unwrap();
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [1, 0]);
    let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
    req.extend(port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut connected = [0u8; 10];
    s.read_exact(&mut connected).unwrap();
    assert_eq!(connected[1], 0, "SOCKS reply {}", connected[1]);
    // One write, as real clients send a request head.
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// `GET path` over HTTP/1.1 from `addr`: the status code and the body, or
/// `None` when the port does not answer.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(response.get(..split)?).ok()?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, response.get(split + 4..)?.to_vec()))
}

/// Polls `check` every 250 ms until it gives a value, failing after
/// `within` with `what`.
pub fn wait_until<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A service host process and the address of its one service.
pub struct TestService {
    /// The process.
    pub node: Node,
    /// The `.warren` address of its service.
    pub address: String,
    /// Its service.toml.
    pub config: PathBuf,
}

/// Starts `warren service` in `root/name` with one service, `api`, whose
/// port 80 maps to `127.0.0.1:backend`; `extra` is added to the service's
/// `[[services]]` block. The same `root/name` keeps the same address.
pub fn start_service(
    root: &Path,
    name: &str,
    entries: &str,
    backend: u16,
    extra: &str,
) -> TestService {
    start_service_with(root, name, entries, backend, "", extra)
}

/// [`start_service`] with `top` added to the top of service.toml (e.g.
/// `metrics_listen`). The service logs its intro points (debug).
pub fn start_service_with(
    root: &Path,
    name: &str,
    entries: &str,
    backend: u16,
    top: &str,
    extra: &str,
) -> TestService {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "data_dir = {dir:?}\n{top}\n\n[[services]]\nname = \"api\"\nports = [\"80 127.0.0.1:{backend}\"]\n{extra}\n\n{entries}"
    );
    let path = dir.join("service.toml");
    std::fs::write(&path, config).unwrap();
    let mut node = Node::spawn_logging(
        "service",
        &dir,
        &["service", "--config", path.to_str().unwrap()],
        "info,warren_client::service=debug",
    );
    node.wait_for_output("service api: ", Duration::from_secs(30));
    let address = node
        .out_text()
        .lines()
        .find_map(|l| l.strip_prefix("service api: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the service printed its address")
        .to_owned();
    TestService {
        node,
        address,
        config: path,
    }
}
