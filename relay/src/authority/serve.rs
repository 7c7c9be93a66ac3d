//! An authority's answers to directory requests (docs/spec.md §12.13).

use std::sync::Arc;

use warren_crypto::RelayIdentity;
use warren_directory::{ConsensusSignature, DirRequest, DirResponse, SignedDescriptor, Vote};
use warren_net::dir::IncomingDirRequests;
use warren_net::dir_client::unix_now;

use super::Shared;
use super::state::Accepted;
use crate::dir_http::DirectoryView;

/// How many periods ahead votes and signatures are taken.
const PERIODS_AHEAD: u64 = 2;

/// Answers requests until the host stops.
pub(crate) async fn run(shared: Arc<Shared>, mut incoming: IncomingDirRequests) {
    while let Some(req) = incoming.next().await {
        let answer = answer(&shared, req.request);
        req.reply.send(answer).await;
    }
}

fn answer(shared: &Arc<Shared>, request: DirRequest) -> DirResponse {
    match request {
        DirRequest::PublishDescriptor(bytes) => publish_descriptor(shared, &bytes),
        DirRequest::GetConsensus => View(shared.clone())
            .consensus()
            .map_or(DirResponse::NotFound, |b| {
                DirResponse::Consensus(b.to_vec())
            }),
        DirRequest::GetDescriptor(id) => View(shared.clone())
            .descriptor(&id)
            .map_or(DirResponse::NotFound, DirResponse::Descriptor),
        DirRequest::PostVote(bytes) => post_vote(shared, &bytes),
        DirRequest::PostSignature {
            valid_after,
            signature,
        } => post_signature(shared, valid_after, &signature),
        DirRequest::PublishHsDescriptor(_) | DirRequest::GetHsDescriptor(_) => {
            DirResponse::refused(crate::dir_cache::ANONYMOUS_ONLY)
        }
    }
}

/// Whether `valid_after` is a period this authority takes votes for.
fn coming(shared: &Shared, valid_after: u64) -> bool {
    let now = unix_now();
    let interval = shared.config.schedule.interval();
    valid_after.is_multiple_of(interval)
        && valid_after >= now.saturating_sub(interval)
        && valid_after <= now.saturating_add(PERIODS_AHEAD * interval)
}

fn publish_descriptor(shared: &Arc<Shared>, bytes: &[u8]) -> DirResponse {
    let now = unix_now();
    let checked = SignedDescriptor::decode(bytes)
        .and_then(|d| d.verify(&()))
        .and_then(|d| d.check_valid_at(now));
    let descriptor = match checked {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(error = %e, "refused a relay descriptor");
            return DirResponse::refused(e);
        }
    };
    let id = descriptor.descriptor().identity;
    let addresses = descriptor.descriptor().addresses.clone();
    match shared.state().accept_descriptor(descriptor, now) {
        Ok(Accepted::New) => {
            let shared = shared.clone();
            tokio::spawn(async move { super::reachability::test(&shared, id, &addresses).await });
            DirResponse::Accepted
        }
        Ok(Accepted::Unchanged) => DirResponse::Accepted,
        Err(reason) => DirResponse::refused(reason),
    }
}

fn post_vote(shared: &Shared, bytes: &[u8]) -> DirResponse {
    let vote = match Vote::decode(bytes)
        .and_then(|v| v.verify(&shared.set))
        .and_then(|v| v.check_valid_at(unix_now()))
    {
        Ok(vote) => vote,
        Err(e) => {
            tracing::warn!(error = %e, "refused a vote");
            return DirResponse::refused(e);
        }
    };
    if !coming(shared, vote.body().valid_after) {
        return DirResponse::refused("the vote is not for a coming period; check the clocks");
    }
    shared.state().add_vote(vote);
    DirResponse::Accepted
}

fn post_signature(shared: &Shared, valid_after: u64, bytes: &[u8]) -> DirResponse {
    if !coming(shared, valid_after) {
        return DirResponse::refused("the signature is not for a coming period; check the clocks");
    }
    let signature = match ConsensusSignature::decode(bytes) {
        Ok(s) => s,
        Err(e) => return DirResponse::refused(e),
    };
    let mut state = shared.state();
    match state.add_signature(valid_after, signature, &shared.set) {
        Ok(added) => {
            // A signature arriving after publication joins the consensus.
            let published = state
                .keeper
                .current_valid_after()
                .is_some_and(|va| va == valid_after);
            if added
                && published
                && let Some(bytes) = super::schedule::assemble(shared, &state, valid_after)
                && let Err(e) = state.keeper.offer(bytes, unix_now())
            {
                tracing::warn!(error = %e, "the consensus with a late signature does not verify");
            }
            DirResponse::Accepted
        }
        Err(reason) => {
            tracing::warn!(reason = %reason, "refused a consensus signature");
            DirResponse::refused(reason)
        }
    }
}

/// The authority's documents, as the HTTP port shows them.
pub(crate) struct View(pub(crate) Arc<Shared>);

impl DirectoryView for View {
    fn consensus(&self) -> Option<Arc<Vec<u8>>> {
        let mut state = self.0.state();
        state.keeper.expire(unix_now());
        state.keeper.current_bytes()
    }

    fn descriptor(&self, id: &[u8; 32]) -> Option<Vec<u8>> {
        let id = RelayIdentity::from_bytes(id).ok()?;
        self.0
            .state()
            .relays
            .get(&id)
            .map(|k| k.descriptor.as_bytes().to_vec())
    }
}
