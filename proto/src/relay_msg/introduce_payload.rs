//! The plaintext of an introduction (docs/spec.md §16.3): what only the
//! service reads inside INTRODUCE1's `encrypted` — the rendezvous point and
//! cookie, and the client's proof of its key and puzzle solution.

use super::extend::{LINK_SPECS_MAX, LinkSpec};
use super::extension::{read_extensions, write_extensions};
use super::{Extension, REND_COOKIE_LEN};
use crate::ProtoError;
use crate::codec::{Reader, Writer};

/// Every introduction plaintext is padded to this length, so that its
/// size tells an intro point nothing (§16.3).
pub const INTRODUCE_PAYLOAD_LEN: usize = 384;

const OBJECT: &str = "introduction payload";

/// `cookie[20] | rend_identity[32] | rend_onion_key[32] | n_spec u8 |
/// spec* | n_ext u8 | ext* | zero padding` (docs/spec.md §16.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntroducePayload {
    /// The cookie the client gave its rendezvous point.
    pub cookie: [u8; REND_COOKIE_LEN],
    /// The rendezvous point's identity.
    pub rend_identity: [u8; 32],
    /// Its onion key.
    pub rend_onion_key: [u8; 32],
    /// Where to reach it, at most [`LINK_SPECS_MAX`].
    pub rend_link_specs: Vec<LinkSpec>,
    /// CLIENT_PROOF and POW_SOLUTION, or others.
    pub extensions: Vec<Extension>,
}

impl IntroducePayload {
    /// Encodes and pads to [`INTRODUCE_PAYLOAD_LEN`].
    pub fn encode(&self) -> Result<Vec<u8>, ProtoError> {
        if self.rend_link_specs.len() > LINK_SPECS_MAX {
            return Err(ProtoError::TooMany {
                object: OBJECT,
                item: "link specifiers",
                count: self.rend_link_specs.len(),
                max: LINK_SPECS_MAX,
            });
        }
        let mut w = Writer::with_capacity(INTRODUCE_PAYLOAD_LEN);
        w.bytes(&self.cookie);
        w.bytes(&self.rend_identity);
        w.bytes(&self.rend_onion_key);
        w.u8(
            u8::try_from(self.rend_link_specs.len()).map_err(|_| ProtoError::Internal {
                reason: "link specifier count exceeds u8",
            })?,
        );
        for spec in &self.rend_link_specs {
            w.write(spec)?;
        }
        write_extensions(&mut w, OBJECT, &self.extensions)?;
        let pad = INTRODUCE_PAYLOAD_LEN
            .checked_sub(w.len())
            .ok_or(ProtoError::TooLong {
                object: OBJECT,
                len: w.len(),
                max: INTRODUCE_PAYLOAD_LEN,
            })?;
        w.zeros(pad);
        Ok(w.into_vec())
    }

    /// Decodes a padded payload; anything but zeros after the extensions is
    /// refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtoError> {
        if bytes.len() != INTRODUCE_PAYLOAD_LEN {
            return Err(ProtoError::Malformed {
                object: OBJECT,
                reason: "an introduction payload is 384 bytes",
            });
        }
        let mut r = Reader::new(bytes, OBJECT);
        let cookie = r.array()?;
        let rend_identity = r.array()?;
        let rend_onion_key = r.array()?;
        let n_spec = usize::from(r.u8()?);
        if n_spec > LINK_SPECS_MAX {
            return Err(ProtoError::TooMany {
                object: OBJECT,
                item: "link specifiers",
                count: n_spec,
                max: LINK_SPECS_MAX,
            });
        }
        let rend_link_specs = (0..n_spec).map(|_| r.extract()).collect::<Result<_, _>>()?;
        let extensions = read_extensions(&mut r)?;
        r.expect_zero_padding()?;
        Ok(Self {
            cookie,
            rend_identity,
            rend_onion_key,
            rend_link_specs,
            extensions,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> IntroducePayload {
        IntroducePayload {
            cookie: [0x70; 20],
            rend_identity: [1; 32],
            rend_onion_key: [2; 32],
            rend_link_specs: vec![LinkSpec::Multiaddr(vec![4, 127, 0, 0, 1, 6, 0x23, 0x29])],
            extensions: vec![Extension::ClientProof {
                client_key: [3; 32],
                proof: [4; 32],
            }],
        }
    }

    #[test]
    fn pads_to_a_fixed_length_and_round_trips() {
        let p = sample();
        let v = p.encode().unwrap();
        assert_eq!(v.len(), INTRODUCE_PAYLOAD_LEN);
        assert_eq!(IntroducePayload::decode(&v).unwrap(), p);
        let mut bad = v.clone();
        bad[INTRODUCE_PAYLOAD_LEN - 1] = 1;
        assert!(IntroducePayload::decode(&bad).is_err());
        assert!(IntroducePayload::decode(&v[..50]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(v in proptest::collection::vec(any::<u8>(), 0..500)) {
            let _ = IntroducePayload::decode(&v);
        }
    }
}
