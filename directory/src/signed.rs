//! The checkable pattern for signed directory documents (docs/spec.md
//! §12.1): a decoded document is [`Unchecked`] until its signatures are
//! verified, then [`TimeBound`] until it is checked against the time, and
//! only then the document itself.
//!
//! ```text
//! bytes ──decode──▶ Unchecked<T> ──verify(keys)──▶ TimeBound<T> ──check_valid_at(t)──▶ T
//! ```
//!
//! The two steps that skip a check are named `dangerously_*`, so that a
//! reviewer can find every place that does.

use serde::{Deserialize, Serialize};
use warren_crypto::{RelayIdentity, RelayIdentityKeypair, Signature};

use crate::DirectoryError;
use crate::wire::{self, SigBytes};

/// An inclusive span of Unix seconds `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// The first second of the span.
    pub start: u64,
    /// The last second of the span.
    pub end: u64,
}

impl Window {
    /// Whether `t` lies in the span.
    pub fn contains(&self, t: u64) -> bool {
        self.start <= t && t <= self.end
    }
}

/// When a verified document may be used: its own window, and the windows of
/// the certificates behind its signatures, of which `needed` must cover the
/// time of use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    document: &'static str,
    window: Window,
    certs: Vec<Window>,
    needed: usize,
}

impl Validity {
    /// A document valid during `window`, with no certificates to check.
    pub(crate) fn new(document: &'static str, window: Window) -> Self {
        Self {
            document,
            window,
            certs: Vec::new(),
            needed: 0,
        }
    }

    /// Adds the certificate windows of which `needed` must cover the time.
    pub(crate) fn with_certs(mut self, certs: Vec<Window>, needed: usize) -> Self {
        self.certs = certs;
        self.needed = needed;
        self
    }

    /// Checks the time `now` against every window (§12.8).
    fn check(&self, now: u64) -> Result<(), DirectoryError> {
        let Self {
            document, window, ..
        } = *self;
        if now < window.start {
            return Err(DirectoryError::NotYetValid {
                document,
                valid_after: window.start,
                now,
                wait: window.start - now,
            });
        }
        if now > window.end {
            return Err(DirectoryError::Expired {
                document,
                valid_until: window.end,
                now,
                by: now - window.end,
            });
        }
        let valid = self.certs.iter().filter(|w| w.contains(now)).count();
        if valid < self.needed {
            return Err(DirectoryError::TooFewValidCerts {
                document,
                valid,
                needed: self.needed,
                now,
            });
        }
        Ok(())
    }
}

/// A document whose signatures can be checked with `Keys`.
pub trait Verifiable {
    /// What the verifier must know: `()` for self-signed documents, an
    /// authority identity or the configured authority set otherwise.
    type Keys: ?Sized;

    /// Checks every signature the document needs and returns when it may
    /// be used.
    fn check_signatures(&self, keys: &Self::Keys) -> Result<Validity, DirectoryError>;
}

/// A decoded document whose signatures have not been checked.
#[derive(Debug, Clone)]
pub struct Unchecked<T> {
    inner: T,
}

impl<T> Unchecked<T> {
    /// Wraps a document that was just decoded or assembled.
    pub(crate) fn new(inner: T) -> Self {
        Self { inner }
    }

    /// The document, unverified: for logging and diagnostics only.
    pub fn dangerously_peek(&self) -> &T {
        &self.inner
    }

    /// Skips both the signature and the time checks.
    pub fn dangerously_assume_verified(self) -> T {
        self.inner
    }
}

impl<T: Verifiable> Unchecked<T> {
    /// Checks the signatures with `keys`; the result must still be checked
    /// against the time.
    pub fn verify(self, keys: &T::Keys) -> Result<TimeBound<T>, DirectoryError> {
        let validity = self.inner.check_signatures(keys)?;
        Ok(TimeBound {
            inner: self.inner,
            validity,
        })
    }
}

/// A document with valid signatures that is usable only in its window.
#[derive(Debug, Clone)]
pub struct TimeBound<T> {
    inner: T,
    validity: Validity,
}

impl<T> TimeBound<T> {
    /// Returns the document if it may be used at `now` (Unix seconds).
    pub fn check_valid_at(self, now: u64) -> Result<T, DirectoryError> {
        self.validity.check(now)?;
        Ok(self.inner)
    }

    /// The first second the document is valid.
    pub fn valid_after(&self) -> u64 {
        self.validity.window.start
    }

    /// The last second the document is valid.
    pub fn valid_until(&self) -> u64 {
        self.validity.window.end
    }

    /// The document, whatever the time: for tests and diagnostics.
    pub fn dangerously_peek(&self) -> &T {
        &self.inner
    }

    /// Skips the time check.
    pub fn dangerously_assume_timely(self) -> T {
        self.inner
    }
}

/// The envelope of a document with one signer: the body's bytes, the
/// signer's public key and the signature (§12.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Envelope<'a> {
    /// The encoded body, exactly the bytes that were signed.
    #[serde(borrow)]
    pub(crate) body: &'a [u8],
    /// The signing key.
    pub(crate) signer: [u8; 32],
    /// The signature over `label | 0x00 | body`.
    pub(crate) signature: SigBytes,
}

/// A body, signed: what [`Envelope`] decodes to, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// The whole encoded envelope.
    pub(crate) bytes: Vec<u8>,
    /// The signing key's bytes.
    pub(crate) signer: [u8; 32],
    /// The signature.
    pub(crate) signature: Signature,
}

impl Sealed {
    /// Signs `body` under `label` with `key` and encodes the envelope.
    pub(crate) fn seal(
        label: &[u8],
        body: &[u8],
        key: &RelayIdentityKeypair,
    ) -> Result<Self, DirectoryError> {
        let signature = key.sign(&wire::signing_message(label, body));
        Self::from_parts(body, *key.public().as_bytes(), signature)
    }

    /// Encodes an envelope from its parts.
    pub(crate) fn from_parts(
        body: &[u8],
        signer: [u8; 32],
        signature: Signature,
    ) -> Result<Self, DirectoryError> {
        let bytes = wire::encode(&Envelope {
            body,
            signer,
            signature: wire::sig_to_wire(&signature),
        })?;
        Ok(Self {
            bytes,
            signer,
            signature,
        })
    }
}

/// What follows an envelope's body: the signer (32 bytes) and the
/// signature (64 bytes).
const ENVELOPE_TAIL: usize = 96;

/// The body of the encoded envelope `bytes` whose body is `body_len` bytes
/// long: the body is the last field before the fixed-size tail.
pub(crate) fn envelope_body(bytes: &[u8], body_len: usize) -> Result<&[u8], DirectoryError> {
    let end = bytes.len().checked_sub(ENVELOPE_TAIL);
    end.and_then(|end| bytes.get(end.checked_sub(body_len)?..end))
        .ok_or(DirectoryError::Internal {
            what: "locating an envelope's body",
        })
}

/// Checks that `signer` signed `body` under `label` (§12.1).
pub(crate) fn check_signature(
    label: &[u8],
    body: &[u8],
    signer: &RelayIdentity,
    signature: &Signature,
    document: &'static str,
) -> Result<(), DirectoryError> {
    signer
        .verify(&wire::signing_message(label, body), signature)
        .map_err(|_| DirectoryError::BadSignature { document })
}

#[cfg(test)]
mod test {
    use super::*;

    fn validity() -> Validity {
        Validity::new(
            "test document",
            Window {
                start: 100,
                end: 200,
            },
        )
    }

    #[test]
    fn window_edges_are_inclusive() {
        let v = validity();
        v.check(100).unwrap();
        v.check(200).unwrap();
        assert_eq!(
            v.check(99),
            Err(DirectoryError::NotYetValid {
                document: "test document",
                valid_after: 100,
                now: 99,
                wait: 1
            })
        );
        assert_eq!(
            v.check(260),
            Err(DirectoryError::Expired {
                document: "test document",
                valid_until: 200,
                now: 260,
                by: 60
            })
        );
    }

    #[test]
    fn certificates_must_cover_the_time() {
        let w = |start, end| Window { start, end };
        let v = validity().with_certs(vec![w(0, 150), w(0, 300), w(120, 300)], 2);
        v.check(110).unwrap();
        v.check(160).unwrap();
        let v = validity().with_certs(vec![w(0, 150), w(0, 300), w(120, 300)], 3);
        v.check(130).unwrap();
        assert_eq!(
            v.check(110),
            Err(DirectoryError::TooFewValidCerts {
                document: "test document",
                valid: 2,
                needed: 3,
                now: 110
            })
        );
    }

    #[test]
    fn sealed_envelopes_verify() {
        let key = RelayIdentityKeypair::from_secret_bytes([1; 32]);
        let sealed = Sealed::seal(b"warren-test-v1", b"body", &key).unwrap();
        let env: Envelope<'_> = wire::decode(&sealed.bytes, "test").unwrap();
        assert_eq!(env.body, b"body");
        assert_eq!(envelope_body(&sealed.bytes, 4).unwrap(), b"body");
        let sig = wire::sig_from_wire(&env.signature);
        check_signature(b"warren-test-v1", env.body, &key.public(), &sig, "test").unwrap();
        assert_eq!(
            check_signature(b"warren-test-v2", env.body, &key.public(), &sig, "test"),
            Err(DirectoryError::BadSignature { document: "test" })
        );
    }
}
