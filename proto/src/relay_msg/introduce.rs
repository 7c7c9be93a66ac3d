//! Introductions (docs/spec.md §11.4–§11.5): INTRODUCE1, INTRODUCE2 and
//! INTRODUCE_ACK.
//!
//! INTRODUCE1 (client → introduction point) and INTRODUCE2 (introduction
//! point → service) share one layout; the introduction point turns one into
//! the other without reading `encrypted`.

use super::Extension;
use super::extension::{read_extensions, write_extensions};
use super::intro::{read_auth_key, write_auth_key};
use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer, open_enum};

/// Declares an introduction message: `auth_key_type u8 (= 1) |
/// auth_key_len u16 (= 32) | auth_key[32] | n_ext u8 | ext* | encrypted`.
macro_rules! introduce {
    ($(#[$m:meta])* $name:ident, $object:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The introduction point's `auth_key`, naming the service.
            pub auth_key: [u8; 32],
            /// Extensions, at most [`super::EXTENSIONS_MAX`].
            pub extensions: Vec<Extension>,
            /// The part only the service can read: the rest of the message,
            /// at least one byte (its format is in docs/spec.md §11.4).
            pub encrypted: Vec<u8>,
        }

        impl $name {
            /// The fields before `encrypted`, which the onion-service
            /// handshake authenticates (§16.3): an intro point cannot
            /// change them unnoticed.
            pub fn header(&self) -> Result<Vec<u8>, ProtoError> {
                let mut w = Writer::new();
                write_auth_key(&mut w, &self.auth_key);
                write_extensions(&mut w, $object, &self.extensions)?;
                Ok(w.into_vec())
            }
        }

        impl Readable for $name {
            fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
                let auth_key = read_auth_key(r)?;
                let extensions = read_extensions(r)?;
                let encrypted = r.take_rest().to_vec();
                check_encrypted($object, &encrypted)?;
                Ok(Self { auth_key, extensions, encrypted })
            }
        }

        impl Writeable for $name {
            fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
                check_encrypted($object, &self.encrypted)?;
                write_auth_key(w, &self.auth_key);
                write_extensions(w, $object, &self.extensions)?;
                w.bytes(&self.encrypted);
                Ok(())
            }
        }
    };
}

introduce! {
    /// INTRODUCE1, from a client to an introduction point
    /// (docs/spec.md §11.4).
    Introduce1, "INTRODUCE1 message"
}

introduce! {
    /// INTRODUCE2, from an introduction point to the service
    /// (docs/spec.md §11.4).
    Introduce2, "INTRODUCE2 message"
}

/// Checks that the encrypted part is not empty.
fn check_encrypted(object: &'static str, encrypted: &[u8]) -> Result<(), ProtoError> {
    if encrypted.is_empty() {
        return Err(ProtoError::Malformed {
            object,
            reason: "the encrypted part is empty",
        });
    }
    Ok(())
}

impl From<Introduce1> for Introduce2 {
    fn from(m: Introduce1) -> Self {
        Self {
            auth_key: m.auth_key,
            extensions: m.extensions,
            encrypted: m.encrypted,
        }
    }
}

open_enum! {
    /// The introduction point's answer to INTRODUCE1 (docs/spec.md §11.5).
    pub struct IntroduceAckStatus(u16);
    /// The introduction was relayed to the service.
    SUCCESS = 0 => "introduction relayed to the service",
    /// No service uses this `auth_key` here.
    UNKNOWN_SERVICE = 1 => "no such service at this introduction point",
    /// The INTRODUCE1 message was malformed.
    BAD_FORMAT = 2 => "the introduction was malformed",
    /// The introduction could not be relayed.
    CANT_RELAY = 3 => "the introduction could not be relayed",
    /// The service's rate limit was exceeded.
    RATE_LIMITED = 4 => "too many introductions: rate limited",
}

impl std::fmt::Display for IntroduceAckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.description() {
            Some(d) => f.write_str(d),
            None => write!(f, "unrecognized introduction status {}", self.0),
        }
    }
}

/// INTRODUCE_ACK: `status u16 | n_ext u8 | ext*` (docs/spec.md §11.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntroduceAck {
    /// Whether the introduction was relayed.
    pub status: IntroduceAckStatus,
    /// Extensions, at most [`super::EXTENSIONS_MAX`].
    pub extensions: Vec<Extension>,
}

impl Readable for IntroduceAck {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self {
            status: IntroduceAckStatus(r.u16()?),
            extensions: read_extensions(r)?,
        })
    }
}

impl Writeable for IntroduceAck {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.u16(self.status.0);
        write_extensions(w, "INTRODUCE_ACK message", &self.extensions)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::relay_msg::{RelayCmd, RelayMsg};

    #[test]
    fn introduce_layout() {
        let m = Introduce1 {
            auth_key: [5; 32],
            extensions: vec![],
            encrypted: vec![1, 2, 3],
        };
        let v = RelayMsg::from(m.clone()).encode_data().unwrap();
        assert_eq!(&v[..3], &[1, 0, 32]);
        assert_eq!(&v[35..], &[0, 1, 2, 3]);
        assert_eq!(
            RelayMsg::decode_data(RelayCmd::INTRODUCE1, &v).unwrap(),
            RelayMsg::Introduce1(m.clone())
        );
        assert_eq!(
            RelayMsg::decode_data(RelayCmd::INTRODUCE2, &v).unwrap(),
            RelayMsg::Introduce2(m.into())
        );
        assert!(matches!(
            RelayMsg::decode_data(RelayCmd::INTRODUCE2, &v[..36]),
            Err(ProtoError::Malformed {
                object: "INTRODUCE2 message",
                ..
            })
        ));
    }

    #[test]
    fn introduce_ack() {
        let m = IntroduceAck {
            status: IntroduceAckStatus::RATE_LIMITED,
            extensions: vec![],
        };
        let v = RelayMsg::from(m.clone()).encode_data().unwrap();
        assert_eq!(v, [0, 4, 0]);
        assert_eq!(
            RelayMsg::decode_data(RelayCmd::INTRODUCE_ACK, &v).unwrap(),
            RelayMsg::IntroduceAck(m)
        );
        assert_eq!(
            IntroduceAckStatus(9).to_string(),
            "unrecognized introduction status 9"
        );
        assert_eq!(IntroduceAckStatus::ALL.len(), 5);
    }
}
