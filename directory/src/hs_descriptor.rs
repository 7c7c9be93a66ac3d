//! Onion-service descriptors (docs/spec.md §15): what a service publishes
//! to the HSDirs of each time period. The outer document names only the
//! period's blinded key and is signed by it; its content is sealed under a
//! key that needs the subcredential, which only those who know the address
//! can compute, so an HSDir learns neither the address nor the intro
//! points. With restricted discovery the inner layer needs, besides, a
//! descriptor cookie that the service seals to each listed client key.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use warren_crypto::hs_seal::{self, SEAL_TAG_LEN};
use warren_crypto::{
    BlindedPublicKey, ClientAuthKeypair, ClientAuthPublicKey, OnionPublicKey, RelayIdentity,
    ServiceIdentity, ServiceIdentityKeypair, Signature, TimePeriod,
};

use crate::DirectoryError;
use crate::signed::{Unchecked, Validity, Verifiable, Window};
use crate::wire::{self, SigBytes};

/// Domain separation of the descriptor signature.
pub const HS_DESCRIPTOR_LABEL: &[u8] = b"warren-hs-descriptor-v1";
/// The descriptor format version.
pub const HS_DESCRIPTOR_VERSION: u8 = 1;
/// The largest encoded descriptor an HSDir stores.
pub const MAX_HS_DESCRIPTOR_LEN: usize = 50 * 1024;
/// Intro points a descriptor lists at most.
pub const MAX_INTRO_POINTS: usize = 10;
/// Client entries at most (restricted discovery).
pub const MAX_CLIENTS: usize = 512;
/// Client entries come in multiples of this, padded with random ones, so
/// that the number of authorised clients shows only roughly.
pub const CLIENT_PAD: usize = 16;
/// The longest lifetime a descriptor may claim: 12 hours.
pub const MAX_LIFETIME: u64 = 12 * 3600;

const DOCUMENT: &str = "onion-service descriptor";
const OUTER_LABEL: &[u8] = b"warren-hs-outer";
const INNER_LABEL: &[u8] = b"warren-hs-inner";
const CLIENT_LABEL: &[u8] = b"warren-hs-client";

/// An introduction point as the descriptor lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntroPointInfo {
    /// The intro relay's identity.
    pub relay: RelayIdentity,
    /// Its onion key, for the client's last hop.
    pub onion_key: OnionPublicKey,
    /// Its addresses (multiaddrs in text form).
    pub addresses: Vec<String>,
    /// The service's Ed25519 key for this intro point (ESTABLISH_INTRO's
    /// `auth_key`, §11.2).
    pub auth_key: [u8; 32],
    /// The service's X25519 key clients encrypt INTRODUCE to.
    pub enc_key: [u8; 32],
}

/// The proof-of-work parameters a service announces (§11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowParams {
    /// The current seed.
    pub seed: [u8; 32],
    /// The effort the service suggests.
    pub suggested_effort: u32,
}

/// What a descriptor tells an authorised client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsDescriptorContent {
    /// Where to introduce oneself.
    pub intro_points: Vec<IntroPointInfo>,
    /// The client puzzle, when the service asks for one.
    pub pow: Option<PowParams>,
}

/// When a descriptor was made and for how long it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HsDescriptorTimes {
    /// Increases with every descriptor of one blinded key (the service uses
    /// its publication time).
    pub revision: u64,
    /// When it was made (Unix seconds).
    pub published: u64,
    /// How long it holds, in seconds (at most [`MAX_LIFETIME`]).
    pub lifetime: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireBody<'a> {
    version: u8,
    blinded_key: [u8; 32],
    revision: u64,
    published: u64,
    lifetime: u64,
    salt: [u8; 16],
    #[serde(borrow)]
    sealed: &'a [u8],
}

#[derive(Debug, Serialize, Deserialize)]
struct WireDescriptor<'a> {
    #[serde(borrow)]
    body: &'a [u8],
    signature: SigBytes,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireClientEntry {
    id: [u8; 8],
    /// The descriptor cookie, sealed to the client: 32 bytes, then the tag.
    cookie: [u8; 32],
    tag: [u8; SEAL_TAG_LEN],
}

#[derive(Debug, Serialize, Deserialize)]
struct WireAuth {
    ephemeral: [u8; 32],
    clients: Vec<WireClientEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireOuter<'a> {
    auth: Option<WireAuth>,
    inner_salt: [u8; 16],
    #[serde(borrow)]
    inner: &'a [u8],
}

#[derive(Debug, Serialize, Deserialize)]
struct WireIntroPoint<'a> {
    relay: [u8; 32],
    onion_key: [u8; 32],
    #[serde(borrow)]
    addresses: Vec<&'a str>,
    auth_key: [u8; 32],
    enc_key: [u8; 32],
}

#[derive(Debug, Serialize, Deserialize)]
struct WireInner<'a> {
    #[serde(borrow)]
    intro_points: Vec<WireIntroPoint<'a>>,
    pow: Option<([u8; 32], u32)>,
}

/// A signed descriptor, as made or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHsDescriptor {
    blinded_key: [u8; 32],
    times: HsDescriptorTimes,
    salt: [u8; 16],
    sealed: Vec<u8>,
    signature: Signature,
    bytes: Vec<u8>,
    body_len: usize,
}

fn malformed(reason: &'static str) -> DirectoryError {
    DirectoryError::Malformed {
        document: DOCUMENT,
        reason,
    }
}

fn crypto(e: warren_crypto::CryptoError) -> DirectoryError {
    DirectoryError::Decrypt {
        document: DOCUMENT,
        source: e,
    }
}

/// The outer layer's key: blinded key, subcredential, revision, salt.
fn outer_key(
    blinded: &[u8; 32],
    subcredential: &[u8; 32],
    revision: u64,
    salt: &[u8; 16],
) -> Result<zeroize::Zeroizing<[u8; 32]>, DirectoryError> {
    hs_seal::layer_key(
        OUTER_LABEL,
        &[blinded, subcredential, &revision.to_be_bytes(), salt],
    )
    .map_err(crypto)
}

/// The inner layer's key; `cookie` is empty without restricted discovery.
fn inner_key(
    blinded: &[u8; 32],
    subcredential: &[u8; 32],
    revision: u64,
    salt: &[u8; 16],
    cookie: &[u8],
) -> Result<zeroize::Zeroizing<[u8; 32]>, DirectoryError> {
    hs_seal::layer_key(
        INNER_LABEL,
        &[
            blinded,
            subcredential,
            &revision.to_be_bytes(),
            salt,
            cookie,
        ],
    )
    .map_err(crypto)
}

/// A client's entry id and cookie key from the X25519 shared secret.
fn client_entry_keys(
    subcredential: &[u8; 32],
    shared: &[u8; 32],
) -> Result<([u8; 8], zeroize::Zeroizing<[u8; 32]>), DirectoryError> {
    let okm = hs_seal::derive::<40>(CLIENT_LABEL, &[subcredential, shared]).map_err(crypto)?;
    let mut id = [0u8; 8];
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    id.iter_mut()
        .chain(key.iter_mut())
        .zip(okm.iter())
        .for_each(|(d, s)| *d = *s);
    Ok((id, key))
}

impl HsDescriptorContent {
    fn encode(&self) -> Result<Vec<u8>, DirectoryError> {
        if self.intro_points.len() > MAX_INTRO_POINTS {
            return Err(DirectoryError::field(
                DOCUMENT,
                "intro_points",
                format!("at most {MAX_INTRO_POINTS}"),
            ));
        }
        for ip in &self.intro_points {
            crate::fields::check_addresses(&ip.addresses, DOCUMENT)?;
        }
        let intro_points = self
            .intro_points
            .iter()
            .map(|ip| WireIntroPoint {
                relay: *ip.relay.as_bytes(),
                onion_key: *ip.onion_key.as_bytes(),
                addresses: ip.addresses.iter().map(String::as_str).collect(),
                auth_key: ip.auth_key,
                enc_key: ip.enc_key,
            })
            .collect();
        wire::encode(&WireInner {
            intro_points,
            pow: self.pow.map(|p| (p.seed, p.suggested_effort)),
        })
    }

    fn decode(bytes: &[u8]) -> Result<Self, DirectoryError> {
        let w: WireInner<'_> = wire::decode(bytes, DOCUMENT)?;
        if w.intro_points.len() > MAX_INTRO_POINTS {
            return Err(malformed("more intro points than allowed"));
        }
        let intro_points = w
            .intro_points
            .iter()
            .map(|ip| {
                let addresses: Vec<String> = ip.addresses.iter().map(|a| (*a).to_owned()).collect();
                crate::fields::check_addresses(&addresses, DOCUMENT)?;
                Ok(IntroPointInfo {
                    relay: RelayIdentity::from_bytes(&ip.relay).map_err(crypto)?,
                    onion_key: OnionPublicKey::from_bytes(ip.onion_key),
                    addresses,
                    auth_key: ip.auth_key,
                    enc_key: ip.enc_key,
                })
            })
            .collect::<Result<Vec<_>, DirectoryError>>()?;
        Ok(Self {
            intro_points,
            pow: w.pow.map(|(seed, suggested_effort)| PowParams {
                seed,
                suggested_effort,
            }),
        })
    }
}

impl SignedHsDescriptor {
    /// Builds, seals and signs the descriptor of `identity` for `period`.
    /// With `clients` non-empty only those clients can read the content
    /// (restricted discovery).
    pub fn build<R: CryptoRng + ?Sized>(
        identity: &ServiceIdentityKeypair,
        period: TimePeriod,
        content: &HsDescriptorContent,
        times: HsDescriptorTimes,
        clients: &[ClientAuthPublicKey],
        rng: &mut R,
    ) -> Result<Self, DirectoryError> {
        if times.lifetime == 0 || times.lifetime > MAX_LIFETIME {
            return Err(DirectoryError::field(
                DOCUMENT,
                "lifetime",
                "between 1 second and 12 hours",
            ));
        }
        if clients.len() > MAX_CLIENTS {
            return Err(DirectoryError::field(
                DOCUMENT,
                "clients",
                format!("at most {MAX_CLIENTS} authorised clients"),
            ));
        }
        let blinded_keypair = identity.blind(period);
        let blinded = *blinded_keypair.public().as_bytes();
        let subcredential = identity.public().subcredential(period).map_err(crypto)?;
        let mut salt = [0u8; 16];
        let mut inner_salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        rng.fill_bytes(&mut inner_salt);
        let (auth, cookie) = if clients.is_empty() {
            (None, zeroize::Zeroizing::new(Vec::new()))
        } else {
            let mut cookie = zeroize::Zeroizing::new(vec![0u8; 32]);
            rng.fill_bytes(&mut cookie);
            let ephemeral = ClientAuthKeypair::generate(rng);
            let mut entries = Vec::with_capacity(clients.len().next_multiple_of(CLIENT_PAD));
            for client in clients {
                let shared = ephemeral
                    .diffie_hellman(client.as_bytes())
                    .map_err(crypto)?;
                let (id, key) = client_entry_keys(&subcredential, &shared)?;
                let sealed = hs_seal::seal(&key, &cookie).map_err(crypto)?;
                let mut c = [0u8; 32];
                let mut tag = [0u8; SEAL_TAG_LEN];
                c.iter_mut()
                    .chain(tag.iter_mut())
                    .zip(&sealed)
                    .for_each(|(d, s)| *d = *s);
                entries.push(WireClientEntry { id, cookie: c, tag });
            }
            while entries.len() % CLIENT_PAD != 0 {
                let mut id = [0u8; 8];
                let mut c = [0u8; 32];
                let mut tag = [0u8; SEAL_TAG_LEN];
                rng.fill_bytes(&mut id);
                rng.fill_bytes(&mut c);
                rng.fill_bytes(&mut tag);
                entries.push(WireClientEntry { id, cookie: c, tag });
            }
            // Sorted by id, so that the order says nothing about the list.
            entries.sort_by_key(|e| e.id);
            let auth = WireAuth {
                ephemeral: *ephemeral.public().as_bytes(),
                clients: entries,
            };
            (Some(auth), cookie)
        };
        let ikey = inner_key(
            &blinded,
            &subcredential,
            times.revision,
            &inner_salt,
            &cookie,
        )?;
        let inner = hs_seal::seal(&ikey, &content.encode()?).map_err(crypto)?;
        let outer = wire::encode(&WireOuter {
            auth,
            inner_salt,
            inner: &inner,
        })?;
        let okey = outer_key(&blinded, &subcredential, times.revision, &salt)?;
        let sealed = hs_seal::seal(&okey, &outer).map_err(crypto)?;
        let body = wire::encode(&WireBody {
            version: HS_DESCRIPTOR_VERSION,
            blinded_key: blinded,
            revision: times.revision,
            published: times.published,
            lifetime: times.lifetime,
            salt,
            sealed: &sealed,
        })?;
        let signature = blinded_keypair.sign(&wire::signing_message(HS_DESCRIPTOR_LABEL, &body));
        let bytes = wire::encode(&WireDescriptor {
            body: &body,
            signature: wire::sig_to_wire(&signature),
        })?;
        if bytes.len() > MAX_HS_DESCRIPTOR_LEN {
            return Err(DirectoryError::field(
                DOCUMENT,
                "size",
                format!(
                    "{} bytes, over the limit of {MAX_HS_DESCRIPTOR_LEN}",
                    bytes.len()
                ),
            ));
        }
        Ok(Self {
            blinded_key: blinded,
            times,
            salt,
            sealed,
            signature,
            body_len: body.len(),
            bytes,
        })
    }

    /// Decodes a descriptor; [`Unchecked::verify`] checks its signature by
    /// the blinded key it names.
    pub fn decode(bytes: &[u8]) -> Result<Unchecked<Self>, DirectoryError> {
        if bytes.len() > MAX_HS_DESCRIPTOR_LEN {
            return Err(malformed("longer than 50 KiB"));
        }
        let env: WireDescriptor<'_> = wire::decode(bytes, DOCUMENT)?;
        let body: WireBody<'_> = wire::decode(env.body, DOCUMENT)?;
        if body.version != HS_DESCRIPTOR_VERSION {
            return Err(DirectoryError::UnsupportedVersion {
                document: DOCUMENT,
                found: body.version,
                supported: HS_DESCRIPTOR_VERSION,
            });
        }
        if body.lifetime == 0 || body.lifetime > MAX_LIFETIME {
            return Err(malformed("the lifetime is 0 or over 12 hours"));
        }
        Ok(Unchecked::new(Self {
            blinded_key: body.blinded_key,
            times: HsDescriptorTimes {
                revision: body.revision,
                published: body.published,
                lifetime: body.lifetime,
            },
            salt: body.salt,
            sealed: body.sealed.to_vec(),
            signature: wire::sig_from_wire(&env.signature),
            body_len: env.body.len(),
            bytes: bytes.to_vec(),
        }))
    }

    /// The blinded key the descriptor is stored under.
    pub fn blinded_key(&self) -> &[u8; 32] {
        &self.blinded_key
    }

    /// Its revision and times.
    pub fn times(&self) -> HsDescriptorTimes {
        self.times
    }

    /// The signed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Opens the content for a client that knows the service's `identity`
    /// (from its address), with its client key when the service restricts
    /// discovery. A client the service does not list gets
    /// [`DirectoryError::NotAuthorised`].
    pub fn decrypt(
        &self,
        identity: &ServiceIdentity,
        period: TimePeriod,
        client: Option<&ClientAuthKeypair>,
    ) -> Result<HsDescriptorContent, DirectoryError> {
        let blinded = identity.blind(period).map_err(crypto)?;
        if blinded.as_bytes() != &self.blinded_key {
            return Err(DirectoryError::field(
                DOCUMENT,
                "blinded_key",
                "this descriptor is not for that address and period",
            ));
        }
        let subcredential = identity.subcredential(period).map_err(crypto)?;
        let okey = outer_key(
            &self.blinded_key,
            &subcredential,
            self.times.revision,
            &self.salt,
        )?;
        let outer_bytes = hs_seal::open(&okey, &self.sealed).map_err(crypto)?;
        let outer: WireOuter<'_> = wire::decode(&outer_bytes, DOCUMENT)?;
        let cookie = match (&outer.auth, client) {
            (None, _) => zeroize::Zeroizing::new(Vec::new()),
            (Some(_), None) => return Err(DirectoryError::NotAuthorised),
            (Some(auth), Some(client)) => {
                let shared = client.diffie_hellman(&auth.ephemeral).map_err(crypto)?;
                let (id, key) = client_entry_keys(&subcredential, &shared)?;
                let entry = auth
                    .clients
                    .iter()
                    .find(|e| e.id == id)
                    .ok_or(DirectoryError::NotAuthorised)?;
                let mut sealed = entry.cookie.to_vec();
                sealed.extend_from_slice(&entry.tag);
                hs_seal::open(&key, &sealed).map_err(|_| DirectoryError::NotAuthorised)?
            }
        };
        let ikey = inner_key(
            &self.blinded_key,
            &subcredential,
            self.times.revision,
            &outer.inner_salt,
            &cookie,
        )?;
        let inner = hs_seal::open(&ikey, outer.inner).map_err(crypto)?;
        HsDescriptorContent::decode(&inner)
    }
}

impl Verifiable for SignedHsDescriptor {
    type Keys = ();

    /// The blinded key the descriptor names must have signed it. Valid from
    /// `published` for `lifetime` seconds.
    fn check_signatures(&self, _: &()) -> Result<Validity, DirectoryError> {
        let key = BlindedPublicKey::from_bytes(&self.blinded_key).map_err(crypto)?;
        let env: WireDescriptor<'_> = wire::decode(&self.bytes, DOCUMENT)?;
        if env.body.len() != self.body_len {
            return Err(DirectoryError::Internal {
                what: "descriptor body length",
            });
        }
        key.verify(
            &wire::signing_message(HS_DESCRIPTOR_LABEL, env.body),
            &self.signature,
        )
        .map_err(|_| DirectoryError::BadSignature { document: DOCUMENT })?;
        let window = Window {
            start: self.times.published,
            end: self.times.published.saturating_add(self.times.lifetime),
        };
        Ok(Validity::new(DOCUMENT, window))
    }
}

#[cfg(test)]
mod test;
