//! The demo backend API that `warren testnet` puts behind its onion
//! service, and the load generators measure against: a few JSON endpoints
//! and a large-file endpoint, HTTP/1.1, one request per connection.
//!
//! * `GET /api/hello` — `{"service":"warren-demo","hello":"world"}`
//! * `GET /api/time` — `{"unix":SECONDS}`
//! * `GET /api/echo/TEXT` — `{"echo":"TEXT"}` (TEXT: letters, digits, `-_.`)
//! * `GET /large/BYTES` — BYTES bytes (at most 1 GiB) of a fixed pattern,
//!   with their SHA-256 in the `X-Content-Sha256` header

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// The largest `/large/` body.
const MAX_LARGE: u64 = 1 << 30;
/// Byte `i` of a `/large/` body.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 29) as u8
}

/// Serves on `listener` in threads, forever.
fn serve(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || {
            let _ = handle(conn);
        });
    }
}

/// Binds `addr` and serves in a background thread; returns the bound
/// address.
pub fn start(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::spawn(move || serve(listener));
    Ok(bound)
}

fn handle(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    conn.set_nodelay(true)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || conn.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.extend_from_slice(&byte);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
    if method != "GET" {
        return respond(
            &mut conn,
            "405 Method Not Allowed",
            "application/json",
            b"{\"error\":\"GET only\"}",
        );
    }
    if path == "/api/hello" {
        return respond(
            &mut conn,
            "200 OK",
            "application/json",
            b"{\"service\":\"warren-demo\",\"hello\":\"world\"}",
        );
    }
    if path == "/api/time" {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return respond(
            &mut conn,
            "200 OK",
            "application/json",
            format!("{{\"unix\":{now}}}").as_bytes(),
        );
    }
    if let Some(echo) = path.strip_prefix("/api/echo/")
        && !echo.is_empty()
        && echo.len() <= 256
        && echo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return respond(
            &mut conn,
            "200 OK",
            "application/json",
            format!("{{\"echo\":\"{echo}\"}}").as_bytes(),
        );
    }
    if let Some(n) = path
        .strip_prefix("/large/")
        .and_then(|n| n.parse::<u64>().ok())
        && n <= MAX_LARGE
    {
        return large(&mut conn, n);
    }
    respond(
        &mut conn,
        "404 Not Found",
        "application/json",
        b"{\"error\":\"no such endpoint\"}",
    )
}

fn respond(
    conn: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len(),
    )
    .into_bytes();
    out.extend_from_slice(body);
    conn.write_all(&out)
}

fn large(conn: &mut TcpStream, n: u64) -> std::io::Result<()> {
    let mut hash = Sha256::new();
    let mut chunk = Vec::with_capacity(64 * 1024);
    let mut i = 0;
    while i < n {
        chunk.clear();
        let end = n.min(i + 64 * 1024);
        chunk.extend((i..end).map(pattern));
        hash.update(&chunk);
        i = end;
    }
    let digest = hex::encode(hash.finalize());
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\nX-Content-Sha256: {digest}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes())?;
    let mut i = 0;
    while i < n {
        chunk.clear();
        let end = n.min(i + 64 * 1024);
        chunk.extend((i..end).map(pattern));
        conn.write_all(&chunk)?;
        i = end;
    }
    Ok(())
}
