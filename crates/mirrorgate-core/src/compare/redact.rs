//! Keeping secrets out of the diff log and the admin API.
//!
//! A redacted value becomes `redacted:` and the first 12 hex digits of
//! HMAC-SHA256(key, value): the same value gives the same token, so two
//! records still correlate, but without the key a token cannot be checked
//! against guesses (a plain hash of a password could).

use std::fmt;

use hmac::{Hmac, Mac};
use http::HeaderName;
use serde_json::Value;
use sha2::Sha256;

use super::{JsonPath, Segment};

/// Replaces the values of named headers and JSON places by keyed tokens.
#[derive(Clone)]
pub struct Redactor {
    mac: Hmac<Sha256>,
    headers: Vec<HeaderName>,
    paths: Vec<JsonPath>,
}

impl fmt::Debug for Redactor {
    /// The rules only: the key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("headers", &self.headers)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor keyed by `key` for `rules`: header names (any case; the
    /// whole value is redacted, so `cookie` hides every cookie) and JSON
    /// paths starting with `$` (the place and everything under it).
    pub fn new(key: &[u8], rules: &[String]) -> Result<Redactor, String> {
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        let mut redactor = Redactor {
            mac,
            headers: Vec::new(),
            paths: Vec::new(),
        };
        for rule in rules {
            if rule.starts_with('$') {
                redactor.paths.push(rule.parse()?);
            } else {
                let name =
                    HeaderName::from_bytes(rule.to_ascii_lowercase().as_bytes()).map_err(|_| {
                        format!(
                            "invalid redact rule `{rule}`: neither a header name \
                             nor a JSON path starting with `$`"
                        )
                    })?;
                redactor.headers.push(name);
            }
        }
        Ok(redactor)
    }

    /// The token standing for `value`.
    pub fn token(&self, value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        format!("redacted:{}", hex::encode(&digest[..6]))
    }

    /// The header's value, or its token when the header is redacted.
    pub fn header(&self, name: &HeaderName, value: &str) -> String {
        if self.headers.contains(name) {
            self.token(value.as_bytes())
        } else {
            value.to_owned()
        }
    }

    /// A difference's value at `at`, redacted: whole when `at` (a
    /// `json:$…` place) is a rule's place or lies under one, in part when
    /// rule places lie inside it. A `header:NAME` value (a string, or a
    /// list for several) is redacted by the header rules. `null` (absent)
    /// stays `null`.
    pub fn json(&self, at: &str, mut value: Value) -> Value {
        if let Some(name) = at.strip_prefix("header:") {
            return match self.headers.iter().any(|h| h == name) {
                true => self.redact_headers(value),
                false => value,
            };
        }
        let Some(place) = at
            .strip_prefix("json:")
            .and_then(|p| p.parse::<JsonPath>().ok())
        else {
            return value;
        };
        let Some(steps) = place
            .segments()
            .iter()
            .map(Segment::as_step)
            .collect::<Option<Vec<_>>>()
        else {
            return value;
        };
        for rule in &self.paths {
            if rule.covers(&steps) {
                return self.whole(value);
            }
            let (head, rest) = rule
                .segments()
                .split_at(steps.len().min(rule.segments().len()));
            if head.iter().zip(&steps).all(|(s, step)| s.matches(*step)) {
                self.under(&mut value, rest);
            }
        }
        value
    }

    /// At most `limit` characters of `body` as text (invalid UTF-8
    /// replaced). When there are path rules and the body is JSON, the
    /// places are redacted first and the document re-serialized compactly.
    pub fn body_prefix(&self, body: &[u8], limit: usize) -> String {
        if !self.paths.is_empty() {
            if let Ok(mut document) = serde_json::from_slice::<Value>(body) {
                for rule in &self.paths {
                    self.under(&mut document, rule.segments());
                }
                return cut(&document.to_string(), limit);
            }
        }
        // A char is at most 4 bytes: no need to look further.
        let head = &body[..body.len().min(limit.saturating_mul(4))];
        cut(&String::from_utf8_lossy(head), limit)
    }

    fn whole(&self, value: Value) -> Value {
        match value {
            Value::Null => Value::Null,
            Value::String(s) => Value::String(self.token(s.as_bytes())),
            other => Value::String(self.token(other.to_string().as_bytes())),
        }
    }

    fn redact_headers(&self, value: Value) -> Value {
        match value {
            Value::Array(list) => Value::Array(list.into_iter().map(|v| self.whole(v)).collect()),
            other => self.whole(other),
        }
    }

    /// Redacts the places `rest` (relative to `value`) inside `value`.
    fn under(&self, value: &mut Value, rest: &[Segment]) {
        let Some((first, rest)) = rest.split_first() else {
            *value = self.whole(value.take());
            return;
        };
        match (value, first) {
            (Value::Object(map), Segment::Wildcard) => {
                map.values_mut().for_each(|v| self.under(v, rest));
            }
            (Value::Array(list), Segment::Wildcard) => {
                list.iter_mut().for_each(|v| self.under(v, rest));
            }
            (Value::Object(map), Segment::Key(key)) => {
                if let Some(v) = map.get_mut(key) {
                    self.under(v, rest);
                }
            }
            (Value::Array(list), Segment::Index(i)) => {
                if let Some(v) = list.get_mut(*i) {
                    self.under(v, rest);
                }
            }
            _ => {}
        }
    }
}

fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn redactor(rules: &[&str]) -> Redactor {
        let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
        Redactor::new(b"secret", &rules).unwrap()
    }

    #[test]
    fn tokens_are_keyed_stable_and_short() {
        let r = redactor(&[]);
        let token = r.token(b"hunter2");
        assert_eq!(token.len(), "redacted:".len() + 12);
        assert_eq!(token, r.token(b"hunter2"));
        assert_ne!(token, r.token(b"hunter3"));
        let other_key = Redactor::new(b"other", &[]).unwrap();
        assert_ne!(token, other_key.token(b"hunter2"));
        // HMAC-SHA256("secret", "hunter2"), first 6 bytes.
        assert_eq!(token, "redacted:a9c585544434");
        assert!(!format!("{r:?}").contains("secret"));
    }

    #[test]
    fn headers_by_name_in_any_case() {
        let r = redactor(&["Authorization", "cookie"]);
        let auth = HeaderName::from_static("authorization");
        assert_eq!(r.header(&auth, "Bearer x"), r.token(b"Bearer x"));
        assert_eq!(r.header(&HeaderName::from_static("accept"), "*/*"), "*/*");
        let cookies = json!(["a=1; b=2", "c=3"]);
        let redacted = r.json("header:cookie", cookies);
        assert_eq!(redacted, json!([r.token(b"a=1; b=2"), r.token(b"c=3")]));
        assert_eq!(r.json("header:accept", json!("x")), json!("x"));
    }

    #[test]
    fn json_values_at_under_and_around_rule_places() {
        let r = redactor(&["$.password", "$.users[*].token"]);
        assert_eq!(
            r.json("json:$.password", json!("pw")),
            json!(r.token(b"pw"))
        );
        assert_eq!(r.json("json:$.password", json!(null)), json!(null));
        let number = r.json("json:$.users[3].token.n", json!(12));
        assert_eq!(number, json!(r.token(b"12")));
        assert_eq!(r.json("json:$.name", json!("ann")), json!("ann"));
        // A difference above the rule places: redacted inside.
        let users = json!([{"token": "t", "id": 1}]);
        let redacted = r.json("json:$.users", users);
        assert_eq!(redacted, json!([{"token": r.token(b"t"), "id": 1}]));
        let root = r.json("json:$", json!({"password": {"a": 1}, "x": 2}));
        assert_eq!(root, json!({"password": r.token(br#"{"a":1}"#), "x": 2}));
        assert_eq!(r.json("body", json!({"length": 1})), json!({"length": 1}));
    }

    #[test]
    fn body_prefixes_are_redacted_then_cut() {
        let r = redactor(&["$.password"]);
        let body = br#"{ "user": "ann", "password": "pw" }"#;
        let expected = format!(r#"{{"password":"{}","user":"ann"}}"#, r.token(b"pw"));
        assert_eq!(r.body_prefix(body, 1000), expected);
        assert_eq!(r.body_prefix(body, 5), expected[..5]);
        assert_eq!(r.body_prefix("héllo wörld".as_bytes(), 7), "héllo w");
        assert_eq!(r.body_prefix(b"ok\xff", 10), "ok\u{fffd}");
        assert_eq!(redactor(&[]).body_prefix(body, 4), "{ \"u");
    }

    #[test]
    fn bad_rules_are_refused() {
        let err = Redactor::new(b"k", &["bad header".into()]).unwrap_err();
        assert_eq!(
            err,
            "invalid redact rule `bad header`: neither a header name \
             nor a JSON path starting with `$`"
        );
        let err = Redactor::new(b"k", &["$.a[".into()]).unwrap_err();
        assert!(err.starts_with("invalid JSON path `$.a[`"), "{err}");
    }
}
