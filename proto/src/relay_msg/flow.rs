//! Flow-control and padding messages (docs/spec.md §8.9–§8.10): SENDME and
//! DROP.

use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer};

/// Length of the tag an authenticated SENDME echoes (docs/spec.md §8.9).
pub const SENDME_TAG_LEN: usize = 16;

/// The only version of authenticated SENDME (docs/spec.md §8.9).
pub const SENDME_VERSION: u8 = 1;

/// SENDME: empty, or `version u8 (= 1) | tag[16]` (docs/spec.md §8.9).
///
/// A stream-level SENDME is empty. A circuit-level SENDME carries the tag of
/// the cell it acknowledges, which proves the sender read that cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sendme {
    /// The acknowledged cell's tag, for an authenticated SENDME.
    pub ack: Option<[u8; SENDME_TAG_LEN]>,
}

impl Readable for Sendme {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        if r.remaining() == 0 {
            return Ok(Self { ack: None });
        }
        let version = r.u8()?;
        if version != SENDME_VERSION {
            return Err(ProtoError::BadValue {
                object: r.object(),
                field: "version",
                expected: SENDME_VERSION.into(),
                found: version.into(),
            });
        }
        Ok(Self {
            ack: Some(r.array()?),
        })
    }
}

impl Writeable for Sendme {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        if let Some(tag) = &self.ack {
            w.u8(SENDME_VERSION);
            w.bytes(tag);
        }
        Ok(())
    }
}

/// DROP: `len` zero bytes of long-range padding (docs/spec.md §8.10).
///
/// The recipient discards it. The content must be zero so that the encoding
/// stays canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drop {
    /// How many padding bytes the message carries.
    pub len: u16,
}

impl Readable for Drop {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let len = u16::try_from(r.remaining()).map_err(|_| ProtoError::TooLong {
            object: r.object(),
            len: r.remaining(),
            max: u16::MAX.into(),
        })?;
        r.expect_zero_padding()?;
        Ok(Self { len })
    }
}

impl Writeable for Drop {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.zeros(self.len.into());
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::relay_msg::{RelayCmd, RelayMsg};

    #[test]
    fn sendme_forms() {
        let none = RelayMsg::decode_data(RelayCmd::SENDME, &[]).unwrap();
        assert_eq!(none, RelayMsg::Sendme(Sendme { ack: None }));
        let mut v = vec![1];
        v.extend([0xab; 16]);
        let some = RelayMsg::decode_data(RelayCmd::SENDME, &v).unwrap();
        assert_eq!(
            some,
            RelayMsg::Sendme(Sendme {
                ack: Some([0xab; 16])
            })
        );
        assert_eq!(some.encode_data().unwrap(), v);
        v[0] = 2;
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::SENDME, &v),
            Err(ProtoError::BadValue {
                field: "version",
                expected: 1,
                found: 2,
                ..
            })
        ));
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::SENDME, &v[..5]),
            Err(ProtoError::BadValue { .. })
        ));
        v[0] = 1;
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::SENDME, &v[..5]),
            Err(ProtoError::Truncated { missing: 12, .. })
        ));
        v.push(0);
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::SENDME, &v),
            Err(ProtoError::TrailingBytes { count: 1, .. })
        ));
    }

    #[test]
    fn drop_must_be_zero() {
        let m = RelayMsg::decode_data(RelayCmd::DROP, &[0; 40]).unwrap();
        assert_eq!(m, RelayMsg::Drop(Drop { len: 40 }));
        assert_eq!(m.encode_data().unwrap(), vec![0; 40]);
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::DROP, &[0, 0, 5]),
            Err(ProtoError::NonZeroPadding {
                object: "DROP message",
                offset: 2
            })
        ));
        let big = RelayMsg::Drop(Drop { len: 484 });
        assert!(matches!(
            big.encode_data(),
            Err(ProtoError::TooLong { len: 484, .. })
        ));
    }
}
