//! Key files: the bytes a daemon writes to a mode-0600 file to keep a secret
//! key (docs/spec.md §2.5). Reading and writing the file itself is not done
//! here.
//!
//! The format is strict and canonical: exactly
//!
//! ```text
//! warren-key v1 <kind-name>\n
//! <32-byte secret in standard base64 with padding>\n
//! ```
//!
//! so a key has exactly one file form, and the parser says precisely what is
//! wrong with anything else.

use core::fmt;

use data_encoding::{BASE64, DecodeKind};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{
    ClientAuthKeypair, KEY_LEN, OnionKeypair, RelayIdentityKeypair, ServiceIdentityKeypair,
};

/// The first word of every key file.
const MAGIC: &str = "warren-key";

/// The only key-file version defined.
const VERSION: &str = "v1";

/// Length of the base64 line (without its newline): 32 bytes → 44 characters.
const B64_LEN: usize = 44;

/// Which secret a key file holds (docs/spec.md §2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A [`RelayIdentityKeypair`]: `relay-identity`.
    RelayIdentity,
    /// An [`OnionKeypair`]: `relay-onion`.
    RelayOnion,
    /// A [`ServiceIdentityKeypair`]: `service-identity`.
    ServiceIdentity,
    /// A [`ClientAuthKeypair`]: `client-auth`.
    ClientAuth,
    /// A directory authority's long-term identity key: `authority-identity`
    /// (the type lives in `warren-directory`).
    AuthorityIdentity,
    /// A directory authority's signing key: `authority-signing`.
    AuthoritySigning,
}

impl KeyKind {
    /// Every kind, in the order of the specification's table.
    pub const ALL: [Self; 6] = [
        Self::RelayIdentity,
        Self::RelayOnion,
        Self::ServiceIdentity,
        Self::ClientAuth,
        Self::AuthorityIdentity,
        Self::AuthoritySigning,
    ];

    /// The name written in the key-file header.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RelayIdentity => "relay-identity",
            Self::RelayOnion => "relay-onion",
            Self::ServiceIdentity => "service-identity",
            Self::ClientAuth => "client-auth",
            Self::AuthorityIdentity => "authority-identity",
            Self::AuthoritySigning => "authority-signing",
        }
    }

    /// The kind with header name `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A keypair that can be written to and read from a key file (§2.5).
pub trait KeyFile: Sized {
    /// The kind named in this type's key-file header.
    const KIND: KeyKind;

    /// The key-file text for this key.
    fn to_key_file(&self) -> Zeroizing<String>;

    /// Parses key-file text; the header must name [`Self::KIND`].
    fn from_key_file(text: &str) -> Result<Self, CryptoError>;
}

/// Builds the key-file text for a 32-byte `secret` of kind `kind`.
pub fn encode_key_file(kind: KeyKind, secret: &[u8; KEY_LEN]) -> Zeroizing<String> {
    let mut b64 = Zeroizing::new([0u8; B64_LEN]);
    BASE64.encode_mut(secret, &mut b64[..]);
    let header_len = MAGIC.len() + VERSION.len() + kind.name().len() + 3;
    // Allocate once, so that no reallocation leaves a copy of the secret behind.
    let mut out = Zeroizing::new(String::with_capacity(header_len + B64_LEN + 1));
    for part in [MAGIC, " ", VERSION, " ", kind.name(), "\n"] {
        out.push_str(part);
    }
    for &c in b64.iter() {
        out.push(char::from(c));
    }
    out.push('\n');
    out
}

/// Parses key-file `text`, which must hold a key of kind `expected`.
pub fn decode_key_file(
    expected: KeyKind,
    text: &str,
) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let (header, rest) = split_line(text, "the header line does not end in a newline")?;
    check_header(expected, header)?;
    let (line, trailing) = split_line(rest, "the key line does not end in a newline")?;
    if !trailing.is_empty() {
        return Err(CryptoError::KeyFileTrailingData);
    }
    decode_secret(line)
}

/// Splits off one line that must end in `\n` (and not `\r\n`).
fn split_line<'a>(text: &'a str, missing: &'static str) -> Result<(&'a str, &'a str), CryptoError> {
    let (line, rest) = text
        .split_once('\n')
        .ok_or(CryptoError::KeyFileLayout { problem: missing })?;
    if line.ends_with('\r') {
        return Err(CryptoError::KeyFileLayout {
            problem: "lines end in CR LF; key files use a bare LF",
        });
    }
    Ok((line, rest))
}

/// Checks `warren-key v1 <kind-name>`.
fn check_header(expected: KeyKind, header: &str) -> Result<(), CryptoError> {
    let bad = |problem| CryptoError::KeyFileHeader { problem };
    let mut words = header.split(' ');
    if words.next() != Some(MAGIC) {
        return Err(bad("the first line must start with \"warren-key v1 \""));
    }
    if words.next() != Some(VERSION) {
        return Err(bad(
            "unsupported key-file version: this software reads v1 only",
        ));
    }
    let name = words
        .next()
        .ok_or(bad("the header does not name the key kind"))?;
    if words.next().is_some() {
        return Err(bad("the header has words after the key kind"));
    }
    let found = KeyKind::from_name(name).ok_or(bad(
        "unknown key kind (expected relay-identity, relay-onion, service-identity or client-auth)",
    ))?;
    if found != expected {
        return Err(CryptoError::KeyFileWrongKind { found, expected });
    }
    Ok(())
}

/// Decodes the base64 key line into exactly 32 bytes.
fn decode_secret(line: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let input = line.as_bytes();
    let len = BASE64.decode_len(input.len()).map_err(base64_error)?;
    let mut buf = Zeroizing::new(vec![0u8; len]);
    let written = BASE64
        .decode_mut(input, &mut buf)
        .map_err(|partial| base64_error(partial.error))?;
    let decoded = buf.get(..written).unwrap_or_default();
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    if decoded.len() != KEY_LEN {
        return Err(CryptoError::KeyFileLength {
            found: decoded.len(),
        });
    }
    out.copy_from_slice(decoded);
    // data-encoding also accepts padded blocks mid-string; only the one
    // canonical encoding of 32 bytes is a key line.
    let mut canonical = Zeroizing::new([0u8; B64_LEN]);
    BASE64.encode_mut(&out[..], &mut canonical[..]);
    if canonical[..] != *input {
        let position = canonical
            .iter()
            .zip(input)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(CryptoError::KeyFileBase64 {
            problem: "padding inside the key (not the canonical encoding)",
            position: position.saturating_add(1),
        });
    }
    Ok(out)
}

fn base64_error(e: data_encoding::DecodeError) -> CryptoError {
    let problem = match e.kind {
        DecodeKind::Length => "the length is not a multiple of 4",
        DecodeKind::Symbol => "a character outside the base64 alphabet",
        DecodeKind::Trailing => "non-zero unused bits (not the canonical encoding)",
        DecodeKind::Padding => "wrong padding",
    };
    CryptoError::KeyFileBase64 {
        problem,
        position: e.position.saturating_add(1),
    }
}

/// Implements [`KeyFile`] for a keypair type with `secret_bytes` and
/// `from_secret_bytes`.
macro_rules! impl_key_file {
    ($Keypair:ty, $kind:expr) => {
        impl KeyFile for $Keypair {
            const KIND: KeyKind = $kind;

            fn to_key_file(&self) -> Zeroizing<String> {
                encode_key_file(Self::KIND, &self.secret_bytes())
            }

            fn from_key_file(text: &str) -> Result<Self, CryptoError> {
                decode_key_file(Self::KIND, text).map(|s| Self::from_secret_bytes(*s))
            }
        }
    };
}

impl_key_file!(RelayIdentityKeypair, KeyKind::RelayIdentity);
impl_key_file!(OnionKeypair, KeyKind::RelayOnion);
impl_key_file!(ServiceIdentityKeypair, KeyKind::ServiceIdentity);
impl_key_file!(ClientAuthKeypair, KeyKind::ClientAuth);

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str =
        "warren-key v1 relay-identity\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

    fn parse(text: &str) -> Result<RelayIdentityKeypair, CryptoError> {
        RelayIdentityKeypair::from_key_file(text)
    }

    #[test]
    fn padding_inside_the_key_line_is_refused() {
        let text = "warren-key v1 relay-onion\nAgICAgICAg5555555555555555ICAgICAgICAgI=elay\n";
        assert!(decode_key_file(KeyKind::RelayOnion, text).is_err());
    }

    #[test]
    fn encodes_canonically() {
        let kp = RelayIdentityKeypair::from_secret_bytes([1; 32]);
        assert_eq!(kp.to_key_file().as_str(), GOOD);
        assert_eq!(parse(GOOD).unwrap().public(), kp.public());
    }

    #[test]
    fn wrong_kind_says_so() {
        let ck = ClientAuthKeypair::from_secret_bytes([1; 32]);
        let err = parse(&ck.to_key_file()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this is a client-auth key, expected a relay-identity key"
        );
    }

    #[test]
    fn every_defect_is_named() {
        let cases: &[(&str, &str)] = &[
            ("", "header line does not end in a newline"),
            ("warren-key v1 relay-identity", "header line does not end"),
            ("tor-key v1 relay-identity\nAAAA\n", "must start with"),
            (
                "warren-key v2 relay-identity\nAAAA\n",
                "unsupported key-file version",
            ),
            ("warren-key v1\nAAAA\n", "does not name the key kind"),
            (
                "warren-key v1 relay-identity x\nAAAA\n",
                "words after the key kind",
            ),
            ("warren-key v1 relay\nAAAA\n", "unknown key kind"),
            ("warren-key v1 relay-identity\r\nAAAA\r\n", "CR LF"),
            (
                "warren-key v1 relay-identity\nAQEB",
                "key line does not end",
            ),
            (
                "warren-key v1 relay-identity\nAQE*\n",
                "outside the base64 alphabet at character 4",
            ),
            ("warren-key v1 relay-identity\nAQE\n", "multiple of 4"),
            (
                "warren-key v1 relay-identity\nAQ==\n",
                "1 bytes long, expected 32",
            ),
            (
                "warren-key v1 relay-identity\nAR==\n",
                "non-zero unused bits",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
        }
        let trailing = format!("{GOOD}\n");
        assert_eq!(
            parse(&trailing).unwrap_err(),
            CryptoError::KeyFileTrailingData
        );
    }

    #[test]
    fn all_kinds_round_trip() {
        let secret = [7u8; 32];
        let onion = OnionKeypair::from_secret_bytes(secret);
        let back = OnionKeypair::from_key_file(&onion.to_key_file()).unwrap();
        assert_eq!(back.public(), onion.public());
        let svc = ServiceIdentityKeypair::from_secret_bytes(secret);
        let back = ServiceIdentityKeypair::from_key_file(&svc.to_key_file()).unwrap();
        assert_eq!(back.public(), svc.public());
        for kind in KeyKind::ALL {
            assert_eq!(KeyKind::from_name(kind.name()), Some(kind));
        }
    }

    proptest! {
        #[test]
        fn round_trip(secret in any::<[u8; 32]>()) {
            let kp = ClientAuthKeypair::from_secret_bytes(secret);
            let text = kp.to_key_file();
            let back = ClientAuthKeypair::from_key_file(&text).unwrap();
            prop_assert_eq!(*back.secret_bytes(), secret);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,120}") {
            let _ = parse(&text);
        }
    }
}
