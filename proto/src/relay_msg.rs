//! Relay messages (docs/spec.md §8 and §11): the plaintext of a relay cell
//! body as the hop or origin it is addressed to sees it, after layer crypto.
//!
//! ```text
//! body[0..8]    marker     } owned by the layer crypto (warren-crypto):
//! body[8..24]   tag        } left zero on encode, ignored on decode
//! body[24]      relay_cmd  u8
//! body[25..27]  stream_id  u16
//! body[27..29]  length     u16, at most RELAY_DATA_MAX (483)
//! body[29..]    data[length], then zero padding to 512 bytes
//! ```
//!
//! [`RelayCell`] frames one [`RelayMsg`]; each message type is its own struct
//! in a submodule, grouped by concern. Unknown commands decode as
//! [`Unrecognized`] so that they round-trip; the state machines refuse them.

mod extend;
mod extension;
mod flow;
mod intro;
mod introduce;
mod introduce_payload;
mod rendezvous;
mod stream;

#[cfg(test)]
mod arb;

pub use extend::{Extend, Extended, LINK_SPECS_MAX, LinkSpec, LinkSpecType};
pub use extension::{EXTENSIONS_MAX, Extension, ExtensionType};
pub use flow::{Drop, SENDME_TAG_LEN, SENDME_VERSION, Sendme};
pub use intro::{
    AUTH_KEY_LEN, AUTH_KEY_TYPE_ED25519, EstablishIntro, HANDSHAKE_AUTH_LABEL, IntroEstablished,
};
pub use introduce::{Introduce1, Introduce2, IntroduceAck, IntroduceAckStatus};
pub use introduce_payload::{INTRODUCE_PAYLOAD_LEN, IntroducePayload};
pub use rendezvous::{
    EstablishRendezvous, REND_COOKIE_LEN, Rendezvous1, Rendezvous2, RendezvousEstablished,
};
pub use stream::{Begin, Connected, Data, End, EndReason};

use crate::ProtoError;
use crate::codec::{Reader, Writer, open_enum};
use warren_crypto::layer::{AUTH_HEADER_LEN, RELAY_BODY_LEN, RelayBody};

/// Length of the relay header `relay_cmd u8 | stream_id u16 | length u16`
/// (docs/spec.md §8.1).
pub const RELAY_HEADER_LEN: usize = 5;

/// The most data one relay message can carry: 512 − 24 − 5 = 483 bytes
/// (docs/spec.md §8.1).
pub const RELAY_DATA_MAX: usize = RELAY_BODY_LEN - AUTH_HEADER_LEN - RELAY_HEADER_LEN;

/// A stream id, local to one circuit (docs/spec.md §8.1).
///
/// Id 0 means the message is about the circuit, not a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StreamId(pub u16);

impl StreamId {
    /// The circuit-level id 0.
    pub const CIRCUIT: Self = Self(0);

    /// Whether this is the circuit-level id 0.
    pub fn is_circuit(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

open_enum! {
    /// A relay command (docs/spec.md §8.2).
    pub struct RelayCmd(u8);
    /// Open a stream to a host and port (§8.3).
    BEGIN = 1 => "open a stream",
    /// Stream data (§8.7).
    DATA = 2 => "stream data",
    /// Close a stream (§8.8).
    END = 3 => "close a stream",
    /// A stream is open (§8.6).
    CONNECTED = 4 => "stream connected",
    /// Flow-control acknowledgement (§8.9).
    SENDME = 5 => "flow-control acknowledgement",
    /// Extend the circuit by one hop (§8.4).
    EXTEND = 6 => "extend the circuit",
    /// The circuit was extended (§8.5).
    EXTENDED = 7 => "circuit extended",
    /// Long-range padding, dropped by its recipient (§8.10).
    DROP = 10 => "long-range padding",
    /// A service asks a relay to be its introduction point (§11.2).
    ESTABLISH_INTRO = 32 => "establish an introduction point",
    /// A client asks a relay to be its rendezvous point (§11.6).
    ESTABLISH_RENDEZVOUS = 33 => "establish a rendezvous point",
    /// A client's introduction, sent to the introduction point (§11.4).
    INTRODUCE1 = 34 => "introduction from a client",
    /// A client's introduction, relayed to the service (§11.4).
    INTRODUCE2 = 35 => "introduction relayed to the service",
    /// The service's handshake, sent to the rendezvous point (§11.8).
    RENDEZVOUS1 = 36 => "rendezvous from the service",
    /// The service's handshake, relayed to the client (§11.9).
    RENDEZVOUS2 = 37 => "rendezvous relayed to the client",
    /// The introduction point is established (§11.3).
    INTRO_ESTABLISHED = 38 => "introduction point established",
    /// The rendezvous point is established (§11.7).
    RENDEZVOUS_ESTABLISHED = 39 => "rendezvous point established",
    /// The introduction point's answer to INTRODUCE1 (§11.5).
    INTRODUCE_ACK = 40 => "introduction acknowledged",
}

impl std::fmt::Display for RelayCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unrecognized relay command {}", self.0),
        }
    }
}

/// Which class of stream id a relay command needs (docs/spec.md §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamIdClass {
    /// A non-zero stream id: the message belongs to a stream.
    Stream,
    /// Stream id 0: the message is about the circuit.
    Circuit,
    /// Either (SENDME, and commands this version does not know).
    Either,
}

impl RelayCmd {
    /// The class of stream id this command needs.
    pub fn stream_id_class(self) -> StreamIdClass {
        match self {
            Self::BEGIN | Self::DATA | Self::END | Self::CONNECTED => StreamIdClass::Stream,
            Self::SENDME => StreamIdClass::Either,
            c if c.is_recognized() => StreamIdClass::Circuit,
            _ => StreamIdClass::Either,
        }
    }

    /// Checks that `stream_id` has the class this command needs.
    pub fn check_stream_id(self, stream_id: StreamId) -> Result<(), ProtoError> {
        let expected = match (self.stream_id_class(), stream_id.is_circuit()) {
            (StreamIdClass::Stream, true) => "a non-zero stream id",
            (StreamIdClass::Circuit, false) => "stream id 0",
            _ => return Ok(()),
        };
        Err(ProtoError::WrongStreamId {
            cmd: self,
            stream_id,
            expected,
        })
    }
}

/// A message whose command this version does not know; it round-trips
/// unchanged (docs/spec.md §8.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecognized {
    /// The command, which is not one of [`RelayCmd::ALL`].
    pub cmd: RelayCmd,
    /// The message data as it arrived.
    pub data: Vec<u8>,
}

/// Declares [`RelayMsg`] and its dispatch from one table.
macro_rules! relay_msgs {
    ($( $(#[$m:meta])* $variant:ident = $cmd:ident, )+) => {
        /// One decoded relay message (docs/spec.md §8.2).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum RelayMsg {
            $( $(#[$m])* $variant($variant), )+
            /// A command this version does not know.
            Unrecognized(Unrecognized),
        }

        impl RelayMsg {
            /// The relay command of this message.
            pub fn cmd(&self) -> RelayCmd {
                match self {
                    $( Self::$variant(_) => RelayCmd::$cmd, )+
                    Self::Unrecognized(u) => u.cmd,
                }
            }

            /// Decodes the message data `data` of a `cmd` message. All of
            /// `data` must be used.
            pub fn decode_data(cmd: RelayCmd, data: &[u8]) -> Result<Self, ProtoError> {
                let msg = match cmd {
                    $( RelayCmd::$cmd => {
                        let mut r = Reader::new(data, concat!(stringify!($cmd), " message"));
                        let m = Self::$variant(r.extract()?);
                        r.should_be_exhausted()?;
                        m
                    } )+
                    _ => Self::Unrecognized(Unrecognized { cmd, data: data.to_vec() }),
                };
                Ok(msg)
            }

            /// Encodes the message data, checking that it fits in
            /// [`RELAY_DATA_MAX`] bytes.
            pub fn encode_data(&self) -> Result<Vec<u8>, ProtoError> {
                let mut w = Writer::with_capacity(RELAY_DATA_MAX);
                let object = match self {
                    $( Self::$variant(m) => {
                        w.write(m)?;
                        concat!(stringify!($cmd), " message")
                    } )+
                    Self::Unrecognized(u) => {
                        if u.cmd.is_recognized() {
                            return Err(ProtoError::Malformed {
                                object: "unrecognized relay message",
                                reason: "its command is a recognized one",
                            });
                        }
                        w.bytes(&u.data);
                        "unrecognized relay message"
                    }
                };
                if w.len() > RELAY_DATA_MAX {
                    return Err(ProtoError::TooLong { object, len: w.len(), max: RELAY_DATA_MAX });
                }
                Ok(w.into_vec())
            }
        }

        $(
            impl From<$variant> for RelayMsg {
                fn from(m: $variant) -> Self {
                    Self::$variant(m)
                }
            }
        )+
    };
}

relay_msgs! {
    /// BEGIN (§8.3).
    Begin = BEGIN,
    /// DATA (§8.7).
    Data = DATA,
    /// END (§8.8).
    End = END,
    /// CONNECTED (§8.6).
    Connected = CONNECTED,
    /// SENDME (§8.9).
    Sendme = SENDME,
    /// DROP (§8.10).
    Drop = DROP,
    /// EXTEND (§8.4).
    Extend = EXTEND,
    /// EXTENDED (§8.5).
    Extended = EXTENDED,
    /// ESTABLISH_INTRO (§11.2).
    EstablishIntro = ESTABLISH_INTRO,
    /// INTRO_ESTABLISHED (§11.3).
    IntroEstablished = INTRO_ESTABLISHED,
    /// INTRODUCE1 (§11.4).
    Introduce1 = INTRODUCE1,
    /// INTRODUCE2 (§11.4).
    Introduce2 = INTRODUCE2,
    /// INTRODUCE_ACK (§11.5).
    IntroduceAck = INTRODUCE_ACK,
    /// ESTABLISH_RENDEZVOUS (§11.6).
    EstablishRendezvous = ESTABLISH_RENDEZVOUS,
    /// RENDEZVOUS_ESTABLISHED (§11.7).
    RendezvousEstablished = RENDEZVOUS_ESTABLISHED,
    /// RENDEZVOUS1 (§11.8).
    Rendezvous1 = RENDEZVOUS1,
    /// RENDEZVOUS2 (§11.9).
    Rendezvous2 = RENDEZVOUS2,
}

impl RelayMsg {
    /// Whether this is an onion-service message (docs/spec.md §11):
    /// ESTABLISH_INTRO through INTRODUCE_ACK.
    pub fn is_onion_service_msg(&self) -> bool {
        matches!(
            self,
            Self::EstablishIntro(_)
                | Self::IntroEstablished(_)
                | Self::Introduce1(_)
                | Self::Introduce2(_)
                | Self::IntroduceAck(_)
                | Self::EstablishRendezvous(_)
                | Self::RendezvousEstablished(_)
                | Self::Rendezvous1(_)
                | Self::Rendezvous2(_)
        )
    }
}

impl From<Unrecognized> for RelayMsg {
    fn from(m: Unrecognized) -> Self {
        Self::Unrecognized(m)
    }
}

/// Checks that `data` is exactly `expected` bytes long.
fn fixed_len(object: &'static str, data: &[u8], expected: usize) -> Result<(), ProtoError> {
    if data.len() == expected {
        return Ok(());
    }
    Err(ProtoError::BadLength {
        object,
        expected,
        found: data.len(),
    })
}

/// A relay message with its stream id: the plaintext of one relay cell body
/// (docs/spec.md §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCell {
    /// The stream the message belongs to, or 0 for the circuit.
    pub stream_id: StreamId,
    /// The message.
    pub msg: RelayMsg,
}

impl RelayCell {
    /// A relay cell carrying `msg` on `stream_id`.
    pub fn new(stream_id: StreamId, msg: impl Into<RelayMsg>) -> Self {
        Self {
            stream_id,
            msg: msg.into(),
        }
    }

    /// Writes the plaintext body: `body[0..24]` zero (for the layer crypto),
    /// then header, data and zero padding (docs/spec.md §8.1).
    ///
    /// On error `body` is unchanged.
    pub fn encode(&self, body: &mut RelayBody) -> Result<(), ProtoError> {
        let cmd = self.msg.cmd();
        cmd.check_stream_id(self.stream_id)?;
        let data = self.msg.encode_data()?;
        let len = u16::try_from(data.len()).map_err(|_| ProtoError::Internal {
            reason: "relay data length exceeds u16",
        })?;
        // `encode_data` keeps `data` within RELAY_DATA_MAX, so it fits.
        let (auth, rest) = body.split_at_mut(AUTH_HEADER_LEN);
        let (header, rest) = rest.split_at_mut(RELAY_HEADER_LEN);
        let (payload, padding) = rest.split_at_mut(data.len());
        auth.fill(0);
        let [id_hi, id_lo] = self.stream_id.0.to_be_bytes();
        let [len_hi, len_lo] = len.to_be_bytes();
        header.copy_from_slice(&[cmd.0, id_hi, id_lo, len_hi, len_lo]);
        payload.copy_from_slice(&data);
        padding.fill(0);
        Ok(())
    }

    /// Decodes a plaintext body; `body[0..24]` is ignored. The padding after
    /// the data must be zero.
    pub fn decode(body: &RelayBody) -> Result<Self, ProtoError> {
        let mut r = Reader::new(body, "relay cell");
        r.take(AUTH_HEADER_LEN)?;
        let cmd = RelayCmd(r.u8()?);
        let stream_id = StreamId(r.u16()?);
        let data = r.u16_prefixed(RELAY_DATA_MAX)?;
        r.expect_zero_padding()?;
        cmd.check_stream_id(stream_id)?;
        let msg = RelayMsg::decode_data(cmd, data)?;
        Ok(Self { stream_id, msg })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    /// A plaintext body with `head` at offset 24.
    fn body(head: &[u8]) -> RelayBody {
        let mut b = [0; RELAY_BODY_LEN];
        b[AUTH_HEADER_LEN..AUTH_HEADER_LEN + head.len()].copy_from_slice(head);
        b
    }

    #[test]
    fn layout_of_a_data_cell() {
        let cell = RelayCell::new(StreamId(7), Data::new(b"hi".to_vec()).unwrap());
        let mut b = [0xff; RELAY_BODY_LEN];
        cell.encode(&mut b).unwrap();
        assert_eq!(b, body(&[2, 0, 7, 0, 2, b'h', b'i']));
        // The marker and tag are ignored on decode.
        b[..AUTH_HEADER_LEN].fill(0x55);
        assert_eq!(RelayCell::decode(&b).unwrap(), cell);
    }

    #[test]
    fn stream_id_classes() {
        let b = body(&[RelayCmd::CONNECTED.0, 0, 0, 0, 0]);
        assert!(matches!(
            RelayCell::decode(&b),
            Err(ProtoError::WrongStreamId {
                expected: "a non-zero stream id",
                ..
            })
        ));
        let b = body(&[RelayCmd::RENDEZVOUS_ESTABLISHED.0, 0, 1, 0, 0]);
        assert!(matches!(
            RelayCell::decode(&b),
            Err(ProtoError::WrongStreamId {
                expected: "stream id 0",
                ..
            })
        ));
        for id in [0, 9] {
            let b = body(&[RelayCmd::SENDME.0, 0, id, 0, 0]);
            assert!(RelayCell::decode(&b).is_ok());
        }
        let cell = RelayCell::new(
            StreamId(0),
            End {
                reason: EndReason::DONE,
            },
        );
        let mut b = [0; RELAY_BODY_LEN];
        assert!(cell.encode(&mut b).is_err());
        assert_eq!(b, [0; RELAY_BODY_LEN]);
    }

    #[test]
    fn non_canonical_framing() {
        let b = body(&[RelayCmd::DATA.0, 0, 1, 0x01, 0xe4]);
        assert!(matches!(
            RelayCell::decode(&b),
            Err(ProtoError::TooLong {
                len: 484,
                max: 483,
                ..
            })
        ));
        let b = body(&[RelayCmd::CONNECTED.0, 0, 1, 0, 0, 0, 0, 1]);
        assert!(matches!(
            RelayCell::decode(&b),
            Err(ProtoError::NonZeroPadding { offset: 31, .. })
        ));
        let b = body(&[RelayCmd::CONNECTED.0, 0, 1, 0, 1, 0]);
        assert!(matches!(
            RelayCell::decode(&b),
            Err(ProtoError::TrailingBytes {
                object: "CONNECTED message",
                count: 1
            })
        ));
    }

    #[test]
    fn unrecognized_round_trips_and_known_cmd_refused() {
        let cell = RelayCell::new(
            StreamId(3),
            Unrecognized {
                cmd: RelayCmd(99),
                data: vec![1, 2, 3],
            },
        );
        let mut b = [0; RELAY_BODY_LEN];
        cell.encode(&mut b).unwrap();
        assert_eq!(RelayCell::decode(&b).unwrap(), cell);
        let bad = RelayCell::new(
            StreamId(3),
            Unrecognized {
                cmd: RelayCmd::DATA,
                data: vec![1],
            },
        );
        assert!(matches!(
            bad.encode(&mut b),
            Err(ProtoError::Malformed { .. })
        ));
    }

    #[test]
    fn oversize_message_refused_with_sizes() {
        let msg = Unrecognized {
            cmd: RelayCmd(200),
            data: vec![0; RELAY_DATA_MAX + 1],
        };
        let cell = RelayCell::new(StreamId(0), msg);
        assert!(matches!(
            cell.encode(&mut [0; RELAY_BODY_LEN]),
            Err(ProtoError::TooLong {
                len: 484,
                max: 483,
                ..
            })
        ));
        assert_eq!(RELAY_DATA_MAX, 483);
    }

    #[test]
    fn cmd_names() {
        assert_eq!(RelayCmd::INTRODUCE_ACK.to_string(), "INTRODUCE_ACK");
        assert_eq!(RelayCmd(0).to_string(), "unrecognized relay command 0");
        assert_eq!(RelayCmd::ALL.len(), 17);
        assert_eq!(RelayCmd(77).stream_id_class(), StreamIdClass::Either);
        assert_eq!(RelayCmd::DROP.stream_id_class(), StreamIdClass::Circuit);
    }

    #[test]
    fn onion_service_messages() {
        let hs = RelayMsg::from(RendezvousEstablished);
        assert!(hs.is_onion_service_msg());
        assert!(!RelayMsg::from(Connected).is_onion_service_msg());
        let unknown = RelayMsg::from(Unrecognized {
            cmd: RelayCmd(41),
            data: vec![],
        });
        assert!(!unknown.is_onion_service_msg());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn round_trip_every_message(cell in arb::relay_cell()) {
            let mut b = [0; RELAY_BODY_LEN];
            cell.encode(&mut b).unwrap();
            prop_assert_eq!(RelayCell::decode(&b).unwrap(), cell);
        }

        #[test]
        fn arbitrary_bodies_never_panic(
            cmd in prop_oneof![proptest::sample::select(RelayCmd::ALL), any::<u8>().prop_map(RelayCmd)],
            stream in prop_oneof![Just(0u16), any::<u16>()],
            data in proptest::collection::vec(any::<u8>(), 0..=RELAY_DATA_MAX),
        ) {
            let len = u16::try_from(data.len()).unwrap();
            let mut head = vec![cmd.0];
            head.extend(stream.to_be_bytes());
            head.extend(len.to_be_bytes());
            head.extend(&data);
            let b = body(&head);
            if let Ok(cell) = RelayCell::decode(&b) {
                let mut again = [0; RELAY_BODY_LEN];
                cell.encode(&mut again).unwrap();
                prop_assert_eq!(again, b);
            }
        }

        #[test]
        fn mutated_cells_decode_canonically(
            cell in arb::relay_cell(),
            at: proptest::sample::Index,
            byte: u8,
        ) {
            let mut b = [0; RELAY_BODY_LEN];
            cell.encode(&mut b).unwrap();
            let used = AUTH_HEADER_LEN + RELAY_HEADER_LEN + cell.msg.encode_data().unwrap().len();
            b[AUTH_HEADER_LEN + at.index(used - AUTH_HEADER_LEN)] = byte;
            if let Ok(cell) = RelayCell::decode(&b) {
                let mut again = [0; RELAY_BODY_LEN];
                cell.encode(&mut again).unwrap();
                prop_assert_eq!(again, b);
            }
        }

        #[test]
        fn arbitrary_raw_bodies_never_panic(v in proptest::collection::vec(any::<u8>(), 512)) {
            let b: RelayBody = v.try_into().unwrap();
            let _ = RelayCell::decode(&b);
        }
    }
}
