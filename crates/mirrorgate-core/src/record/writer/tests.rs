use super::*;
use crate::record::folder::recording_files;
use crate::record::har::{Content, Facts, PostData, Request, Response, Timings};
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;

/// Entry `n`; every entry's line has the same length for `n` < 1000.
pub(crate) fn entry(n: usize, body: &str) -> Entry {
    Entry {
        started_date_time: "2026-12-07T10:00:00.000Z".into(),
        time: 1.0,
        request: Request {
            method: "POST".into(),
            url: format!("https://a.example/items/{n:03}"),
            http_version: "HTTP/1.1".into(),
            cookies: vec![],
            headers: vec![],
            query_string: vec![],
            post_data: Some(PostData {
                mime_type: "text/plain".into(),
                text: body.into(),
                encoding: None,
            }),
            headers_size: -1,
            body_size: body.len() as i64,
        },
        response: Response {
            status: 200,
            status_text: "OK".into(),
            http_version: "HTTP/1.1".into(),
            cookies: vec![],
            headers: vec![],
            content: Content::default(),
            redirect_url: String::new(),
            headers_size: -1,
            body_size: 0,
        },
        cache: Default::default(),
        timings: Timings::default(),
        mirrorgate: Some(Facts {
            request_id: format!("r{n:03}"),
            ..Facts::default()
        }),
    }
}

pub(crate) fn settings(folder: &Path, max_file_size: u64, max_files: usize) -> WriterSettings {
    WriterSettings {
        folder: folder.to_path_buf(),
        max_file_size,
        max_files,
        compress: Compression::None,
        label: "service `api`: recorder `test`".into(),
    }
}

/// The request ids in a recording file, decompressing per its name.
pub(crate) fn ids(path: &Path) -> Vec<String> {
    let raw = std::fs::read(path).unwrap();
    let mut text = String::new();
    let name = path.to_str().unwrap();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
    } else if name.ends_with(".zst") {
        zstd::stream::read::Decoder::new(&raw[..])
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = String::from_utf8(raw).unwrap();
    }
    text.lines()
        .map(|line| {
            Entry::from_line(line)
                .unwrap()
                .mirrorgate
                .unwrap()
                .request_id
        })
        .collect()
}

fn names(ids: impl IntoIterator<Item = usize>) -> Vec<String> {
    ids.into_iter().map(|n| format!("r{n:03}")).collect()
}

const FLUSH: Duration = Duration::from_secs(60);

/// Waits (generously) for `done`: for what a thread does on its own.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn files_rotate_at_their_size_and_only_the_newest_recordings_stay() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new").join("rec");
    let line = entry(0, "hello").to_line().len() as u64 + 1;
    // Files of an earlier run count; files of other names are left alone.
    let earlier = "rec-20200101T000000.000Z-1-000000.jsonl";
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(earlier), "").unwrap();
    std::fs::write(folder.join("notes.txt"), "mine").unwrap();
    std::fs::write(folder.join("rec-mine.jsonl"), "mine").unwrap();
    let counters = RecorderCounters::default();
    // Two entries per file, three files kept.
    let writer = RecordWriter::start(settings(&folder, 2 * line, 3), counters.clone()).unwrap();
    for n in 0..7 {
        writer.write(entry(n, "hello"));
    }
    writer.flush(FLUSH);
    let files = recording_files(&folder).unwrap();
    let got: Vec<Vec<String>> = files.iter().map(|f| ids(f)).collect();
    assert_eq!(got, [names(2..4), names(4..6), names(6..7)], "{files:?}");
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    assert!(folder.join("notes.txt").exists() && folder.join("rec-mine.jsonl").exists());
    assert_eq!(counters.rotated.get(), 3);
    assert_eq!(counters.written.get(), 7);
    assert_eq!(counters.bytes.get(), 7 * line);
    assert_eq!(counters.paused.get(), 0);
}

#[test]
fn the_folder_is_created_private_and_an_unusable_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("a").join("b");
    let _writer = RecordWriter::start(settings(&folder, 1 << 20, 2), Default::default()).unwrap();
    for made in [dir.path().join("a"), folder.clone()] {
        let mode = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", made.display());
    }
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "").unwrap();
    let error = RecordWriter::start(settings(&plain.join("rec"), 1 << 20, 2), Default::default())
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("recorder `test`"), "{message}");
    assert!(
        message.contains(&plain.join("rec").display().to_string()),
        "{message}"
    );
    assert!(message.contains("Not a directory"), "{message}");
    let error = RecordWriter::start(settings(&folder, 1 << 20, 0), Default::default()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn compressed_files_read_to_the_last_flush_while_being_written() {
    for compress in [Compression::Gzip, Compression::Zstd] {
        let dir = tempfile::tempdir().unwrap();
        let counters = RecorderCounters::default();
        let settings = WriterSettings {
            compress,
            ..settings(dir.path(), 1 << 20, 2)
        };
        let writer = RecordWriter::start(settings, counters.clone()).unwrap();
        let body = "a body that compresses well. ".repeat(20);
        for n in 0..50 {
            writer.write(entry(n, &body));
        }
        writer.flush(FLUSH);
        let files = recording_files(dir.path()).unwrap();
        assert_eq!(files.len(), 1, "{compress:?}");
        assert!(files[0].to_str().unwrap().ends_with(compress.extension()));
        assert_eq!(ids(&files[0]), names(0..50), "{compress:?}");
        for n in 50..80 {
            writer.write(entry(n, &body));
        }
        writer.flush(FLUSH);
        // Two frames in one file, the writer still running.
        assert_eq!(ids(&files[0]), names(0..80), "{compress:?}");
        let on_disk = std::fs::metadata(&files[0]).unwrap().len();
        assert_eq!(counters.bytes.get(), on_disk, "{compress:?}");
        assert!(
            on_disk < 80 * body.len() as u64 / 4,
            "{compress:?}: {on_disk}"
        );
        assert_eq!(counters.written.get(), 80);
    }
}

#[test]
fn the_last_handle_dropped_writes_out_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let settings = WriterSettings {
        compress: Compression::Zstd,
        ..settings(dir.path(), 1 << 20, 2)
    };
    let writer = RecordWriter::start(settings, Default::default()).unwrap();
    let other = writer.clone();
    for n in 0..10 {
        writer.write(entry(n, "x"));
    }
    drop(writer);
    drop(other);
    let file = recording_files(dir.path()).unwrap().remove(0);
    eventually("the frame is appended", || {
        std::fs::metadata(&file).unwrap().len() > 0
    });
    assert_eq!(ids(&file), names(0..10));
}

/// A queue whose thread is not running yet.
fn stalled_queue(folder: &Path, max_bytes: u64) -> (Queue, mpsc::Receiver<Message>) {
    let (sender, entries) = mpsc::sync_channel(QUEUE_ENTRIES);
    let queue = Queue {
        sender,
        shared: Default::default(),
        max_bytes,
        counters: RecorderCounters::default(),
        settings: settings(folder, 1 << 30, 2),
        retry: RETRY_INTERVAL,
    };
    (queue, entries)
}

#[test]
fn a_full_queue_drops_and_counts_by_entries_and_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, entries) = stalled_queue(dir.path(), QUEUE_BYTES);
    for n in 0..=QUEUE_ENTRIES {
        queue.push(entry(n % 1000, ""));
    }
    assert_eq!(queue.counters.dropped_count(RecordDrop::QueueFull), 1);
    drop(entries);

    let body = "b".repeat(1000);
    let cost = 1000 + ENTRY_OVERHEAD;
    let (queue, entries) = stalled_queue(dir.path(), 3 * cost);
    for n in 0..5 {
        queue.push(entry(n, &body));
    }
    assert_eq!(queue.counters.dropped_count(RecordDrop::QueueFull), 2);
    assert_eq!(queue.shared.queued_bytes.load(Ordering::Relaxed), 3 * cost);
    // The thread starts: what was queued is written and the room is back.
    let writer = Writer::open(
        queue.settings.clone(),
        queue.counters.clone(),
        queue.shared.clone(),
        RETRY_INTERVAL,
    )
    .unwrap();
    std::thread::spawn(move || writer.run(entries));
    queue.flush(FLUSH);
    assert_eq!(queue.shared.queued_bytes.load(Ordering::Relaxed), 0);
    queue.push(entry(5, &body));
    queue.flush(FLUSH);
    let files = recording_files(dir.path()).unwrap();
    assert_eq!(ids(&files[0]), names([0, 1, 2, 5]));
    assert_eq!(queue.counters.dropped_count(RecordDrop::QueueFull), 2);
}

#[test]
fn a_removed_folder_pauses_the_writer_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("rec");
    let counters = RecorderCounters::default();
    let writer = RecordWriter::start_retrying(
        settings(&folder, 1 << 20, 2),
        counters.clone(),
        Duration::from_millis(100),
    )
    .unwrap();
    writer.write(entry(0, "kept"));
    writer.flush(FLUSH);
    std::fs::remove_dir_all(&folder).unwrap();
    // Appended to a removed file: lost, and seen to be.
    writer.write(entry(1, "lost"));
    writer.flush(FLUSH);
    assert_eq!(counters.paused.get(), 1);
    assert_eq!(counters.dropped_count(RecordDrop::WriteError), 1);
    // Paused: dropped before the queue.
    writer.write(entry(2, "lost"));
    assert_eq!(counters.dropped_count(RecordDrop::WriteError), 2);
    std::fs::create_dir(&folder).unwrap();
    eventually("the writer resumes", || counters.paused.get() == 0);
    writer.write(entry(3, "kept"));
    writer.flush(FLUSH);
    let files = recording_files(&folder).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(ids(&files[0]), names([3]));
    assert_eq!(counters.written.get(), 2);
    assert_eq!(counters.dropped_count(RecordDrop::WriteError), 2);
    assert_eq!(counters.dropped_count(RecordDrop::QueueFull), 0);
}
