//! The canonical postcard encoding of directory documents (docs/spec.md
//! §12.1): decoding that refuses trailing bytes and non-canonical forms,
//! signatures and keys in their wire form, and the domain-separated message
//! every directory signature covers.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use warren_crypto::{RelayIdentity, Signature};

use crate::DirectoryError;

/// A signature on the wire: `R` then `S`, 32 bytes each (§12.1).
pub(crate) type SigBytes = ([u8; 32], [u8; 32]);

/// Encodes `value` with postcard.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, DirectoryError> {
    postcard::to_allocvec(value).map_err(|_| DirectoryError::Internal {
        what: "postcard encoding",
    })
}

/// Decodes a `T` that must fill `bytes` exactly and be in canonical form:
/// encoding the value again must give back the same bytes (§12.1).
pub(crate) fn decode<'a, T>(bytes: &'a [u8], document: &'static str) -> Result<T, DirectoryError>
where
    T: Deserialize<'a> + Serialize,
{
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| DirectoryError::Malformed {
            document,
            reason: reason(&e),
        })?;
    if !rest.is_empty() {
        return Err(DirectoryError::TrailingBytes {
            document,
            count: rest.len(),
        });
    }
    if encode(&value)? != bytes {
        return Err(DirectoryError::NonCanonical {
            document,
            reason: "an integer or a length is not in its shortest encoding",
        });
    }
    Ok(value)
}

/// What a postcard decoding error means for the reader of a message.
fn reason(e: &postcard::Error) -> &'static str {
    match e {
        postcard::Error::DeserializeUnexpectedEnd => "the bytes end in the middle of a field",
        postcard::Error::DeserializeBadVarint => "an integer or a length is malformed or too large",
        postcard::Error::DeserializeBadBool => "a boolean is neither 0 nor 1",
        postcard::Error::DeserializeBadOption | postcard::Error::DeserializeBadEnum => {
            "a tag byte has a value outside its range"
        }
        postcard::Error::DeserializeBadUtf8 | postcard::Error::DeserializeBadChar => {
            "a text field is not UTF-8"
        }
        _ => "the encoding does not match the document's layout",
    }
}

/// The wire form of a signature.
pub(crate) fn sig_to_wire(sig: &Signature) -> SigBytes {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.iter_mut()
        .chain(s.iter_mut())
        .zip(sig.as_bytes())
        .for_each(|(d, b)| *d = *b);
    (r, s)
}

/// A signature from its wire form.
pub(crate) fn sig_from_wire((r, s): &SigBytes) -> Signature {
    let mut out = [0u8; 64];
    out.iter_mut()
        .zip(r.iter().chain(s))
        .for_each(|(d, b)| *d = *b);
    Signature(out)
}

/// The message a directory signature covers:
/// `"warren-<document>-v1" | 0x00 | body` (§12.1).
pub(crate) fn signing_message(label: &[u8], body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(label.len() + 1 + body.len());
    msg.extend_from_slice(label);
    msg.push(0);
    msg.extend_from_slice(body);
    msg
}

/// Parses a relay identity key found in `field` of `document`.
pub(crate) fn relay_identity(
    bytes: &[u8; 32],
    document: &'static str,
    field: &'static str,
) -> Result<RelayIdentity, DirectoryError> {
    RelayIdentity::from_bytes(bytes).map_err(|source| DirectoryError::BadKey {
        document,
        field,
        source,
    })
}

/// Lowercase hex of `bytes`, for error messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `items` is strictly increasing: sorted, without duplicates.
pub(crate) fn check_strictly_increasing<T: Ord>(
    items: &[T],
    document: &'static str,
    reason: &'static str,
) -> Result<(), DirectoryError> {
    if items.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
        Ok(())
    } else {
        Err(DirectoryError::NonCanonical { document, reason })
    }
}

/// Decodes a family: at most `max` valid identities in strictly increasing
/// order (§12.2).
pub(crate) fn family_from_wire(
    keys: &[[u8; 32]],
    max: usize,
    document: &'static str,
) -> Result<BTreeSet<RelayIdentity>, DirectoryError> {
    if keys.len() > max {
        return Err(DirectoryError::TooMany {
            document,
            item: "family members",
            count: keys.len(),
            max,
        });
    }
    check_strictly_increasing(
        keys,
        document,
        "the family is not sorted or lists a relay twice",
    )?;
    keys.iter()
        .map(|k| relay_identity(k, document, "family"))
        .collect()
}

/// The wire form of a family: its members in increasing order.
pub(crate) fn family_to_wire(family: &BTreeSet<RelayIdentity>) -> Vec<[u8; 32]> {
    family.iter().map(|id| *id.as_bytes()).collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample<'a> {
        n: u64,
        text: &'a str,
    }

    #[test]
    fn decode_is_strict() {
        let bytes = encode(&Sample { n: 5, text: "hi" }).unwrap();
        assert_eq!(bytes, [5, 2, b'h', b'i']);
        assert_eq!(
            decode::<Sample<'_>>(&bytes, "sample").unwrap(),
            Sample { n: 5, text: "hi" }
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode::<Sample<'_>>(&long, "sample"),
            Err(DirectoryError::TrailingBytes {
                document: "sample",
                count: 1
            })
        );
        // 5 as a two-byte varint.
        let overlong = [0x85, 0x00, 2, b'h', b'i'];
        assert!(matches!(
            decode::<Sample<'_>>(&overlong, "sample"),
            Err(DirectoryError::NonCanonical { .. })
        ));
        assert!(matches!(
            decode::<Sample<'_>>(&bytes[..3], "sample"),
            Err(DirectoryError::Malformed { reason, .. }) if reason.contains("end")
        ));
        assert!(matches!(
            decode::<Sample<'_>>(&[5, 1, 0xff], "sample"),
            Err(DirectoryError::Malformed { reason, .. }) if reason.contains("UTF-8")
        ));
    }

    #[test]
    fn signatures_round_trip() {
        let mut raw = [0u8; 64];
        raw.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let wire = sig_to_wire(&Signature(raw));
        assert_eq!(wire.0[31], 31);
        assert_eq!(wire.1[0], 32);
        assert_eq!(sig_from_wire(&wire), Signature(raw));
        assert_eq!(signing_message(b"ab", b"c"), b"ab\0c");
    }
}
