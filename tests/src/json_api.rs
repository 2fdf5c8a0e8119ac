//! A small JSON API in two versions, for the end-to-end test of
//! comparing mirror answers: production runs [`Version::V1`], the
//! candidate [`Version::V2`], and a control `V1` again. Served over
//! HTTP/1.1 and h2c, like [`crate::backend::Backend`].
//!
//! `V2` is `V1` with the differences of [`ENDPOINTS`] planted in it: one
//! header dropped, one field's type changed, a `500` on one path. Both
//! versions put a random timestamp and a random id in every body
//! ([`NOISE`]), so any two answers differ there: noise, which the compare
//! must tell apart from the planted changes by the control.
//!
//! Every answer is recorded with the request's `x-request-id`
//! ([`JsonApi::sent_for`]), so a test can check that a client got, byte
//! for byte, what production sent for its request.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::hyper_server;

/// Which version of the API a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Production's.
    V1,
    /// The candidate's, with the planted differences.
    V2,
}

/// The header every `V1` answer carries and `V2` drops on
/// `GET /users/{id}`.
pub const API_VERSION_HEADER: &str = "x-api-version";

/// Where any two answers differ, as the compare names it: the random
/// timestamp and the random id in every body.
pub const NOISE: [&str; 2] = ["json:$.generated_at", "json:$.trace_id"];

/// One endpoint of the API: how the compare names it, paths that reach
/// it, and where `V2`'s answer differs from `V1`'s (the compare's
/// `where`, sorted).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// Method and path with the ids folded, e.g. `GET /users/{id}`.
    pub key: &'static str,
    /// Paths to request it with.
    pub paths: &'static [&'static str],
    /// The planted differences; empty: only noise differs.
    pub planted: &'static [&'static str],
}

/// The endpoints, each with its planted differences.
pub const ENDPOINTS: [Endpoint; 4] = [
    Endpoint {
        key: "GET /users/{id}",
        paths: &["/users/17", "/users/5"],
        planted: &["header:x-api-version"],
    },
    Endpoint {
        key: "GET /users/{id}/orders",
        paths: &["/users/42/orders"],
        // A number in V1, a string in V2.
        planted: &["json:$.total"],
    },
    Endpoint {
        key: "GET /orders/{id}/invoice",
        paths: &["/orders/9/invoice"],
        // V2 answers 500 with `error` where V1 has `invoice`.
        planted: &["json:$.error", "json:$.invoice", "status"],
    },
    Endpoint {
        key: "GET /orders/{id}",
        paths: &["/orders/9"],
        planted: &[],
    },
];

/// One answer as the server sent it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The request's `x-request-id`, if it had one.
    pub request_id: Option<String>,
    /// Path and query of the request.
    pub path: String,
    /// The status sent.
    pub status: u16,
    /// Header names and values sent.
    pub headers: Vec<(String, String)>,
    /// The body sent, exactly.
    pub body: Bytes,
}

/// A running API server; stops when dropped (its runtime shuts down).
pub struct JsonApi {
    /// Where it listens.
    pub addr: SocketAddr,
    sent: Arc<Mutex<Vec<Sent>>>,
    _runtime: tokio::runtime::Runtime,
}

impl JsonApi {
    /// Starts a server running `version` on a free port of 127.0.0.1.
    pub fn start(version: Version) -> JsonApi {
        let (runtime, listener) = hyper_server::bind("127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        hyper_server::serve(&runtime, listener, move || {
            let log = log.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let log = log.clone();
                async move { Ok::<_, Infallible>(serve(version, &log, req).await) }
            })
        });
        JsonApi {
            addr,
            sent,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every answer sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// The answers sent to requests with `x-request-id: request_id`.
    pub fn sent_for(&self, request_id: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.request_id.as_deref() == Some(request_id))
            .collect()
    }
}

/// Answers `req` as `version` does and records the answer in `log`.
async fn serve(
    version: Version,
    log: &Mutex<Vec<Sent>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // The API takes no bodies; read any to its end so the connection stays usable.
    let _ = body.collect().await;
    let path = parts.uri.path();
    let (status, mut body) = answer(version, path);
    body["generated_at"] = json!(random_timestamp());
    body["trace_id"] = json!(format!("{:032x}", rand::random::<u128>()));
    let body = Bytes::from(body.to_string());
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let dropped = version == Version::V2 && endpoint_of(path) == Some(ENDPOINTS[0].key);
    if !dropped {
        headers.push((API_VERSION_HEADER.to_string(), "1".to_string()));
    }
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        response = response.header(name, value);
    }
    log.lock().unwrap().push(Sent {
        request_id: parts
            .headers
            .get("x-request-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| path.to_string(), |p| p.to_string()),
        status,
        headers,
        body: body.clone(),
    });
    response.body(Full::new(body)).unwrap()
}

/// The key of the endpoint `path` belongs to, if any.
fn endpoint_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let key = match segments[..] {
        ["users", u] if id(u) => ENDPOINTS[0].key,
        ["users", u, "orders"] if id(u) => ENDPOINTS[1].key,
        ["orders", o, "invoice"] if id(o) => ENDPOINTS[2].key,
        ["orders", o] if id(o) => ENDPOINTS[3].key,
        _ => return None,
    };
    Some(key)
}

/// Status and body (without the noise fields) of `version`'s answer to
/// `GET path`. Data comes from the ids in the path only.
fn answer(version: Version, path: &str) -> (u16, Value) {
    let ids: Vec<u64> = path.split('/').filter_map(|s| s.parse().ok()).collect();
    let id = ids.first().copied().unwrap_or(0) % 1_000_000;
    let v2 = version == Version::V2;
    match endpoint_of(path) {
        Some(key) if key == ENDPOINTS[0].key => (
            200,
            json!({ "id": id, "name": format!("user {id}"), "plan": "pro" }),
        ),
        Some(key) if key == ENDPOINTS[1].key => {
            let orders: Vec<Value> = (1..=3).map(|n| order(id * 10 + n)).collect();
            let cents: u64 = (1..=3).map(|n| price_cents(id * 10 + n)).sum();
            let total = match v2 {
                // The candidate's change: money as text.
                true => json!(format!("{}.{:02}", cents / 100, cents % 100)),
                false => json!(cents as f64 / 100.0),
            };
            (
                200,
                json!({ "user_id": id, "orders": orders, "total": total }),
            )
        }
        Some(key) if key == ENDPOINTS[2].key => match v2 {
            // The candidate's bug: the invoice renderer fails.
            true => (
                500,
                json!({ "error": { "code": "renderer_unavailable", "message": "cannot render invoice" } }),
            ),
            false => (
                200,
                json!({ "invoice": { "order_id": id, "number": format!("INV-{id:06}"), "lines": 2 } }),
            ),
        },
        Some(_) => (200, order(id)),
        None => (404, json!({ "error": "not found" })),
    }
}

fn order(id: u64) -> Value {
    json!({ "id": id, "price": price_cents(id) as f64 / 100.0, "status": "paid" })
}

fn price_cents(id: u64) -> u64 {
    id * 7919 % 20_000
}

/// Now minus up to a second, to the nanosecond: random enough that no
/// two answers share one.
fn random_timestamp() -> String {
    let back = Duration::from_nanos(rand::random::<u64>() % 1_000_000_000);
    humantime::format_rfc3339_nanos(SystemTime::now() - back).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curl::{curl, Proto, Reply};

    /// `GET path` from `api`, over h2c when `h2c`, else HTTP/1.1.
    fn get(api: &JsonApi, path: &str, request_id: &str, h2c: bool) -> Reply {
        let id = format!("x-request-id: {request_id}");
        let mut extra = vec!["-H", id.as_str()];
        if h2c {
            extra.push("--http2-prior-knowledge");
        }
        let reply = curl(Proto::H1, &format!("{}{path}", api.url()), &extra);
        assert_eq!(reply.version, if h2c { "2" } else { "1.1" }, "{reply:?}");
        reply
    }

    /// Where `a` and `b` differ, named as the compare names it, for the
    /// shapes of this API (top-level body fields): status, the API
    /// version header, changed top-level body fields. Sorted.
    fn differences(a: &Reply, b: &Reply) -> Vec<String> {
        let mut found = Vec::new();
        if a.status != b.status {
            found.push("status".to_string());
        }
        if a.header(API_VERSION_HEADER) != b.header(API_VERSION_HEADER) {
            found.push(format!("header:{API_VERSION_HEADER}"));
        }
        let (a, b) = (a.json(), b.json());
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if a.get(key) != b.get(key) {
                found.push(format!("json:$.{key}"));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn v2_differs_from_v1_by_the_planted_differences_plus_noise() {
        let (v1, v2) = (JsonApi::start(Version::V1), JsonApi::start(Version::V2));
        for endpoint in ENDPOINTS {
            for path in endpoint.paths {
                for h2c in [false, true] {
                    let (a, b) = (get(&v1, path, "a", h2c), get(&v2, path, "b", h2c));
                    let mut expected: Vec<&str> = endpoint.planted.to_vec();
                    expected.extend(NOISE);
                    expected.sort();
                    assert_eq!(differences(&a, &b), expected, "{path} h2c={h2c}");
                    // Two answers of one version differ by the noise only.
                    let again = get(&v1, path, "c", h2c);
                    assert_eq!(differences(&a, &again), NOISE, "{path} h2c={h2c}");
                }
            }
        }
        let (total_v1, total_v2) = (
            get(&v1, "/users/42/orders", "d", false).json()["total"].clone(),
            get(&v2, "/users/42/orders", "d", false).json()["total"].clone(),
        );
        assert!(
            total_v1.is_number() && total_v2.is_string(),
            "{total_v1} {total_v2}"
        );
        assert_eq!(total_v2.as_str().unwrap().parse().ok(), total_v1.as_f64());
    }

    #[test]
    fn every_answer_is_recorded_with_its_request_id_as_sent() {
        let api = JsonApi::start(Version::V1);
        let reply = get(&api, "/users/17?x=1", "id-1", true);
        let unknown = get(&api, "/nope", "id-2", false);
        assert_eq!(unknown.status, 404);
        let sent = api.sent_for("id-1");
        assert_eq!(sent.len(), 1, "{:?}", api.sent());
        assert_eq!(
            (sent[0].status, sent[0].path.as_str(), &sent[0].body[..]),
            (200, "/users/17?x=1", &reply.body[..])
        );
        assert_eq!(api.sent_for("id-2")[0].body, unknown.body);
        assert_eq!(api.sent().len(), 2);
        assert!(api.sent_for("id-3").is_empty());
    }
}
