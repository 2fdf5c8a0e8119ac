//! HTTP/1.1: a pool of keep-alive connections. A request takes an idle
//! one or opens one, and gives it back once its answer is read whole; a
//! connection that failed is dropped (the next request opens another).
//! With at most N requests in flight there are at most N connections.

use std::sync::Mutex;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use mirrorgate_core::compare::Captured;

use super::connect::Dialer;
use super::{read_hyper_answer, ErrorKind, SendError};

type Sender = http1::SendRequest<Full<Bytes>>;

/// Idle connections to the target.
pub(crate) struct Pool {
    dialer: Dialer,
    idle: Mutex<Vec<Sender>>,
}

impl Pool {
    pub(super) fn new(dialer: Dialer) -> Self {
        Pool {
            dialer,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(super) async fn send(
        &self,
        request: Request<Bytes>,
        keep_body: usize,
    ) -> Result<Captured, SendError> {
        let mut request = request.map(Full::new);
        // An idle connection the server has just closed cannot take the
        // request; hyper hands it back unsent, and it goes on a new
        // connection (once: a new connection that fails is an error).
        let mut reused = self.take_idle();
        loop {
            let mut sender = match reused.take() {
                Some(sender) => sender,
                None => {
                    let mut sender = self.open().await?;
                    sender
                        .ready()
                        .await
                        .map_err(|e| SendError::from_hyper(&e))?;
                    return self.send_on(sender, request, keep_body).await;
                }
            };
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return self.finish(sender, response, keep_body).await,
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(SendError::from_hyper(error.error())),
                },
            }
        }
    }

    /// Sends on a new connection.
    async fn send_on(
        &self,
        mut sender: Sender,
        request: Request<Full<Bytes>>,
        keep_body: usize,
    ) -> Result<Captured, SendError> {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| SendError::from_hyper(&e))?;
        self.finish(sender, response, keep_body).await
    }

    /// Reads the answer, then keeps the connection for the next request.
    async fn finish(
        &self,
        sender: Sender,
        response: http::Response<hyper::body::Incoming>,
        keep_body: usize,
    ) -> Result<Captured, SendError> {
        let answer = read_hyper_answer(response, keep_body).await?;
        if !sender.is_closed() {
            self.idle.lock().expect("not poisoned").push(sender);
        }
        Ok(answer)
    }

    fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().expect("not poisoned");
        while let Some(sender) = idle.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    async fn open(&self) -> Result<Sender, SendError> {
        let (io, _) = self.dialer.dial().await?;
        let (sender, connection) = http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| SendError::new(ErrorKind::Protocol, e))?;
        // Drives the connection; it ends when the sender is dropped or
        // the server closes it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
