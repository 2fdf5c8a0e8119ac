//! Request id: one id per request from the edge on, so that the
//! primary's, every mirror's and mirrorgate's own logs join on it.
//!
//! Decided when the request arrives (so even a request refused before it
//! is routed is logged with one), set on the upstream request by the
//! upstream request phase (so the primary and every copy carry it), and
//! written to the access log by the logging phase.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::headers::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};

/// `[proxy] request_id_header`'s default.
pub const DEFAULT_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent id kept; a longer one is replaced. Ids travel in
/// every log line and every copy: one client must not make them large.
const MAX_CLIENT_ID_LEN: usize = 200;

/// The id of a request that arrived with `headers`: the client's value of
/// `name` when the client is trusted (`[proxy] trust_forwarded_headers`,
/// i.e. another proxy in front set it) and it is one sane value; else a
/// new UUIDv7 (time-ordered, so ids sort by arrival).
pub(super) fn request_id(
    headers: &HeaderMap,
    name: &HeaderName,
    trust_client: bool,
) -> HeaderValue {
    if trust_client {
        let mut values = headers.get_all(name).iter();
        if let (Some(value), None) = (values.next(), values.next()) {
            if is_sane(value) {
                return value.clone();
            }
        }
    }
    generate()
}

/// One to [`MAX_CLIENT_ID_LEN`] bytes of visible ASCII: safe to write
/// unquoted into a text log line and to forward as it is.
fn is_sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_CLIENT_ID_LEN).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
}

/// A new UUIDv7 in its hyphenated lowercase form.
fn generate() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a hyphenated UUID is a valid header value")
}

/// Why `name` cannot carry the request id, if it cannot: headers that
/// frame the message, name its host or connection, or that the proxy
/// itself rewrites would be overwritten or break the request.
pub(crate) fn check_header_name(name: &HeaderName) -> Result<(), String> {
    let managed = [
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::FORWARDED,
        X_FORWARDED_FOR,
        X_FORWARDED_PROTO,
        X_FORWARDED_HOST,
    ];
    if managed.contains(name) {
        return Err(format!(
            "request_id_header `{name}` is a header the proxy manages: name another, e.g. \"x-request-id\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: HeaderName = DEFAULT_REQUEST_ID_HEADER;

    fn sent(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(NAME, HeaderValue::from_bytes(v).unwrap());
        }
        headers
    }

    /// A UUIDv7 in hyphenated lowercase form.
    fn is_uuid_v7(value: &HeaderValue) -> bool {
        let text = value.to_str().unwrap();
        let parsed = uuid::Uuid::try_parse(text);
        parsed.is_ok_and(|u| u.get_version_num() == 7 && u.hyphenated().to_string() == text)
    }

    #[test]
    fn without_a_client_id_one_is_generated() {
        for trusted in [false, true] {
            let id = request_id(&HeaderMap::new(), &NAME, trusted);
            assert!(is_uuid_v7(&id), "{id:?}");
        }
    }

    #[test]
    fn an_untrusted_clients_id_is_replaced() {
        let id = request_id(&sent(&[b"client-1"]), &NAME, false);
        assert!(is_uuid_v7(&id), "{id:?}");
    }

    #[test]
    fn a_trusted_clients_sane_id_is_kept() {
        for value in [&b"client-1"[..], b"0123abc-_.:/=+~!", &[b'a'; 200]] {
            let id = request_id(&sent(&[value]), &NAME, true);
            assert_eq!(id.as_bytes(), value);
        }
        // Under the configured name only.
        let other = HeaderName::from_static("x-trace-id");
        let mut headers = sent(&[b"client-1"]);
        headers.insert(other.clone(), HeaderValue::from_static("trace-9"));
        assert_eq!(request_id(&headers, &other, true), "trace-9");
    }

    #[test]
    fn a_trusted_clients_insane_or_repeated_id_is_replaced() {
        let long = [b'a'; 201];
        for values in [
            vec![&long[..]],
            vec![b""],
            vec![b"has space"],
            vec![b"tab\there"],
            vec![b"caf\xe9"],
            vec![b"one", b"two"],
        ] {
            let id = request_id(&sent(&values), &NAME, true);
            assert!(is_uuid_v7(&id), "{values:?} kept as {id:?}");
        }
    }

    #[test]
    fn generated_ids_are_distinct_and_sort_by_time() {
        let ids: Vec<String> = (0..1000)
            .map(|_| generate().to_str().unwrap().to_string())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }

    #[test]
    fn managed_headers_cannot_carry_the_id() {
        for name in ["host", "content-length", "connection", "x-forwarded-for"] {
            let err = check_header_name(&HeaderName::from_static(name)).unwrap_err();
            assert!(err.contains(name), "{err}");
        }
        assert!(check_header_name(&NAME).is_ok());
        assert!(check_header_name(&HeaderName::from_static("x-correlation-id")).is_ok());
    }
}
