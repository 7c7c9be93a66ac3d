//! Link cells (docs/spec.md §7): the fixed-size [`Cell`] every link carries,
//! its header types [`CircId`] and [`CellCmd`], and the typed channel
//! messages [`ChanMsg`] (CREATE, CREATED, RELAY, DESTROY, PADDING).
//!
//! Every cell is [`CELL_LEN`] bytes, `circ_id u32 | command u8 | body[512]`,
//! so a relay cannot tell a cell's purpose or position from its size.

mod msg;

pub use msg::{
    CREATE_HANDSHAKE_MAX, CREATED_HANDSHAKE_MAX, ChanMsg, Create, Created, Destroy, DestroyReason,
};

use crate::ProtoError;
use crate::codec::{Reader, open_enum};
use warren_crypto::layer::{RELAY_BODY_LEN, RelayBody};

/// Length of a cell body in bytes (docs/spec.md §7.1).
pub const CELL_BODY_LEN: usize = RELAY_BODY_LEN;

/// Length of a cell header, `circ_id u32 | command u8` (docs/spec.md §7.1).
pub const CELL_HEADER_LEN: usize = 5;

/// Length of every link cell in bytes (docs/spec.md §7.1).
pub const CELL_LEN: usize = CELL_HEADER_LEN + CELL_BODY_LEN;

/// A circuit id, local to one link (docs/spec.md §7.1).
///
/// Id 0 is reserved for link-level cells that belong to no circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CircId(pub u32);

impl CircId {
    /// The link-level id, which names no circuit.
    pub const LINK: Self = Self(0);

    /// Whether this is the link-level id 0.
    pub fn is_link(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for CircId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

open_enum! {
    /// A link cell command (docs/spec.md §7.2).
    pub struct CellCmd(u8);
    /// Link padding; the body is all zero.
    PADDING = 0 => "link padding",
    /// Create a circuit: the first hop's handshake.
    CREATE = 1 => "create a circuit",
    /// The reply to CREATE.
    CREATED = 2 => "circuit created",
    /// A relay cell travelling along a circuit.
    RELAY = 3 => "relay cell",
    /// Tear down a circuit.
    DESTROY = 4 => "destroy a circuit",
}

impl std::fmt::Display for CellCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unrecognized cell command {}", self.0),
        }
    }
}

/// One link cell, exactly as it travels on a link (docs/spec.md §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The circuit this cell belongs to (0 for link-level cells).
    pub circ_id: CircId,
    /// What the cell is.
    pub cmd: CellCmd,
    /// The body, whose meaning depends on `cmd`.
    pub body: RelayBody,
}

impl Cell {
    /// The [`CELL_LEN`]-byte encoding: `circ_id u32 | cmd u8 | body`.
    pub fn to_bytes(&self) -> [u8; CELL_LEN] {
        let mut out = [0; CELL_LEN];
        let (header, body) = out.split_at_mut(CELL_HEADER_LEN);
        let (circ_id, cmd) = header.split_at_mut(4);
        circ_id.copy_from_slice(&self.circ_id.0.to_be_bytes());
        cmd.fill(self.cmd.0);
        body.copy_from_slice(&self.body);
        out
    }

    /// Decodes a cell; `bytes` must be exactly [`CELL_LEN`] long.
    ///
    /// Any command is accepted here: [`ChanMsg::decode`] checks it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(bytes, "cell");
        let circ_id = CircId(r.u32()?);
        let cmd = CellCmd(r.u8()?);
        let body = r.array()?;
        r.should_be_exhausted()?;
        Ok(Self { circ_id, cmd, body })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn header_layout() {
        let mut body = [0; CELL_BODY_LEN];
        body[0] = 0xaa;
        body[511] = 0xbb;
        let cell = Cell {
            circ_id: CircId(0x0102_0304),
            cmd: CellCmd::RELAY,
            body,
        };
        let bytes = cell.to_bytes();
        assert_eq!(bytes.len(), 517);
        assert_eq!(bytes[..6], [1, 2, 3, 4, 3, 0xaa]);
        assert_eq!(bytes[516], 0xbb);
        assert_eq!(Cell::from_bytes(&bytes).unwrap(), cell);
    }

    #[test]
    fn exact_length_required() {
        let bytes = [0; CELL_LEN + 1];
        assert!(matches!(
            Cell::from_bytes(&bytes),
            Err(ProtoError::TrailingBytes {
                object: "cell",
                count: 1
            })
        ));
        assert!(matches!(
            Cell::from_bytes(&bytes[..CELL_LEN - 2]),
            Err(ProtoError::Truncated {
                object: "cell",
                missing: 2
            })
        ));
        assert!(matches!(
            Cell::from_bytes(&[]),
            Err(ProtoError::Truncated { missing: 4, .. })
        ));
    }

    #[test]
    fn cmd_names() {
        assert_eq!(CellCmd::DESTROY.to_string(), "DESTROY");
        assert_eq!(CellCmd(9).to_string(), "unrecognized cell command 9");
        assert_eq!(format!("{:?}", CellCmd::CREATE), "CellCmd::CREATE");
        assert_eq!(format!("{:?}", CellCmd(200)), "CellCmd(200)");
        assert_eq!(CellCmd::ALL.len(), 5);
        assert!(!CellCmd(5).is_recognized());
        assert_eq!(u8::from(CellCmd::RELAY), 3);
    }

    proptest::proptest! {
        #[test]
        fn cell_round_trip(circ: u32, cmd: u8, body in proptest::array::uniform32(proptest::num::u8::ANY), fill: u8) {
            let mut full = [fill; CELL_BODY_LEN];
            full[..32].copy_from_slice(&body);
            let cell = Cell { circ_id: CircId(circ), cmd: CellCmd(cmd), body: full };
            proptest::prop_assert_eq!(Cell::from_bytes(&cell.to_bytes()).unwrap(), cell);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(cell) = Cell::from_bytes(&data) {
                proptest::prop_assert_eq!(&cell.to_bytes()[..], &data[..]);
            } else {
                proptest::prop_assert_ne!(data.len(), CELL_LEN);
            }
        }
    }
}
