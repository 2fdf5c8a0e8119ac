//! A recording folder: its files' names, creating them, and removing the
//! oldest so that a recorder keeps a bounded number.
//!
//! Files are named `rec-{UTC YYYYMMDDTHHMMSS.mmmZ}-{pid}-{seq}.{ext}`
//! (`ext` from [`Compression::extension`]), so that their names sort in
//! the order they were begun. Only files named so are ever removed: the
//! folder may hold other files (a README, a copy being inspected).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::Compression;

/// Every recording file's name begins so.
pub const PREFIX: &str = "rec-";

/// Numbers the files this process begins, in every folder: two files
/// begun in the same millisecond (by two writers, after a reload) still
/// get different names, in the order they were begun.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Creates `folder` (and its missing parents, mode 0700: the files hold
/// request data) when it does not exist.
pub(super) fn create(folder: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(folder)
}

/// Without creating anything: `folder`, or its nearest existing parent,
/// is a directory (so that starting a writer there could create it).
pub(super) fn check(folder: &Path) -> io::Result<()> {
    for at in folder.ancestors() {
        // A relative path's last ancestor is "": the current directory.
        let at = if at.as_os_str().is_empty() {
            Path::new(".")
        } else {
            at
        };
        match std::fs::metadata(at) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!(
                        "recording folder {}: {} is not a directory",
                        folder.display(),
                        at.display()
                    ),
                ))
            }
            // Missing, or below a file: the parent tells which.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                continue
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "recording folder {}: {}: {e}",
                        folder.display(),
                        at.display()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// The name of a file begun at `at` by process `pid`, `seq`th of it.
fn file_name(at: SystemTime, pid: u32, seq: u64, compress: Compression) -> String {
    // 2026-12-07T23:28:09.123Z -> 20261207T232809.123Z: sortable, and
    // without the colons some file systems and tools trip on.
    let time: String = humantime::format_rfc3339_millis(at)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{PREFIX}{time}-{pid}-{seq:06}.{}", compress.extension())
}

/// Whether `name` is a recording file's name (as [`file_name`] makes
/// them, with any compression's extension).
pub fn is_recording_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let stem = [Compression::None, Compression::Gzip, Compression::Zstd]
        .iter()
        .find_map(|c| rest.strip_suffix(c.extension())?.strip_suffix('.'));
    let Some(stem) = stem else {
        return false;
    };
    let mut parts = stem.split('-');
    let (Some(time), Some(pid), Some(seq), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // YYYYMMDDTHHMMSS.mmmZ
    let time_ok = time.len() == 20
        && time.is_char_boundary(15)
        && digits(&time[..8])
        && &time[8..9] == "T"
        && digits(&time[9..15])
        && &time[15..16] == "."
        && digits(&time[16..19])
        && &time[19..] == "Z";
    time_ok && digits(pid) && digits(seq)
}

/// Creates (mode 0600, never an existing one) the next file in `folder`.
pub(super) fn create_file(folder: &Path, compress: Compression) -> io::Result<(PathBuf, File)> {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let path = folder.join(file_name(
        SystemTime::now(),
        std::process::id(),
        seq,
        compress,
    ));
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    Ok((path, file))
}

/// The recording files in `folder`, oldest first (other files left out).
pub fn recording_files(folder: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for item in std::fs::read_dir(folder)? {
        let item = item?;
        let is_recording = item.file_name().to_str().is_some_and(is_recording_file);
        // Not through symbolic links: only files the writers made.
        if is_recording && item.file_type()?.is_file() {
            files.push(item.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Removes the oldest recording files in `folder` until at most `keep`
/// remain, never `current` (the one being written, even when a clock set
/// back makes it sort first). Returns the files removed.
pub(super) fn prune(folder: &Path, keep: usize, current: &Path) -> io::Result<Vec<PathBuf>> {
    let files = recording_files(folder)?;
    let mut removed = Vec::new();
    let excess = files.len().saturating_sub(keep);
    for path in files.into_iter().filter(|p| p != current).take(excess) {
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            // Gone already (removed by hand): it does not count.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn names_sort_by_time_then_sequence_and_are_recognised() {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let name = file_name(at, 4242, 7, Compression::Zstd);
        assert_eq!(name, "rec-20261130T005320.123Z-4242-000007.jsonl.zst");
        assert!(is_recording_file(&name));
        let later = file_name(at, 4242, 10, Compression::None);
        let next_second = file_name(at + Duration::from_secs(1), 1, 0, Compression::Gzip);
        assert!(name < later && later < next_second, "{later} {next_second}");
        assert!(is_recording_file(&later) && is_recording_file(&next_second));
        for foreign in [
            "README.md",
            "rec-notes.jsonl",
            "rec-20261201T012013.123Z-4242-000007.json",
            "rec-20261201T012013.123Z-4242-000007.jsonl.bz2",
            "rec-20261201T012013.123Z-4242.jsonl",
            "rec-20261201T012013.123Z-42x2-000007.jsonl",
            "xrec-20261201T012013.123Z-4242-000007.jsonl",
            "rec-20261201T012013.123Z-4242-000007-1.jsonl",
        ] {
            assert!(!is_recording_file(foreign), "{foreign}");
        }
    }

    #[test]
    fn created_folders_are_private_and_checks_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a").join("b");
        check(&folder).unwrap();
        assert!(!dir.path().join("a").exists());
        create(&folder).unwrap();
        for made in [dir.path().join("a"), folder.clone()] {
            let mode = std::fs::metadata(&made).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", made.display());
        }
        let (path, _file) = create_file(&folder, Compression::Gzip).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        let error = check(&plain.join("sub")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotADirectory);
        assert!(
            error.to_string().contains("plain is not a directory"),
            "{error}"
        );
    }

    #[test]
    fn pruning_removes_the_oldest_recordings_only() {
        let dir = tempfile::tempdir().unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let names: Vec<String> = (0..4)
            .map(|n| file_name(at + Duration::from_secs(n), 1, n, Compression::None))
            .collect();
        for name in &names {
            std::fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        std::fs::write(dir.path().join("rec-mine.jsonl"), "mine").unwrap();
        // Set back clock: the current file sorts first but stays.
        let current = dir.path().join(&names[0]);
        let removed = prune(dir.path(), 2, &current).unwrap();
        assert_eq!(
            removed,
            [dir.path().join(&names[1]), dir.path().join(&names[2])]
        );
        let left = recording_files(dir.path()).unwrap();
        assert_eq!(left, [current, dir.path().join(&names[3])]);
        assert!(dir.path().join("notes.txt").exists());
        assert!(dir.path().join("rec-mine.jsonl").exists());
    }
}
