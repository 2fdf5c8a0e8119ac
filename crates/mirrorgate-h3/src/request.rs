//! One HTTP/3 request: to the core, and its response back to the client.

use std::sync::Arc;

use bytes::Bytes;
use h3::server::RequestStream;
use http::{Request, Response};
use http_body_util::BodyExt;
use mirrorgate_core::{body, ConnInfo, RequestHandler};

use crate::body::H3RequestBody;
use crate::limited::Limited;

/// Serves one request stream: hands the request to the core and streams
/// the response head, DATA and trailers back.
pub(crate) async fn serve_request(
    req: Request<()>,
    stream: RequestStream<Limited<h3_quinn::BidiStream<Bytes>>, Bytes>,
    conn: Arc<ConnInfo>,
    handler: Arc<dyn RequestHandler>,
) {
    let (mut send, recv) = stream.split();
    let req = req.map(|()| body::boxed(H3RequestBody::new(recv)));
    let response = handler.handle(req, conn.clone()).await;
    if let Err(error) = send_response(&mut send, response).await {
        tracing::debug!(peer = %conn.peer, %error, "HTTP/3 response not delivered");
    }
}

async fn send_response(
    send: &mut RequestStream<h3_quinn::SendStream<Bytes>, Bytes>,
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
