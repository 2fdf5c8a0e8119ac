//! `compress`: how a recorder's files are compressed.

/// How a recorder's files are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain `.jsonl` files.
    #[default]
    None,
    /// `.jsonl.gz`.
    Gzip,
    /// `.jsonl.zst`.
    Zstd,
}

impl Compression {
    /// The file name extension, after `.jsonl`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "jsonl",
            Compression::Gzip => "jsonl.gz",
            Compression::Zstd => "jsonl.zst",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(format!(
                "invalid compress `{s}`: use \"none\", \"gzip\" or \"zstd\""
            )),
        }
    }
}
