//! An in-memory three-relay network for the circuit tests: the real origin
//! and relay machines, cells moved by a bounded `drive()` loop, and hooks to
//! tamper with cells in flight (docs/spec.md §9.7).

use std::collections::VecDeque;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use warren_crypto::ntor::EphemeralSecret;
use warren_crypto::{OnionKeypair, RelayIdentityKeypair};

use super::{CircEvent, HopTarget, OriginCircuit, RelayAction, RelayCircuit, Teardown, Verdict};
use crate::cell::{Cell, CellCmd, CircId};
use crate::relay_msg::RelayMsg;
use crate::stream::StreamRole;
use crate::time::Timestamp;

/// A seeded RNG; the seed comes from `WARREN_TEST_SEED` when set, and is
/// printed so a failure can be replayed.
pub(crate) fn testing_rng() -> ChaCha20Rng {
    let seed = std::env::var("WARREN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    eprintln!("testing_rng: WARREN_TEST_SEED={seed}");
    ChaCha20Rng::seed_from_u64(seed)
}

/// Which way a cell travels on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Away from the origin.
    Forward,
    /// Towards the origin.
    Backward,
}

/// What a tamper hook does to one cell in flight.
pub(crate) enum Tamper {
    /// Deliver it unchanged.
    Pass,
    /// Deliver this cell instead.
    Replace(Cell),
    /// Do not deliver it.
    Drop,
    /// Deliver it twice.
    Duplicate,
    /// Hold it and deliver it after the next cell on the same link.
    Delay,
    /// Deliver this extra cell first, then the original.
    InjectBefore(Cell),
}

/// A hook called with (link, direction, index of the cell on that link and
/// direction, the cell).
pub(crate) type Hook = Box<dyn FnMut(usize, Dir, usize, &Cell) -> Tamper>;

pub(crate) struct Relay {
    identity: RelayIdentityKeypair,
    onion: OnionKeypair,
    pub(crate) circuit: Option<RelayCircuit>,
    /// The id of the circuit on this relay's inbound link.
    inbound_id: Option<CircId>,
    pub(crate) teardown: Option<Teardown>,
    pub(crate) delivered: Vec<RelayMsg>,
}

/// The origin, three relays and the four links between them (link `i`
/// joins relay `i` to its predecessor: the origin for link 0).
pub(crate) struct TestNet {
    pub(crate) rng: ChaCha20Rng,
    pub(crate) now: Timestamp,
    pub(crate) origin: OriginCircuit,
    pub(crate) relays: Vec<Relay>,
    /// `queues[i]`: cells on link `i`, per direction.
    forward: Vec<VecDeque<Cell>>,
    backward: Vec<VecDeque<Cell>>,
    counts: Vec<[usize; 2]>,
    held: Vec<[Option<Cell>; 2]>,
    pub(crate) hook: Option<Hook>,
    pub(crate) events: Vec<CircEvent>,
}

pub(crate) const RELAYS: usize = 3;
const ORIGIN_CIRC: CircId = CircId(1);

impl TestNet {
    /// Builds relays and starts a circuit to the first (CREATE queued).
    pub(crate) fn new() -> Self {
        let mut rng = testing_rng();
        let relays: Vec<Relay> = (0..RELAYS)
            .map(|_| Relay {
                identity: RelayIdentityKeypair::generate(&mut rng),
                onion: OnionKeypair::generate(&mut rng),
                circuit: None,
                inbound_id: None,
                teardown: None,
                delivered: Vec::new(),
            })
            .collect();
        let now = Timestamp::from_micros(1_000_000);
        let first = target(&relays[0]);
        let eph = EphemeralSecret::generate(&mut rng);
        let origin = OriginCircuit::new(
            now,
            ORIGIN_CIRC,
            &first,
            eph,
            Duration::from_secs(10),
            StreamRole::Initiator,
        )
        .expect("CREATE encodes");
        Self {
            rng,
            now,
            origin,
            relays,
            forward: vec![VecDeque::new(); RELAYS],
            backward: vec![VecDeque::new(); RELAYS],
            counts: vec![[0; 2]; RELAYS],
            held: (0..RELAYS).map(|_| [None, None]).collect(),
            hook: None,
            events: Vec::new(),
        }
    }

    /// Builds the whole three-hop circuit; panics if it does not complete.
    pub(crate) fn build() -> Self {
        let mut net = Self::new();
        net.drive();
        for i in 1..RELAYS {
            let t = target(&net.relays[i]);
            let eph = EphemeralSecret::generate(&mut net.rng);
            net.origin.extend(net.now, &t, eph).expect("extend");
            net.drive();
        }
        assert!(
            net.origin.is_ready(),
            "circuit did not build: {:?}",
            net.events
        );
        assert_eq!(net.origin.hop_count(), RELAYS);
        net
    }

    /// Moves cells until nothing is in flight (bounded).
    pub(crate) fn drive(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("drive() did not settle");
    }

    /// One round: drain every machine's output, deliver one cell per link and
    /// direction. Returns false when nothing moved.
    fn step(&mut self) -> bool {
        let mut moved = self.collect_outputs();
        for link in 0..RELAYS {
            if let Some(cell) = self.forward[link].pop_front() {
                self.transit(link, Dir::Forward, cell);
                moved = true;
            }
            if let Some(cell) = self.backward[link].pop_front() {
                self.transit(link, Dir::Backward, cell);
                moved = true;
            }
        }
        moved
    }

    fn collect_outputs(&mut self) -> bool {
        let mut moved = false;
        while let Some(cell) = self.origin.poll_transmit() {
            self.forward[0].push_back(cell);
            moved = true;
        }
        while let Some(e) = self.origin.poll_event() {
            self.events.push(e);
        }
        for i in 0..RELAYS {
            while let Some(action) = self.relays[i]
                .circuit
                .as_mut()
                .and_then(RelayCircuit::poll_action)
            {
                moved = true;
                self.carry_out(i, action);
            }
        }
        moved
    }

    fn carry_out(&mut self, i: usize, action: RelayAction) {
        let relay_circ = CircId(100 + u32::try_from(i).unwrap());
        match action {
            RelayAction::ToPrev(msg) => {
                let id = self.relays[i].inbound_id.expect("inbound id");
                self.backward[i].push_back(msg.encode(id).expect("encode"));
            }
            RelayAction::ToNext(msg) => {
                assert!(i + 1 < RELAYS, "relay {i} has no next hop");
                self.forward[i + 1].push_back(msg.encode(relay_circ).expect("encode"));
            }
            RelayAction::Extend {
                identity, create, ..
            } => {
                let next = i + 1;
                assert!(next < RELAYS && identity == self.relays[next].identity.public());
                let cell = crate::cell::ChanMsg::Create(create)
                    .encode(relay_circ)
                    .expect("encode");
                self.forward[next].push_back(cell);
            }
            RelayAction::Deliver(msg) => self.relays[i].delivered.push(msg),
            RelayAction::Closed(t) => self.relays[i].teardown = Some(t),
        }
    }

    /// Passes one cell through the tamper hook, then delivers it.
    fn transit(&mut self, link: usize, dir: Dir, cell: Cell) {
        let d = usize::from(dir == Dir::Backward);
        let index = self.counts[link][d];
        self.counts[link][d] += 1;
        let verdict = match self.hook.as_mut() {
            Some(hook) => hook(link, dir, index, &cell),
            None => Tamper::Pass,
        };
        let held = self.held[link][d].take();
        match verdict {
            Tamper::Pass => self.deliver(link, dir, cell),
            Tamper::Replace(other) => self.deliver(link, dir, other),
            Tamper::Drop => {}
            Tamper::Duplicate => {
                self.deliver(link, dir, cell.clone());
                self.deliver(link, dir, cell);
            }
            Tamper::Delay => self.held[link][d] = Some(cell),
            Tamper::InjectBefore(extra) => {
                self.deliver(link, dir, extra);
                self.deliver(link, dir, cell);
            }
        }
        if let Some(late) = held {
            self.deliver(link, dir, late);
        }
    }

    fn deliver(&mut self, link: usize, dir: Dir, cell: Cell) {
        let now = self.now;
        match dir {
            Dir::Forward => self.deliver_forward(link, cell),
            Dir::Backward if link == 0 => {
                let _ = self.origin.handle_cell(now, cell);
            }
            Dir::Backward => {
                let relay = &mut self.relays[link - 1];
                let expected = CircId(100 + u32::try_from(link - 1).unwrap());
                let mut cell = cell;
                if cell.circ_id != expected {
                    return;
                }
                if let Some(Ok(Verdict::Forward)) = relay
                    .circuit
                    .as_mut()
                    .map(|c| c.handle_from_next(&mut cell))
                {
                    cell.circ_id = relay.inbound_id.expect("inbound id");
                    self.backward[link - 1].push_back(cell);
                }
            }
        }
    }

    /// A relay's channel: a CREATE on a new id makes the circuit; cells for
    /// an unknown id are dropped, as a daemon drops them.
    fn deliver_forward(&mut self, i: usize, cell: Cell) {
        let now = self.now;
        let relay = &mut self.relays[i];
        match relay.inbound_id {
            None if cell.cmd == CellCmd::CREATE => {
                let eph = EphemeralSecret::generate(&mut self.rng);
                let identity = relay.identity.public();
                match RelayCircuit::accept_create(eph, &identity, &[&relay.onion], &cell) {
                    Ok((circuit, created)) => {
                        relay.inbound_id = Some(cell.circ_id);
                        relay.circuit = Some(circuit);
                        self.backward[i].push_back(created.encode(cell.circ_id).expect("encode"));
                    }
                    Err(_) => {
                        let destroy = crate::cell::ChanMsg::Destroy(crate::cell::Destroy {
                            reason: crate::cell::DestroyReason::PROTOCOL,
                        });
                        self.backward[i].push_back(destroy.encode(cell.circ_id).expect("encode"));
                    }
                }
            }
            Some(id) if id == cell.circ_id => {
                let mut cell = cell;
                if let Some(Ok(Verdict::Forward)) = relay
                    .circuit
                    .as_mut()
                    .map(|c| c.handle_from_prev(now, &mut cell))
                {
                    assert!(i + 1 < RELAYS, "relay {i} has no next hop");
                    cell.circ_id = CircId(100 + u32::try_from(i).unwrap());
                    self.forward[i + 1].push_back(cell);
                }
            }
            _ => {}
        }
    }

    /// The origin's teardown, if it saw one.
    pub(crate) fn origin_closed(&self) -> Option<Teardown> {
        self.events.iter().find_map(|e| match e {
            CircEvent::Closed(t) => Some(*t),
            _ => None,
        })
    }
}

fn target(relay: &Relay) -> HopTarget {
    HopTarget {
        identity: relay.identity.public(),
        onion_key: relay.onion.public(),
        link_specs: Vec::new(),
    }
}
