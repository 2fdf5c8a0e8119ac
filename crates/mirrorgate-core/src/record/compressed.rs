//! Frames: the unit a recording file grows by. A writer gathers lines in
//! a frame in memory and appends it whole, so a file is always a run of
//! complete frames: plain lines, gzip members or zstd frames. Readers of
//! a file still being written get every entry of the frames finished so
//! far (`MultiGzDecoder` reads concatenated gzip members, zstd decoders
//! concatenated frames), and a failed append can be cut off again.

use std::io::{self, Write as _};

use flate2::write::GzEncoder;

use super::Compression;

/// zstd's default level: much faster than gzip's default, about as small.
const ZSTD_LEVEL: i32 = zstd::DEFAULT_COMPRESSION_LEVEL;

/// Lines being gathered for one append.
pub(super) enum Frame {
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Frame {
    /// An empty frame, compressed per `compress`, reusing `buffer`'s
    /// memory.
    pub(super) fn begin(compress: Compression, mut buffer: Vec<u8>) -> io::Result<Frame> {
        buffer.clear();
        Ok(match compress {
            Compression::None => Frame::Plain(buffer),
            Compression::Gzip => {
                Frame::Gzip(GzEncoder::new(buffer, flate2::Compression::default()))
            }
            Compression::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(buffer, ZSTD_LEVEL)?;
                // A damaged file is told from a good one.
                encoder.include_checksum(true)?;
                Frame::Zstd(encoder)
            }
        })
    }

    /// Adds `line` (with its newline).
    pub(super) fn write(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Frame::Plain(buffer) => {
                buffer.extend_from_slice(line);
                Ok(())
            }
            Frame::Gzip(encoder) => encoder.write_all(line),
            Frame::Zstd(encoder) => encoder.write_all(line),
        }
    }

    /// The frame's bytes so far: all of them when plain, what the
    /// compressor has given out when compressed (it holds some back
    /// until it finishes).
    pub(super) fn len(&self) -> u64 {
        let len = match self {
            Frame::Plain(buffer) => buffer.len(),
            Frame::Gzip(encoder) => encoder.get_ref().len(),
            Frame::Zstd(encoder) => encoder.get_ref().len(),
        };
        len as u64
    }

    /// The complete frame's bytes, to append to the file.
    pub(super) fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Frame::Plain(buffer) => Ok(buffer),
            Frame::Gzip(encoder) => encoder.finish(),
            Frame::Zstd(encoder) => encoder.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// Two frames appended to one "file", read back as one stream.
    fn two_frames(compress: Compression) -> Vec<u8> {
        let mut file = Vec::new();
        for lines in [["a\n", "b\n"], ["c\n", "d\n"]] {
            let mut frame = Frame::begin(compress, Vec::new()).unwrap();
            for line in lines {
                frame.write(line.as_bytes()).unwrap();
            }
            file.extend(frame.finish().unwrap());
        }
        file
    }

    #[test]
    fn concatenated_frames_read_as_one_stream() {
        assert_eq!(two_frames(Compression::None), b"a\nb\nc\nd\n");
        let gzip = two_frames(Compression::Gzip);
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&gzip[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a\nb\nc\nd\n");
        let zstd = two_frames(Compression::Zstd);
        let mut text = String::new();
        zstd::stream::read::Decoder::new(&zstd[..])
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a\nb\nc\nd\n");
    }
}
