//! The one error type of `warren-proto`, [`ProtoError`], and its coarse
//! [`ErrorKind`] (docs/spec.md §7.8 lists which wire errors exist).
//!
//! Every variant says which object was being read or written and, where it
//! applies, what was expected and what was found. Callers decide what to close
//! from [`ProtoError::kind`]: a protocol violation closes the circuit it
//! arrived on (or the link, for a link-level cell), an internal error is a bug
//! to log.

use crate::cell::{CellCmd, CircId, DestroyReason};
use crate::relay_msg::{RelayCmd, StreamId};

/// An error from decoding, encoding or processing Warren protocol messages.
///
/// Decoders never panic: any truncated, oversized, unknown or non-canonical
/// input yields one of these (docs/spec.md §7.8).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The input ended before `object` was complete.
    #[error("truncated {object}: {missing} more byte(s) needed")]
    Truncated {
        /// What was being read.
        object: &'static str,
        /// How many more bytes the reader wanted.
        missing: usize,
    },
    /// `object` violates a rule of its format.
    #[error("malformed {object}: {reason}")]
    Malformed {
        /// What was being read or written.
        object: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `object` was complete but bytes were left over.
    #[error("{count} unexpected trailing byte(s) after {object}")]
    TrailingBytes {
        /// What was being read.
        object: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// `object` (or a length field declaring it) exceeds its maximum size.
    #[error("{object} is too long: {len} bytes, at most {max} allowed")]
    TooLong {
        /// What was being read or written.
        object: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// `object` has a fixed size and this one differs.
    #[error("{object} has the wrong length: expected {expected} bytes, found {found}")]
    BadLength {
        /// What was being read.
        object: &'static str,
        /// The only length allowed.
        expected: usize,
        /// The length that arrived.
        found: usize,
    },
    /// A list inside `object` holds more items than allowed.
    #[error("{object} has too many {item}: {count}, at most {max} allowed")]
    TooMany {
        /// What was being read or written.
        object: &'static str,
        /// What the list holds.
        item: &'static str,
        /// How many items it holds.
        count: usize,
        /// The largest count allowed.
        max: usize,
    },
    /// A field of `object` that has one allowed value holds another.
    #[error("{object}: {field} must be {expected}, found {found}")]
    BadValue {
        /// What was being read or written.
        object: &'static str,
        /// The field name as the spec gives it.
        field: &'static str,
        /// The value the spec requires.
        expected: u64,
        /// The value that arrived.
        found: u64,
    },
    /// Padding that must be zero is not (non-canonical encoding).
    #[error("non-zero padding in {object} at byte {offset}")]
    NonZeroPadding {
        /// What was being read.
        object: &'static str,
        /// Offset of the first non-zero byte, from the start of `object`.
        offset: usize,
    },
    /// A link cell carries a command this version does not know.
    ///
    /// The undecoded [`crate::cell::Cell`] is left to the caller.
    #[error("unrecognized cell command {cmd}")]
    UnknownCellCmd {
        /// The command byte.
        cmd: CellCmd,
    },
    /// A link cell uses the wrong class of circuit id for its command.
    #[error("{cmd} cell on circuit {circ_id}: expected {expected}")]
    WrongCircId {
        /// The cell command.
        cmd: CellCmd,
        /// The circuit id it carried.
        circ_id: CircId,
        /// What the spec requires.
        expected: &'static str,
    },
    /// A relay message uses the wrong class of stream id for its command.
    #[error("{cmd} message on stream {stream_id}: expected {expected}")]
    WrongStreamId {
        /// The relay command.
        cmd: RelayCmd,
        /// The stream id it carried.
        stream_id: StreamId,
        /// What the spec requires.
        expected: &'static str,
    },
    /// The layer crypto or the circuit handshake refused a cell (§4, §5).
    #[error("cryptographic check failed: {0}")]
    Crypto(#[from] warren_crypto::CryptoError),
    /// A relay cell was recognised by no layer where it had to end (§9.4,
    /// §9.5).
    #[error(
        "a relay cell was not recognised at {at}: it was altered, replayed, reordered, dropped or injected on the way"
    )]
    Unrecognized {
        /// Where recognition failed.
        at: &'static str,
    },
    /// A circuit cannot do this in its current state (§9).
    #[error("cannot {action} a circuit that is {state}")]
    CircuitState {
        /// What was asked.
        action: &'static str,
        /// The state that forbids it.
        state: &'static str,
    },
    /// The circuit is already torn down.
    #[error("the circuit is closed")]
    CircuitClosed,
    /// A link cell that this circuit state does not accept (§9).
    #[error("a {cmd} cell is not allowed on a {state}")]
    UnexpectedCell {
        /// The state it arrived in.
        state: &'static str,
        /// Its command.
        cmd: CellCmd,
    },
    /// A relay message that this circuit end does not accept (§9.4, §9.5).
    #[error("a {cmd} message is not allowed at a {state}")]
    UnexpectedMessage {
        /// The end and state it arrived at.
        state: &'static str,
        /// Its command.
        cmd: RelayCmd,
    },
    /// CREATE or EXTEND named a handshake this relay does not speak (§4.1).
    #[error("unknown handshake type {handshake_type} (only 2, ntor, is spoken)")]
    UnknownHandshake {
        /// The type that arrived.
        handshake_type: u16,
    },
    /// A SENDME that breaks the flow-control rules (§10.3).
    #[error("bad SENDME: {reason}")]
    BadSendme {
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The peer sent DATA beyond a window (§10.3).
    #[error("the peer sent DATA beyond the {object} window")]
    WindowExceeded {
        /// "circuit" or "stream".
        object: &'static str,
    },
    /// A message or call for a stream that is not open on this circuit
    /// (§10.1).
    #[error("{cmd} for stream {id}, which is not open on this circuit")]
    UnknownStream {
        /// The stream id.
        id: u16,
        /// What arrived, or "local call".
        cmd: &'static str,
    },
    /// A stream cannot do this in its current state (§10.1).
    #[error("cannot {action} stream {id} in its current state")]
    StreamState {
        /// The stream id.
        id: u16,
        /// What was asked.
        action: &'static str,
    },
    /// This circuit end is on the wrong side of its streams for the call.
    #[error("this circuit end cannot {action}")]
    WrongStreamRole {
        /// What was asked.
        action: &'static str,
    },
    /// A circuit end already holds as many streams as allowed (§10.1).
    #[error("too many streams on one circuit (at most {max})")]
    TooManyStreams {
        /// The limit.
        max: usize,
    },
    /// A bug in Warren: an invariant the code relies on did not hold.
    #[error("internal error (a bug in Warren): {reason}")]
    Internal {
        /// What went wrong.
        reason: &'static str,
    },
}

/// The coarse class of a [`ProtoError`], used to choose a reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer sent something the protocol forbids: close the circuit (or
    /// the link, for a link-level cell) and do not retry with this peer
    /// blindly.
    ProtocolViolation,
    /// A local or per-peer resource limit was hit: shed load.
    ResourceLimit,
    /// The link to a peer failed.
    LinkIo,
    /// The local configuration is unusable.
    BadConfig,
    /// A bug in Warren: log it.
    Internal,
}

impl ProtoError {
    /// The coarse class of this error.
    ///
    /// Codec errors are protocol violations when they come from decoding
    /// peer input. An encoder returns the same variants when the caller built
    /// a message that cannot be encoded (say, too long); a caller encoding its
    /// own messages should treat those as [`ErrorKind::Internal`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Truncated { .. }
            | Self::Malformed { .. }
            | Self::TrailingBytes { .. }
            | Self::TooLong { .. }
            | Self::BadLength { .. }
            | Self::TooMany { .. }
            | Self::BadValue { .. }
            | Self::NonZeroPadding { .. }
            | Self::UnknownCellCmd { .. }
            | Self::WrongCircId { .. }
            | Self::WrongStreamId { .. }
            | Self::Unrecognized { .. }
            | Self::CircuitState { .. }
            | Self::UnexpectedCell { .. }
            | Self::UnexpectedMessage { .. }
            | Self::UnknownHandshake { .. }
            | Self::BadSendme { .. }
            | Self::WindowExceeded { .. }
            | Self::UnknownStream { .. }
            | Self::StreamState { .. } => ErrorKind::ProtocolViolation,
            Self::Crypto(warren_crypto::CryptoError::CounterExhausted) => ErrorKind::ResourceLimit,
            Self::Crypto(_) => ErrorKind::ProtocolViolation,
            Self::TooManyStreams { .. } => ErrorKind::ResourceLimit,
            Self::CircuitClosed => ErrorKind::LinkIo,
            Self::WrongStreamRole { .. } | Self::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The reason a circuit torn down for this error carries in its DESTROY
    /// (§7.5): INTEGRITY when a cell failed authentication or recognition,
    /// RESOURCELIMIT and INTERNAL for those kinds, PROTOCOL otherwise.
    pub fn destroy_reason(&self) -> DestroyReason {
        match self {
            Self::Crypto(warren_crypto::CryptoError::BadTag) | Self::Unrecognized { .. } => {
                DestroyReason::INTEGRITY
            }
            _ => match self.kind() {
                ErrorKind::ResourceLimit => DestroyReason::RESOURCELIMIT,
                ErrorKind::Internal => DestroyReason::INTERNAL,
                _ => DestroyReason::PROTOCOL,
            },
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ProtocolViolation => "protocol violation",
            Self::ResourceLimit => "resource limit",
            Self::LinkIo => "link I/O error",
            Self::BadConfig => "bad configuration",
            Self::Internal => "internal error",
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn messages_name_the_object_and_sizes() {
        let e = ProtoError::TooLong {
            object: "DATA message",
            len: 600,
            max: 483,
        };
        assert_eq!(
            e.to_string(),
            "DATA message is too long: 600 bytes, at most 483 allowed"
        );
        assert_eq!(e.kind(), ErrorKind::ProtocolViolation);
        let e = ProtoError::WrongStreamId {
            cmd: RelayCmd::BEGIN,
            stream_id: StreamId(0),
            expected: "a non-zero stream id",
        };
        assert_eq!(
            e.to_string(),
            "BEGIN message on stream 0: expected a non-zero stream id"
        );
        let e = ProtoError::Internal { reason: "x" };
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(ErrorKind::Internal.to_string(), "internal error");
    }
}
