//! Checking and ordering introductions (docs/spec.md §16.3, §16.4): each
//! INTRODUCE2 is opened with the intro point's key, refused if replayed,
//! refused if the service restricts discovery and the client proves no
//! listed key (or its key is over its rate), weighed by its puzzle
//! solution, and queued by effort for the rendezvous.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use warren_crypto::ClientAuthPublicKey;
use warren_crypto::hs_ntor::{self, IntroEncKeypair, IntroKeys};
use warren_proto::intro_queue::QUEUE_MAX_AGE;
use warren_proto::relay_msg::{Extension, Introduce2, IntroducePayload};

use crate::ClientError;

/// Client ephemeral keys remembered against replays, per service.
const REPLAY_CAPACITY: usize = 200_000;

/// Why an introduction was refused (for logs and metrics; the client
/// learns nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It did not open, or its payload is malformed.
    Malformed,
    /// Its client key was seen before (§16.3).
    Replayed,
    /// The service restricts discovery and the client proved no listed key.
    Unauthorised,
    /// The client key is over its rate.
    ClientRate,
    /// The puzzle solution is wrong or for an unknown seed (§16.4).
    BadPuzzle,
}

impl Refusal {
    /// A short label for metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Replayed => "replayed",
            Self::Unauthorised => "unauthorised",
            Self::ClientRate => "client_rate",
            Self::BadPuzzle => "bad_puzzle",
        }
    }
}

/// An introduction that passed the checks.
pub(crate) struct Accepted {
    /// The intro point's `auth_key`.
    pub(crate) auth_key: [u8; 32],
    /// Its encryption key, for the handshake reply.
    pub(crate) enc: Arc<IntroEncKeypair>,
    /// The client's ephemeral key `X`.
    pub(crate) client_key: [u8; 32],
    /// What the client asked.
    pub(crate) payload: IntroducePayload,
    /// The effort its solution proves (0 without one).
    pub(crate) effort: u32,
    /// The client key it proved, if any.
    pub(crate) client: Option<ClientAuthPublicKey>,
}

/// Remembers client ephemeral keys, the oldest forgotten first.
#[derive(Default)]
pub(crate) struct ReplayCache {
    seen: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl ReplayCache {
    /// Records `key`; false if it was seen before.
    pub(crate) fn insert(&mut self, key: [u8; 32]) -> bool {
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > REPLAY_CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

/// A per-key token bucket.
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The client keys a service lists (restricted discovery, §15.3), read
/// from its clients file and re-read when the file changes.
pub(crate) struct Clients {
    file: Option<PathBuf>,
    modified: Option<SystemTime>,
    keys: Vec<ClientAuthPublicKey>,
    rate: f64,
    buckets: HashMap<ClientAuthPublicKey, Bucket>,
}

/// Parses a clients file: one key per line — 64 hex digits, or a client
/// key file's public line — `#` comments and blank lines ignored.
pub(crate) fn parse_clients(text: &str) -> Result<Vec<ClientAuthPublicKey>, String> {
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bytes: [u8; 32] = data_encoding::HEXLOWER_PERMISSIVE
            .decode(line.as_bytes())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                format!(
                    "line {}: expected a client public key as 64 hexadecimal digits \
                     (the output of `warren keygen client`)",
                    n + 1
                )
            })?;
        keys.push(ClientAuthPublicKey::from_bytes(bytes));
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

impl Clients {
    /// The clients of a service; `file` `None` means anyone with the
    /// address. Each key may introduce itself `rate` times a second.
    pub(crate) fn new(file: Option<PathBuf>, rate: u32) -> Self {
        Self {
            file,
            modified: None,
            keys: Vec::new(),
            rate: f64::from(rate.max(1)),
            buckets: HashMap::new(),
        }
    }

    /// Whether discovery is restricted.
    pub(crate) fn restricted(&self) -> bool {
        self.file.is_some()
    }

    /// The keys listed.
    pub(crate) fn keys(&self) -> &[ClientAuthPublicKey] {
        &self.keys
    }

    /// Re-reads the file if it changed; returns whether the list changed.
    pub(crate) fn reload(&mut self) -> Result<bool, ClientError> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let modified = std::fs::metadata(file).and_then(|m| m.modified()).ok();
        if modified.is_some() && modified == self.modified {
            return Ok(false);
        }
        let keys = read_clients(file)?;
        self.modified = modified;
        if keys == self.keys {
            return Ok(false);
        }
        self.buckets.retain(|k, _| keys.contains(k));
        self.keys = keys;
        Ok(true)
    }

    /// Checks a client's proof: a listed key, within its rate.
    fn admit(
        &mut self,
        enc: &IntroEncKeypair,
        client_key: &[u8; 32],
        proof: Option<(&[u8; 32], &[u8; 32])>,
        now: Instant,
    ) -> Result<Option<ClientAuthPublicKey>, Refusal> {
        let Some((key, mac)) = proof else {
            return if self.restricted() {
                Err(Refusal::Unauthorised)
            } else {
                Ok(None)
            };
        };
        let key = ClientAuthPublicKey::from_bytes(*key);
        if self.restricted() && self.keys.binary_search(&key).is_err() {
            return Err(Refusal::Unauthorised);
        }
        if !hs_ntor::verify_client_proof(enc, &key, client_key, mac) {
            return Err(Refusal::Unauthorised);
        }
        if !self.restricted() {
            // Anyone can make keys: a per-key rate means nothing here, and
            // its buckets would grow without bound.
            return Ok(Some(key));
        }
        let rate = self.rate;
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: 2.0 * rate,
            last: now,
        });
        bucket.tokens = (bucket.tokens
            + now.saturating_duration_since(bucket.last).as_secs_f64() * rate)
            .min(2.0 * rate);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            return Err(Refusal::ClientRate);
        }
        bucket.tokens -= 1.0;
        Ok(Some(key))
    }
}

fn read_clients(file: &Path) -> Result<Vec<ClientAuthPublicKey>, ClientError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ClientError::Config(format!(
            "cannot read the clients file {}: {e}",
            file.display()
        ))
    })?;
    parse_clients(&text)
        .map_err(|e| ClientError::Config(format!("clients file {}: {e}", file.display())))
}

/// The puzzle a service sets (§16.4): its seed, the previous one (still
/// accepted for a while), and the effort it suggests.
pub(crate) struct Puzzle {
    pub(crate) seed: [u8; 32],
    pub(crate) previous: Option<[u8; 32]>,
    pub(crate) suggested: u32,
    /// The blinded key of the current period (part of the challenge).
    pub(crate) blinded_key: [u8; 32],
    /// The nonces of the solutions taken under the current seeds: a
    /// solution counts once.
    pub(crate) used: HashSet<([u8; 4], [u8; 16])>,
}

/// Solutions remembered before the seed is rotated.
pub(crate) const MAX_USED_SOLUTIONS: usize = 100_000;

impl Puzzle {
    /// A puzzle with seed `seed`, suggesting no effort yet.
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        Self {
            seed,
            previous: None,
            suggested: 0,
            blinded_key: [0; 32],
            used: HashSet::new(),
        }
    }

    /// Whether the seed should rotate: too many solutions remembered.
    pub(crate) fn worn(&self) -> bool {
        self.used.len() >= MAX_USED_SOLUTIONS
    }

    /// A new seed; the current one stays accepted (its solutions still
    /// count once) until the next rotation.
    pub(crate) fn rotate(&mut self, seed: [u8; 32]) {
        let head = |s: &[u8; 32]| [s[0], s[1], s[2], s[3]];
        if let Some(old) = self.previous {
            let old = head(&old);
            self.used.retain(|(h, _)| *h != old);
        }
        self.previous = Some(std::mem::replace(&mut self.seed, seed));
    }
}

impl Puzzle {
    /// The effort a solution proves, or why it proves nothing; a solution
    /// seen before is refused.
    fn effort(&mut self, solution: Option<&Extension>) -> Result<u32, Refusal> {
        let Some(Extension::PowSolution {
            nonce,
            effort,
            seed_head,
            solution,
        }) = solution
        else {
            return Ok(0);
        };
        let seed = [Some(self.seed), self.previous]
            .into_iter()
            .flatten()
            .find(|s| s.get(..4) == Some(&seed_head[..]))
            .ok_or(Refusal::BadPuzzle)?;
        let proved = verify_solution(
            &seed,
            &self.blinded_key,
            *nonce,
            *effort,
            *seed_head,
            *solution,
        )
        .then_some(*effort)
        .ok_or(Refusal::BadPuzzle)?;
        if !self.used.insert((*seed_head, *nonce)) {
            return Err(Refusal::BadPuzzle);
        }
        Ok(proved)
    }
}

#[cfg(feature = "pow")]
fn verify_solution(
    seed: &[u8; 32],
    blinded_key: &[u8; 32],
    nonce: [u8; 16],
    effort: u32,
    seed_head: [u8; 4],
    solution: [u8; 16],
) -> bool {
    let s = warren_crypto::pow::PowSolution {
        nonce,
        effort,
        seed_head,
        solution,
    };
    warren_crypto::pow::verify(seed, blinded_key, &s).is_ok()
}

#[cfg(not(feature = "pow"))]
fn verify_solution(
    _seed: &[u8; 32],
    _blinded_key: &[u8; 32],
    _nonce: [u8; 16],
    _effort: u32,
    _seed_head: [u8; 4],
    _solution: [u8; 16],
) -> bool {
    false
}

/// What checking an introduction needs from its service.
pub(crate) struct Checker<'a> {
    /// The subcredentials an introduction may use: the current period's
    /// first, then its neighbours' (a client whose clock or descriptor is
    /// across the period boundary).
    pub(crate) subcredentials: &'a [[u8; 32]],
    pub(crate) replay: &'a mut ReplayCache,
    pub(crate) clients: &'a mut Clients,
    pub(crate) puzzle: Option<&'a mut Puzzle>,
}

impl Checker<'_> {
    /// Opens and checks one INTRODUCE2 that came through the intro point
    /// `auth_key` whose encryption key is `enc`.
    pub(crate) fn check(
        &mut self,
        auth_key: [u8; 32],
        enc: &Arc<IntroEncKeypair>,
        msg: &Introduce2,
        now: Instant,
    ) -> Result<Accepted, Refusal> {
        let header = msg.header().map_err(|_| Refusal::Malformed)?;
        let enc_key = enc.public();
        let opened = self
            .subcredentials
            .iter()
            .find_map(|subcredential| {
                let keys = IntroKeys {
                    auth_key: &auth_key,
                    enc_key: &enc_key,
                    subcredential,
                };
                hs_ntor::service_open(enc, &keys, &header, &msg.encrypted).ok()
            })
            .ok_or(Refusal::Malformed)?;
        if !self.replay.insert(opened.client_key) {
            return Err(Refusal::Replayed);
        }
        let payload =
            IntroducePayload::decode(&opened.plaintext).map_err(|_| Refusal::Malformed)?;
        let proof = payload.extensions.iter().find_map(|e| match e {
            Extension::ClientProof { client_key, proof } => Some((client_key, proof)),
            _ => None,
        });
        let client = self.clients.admit(enc, &opened.client_key, proof, now)?;
        let effort = match self.puzzle.as_deref_mut() {
            Some(p) => p.effort(
                payload
                    .extensions
                    .iter()
                    .find(|e| matches!(e, Extension::PowSolution { .. })),
            )?,
            None => 0,
        };
        Ok(Accepted {
            auth_key,
            enc: enc.clone(),
            client_key: opened.client_key,
            payload,
            effort,
            client,
        })
    }
}

/// The introductions waiting for a rendezvous, by effort (§16.4): the
/// pure queue of `warren_proto::intro_queue`, which the simulator runs
/// too, on this clock.
#[derive(Default)]
pub(crate) struct IntroQueue(pub(crate) warren_proto::intro_queue::IntroQueue<Accepted, Instant>);

impl IntroQueue {
    /// Queues an introduction; when full, the lowest-effort one (maybe
    /// this one) is dropped.
    pub(crate) fn push(&mut self, accepted: Accepted, now: Instant) {
        let effort = accepted.effort;
        self.0.push(accepted, effort, now);
    }

    /// The next introduction to serve: the highest effort that is not
    /// too old.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<Accepted> {
        let too_old = |arrived| now.saturating_duration_since(arrived) > QUEUE_MAX_AGE;
        self.0.pop(too_old, drop)
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::time::Duration;
    use warren_crypto::{ClientAuthKeypair, EphemeralSecret};
    use warren_proto::intro_queue::QUEUE_CAPACITY;
    use warren_proto::relay_msg::Introduce1;

    fn payload(extensions: Vec<Extension>) -> IntroducePayload {
        IntroducePayload {
            cookie: [1; 20],
            rend_identity: [2; 32],
            rend_onion_key: [3; 32],
            rend_link_specs: Vec::new(),
            extensions,
        }
    }

    /// An INTRODUCE2 from a client with optional key `client`.
    fn introduction(
        enc: &IntroEncKeypair,
        sub: &[u8; 32],
        client: Option<&ClientAuthKeypair>,
        eph: u8,
    ) -> Introduce2 {
        let auth_key = [9u8; 32];
        let mut msg = Introduce1 {
            auth_key,
            extensions: Vec::new(),
            encrypted: vec![0],
        };
        let header = msg.header().unwrap();
        let eph = EphemeralSecret::from_bytes([eph; 32]);
        let x = eph.public_bytes();
        let exts = client
            .map(|c| Extension::ClientProof {
                client_key: *c.public().as_bytes(),
                proof: hs_ntor::client_proof(c, &enc.public(), &x).unwrap(),
            })
            .into_iter()
            .collect();
        let keys = IntroKeys {
            auth_key: &auth_key,
            enc_key: &enc.public(),
            subcredential: sub,
        };
        let (_, encrypted) =
            hs_ntor::client_introduce(eph, &keys, &header, &payload(exts).encode().unwrap())
                .unwrap();
        msg.encrypted = encrypted;
        msg.into()
    }

    #[test]
    fn replays_unknown_and_revoked_clients_are_refused() {
        let dir = std::env::temp_dir().join(format!("warren-clients-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("clients");
        let alice = ClientAuthKeypair::from_secret_bytes([1; 32]);
        let bob = ClientAuthKeypair::from_secret_bytes([2; 32]);
        let hex = |k: &ClientAuthKeypair| {
            k.public()
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        std::fs::write(&file, format!("# alice\n{}\n", hex(&alice))).unwrap();
        let enc = Arc::new(IntroEncKeypair::from_secret_bytes([7; 32]));
        let sub = [5u8; 32];
        let mut replay = ReplayCache::default();
        let mut clients = Clients::new(Some(file.clone()), 100);
        assert!(clients.reload().unwrap());
        let now = Instant::now();
        let mut checker = Checker {
            subcredentials: &[sub],
            replay: &mut replay,
            clients: &mut clients,
            puzzle: None,
        };
        let a = introduction(&enc, &sub, Some(&alice), 1);
        assert!(checker.check([9; 32], &enc, &a, now).is_ok());
        assert_eq!(
            checker.check([9; 32], &enc, &a, now).err(),
            Some(Refusal::Replayed)
        );
        let b = introduction(&enc, &sub, Some(&bob), 2);
        assert_eq!(
            checker.check([9; 32], &enc, &b, now).err(),
            Some(Refusal::Unauthorised)
        );
        let anonymous = introduction(&enc, &sub, None, 3);
        assert_eq!(
            checker.check([9; 32], &enc, &anonymous, now).err(),
            Some(Refusal::Unauthorised)
        );
        // Revoke alice, add bob: the next check follows the file.
        std::fs::write(&file, format!("{}\n", hex(&bob))).unwrap();
        checker.clients.modified = None;
        assert!(checker.clients.reload().unwrap());
        let a2 = introduction(&enc, &sub, Some(&alice), 4);
        assert_eq!(
            checker.check([9; 32], &enc, &a2, now).err(),
            Some(Refusal::Unauthorised)
        );
        let b2 = introduction(&enc, &sub, Some(&bob), 5);
        assert!(checker.check([9; 32], &enc, &b2, now).is_ok());
        // A flipped byte does not open.
        let mut bad = introduction(&enc, &sub, Some(&bob), 6);
        bad.encrypted[50] ^= 1;
        assert_eq!(
            checker.check([9; 32], &enc, &bad, now).err(),
            Some(Refusal::Malformed)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_queue_serves_by_effort_and_drops_the_lowest() {
        let enc = Arc::new(IntroEncKeypair::from_secret_bytes([7; 32]));
        let accepted = |effort| Accepted {
            auth_key: [0; 32],
            enc: enc.clone(),
            client_key: [0; 32],
            payload: payload(Vec::new()),
            effort,
            client: None,
        };
        let now = Instant::now();
        let mut q = IntroQueue::default();
        for _ in 0..QUEUE_CAPACITY {
            q.push(accepted(0), now);
        }
        q.push(accepted(50), now);
        q.push(accepted(10), now);
        assert_eq!(q.len(), QUEUE_CAPACITY);
        assert_eq!(q.0.dropped, 2);
        assert_eq!(q.pop(now).unwrap().effort, 50);
        assert_eq!(q.pop(now).unwrap().effort, 10);
        assert_eq!(q.pop(now).unwrap().effort, 0);
        // Too old: dropped, not served.
        assert!(
            q.pop(now + QUEUE_MAX_AGE + Duration::from_secs(1))
                .is_none()
        );
    }

    #[test]
    fn clients_files_name_the_bad_line() {
        let e = parse_clients("# ok\n\nzz\n").unwrap_err();
        assert!(e.starts_with("line 3:"), "{e}");
        assert_eq!(parse_clients(&"ab".repeat(32)).unwrap().len(), 1);
    }
}
