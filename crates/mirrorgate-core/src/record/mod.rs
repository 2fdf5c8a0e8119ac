//! Recording: a scrubbed sample of a service's traffic kept in rotating
//! files, for `mirrorgate replay`.
//!
//! - [`har`]: the file format (JSON Lines of HAR 1.2 entries), written
//!   here and read by the replay;
//! - [`Recorder`]: which requests a recorder keeps, and the life of each
//!   kept one (its body and answer teed by the proxy, then scrubbed);
//! - [`entry()`]: one exchange into a scrubbed entry (pure);
//! - [`folder`]: a recording folder's file names (`rec-*.jsonl[.gz|.zst]`),
//!   and [`recording_files`] to list them oldest first;
//! - [`RecordWriter`]: a recorder's bounded queue and writer thread,
//!   which appends entries in complete (compressed) frames, rotates files
//!   and pauses on write errors; [`RecordSinks`] keeps one writer per
//!   folder across reloads.

mod compressed;
mod compression;
mod entry;
pub mod folder;
pub mod har;
mod recorder;
pub mod sinks;
pub mod writer;

pub use compression::Compression;
pub use entry::{entry, Sampled, Scrub};
pub use folder::{is_recording_file, recording_files};
pub use recorder::{Arrival, PendingRecord, Recorder, RecorderSettings, MAX_PENDING};
pub use sinks::RecordSinks;
pub use writer::{RecordWriter, WriterSettings};
