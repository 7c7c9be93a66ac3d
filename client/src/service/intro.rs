//! A service's intro points (docs/spec.md §16.1): a circuit of its own to
//! each, ESTABLISH_INTRO with a fresh `auth_key` bound to that circuit's
//! handshake, and the introductions that then arrive on it.

use std::sync::Arc;
use std::time::Duration;

use warren_crypto::hs_ntor::IntroEncKeypair;
use warren_crypto::{RelayIdentityKeypair, Signature};
use warren_directory::RelayStatus;
use warren_directory::hs_descriptor::IntroPointInfo;
use warren_directory::path::LastHop;
use warren_proto::relay_msg::{EstablishIntro, Extension, HANDSHAKE_AUTH_LABEL, RelayMsg};

use crate::ClientError;
use crate::circuit::Circuit;
use crate::manager::Manager;

/// How long an intro point may take to accept.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(15);

/// One established intro point.
pub(crate) struct IntroPoint {
    /// The relay.
    pub(crate) relay: RelayStatus,
    /// The service's key there (ESTABLISH_INTRO's `auth_key`).
    pub(crate) auth: RelayIdentityKeypair,
    /// The key introductions through it are encrypted to.
    pub(crate) enc: Arc<IntroEncKeypair>,
    /// The circuit; introductions arrive on it.
    pub(crate) circuit: Circuit,
}

impl IntroPoint {
    /// The `auth_key` bytes, which name this intro point.
    pub(crate) fn auth_key(&self) -> [u8; 32] {
        *self.auth.public().as_bytes()
    }

    /// How the descriptor lists it (§15.2).
    pub(crate) fn info(&self) -> IntroPointInfo {
        IntroPointInfo {
            relay: self.relay.identity,
            onion_key: self.relay.info.onion_key,
            addresses: self.relay.info.addresses.clone(),
            auth_key: self.auth_key(),
            enc_key: self.enc.public(),
        }
    }
}

/// Establishes `relay` as an intro point, asking it to limit introductions
/// to `rate` per second with bursts of `burst`. Introductions then arrive
/// as circuit messages.
pub(crate) async fn establish(
    manager: &Manager,
    relay: &RelayStatus,
    (rate, burst): (u32, u32),
) -> Result<IntroPoint, ClientError> {
    let circuit = manager.build_to(relay, LastHop::Ours, None).await?;
    let auth = RelayIdentityKeypair::generate(&mut rand::rng());
    let enc = IntroEncKeypair::generate(&mut rand::rng());
    let auth_key = *auth.public().as_bytes();
    let handshake_auth = circuit
        .bind(HANDSHAKE_AUTH_LABEL, auth_key.to_vec())
        .await
        .ok_or_else(|| ClientError::Build("the intro circuit closed".into()))?;
    let mut msg = EstablishIntro {
        auth_key,
        extensions: vec![Extension::DosParams {
            rate_per_sec: rate,
            burst,
        }],
        handshake_auth,
        signature: [0; 64],
    };
    let signed = msg
        .signed_part()
        .map_err(|e| ClientError::Build(e.to_string()))?;
    let Signature(sig) = auth.sign(&signed);
    msg.signature = sig;
    if !circuit.send_msg(RelayMsg::EstablishIntro(msg)).await {
        return Err(ClientError::Build("the intro circuit closed".into()));
    }
    let established = tokio::time::timeout(ESTABLISH_TIMEOUT, async {
        while let Some(m) = circuit.next_msg().await {
            if matches!(m, RelayMsg::IntroEstablished(_)) {
                return true;
            }
        }
        false
    })
    .await;
    if established != Ok(true) {
        return Err(ClientError::Build(
            "the relay did not accept to be an intro point".into(),
        ));
    }
    Ok(IntroPoint {
        relay: relay.clone(),
        auth,
        enc: Arc::new(enc),
        circuit,
    })
}
