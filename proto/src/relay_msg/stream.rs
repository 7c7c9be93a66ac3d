//! Stream messages (docs/spec.md §8.3, §8.6–§8.8): BEGIN, DATA, END, CONNECTED.
//!
//! All of them travel on a non-zero stream id.

use super::RELAY_DATA_MAX;
use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer, open_enum};

/// BEGIN: `port u16 | host_len u8 | host` (docs/spec.md §8.3).
///
/// The host is printable ASCII without `:` or whitespace. An empty host
/// means "the onion service itself" on a rendezvous circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The host name or address literal to connect to; may be empty.
    pub host: String,
    /// The port to connect to; never 0.
    pub port: u16,
}

/// Object name of BEGIN, for errors.
const BEGIN: &str = "BEGIN message";

impl Begin {
    /// A BEGIN to `host:port`, checked as the decoder would.
    pub fn new(host: impl Into<String>, port: u16) -> Result<Self, ProtoError> {
        let b = Self {
            host: host.into(),
            port,
        };
        check_begin(b.host.as_bytes(), b.port)?;
        Ok(b)
    }

    /// The host and port, owned.
    pub fn into_parts(self) -> (String, u16) {
        (self.host, self.port)
    }
}

/// Checks the BEGIN rules of docs/spec.md §8.3.
fn check_begin(host: &[u8], port: u16) -> Result<(), ProtoError> {
    if port == 0 {
        return Err(ProtoError::Malformed {
            object: BEGIN,
            reason: "port 0 is not a valid port",
        });
    }
    if !host.iter().all(|&c| c.is_ascii_graphic() && c != b':') {
        return Err(ProtoError::Malformed {
            object: BEGIN,
            reason: "the host must be printable ASCII without ':' or whitespace",
        });
    }
    Ok(())
}

impl Readable for Begin {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let port = r.u16()?;
        let host = r.u8_prefixed(u8::MAX.into())?;
        check_begin(host, port)?;
        let host = std::str::from_utf8(host).map_err(|_| ProtoError::Malformed {
            object: BEGIN,
            reason: "the host is not ASCII",
        })?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl Writeable for Begin {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        check_begin(self.host.as_bytes(), self.port)?;
        w.u16(self.port);
        w.u8_prefixed("BEGIN host", self.host.as_bytes(), u8::MAX.into())
    }
}

/// DATA: the message data is the stream data itself, 1 to
/// [`RELAY_DATA_MAX`] bytes (docs/spec.md §8.7).
#[derive(Clone, PartialEq, Eq)]
pub struct Data {
    /// The stream bytes; never empty, never longer than [`RELAY_DATA_MAX`].
    data: Vec<u8>,
}

impl Data {
    /// The most bytes one DATA message carries.
    pub const MAX_LEN: usize = RELAY_DATA_MAX;

    /// A DATA message carrying `data`, which must hold 1 to
    /// [`Data::MAX_LEN`] bytes.
    pub fn new(data: impl Into<Vec<u8>>) -> Result<Self, ProtoError> {
        let data = data.into();
        if data.is_empty() {
            return Err(ProtoError::Malformed {
                object: "DATA message",
                reason: "a DATA message carries at least one byte",
            });
        }
        if data.len() > Self::MAX_LEN {
            return Err(ProtoError::TooLong {
                object: "DATA message",
                len: data.len(),
                max: Self::MAX_LEN,
            });
        }
        Ok(Self { data })
    }

    /// The stream bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// The stream bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }
}

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Stream contents stay out of logs; the length is enough to debug.
        write!(f, "Data({} bytes)", self.data.len())
    }
}

impl Readable for Data {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Self::new(r.take_rest())
    }
}

impl Writeable for Data {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.bytes(&self.data);
        Ok(())
    }
}

/// END: `reason u8` (docs/spec.md §8.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// Why the stream closed.
    pub reason: EndReason,
}

open_enum! {
    /// Why a stream closed (docs/spec.md §8.8).
    pub struct EndReason(u8);
    /// A reason not listed here.
    MISC = 1 => "unspecified reason",
    /// The host name could not be resolved.
    RESOLVEFAILED = 2 => "could not resolve the host name",
    /// The destination refused the connection.
    CONNECTREFUSED = 3 => "connection refused",
    /// The exit policy forbids the destination.
    EXITPOLICY = 4 => "the exit policy forbids this destination",
    /// The circuit is being destroyed.
    DESTROY = 5 => "the circuit was destroyed",
    /// The stream closed normally.
    DONE = 6 => "stream closed normally",
    /// Connecting timed out.
    TIMEOUT = 7 => "connection timed out",
    /// No route to the destination.
    NOROUTE = 8 => "no route to host",
    /// The relay is hibernating.
    HIBERNATING = 9 => "relay is hibernating",
    /// An internal error at the relay.
    INTERNAL = 10 => "internal error at the relay",
    /// The relay is out of resources.
    RESOURCELIMIT = 11 => "relay is out of resources",
    /// The connection was reset.
    CONNRESET = 12 => "connection reset",
    /// A protocol violation.
    PROTOCOL = 13 => "protocol violation",
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.description() {
            Some(d) => f.write_str(d),
            None => write!(f, "unrecognized end reason {}", self.0),
        }
    }
}

impl Readable for End {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self {
            reason: EndReason(r.u8()?),
        })
    }
}

impl Writeable for End {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.u8(self.reason.0);
        Ok(())
    }
}

/// CONNECTED: empty (docs/spec.md §8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Connected;

impl Readable for Connected {
    fn take_from(_: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self)
    }
}

impl Writeable for Connected {
    fn write_onto(&self, _: &mut Writer) -> Result<(), ProtoError> {
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::relay_msg::{RelayCmd, RelayMsg};

    fn decode(cmd: RelayCmd, data: &[u8]) -> Result<RelayMsg, ProtoError> {
        RelayMsg::decode_data(cmd, data)
    }

    #[test]
    fn begin_layout_and_rules() {
        let b = Begin::new("example.com", 443).unwrap();
        let v = RelayMsg::from(b.clone()).encode_data().unwrap();
        assert_eq!(&v[..3], &[0x01, 0xbb, 11]);
        assert_eq!(&v[3..], b"example.com");
        assert_eq!(decode(RelayCmd::BEGIN, &v).unwrap(), RelayMsg::Begin(b));
        // Empty host: the onion service itself.
        assert!(decode(RelayCmd::BEGIN, &[0, 80, 0]).is_ok());
        for bad in [
            &[0, 0, 0][..],
            &[0, 80, 1, b':'],
            &[0, 80, 1, b' '],
            &[0, 80, 1, 0xc3],
        ] {
            assert!(matches!(
                decode(RelayCmd::BEGIN, bad),
                Err(ProtoError::Malformed { object: BEGIN, .. })
            ));
        }
        assert!(matches!(
            decode(RelayCmd::BEGIN, &[0, 80, 2, b'a']),
            Err(ProtoError::Truncated { missing: 1, .. })
        ));
        assert!(Begin::new("a:b", 1).is_err());
        let bad = Begin {
            host: "x".into(),
            port: 0,
        };
        assert!(RelayMsg::from(bad).encode_data().is_err());
    }

    #[test]
    fn data_bounds() {
        assert!(Data::new(Vec::new()).is_err());
        assert!(matches!(
            Data::new(vec![0; 484]),
            Err(ProtoError::TooLong {
                len: 484,
                max: 483,
                ..
            })
        ));
        let d = Data::new(vec![7; 483]).unwrap();
        assert_eq!(d.as_bytes().len(), 483);
        assert_eq!(format!("{d:?}"), "Data(483 bytes)");
        assert!(decode(RelayCmd::DATA, &[]).is_err());
        assert_eq!(d.into_bytes(), vec![7; 483]);
    }

    #[test]
    fn end_and_connected() {
        assert_eq!(
            decode(RelayCmd::END, &[6]).unwrap(),
            RelayMsg::End(End {
                reason: EndReason::DONE
            })
        );
        assert!(matches!(
            decode(RelayCmd::END, &[]),
            Err(ProtoError::Truncated { .. })
        ));
        assert!(matches!(
            decode(RelayCmd::END, &[6, 6]),
            Err(ProtoError::TrailingBytes { count: 1, .. })
        ));
        assert_eq!(
            decode(RelayCmd::CONNECTED, &[]).unwrap(),
            RelayMsg::Connected(Connected)
        );
        assert_eq!(
            EndReason::EXITPOLICY.to_string(),
            "the exit policy forbids this destination"
        );
        assert_eq!(EndReason(0).to_string(), "unrecognized end reason 0");
        assert_eq!(EndReason::ALL.len(), 13);
    }
}
