//! Keeping one side's answer for comparing, up to a bound.
//!
//! The primary's body is captured while it streams to the client, so
//! capturing must not copy: kept chunks are `Bytes` clones sharing the
//! frames the client gets. Only the chunk that crosses the bound is
//! copied (its kept part), because keeping a clone of the whole chunk
//! would hold more memory than the bound promises.

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

/// One side's answer as kept for comparing (primary, mirror or control).
#[derive(Debug, Clone)]
pub struct Captured {
    /// The response status.
    pub status: http::StatusCode,
    /// The response headers, as received.
    pub headers: http::HeaderMap,
    /// The response body, kept up to the bound.
    pub body: CapturedBody,
}

/// A body kept up to a bound, with the count of every byte seen.
#[derive(Debug, Clone)]
pub struct CapturedBody {
    kept: Vec<Bytes>,
    kept_len: usize,
    total_len: u64,
    ended: bool,
}

impl Default for CapturedBody {
    /// An empty body that ended (a response without content).
    fn default() -> Self {
        CapturedBody {
            kept: Vec::new(),
            kept_len: 0,
            total_len: 0,
            ended: true,
        }
    }
}

impl CapturedBody {
    /// Bytes kept.
    pub fn kept_len(&self) -> usize {
        self.kept_len
    }

    /// Every byte seen, kept or not.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Whether bytes were seen beyond the bound (and not kept).
    pub fn truncated(&self) -> bool {
        self.total_len > self.kept_len as u64
    }

    /// Whether the body was read to its end ([`BodyCapture::finish`]),
    /// rather than given up part way ([`BodyCapture::abandon`]).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// What was kept, as one buffer: a clone when it is one chunk,
    /// otherwise one copy.
    pub fn kept_bytes(&self) -> Bytes {
        match self.kept.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut all = BytesMut::with_capacity(self.kept_len);
                for chunk in many {
                    all.extend_from_slice(chunk);
                }
                all.freeze()
            }
        }
    }

    /// SHA-256 of what was kept, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        let mut hash = Sha256::new();
        for chunk in &self.kept {
            hash.update(chunk);
        }
        hex::encode(hash.finalize())
    }
}

/// Builds a [`CapturedBody`] as chunks stream by.
#[derive(Debug)]
pub struct BodyCapture {
    body: CapturedBody,
    max: usize,
}

impl BodyCapture {
    /// A capture that keeps at most `max` bytes.
    pub fn new(max: usize) -> Self {
        BodyCapture {
            body: CapturedBody {
                ended: false,
                ..CapturedBody::default()
            },
            max,
        }
    }

    /// Counts a chunk and keeps what fits under the bound.
    pub fn push(&mut self, chunk: &Bytes) {
        let body = &mut self.body;
        body.total_len += chunk.len() as u64;
        let room = self.max - body.kept_len;
        if chunk.is_empty() || room == 0 {
            return;
        }
        let part = if chunk.len() <= room {
            chunk.clone()
        } else {
            // A slice of `chunk` would pin all of it; copy just the part.
            Bytes::copy_from_slice(&chunk[..room])
        };
        body.kept_len += part.len();
        body.kept.push(part);
    }

    /// The body, read to its end.
    pub fn finish(mut self) -> CapturedBody {
        self.body.ended = true;
        self.body
    }

    /// The body as far as it came, when the stream stopped early (the
    /// client went away, the connection broke).
    pub fn abandon(self) -> CapturedBody {
        self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(max: usize, chunks: &[&'static [u8]]) -> CapturedBody {
        let mut capture = BodyCapture::new(max);
        for chunk in chunks {
            capture.push(&Bytes::from_static(chunk));
        }
        capture.finish()
    }

    #[test]
    fn keeps_everything_under_the_bound() {
        let body = capture(10, &[b"abc", b"", b"def"]);
        assert_eq!(body.kept_bytes(), Bytes::from_static(b"abcdef"));
        assert_eq!((body.kept_len(), body.total_len()), (6, 6));
        assert!(!body.truncated());
        assert!(body.ended());
    }

    #[test]
    fn stops_at_the_bound_and_counts_the_rest() {
        let body = capture(5, &[b"abc", b"defg", b"hij"]);
        assert_eq!(body.kept_bytes(), Bytes::from_static(b"abcde"));
        assert_eq!((body.kept_len(), body.total_len()), (5, 10));
        assert!(body.truncated());
    }

    #[test]
    fn whole_chunks_are_shared_and_the_partial_one_copied() {
        let first = Bytes::from(vec![1u8; 4]);
        let second = Bytes::from(vec![2u8; 4]);
        let mut capture = BodyCapture::new(6);
        capture.push(&first);
        capture.push(&second);
        let body = capture.finish();
        assert_eq!(body.kept[0].as_ptr(), first.as_ptr(), "shared, not copied");
        assert_ne!(body.kept[1].as_ptr(), second.as_ptr(), "copied");
        assert_eq!(body.kept[1].len(), 2);
    }

    #[test]
    fn one_kept_chunk_is_handed_out_without_copying() {
        let chunk = Bytes::from(vec![7u8; 8]);
        let mut capture = BodyCapture::new(100);
        capture.push(&chunk);
        assert_eq!(capture.finish().kept_bytes().as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn hash_is_of_what_was_kept() {
        let body = capture(3, &[b"ab", b"cdef"]);
        // sha256("abc")
        assert_eq!(
            body.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(capture(100, &[b"a", b"bc"]).sha256_hex(), body.sha256_hex());
    }

    #[test]
    fn abandoned_capture_has_not_ended() {
        let mut capture = BodyCapture::new(4);
        capture.push(&Bytes::from_static(b"ab"));
        let body = capture.abandon();
        assert!(!body.ended());
        assert_eq!(body.kept_bytes(), Bytes::from_static(b"ab"));
        assert!(CapturedBody::default().ended());
    }
}
