//! Keeping secrets out of everything mirrorgate writes about a request:
//! the diff log, the admin API and the recorders' files (one scrubber for
//! all of them).
//!
//! A redacted value becomes `redacted:` and the first 12 hex digits of
//! HMAC-SHA256(key, value): the same value gives the same token, so two
//! records still correlate, but without the key a token cannot be checked
//! against guesses (a plain hash of a password could).
//!
//! Rules: a header name (its whole value), `cookie:NAME` (one cookie, in
//! `Cookie` and `Set-Cookie`), `query:NAME` (one query parameter) and a
//! JSON path starting with `$` (a body field and everything under it).

use std::fmt;

use hmac::{Hmac, Mac};
use http::header::{COOKIE, SET_COOKIE};
use http::HeaderName;
use serde_json::Value;
use sha2::Sha256;

use super::{JsonPath, Segment};

/// Replaces the values of named headers and JSON places by keyed tokens.
#[derive(Clone)]
pub struct Redactor {
    mac: Hmac<Sha256>,
    headers: Vec<HeaderName>,
    cookies: Vec<String>,
    query: Vec<String>,
    paths: Vec<JsonPath>,
}

impl fmt::Debug for Redactor {
    /// The rules only: the key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("headers", &self.headers)
            .field("cookies", &self.cookies)
            .field("query", &self.query)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor keyed by `key` for `rules`: header names (any case; the
    /// whole value is redacted, so `cookie` hides every cookie),
    /// `cookie:NAME`, `query:NAME` and JSON paths starting with `$` (the
    /// place and everything under it).
    pub fn new(key: &[u8], rules: &[String]) -> Result<Redactor, String> {
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
        let mut redactor = Redactor {
            mac,
            headers: Vec::new(),
            cookies: Vec::new(),
            query: Vec::new(),
            paths: Vec::new(),
        };
        for rule in rules {
            let named = |prefix: &str| {
                rule.strip_prefix(prefix).map(|name| match name.trim() {
                    "" => Err(format!("invalid redact rule `{rule}`: the name is missing")),
                    name => Ok(name.to_string()),
                })
            };
            if rule.starts_with('$') {
                redactor.paths.push(rule.parse()?);
            } else if let Some(name) = named("cookie:") {
                redactor.cookies.push(name?);
            } else if let Some(name) = named("query:") {
                redactor.query.push(name?);
            } else {
                let name =
                    HeaderName::from_bytes(rule.to_ascii_lowercase().as_bytes()).map_err(|_| {
                        format!(
                            "invalid redact rule `{rule}`: neither a header name, \
                             `cookie:NAME`, `query:NAME` nor a JSON path starting with `$`"
                        )
                    })?;
                redactor.headers.push(name);
            }
        }
        Ok(redactor)
    }

    /// The token standing for `value`: `redacted:` and its [`hash`](Self::hash).
    pub fn token(&self, value: &[u8]) -> String {
        format!("redacted:{}", self.hash(value))
    }

    /// The keyed hash of `value`: 12 hex digits of HMAC-SHA256.
    pub fn hash(&self, value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..6])
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
            && self.cookies.is_empty()
            && self.query.is_empty()
            && self.paths.is_empty()
    }

    /// The values the rules hide in a request (`headers`, `query`,
    /// JSON `body`), each as it was: what [`Redactor::text`] must also
    /// find elsewhere, e.g. in an answer that echoes the request.
    pub fn secrets(
        &self,
        headers: &http::HeaderMap,
        query: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut found = Vec::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            if self.headers.contains(name) {
                found.push(value.into_owned());
            } else if *name == COOKIE {
                found.extend(named_values(value.split(';'), &self.cookies));
            }
        }
        if let Some(query) = query {
            found.extend(named_values(query.split('&'), &self.query));
        }
        if let Some(document) = body {
            for rule in &self.paths {
                collect(document, rule.segments(), &mut found);
            }
        }
        found.retain(|s| s.len() >= MIN_SECRET_LEN);
        found.sort();
        found.dedup();
        // Longest first: a secret containing another is replaced whole.
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found
    }

    /// `text` with every occurrence of each of `secrets` replaced by its
    /// token.
    pub fn text(&self, text: &str, secrets: &[String]) -> String {
        let mut text = text.to_owned();
        for secret in secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), &self.token(secret.as_bytes()));
            }
        }
        text
    }

    /// Whether there are JSON path rules (a body that is not whole JSON
    /// cannot be checked against them).
    pub fn has_paths(&self) -> bool {
        !self.paths.is_empty()
    }

    /// Whether the whole value of header `name` is redacted.
    pub fn redacts_header(&self, name: &HeaderName) -> bool {
        self.headers.contains(name)
    }

    /// The header's value, its token when the header is redacted, or with
    /// the redacted cookies' values replaced (`Cookie`, `Set-Cookie`).
    pub fn header(&self, name: &HeaderName, value: &str) -> String {
        if self.headers.contains(name) {
            self.token(value.as_bytes())
        } else if *name == COOKIE && !self.cookies.is_empty() {
            self.cookie_header(value)
        } else if *name == SET_COOKIE && !self.cookies.is_empty() {
            self.set_cookie_header(value)
        } else {
            value.to_owned()
        }
    }

    /// A `Cookie` header (`a=1; b=2`) with the redacted cookies' values
    /// replaced by their tokens.
    fn cookie_header(&self, value: &str) -> String {
        value
            .split(';')
            .map(|pair| self.pair(pair.trim(), &self.cookies))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A `Set-Cookie` header: the first pair is the cookie, the rest are
    /// its attributes and stay.
    fn set_cookie_header(&self, value: &str) -> String {
        match value.split_once(';') {
            Some((pair, attributes)) => {
                format!("{};{attributes}", self.pair(pair.trim(), &self.cookies))
            }
            None => self.pair(value.trim(), &self.cookies),
        }
    }

    /// `name=value` with the value replaced when `name` is in `names`.
    fn pair(&self, pair: &str, names: &[String]) -> String {
        match pair.split_once('=') {
            Some((name, value)) if names.iter().any(|n| n == name.trim()) => {
                format!("{name}={}", self.token(value.as_bytes()))
            }
            _ => pair.to_owned(),
        }
    }

    /// Whether query parameter `name` is redacted.
    pub fn redacts_query(&self, name: &str) -> bool {
        self.query.iter().any(|q| q == name)
    }

    /// A query string (without `?`) with the redacted parameters' values
    /// replaced by their tokens; the rest is kept byte for byte.
    pub fn query(&self, query: &str) -> String {
        if self.query.is_empty() {
            return query.to_owned();
        }
        query
            .split('&')
            .map(|pair| self.pair(pair, &self.query))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A whole body with its redacted JSON places replaced, compactly
    /// re-serialized; `None` when nothing in it is redacted (no rule
    /// matched, or it is not JSON), so the body is kept byte for byte.
    pub fn body(&self, body: &[u8]) -> Option<Vec<u8>> {
        self.document(body)
            .and_then(|document| self.redact_document(&document))
    }

    /// `body` parsed as JSON, when there are path rules to apply to it
    /// (parse once, then ask [`Redactor::secrets`] and
    /// [`Redactor::redact_document`]).
    pub fn document(&self, body: &[u8]) -> Option<Value> {
        if self.paths.is_empty() {
            return None;
        }
        serde_json::from_slice(body).ok()
    }

    /// A parsed body with its redacted places replaced, compactly
    /// serialized; `None` when no rule matched anything in it.
    pub fn redact_document(&self, original: &Value) -> Option<Vec<u8>> {
        let mut document = original.clone();
        for rule in &self.paths {
            self.under(&mut document, rule.segments());
        }
        (document != *original).then(|| document.to_string().into_bytes())
    }

    /// A difference's value at `at`, redacted: whole when `at` (a
    /// `json:$…` place) is a rule's place or lies under one, in part when
    /// rule places lie inside it. A `header:NAME` value (a string, or a
    /// list for several) is redacted by the header rules. `null` (absent)
    /// stays `null`.
    pub fn json(&self, at: &str, mut value: Value) -> Value {
        if let Some(name) = at.strip_prefix("header:") {
            return match HeaderName::from_bytes(name.as_bytes()) {
                Ok(name) if self.headers.contains(&name) => self.redact_headers(value),
                Ok(name) if name == COOKIE || name == SET_COOKIE => self.each_string(value, &name),
                _ => value,
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

    /// A header difference's value (a string, or a list for several),
    /// each string redacted by [`Redactor::header`].
    fn each_string(&self, value: Value, name: &HeaderName) -> Value {
        match value {
            Value::String(s) => Value::String(self.header(name, &s)),
            Value::Array(list) => Value::Array(
                list.into_iter()
                    .map(|v| self.each_string(v, name))
                    .collect(),
            ),
            other => other,
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

/// Secrets shorter than this are not looked for in free text: `1` or
/// `on` would be replaced all over an answer, and hide nothing.
const MIN_SECRET_LEN: usize = 4;

/// The values of the `name=value` pairs whose name is in `names`.
fn named_values<'a>(pairs: impl Iterator<Item = &'a str>, names: &[String]) -> Vec<String> {
    pairs
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| names.iter().any(|n| n == name.trim()))
        .map(|(_, value)| value.to_string())
        .collect()
}

/// The values at `rest` under `value`: strings as they are, anything else
/// as its JSON text (what a token is made of).
fn collect(value: &Value, rest: &[Segment], found: &mut Vec<String>) {
    let Some((first, rest)) = rest.split_first() else {
        found.push(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return;
    };
    match (value, first) {
        (Value::Object(map), Segment::Wildcard) => {
            map.values().for_each(|v| collect(v, rest, found));
        }
        (Value::Array(list), Segment::Wildcard) => {
            list.iter().for_each(|v| collect(v, rest, found));
        }
        (Value::Object(map), Segment::Key(key)) => {
            if let Some(v) = map.get(key) {
                collect(v, rest, found);
            }
        }
        (Value::Array(list), Segment::Index(i)) => {
            if let Some(v) = list.get(*i) {
                collect(v, rest, found);
            }
        }
        _ => {}
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
    fn cookies_and_query_parameters_by_name() {
        let r = redactor(&["cookie:session", "query:token"]);
        let cookie = HeaderName::from_static("cookie");
        let t = r.token(b"s3cr3t");
        assert_eq!(
            r.header(&cookie, "theme=dark; session=s3cr3t"),
            format!("theme=dark; session={t}")
        );
        let set_cookie = HeaderName::from_static("set-cookie");
        assert_eq!(
            r.header(&set_cookie, "session=s3cr3t; Path=/; HttpOnly"),
            format!("session={t}; Path=/; HttpOnly")
        );
        assert_eq!(r.header(&set_cookie, "theme=dark"), "theme=dark");
        assert_eq!(r.query("a=1&token=s3cr3t&b"), format!("a=1&token={t}&b"));
        assert!(r.redacts_query("token") && !r.redacts_query("a"));
        let diff = r.json("header:cookie", json!("session=s3cr3t"));
        assert_eq!(diff, json!(format!("session={t}")));
        assert!(!r.is_empty() && redactor(&[]).is_empty());
    }

    #[test]
    fn a_requests_secrets_are_found_for_free_text() {
        let r = redactor(&[
            "authorization",
            "cookie:session",
            "query:token",
            "$.password",
        ]);
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer s3cret".parse().unwrap());
        headers.insert("cookie", "a=1; session=sess-42".parse().unwrap());
        let body = br#"{"password":"hunter2","n":1}"#;
        let document = r.document(body);
        let secrets = r.secrets(
            &headers,
            Some("token=tok-9&x=1&token=ab"),
            document.as_ref(),
        );
        assert_eq!(secrets, ["Bearer s3cret", "hunter2", "sess-42", "tok-9"]);
        let echo = "auth: Bearer s3cret, pw: hunter2, x=1";
        let scrubbed = r.text(echo, &secrets);
        let expected = format!(
            "auth: {}, pw: {}, x=1",
            r.token(b"Bearer s3cret"),
            r.token(b"hunter2")
        );
        assert_eq!(scrubbed, expected);
    }

    #[test]
    fn whole_bodies_are_rewritten_only_when_a_place_matched() {
        let r = redactor(&["$.password", "$.card.number"]);
        let body = br#"{"user":"ann","password":"pw","card":{"number":"4111"}}"#;
        let redacted = String::from_utf8(r.body(body).unwrap()).unwrap();
        assert!(!redacted.contains("\"pw\"") && !redacted.contains("4111"));
        assert!(redacted.contains(&r.token(b"4111")));
        assert_eq!(r.body(br#"{ "user": "ann" }"#), None);
        assert_eq!(r.body(b"not json"), None);
        assert_eq!(redactor(&[]).body(body), None);
    }

    #[test]
    fn bad_rules_are_refused() {
        let err = Redactor::new(b"k", &["bad header".into()]).unwrap_err();
        assert_eq!(
            err,
            "invalid redact rule `bad header`: neither a header name, \
             `cookie:NAME`, `query:NAME` nor a JSON path starting with `$`"
        );
        let err = Redactor::new(b"k", &["cookie: ".into()]).unwrap_err();
        assert!(err.contains("the name is missing"), "{err}");
        let err = Redactor::new(b"k", &["$.a[".into()]).unwrap_err();
        assert!(err.starts_with("invalid JSON path `$.a[`"), "{err}");
    }
}
