//! The onion-service roles of a relay (docs/spec.md §16.1, §16.2): the
//! introduction point, which relays INTRODUCE1 from clients to the service
//! circuit that established it, within the rate the service asked for; and
//! the rendezvous point, which joins a client's circuit and a service's
//! circuit by a cookie.
//!
//! Each circuit is its own task; these registries let one circuit's task
//! reach another's through its role queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use warren_proto::cell::Cell;
use warren_proto::relay_msg::{Introduce2, REND_COOKIE_LEN};

use crate::limits::TokenBucket;

/// Messages queued to a circuit's role queue: the circuit window (§10.3)
/// bounds what a joined circuit sends, so this is room for a window.
pub(crate) const ROLE_QUEUE: usize = 1100;

/// What one circuit's task asks of another's.
#[derive(Debug)]
pub(crate) enum RoleMsg {
    /// An introduction for the service behind this intro circuit.
    Introduce2(Introduce2),
    /// RENDEZVOUS1 matched this circuit's cookie: send RENDEZVOUS2 to the
    /// origin and join `partner`.
    Joined {
        handshake: Vec<u8>,
        partner: mpsc::Sender<Self>,
        /// The peer the joining circuit came from (for the test-mode hop
        /// record only).
        partner_prev: warren_crypto::RelayIdentity,
    },
    /// A cell from the joined circuit.
    Cell(Box<Cell>),
    /// The joined circuit closed.
    PartnerClosed,
}

struct IntroEntry {
    owner: u64,
    tx: mpsc::Sender<RoleMsg>,
    /// The rate the service asked for (DOS_PARAMS), if any.
    limit: Option<TokenBucket>,
}

/// A client circuit waiting at this rendezvous point: its owner and queue.
type Waiting = (u64, mpsc::Sender<RoleMsg>);

/// The relay's intro points and rendezvous cookies.
#[derive(Default)]
pub(crate) struct Registry {
    next: AtomicU64,
    intros: Mutex<HashMap<[u8; 32], IntroEntry>>,
    cookies: Mutex<HashMap<[u8; REND_COOKIE_LEN], Waiting>>,
}

/// Why an introduction was not relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntroRefusal {
    UnknownService,
    RateLimited,
    CantRelay,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Registry {
    /// A fresh owner id for one circuit's registrations.
    pub(crate) fn owner(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The circuit `owner` is the intro point for `auth_key` from now on,
    /// replacing any earlier one; `rate` is (per second, burst).
    pub(crate) fn establish_intro(
        &self,
        owner: u64,
        auth_key: [u8; 32],
        tx: mpsc::Sender<RoleMsg>,
        rate: Option<(u32, u32)>,
    ) {
        let limit =
            rate.map(|(per_sec, burst)| TokenBucket::new(u64::from(per_sec), u64::from(burst)));
        lock(&self.intros).insert(auth_key, IntroEntry { owner, tx, limit });
    }

    /// Relays an introduction to the service circuit of its `auth_key`.
    pub(crate) fn introduce(&self, msg: Introduce2) -> Result<(), IntroRefusal> {
        let intros = lock(&self.intros);
        let entry = intros
            .get(&msg.auth_key)
            .ok_or(IntroRefusal::UnknownService)?;
        if let Some(limit) = &entry.limit
            && !limit.try_take(1)
        {
            return Err(IntroRefusal::RateLimited);
        }
        entry
            .tx
            .try_send(RoleMsg::Introduce2(msg))
            .map_err(|_| IntroRefusal::CantRelay)
    }

    /// Registers a rendezvous cookie; false when it is taken.
    pub(crate) fn establish_rendezvous(
        &self,
        owner: u64,
        cookie: [u8; REND_COOKIE_LEN],
        tx: mpsc::Sender<RoleMsg>,
    ) -> bool {
        let mut cookies = lock(&self.cookies);
        if cookies.contains_key(&cookie) {
            return false;
        }
        cookies.insert(cookie, (owner, tx));
        true
    }

    /// Takes the circuit waiting on `cookie` (each cookie joins once).
    pub(crate) fn take_rendezvous(
        &self,
        cookie: &[u8; REND_COOKIE_LEN],
    ) -> Option<mpsc::Sender<RoleMsg>> {
        lock(&self.cookies).remove(cookie).map(|(_, tx)| tx)
    }

    /// Forgets everything `owner` registered (its circuit ended).
    pub(crate) fn forget(&self, owner: u64) {
        lock(&self.intros).retain(|_, e| e.owner != owner);
        lock(&self.cookies).retain(|_, (o, _)| *o != owner);
    }
}

/// A circuit's registrations, forgotten when it is dropped.
pub(crate) struct Registered {
    pub(crate) owner: u64,
    pub(crate) registry: Arc<Registry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.forget(self.owner);
    }
}
