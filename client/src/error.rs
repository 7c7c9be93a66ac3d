//! The error type of `warren-client`, and how each error is told to a
//! local application in its own protocol (docs/spec.md §14.5).

/// What went wrong for the client or for one of its streams.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A setting is unusable.
    #[error("bad client configuration: {0}")]
    Config(String),
    /// The network host could not start.
    #[error("cannot start the client's network host: {0}")]
    Host(#[source] warren_net::NetError),
    /// A local port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The client's state could not be written.
    #[error("cannot write {path}: {source}")]
    State {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No valid consensus yet (or any more).
    #[error(
        "no valid consensus: the client is still bootstrapping, or every directory source is unreachable"
    )]
    NotReady,
    /// No exit's policy allows the destination.
    #[error("no exit allows connections to {0}")]
    NotAllowed(String),
    /// The onion service restricts discovery and this client is not one
    /// of those it lists (§15.3).
    #[error("{0}")]
    NotAuthorised(String),
    /// The destination cannot be reached: a mistyped address, a name that
    /// does not resolve, no route.
    #[error("{0}")]
    Unreachable(String),
    /// The destination refused the connection.
    #[error("the destination refused the connection")]
    Refused,
    /// The destination or the network took too long.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// No circuit could be built.
    #[error("cannot build a circuit: {0}")]
    Build(String),
    /// A condition the code rules out happened anyway.
    #[error("internal error: {0} (a bug in warren-client)")]
    Internal(&'static str),
}

impl ClientError {
    /// The SOCKS5 reply code (RFC 1928 §6) for this failure.
    pub fn socks5_reply(&self) -> u8 {
        match self {
            Self::NotAllowed(_) | Self::NotAuthorised(_) => 0x02,
            Self::Unreachable(_) => 0x04,
            Self::Refused => 0x05,
            Self::TimedOut(_) => 0x06,
            Self::NotReady | Self::Build(_) => 0x03,
            _ => 0x01,
        }
    }

    /// The HTTP status line text for this failure.
    pub fn http_status(&self) -> &'static str {
        match self {
            Self::NotAllowed(_) | Self::NotAuthorised(_) => "403 Forbidden",
            Self::Unreachable(_) => "404 Not Found",
            Self::Refused => "502 Bad Gateway",
            Self::TimedOut(_) => "504 Gateway Timeout",
            Self::NotReady | Self::Build(_) => "503 Service Unavailable",
            _ => "500 Internal Server Error",
        }
    }
}
