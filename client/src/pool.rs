//! The circuits a client holds (docs/spec.md §14.4), and which one a new
//! stream may use: stream isolation and dirtiness.

use std::time::{Duration, Instant};

use crate::circuit::Circuit;

/// What keeps streams apart: streams with different keys never share a
/// circuit (§14.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IsolationKey {
    /// The listener the stream came in on.
    pub listener: usize,
    /// The credentials it gave (SOCKS username and password, SOCKS4 user
    /// id, HTTP Proxy-Authorization), if any.
    pub credentials: Option<Vec<u8>>,
}

/// One circuit in the pool.
#[derive(Debug)]
pub(crate) struct Pooled {
    pub(crate) circuit: Circuit,
    /// The isolation key of the streams it carries; `None` while clean.
    pub(crate) isolation: Option<IsolationKey>,
    /// When its first stream was opened.
    pub(crate) first_used: Option<Instant>,
}

/// The pool.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    entries: Vec<Pooled>,
}

impl Pool {
    /// Adds a circuit.
    pub(crate) fn add(&mut self, circuit: Circuit, isolation: Option<IsolationKey>, now: Instant) {
        let first_used = isolation.as_ref().map(|_| now);
        self.entries.push(Pooled {
            circuit,
            isolation,
            first_used,
        });
    }

    /// Forgets closed circuits and those used for longer than
    /// `max_dirtiness` (their open streams go on; no new stream uses them).
    pub(crate) fn prune(&mut self, now: Instant, max_dirtiness: Duration) {
        self.entries.retain(|p| {
            p.circuit.is_open()
                && p.first_used
                    .is_none_or(|t| now.saturating_duration_since(t) < max_dirtiness)
        });
    }

    /// Circuits no stream has used yet.
    pub(crate) fn clean(&self) -> usize {
        self.entries
            .iter()
            .filter(|p| p.isolation.is_none())
            .count()
    }

    /// A circuit for a stream with `key` whose exit `fits`: one already
    /// carrying streams of `key`, else a clean one, which then belongs to
    /// `key`.
    pub(crate) fn claim(
        &mut self,
        key: &IsolationKey,
        now: Instant,
        fits: impl Fn(&Circuit) -> bool,
    ) -> Option<Circuit> {
        let usable = |p: &Pooled| p.circuit.is_open() && fits(&p.circuit);
        if let Some(p) = self
            .entries
            .iter()
            .find(|p| p.isolation.as_ref() == Some(key) && usable(p))
        {
            return Some(p.circuit.clone());
        }
        let p = self
            .entries
            .iter_mut()
            .find(|p| p.isolation.is_none() && usable(p))?;
        p.isolation = Some(key.clone());
        p.first_used = Some(now);
        Some(p.circuit.clone())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::circuit::test_circuit;

    fn key(listener: usize, user: Option<&str>) -> IsolationKey {
        IsolationKey {
            listener,
            credentials: user.map(|u| u.as_bytes().to_vec()),
        }
    }

    #[test]
    fn different_keys_never_share_a_circuit() {
        let now = Instant::now();
        let mut pool = Pool::default();
        let (a, _keep_a) = test_circuit(1);
        let (b, _keep_b) = test_circuit(2);
        pool.add(a, None, now);
        pool.add(b, None, now);
        assert_eq!(pool.clean(), 2);
        let alice = pool.claim(&key(0, Some("alice")), now, |_| true).unwrap();
        let bob = pool.claim(&key(0, Some("bob")), now, |_| true).unwrap();
        assert_ne!(alice.exit, bob.exit);
        // Alice again: her circuit.
        let again = pool.claim(&key(0, Some("alice")), now, |_| true).unwrap();
        assert_eq!(again.exit, alice.exit);
        // Another listener, same credentials: no circuit left.
        assert!(pool.claim(&key(1, Some("alice")), now, |_| true).is_none());
        assert_eq!(pool.clean(), 0);
    }

    #[test]
    fn dirty_circuits_are_retired_and_closed_ones_forgotten() {
        let now = Instant::now();
        let mut pool = Pool::default();
        let (a, keep_a) = test_circuit(1);
        let (b, _keep_b) = test_circuit(2);
        pool.add(a, Some(key(0, None)), now);
        pool.add(b, None, now);
        pool.prune(now + Duration::from_secs(601), Duration::from_secs(600));
        assert!(
            pool.claim(&key(0, None), now, |c| c.exit == keep_a.exit)
                .is_none()
        );
        drop(keep_a);
        let (c, keep_c) = test_circuit(3);
        pool.add(c, None, now);
        drop(keep_c);
        pool.prune(now, Duration::from_secs(600));
        assert_eq!(pool.clean(), 1, "the closed circuit is gone");
    }
}
