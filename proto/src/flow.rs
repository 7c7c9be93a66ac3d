//! Flow-control windows (docs/spec.md §10.3).
//!
//! Two levels, as in Tor: a circuit window between the origin and the hop
//! where the circuit's streams end, counted in DATA cells and acknowledged by
//! authenticated circuit-level SENDMEs; and a window per stream, acknowledged
//! by stream-level SENDMEs once the application has *consumed* the data, so a
//! slow reader stalls only its own stream.

use std::collections::VecDeque;

use warren_crypto::layer::CellTag;

use crate::ProtoError;

/// DATA cells a sender may have unacknowledged on one circuit (§10.3).
pub const CIRC_WINDOW: u16 = 1000;
/// DATA cells acknowledged by one circuit-level SENDME (§10.3).
pub const CIRC_SENDME_INC: u16 = 100;
/// DATA cells a sender may have unacknowledged on one stream (§10.3).
pub const STREAM_WINDOW: u16 = 500;
/// DATA cells acknowledged by one stream-level SENDME (§10.3).
pub const STREAM_SENDME_INC: u16 = 50;

/// The circuit-level window of one circuit end (§10.3.1).
#[derive(Debug)]
pub(crate) struct CircWindow {
    /// DATA cells we may still send before a SENDME.
    package: u16,
    /// DATA cells sent so far (to know which tags a SENDME will echo).
    sent: u64,
    /// Tags of sent cells number INC, 2·INC, ... not yet acknowledged.
    expected_acks: VecDeque<CellTag>,
    /// DATA cells the peer may still send us before we owe a SENDME.
    deliver: u16,
    /// DATA cells received since our last SENDME.
    received_since_sendme: u16,
}

impl CircWindow {
    pub(crate) fn new() -> Self {
        Self {
            package: CIRC_WINDOW,
            sent: 0,
            expected_acks: VecDeque::new(),
            deliver: CIRC_WINDOW,
            received_since_sendme: 0,
        }
    }

    /// Whether one more DATA cell may be sent.
    pub(crate) fn can_package(&self) -> bool {
        self.package > 0
    }

    /// Records that a DATA cell with `tag` was sealed and sent.
    pub(crate) fn on_data_sent(&mut self, tag: CellTag) {
        self.package = self.package.saturating_sub(1);
        self.sent += 1;
        if self.sent.is_multiple_of(u64::from(CIRC_SENDME_INC)) {
            self.expected_acks.push_back(tag);
        }
    }

    /// Handles a circuit-level SENDME: its `ack` must echo the tag of the
    /// oldest unacknowledged INC-th cell (§10.3.1).
    pub(crate) fn on_sendme(&mut self, ack: Option<CellTag>) -> Result<(), ProtoError> {
        let Some(ack) = ack else {
            return Err(ProtoError::BadSendme {
                reason: "circuit-level SENDME without an acknowledged tag",
            });
        };
        let Some(expected) = self.expected_acks.pop_front() else {
            return Err(ProtoError::BadSendme {
                reason: "SENDME acknowledges more cells than were sent",
            });
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&ack[..], &expected[..])) {
            return Err(ProtoError::BadSendme {
                reason: "SENDME echoes a tag that was never sent",
            });
        }
        self.package = self.package.saturating_add(CIRC_SENDME_INC);
        Ok(())
    }

    /// Records a received DATA cell. Returns the tag to echo when a SENDME is
    /// now owed to the sender.
    pub(crate) fn on_data_received(&mut self, tag: CellTag) -> Result<Option<CellTag>, ProtoError> {
        if self.deliver == 0 {
            return Err(ProtoError::WindowExceeded { object: "circuit" });
        }
        self.deliver -= 1;
        self.received_since_sendme += 1;
        if self.received_since_sendme < CIRC_SENDME_INC {
            return Ok(None);
        }
        self.received_since_sendme = 0;
        self.deliver += CIRC_SENDME_INC;
        Ok(Some(tag))
    }
}

/// The stream-level window of one stream end (§10.3.2).
#[derive(Debug)]
pub(crate) struct StreamWindow {
    /// DATA cells we may still send on this stream.
    package: u16,
    /// DATA cells the peer may still send before our next SENDME.
    deliver: u16,
    /// Cells the application consumed since our last SENDME.
    consumed_since_sendme: u16,
}

impl StreamWindow {
    pub(crate) fn new() -> Self {
        Self {
            package: STREAM_WINDOW,
            deliver: STREAM_WINDOW,
            consumed_since_sendme: 0,
        }
    }

    pub(crate) fn can_package(&self) -> bool {
        self.package > 0
    }

    pub(crate) fn on_data_sent(&mut self) {
        self.package = self.package.saturating_sub(1);
    }

    /// A stream-level SENDME arrived.
    pub(crate) fn on_sendme(&mut self) -> Result<(), ProtoError> {
        let package = self.package + STREAM_SENDME_INC;
        if package > STREAM_WINDOW {
            return Err(ProtoError::BadSendme {
                reason: "stream SENDME opens the window beyond its size",
            });
        }
        self.package = package;
        Ok(())
    }

    /// A DATA cell arrived for this stream.
    pub(crate) fn on_data_received(&mut self) -> Result<(), ProtoError> {
        if self.deliver == 0 {
            return Err(ProtoError::WindowExceeded { object: "stream" });
        }
        self.deliver -= 1;
        Ok(())
    }

    /// The application consumed one received cell. Returns true when a
    /// stream-level SENDME is now owed.
    pub(crate) fn on_cell_consumed(&mut self) -> bool {
        self.consumed_since_sendme += 1;
        if self.consumed_since_sendme < STREAM_SENDME_INC {
            return false;
        }
        self.consumed_since_sendme = 0;
        self.deliver += STREAM_SENDME_INC;
        true
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn tag(n: u64) -> CellTag {
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&n.to_be_bytes());
        t
    }

    #[test]
    fn circuit_window_closes_and_reopens_with_the_right_ack() {
        let mut sender = CircWindow::new();
        let mut receiver = CircWindow::new();
        let mut owed = Vec::new();
        for n in 1..=u64::from(CIRC_WINDOW) {
            assert!(sender.can_package());
            sender.on_data_sent(tag(n));
            if let Some(ack) = receiver.on_data_received(tag(n)).unwrap() {
                owed.push(ack);
            }
        }
        assert!(!sender.can_package());
        assert_eq!(owed.len(), usize::from(CIRC_WINDOW / CIRC_SENDME_INC));
        assert_eq!(owed[0], tag(100));
        sender.on_sendme(Some(owed[0])).unwrap();
        assert!(sender.can_package());
    }

    #[test]
    fn forged_or_extra_sendme_is_refused() {
        let mut sender = CircWindow::new();
        assert!(sender.on_sendme(Some(tag(1))).is_err(), "nothing sent yet");
        for n in 1..=100 {
            sender.on_data_sent(tag(n));
        }
        assert!(sender.on_sendme(Some(tag(99))).is_err(), "wrong tag");
        assert!(sender.on_sendme(None).is_err());
    }

    #[test]
    fn receiver_refuses_data_beyond_the_window() {
        let mut receiver = StreamWindow::new();
        for _ in 0..STREAM_WINDOW {
            receiver.on_data_received().unwrap();
        }
        assert!(receiver.on_data_received().is_err());
    }

    #[test]
    fn stream_sendme_after_consumption_only() {
        let mut w = StreamWindow::new();
        for _ in 0..STREAM_SENDME_INC - 1 {
            w.on_data_received().unwrap();
            assert!(!w.on_cell_consumed());
        }
        w.on_data_received().unwrap();
        assert!(w.on_cell_consumed());
        let mut s = StreamWindow::new();
        assert!(s.on_sendme().is_err(), "window already full");
    }
}
