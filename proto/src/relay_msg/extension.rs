//! Onion-service message extensions (docs/spec.md §11.1): the
//! `n_ext u8 | (type u8 | len u8 | data)*` list carried by ESTABLISH_INTRO,
//! INTRO_ESTABLISHED, INTRODUCE1/2 and INTRODUCE_ACK.

use super::fixed_len;
use crate::ProtoError;
use crate::codec::{Readable, Reader, Writeable, Writer, open_enum};

/// The most extensions one message may carry (docs/spec.md §11.1).
pub const EXTENSIONS_MAX: usize = 16;

open_enum! {
    /// The type byte of an extension (docs/spec.md §11.1).
    pub struct ExtensionType(u8);
    /// Denial-of-service rate limits for an introduction point, 8 bytes.
    DOS_PARAMS = 1 => "introduction rate limits",
    /// Proof-of-work parameters, 36 bytes.
    POW_PARAMS = 2 => "proof-of-work parameters",
    /// A client's proof of its restricted-discovery key, 64 bytes.
    CLIENT_PROOF = 3 => "client key proof",
    /// A solution of the client puzzle, 40 bytes.
    POW_SOLUTION = 4 => "proof-of-work solution",
}

/// One extension: `type u8 | len u8 | data` (docs/spec.md §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// Type 1: `rate_per_sec u32 | burst u32`, the introduction rate the
    /// service asks its introduction point to enforce.
    DosParams {
        /// Introductions allowed per second.
        rate_per_sec: u32,
        /// Introductions allowed in a burst.
        burst: u32,
    },
    /// Type 2: `seed[32] | suggested_effort u32`.
    PowParams {
        /// The current proof-of-work seed.
        seed: [u8; 32],
        /// The effort the service suggests.
        suggested_effort: u32,
    },
    /// Type 3, inside an introduction's encrypted part:
    /// `client_key[32] | proof[32]` (§16.3).
    ClientProof {
        /// The client's X25519 restricted-discovery public key.
        client_key: [u8; 32],
        /// HMAC proof that it holds the secret half (§16.3).
        proof: [u8; 32],
    },
    /// Type 4, inside an introduction's encrypted part:
    /// `nonce[16] | effort u32 | seed_head[4] | solution[16]` (§16.4).
    PowSolution {
        /// The nonce that gave the solution.
        nonce: [u8; 16],
        /// The effort claimed.
        effort: u32,
        /// The first four bytes of the seed solved for.
        seed_head: [u8; 4],
        /// The Equi-X solution.
        solution: [u8; 16],
    },
    /// A type this version does not know; it round-trips unchanged.
    Unrecognized {
        /// The type byte, which is not one of [`ExtensionType::ALL`].
        kind: u8,
        /// The data as it arrived, at most 255 bytes.
        data: Vec<u8>,
    },
}

impl Extension {
    /// The type byte of this extension.
    pub fn kind(&self) -> ExtensionType {
        match self {
            Self::DosParams { .. } => ExtensionType::DOS_PARAMS,
            Self::PowParams { .. } => ExtensionType::POW_PARAMS,
            Self::ClientProof { .. } => ExtensionType::CLIENT_PROOF,
            Self::PowSolution { .. } => ExtensionType::POW_SOLUTION,
            Self::Unrecognized { kind, .. } => ExtensionType(*kind),
        }
    }

    /// Decodes the data of an extension of type `kind`.
    fn decode(kind: ExtensionType, data: &[u8]) -> Result<Self, ProtoError> {
        let mut r = Reader::new(data, "extension");
        let ext = match kind {
            ExtensionType::DOS_PARAMS => {
                fixed_len("DOS_PARAMS extension", data, 8)?;
                Self::DosParams {
                    rate_per_sec: r.u32()?,
                    burst: r.u32()?,
                }
            }
            ExtensionType::POW_PARAMS => {
                fixed_len("POW_PARAMS extension", data, 36)?;
                Self::PowParams {
                    seed: r.array()?,
                    suggested_effort: r.u32()?,
                }
            }
            ExtensionType::CLIENT_PROOF => {
                fixed_len("CLIENT_PROOF extension", data, 64)?;
                Self::ClientProof {
                    client_key: r.array()?,
                    proof: r.array()?,
                }
            }
            ExtensionType::POW_SOLUTION => {
                fixed_len("POW_SOLUTION extension", data, 40)?;
                Self::PowSolution {
                    nonce: r.array()?,
                    effort: r.u32()?,
                    seed_head: r.array()?,
                    solution: r.array()?,
                }
            }
            ExtensionType(kind) => Self::Unrecognized {
                kind,
                data: r.take_rest().to_vec(),
            },
        };
        r.should_be_exhausted()?;
        Ok(ext)
    }

    /// Encodes the data of this extension.
    fn encode_data(&self) -> Result<Vec<u8>, ProtoError> {
        let mut w = Writer::new();
        match self {
            Self::DosParams {
                rate_per_sec,
                burst,
            } => {
                w.u32(*rate_per_sec);
                w.u32(*burst);
            }
            Self::PowParams {
                seed,
                suggested_effort,
            } => {
                w.bytes(seed);
                w.u32(*suggested_effort);
            }
            Self::ClientProof { client_key, proof } => {
                w.bytes(client_key);
                w.bytes(proof);
            }
            Self::PowSolution {
                nonce,
                effort,
                seed_head,
                solution,
            } => {
                w.bytes(nonce);
                w.u32(*effort);
                w.bytes(seed_head);
                w.bytes(solution);
            }
            Self::Unrecognized { kind, data } => {
                if ExtensionType(*kind).is_recognized() {
                    return Err(ProtoError::Malformed {
                        object: "extension",
                        reason: "an unrecognized extension uses a recognized type",
                    });
                }
                w.bytes(data);
            }
        }
        Ok(w.into_vec())
    }
}

impl Readable for Extension {
    fn take_from(r: &mut Reader<'_>) -> Result<Self, ProtoError> {
        let kind = ExtensionType(r.u8()?);
        let data = r.u8_prefixed(u8::MAX.into())?;
        Self::decode(kind, data)
    }
}

impl Writeable for Extension {
    fn write_onto(&self, w: &mut Writer) -> Result<(), ProtoError> {
        w.u8(self.kind().0);
        w.u8_prefixed("extension", &self.encode_data()?, u8::MAX.into())
    }
}

/// Checks the extension count of a message.
fn check_count(object: &'static str, count: usize) -> Result<(), ProtoError> {
    if count > EXTENSIONS_MAX {
        return Err(ProtoError::TooMany {
            object,
            item: "extensions",
            count,
            max: EXTENSIONS_MAX,
        });
    }
    Ok(())
}

/// Reads `n_ext u8 | ext*`.
pub(crate) fn read_extensions(r: &mut Reader<'_>) -> Result<Vec<Extension>, ProtoError> {
    let count = usize::from(r.u8()?);
    check_count(r.object(), count)?;
    (0..count).map(|_| r.extract()).collect()
}

/// Writes `n_ext u8 | ext*` for a message named `object`.
pub(crate) fn write_extensions(
    w: &mut Writer,
    object: &'static str,
    exts: &[Extension],
) -> Result<(), ProtoError> {
    check_count(object, exts.len())?;
    w.u8(u8::try_from(exts.len()).map_err(|_| ProtoError::Internal {
        reason: "extension count exceeds u8",
    })?);
    exts.iter().try_for_each(|e| w.write(e))
}

#[cfg(test)]
mod test {
    use super::*;

    fn round(exts: &[Extension]) -> Result<Vec<Extension>, ProtoError> {
        let mut w = Writer::new();
        write_extensions(&mut w, "t", exts)?;
        let v = w.into_vec();
        let mut r = Reader::new(&v, "t");
        let back = read_extensions(&mut r)?;
        r.should_be_exhausted()?;
        Ok(back)
    }

    #[test]
    fn layouts() {
        let dos = Extension::DosParams {
            rate_per_sec: 25,
            burst: 200,
        };
        let mut w = Writer::new();
        w.write(&dos).unwrap();
        assert_eq!(w.into_vec(), [1, 8, 0, 0, 0, 25, 0, 0, 0, 200]);
        let all = vec![
            dos,
            Extension::PowParams {
                seed: [7; 32],
                suggested_effort: 1000,
            },
            Extension::Unrecognized {
                kind: 200,
                data: vec![1, 2],
            },
        ];
        assert_eq!(round(&all).unwrap(), all);
    }

    #[test]
    fn limits_and_non_canonical() {
        let many = vec![
            Extension::Unrecognized {
                kind: 9,
                data: vec![]
            };
            17
        ];
        assert!(matches!(
            round(&many),
            Err(ProtoError::TooMany {
                count: 17,
                max: 16,
                ..
            })
        ));
        assert!(round(&many[..16]).is_ok());
        let mut r = Reader::new(&[1, 1, 7, 0, 0, 0, 0, 0, 0, 0], "t");
        assert!(matches!(
            read_extensions(&mut r),
            Err(ProtoError::BadLength {
                expected: 8,
                found: 7,
                ..
            })
        ));
        let fake = Extension::Unrecognized {
            kind: 2,
            data: vec![0; 36],
        };
        assert!(round(&[fake]).is_err());
        let mut r = Reader::new(&[17], "t");
        assert!(matches!(
            read_extensions(&mut r),
            Err(ProtoError::TooMany { .. })
        ));
    }
}
