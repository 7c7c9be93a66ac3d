//! The HTTP proxy entry (docs/spec.md §14.5): `CONNECT host:port` tunnels,
//! and requests with an absolute URI (`GET http://host/path`), forwarded
//! in origin form with `Connection: close`. Errors are HTTP responses with
//! a one-line reason.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest request head accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Headers accepted in one request.
const MAX_HEADERS: usize = 64;

/// A request the proxy will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// A CONNECT tunnel: answer 200 and then carry bytes both ways.
    pub(crate) tunnel: bool,
    /// What to send on the stream first: the rewritten head for a plain
    /// request, and any bytes that came after the head.
    pub(crate) initial: Vec<u8>,
    /// The Proxy-Authorization value, for stream isolation.
    pub(crate) credentials: Option<Vec<u8>>,
}

/// A refusal: status line text and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: &'static str,
    pub(crate) reason: String,
}

fn refuse(status: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason: reason.into(),
    }
}

/// An error response.
pub(crate) fn response(status: &str, reason: &str) -> Vec<u8> {
    let body = format!("{reason}\n");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The answer to a CONNECT once the tunnel is open.
pub(crate) const TUNNEL_OPEN: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

/// Splits `host:port` (`[v6]:port` for IPv6); `default` when no port.
fn authority(text: &str, default: Option<u16>) -> Result<(String, u16), Refusal> {
    let bad = || {
        refuse(
            "400 Bad Request",
            format!("{text:?} is not a host and port"),
        )
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        (h, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => default.ok_or_else(bad)?,
    };
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// Reads and parses one request head from `s`.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Result<Request, Refusal> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|_| refuse("400 Bad Request", "the request could not be read"))?;
        if n == 0 {
            return Err(refuse(
                "400 Bad Request",
                "the request ended before its head did",
            ));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let rest = buf.get(len..).unwrap_or_default();
                return parse(&req, rest);
            }
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err(refuse(
                    "431 Request Header Fields Too Large",
                    "the request head is over 16 KiB or 64 headers",
                ));
            }
            Err(e) => return Err(refuse("400 Bad Request", format!("malformed request: {e}"))),
        }
    }
}

fn parse(req: &httparse::Request<'_, '_>, rest: &[u8]) -> Result<Request, Refusal> {
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Err(refuse("400 Bad Request", "malformed request line"));
    };
    let credentials = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
        .map(|h| h.value.to_vec());
    if method == "CONNECT" {
        let (host, port) = authority(target, None)?;
        return Ok(Request {
            host,
            port,
            tunnel: true,
            initial: rest.to_vec(),
            credentials,
        });
    }
    let Some(after) = target.strip_prefix("http://") else {
        let reason = if target.starts_with("https://") {
            "use CONNECT for https:// URLs"
        } else {
            "this is a proxy: send an absolute URI (http://host/path) or CONNECT"
        };
        return Err(refuse("400 Bad Request", reason));
    };
    let (auth, path) = match after.find('/') {
        Some(i) => after.split_at(i),
        None => (after, "/"),
    };
    let (host, port) = authority(auth, Some(80))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    let mut has_host = false;
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "proxy-connection" | "proxy-authorization" | "connection" | "keep-alive"
        ) {
            continue;
        }
        has_host |= name == "host";
        let value = String::from_utf8_lossy(h.value);
        head.push_str(&format!("{}: {value}\r\n", h.name));
    }
    if !has_host {
        head.push_str(&format!("Host: {auth}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut initial = head.into_bytes();
    initial.extend_from_slice(rest);
    Ok(Request {
        host,
        port,
        tunnel: false,
        initial,
        credentials,
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    fn run(input: &[u8]) -> Result<Request, Refusal> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut s: &[u8] = input;
        rt.block_on(read_request(&mut s))
    }

    #[test]
    fn an_absolute_uri_is_rewritten_to_origin_form() {
        let r = run(b"GET http://api.example:8080/v1/x?y=1 HTTP/1.1\r\nHost: api.example:8080\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\nBODY")
            .unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.tunnel),
            ("api.example", 8080, false)
        );
        assert_eq!(
            String::from_utf8(r.initial).unwrap(),
            "GET /v1/x?y=1 HTTP/1.1\r\nHost: api.example:8080\r\nAccept: */*\r\nConnection: close\r\n\r\nBODY"
        );
    }

    #[test]
    fn connect_opens_a_tunnel() {
        let r =
            run(b"CONNECT [::1]:443 HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.tunnel), ("::1", 443, true));
        assert_eq!(r.credentials.as_deref(), Some(&b"Basic YTpi"[..]));
        assert!(r.initial.is_empty());
    }

    #[test]
    fn bad_requests_get_4xx() {
        assert_eq!(
            run(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().status,
            "400 Bad Request"
        );
        assert_eq!(
            run(b"\x00\x01garbage\r\n\r\n").unwrap_err().status,
            "400 Bad Request"
        );
        assert_eq!(run(b"GET http://x").unwrap_err().status, "400 Bad Request");
        assert_eq!(
            run(b"CONNECT nohost HTTP/1.1\r\n\r\n").unwrap_err().status,
            "400 Bad Request"
        );
        let mut big = b"GET http://a/ HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 20_000));
        assert_eq!(
            run(&big).unwrap_err().status,
            "431 Request Header Fields Too Large"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_heads_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = run(&input);
        }
    }
}
