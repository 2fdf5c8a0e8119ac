//! One HTTP/3 request: to the core, and its response back to the client.
//! An extended CONNECT (RFC 9220) is offered to the core as a tunnel.

use std::sync::Arc;

use bytes::Bytes;
use h3::server::RequestStream;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use mirrorgate_core::tunnel::TunnelOffer;
use mirrorgate_core::{body, ConnInfo, Lifecycle, RequestHandler};

use crate::body::H3RequestBody;
use crate::handover::{self, Handover};
use crate::limited::Limited;
use crate::tunnel_stream::TunnelStream;

type RecvHalf = RequestStream<Limited<h3_quinn::RecvStream>, Bytes>;
type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// Serves one request stream: hands the request to the core and streams
/// the response head, DATA and trailers back. An extended CONNECT's
/// stream carries no request body: once its `2xx` head is sent, the
/// stream itself goes to the core as the tunnel's client side; tunnels
/// it opens run under `lifecycle`.
pub(crate) async fn serve_request(
    req: Request<()>,
    stream: RequestStream<Limited<h3_quinn::BidiStream<Bytes>>, Bytes>,
    conn: Arc<ConnInfo>,
    handler: Arc<dyn RequestHandler>,
    lifecycle: &Lifecycle,
) {
    let (mut send, recv) = stream.split();
    let Some(protocol) = extended_connect(&req) else {
        let req = req.map(|()| body::boxed(H3RequestBody::new(recv)));
        let response = handler.handle(req, conn.clone()).await;
        if let Err(error) = send_response(&mut send, response).await {
            tracing::debug!(peer = %conn.peer, %error, "HTTP/3 response not delivered");
        }
        return;
    };
    let (client_io, handover) = handover::channel();
    let offer = TunnelOffer::new(client_io, lifecycle.clone()).extended_connect(protocol);
    let mut req = req.map(|()| body::empty());
    req.extensions_mut().insert(offer);
    let response = handler.handle(req, conn.clone()).await;
    // Until the answer is sent, `recv` stays open: dropping it would ask
    // the client to stop sending before it knows the answer.
    let result = if response.status().is_success() && handover.wanted() {
        open_tunnel(send, recv, response, handover).await
    } else {
        // Refused (or answered without a tunnel): an ordinary response;
        // dropping the handover fails the core's side.
        drop(handover);
        let result = send_response(&mut send, response).await;
        drop(recv);
        result
    };
    if let Err(error) = result {
        tracing::debug!(peer = %conn.peer, %error, "HTTP/3 tunnel answer not delivered");
    }
}

/// The `:protocol` of an extended CONNECT (RFC 9220); `None` for any
/// other request, a plain CONNECT included.
fn extended_connect(req: &Request<()>) -> Option<String> {
    if req.method() != Method::CONNECT {
        return None;
    }
    let protocol = req.extensions().get::<h3::ext::Protocol>()?;
    Some(protocol.as_str().to_string())
}

/// Sends the accepting head, then hands the stream to the core. The
/// response's body is not sent: after a `2xx` to CONNECT, the stream's
/// DATA is the tunnel's (RFC 9110 §9.3.6).
async fn open_tunnel(
    mut send: SendHalf,
    recv: RecvHalf,
    response: Response<mirrorgate_core::Body>,
    handover: Handover,
) -> Result<(), mirrorgate_core::BoxError> {
    let (parts, _body) = response.into_parts();
    // On an error the handover drops, and the core's side fails.
    send.send_response(Response::from_parts(parts, ())).await?;
    handover.complete(Box::new(TunnelStream::new(recv, send)));
    Ok(())
}

async fn send_response(
    send: &mut SendHalf,
    response: Response<mirrorgate_core::Body>,
) -> Result<(), mirrorgate_core::BoxError> {
    let (parts, mut body) = response.into_parts();
    send.send_response(Response::from_parts(parts, ())).await?;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                // The backend's body broke: abort the stream so the client
                // sees a truncated response as an error, not as complete.
                send.stop_stream(h3::error::Code::H3_INTERNAL_ERROR);
                return Err(error);
            }
        };
        match frame.into_data() {
            Ok(data) => send.send_data(data).await?,
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.send_trailers(trailers).await?;
                }
            }
        }
    }
    send.finish().await?;
    Ok(())
}
