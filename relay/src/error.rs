//! The error type of `warren-relay`.

/// What stops a relay from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// A setting is unusable.
    #[error("bad relay configuration: {0}")]
    Config(String),
    /// Keys could not be loaded or created.
    #[error(transparent)]
    Keys(warren_net::NetError),
    /// The network host could not start.
    #[error("cannot start the relay's network host: {0}")]
    Host(#[source] warren_net::NetError),
    /// A TCP port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The relay's state directory could not be written.
    #[error("cannot write {path}: {source}")]
    State {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
