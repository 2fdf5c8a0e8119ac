//! Frame boundaries in a raw HTTP/2 byte stream (RFC 9113 §4.1), however
//! it is split into reads and writes: enough to see which frames pass
//! without decoding them (that stays h2's job).

/// Client connection preface (RFC 9113 §3.4), before the client's first
/// frame.
pub(crate) const CLIENT_PREFACE_LEN: usize = 24;
const FRAME_HEAD_LEN: usize = 9;
/// Payload bytes kept of a captured frame: a GOAWAY's stream id, error
/// code and the start of its debug data.
const CAPTURE_LIMIT: usize = 64;

/// One frame's head, handed out as soon as its 9 bytes have passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHead {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) length: usize,
}

/// Finds frame heads and optionally keeps the payload start of frames of
/// one type.
#[derive(Debug)]
pub(crate) struct FrameScanner {
    skip_left: usize,
    head: [u8; FRAME_HEAD_LEN],
    head_len: usize,
    payload_left: usize,
    capture_kind: Option<u8>,
    captured: Option<Vec<u8>>,
}

impl FrameScanner {
    /// A scanner for a stream that starts with `preface` bytes that are
    /// not frames ([`CLIENT_PREFACE_LEN`] or 0), keeping the payloads of
    /// frames of type `capture` for [`FrameScanner::scan`]'s callback.
    pub(crate) fn new(preface: usize, capture: Option<u8>) -> Self {
        FrameScanner {
            skip_left: preface,
            head: [0; FRAME_HEAD_LEN],
            head_len: 0,
            payload_left: 0,
            capture_kind: capture,
            captured: None,
        }
    }

    /// Feeds the next bytes. `on_head` sees every frame head completed in
    /// them; `on_captured` the (first [`CAPTURE_LIMIT`] bytes of the)
    /// payload of every complete frame of the captured type.
    pub(crate) fn scan(
        &mut self,
        mut bytes: &[u8],
        mut on_head: impl FnMut(FrameHead),
        mut on_captured: impl FnMut(&[u8]),
    ) {
        while !bytes.is_empty() {
            if self.skip_left > 0 {
                let n = self.skip_left.min(bytes.len());
                self.skip_left -= n;
                bytes = &bytes[n..];
            } else if self.payload_left > 0 {
                let n = self.payload_left.min(bytes.len());
                if let Some(captured) = &mut self.captured {
                    let room = CAPTURE_LIMIT.saturating_sub(captured.len()).min(n);
                    captured.extend_from_slice(&bytes[..room]);
                }
                self.payload_left -= n;
                bytes = &bytes[n..];
                if self.payload_left == 0 {
                    if let Some(captured) = self.captured.take() {
                        on_captured(&captured);
                    }
                }
            } else {
                let n = (FRAME_HEAD_LEN - self.head_len).min(bytes.len());
                self.head[self.head_len..self.head_len + n].copy_from_slice(&bytes[..n]);
                self.head_len += n;
                bytes = &bytes[n..];
                if self.head_len == FRAME_HEAD_LEN {
                    self.head_len = 0;
                    let h = self.head;
                    let head = FrameHead {
                        length: usize::from(h[0]) << 16
                            | usize::from(h[1]) << 8
                            | usize::from(h[2]),
                        kind: h[3],
                        flags: h[4],
                    };
                    self.payload_left = head.length;
                    on_head(head);
                    if self.capture_kind == Some(head.kind) {
                        if head.length == 0 {
                            on_captured(&[]);
                        } else {
                            self.captured =
                                Some(Vec::with_capacity(head.length.min(CAPTURE_LIMIT)));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn finds_frames_and_captures_payloads_however_the_bytes_are_split() {
        let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        stream.extend(frame(0x4, 0, &[0, 4, 0, 0, 255, 255]));
        stream.extend(frame(0x1, 0x5, &[0x82; 300]));
        stream.extend(frame(0x7, 0, b"\0\0\0\x01\0\0\0\x0bdebug"));
        stream.extend(frame(0x6, 0x1, &[0; 8]));
        stream.extend(frame(0x7, 0, &[7; 200]));
        for split in [1, 2, 7, 9, 10, 64, stream.len()] {
            let mut scanner = FrameScanner::new(CLIENT_PREFACE_LEN, Some(0x7));
            let (mut heads, mut captured) = (Vec::new(), Vec::new());
            for piece in stream.chunks(split) {
                scanner.scan(
                    piece,
                    |h| heads.push((h.kind, h.flags, h.length)),
                    |p| captured.push(p.to_vec()),
                );
            }
            assert_eq!(
                heads,
                [
                    (0x4, 0, 6),
                    (0x1, 0x5, 300),
                    (0x7, 0, 13),
                    (0x6, 0x1, 8),
                    (0x7, 0, 200)
                ],
                "split {split}"
            );
            assert_eq!(
                captured,
                [
                    b"\0\0\0\x01\0\0\0\x0bdebug".to_vec(),
                    vec![7; CAPTURE_LIMIT]
                ],
                "split {split}"
            );
        }
    }
}
