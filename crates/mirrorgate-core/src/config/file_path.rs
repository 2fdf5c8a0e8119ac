//! A file named in the config file.

use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

/// A path written in the config, with the byte span where it is written,
/// so a file that cannot be used is reported at its line. Relative paths
/// are relative to the config file: whoever read the file resolves them
/// with [`FilePath::resolve_from`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    path: PathBuf,
    span: Range<usize>,
}

impl FilePath {
    /// Byte span of the value in the config text.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// Makes a relative path relative to `dir` (the config file's folder).
    pub fn resolve_from(&mut self, dir: &Path) {
        if self.path.is_relative() {
            self.path = dir.join(&self.path);
        }
    }
}

impl Deref for FilePath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for FilePath {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl<'de> Deserialize<'de> for FilePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<PathBuf>::deserialize(d)?;
        if spanned.get_ref().as_os_str().is_empty() {
            return Err(serde::de::Error::custom("empty path: name a file"));
        }
        Ok(FilePath {
            span: spanned.span(),
            path: spanned.into_inner(),
        })
    }
}
