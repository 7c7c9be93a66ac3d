//! The SOCKS entry (docs/spec.md §14.5): SOCKS5 (RFC 1928) with no
//! authentication or username/password (RFC 1929), CONNECT only, names
//! passed to the exit unresolved; SOCKS4 and SOCKS4a likewise. Malformed,
//! truncated and unsupported requests get the protocol's error reply.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ClientError;

/// A CONNECT request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// SOCKS 4 or 5, for the reply.
    pub(crate) version: u8,
    /// The destination host: a name or an address in text form.
    pub(crate) host: String,
    /// The destination port.
    pub(crate) port: u16,
    /// The credentials given, for stream isolation.
    pub(crate) credentials: Option<Vec<u8>>,
}

/// Why a request cannot be served, with the reply that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The bytes to send before closing (may be empty when the client sent
    /// nothing recognisable as SOCKS).
    pub(crate) reply: Vec<u8>,
    /// For the debug log.
    pub(crate) reason: &'static str,
}

/// SOCKS5 reply codes (RFC 1928 §6).
const GENERAL_FAILURE: u8 = 0x01;
const COMMAND_NOT_SUPPORTED: u8 = 0x07;
const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
/// SOCKS4 reply codes.
const SOCKS4_GRANTED: u8 = 90;
const SOCKS4_REJECTED: u8 = 91;
/// The longest SOCKS4 user id or SOCKS4a host name accepted.
const MAX_SOCKS4_FIELD: usize = 255;

/// A SOCKS5 reply with `code` and an unspecified bound address.
pub(crate) fn socks5_reply(code: u8) -> Vec<u8> {
    vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

/// A SOCKS4 reply.
pub(crate) fn socks4_reply(granted: bool) -> Vec<u8> {
    let code = if granted {
        SOCKS4_GRANTED
    } else {
        SOCKS4_REJECTED
    };
    vec![0, code, 0, 0, 0, 0, 0, 0]
}

/// The success reply for `version`.
pub(crate) fn success(version: u8) -> Vec<u8> {
    if version == 4 {
        socks4_reply(true)
    } else {
        socks5_reply(0)
    }
}

/// The failure reply for `version` and `error`.
pub(crate) fn failure(version: u8, error: &ClientError) -> Vec<u8> {
    if version == 4 {
        socks4_reply(false)
    } else {
        socks5_reply(error.socks5_reply())
    }
}

fn refuse(reply: Vec<u8>, reason: &'static str) -> Refusal {
    Refusal { reply, reason }
}

/// Reads exactly `buf.len()` bytes; a connection that ends first is a
/// truncated request, refused with `on_eof`.
async fn read<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut [u8],
    on_eof: &[u8],
) -> Result<(), Refusal> {
    s.read_exact(buf)
        .await
        .map(|_| ())
        .map_err(|_| refuse(on_eof.to_vec(), "the request is truncated"))
}

/// Reads a NUL-terminated SOCKS4 field of at most 255 bytes.
async fn read_nul<S: AsyncRead + Unpin>(s: &mut S) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    loop {
        let mut b = [0u8; 1];
        read(s, &mut b, &socks4_reply(false)).await?;
        if b[0] == 0 {
            return Ok(out);
        }
        if out.len() == MAX_SOCKS4_FIELD {
            return Err(refuse(socks4_reply(false), "a SOCKS4 field is too long"));
        }
        out.push(b[0]);
    }
}

/// Runs the SOCKS handshake on `s` up to the CONNECT request. Replies to
/// the method negotiation and authentication itself; the CONNECT reply is
/// the caller's, once the stream is open or has failed.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
) -> Result<Request, Refusal> {
    let mut version = [0u8; 1];
    read(s, &mut version, &[]).await?;
    match version[0] {
        5 => socks5(s).await,
        4 => socks4(s).await,
        _ => Err(refuse(
            vec![5, 0xff],
            "not a SOCKS request (the first byte is neither 4 nor 5)",
        )),
    }
}

async fn socks5<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Result<Request, Refusal> {
    let fail = socks5_reply(GENERAL_FAILURE);
    let mut n = [0u8; 1];
    read(s, &mut n, &[5, 0xff]).await?;
    let mut methods = vec![0u8; usize::from(n[0])];
    read(s, &mut methods, &[5, 0xff]).await?;
    // Username/password when offered: it is how applications ask for
    // stream isolation.
    let credentials = if methods.contains(&2) {
        s.write_all(&[5, 2])
            .await
            .map_err(|_| refuse(Vec::new(), "gone"))?;
        let mut head = [0u8; 2];
        read(s, &mut head, &[1, 1]).await?;
        if head[0] != 1 {
            return Err(refuse(
                vec![1, 1],
                "bad username/password subnegotiation version",
            ));
        }
        let mut user = vec![0u8; usize::from(head[1])];
        read(s, &mut user, &[1, 1]).await?;
        let mut plen = [0u8; 1];
        read(s, &mut plen, &[1, 1]).await?;
        let mut pass = vec![0u8; usize::from(plen[0])];
        read(s, &mut pass, &[1, 1]).await?;
        s.write_all(&[1, 0])
            .await
            .map_err(|_| refuse(Vec::new(), "gone"))?;
        let mut creds = user;
        creds.push(0);
        creds.extend(pass);
        Some(creds)
    } else if methods.contains(&0) {
        s.write_all(&[5, 0])
            .await
            .map_err(|_| refuse(Vec::new(), "gone"))?;
        None
    } else {
        return Err(refuse(vec![5, 0xff], "no acceptable authentication method"));
    };
    let mut head = [0u8; 4];
    read(s, &mut head, &fail).await?;
    let [ver, cmd, _, atyp] = head;
    if ver != 5 {
        return Err(refuse(fail, "the request's version is not 5"));
    }
    let host = match atyp {
        1 => {
            let mut a = [0u8; 4];
            read(s, &mut a, &fail).await?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            read(s, &mut len, &fail).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            read(s, &mut name, &fail).await?;
            match String::from_utf8(name) {
                Ok(name) if !name.is_empty() => name,
                _ => return Err(refuse(fail, "the host name is empty or not UTF-8")),
            }
        }
        4 => {
            let mut a = [0u8; 16];
            read(s, &mut a, &fail).await?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => {
            return Err(refuse(
                socks5_reply(ADDRESS_TYPE_NOT_SUPPORTED),
                "unknown address type",
            ));
        }
    };
    let mut port = [0u8; 2];
    read(s, &mut port, &fail).await?;
    if cmd != 1 {
        return Err(refuse(
            socks5_reply(COMMAND_NOT_SUPPORTED),
            "only CONNECT is supported",
        ));
    }
    Ok(Request {
        version: 5,
        host,
        port: u16::from_be_bytes(port),
        credentials,
    })
}

async fn socks4<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> Result<Request, Refusal> {
    let mut head = [0u8; 7];
    read(s, &mut head, &socks4_reply(false)).await?;
    let [cmd, p0, p1, a, b, c, d] = head;
    let user = read_nul(s).await?;
    // 0.0.0.x with x != 0: SOCKS4a, the host name follows.
    let host = if a == 0 && b == 0 && c == 0 && d != 0 {
        match String::from_utf8(read_nul(s).await?) {
            Ok(name) if !name.is_empty() => name,
            _ => {
                return Err(refuse(
                    socks4_reply(false),
                    "the host name is empty or not UTF-8",
                ));
            }
        }
    } else {
        std::net::Ipv4Addr::new(a, b, c, d).to_string()
    };
    if cmd != 1 {
        return Err(refuse(socks4_reply(false), "only CONNECT is supported"));
    }
    Ok(Request {
        version: 4,
        host,
        port: u16::from_be_bytes([p0, p1]),
        credentials: (!user.is_empty()).then_some(user),
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    /// Runs the handshake on `input`; returns its result and what it wrote.
    fn run(input: &[u8]) -> (Result<Request, Refusal>, Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut client, mut server) = tokio::io::duplex(4096);
            client.write_all(input).await.unwrap();
            client.shutdown().await.unwrap();
            let result = handshake(&mut server).await;
            drop(server);
            let mut written = Vec::new();
            client.read_to_end(&mut written).await.unwrap();
            (result, written)
        })
    }

    #[test]
    fn socks5_connect_to_a_name_without_auth() {
        let mut input = vec![5, 1, 0, 5, 1, 0, 3, 11];
        input.extend(b"example.com");
        input.extend(443u16.to_be_bytes());
        let (r, written) = run(&input);
        assert_eq!(
            r.unwrap(),
            Request {
                version: 5,
                host: "example.com".into(),
                port: 443,
                credentials: None
            }
        );
        assert_eq!(written, [5, 0]);
    }

    #[test]
    fn socks5_username_password_becomes_the_isolation_credentials() {
        let mut input = vec![5, 2, 0, 2, 1, 5];
        input.extend(b"alice");
        input.push(3);
        input.extend(b"pw1");
        input.extend([5, 1, 0, 1, 127, 0, 0, 1, 0, 80]);
        let (r, written) = run(&input);
        let r = r.unwrap();
        assert_eq!(r.host, "127.0.0.1");
        assert_eq!(r.credentials.as_deref(), Some(&b"alice\0pw1"[..]));
        assert_eq!(written, [5, 2, 1, 0]);
    }

    #[test]
    fn socks4a_and_socks4() {
        let mut input = vec![4, 1, 0, 80, 0, 0, 0, 1];
        input.extend(b"bob\0example.org\0");
        let r = run(&input).0.unwrap();
        assert_eq!((r.version, r.host.as_str(), r.port), (4, "example.org", 80));
        assert_eq!(r.credentials.as_deref(), Some(&b"bob"[..]));
        let r = run(&[4, 1, 1, 187, 10, 0, 0, 7, 0]).0.unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.credentials),
            ("10.0.0.7", 443, None)
        );
    }

    #[test]
    fn bad_requests_get_their_protocol_replies() {
        // BIND is not supported.
        let refusal = run(&[5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80])
            .0
            .unwrap_err();
        assert_eq!(refusal.reply, socks5_reply(COMMAND_NOT_SUPPORTED));
        // Unknown address type.
        let refusal = run(&[5, 1, 0, 5, 1, 0, 9]).0.unwrap_err();
        assert_eq!(refusal.reply, socks5_reply(ADDRESS_TYPE_NOT_SUPPORTED));
        // Truncated in the middle of the address.
        let refusal = run(&[5, 1, 0, 5, 1, 0, 3, 20, b'a']).0.unwrap_err();
        assert_eq!(refusal.reply, socks5_reply(GENERAL_FAILURE));
        // No acceptable method (GSSAPI only).
        let refusal = run(&[5, 1, 1]).0.unwrap_err();
        assert_eq!(refusal.reply, [5, 0xff]);
        // Not SOCKS at all.
        let refusal = run(b"GET / HTTP/1.1\r\n\r\n").0.unwrap_err();
        assert_eq!(refusal.reply, [5, 0xff]);
        // A SOCKS4 user id that never ends.
        let mut long = vec![4, 1, 0, 80, 1, 2, 3, 4];
        long.extend(std::iter::repeat_n(b'x', 300));
        assert_eq!(run(&long).0.unwrap_err().reply, socks4_reply(false));
    }

    proptest! {
        #[test]
        fn arbitrary_input_is_refused_or_parsed_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = run(&input);
        }
    }
}
