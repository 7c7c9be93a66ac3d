//! Rendezvous messages (docs/spec.md §11.6–§11.9): ESTABLISH_RENDEZVOUS,
//! RENDEZVOUS_ESTABLISHED, RENDEZVOUS1 and RENDEZVOUS2.

use super::RELAY_DATA_MAX;
use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer};

/// Length of a rendezvous cookie (docs/spec.md §11.6).
pub const REND_COOKIE_LEN: usize = 20;

/// ESTABLISH_RENDEZVOUS: `cookie[20]` (docs/spec.md §11.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstablishRendezvous {
    /// The random cookie that RENDEZVOUS1 will quote.
    pub cookie: [u8; REND_COOKIE_LEN],
}

impl Readable for EstablishRendezvous {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self { cookie: r.array()? })
    }
}

impl Writeable for EstablishRendezvous {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.bytes(&self.cookie);
        Ok(())
    }
}

/// RENDEZVOUS_ESTABLISHED: empty (docs/spec.md §11.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RendezvousEstablished;

impl Readable for RendezvousEstablished {
    fn take_from(_: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self)
    }
}

impl Writeable for RendezvousEstablished {
    fn write_onto(&self, _: &mut Writer) -> Result<(), ProtoError> {
        Ok(())
    }
}

/// RENDEZVOUS1: `cookie[20] | hlen u16 | hdata` (docs/spec.md §11.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous1 {
    /// The cookie of the client's ESTABLISH_RENDEZVOUS.
    pub cookie: [u8; REND_COOKIE_LEN],
    /// The service's handshake reply, passed on to the client.
    pub handshake: Vec<u8>,
}

impl Readable for Rendezvous1 {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self {
            cookie: r.array()?,
            handshake: r.u16_prefixed(RELAY_DATA_MAX)?.to_vec(),
        })
    }
}

impl Writeable for Rendezvous1 {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.bytes(&self.cookie);
        w.u16_prefixed("RENDEZVOUS1 handshake", &self.handshake, RELAY_DATA_MAX)
    }
}

/// RENDEZVOUS2: `hlen u16 | hdata` (docs/spec.md §11.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendezvous2 {
    /// The service's handshake reply.
    pub handshake: Vec<u8>,
}

impl Readable for Rendezvous2 {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self {
            handshake: r.u16_prefixed(RELAY_DATA_MAX)?.to_vec(),
        })
    }
}

impl Writeable for Rendezvous2 {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.u16_prefixed("RENDEZVOUS2 handshake", &self.handshake, RELAY_DATA_MAX)
    }
}

impl From<Rendezvous1> for Rendezvous2 {
    /// What the rendezvous point passes on: the handshake, without the cookie.
    fn from(m: Rendezvous1) -> Self {
        Self {
            handshake: m.handshake,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::relay_msg::{RelayCmd, RelayMsg};

    #[test]
    fn layouts() {
        let m = Rendezvous1 {
            cookie: [9; 20],
            handshake: vec![1, 2],
        };
        let v = RelayMsg::from(m.clone()).encode_data().unwrap();
        assert_eq!(&v[20..], &[0, 2, 1, 2]);
        assert_eq!(
            RelayMsg::decode_data(RelayCmd::RENDEZVOUS1, &v).unwrap(),
            RelayMsg::Rendezvous1(m.clone())
        );
        let two = RelayMsg::from(Rendezvous2::from(m));
        assert_eq!(two.encode_data().unwrap(), [0, 2, 1, 2]);
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::ESTABLISH_RENDEZVOUS, &[0; 19]),
            Err(ProtoError::Truncated { missing: 1, .. })
        ));
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::ESTABLISH_RENDEZVOUS, &[0; 21]),
            Err(ProtoError::TrailingBytes { count: 1, .. })
        ));
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::RENDEZVOUS_ESTABLISHED, &[0]),
            Err(ProtoError::TrailingBytes { .. })
        ));
    }
}
