//! The two byte buffers of one stream end (docs/spec.md §10.2).
//!
//! The send buffer is capped ([`STREAM_SEND_BUFFER`]); the receive buffer is
//! bounded by the stream window, because a peer that sends more DATA than the
//! window allows breaks the protocol and loses the circuit.

use std::collections::VecDeque;

use crate::relay_msg::RELAY_DATA_MAX;

/// Bytes an application may have written to a stream and not yet sent.
pub const STREAM_SEND_BUFFER: usize = 64 * 1024;

/// Bytes waiting to be packaged into DATA cells.
#[derive(Debug, Default)]
pub(crate) struct SendBuffer {
    bytes: VecDeque<u8>,
}

impl SendBuffer {
    /// Appends as much of `data` as fits; returns how much.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let room = STREAM_SEND_BUFFER.saturating_sub(self.bytes.len());
        let n = room.min(data.len());
        // A slice iterator: VecDeque copies it in one go.
        self.bytes.extend(data.get(..n).unwrap_or_default());
        n
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.bytes.len() >= STREAM_SEND_BUFFER
    }

    /// Takes the next cell's worth of bytes (at most [`RELAY_DATA_MAX`]).
    pub(crate) fn take_cell(&mut self) -> Vec<u8> {
        let n = self.bytes.len().min(RELAY_DATA_MAX);
        let mut out = Vec::with_capacity(n);
        let (front, back) = self.bytes.as_slices();
        let from_front = front.len().min(n);
        out.extend_from_slice(front.get(..from_front).unwrap_or_default());
        out.extend_from_slice(back.get(..n - from_front).unwrap_or_default());
        self.bytes.drain(..n);
        out
    }
}

/// Received DATA, one chunk per cell, so that consumption can be counted in
/// cells for the stream window (§10.3.2).
#[derive(Debug, Default)]
pub(crate) struct RecvBuffer {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already read.
    offset: usize,
    /// Bytes not yet read, over all chunks.
    len: usize,
}

impl RecvBuffer {
    pub(crate) fn push(&mut self, chunk: Vec<u8>) {
        self.len += chunk.len();
        self.chunks.push_back(chunk);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes waiting to be read.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies bytes into `out`. Returns the bytes copied and the number of
    /// cells fully consumed by this read.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> (usize, usize) {
        let mut copied = 0;
        let mut consumed = 0;
        while copied < out.len() {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let available = front.get(self.offset..).unwrap_or_default();
            let n = available.len().min(out.len() - copied);
            if let (Some(dst), Some(src)) = (out.get_mut(copied..copied + n), available.get(..n)) {
                dst.copy_from_slice(src);
            }
            copied += n;
            self.len -= n;
            self.offset += n;
            if self.offset >= front.len() {
                self.chunks.pop_front();
                self.offset = 0;
                consumed += 1;
            }
        }
        (copied, consumed)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn send_buffer_caps_and_splits_into_cells() {
        let mut b = SendBuffer::default();
        let data = vec![7u8; STREAM_SEND_BUFFER + 10];
        assert_eq!(b.push(&data), STREAM_SEND_BUFFER);
        assert!(b.is_full());
        assert_eq!(b.push(b"more"), 0);
        assert_eq!(b.take_cell().len(), RELAY_DATA_MAX);
        assert!(!b.is_full());
    }

    #[test]
    fn recv_buffer_counts_consumed_cells() {
        let mut b = RecvBuffer::default();
        b.push(b"hello".to_vec());
        b.push(b"world!".to_vec());
        assert_eq!(b.len(), 11);
        let mut out = [0u8; 3];
        assert_eq!(b.read(&mut out), (3, 0));
        assert_eq!(&out, b"hel");
        assert_eq!(b.len(), 8);
        let mut out = [0u8; 100];
        assert_eq!(b.read(&mut out), (8, 2));
        assert_eq!(&out[..8], b"loworld!");
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
    }
}
