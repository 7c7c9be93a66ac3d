//! What the process-network load generators share (`testnet_load`,
//! `tor_side_by_side`): SOCKS5 requests, response reading, the figures one
//! run measures through a client's SOCKS port against the demo backend
//! (`warren::demo_backend`), and the CPU time of a network's processes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Milliseconds in `d`.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Min, median and p90 of `v`, in milliseconds (zeros for none).
pub fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let at = |i: usize| {
        v.get(i.min(v.len().saturating_sub(1)))
            .map_or(0.0, |d| ms(*d))
    };
    (at(0), at(v.len() / 2), at(v.len() * 9 / 10))
}

/// Waits for the first byte of the answer on `s`.
pub fn first_byte(mut s: TcpStream) -> std::io::Result<TcpStream> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    Ok(s)
}

/// Reads a response to its end; returns the number of bytes after the head.
pub fn drain(mut s: TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut head: Vec<u8> = Vec::new();
    let mut body: Option<u64> = None;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(body.unwrap_or(0));
        }
        match body.as_mut() {
            Some(b) => *b += n as u64,
            None => {
                head.extend_from_slice(buf.get(..n).unwrap_or_default());
                if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    body = Some((head.len() - p - 4) as u64);
                }
            }
        }
    }
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::other(what)
}

fn context(step: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{step}: {e}"))
}

/// A SOCKS5 connection through `socks` to `host:port` (a domain-name
/// request), with `user` as the username (its own isolation key, in Warren
/// and in Tor), that has sent `GET path`. `timeout` bounds each read.
pub fn socks5_get(
    socks: SocketAddr,
    user: &str,
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(socks)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    s.write_all(&[5, 1, 2])?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply)?;
    if reply != [5, 2] {
        return Err(invalid(format!("SOCKS method reply {reply:?}")));
    }
    let user_len = u8::try_from(user.len()).map_err(|_| invalid("long user".into()))?;
    let mut auth = vec![1, user_len];
    auth.extend(user.as_bytes());
    auth.extend([1, b'x']);
    s.write_all(&auth)?;
    s.read_exact(&mut reply)?;
    if reply[1] != 0 {
        return Err(invalid(format!("SOCKS auth reply {reply:?}")));
    }
    let host_len = u8::try_from(host.len()).map_err(|_| invalid("long host".into()))?;
    let mut req = vec![5, 1, 0, 3, host_len];
    req.extend(host.as_bytes());
    req.extend(port.to_be_bytes());
    s.write_all(&req)?;
    let mut connected = [0u8; 10];
    s.read_exact(&mut connected)?;
    if connected[1] != 0 {
        return Err(invalid(format!("SOCKS reply {:#04x}", connected[1])));
    }
    let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(head.as_bytes())?;
    Ok(s)
}

/// What one network measured, through its client's SOCKS port, against
/// the backend behind its onion service.
#[derive(Debug, Clone)]
pub struct Figures {
    /// From the first process started to the first answer through the
    /// onion service.
    pub usable: Duration,
    /// Time to first byte on the open rendezvous circuit (one isolation
    /// key, repeated requests).
    pub warm: Vec<Duration>,
    /// Time to first byte on a new rendezvous (a new isolation key each
    /// request; the descriptor is cached).
    pub fresh: Vec<Duration>,
    /// MB/s straight from the backend, in the same run.
    pub direct_mbs: f64,
    /// MB/s over the onion path (six relays), one circuit.
    pub onion_mbs: f64,
    /// CPU milliseconds per MB that the network's processes (every node,
    /// not the backend nor the downloader) spent over that download.
    pub onion_cpu_ms_per_mb: f64,
    /// MB/s through three hops to the exit and on to the backend, or why
    /// that download failed (the onion figures stand without it).
    pub exit_mbs: Result<f64, String>,
}

/// `bytes` in MB/s over `d`.
fn mbs(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Measures a network whose client listens on `socks`, whose onion service
/// `onion` (port 80) fronts `backend`: `samples` warm and new-rendezvous
/// requests for `/api/hello`, then `bulk` bytes direct, over the onion path
/// and through the exit. `usable` is carried into the result; `nodes` are
/// the network's processes, whose CPU time over the onion download is
/// reported.
pub fn measure(
    socks: SocketAddr,
    onion: &str,
    backend: SocketAddr,
    samples: usize,
    bulk: u64,
    usable: Duration,
    nodes: &[u32],
) -> std::io::Result<Figures> {
    let t60 = Duration::from_secs(60);
    let hello = |user: &str| -> std::io::Result<Duration> {
        let t = Instant::now();
        first_byte(socks5_get(socks, user, onion, 80, "/api/hello", t60)?)?;
        Ok(t.elapsed())
    };
    // The same isolation key each time: the open rendezvous circuit.
    hello("warm").map_err(|e| context("the first warm request", e))?;
    let mut warm = Vec::new();
    for i in 0..samples {
        std::thread::sleep(Duration::from_millis(200));
        warm.push(hello("warm").map_err(|e| context(&format!("warm request {i}"), e))?);
    }
    // A new isolation key per request: a new rendezvous each time.
    let mut fresh = Vec::new();
    for i in 0..samples {
        let user = format!("fresh{i}");
        fresh.push(hello(&user).map_err(|e| context(&format!("new rendezvous {i}"), e))?);
    }
    let large = format!("/large/{bulk}");
    let t = Instant::now();
    let direct = (|| {
        let mut s = TcpStream::connect(backend)?;
        s.write_all(format!("GET {large} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
        check_len(drain(s)?, bulk)
    })();
    direct.map_err(|e| context("the direct download", e))?;
    let direct_mbs = mbs(bulk, t.elapsed());
    let (t, cpu) = (Instant::now(), cpu_time(nodes));
    let onion_bulk = socks5_get(socks, "bulk", onion, 80, &large, t60)
        .and_then(drain)
        .and_then(|n| check_len(n, bulk));
    onion_bulk.map_err(|e| context("the onion bulk download", e))?;
    let onion_mbs = mbs(bulk, t.elapsed());
    let onion_cpu_ms_per_mb =
        cpu_time(nodes).saturating_sub(cpu).as_secs_f64() * 1e3 / (bulk as f64 / 1e6);
    let t = Instant::now();
    let host = backend.ip().to_string();
    let exit_bulk = socks5_get(socks, "exit", &host, backend.port(), &large, t60)
        .and_then(drain)
        .and_then(|n| check_len(n, bulk));
    let exit_mbs = exit_bulk
        .map(|()| mbs(bulk, t.elapsed()))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {} s", t60.as_secs())
            }
            _ => e.to_string(),
        });
    Ok(Figures {
        usable,
        warm,
        fresh,
        direct_mbs,
        onion_mbs,
        onion_cpu_ms_per_mb,
        exit_mbs,
    })
}

/// The CPU time (user and system) that processes `pids` have used so far,
/// from /proc; a process that is gone counts nothing.
pub fn cpu_time(pids: &[u32]) -> Duration {
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name's ')' are fixed: utime, stime
            // are the 12th and 13th.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(user + system)
        })
        .sum();
    // Linux reports in USER_HZ, 100 on every supported architecture.
    Duration::from_millis(ticks * 10)
}

fn check_len(got: u64, want: u64) -> std::io::Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(invalid(format!("{got} body bytes, not {want}")))
    }
}
