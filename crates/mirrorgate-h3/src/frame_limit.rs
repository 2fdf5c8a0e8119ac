//! The length limit on HTTP/3 frames that are read whole.
//!
//! h3 0.0.8 reads a HEADERS frame (and any frame but DATA, known or not)
//! into memory until it is complete, before decoding it, and gives the
//! client flow-control credit for every byte it reads: a HEADERS frame
//! that declares a gigabyte is read and held, a gigabyte, on each stream.
//! [`FrameScanner`] follows the frame boundaries in the bytes on their
//! way to h3 and stops a stream at the first such frame that declares
//! more than the limit, before any of its payload is held.

use std::fmt;

/// HTTP/3 frame type of DATA (RFC 9114 §7.2.1): streamed, never held.
const DATA: u64 = 0x0;
/// HTTP/3 unidirectional stream type of the control stream (§6.2.1).
const CONTROL_STREAM: u64 = 0x0;
/// WebTransport's bidirectional stream signal: no length follows and the
/// rest of the stream is not framed; h3 streams it like DATA.
const WEBTRANSPORT_STREAM: u64 = 0x41;

/// A frame longer than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameTooLarge {
    /// Its type.
    pub frame_type: u64,
    /// The length it declared.
    pub length: u64,
    /// The limit.
    pub limit: u64,
}

impl fmt::Display for FrameTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP/3 frame of type {:#x} declares {} bytes, over the limit of {} (max_field_section_size)",
            self.frame_type, self.length, self.limit
        )
    }
}

impl std::error::Error for FrameTooLarge {}

/// A QUIC variable-length integer (RFC 9000 §16) read a byte at a time.
#[derive(Debug, Clone, Copy, Default)]
struct VarInt {
    value: u64,
    /// Bytes still to read; 0 before the first byte.
    left: u8,
}

impl VarInt {
    /// Takes one byte; the value once complete.
    fn push(&mut self, byte: u8) -> Option<u64> {
        if self.left == 0 {
            // The two top bits of the first byte give the length: 1, 2,
            // 4 or 8 bytes.
            self.left = 1 << (byte >> 6);
            self.value = u64::from(byte & 0x3f);
        } else {
            self.value = (self.value << 8) | u64::from(byte);
        }
        self.left -= 1;
        (self.left == 0).then_some(self.value)
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// A unidirectional stream's type.
    StreamType(VarInt),
    /// A frame's type.
    FrameType(VarInt),
    /// A frame's length, after its type.
    Length { frame_type: u64, length: VarInt },
    /// Inside a frame's payload.
    Payload { left: u64 },
    /// Not framed (QPACK and unknown unidirectional streams, WebTransport):
    /// h3 does not hold it.
    Unframed,
    /// A frame over the limit was seen; nothing more is let through.
    Refused(FrameTooLarge),
}

/// Follows HTTP/3 frame boundaries in a stream's bytes, refusing any
/// frame except DATA whose declared length is over `limit`.
#[derive(Debug, Clone)]
pub(crate) struct FrameScanner {
    limit: u64,
    state: State,
}

impl FrameScanner {
    /// For a request stream: frames from the first byte.
    pub(crate) fn request(limit: u64) -> Self {
        FrameScanner {
            limit,
            state: State::FrameType(VarInt::default()),
        }
    }

    /// For a unidirectional stream: a stream type, then frames if it is
    /// the control stream.
    pub(crate) fn unidirectional(limit: u64) -> Self {
        FrameScanner {
            limit,
            state: State::StreamType(VarInt::default()),
        }
    }

    /// Follows `bytes`, the next ones on the stream. An error once a frame
    /// over the limit starts, and for everything after it.
    pub(crate) fn scan(&mut self, mut bytes: &[u8]) -> Result<(), FrameTooLarge> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Refused(error) => return Err(*error),
                State::Unframed => return Ok(()),
                State::Payload { left } => {
                    let skip = (*left).min(bytes.len() as u64);
                    *left -= skip;
                    bytes = &bytes[skip as usize..];
                    if *left == 0 {
                        self.state = State::FrameType(VarInt::default());
                    }
                }
                State::StreamType(ty) => {
                    if let Some(ty) = ty.push(bytes[0]) {
                        self.state = if ty == CONTROL_STREAM {
                            State::FrameType(VarInt::default())
                        } else {
                            State::Unframed
                        };
                    }
                    bytes = &bytes[1..];
                }
                State::FrameType(ty) => {
                    if let Some(frame_type) = ty.push(bytes[0]) {
                        self.state = if frame_type == WEBTRANSPORT_STREAM {
                            State::Unframed
                        } else {
                            State::Length {
                                frame_type,
                                length: VarInt::default(),
                            }
                        };
                    }
                    bytes = &bytes[1..];
                }
                State::Length { frame_type, length } => {
                    let frame_type = *frame_type;
                    if let Some(length) = length.push(bytes[0]) {
                        self.state = if frame_type != DATA && length > self.limit {
                            State::Refused(FrameTooLarge {
                                frame_type,
                                length,
                                limit: self.limit,
                            })
                        } else if length == 0 {
                            State::FrameType(VarInt::default())
                        } else {
                            State::Payload { left: length }
                        };
                    }
                    bytes = &bytes[1..];
                }
            }
        }
        match self.state {
            State::Refused(error) => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QUIC varint in its shortest form.
    fn varint(v: u64) -> Vec<u8> {
        match v {
            0..=0x3f => vec![v as u8],
            0x40..=0x3fff => ((v as u16) | 0x4000).to_be_bytes().to_vec(),
            0x4000..=0x3fff_ffff => ((v as u32) | 0x8000_0000).to_be_bytes().to_vec(),
            _ => (v | 0xc000_0000_0000_0000).to_be_bytes().to_vec(),
        }
    }

    fn frame(ty: u64, payload_len: usize) -> Vec<u8> {
        let mut out = varint(ty);
        out.extend(varint(payload_len as u64));
        out.extend(std::iter::repeat_n(0xab, payload_len));
        out
    }

    /// Feeds `bytes` in pieces of `step` bytes.
    fn scan_in_steps(
        scanner: &mut FrameScanner,
        bytes: &[u8],
        step: usize,
    ) -> Result<(), FrameTooLarge> {
        bytes.chunks(step).try_for_each(|chunk| scanner.scan(chunk))
    }

    #[test]
    fn frames_within_the_limit_and_data_of_any_size_pass_in_any_split() {
        let mut stream = frame(0x1, 100); // HEADERS
        stream.extend(frame(0x0, 100_000)); // DATA, larger than the limit
        stream.extend(frame(0x21, 7)); // a reserved frame type
        stream.extend(frame(0x1, 0)); // empty trailers
        stream.extend(frame(0x1, 100)); // trailers
        for step in [1, 2, 3, 7, 1000, stream.len()] {
            let mut scanner = FrameScanner::request(100);
            assert_eq!(
                scan_in_steps(&mut scanner, &stream, step),
                Ok(()),
                "step {step}"
            );
        }
    }

    #[test]
    fn a_frame_declaring_more_than_the_limit_is_refused_at_its_header() {
        for ty in [0x1, 0x21, 0x4, 0x7] {
            let mut scanner = FrameScanner::request(16_384);
            let mut start = varint(ty);
            start.extend(varint(1 << 30));
            let expected = FrameTooLarge {
                frame_type: ty,
                length: 1 << 30,
                limit: 16_384,
            };
            assert_eq!(scan_in_steps(&mut scanner, &start, 1), Err(expected));
            // And it stays refused.
            assert_eq!(scanner.scan(&[0; 10]), Err(expected));
        }
    }

    #[test]
    fn a_large_frame_after_small_ones_is_refused() {
        let mut stream = frame(0x1, 50);
        stream.extend(frame(0x0, 5000));
        stream.extend(varint(0x1));
        stream.extend(varint(101));
        let mut scanner = FrameScanner::request(100);
        assert!(scan_in_steps(&mut scanner, &stream, 13).is_err());
    }

    #[test]
    fn only_the_control_stream_is_scanned_among_unidirectional_streams() {
        let mut control = varint(0x0);
        control.extend(frame(0x4, 10)); // SETTINGS
        control.extend(varint(0x21));
        control.extend(varint(1 << 20));
        let mut scanner = FrameScanner::unidirectional(1000);
        assert!(scan_in_steps(&mut scanner, &control, 5).is_err());

        // A QPACK encoder stream's instructions are not frames.
        let mut encoder = varint(0x2);
        encoder.extend([0xff; 5000]);
        let mut scanner = FrameScanner::unidirectional(1000);
        assert_eq!(scan_in_steps(&mut scanner, &encoder, 64), Ok(()));
    }

    #[test]
    fn eight_byte_varints_are_read() {
        let mut scanner = FrameScanner::request(10);
        let mut start = varint(0x1);
        start.extend(varint(u64::MAX >> 2));
        assert_eq!(scanner.scan(&start).unwrap_err().length, (1 << 62) - 1);
    }
}
