//! Period after period (docs/spec.md §12.14): vote at `vote_at`, compute
//! the consensus and sign it at `sign_at`, publish at `valid_after` with
//! every signature that checks out.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use warren_crypto::TimePeriod;
use warren_directory::hsdir_ring::HS_PERIOD_MINUTES;
use warren_directory::{
    Consensus, ConsensusBody, ConsensusSignature, DirRequest, DirResponse, Period, Vote, VoteBody,
    shared_random_contribution,
};
use warren_net::dir_client::{DirSource, fetch_consensus, unix_now};

use super::Shared;

/// Sleeps until the Unix time `t` (seconds).
async fn sleep_until(t: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let target = Duration::from_secs(t);
    if target > now {
        tokio::time::sleep(target - now).await;
    }
}

/// Runs the schedule forever.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        let period = shared.config.schedule.next_period(unix_now());
        sleep_until(period.vote_at).await;
        vote(&shared, &period).await;
        sleep_until(period.sign_at).await;
        sign(&shared, &period).await;
        sleep_until(period.valid_after).await;
        publish(&shared, &period);
    }
}

/// At start, fetches the current consensus from the other authorities, so
/// that one restarted mid-period serves it at once.
pub(crate) async fn catch_up(shared: Arc<Shared>) {
    let peers = shared.peers();
    let now = unix_now();
    match fetch_consensus(&shared.host, &peers, &shared.set, now).await {
        Ok((_, bytes)) => {
            if let Err(e) = shared.state().keeper.offer(bytes, unix_now()) {
                tracing::debug!(error = %e, "the fetched consensus was not taken");
            }
        }
        Err(e) => tracing::debug!(error = %e, "no current consensus from the other authorities"),
    }
}

/// Sends `request` to every other authority, each within `within`.
async fn broadcast(shared: &Shared, request: DirRequest, within: Duration, what: &str) {
    let peers: Vec<DirSource> = shared.peers();
    let sends = peers.iter().map(|peer| {
        let request = &request;
        async move {
            let answer = tokio::time::timeout(
                within,
                shared.host.dir_request(&peer.peer, &peer.addrs, request),
            )
            .await;
            match answer {
                Ok(Ok(DirResponse::Accepted)) => true,
                Ok(Ok(other)) => {
                    tracing::warn!(answer = ?other, "an authority did not take this authority's {what}");
                    false
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "could not send the {what}");
                    false
                }
                Err(_) => false,
            }
        }
    });
    let delivered = join_all(sends).await.into_iter().filter(|d| *d).count();
    tracing::debug!(delivered, of = peers.len(), "sent the {what}");
}

/// Votes: lists the relays this authority reached, signs, sends the vote.
async fn vote(shared: &Shared, period: &Period) {
    let now = unix_now();
    let schedule = &shared.config.schedule;
    let statuses = {
        let mut state = shared.state();
        state.expire_relays(now);
        state.forget_before(period.valid_after);
        state.vote_statuses(
            now,
            period.valid_after,
            2 * schedule.interval(),
            &shared.config.thresholds,
        )
    };
    let body = VoteBody {
        valid_after: period.valid_after,
        fresh_until: period.fresh_until,
        valid_until: period.valid_until,
        shared_random: match TimePeriod::containing(period.valid_after, HS_PERIOD_MINUTES) {
            Ok(p) => shared_random_contribution(&shared.srv_secret, p),
            Err(_) => rand::random(),
        },
        relays: statuses,
    };
    let listed = body.relays.len();
    let vote = match Vote::sign(body, &shared.keys.cert, &shared.keys.signing) {
        Ok(vote) => vote,
        Err(e) => {
            tracing::error!(error = %e, "cannot sign this authority's vote");
            return;
        }
    };
    tracing::info!(relays = listed, "voting");
    let bytes = vote.as_bytes().to_vec();
    shared.state().add_vote(vote);
    let within = Duration::from_secs((period.sign_at - period.vote_at).max(1));
    broadcast(shared, DirRequest::PostVote(bytes), within, "vote").await;
}

/// Computes the consensus from the votes received, signs it and sends the
/// signature.
async fn sign(shared: &Shared, period: &Period) {
    let votes: Vec<Vote> = shared
        .state()
        .votes
        .get(&period.valid_after)
        .map(|v| v.values().cloned().collect())
        .unwrap_or_default();
    let body = match ConsensusBody::compute(&shared.set, &votes) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "no consensus can be computed for the coming period");
            return;
        }
    };
    let (bytes, signature) = match body.encode().and_then(|bytes| {
        ConsensusSignature::sign_encoded(&bytes, &shared.keys.cert, &shared.keys.signing)
            .map(|sig| (bytes, sig))
    }) {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(error = %e, "cannot sign the consensus");
            return;
        }
    };
    let encoded = match signature.encode() {
        Ok(encoded) => encoded,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the consensus signature");
            return;
        }
    };
    shared
        .state()
        .set_computed(period.valid_after, body, bytes, signature, &shared.set);
    let within = Duration::from_secs((period.valid_after - period.sign_at).max(1));
    let request = DirRequest::PostSignature {
        valid_after: period.valid_after,
        signature: encoded,
    };
    broadcast(shared, request, within, "consensus signature").await;
}

/// Publishes the consensus of `period` when enough signatures checked out.
fn publish(shared: &Shared, period: &Period) {
    let mut state = shared.state();
    let published = assemble(shared, &state, period.valid_after)
        .map(|bytes| state.keeper.offer(bytes, unix_now()));
    match published {
        Some(Ok(_)) => {}
        Some(Err(e)) => tracing::warn!(error = %e, "the assembled consensus does not verify"),
        None => {
            let signed = state
                .computed
                .get(&period.valid_after)
                .map_or(0, |c| c.signatures.len());
            tracing::warn!(
                signed,
                needed = shared.set.needed(),
                "no consensus for this period: too few authorities signed the same body; \
                 the previous consensus stays in use while it is valid"
            );
        }
    }
}

/// The consensus of `valid_after` with the signatures collected, if there
/// are enough of them.
pub(crate) fn assemble(
    shared: &Shared,
    state: &super::state::State,
    valid_after: u64,
) -> Option<Vec<u8>> {
    let computed = state.computed.get(&valid_after)?;
    if computed.signatures.len() < shared.set.needed() {
        return None;
    }
    let signatures = computed.signatures.values().cloned().collect();
    let consensus = Consensus::assemble(computed.body.clone(), signatures).ok()?;
    consensus.dangerously_peek().encode().ok()
}
