//! Introduction-point setup (docs/spec.md §11.2–§11.3): ESTABLISH_INTRO and
//! INTRO_ESTABLISHED, plus the `auth_key` field shared with INTRODUCE1/2.

use super::Extension;
use super::extension::{read_extensions, write_extensions};
use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer};

/// The `auth_key_type` of an Ed25519 introduction key, the only type
/// (docs/spec.md §11.2).
pub const AUTH_KEY_TYPE_ED25519: u8 = 1;

/// The `auth_key_len` of an Ed25519 introduction key (docs/spec.md §11.2).
pub const AUTH_KEY_LEN: u16 = 32;

/// Length of the ESTABLISH_INTRO signature (docs/spec.md §11.2).
const SIG_LEN: u16 = 64;

/// Reads `auth_key_type u8 (= 1) | auth_key_len u16 (= 32) | auth_key[32]`.
pub(crate) fn read_auth_key(r: &mut Reader<'_>) -> Result<[u8; 32], ProtoError> {
    let kind = r.u8()?;
    expect_value(
        r.object(),
        "auth_key_type",
        AUTH_KEY_TYPE_ED25519.into(),
        kind.into(),
    )?;
    let len = r.u16()?;
    expect_value(r.object(), "auth_key_len", AUTH_KEY_LEN.into(), len.into())?;
    r.array()
}

/// Writes `auth_key_type | auth_key_len | auth_key`.
pub(crate) fn write_auth_key(w: &mut Writer, key: &[u8; 32]) {
    w.u8(AUTH_KEY_TYPE_ED25519);
    w.u16(AUTH_KEY_LEN);
    w.bytes(key);
}

/// Checks that a field holding one allowed value holds it.
fn expect_value(
    object: &'static str,
    field: &'static str,
    expected: u64,
    found: u64,
) -> Result<(), ProtoError> {
    if expected == found {
        return Ok(());
    }
    Err(ProtoError::BadValue {
        object,
        field,
        expected,
        found,
    })
}

/// The label of ESTABLISH_INTRO's `handshake_auth`: HMAC-SHA256 keyed
/// with the intro hop's `KH` over this label and `auth_key` (§16.1).
pub const HANDSHAKE_AUTH_LABEL: &[u8] = b"warren-establish-intro";

/// ESTABLISH_INTRO: `auth_key_type u8 (= 1) | auth_key_len u16 (= 32) |
/// auth_key[32] | n_ext u8 | ext* | handshake_auth[32] | sig_len u16 (= 64) |
/// sig[64]` (docs/spec.md §11.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstablishIntro {
    /// The service's Ed25519 key for this introduction point.
    pub auth_key: [u8; 32],
    /// Extensions, at most [`super::EXTENSIONS_MAX`].
    pub extensions: Vec<Extension>,
    /// A MAC binding this message to the circuit's handshake.
    pub handshake_auth: [u8; 32],
    /// `auth_key`'s signature over [`EstablishIntro::signed_part`].
    pub signature: [u8; 64],
}

impl EstablishIntro {
    /// The bytes the service signs: the encoding of every field before
    /// `sig_len` (docs/spec.md §11.2).
    pub fn signed_part(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::new();
        self.write_signed_part(&mut w)?;
        Ok(w.into_vec())
    }

    /// Writes the signed part.
    fn write_signed_part(&self, w: &mut Writer) -> Result<(), ProtoError> {
        write_auth_key(w, &self.auth_key);
        write_extensions(w, "ESTABLISH_INTRO message", &self.extensions)?;
        w.bytes(&self.handshake_auth);
        Ok(())
    }
}

impl Readable for EstablishIntro {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let auth_key = read_auth_key(r)?;
        let extensions = read_extensions(r)?;
        let handshake_auth = r.array()?;
        let sig_len = r.u16()?;
        expect_value(r.object(), "sig_len", SIG_LEN.into(), sig_len.into())?;
        Ok(Self {
            auth_key,
            extensions,
            handshake_auth,
            signature: r.array()?,
        })
    }
}

impl Writeable for EstablishIntro {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        self.write_signed_part(w)?;
        w.u16(SIG_LEN);
        w.bytes(&self.signature);
        Ok(())
    }
}

/// INTRO_ESTABLISHED: `n_ext u8 | ext*` (docs/spec.md §11.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntroEstablished {
    /// Extensions, at most [`super::EXTENSIONS_MAX`].
    pub extensions: Vec<Extension>,
}

impl Readable for IntroEstablished {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        Ok(Self {
            extensions: read_extensions(r)?,
        })
    }
}

impl Writeable for IntroEstablished {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        write_extensions(w, "INTRO_ESTABLISHED message", &self.extensions)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::relay_msg::{RelayCmd, RelayMsg};

    fn sample() -> EstablishIntro {
        EstablishIntro {
            auth_key: [0x11; 32],
            extensions: vec![Extension::DosParams {
                rate_per_sec: 1,
                burst: 2,
            }],
            handshake_auth: [0x22; 32],
            signature: [0x33; 64],
        }
    }

    #[test]
    fn establish_intro_layout() {
        let m = sample();
        let signed = m.signed_part().unwrap();
        assert_eq!(&signed[..3], &[1, 0, 32]);
        assert_eq!(signed.len(), 3 + 32 + 1 + 10 + 32);
        let v = RelayMsg::from(m.clone()).encode_data().unwrap();
        assert_eq!(&v[..signed.len()], &signed[..]);
        assert_eq!(&v[signed.len()..signed.len() + 2], &[0, 64]);
        assert_eq!(v.len(), signed.len() + 2 + 64);
        assert_eq!(
            RelayMsg::decode_data(RelayCmd::ESTABLISH_INTRO, &v).unwrap(),
            RelayMsg::EstablishIntro(m)
        );
    }

    #[test]
    fn establish_intro_fixed_fields() {
        let v = RelayMsg::from(sample()).encode_data().unwrap();
        let cases: [(usize, u8, &str); 3] = [
            (0, 2, "auth_key_type"),
            (2, 31, "auth_key_len"),
            (79, 63, "sig_len"),
        ];
        for (at, val, name) in cases {
            let mut bad = v.clone();
            bad[at] = val;
            let e = RelayMsg::decode_data(RelayCmd::ESTABLISH_INTRO, &bad).unwrap_err();
            assert!(
                matches!(e, ProtoError::BadValue { field, .. } if field == name),
                "{e}"
            );
        }
    }

    #[test]
    fn intro_established() {
        let m = IntroEstablished::default();
        let v = RelayMsg::from(m.clone()).encode_data().unwrap();
        assert_eq!(v, [0]);
        assert_eq!(
            RelayMsg::decode_data(RelayCmd::INTRO_ESTABLISHED, &v).unwrap(),
            RelayMsg::IntroEstablished(m)
        );
        assert!(RelayMsg::decode_data(RelayCmd::INTRO_ESTABLISHED, &[]).is_err());
    }
}
