//! Config errors that say where: file, line, column and key.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A config that cannot be used. Nothing is started (or, on reload,
/// changed) when one occurs.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value is missing, unknown or wrong.
    #[error("{0}")]
    Invalid(Box<InvalidConfig>),
}

/// Where a config is wrong, and how.
#[derive(Debug)]
pub struct InvalidConfig {
    /// The file's name.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The dotted key, e.g. `services.backends`, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The offending line of the file.
    pub snippet: Option<String>,
}

impl std::fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}: {}{}{}",
            self.file,
            location(self.line, self.column),
            key_part(self.key.as_deref()),
            self.message,
            snippet_part(self.snippet.as_deref())
        )
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

fn key_part(key: Option<&str>) -> String {
    key.map(|k| format!("key `{k}`: ")).unwrap_or_default()
}

fn snippet_part(snippet: Option<&str>) -> String {
    snippet.map(|s| format!("\n    | {s}")).unwrap_or_default()
}

/// `path` for messages, or a name for the embedded default.
pub(super) fn display_name(path: Option<&Path>) -> String {
    path.map_or_else(
        || "<embedded default config>".to_string(),
        |p| p.display().to_string(),
    )
}

impl ConfigError {
    /// An error at byte `span` of `text`, read from `path`.
    pub fn located(
        path: Option<&Path>,
        text: &str,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        let file = display_name(path);
        let Some(span) = span else {
            return ConfigError::Invalid(Box::new(InvalidConfig {
                file,
                line: None,
                column: None,
                key: None,
                message,
                snippet: None,
            }));
        };
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line_text = &text[line_start..line_end];
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        ConfigError::Invalid(Box::new(InvalidConfig {
            file,
            line: Some(line),
            column: Some(column),
            key: key_at(&text[..line_start], line_text),
            message: message.trim_end().to_string(),
            snippet: Some(line_text.trim_end().to_string()),
        }))
    }

    /// An error at byte `span` of `text` about `key`, for a key that is
    /// missing (so the line does not name it).
    pub fn located_as(
        path: Option<&Path>,
        text: &str,
        span: Range<usize>,
        key: &str,
        message: &str,
    ) -> Self {
        let mut error = Self::located(path, text, Some(span), message.to_string());
        if let ConfigError::Invalid(invalid) = &mut error {
            invalid.key = Some(key.to_string());
        }
        error
    }
}

/// The dotted key a line sets, prefixed by the table it is in:
/// `services.backends` for `backends = ...` under `[[services]]`.
fn key_at(before: &str, line: &str) -> Option<String> {
    let table = before.lines().rev().find_map(header_name);
    if let Some(header) = header_name(line) {
        return Some(header);
    }
    let key = line
        .trim()
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string());
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (t, None) => t,
    }
}

/// `services.mirrors` for a `[[services.mirrors]]` line (a comment after
/// it or not); `None` for other lines.
fn header_name(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix('[')?.trim_start_matches('[');
    let name = inner.split(']').next().unwrap_or(inner).trim();
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_column_and_key() {
        let text =
            "[listen]\nhttp = [\"x\"]\n\n[[services]]\nname = \"a\"\nbackends = [\"ftp://x\"]\n";
        let start = text.find("[\"ftp").unwrap();
        let err = ConfigError::located(
            Some(Path::new("c.toml")),
            text,
            Some(start..start + 3),
            "bad".into(),
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("c.toml:6:12: key `services.backends`: bad"),
            "{shown}"
        );
        assert!(shown.contains("| backends = [\"ftp://x\"]"), "{shown}");
    }

    #[test]
    fn a_comment_after_a_table_header_is_not_part_of_the_key() {
        let text = "[[services]] # the app\nname = \"a\"\nbackends = 1\n";
        let start = text.find("1\n").unwrap();
        let err = ConfigError::located(None, text, Some(start..start + 1), "bad".into());
        assert!(err.to_string().contains("key `services.backends`"), "{err}");
    }
}
