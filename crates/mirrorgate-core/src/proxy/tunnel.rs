//! Tunnel phase: a request that asks to become a tunnel (WebSocket over
//! an HTTP/1.1 `Upgrade` or an extended CONNECT; see [`crate::tunnel`])
//! takes this way instead of body limits, mirrors and forward. The
//! handshake goes to the backend in its protocol; once it switches, the
//! client gets its answer and a task joins the two sides.

use std::time::Duration;

use http::{Request, Response};
use hyper_util::rt::TokioIo;

use super::ctx::RequestCtx;
use super::logging::TunnelLine;
use super::pending_tunnel::PendingTunnel;
use super::{Proxy, ProxyError, RouteTarget};
use crate::access_log::TunnelRecord;
use crate::metrics::{Limit, Metrics, TunnelClose};
use crate::tunnel::handshake::{self, Answer, Ask, AskedBy};
use crate::tunnel::pump::{self, Limits, Pumped};
use crate::tunnel::{ClientSide, TunnelIo, TunnelOffer};
use crate::{body, Body, ConnInfo};

/// How long the two sides may take to be handed over once the answer
/// is decided (the client's: until its `101` or `200` is written).
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(10);

impl Proxy {
    /// Whether `req` asks for a tunnel the route gives. An HTTP/1.1
    /// upgrade the route does not allow goes on as an ordinary request
    /// (its `Upgrade` is removed as hop-by-hop, as nginx does); an
    /// extended CONNECT cannot, and is refused.
    pub(super) fn ask_tunnel(
        &self,
        req: &mut Request<Body>,
        route: &RouteTarget,
    ) -> Result<Option<(Ask, TunnelOffer)>, ProxyError> {
        let Some((ask, offer)) = Ask::of(req) else {
            return Ok(None);
        };
        if route.tunnel.allows(&ask.protocol) {
            return Ok(Some((ask, offer)));
        }
        match ask.by {
            AskedBy::Upgrade => Ok(None),
            AskedBy::ExtendedConnect => Err(ProxyError::UpgradeNotAllowed(ask.protocol)),
        }
    }

    /// Asks `route`'s backend for the tunnel `req` (already rewritten for
    /// the backend) asks for. Its answer goes to the client: the
    /// acceptance in the client's form (with the tunnel noted in `ctx`),
    /// or an ordinary answer as it is.
    pub(super) async fn open_tunnel(
        &self,
        req: Request<Body>,
        (ask, offer): (Ask, TunnelOffer),
        route: &RouteTarget,
        ctx: &mut RequestCtx,
        conn: &ConnInfo,
    ) -> Result<Response<Body>, ProxyError> {
        let service = &route.service;
        for mirror in &service.mirrors {
            mirror.decline_upgrade(req.headers(), conn.peer.ip());
        }
        let Some(permit) = self
            .inner
            .metrics
            .tunnel_permit(self.inner.settings.max_tunnels)
        else {
            self.inner
                .metrics
                .limit_hit(Limit::MaxTunnels(conn.protocol));
            return Err(ProxyError::TooManyTunnels);
        };
        let Some(client) = offer.take() else {
            return Err(ProxyError::BadRequest("the tunnel was already taken"));
        };
        let (req, expected) = handshake::backend_request(req, &ask, service.pool.protocol());
        let (mut response, backend) = service.pool.send(req).await?;
        ctx.backend = Some(backend);
        let backend_side = hyper::upgrade::on(&mut response);
        let (head, answer_body) = response.into_parts();
        match handshake::read_answer(&head, &ask, &expected) {
            Answer::Declined => Ok(Response::from_parts(head, body::boxed(answer_body))),
            Answer::Broken(why) => Err(ProxyError::BadSwitch(why)),
            Answer::Accepted => {
                ctx.tunnel = Some(Box::new(PendingTunnel {
                    protocol: ask.protocol.clone(),
                    client,
                    backend: backend_side,
                    limits: Limits {
                        idle_timeout: route.tunnel.idle_timeout,
                        max_lifetime: route.tunnel.max_lifetime,
                    },
                    permit,
                }));
                Ok(handshake::client_answer(head, &ask))
            }
        }
    }

    /// Counts the handshake's exchange and starts the tunnel's task, which
    /// waits for both sides, joins them and logs the tunnel when it ends.
    /// The task runs under the listener's lifecycle: draining waits for
    /// it, and closes it at the deadline.
    pub(super) fn start_tunnel(
        &self,
        response: Response<Body>,
        tunnel: Box<PendingTunnel>,
        ctx: RequestCtx,
        conn: &ConnInfo,
    ) -> Response<Body> {
        let line = self.exchange(&response, ctx, conn).tunnel_opened();
        let lifecycle = tunnel.client.lifecycle.clone();
        lifecycle.spawn(run(tunnel, line, self.inner.metrics.clone(), conn.protocol));
        response
    }
}

/// One tunnel's life: both sides handed over, joined until an end,
/// counted and logged.
async fn run(
    tunnel: Box<PendingTunnel>,
    line: TunnelLine,
    metrics: Metrics,
    protocol: crate::Protocol,
) {
    let PendingTunnel {
        protocol: tunnelled,
        client,
        backend,
        limits,
        permit,
    } = *tunnel;
    let ClientSide {
        io: client_io,
        lifecycle,
        hold,
    } = client;
    let counters = metrics.tunnel_opened(protocol);
    let sides = tokio::time::timeout(HANDOVER_TIMEOUT, async {
        let client = client_io.await?;
        let backend: Box<dyn TunnelIo> = Box::new(TokioIo::new(backend.await?));
        Ok::<_, crate::BoxError>((client, backend))
    })
    .await;
    let pumped = match sides {
        Ok(Ok((client, backend))) => {
            pump::pump(client, backend, limits, &lifecycle, &counters).await
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "tunnel not opened: a side was not handed over");
            unopened()
        }
        Err(_) => {
            tracing::debug!("tunnel not opened: the sides were not handed over in time");
            unopened()
        }
    };
    counters.closed(pumped.reason);
    tracing::debug!(
        tunnel = %tunnelled,
        closed = pumped.reason.label(),
        to_backend = pumped.to_backend,
        to_client = pumped.to_client,
        "tunnel closed"
    );
    line.finish(TunnelRecord {
        protocol: tunnelled,
        bytes_to_backend: pumped.to_backend,
        bytes_to_client: pumped.to_client,
        closed: pumped.reason.label(),
    });
    // The client connection, and the tunnel against max_tunnels, stop
    // counting only now.
    drop((hold, permit));
}

fn unopened() -> Pumped {
    Pumped {
        reason: TunnelClose::Error,
        to_backend: 0,
        to_client: 0,
    }
}
