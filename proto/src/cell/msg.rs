//! Typed channel messages (docs/spec.md §7.2–§7.7): what a link cell's body
//! means for each [`CellCmd`].
//!
//! Every body is zero-padded to 512 bytes and the padding must be zero on
//! decode (a non-zero byte is non-canonical). PADDING cells use circuit id 0;
//! every other command needs a non-zero circuit id (docs/spec.md §7.2).

use super::{CELL_BODY_LEN, Cell, CellCmd, CircId};
use crate::ProtoError;
use crate::codec::{Reader, Writer, open_enum};
use warren_crypto::layer::RelayBody;

/// The largest CREATE handshake: the body less `htype u16 | hlen u16`.
pub const CREATE_HANDSHAKE_MAX: usize = CELL_BODY_LEN - 4;

/// The largest CREATED handshake: the body less `hlen u16`.
pub const CREATED_HANDSHAKE_MAX: usize = CELL_BODY_LEN - 2;

/// A decoded link cell (docs/spec.md §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "RELAY is the hot path: boxing its body would allocate per cell"
)]
pub enum ChanMsg {
    /// Link padding, on circuit id 0 (§7.6).
    Padding,
    /// Create a circuit (§7.3).
    Create(Create),
    /// The reply to CREATE (§7.4).
    Created(Created),
    /// A relay cell: the layer-encrypted body, opaque to the link (§7.7).
    Relay(RelayBody),
    /// Tear down a circuit (§7.5).
    Destroy(Destroy),
}

/// CREATE: `htype u16 | hlen u16 | hdata | zero padding` (docs/spec.md §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// Which circuit handshake `handshake` belongs to.
    pub handshake_type: u16,
    /// The client's handshake message, at most [`CREATE_HANDSHAKE_MAX`] bytes.
    pub handshake: Vec<u8>,
}

/// CREATED: `hlen u16 | hdata | zero padding` (docs/spec.md §7.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The relay's handshake reply, at most [`CREATED_HANDSHAKE_MAX`] bytes.
    pub handshake: Vec<u8>,
}

/// DESTROY: `reason u8 | zero padding` (docs/spec.md §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destroy {
    /// Why the circuit is torn down.
    pub reason: DestroyReason,
}

open_enum! {
    /// Why a circuit was destroyed (docs/spec.md §7.5).
    pub struct DestroyReason(u8);
    /// No reason given.
    NONE = 0 => "no reason given",
    /// A protocol violation.
    PROTOCOL = 1 => "protocol violation",
    /// An internal error.
    INTERNAL = 2 => "internal error",
    /// The client asked for it.
    REQUESTED = 3 => "closed at the client's request",
    /// The relay is hibernating.
    HIBERNATING = 4 => "relay is hibernating",
    /// The relay is out of memory, sockets or circuits.
    RESOURCELIMIT = 5 => "relay is out of resources",
    /// Could not connect to the next relay.
    CONNECTFAILED = 6 => "could not connect to the next relay",
    /// The next relay's identity was not the one requested.
    OR_IDENTITY = 7 => "the next relay had the wrong identity",
    /// The link carrying the circuit closed.
    CHANNEL_CLOSED = 8 => "the link carrying the circuit closed",
    /// The circuit was finished and closed normally.
    FINISHED = 9 => "circuit finished",
    /// The circuit timed out while being built.
    TIMEOUT = 10 => "circuit timed out",
    /// The circuit was destroyed further along.
    DESTROYED = 11 => "circuit was destroyed further along the path",
    /// The onion service asked for is unknown here.
    NOSUCHSERVICE = 12 => "no such onion service",
    /// A cell failed authentication or could not be recognised.
    INTEGRITY = 13 => "a cell failed authentication or could not be recognised",
}

impl std::fmt::Display for DestroyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.description() {
            Some(d) => f.write_str(d),
            None => write!(f, "unrecognized destroy reason {}", self.0),
        }
    }
}

impl ChanMsg {
    /// The command this message is sent with.
    pub fn cmd(&self) -> CellCmd {
        match self {
            Self::Padding => CellCmd::PADDING,
            Self::Create(_) => CellCmd::CREATE,
            Self::Created(_) => CellCmd::CREATED,
            Self::Relay(_) => CellCmd::RELAY,
            Self::Destroy(_) => CellCmd::DESTROY,
        }
    }

    /// Encodes this message as a cell on `circ_id`.
    ///
    /// Fails when the circuit id has the wrong class for the command or a
    /// handshake does not fit the body.
    pub fn encode(&self, circ_id: CircId) -> Result<Cell, ProtoError> {
        let cmd = self.cmd();
        check_circ_id(cmd, circ_id)?;
        let body = match self {
            Self::Relay(body) => *body,
            Self::Padding => [0; CELL_BODY_LEN],
            Self::Create(m) => padded(m.encode()?)?,
            Self::Created(m) => padded(m.encode()?)?,
            Self::Destroy(m) => padded(vec![m.reason.0])?,
        };
        Ok(Cell { circ_id, cmd, body })
    }

    /// Decodes the body of `cell` according to its command.
    ///
    /// An unknown command is [`ProtoError::UnknownCellCmd`]; the caller still
    /// holds the cell and decides what to do.
    pub fn decode(cell: &Cell) -> Result<Self, ProtoError> {
        let cmd = cell.cmd;
        if !cmd.is_recognized() {
            return Err(ProtoError::UnknownCellCmd { cmd });
        }
        check_circ_id(cmd, cell.circ_id)?;
        let mut r = Reader::new(&cell.body, object(cmd));
        let msg = match cmd {
            CellCmd::RELAY => return Ok(Self::Relay(cell.body)),
            CellCmd::CREATE => Self::Create(Create::take_from(&mut r)?),
            CellCmd::CREATED => Self::Created(Created::take_from(&mut r)?),
            CellCmd::DESTROY => Self::Destroy(Destroy {
                reason: DestroyReason(r.u8()?),
            }),
            CellCmd::PADDING => Self::Padding,
            _ => return Err(ProtoError::UnknownCellCmd { cmd }),
        };
        r.expect_zero_padding()?;
        Ok(msg)
    }
}

/// The object name of a cell body, for errors.
fn object(cmd: CellCmd) -> &'static str {
    match cmd {
        CellCmd::PADDING => "PADDING cell",
        CellCmd::CREATE => "CREATE cell",
        CellCmd::CREATED => "CREATED cell",
        CellCmd::RELAY => "RELAY cell",
        CellCmd::DESTROY => "DESTROY cell",
        _ => "cell",
    }
}

/// Checks the circuit-id class: PADDING on 0, everything else on non-zero
/// (docs/spec.md §7.2).
fn check_circ_id(cmd: CellCmd, circ_id: CircId) -> Result<(), ProtoError> {
    let link_level = cmd == CellCmd::PADDING;
    if link_level == circ_id.is_link() {
        return Ok(());
    }
    Err(ProtoError::WrongCircId {
        cmd,
        circ_id,
        expected: if link_level {
            "circuit id 0"
        } else {
            "a non-zero circuit id"
        },
    })
}

/// Zero-pads an encoded body to the full body length.
fn padded(mut v: Vec<u8>) -> Result<RelayBody, ProtoError> {
    if v.len() > CELL_BODY_LEN {
        return Err(ProtoError::Internal {
            reason: "a cell body was encoded past its length",
        });
    }
    v.resize(CELL_BODY_LEN, 0);
    RelayBody::try_from(v).map_err(|_| ProtoError::Internal {
        reason: "a padded cell body has the wrong length",
    })
}

impl Create {
    /// Reads `htype | hlen | hdata`.
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let handshake_type = r.u16()?;
        let handshake = r.u16_prefixed(CREATE_HANDSHAKE_MAX)?.to_vec();
        Ok(Self {
            handshake_type,
            handshake,
        })
    }

    /// Writes `htype | hlen | hdata`.
    fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::with_capacity(CELL_BODY_LEN);
        w.u16(self.handshake_type);
        w.u16_prefixed("CREATE handshake", &self.handshake, CREATE_HANDSHAKE_MAX)?;
        Ok(w.into_vec())
    }
}

impl Created {
    /// Reads `hlen | hdata`.
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let handshake = r.u16_prefixed(CREATED_HANDSHAKE_MAX)?.to_vec();
        Ok(Self { handshake })
    }

    /// Writes `hlen | hdata`.
    fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::with_capacity(CELL_BODY_LEN);
        w.u16_prefixed("CREATED handshake", &self.handshake, CREATED_HANDSHAKE_MAX)?;
        Ok(w.into_vec())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    fn cell(circ: u32, cmd: CellCmd, head: &[u8]) -> Cell {
        let mut body = [0; CELL_BODY_LEN];
        body[..head.len()].copy_from_slice(head);
        Cell {
            circ_id: CircId(circ),
            cmd,
            body,
        }
    }

    #[test]
    fn create_layout() {
        let msg = ChanMsg::Create(Create {
            handshake_type: 2,
            handshake: vec![0xaa, 0xbb],
        });
        let c = msg.encode(CircId(5)).unwrap();
        assert_eq!(c, cell(5, CellCmd::CREATE, &[0, 2, 0, 2, 0xaa, 0xbb]));
        assert_eq!(ChanMsg::decode(&c).unwrap(), msg);
    }

    #[test]
    fn non_zero_padding_rejected() {
        let c = cell(5, CellCmd::DESTROY, &[3, 0, 1]);
        assert!(matches!(
            ChanMsg::decode(&c),
            Err(ProtoError::NonZeroPadding {
                object: "DESTROY cell",
                offset: 2
            })
        ));
        let c = cell(0, CellCmd::PADDING, &[0, 0, 0, 9]);
        assert!(matches!(
            ChanMsg::decode(&c),
            Err(ProtoError::NonZeroPadding { offset: 3, .. })
        ));
    }

    #[test]
    fn circ_id_classes() {
        let c = cell(0, CellCmd::DESTROY, &[3]);
        assert!(matches!(
            ChanMsg::decode(&c),
            Err(ProtoError::WrongCircId {
                expected: "a non-zero circuit id",
                ..
            })
        ));
        let c = cell(1, CellCmd::PADDING, &[]);
        assert!(matches!(
            ChanMsg::decode(&c),
            Err(ProtoError::WrongCircId {
                expected: "circuit id 0",
                ..
            })
        ));
        assert!(ChanMsg::Padding.encode(CircId(1)).is_err());
        assert!(ChanMsg::Relay([0; 512]).encode(CircId(0)).is_err());
    }

    #[test]
    fn unknown_command_and_oversize_handshake() {
        let c = cell(1, CellCmd(77), &[]);
        assert!(matches!(
            ChanMsg::decode(&c),
            Err(ProtoError::UnknownCellCmd { cmd: CellCmd(77) })
        ));
        let c = cell(1, CellCmd::CREATED, &[0x01, 0xff]);
        assert!(matches!(
            ChanMsg::decode(&c),
            Err(ProtoError::TooLong {
                len: 511,
                max: 510,
                ..
            })
        ));
        let big = ChanMsg::Create(Create {
            handshake_type: 0,
            handshake: vec![1; CREATE_HANDSHAKE_MAX + 1],
        });
        assert!(matches!(
            big.encode(CircId(1)),
            Err(ProtoError::TooLong { max: 508, .. })
        ));
        let full = ChanMsg::Created(Created {
            handshake: vec![1; CREATED_HANDSHAKE_MAX],
        });
        let c = full.encode(CircId(1)).unwrap();
        assert_eq!(ChanMsg::decode(&c).unwrap(), full);
    }

    #[test]
    fn reason_messages() {
        assert_eq!(
            DestroyReason::INTEGRITY.to_string(),
            "a cell failed authentication or could not be recognised"
        );
        assert_eq!(
            DestroyReason(99).to_string(),
            "unrecognized destroy reason 99"
        );
        assert_eq!(DestroyReason::ALL.len(), 14);
    }

    fn any_msg() -> impl Strategy<Value = ChanMsg> {
        let hs = || proptest::collection::vec(any::<u8>(), 0..=CREATE_HANDSHAKE_MAX);
        prop_oneof![
            Just(ChanMsg::Padding),
            (any::<u16>(), hs()).prop_map(|(handshake_type, handshake)| {
                ChanMsg::Create(Create {
                    handshake_type,
                    handshake,
                })
            }),
            hs().prop_map(|handshake| ChanMsg::Created(Created { handshake })),
            proptest::collection::vec(any::<u8>(), 512)
                .prop_map(|v| { ChanMsg::Relay(v.try_into().unwrap()) }),
            any::<u8>().prop_map(|r| ChanMsg::Destroy(Destroy {
                reason: DestroyReason(r)
            })),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(msg in any_msg(), circ in 1..=u32::MAX) {
            let circ = if msg == ChanMsg::Padding { 0 } else { circ };
            let c = msg.encode(CircId(circ)).unwrap();
            let back = Cell::from_bytes(&c.to_bytes()).unwrap();
            prop_assert_eq!(ChanMsg::decode(&back).unwrap(), msg);
        }

        #[test]
        fn arbitrary_cells_never_panic(
            circ in prop_oneof![Just(0u32), any::<u32>()],
            cmd in 0u8..8,
            head in proptest::collection::vec(any::<u8>(), 0..16),
            tail: u8,
        ) {
            let mut c = cell(circ, CellCmd(cmd), &head);
            c.body[511] = tail;
            if let Ok(msg) = ChanMsg::decode(&c) {
                prop_assert_eq!(msg.encode(c.circ_id).unwrap(), c);
            }
        }
    }
}
