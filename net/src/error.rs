//! The error type of `warren-net`.

use std::path::PathBuf;

/// What went wrong while storing or loading keys, or on a link.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A key file could not be read or written.
    #[error("key file {path}: {action} failed: {source}")]
    KeyFileIo {
        /// The file.
        path: PathBuf,
        /// What was being done ("read", "write", "rename", ...).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A key file's contents are not a valid key of the expected kind.
    #[error("key file {path} is not usable: {source}")]
    KeyFileInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: warren_crypto::CryptoError,
    },
    /// A key file can be read by other users.
    #[error(
        "key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` and start again"
    )]
    KeyFileTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file was to be created where one already exists.
    #[error("key file {path} already exists; remove it first if you mean to replace that key")]
    KeyFileExists {
        /// The file.
        path: PathBuf,
    },
    /// The libp2p transport could not be built.
    #[error("cannot set up the network transport: {reason}")]
    Transport {
        /// What libp2p said.
        reason: String,
    },
    /// A listen address could not be bound.
    #[error("cannot listen: {reason}")]
    Listen {
        /// What went wrong.
        reason: String,
    },
    /// A directory request failed or got no usable answer.
    #[error("directory request failed: {reason}")]
    DirRequest {
        /// What went wrong.
        reason: String,
    },
    /// A consensus did not pass the checks of §12.8.
    #[error("consensus rejected: {reason}")]
    ConsensusRejected {
        /// Why, as warren-directory says it.
        reason: String,
    },
    /// No directory source provided a usable consensus.
    #[error("no usable consensus from any directory source (last problem: {reason})")]
    NoConsensus {
        /// The last source's problem.
        reason: String,
    },
    /// A setting cannot be used.
    #[error("configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A link to a peer could not be opened.
    #[error("cannot open a link to the relay: {reason}")]
    OpenLink {
        /// What went wrong.
        reason: String,
    },
    /// A peer id or identity key is not a Warren relay identity.
    #[error("not a relay identity: {reason}")]
    PeerIdentity {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Reading from a link failed.
    #[error("link read failed: {0}")]
    LinkIo(#[source] std::io::Error),
    /// The peer closed a link in the middle of a cell.
    #[error("the peer closed the link {bytes} bytes into a cell")]
    LinkTruncated {
        /// Bytes of the partial cell.
        bytes: usize,
    },
    /// A cell that arrived on a link is malformed.
    #[error("bad cell on a link: {0}")]
    BadCell(#[source] warren_proto::ProtoError),
    /// The link is closed.
    #[error("the link is closed")]
    LinkClosed,
    /// The link's send queue is full: the peer is not keeping up.
    #[error("the link's send queue is full")]
    LinkQueueFull,
    /// The host's swarm task has stopped.
    #[error("the network host has stopped")]
    HostStopped,
    /// A bug in Warren.
    #[error("internal error (a bug in Warren): {reason}")]
    Internal {
        /// What went wrong.
        reason: &'static str,
    },
}
