//! The handshake across the proxy: what the client asked for, the request
//! the backend gets for it, whether the backend accepted, and the answer
//! the client gets.
//!
//! A client may ask in HTTP/1.1 (`GET` + `Connection: upgrade` +
//! `Upgrade: websocket`, answered `101`) or with an extended CONNECT on
//! HTTP/2 or HTTP/3 (`:protocol websocket`, answered `200`; RFC 8441,
//! RFC 9220); the backend is asked in its own protocol. For WebSocket,
//! RFC 8441 §5 drops `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` on
//! HTTP/2: crossing over, the proxy makes the key (to an HTTP/1.1
//! backend, checking its accept) or the accept (to an HTTP/1.1 client).
//! Every other `Sec-WebSocket-*` header passes as it is.

use base64::Engine as _;
use http::header::{CONNECTION, CONTENT_LENGTH, UPGRADE};
use http::response::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use sha1::{Digest, Sha1};

use super::offer::{asks_http1_upgrade, TunnelOffer};
use crate::headers::strip_hop_by_hop;
use crate::upstream::UpstreamProtocol;
use crate::{body, Body};

const SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
const SEC_WEBSOCKET_ACCEPT: HeaderName = HeaderName::from_static("sec-websocket-accept");
/// RFC 6455 §1.3.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// How the client asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AskedBy {
    /// HTTP/1.1 `Upgrade`, answered `101`.
    Upgrade,
    /// Extended CONNECT on HTTP/2 or HTTP/3, answered `200`.
    ExtendedConnect,
}

/// A request's ask for a tunnel.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    /// The protocol asked for, lowercase: `websocket`.
    pub(crate) protocol: String,
    /// How.
    pub(crate) by: AskedBy,
    /// The client's `Sec-WebSocket-Key` (HTTP/1.1 WebSocket only).
    client_key: Option<HeaderValue>,
}

impl Ask {
    /// The ask of `req` and the listener's offer, if it asks for a tunnel
    /// the listener can give: an extended CONNECT, or a `GET` with
    /// `Connection: upgrade` and one `Upgrade` token. The offer leaves the
    /// request either way, so nothing later can open a tunnel for it.
    pub(crate) fn of<B>(req: &mut Request<B>) -> Option<(Ask, TunnelOffer)> {
        let offer = req.extensions_mut().remove::<TunnelOffer>()?;
        let (protocol, by) = match &offer.protocol {
            Some(protocol) if req.method() == Method::CONNECT => {
                (protocol.to_ascii_lowercase(), AskedBy::ExtendedConnect)
            }
            Some(_) => return None,
            None if asks_http1_upgrade(req) => (single_token(req.headers())?, AskedBy::Upgrade),
            None => return None,
        };
        let client_key = match by {
            AskedBy::Upgrade => req.headers().get(SEC_WEBSOCKET_KEY).cloned(),
            AskedBy::ExtendedConnect => None,
        };
        Some((
            Ask {
                protocol,
                by,
                client_key,
            },
            offer,
        ))
    }

    fn is_websocket(&self) -> bool {
        self.protocol == "websocket"
    }
}

/// The one token of the `Upgrade` header, lowercase; `None` for a list
/// (which of them would the backend pick?) or anything unreadable.
fn single_token(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(UPGRADE).iter();
    let value = values.next()?.to_str().ok()?.trim();
    if values.next().is_some() || value.is_empty() || value.contains(',') {
        return None;
    }
    Some(value.to_ascii_lowercase())
}

/// What the backend must answer for the tunnel to open.
#[derive(Debug)]
pub(crate) struct Expected {
    by: UpstreamProtocol,
    /// The `Sec-WebSocket-Accept` an HTTP/1.1 backend must send, when
    /// the proxy made the key.
    accept: Option<String>,
}

/// Turns `req`, already rewritten for the backend (hop-by-hop headers
/// out), into the ask for a tunnel in the backend's protocol.
pub(crate) fn backend_request(
    req: Request<Body>,
    ask: &Ask,
    backend: UpstreamProtocol,
) -> (Request<Body>, Expected) {
    let (mut parts, _) = req.into_parts();
    let mut accept = None;
    match backend {
        UpstreamProtocol::Http1 => {
            parts.method = Method::GET;
            ask_upgrade(&mut parts.headers, ask);
            if ask.is_websocket() && ask.by == AskedBy::ExtendedConnect {
                let key = new_key();
                accept = Some(accept_for(key.as_bytes()));
                parts.headers.insert(SEC_WEBSOCKET_KEY, base64_value(key));
            }
        }
        UpstreamProtocol::H2 => {
            parts.method = Method::CONNECT;
            parts.headers.remove(SEC_WEBSOCKET_KEY);
            parts
                .extensions
                .insert(hyper::ext::Protocol::from(ask.protocol.as_str()));
        }
    }
    parts.headers.remove(CONTENT_LENGTH);
    let expected = Expected {
        by: backend,
        accept,
    };
    (Request::from_parts(parts, body::empty()), expected)
}

/// The backend's answer to the ask, read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// It switched: open the tunnel.
    Accepted,
    /// An ordinary answer (a 4xx, a redirect): passed to the client as
    /// it is.
    Declined,
    /// An answer the client must not get: a 2xx that did not switch (an
    /// HTTP/2 client would take it for an open tunnel), or a `101` that
    /// switched to something else. The reason is for the log.
    Broken(&'static str),
}

/// Reads the backend's answer head against what was asked.
pub(crate) fn read_answer(head: &Parts, ask: &Ask, expected: &Expected) -> Answer {
    match expected.by {
        UpstreamProtocol::Http1 if head.status == StatusCode::SWITCHING_PROTOCOLS => {
            if single_token(&head.headers).as_deref() != Some(ask.protocol.as_str()) {
                return Answer::Broken("the backend switched to another protocol than asked");
            }
            let accept_ok = expected.accept.as_ref().is_none_or(|want| {
                head.headers
                    .get(SEC_WEBSOCKET_ACCEPT)
                    .is_some_and(|got| got.as_bytes() == want.as_bytes())
            });
            if !accept_ok {
                return Answer::Broken("the backend's Sec-WebSocket-Accept does not match the key");
            }
            Answer::Accepted
        }
        UpstreamProtocol::H2 if head.status.is_success() => Answer::Accepted,
        _ if head.status.is_success() && ask.by == AskedBy::ExtendedConnect => {
            Answer::Broken("the backend answered the upgrade without switching protocols")
        }
        _ => Answer::Declined,
    }
}

/// The client's answer for an accepted tunnel: the backend's headers (its
/// `Sec-WebSocket-Protocol` and `-Extensions`) in the client's form.
pub(crate) fn client_answer(mut head: Parts, ask: &Ask) -> Response<Body> {
    strip_hop_by_hop(&mut head.headers);
    head.headers.remove(CONTENT_LENGTH);
    match ask.by {
        AskedBy::Upgrade => {
            head.status = StatusCode::SWITCHING_PROTOCOLS;
            ask_upgrade(&mut head.headers, ask);
            if ask.is_websocket() && !head.headers.contains_key(SEC_WEBSOCKET_ACCEPT) {
                if let Some(key) = &ask.client_key {
                    let accept = accept_for(key.as_bytes());
                    head.headers
                        .insert(SEC_WEBSOCKET_ACCEPT, base64_value(accept));
                }
            }
        }
        AskedBy::ExtendedConnect => {
            head.status = StatusCode::OK;
            head.headers.remove(SEC_WEBSOCKET_ACCEPT);
        }
    }
    Response::from_parts(head, body::empty())
}

/// `Connection: upgrade` and `Upgrade: <protocol>`, as HTTP/1.1 asks for
/// (and answers) a switch.
fn ask_upgrade(headers: &mut HeaderMap, ask: &Ask) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    let token = HeaderValue::from_str(&ask.protocol)
        .expect("a token checked against the route's list is a valid value");
    headers.insert(UPGRADE, token);
}

/// A base64 text as a header value.
fn base64_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect("base64 is a valid header value")
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>())
}

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2).
pub fn accept_for(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tunnel::{ClientIo, TunnelOffer};
    use crate::Lifecycle;

    fn offer() -> TunnelOffer {
        let io: ClientIo = Box::pin(async { Err("unused".into()) });
        TunnelOffer::new(io, Lifecycle::new())
    }

    fn h1_upgrade(method: Method, upgrade: &str) -> Request<Body> {
        let mut req = Request::builder()
            .method(method)
            .uri("/ws")
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, upgrade)
            .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", "chat")
            .body(body::empty())
            .unwrap();
        req.extensions_mut().insert(offer());
        req
    }

    fn extended_connect(protocol: &str) -> Request<Body> {
        let mut req = Request::builder()
            .method(Method::CONNECT)
            .uri("https://a.example/ws")
            .header("sec-websocket-version", "13")
            .body(body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(offer().extended_connect(protocol));
        req
    }

    #[test]
    fn the_rfc_6455_example_key_gives_its_accept() {
        assert_eq!(
            accept_for(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn an_ask_needs_the_listeners_offer_a_get_and_one_token() {
        let (ask, _) = Ask::of(&mut h1_upgrade(Method::GET, "WebSocket")).unwrap();
        assert_eq!(
            (ask.protocol.as_str(), ask.by),
            ("websocket", AskedBy::Upgrade)
        );
        assert!(Ask::of(&mut h1_upgrade(Method::POST, "websocket")).is_none());
        assert!(Ask::of(&mut h1_upgrade(Method::GET, "websocket, h2c")).is_none());
        let mut no_offer = h1_upgrade(Method::GET, "websocket");
        no_offer.extensions_mut().clear();
        assert!(Ask::of(&mut no_offer).is_none());
        let (ask, _) = Ask::of(&mut extended_connect("websocket")).unwrap();
        assert_eq!(ask.by, AskedBy::ExtendedConnect);
    }

    #[test]
    fn an_http2_ask_to_an_http1_backend_gets_a_key_and_checks_the_accept() {
        let (ask, _) = Ask::of(&mut extended_connect("websocket")).unwrap();
        let (req, expected) =
            backend_request(extended_connect("websocket"), &ask, UpstreamProtocol::Http1);
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.headers()[CONNECTION], "upgrade");
        assert_eq!(req.headers()[UPGRADE], "websocket");
        assert_eq!(req.headers()["sec-websocket-version"], "13");
        let key = req.headers()[SEC_WEBSOCKET_KEY].as_bytes().to_vec();
        let answer = |accept: &str| {
            let (head, ()) = Response::builder()
                .status(101)
                .header(UPGRADE, "websocket")
                .header(SEC_WEBSOCKET_ACCEPT, accept)
                .body(())
                .unwrap()
                .into_parts();
            read_answer(&head, &ask, &expected)
        };
        assert_eq!(answer(&accept_for(&key)), Answer::Accepted);
        assert!(matches!(answer("bogus"), Answer::Broken(_)));
        let (head, ()) = Response::builder()
            .status(101)
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_ACCEPT, accept_for(&key))
            .header("sec-websocket-protocol", "chat")
            .body(())
            .unwrap()
            .into_parts();
        let answer = client_answer(head, &ask);
        assert_eq!(answer.status(), 200);
        assert!(answer.headers().get(SEC_WEBSOCKET_ACCEPT).is_none());
        assert!(answer.headers().get(UPGRADE).is_none());
        assert_eq!(answer.headers()["sec-websocket-protocol"], "chat");
    }

    #[test]
    fn an_http1_ask_to_an_http2_backend_is_an_extended_connect_answered_101() {
        let (ask, _) = Ask::of(&mut h1_upgrade(Method::GET, "websocket")).unwrap();
        let (req, expected) = backend_request(
            h1_upgrade(Method::GET, "websocket"),
            &ask,
            UpstreamProtocol::H2,
        );
        assert_eq!(req.method(), Method::CONNECT);
        assert_eq!(
            req.extensions()
                .get::<hyper::ext::Protocol>()
                .unwrap()
                .as_str(),
            "websocket"
        );
        assert!(req.headers().get(SEC_WEBSOCKET_KEY).is_none());
        let (head, ()) = Response::builder()
            .status(200)
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(read_answer(&head, &ask, &expected), Answer::Accepted);
        let answer = client_answer(head, &ask);
        assert_eq!(answer.status(), 101);
        assert_eq!(answer.headers()[UPGRADE], "websocket");
        assert_eq!(
            answer.headers()[SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_backend_that_does_not_switch_is_declined_or_broken() {
        let (ask, _) = Ask::of(&mut extended_connect("websocket")).unwrap();
        let (_, expected) =
            backend_request(extended_connect("websocket"), &ask, UpstreamProtocol::Http1);
        let head = |status: u16| {
            Response::builder()
                .status(status)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        assert!(matches!(
            read_answer(&head(200), &ask, &expected),
            Answer::Broken(_)
        ));
        assert_eq!(read_answer(&head(426), &ask, &expected), Answer::Declined);
        let (ask, _) = Ask::of(&mut h1_upgrade(Method::GET, "websocket")).unwrap();
        let (_, expected) = backend_request(
            h1_upgrade(Method::GET, "websocket"),
            &ask,
            UpstreamProtocol::Http1,
        );
        assert_eq!(read_answer(&head(200), &ask, &expected), Answer::Declined);
        let (switched, ()) = Response::builder()
            .status(101)
            .header(UPGRADE, "h2c")
            .body(())
            .unwrap()
            .into_parts();
        assert!(matches!(
            read_answer(&switched, &ask, &expected),
            Answer::Broken(_)
        ));
    }
}
