//! Keys the report aggregates by: the endpoint of a request and the field
//! of a difference, with what varies per request (ids, indices) folded so
//! that one endpoint or field gathers all its requests.

use super::JsonPath;

/// What an id-like path segment is replaced by.
const ID: &str = "{id}";

/// The endpoint key: the method and the path without its query, each
/// id-like segment folded to `{id}`: `GET /users/{id}/orders`. Id-like:
/// all digits; a UUID; hex of 8 or more with a digit; a token of 16 or
/// more letters, digits, `-` and `_` with a letter and a digit; a
/// base64url token of 22 or more (a 128-bit value) in mixed case with at
/// least a quarter capitals (so CamelCase words stay). An empty path is
/// `/`.
pub fn endpoint(method: &http::Method, path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut key = String::with_capacity(method.as_str().len() + 1 + path.len());
    key.push_str(method.as_str());
    key.push(' ');
    if path.is_empty() {
        key.push('/');
        return key;
    }
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            key.push('/');
        }
        key.push_str(if id_like(segment) { ID } else { segment });
    }
    key
}

/// The field key of a difference's place: array indices folded,
/// `json:$.items[3].id` to `json:$.items[*].id`. Other places (`status`,
/// `header:…`, `body`) are their own key.
pub fn field_key(at: &str) -> String {
    at.strip_prefix("json:")
        .and_then(|path| path.parse::<JsonPath>().ok())
        .map(|path| format!("json:{}", path.fold_indices()))
        .unwrap_or_else(|| at.to_owned())
}

fn id_like(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let count = |f: fn(&u8) -> bool| bytes.iter().filter(|b| f(b)).count();
    let digits = count(u8::is_ascii_digit);
    if bytes.is_empty() {
        return false;
    }
    if digits == bytes.len() || is_uuid(bytes) {
        return true;
    }
    if bytes.len() >= 8 && digits > 0 && bytes.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    let token = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    let letters = count(u8::is_ascii_alphabetic);
    if token && bytes.len() >= 16 && digits > 0 && letters > 0 {
        return true;
    }
    let body = segment.trim_end_matches('=').as_bytes();
    let base64url = body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    let upper = count(u8::is_ascii_uppercase);
    base64url && body.len() >= 22 && upper > 0 && upper < letters && upper * 4 >= letters
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    #[test]
    fn id_like_segments_are_folded() {
        for (path, key) in [
            ("/users/42/orders", "GET /users/{id}/orders"),
            ("/o/123e4567-e89b-12d3-a456-426614174000", "GET /o/{id}"),
            ("/blob/deadbeef01", "GET /blob/{id}"),
            ("/s/a1b2c3d4e5f6g7h8x", "GET /s/{id}"),
            ("/t/dGhpcyBpcyBhIHRva2VuIQ", "GET /t/{id}"),
            ("/t/dGhpcyBpcyBhIHRva2VuIQ==", "GET /t/{id}"),
            ("/t/aBcDeFgHiJkLmNoPqRsTuVwX", "GET /t/{id}"),
            ("/users/42?x=1", "GET /users/{id}"),
            ("/a/7#frag", "GET /a/{id}"),
            ("", "GET /"),
            ("?q", "GET /"),
            ("/", "GET /"),
        ] {
            assert_eq!(endpoint(&Method::GET, path), key, "{path}");
        }
    }

    #[test]
    fn words_are_kept() {
        for path in [
            "/api/v2/users/",
            "/deadbeef",
            "/facade",
            "/how-to-configure-mirrorgate",
            "/GetUserProfileInformation",
            "/SOME_LONG_CONSTANT_NAME_HERE",
            "/abc123",
            "/report-2024",
        ] {
            assert_eq!(endpoint(&Method::POST, path), format!("POST {path}"));
        }
    }

    #[test]
    fn field_keys_fold_indices_only_in_json_places() {
        assert_eq!(field_key("json:$.items[3].id"), "json:$.items[*].id");
        assert_eq!(field_key("json:$['a[1]'][0]"), "json:$['a[1]'][*]");
        assert_eq!(field_key("header:x-a"), "header:x-a");
        assert_eq!(field_key("json:…"), "json:…");
        assert_eq!(field_key("status"), "status");
    }
}
