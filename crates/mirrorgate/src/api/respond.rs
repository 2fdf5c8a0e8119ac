//! The admin listener's answers: JSON, text and their headers.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// An admin answer: always complete, never streamed.
pub(crate) type Answer = Response<Full<Bytes>>;

/// `value` as JSON, not cached: every answer is a snapshot of counters
/// that keep moving.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Answer {
    // Serializing plain structs and maps cannot fail.
    let body = serde_json::to_vec(value).expect("admin JSON serializes");
    let mut response = answer(status, body.into(), "application/json");
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"error": message}`.
pub(crate) fn json_error(status: StatusCode, message: String) -> Answer {
    json(status, &serde_json::json!({ "error": message }))
}

/// Plain text.
pub(crate) fn text(status: StatusCode, body: String) -> Answer {
    answer(status, body.into(), "text/plain; charset=utf-8")
}

/// `body` with its content type.
pub(crate) fn answer(status: StatusCode, body: Bytes, content_type: &'static str) -> Answer {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn errors_are_json_and_never_cached() {
        let response = json_error(StatusCode::NOT_FOUND, "no \"x\"".into());
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value, serde_json::json!({ "error": "no \"x\"" }));
    }
}
