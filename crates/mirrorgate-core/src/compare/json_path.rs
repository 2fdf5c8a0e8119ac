//! A JSONPath subset naming places in a JSON document: `$`, `.name`,
//! `['name']`, `["name"]`, `[N]`, `[*]` and `.*`.
//!
//! Patterns (config: `ignore_json_paths`, `redact`) and concrete places
//! (a difference's `json:$.a.b[2]`) share the syntax; the canonical text
//! ([`fmt::Display`]) is what differences are keyed by.

use std::fmt;
use std::str::FromStr;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object member by name.
    Key(String),
    /// An array element by position.
    Index(usize),
    /// Any member or element (`[*]`, `.*`).
    Wildcard,
}

/// One step of a concrete place, borrowed from the document being walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// An object member by name.
    Key(&'a str),
    /// An array element by position.
    Index(usize),
}

impl Segment {
    /// Whether this pattern step matches the concrete `step`.
    pub fn matches(&self, step: Step<'_>) -> bool {
        match (self, step) {
            (Segment::Wildcard, _) => true,
            (Segment::Key(key), Step::Key(name)) => key == name,
            (Segment::Index(i), Step::Index(j)) => *i == j,
            _ => false,
        }
    }

    /// The concrete step this segment names (`None` for a wildcard).
    pub fn as_step(&self) -> Option<Step<'_>> {
        match self {
            Segment::Key(key) => Some(Step::Key(key)),
            Segment::Index(i) => Some(Step::Index(*i)),
            Segment::Wildcard => None,
        }
    }
}

/// A parsed path: the steps after `$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPath {
    segments: Vec<Segment>,
}

impl JsonPath {
    /// The steps after `$` (none for `$` itself).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the concrete place `path` is exactly this pattern's.
    pub fn matches(&self, path: &[Step<'_>]) -> bool {
        path.len() == self.segments.len() && self.is_prefix_of(path)
    }

    /// Whether the concrete place `path` is this pattern's or lies under it.
    pub fn covers(&self, path: &[Step<'_>]) -> bool {
        path.len() >= self.segments.len() && self.is_prefix_of(path)
    }

    fn is_prefix_of(&self, path: &[Step<'_>]) -> bool {
        self.segments.iter().zip(path).all(|(s, p)| s.matches(*p))
    }

    /// The same path with every index replaced by `[*]`.
    pub fn fold_indices(mut self) -> JsonPath {
        for segment in &mut self.segments {
            if let Segment::Index(_) = segment {
                *segment = Segment::Wildcard;
            }
        }
        self
    }
}

/// Appends the canonical text of one step: `.name` when `name` is an
/// identifier, otherwise `['name']` (with `\` and `'` escaped).
pub(crate) fn push_step(out: &mut String, step: Step<'_>) {
    match step {
        Step::Index(i) => {
            use fmt::Write;
            let _ = write!(out, "[{i}]");
        }
        Step::Key(name) if is_identifier(name) => {
            out.push('.');
            out.push_str(name);
        }
        Step::Key(name) => {
            out.push_str("['");
            for c in name.chars() {
                if c == '\\' || c == '\'' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push_str("']");
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::from("$");
        for segment in &self.segments {
            match segment.as_step() {
                Some(step) => push_step(&mut out, step),
                None => out.push_str("[*]"),
            }
        }
        f.write_str(&out)
    }
}

impl FromStr for JsonPath {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text).map_err(|why| format!("invalid JSON path `{text}`: {why}"))
    }
}

fn parse(text: &str) -> Result<JsonPath, &'static str> {
    let mut rest = text.strip_prefix('$').ok_or("must start with `$`")?;
    let mut segments = Vec::new();
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let segment = match c {
            '.' if rest.starts_with('.') => return Err("recursive descent `..` is not supported"),
            '.' if rest.starts_with('*') => {
                rest = &rest[1..];
                Segment::Wildcard
            }
            '.' => {
                let end = rest
                    .find(['.', '[', ']', '\'', '"', ' '])
                    .unwrap_or(rest.len());
                if end == 0 {
                    return Err("expected a name or `*` after `.`");
                }
                let (name, after) = rest.split_at(end);
                rest = after;
                Segment::Key(name.to_owned())
            }
            '[' => {
                let (segment, after) = bracket(rest)?;
                rest = after;
                segment
            }
            _ => return Err("expected `.` or `[`"),
        };
        segments.push(segment);
    }
    Ok(JsonPath { segments })
}

/// Parses what follows `[`: `*]`, `N]`, `'name']` or `"name"]`.
fn bracket(rest: &str) -> Result<(Segment, &str), &'static str> {
    if let Some(after) = rest.strip_prefix("*]") {
        return Ok((Segment::Wildcard, after));
    }
    if let Some(quote @ ('\'' | '"')) = rest.chars().next() {
        let mut name = String::new();
        let mut chars = rest[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => name.push(chars.next().ok_or("unterminated quoted name")?.1),
                c if c == quote => {
                    let after = &rest[1 + i + 1..];
                    let after = after.strip_prefix(']').ok_or("expected `]` after name")?;
                    return Ok((Segment::Key(name), after));
                }
                c => name.push(c),
            }
        }
        return Err("unterminated quoted name");
    }
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits == 0 {
        return Err("expected a quoted name, an index or `*` after `[`");
    }
    let index = rest[..digits].parse().map_err(|_| "index too large")?;
    let after = rest[digits..]
        .strip_prefix(']')
        .ok_or("expected `]` after index")?;
    Ok((Segment::Index(index), after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> JsonPath {
        text.parse().unwrap()
    }

    #[test]
    fn parses_every_form() {
        let p = path(r#"$.a['b c'][2][*].*["d\"e"]"#);
        assert_eq!(
            p.segments(),
            [
                Segment::Key("a".into()),
                Segment::Key("b c".into()),
                Segment::Index(2),
                Segment::Wildcard,
                Segment::Wildcard,
                Segment::Key("d\"e".into()),
            ]
        );
        assert!(path("$").segments().is_empty());
    }

    #[test]
    fn display_is_canonical_and_parses_back() {
        for (text, canonical) in [
            ("$", "$"),
            ("$.a.b[2]", "$.a.b[2]"),
            ("$['a'][\"b\"].*", "$.a.b[*]"),
            ("$['a b']['it\\'s']", "$['a b']['it\\'s']"),
            ("$.content-type", "$['content-type']"),
            ("$['1st']", "$['1st']"),
        ] {
            assert_eq!(path(text).to_string(), canonical, "{text}");
            assert_eq!(path(canonical), path(text));
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (text, why) in [
            ("a.b", "must start with `$`"),
            ("$.a[", "expected a quoted name, an index or `*` after `[`"),
            ("$.a[1", "expected `]` after index"),
            ("$.a['b", "unterminated quoted name"),
            ("$.a['b'", "expected `]` after name"),
            ("$.", "expected a name or `*` after `.`"),
            ("$..a", "recursive descent `..` is not supported"),
            ("$a", "expected `.` or `[`"),
            ("$é", "expected `.` or `[`"),
            ("$[99999999999999999999999]", "index too large"),
        ] {
            let err = text.parse::<JsonPath>().unwrap_err();
            assert_eq!(err, format!("invalid JSON path `{text}`: {why}"));
        }
    }

    #[test]
    fn matching_is_exact_and_covering_includes_the_subtree() {
        let pattern = path("$.items[*].etag");
        let at = [Step::Key("items"), Step::Index(3), Step::Key("etag")];
        assert!(pattern.matches(&at));
        assert!(pattern.covers(&at));
        assert!(!pattern.matches(&at[..2]));
        assert!(!pattern.covers(&at[..2]));
        let under = [at[0], at[1], at[2], Step::Key("x")];
        assert!(!pattern.matches(&under));
        assert!(pattern.covers(&under));
        assert!(!pattern.covers(&[Step::Key("item"), Step::Index(3), Step::Key("etag")]));
        assert!(!path("$.a[0]").matches(&[Step::Key("a"), Step::Key("0")]));
        assert!(
            path("$.*").matches(&[Step::Index(0)]),
            "a wildcard matches keys and indices"
        );
        assert!(path("$").covers(&at));
    }

    #[test]
    fn folding_indices() {
        assert_eq!(
            path("$.a[1].b[22]").fold_indices().to_string(),
            "$.a[*].b[*]"
        );
    }
}
