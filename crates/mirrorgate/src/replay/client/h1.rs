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
        let mut sender = match self.take_idle() {
            Some(sender) => sender,
            None => self.open().await?,
        };
        sender
            .ready()
            .await
            .map_err(|e| SendError::from_hyper(&e))?;
        let response = sender
            .send_request(request.map(Full::new))
            .await
            .map_err(|e| SendError::from_hyper(&e))?;
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
