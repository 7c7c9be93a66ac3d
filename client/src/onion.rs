//! Reaching onion services (docs/spec.md §15, §16): the descriptor fetched
//! from an HSDir over a circuit of our own and opened with the address
//! (and the client's key, for a service with restricted discovery), a
//! rendezvous point of our choosing, an introduction through one of the
//! service's intro points, and the joined circuit keyed end to end.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::seq::SliceRandom;
use warren_crypto::hs_ntor::{self, HsClientState, IntroKeys};
use warren_crypto::{ClientAuthKeypair, EphemeralSecret, HsAddress, TimePeriod};
use warren_directory::hs_descriptor::{HsDescriptorContent, IntroPointInfo, SignedHsDescriptor};
use warren_directory::path::LastHop;
use warren_directory::{DirRequest, DirResponse, DirectoryError, HsDirRing, Roles};
use warren_net::dir_client::unix_now;
use warren_proto::relay_msg::{
    EstablishRendezvous, Extension, Introduce1, IntroduceAckStatus, IntroducePayload,
    REND_COOKIE_LEN, RelayMsg,
};

use crate::ClientError;
use crate::circuit::{Circuit, hop_target};
use crate::manager::Manager;
use crate::pool::IsolationKey;

pub use warren_directory::hsdir_ring::HS_PERIOD_MINUTES;
/// HSDirs asked for one descriptor before giving up.
const HSDIR_ATTEMPTS: usize = 3;
/// Intro points tried for one connection.
const INTRO_ATTEMPTS: usize = 3;
/// How long a rendezvous or intro point may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the service may take to reach our rendezvous point after a
/// successful introduction (it may first solve nothing, but builds a
/// circuit and may queue us behind others).
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(30);
/// The most Equi-X nonces tried for one introduction: about 20 s of one
/// core (§16.4); a service asking more is not worth the wait.
#[cfg(feature = "pow")]
const POW_MAX_ATTEMPTS: u64 = 2_000;

/// A descriptor held for an address.
struct CachedDescriptor {
    content: HsDescriptorContent,
    blinded_key: [u8; 32],
    subcredential: [u8; 32],
    expires: u64,
}

/// What the client keeps about onion services.
#[derive(Default)]
pub(crate) struct OnionState {
    /// The restricted-discovery keys, one per service address.
    keys: HashMap<HsAddress, std::sync::Arc<ClientAuthKeypair>>,
    descriptors: Mutex<HashMap<HsAddress, std::sync::Arc<CachedDescriptor>>>,
    /// Joined rendezvous circuits, reused by streams of one isolation key.
    circuits: Mutex<HashMap<(HsAddress, IsolationKey), Circuit>>,
}

impl OnionState {
    /// The state with the client's keys for restricted discovery.
    pub(crate) fn new(keys: Vec<(HsAddress, std::sync::Arc<ClientAuthKeypair>)>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
            ..Self::default()
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn unreachable(what: impl Into<String>) -> ClientError {
    ClientError::Unreachable(what.into())
}

impl Manager {
    /// Opens a stream to `port` of the onion service `addr` for `key`: on
    /// the rendezvous circuit of `key` if one is open, else on a new one.
    pub(crate) async fn connect_onion(
        &self,
        key: &IsolationKey,
        addr: &HsAddress,
        port: u16,
    ) -> Result<(Circuit, warren_proto::relay_msg::StreamId), ClientError> {
        let result = self.try_connect_onion(key, addr, port).await;
        self.count_stream(result.is_ok());
        result
    }

    async fn try_connect_onion(
        &self,
        key: &IsolationKey,
        addr: &HsAddress,
        port: u16,
    ) -> Result<(Circuit, warren_proto::relay_msg::StreamId), ClientError> {
        let slot = (*addr, key.clone());
        let held = lock(&self.onion().circuits).get(&slot).cloned();
        if let Some(circuit) = held.filter(Circuit::is_open)
            && let Ok(id) = begin(&circuit, port).await
        {
            return Ok((circuit, id));
        }
        let mut last = unreachable("no attempt made");
        for attempt in 0..2 {
            // A second attempt fetches the descriptor again: the intro
            // points may have changed.
            let descriptor = self.onion_descriptor(addr, attempt > 0).await?;
            match self.rendezvous(&descriptor, addr).await {
                Ok(circuit) => {
                    let id = begin(&circuit, port).await?;
                    lock(&self.onion().circuits).insert(slot, circuit.clone());
                    return Ok((circuit, id));
                }
                Err(e @ (ClientError::NotAuthorised(_) | ClientError::NotReady)) => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "an onion-service rendezvous failed");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// The descriptor of `addr`, from the cache unless `refresh`.
    async fn onion_descriptor(
        &self,
        addr: &HsAddress,
        refresh: bool,
    ) -> Result<std::sync::Arc<CachedDescriptor>, ClientError> {
        let now = unix_now();
        if !refresh {
            let cached = lock(&self.onion().descriptors).get(addr).cloned();
            if let Some(d) = cached.filter(|d| d.expires > now) {
                return Ok(d);
            }
        }
        let fetched = std::sync::Arc::new(self.fetch_descriptor(addr, now).await?);
        lock(&self.onion().descriptors).insert(*addr, fetched.clone());
        Ok(fetched)
    }

    /// Fetches and opens the descriptor of `addr` from the HSDirs of the
    /// current period (§15.6), over circuits of our own.
    async fn fetch_descriptor(
        &self,
        addr: &HsAddress,
        now: u64,
    ) -> Result<CachedDescriptor, ClientError> {
        let consensus = self.consensus()?;
        let period = TimePeriod::containing(now, HS_PERIOD_MINUTES)
            .map_err(|e| ClientError::Build(e.to_string()))?;
        let identity = addr.identity();
        let bad_address = |e: warren_crypto::CryptoError| unreachable(format!("{e}"));
        let blinded = identity.blind(period).map_err(bad_address)?;
        let subcredential = identity.subcredential(period).map_err(bad_address)?;
        let mut hsdirs = HsDirRing::new(&consensus, period).responsible(&blinded);
        if hsdirs.is_empty() {
            return Err(ClientError::Build("the consensus lists no HSDir".into()));
        }
        hsdirs.shuffle(&mut rand::rng());
        let mut last = unreachable(
            "the onion service's descriptor is on none of its HSDirs: \
             the service is not running, or has not published yet",
        );
        for hsdir in hsdirs.iter().take(HSDIR_ATTEMPTS) {
            let Some(status) = consensus.relay(hsdir) else {
                continue;
            };
            let circuit = match self.build_to(status, LastHop::Theirs, None).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let answer =
                crate::dir_stream::ask(&circuit, &DirRequest::GetHsDescriptor(*blinded.as_bytes()))
                    .await;
            let bytes = match answer {
                Ok(DirResponse::HsDescriptor(bytes)) => bytes,
                Ok(DirResponse::NotFound) => continue,
                Ok(other) => {
                    tracing::debug!(answer = ?other, "an HSDir gave an unexpected answer");
                    continue;
                }
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let descriptor = match SignedHsDescriptor::decode(&bytes)
                .and_then(|d| d.verify(&()))
                .and_then(|d| d.check_valid_at(now))
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(error = %e, "an HSDir served a bad descriptor");
                    continue;
                }
            };
            if descriptor.blinded_key() != blinded.as_bytes() {
                continue;
            }
            let times = descriptor.times();
            let content = match descriptor.decrypt(
                identity,
                period,
                self.onion().keys.get(addr).map(|k| &**k),
            ) {
                Ok(c) => c,
                Err(DirectoryError::NotAuthorised) => {
                    return Err(ClientError::NotAuthorised(
                        "not authorised for this service: it restricts discovery to the \
                         client keys it lists, and this client's key for the address (if \
                         any, in client.toml [[onion_keys]]) is not one of them"
                            .into(),
                    ));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a descriptor did not open");
                    continue;
                }
            };
            return Ok(CachedDescriptor {
                content,
                blinded_key: *blinded.as_bytes(),
                subcredential,
                expires: times.published.saturating_add(times.lifetime),
            });
        }
        Err(last)
    }

    /// Builds a rendezvous circuit, introduces us through the service's
    /// intro points until one relays the introduction, and waits for the
    /// service to join (§16).
    async fn rendezvous(
        &self,
        descriptor: &CachedDescriptor,
        addr: &HsAddress,
    ) -> Result<Circuit, ClientError> {
        let mut intro_points = descriptor.content.intro_points.clone();
        if intro_points.is_empty() {
            return Err(unreachable("the service's descriptor lists no intro point"));
        }
        intro_points.shuffle(&mut rand::rng());
        let exclude: Vec<_> = intro_points.iter().map(|i| i.relay).collect();
        let rend_point = self.pick_role(Roles::RENDEZVOUS, &exclude)?;
        let rend = self.build_to(&rend_point, LastHop::Ours, None).await?;
        let cookie: [u8; REND_COOKIE_LEN] = rand::random();
        if !rend
            .send_msg(RelayMsg::EstablishRendezvous(EstablishRendezvous {
                cookie,
            }))
            .await
        {
            return Err(ClientError::Build("the rendezvous circuit closed".into()));
        }
        wait_for(&rend, ANSWER_TIMEOUT, |m| {
            matches!(m, RelayMsg::RendezvousEstablished(_)).then_some(())
        })
        .await
        .map_err(|e| ClientError::Build(format!("the rendezvous point did not accept: {e}")))?;
        let rend_target = hop_target(&rend_point);
        let mut last = ClientError::Build("no intro point answered".into());
        for intro in intro_points.iter().take(INTRO_ATTEMPTS) {
            let payload = IntroducePayload {
                cookie,
                rend_identity: *rend_point.identity.as_bytes(),
                rend_onion_key: *rend_point.info.onion_key.as_bytes(),
                rend_link_specs: rend_target.link_specs.clone(),
                extensions: Vec::new(),
            };
            match self.introduce(descriptor, addr, intro, payload).await {
                Ok(state) => {
                    let r2 = wait_for(&rend, RENDEZVOUS_TIMEOUT, |m| match m {
                        RelayMsg::Rendezvous2(r2) => Some(r2.handshake.clone()),
                        _ => None,
                    })
                    .await
                    .map_err(|e| {
                        ClientError::TimedOut(format!(
                            "the service did not come to the rendezvous point: {e}"
                        ))
                    })?;
                    let keys = hs_ntor::client_finish(state, &r2).map_err(|e| {
                        ClientError::Build(format!(
                            "the service's rendezvous handshake failed: {e}"
                        ))
                    })?;
                    if !rend.add_virtual_hop(None, keys).await {
                        return Err(ClientError::Build("the rendezvous circuit closed".into()));
                    }
                    return Ok(rend);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "an introduction failed");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Sends one introduction through `intro`; returns the handshake state
    /// once the intro point relayed it.
    async fn introduce(
        &self,
        descriptor: &CachedDescriptor,
        addr: &HsAddress,
        intro: &IntroPointInfo,
        mut payload: IntroducePayload,
    ) -> Result<HsClientState, ClientError> {
        let consensus = self.consensus()?;
        let status = consensus.relay(&intro.relay).ok_or_else(|| {
            ClientError::Build("an intro point of the descriptor is not in the consensus".into())
        })?;
        let circuit = self.build_to(status, LastHop::Theirs, None).await?;
        let eph = EphemeralSecret::generate(&mut rand::rng());
        let keys = IntroKeys {
            auth_key: &intro.auth_key,
            enc_key: &intro.enc_key,
            subcredential: &descriptor.subcredential,
        };
        // The proof names X, which the handshake makes from `eph`: the
        // handshake runs twice, the first time only for X.
        let mut header_msg = Introduce1 {
            auth_key: intro.auth_key,
            extensions: Vec::new(),
            encrypted: vec![0],
        };
        let header = header_msg
            .header()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        let x = eph.public_bytes();
        if let Some(client) = self.onion().keys.get(addr) {
            let proof = hs_ntor::client_proof(client, &intro.enc_key, &x)
                .map_err(|e| ClientError::Build(e.to_string()))?;
            payload.extensions.push(Extension::ClientProof {
                client_key: *client.public().as_bytes(),
                proof,
            });
        }
        #[cfg(feature = "pow")]
        if let Some(pow) = descriptor.content.pow.filter(|p| p.suggested_effort > 0) {
            payload
                .extensions
                .push(solve_puzzle(pow, descriptor.blinded_key).await?);
        }
        let plaintext = payload
            .encode()
            .map_err(|e| ClientError::Build(format!("cannot encode the introduction: {e}")))?;
        let (state, encrypted) = hs_ntor::client_introduce(eph, &keys, &header, &plaintext)
            .map_err(|e| ClientError::Build(e.to_string()))?;
        header_msg.encrypted = encrypted;
        if !circuit.send_msg(RelayMsg::Introduce1(header_msg)).await {
            return Err(ClientError::Build("the intro circuit closed".into()));
        }
        let status = wait_for(&circuit, ANSWER_TIMEOUT, |m| match m {
            RelayMsg::IntroduceAck(ack) => Some(ack.status),
            _ => None,
        })
        .await
        .map_err(|e| ClientError::Build(format!("the intro point did not answer: {e}")))?;
        if status == IntroduceAckStatus::SUCCESS {
            Ok(state)
        } else {
            Err(ClientError::Build(format!(
                "the intro point answered: {status}"
            )))
        }
    }
}

/// Solves the service's puzzle at its suggested effort (§16.4), off the
/// async threads.
#[cfg(feature = "pow")]
async fn solve_puzzle(
    pow: warren_directory::hs_descriptor::PowParams,
    blinded_key: [u8; 32],
) -> Result<Extension, ClientError> {
    let nonce: [u8; 16] = rand::random();
    let solved = tokio::task::spawn_blocking(move || {
        warren_crypto::pow::solve(
            &pow.seed,
            &blinded_key,
            pow.suggested_effort,
            nonce,
            POW_MAX_ATTEMPTS,
        )
    })
    .await
    .map_err(|_| ClientError::Internal("the puzzle solver stopped"))?
    .map_err(|e| ClientError::Build(format!("cannot solve the service's puzzle: {e}")))?;
    Ok(Extension::PowSolution {
        nonce: solved.nonce,
        effort: solved.effort,
        seed_head: solved.seed_head,
        solution: solved.solution,
    })
}

/// Opens a stream to the service itself (an empty host) on `port`.
async fn begin(
    circuit: &Circuit,
    port: u16,
) -> Result<warren_proto::relay_msg::StreamId, ClientError> {
    use crate::circuit::BeginFailure;
    use warren_proto::relay_msg::EndReason;
    match tokio::time::timeout(ANSWER_TIMEOUT, circuit.begin("", port)).await {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(BeginFailure::Ended(EndReason::EXITPOLICY))) => Err(ClientError::NotAllowed(
            format!("port {port} of this onion service (it does not map that port)"),
        )),
        Ok(Err(BeginFailure::Ended(EndReason::CONNECTREFUSED))) => Err(ClientError::Refused),
        Ok(Err(BeginFailure::Ended(reason))) => Err(ClientError::Build(format!(
            "the onion service ended the stream: {reason}"
        ))),
        Ok(Err(BeginFailure::CircuitClosed)) => {
            Err(ClientError::Build("the rendezvous circuit closed".into()))
        }
        Err(_) => Err(ClientError::TimedOut(
            "the onion service did not answer the stream".into(),
        )),
    }
}

/// Waits up to `timeout` for a circuit message that `pick` accepts.
async fn wait_for<T>(
    circuit: &Circuit,
    timeout: Duration,
    pick: impl Fn(&RelayMsg) -> Option<T>,
) -> Result<T, &'static str> {
    tokio::time::timeout(timeout, async {
        loop {
            match circuit.next_msg().await {
                Some(msg) => {
                    if let Some(t) = pick(&msg) {
                        return Ok(t);
                    }
                }
                None => return Err("the circuit closed"),
            }
        }
    })
    .await
    .unwrap_or(Err("no answer in time"))
}
