//! Reading recordings: JSON Lines of HAR entries, plain, gzip (several
//! members) or zstd (several frames), told apart by their magic bytes.
//! Streamed line by line; a line that cannot be used is reported on
//! stderr and counted, and reading goes on (so is a file that cannot be
//! opened or that ends in a truncated or corrupt compressed stream).
//!
//! Used by `mirrorgate replay` (on a thread of its own, feeding the
//! dispatcher) and `mirrorgate record inspect`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mirrorgate_core::record::har::Entry;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// One usable line.
#[derive(Debug)]
pub(crate) struct Line<T> {
    /// The file, as given.
    pub file: Arc<str>,
    /// Its line number, from 1.
    pub number: u64,
    /// What the caller made of the entry.
    pub item: T,
}

/// What reading found, beside the usable lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadTotals {
    /// Lines that could not be used, plus files that could not be opened
    /// or ended in a corrupt stream (each counts once).
    pub bad_lines: u64,
    /// Bytes of the files on disk.
    pub disk_bytes: u64,
    /// Bytes once decompressed.
    pub uncompressed_bytes: u64,
    /// Usable lines.
    pub entries: u64,
}

/// Reads `paths` in order. Each entry goes through `parse` (its error is
/// the line's reason to be bad); each usable line is handed to `each`,
/// which may stop the reading. Each problem is handed to `complain`
/// (`FILE:LINE: reason`, without `error: `).
pub(crate) fn read_files<T>(
    paths: &[PathBuf],
    complain: impl Fn(String),
    mut parse: impl FnMut(Entry) -> Result<T, String>,
    mut each: impl FnMut(Line<T>) -> ControlFlow<()>,
) -> (ReadTotals, ControlFlow<()>) {
    let mut totals = ReadTotals::default();
    for path in paths {
        let name: Arc<str> = path.display().to_string().into();
        let mut reader = match RecordingReader::open(path) {
            Ok(reader) => reader,
            Err(error) => {
                complain(format!("{name}: {error}"));
                totals.bad_lines += 1;
                continue;
            }
        };
        totals.disk_bytes += reader.disk_bytes;
        let flow = loop {
            let (position, entry) = match reader.next_entry() {
                Ok(None) => break ControlFlow::Continue(()),
                Ok(Some(next)) => next,
                Err(error) => {
                    complain(match reader.document {
                        None => format!(
                            "{name}: truncated or corrupt after line {}: {error}",
                            reader.lines
                        ),
                        Some(_) => format!("{name}: not a whole HAR document: {error}"),
                    });
                    totals.bad_lines += 1;
                    break ControlFlow::Continue(());
                }
            };
            match entry.and_then(&mut parse) {
                Ok(item) => {
                    totals.entries += 1;
                    let line = Line {
                        file: name.clone(),
                        number: position.number(),
                        item,
                    };
                    if each(line).is_break() {
                        break ControlFlow::Break(());
                    }
                }
                Err(reason) => {
                    complain(format!("{name}{position}: {reason}"));
                    totals.bad_lines += 1;
                }
            }
        };
        totals.uncompressed_bytes += reader.uncompressed_bytes();
        if flow.is_break() {
            return (totals, flow);
        }
    }
    (totals, ControlFlow::Continue(()))
}

/// Where an entry is in its file.
#[derive(Debug, Clone, Copy)]
enum Position {
    /// A line of JSON Lines, from 1.
    Line(u64),
    /// An entry of a whole HAR document, from 1.
    Entry(u64),
}

impl Position {
    fn number(self) -> u64 {
        match self {
            Position::Line(n) | Position::Entry(n) => n,
        }
    }
}

/// After the file's name: `:LINE` or `: entry N`.
impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(n) => write!(f, ":{n}"),
            Position::Entry(n) => write!(f, ": entry {n}"),
        }
    }
}

/// A whole HAR document, as browsers export it.
#[derive(serde::Deserialize)]
struct HarDocument {
    log: HarLog,
}

#[derive(serde::Deserialize)]
struct HarLog {
    entries: Vec<serde_json::Value>,
}

/// One recording file, decompressed as its magic bytes say: JSON Lines,
/// or (when it starts with `{"log":`) a whole HAR document, which is read
/// whole (such files come from browsers and are small).
struct RecordingReader {
    lines_in: BufReader<Counting<Box<dyn Read + Send>>>,
    /// Complete lines read so far.
    lines: u64,
    disk_bytes: u64,
    /// A whole HAR document's entries not handed out yet (read at the
    /// first call), with how many were.
    document: Option<(Option<std::vec::IntoIter<serde_json::Value>>, u64)>,
}

impl RecordingReader {
    fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let disk_bytes = file.metadata()?.len();
        let mut raw = BufReader::new(file);
        let head = raw.fill_buf()?;
        let decoded: Box<dyn Read + Send> = if head.starts_with(GZIP_MAGIC) {
            Box::new(flate2::bufread::MultiGzDecoder::new(raw))
        } else if head.starts_with(ZSTD_MAGIC) {
            Box::new(zstd::stream::read::Decoder::with_buffer(raw)?)
        } else {
            Box::new(raw)
        };
        let mut lines_in = BufReader::new(Counting {
            inner: decoded,
            count: 0,
        });
        let document = starts_a_har_document(lines_in.fill_buf()?).then_some((None, 0));
        Ok(RecordingReader {
            lines_in,
            lines: 0,
            disk_bytes,
            document,
        })
    }

    /// The next entry (or why it is not one) and where it is; `None` at
    /// the end; an error when the stream is corrupt or truncated.
    fn next_entry(&mut self) -> io::Result<Option<(Position, Result<Entry, String>)>> {
        if let Some((entries, handed)) = &mut self.document {
            let entries = match entries {
                Some(entries) => entries,
                None => {
                    let whole: HarDocument = serde_json::from_reader(&mut self.lines_in)?;
                    entries.insert(whole.log.entries.into_iter())
                }
            };
            return Ok(entries.next().map(|value| {
                *handed += 1;
                let entry =
                    serde_json::from_value(value).map_err(|e| format!("not a HAR entry: {e}"));
                (Position::Entry(*handed), entry)
            }));
        }
        loop {
            let Some((number, text)) = self.next_line()? else {
                return Ok(None);
            };
            // Empty lines are skipped silently.
            if text.trim_ascii().is_empty() {
                continue;
            }
            let entry = std::str::from_utf8(&text)
                .map_err(|_| "line is not UTF-8".to_string())
                .and_then(Entry::from_line);
            return Ok(Some((Position::Line(number), entry)));
        }
    }

    /// The next line (without its line ending) and its number.
    fn next_line(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        let mut line = Vec::new();
        if self.lines_in.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        self.lines += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        Ok(Some((self.lines, line)))
    }

    fn uncompressed_bytes(&self) -> u64 {
        self.lines_in.get_ref().count
    }
}

/// Whether `head` starts `{"log":` (spaces allowed): a whole HAR
/// document rather than a line of entries (which has no `log` key).
fn starts_a_har_document(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let Some(rest) = text.trim_start().strip_prefix('{') else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix("\"log\"") else {
        return false;
    };
    rest.trim_start().starts_with(':')
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const GOOD: &str = r#"{"startedDateTime":"2026-01-02T03:04:05.678Z","time":3,"request":{"method":"GET","url":"http://x/a","httpVersion":"HTTP/1.1"},"response":{"status":204}}"#;

    fn lines(n: usize) -> String {
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(GOOD);
            text.push('\n');
        }
        text
    }

    fn read(paths: &[PathBuf]) -> (ReadTotals, Vec<(String, u64)>) {
        let mut seen = Vec::new();
        let (totals, _) = read_files(
            paths,
            |_| {},
            |e| Ok(e.request.url),
            |line| {
                assert_eq!(line.item, "http://x/a");
                seen.push((line.file.to_string(), line.number));
                ControlFlow::Continue(())
            },
        );
        (totals, seen)
    }

    #[test]
    fn plain_gzip_and_zstd_are_told_apart_by_their_magic() {
        let dir = tempfile::tempdir().unwrap();
        let text = lines(3);
        let plain = dir.path().join("a.jsonl.gz"); // the name lies
        std::fs::write(&plain, &text).unwrap();
        let gz = dir.path().join("b.bin");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder.write_all(text.as_bytes()).unwrap();
        let mut two_members = encoder.finish().unwrap();
        two_members.extend(two_members.clone());
        std::fs::write(&gz, &two_members).unwrap();
        let zst = dir.path().join("c.jsonl");
        let mut two_frames = zstd::encode_all(text.as_bytes(), 1).unwrap();
        two_frames.extend(zstd::encode_all(text.as_bytes(), 1).unwrap());
        std::fs::write(&zst, &two_frames).unwrap();

        let (totals, seen) = read(&[plain, gz, zst]);
        assert_eq!(totals.entries, 15);
        assert_eq!(totals.bad_lines, 0);
        assert_eq!(totals.uncompressed_bytes, 5 * text.len() as u64);
        assert_eq!(
            totals.disk_bytes,
            (text.len() + two_members.len() + two_frames.len()) as u64
        );
        assert_eq!(seen[3].1, 1, "numbers start again in each file");
        assert_eq!(seen[8].1, 6, "across gzip members");
    }

    #[test]
    fn bad_lines_are_counted_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let text = format!("{GOOD}\n\n{{\"time\":1}}\nnot json\r\n{GOOD}\r\n{GOOD}");
        std::fs::write(&path, text).unwrap();
        let missing = dir.path().join("missing.jsonl");
        let (totals, seen) = read(&[missing, path]);
        assert_eq!(totals.bad_lines, 3, "two lines and the missing file");
        let numbers: Vec<u64> = seen.iter().map(|s| s.1).collect();
        assert_eq!(numbers, [1, 5, 6], "the empty line is skipped silently");
    }

    #[test]
    fn a_truncated_stream_ends_its_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let text = lines(200);
        let cut = |bytes: Vec<u8>| bytes[..bytes.len() * 2 / 3].to_vec();
        let gz = dir.path().join("t.jsonl.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        encoder.write_all(text.as_bytes()).unwrap();
        std::fs::write(&gz, cut(encoder.finish().unwrap())).unwrap();
        let zst = dir.path().join("t.jsonl.zst");
        std::fs::write(&zst, cut(zstd::encode_all(text.as_bytes(), 1).unwrap())).unwrap();
        let whole = dir.path().join("whole.jsonl");
        std::fs::write(&whole, lines(2)).unwrap();

        let (totals, seen) = read(&[gz, zst, whole.clone()]);
        assert_eq!(totals.bad_lines, 2, "one per truncated file");
        assert!(totals.entries < 400 && totals.entries >= 2);
        let whole = whole.display().to_string();
        assert_eq!(seen.iter().filter(|s| s.0 == whole).count(), 2);
    }

    #[test]
    fn a_whole_har_document_is_read_entry_by_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.har");
        let document = format!(
            "{{\n  \"log\" : {{\"version\": \"1.2\", \"entries\": [\n{GOOD},\n{{\"time\": 1}},\n{GOOD}]}}}}\n"
        );
        std::fs::write(&path, document).unwrap();
        let (totals, seen) = read(std::slice::from_ref(&path));
        assert_eq!((totals.entries, totals.bad_lines), (2, 1));
        let numbers: Vec<u64> = seen.iter().map(|s| s.1).collect();
        assert_eq!(numbers, [1, 3], "numbered by entry");

        std::fs::write(&path, "{\"log\": {\"entries\": [").unwrap();
        let (totals, _) = read(&[path]);
        assert_eq!((totals.entries, totals.bad_lines), (0, 1));
        assert!(starts_a_har_document(b" {\n \"log\":{"));
        assert!(!starts_a_har_document(b"{\"startedDateTime\":1,\"log\":2}"));
        assert!(!starts_a_har_document(b"{\"logs\":1}"));
    }

    #[test]
    fn parse_errors_make_a_line_bad() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, lines(2)).unwrap();
        let mut first = true;
        let (totals, _) = read_files(
            &[path],
            |_| {},
            |_| {
                let ok = !first;
                first = false;
                if ok {
                    Ok(())
                } else {
                    Err("no".to_string())
                }
            },
            |_| ControlFlow::Break(()),
        );
        assert_eq!((totals.bad_lines, totals.entries), (1, 1));
    }
}
