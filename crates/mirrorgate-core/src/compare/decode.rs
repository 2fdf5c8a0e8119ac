//! Undoing `content-encoding` before comparing, within a bound.
//!
//! Two versions may compress the same answer differently (gzip here, br
//! there), so bodies are compared decoded. A compressed body is a promise
//! of more bytes than it holds; every decoder is read through
//! `Read::take(bound + 1)`, so a decompression bomb costs at most the
//! bound (plus one byte to tell "exactly the bound" from "more"), and the
//! decoders' own memory is bounded too (zstd's window is capped; gzip and
//! deflate use 32 KiB, brotli at most its 16 MiB format maximum).

use std::fmt;
use std::io::Read;

use bytes::Bytes;
use http::header::CONTENT_ENCODING;
use http::HeaderMap;

/// More stacked encodings than any real server sends; each layer costs up
/// to the bound, so the count is capped too.
const MAX_LAYERS: usize = 4;

/// zstd's window: 8 MiB, what RFC 8878 asks HTTP decoders to support.
/// Frames that need more are refused instead of allocating up to 2 GiB.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Decoded, it would be larger than the bound.
    TooLarge,
    /// The bytes are not valid for the encoding (the message says why).
    Corrupt(String),
    /// An encoding this module does not know (e.g. `compress`).
    UnknownEncoding(String),
    /// More than four encodings stacked (the count is given).
    TooManyEncodings(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge => f.write_str("too large to decode"),
            DecodeError::Corrupt(why) => write!(f, "corrupt: {why}"),
            DecodeError::UnknownEncoding(name) => write!(f, "unknown encoding `{name}`"),
            DecodeError::TooManyEncodings(n) => {
                write!(f, "{n} stacked encodings (at most {MAX_LAYERS})")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `body` by the `content-encoding` in `headers` (every field
/// line, in order; stacked encodings undone last first). The result is
/// never longer than `bound`; an unencoded body longer than it is
/// [`DecodeError::TooLarge`] as well. Without an encoding (or only
/// `identity`) the body comes back as is, without a copy.
pub fn decode_body(headers: &HeaderMap, body: Bytes, bound: usize) -> Result<Bytes, DecodeError> {
    let mut names = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for name in text.split(',').map(str::trim) {
            if !name.is_empty() && !name.eq_ignore_ascii_case("identity") {
                names.push(name.to_ascii_lowercase());
            }
        }
    }
    if names.len() > MAX_LAYERS {
        return Err(DecodeError::TooManyEncodings(names.len()));
    }
    let mut body = body;
    for name in names.iter().rev() {
        body = Bytes::from(decode_one(name, &body, bound)?);
    }
    if body.len() > bound {
        return Err(DecodeError::TooLarge);
    }
    Ok(body)
}

fn decode_one(name: &str, input: &[u8], bound: usize) -> Result<Vec<u8>, DecodeError> {
    match name {
        // RFC 9110 8.4.1.3: `x-gzip` is to be read as `gzip`.
        "gzip" | "x-gzip" => read_bounded(flate2::read::MultiGzDecoder::new(input), bound),
        "deflate" if looks_like_zlib(input) => {
            read_bounded(flate2::read::ZlibDecoder::new(input), bound)
        }
        // Some servers send raw deflate under `deflate`; browsers accept it.
        "deflate" => read_bounded(flate2::read::DeflateDecoder::new(input), bound),
        "br" => read_bounded(brotli_decompressor::Decompressor::new(input, 4096), bound),
        "zstd" => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
            read_bounded(decoder, bound)
        }
        other => Err(DecodeError::UnknownEncoding(other.to_owned())),
    }
}

/// A zlib header: method 8 (deflate) and a check value divisible by 31.
fn looks_like_zlib(input: &[u8]) -> bool {
    match input {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

fn read_bounded(reader: impl Read, bound: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    reader
        .take(bound as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if out.len() > bound {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn headers(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_ENCODING, encoding.parse().unwrap());
        headers
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn br(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut &data[..], &mut out, &Default::default()).unwrap();
        out
    }

    fn decode(encoding: &str, body: Vec<u8>, bound: usize) -> Result<Bytes, DecodeError> {
        decode_body(&headers(encoding), Bytes::from(body), bound)
    }

    const TEXT: &[u8] = b"{\"hello\": \"world\", \"n\": [1, 2, 3]}";

    #[test]
    fn each_encoding_round_trips() {
        let zlib = {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
            e.write_all(TEXT).unwrap();
            e.finish().unwrap()
        };
        let raw = {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
            e.write_all(TEXT).unwrap();
            e.finish().unwrap()
        };
        let zstd = zstd::encode_all(TEXT, 3).unwrap();
        for (name, body) in [
            ("gzip", gzip(TEXT)),
            ("X-Gzip", gzip(TEXT)),
            ("deflate", zlib),
            ("deflate", raw),
            ("br", br(TEXT)),
            ("zstd", zstd),
            ("identity", TEXT.to_vec()),
        ] {
            assert_eq!(decode(name, body, 1024).as_deref(), Ok(TEXT), "{name}");
        }
    }

    #[test]
    fn stacked_encodings_are_undone_last_first() {
        // "gzip, br": gzip applied first, then br.
        let body = br(&gzip(TEXT));
        assert_eq!(decode("gzip, br", body.clone(), 1024).as_deref(), Ok(TEXT));
        assert!(matches!(
            decode("br, gzip", body, 1024),
            Err(DecodeError::Corrupt(_))
        ));
        // The same, as two field lines.
        let mut two = headers("gzip");
        two.append(CONTENT_ENCODING, "br".parse().unwrap());
        let decoded = decode_body(&two, Bytes::from(br(&gzip(TEXT))), 1024);
        assert_eq!(decoded.as_deref(), Ok(TEXT));
    }

    #[test]
    fn a_bomb_stops_at_the_bound() {
        let zeros = vec![0u8; 4 << 20];
        for (name, body) in [
            ("gzip", gzip(&zeros)),
            ("br", br(&zeros)),
            ("zstd", zstd::encode_all(&zeros[..], 3).unwrap()),
        ] {
            assert!(body.len() < 64 << 10, "{name} compresses well");
            assert_eq!(decode(name, body.clone(), 1000), Err(DecodeError::TooLarge));
            assert_eq!(decode(name, body, 4 << 20).map(|b| b.len()), Ok(4 << 20));
        }
        assert_eq!(
            decode("identity", vec![1; 11], 10),
            Err(DecodeError::TooLarge)
        );
    }

    #[test]
    fn corrupt_and_unknown_are_errors_not_panics() {
        let mut cut = gzip(TEXT);
        cut.truncate(cut.len() / 2);
        for name in ["gzip", "deflate", "br", "zstd"] {
            let result = decode(name, b"not compressed at all".to_vec(), 1024);
            assert!(
                matches!(result, Err(DecodeError::Corrupt(_))),
                "{name}: {result:?}"
            );
        }
        assert!(matches!(
            decode("gzip", cut, 1024),
            Err(DecodeError::Corrupt(_))
        ));
        assert_eq!(
            decode("compress", TEXT.to_vec(), 1024),
            Err(DecodeError::UnknownEncoding("compress".into()))
        );
        let five = decode("gzip, gzip, gzip, gzip, gzip", TEXT.to_vec(), 1024);
        assert_eq!(five, Err(DecodeError::TooManyEncodings(5)));
        assert_eq!(DecodeError::TooLarge.to_string(), "too large to decode");
    }

    #[test]
    fn no_encoding_is_no_copy() {
        let body = Bytes::from(TEXT.to_vec());
        let decoded = decode_body(&HeaderMap::new(), body.clone(), 1024).unwrap();
        assert_eq!(decoded.as_ptr(), body.as_ptr());
    }
}
