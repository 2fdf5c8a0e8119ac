//! Listening sockets with the options an edge proxy wants.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Pending connections the kernel may queue per listener.
const BACKLOG: i32 = 1024;

/// Binds a TCP listener. IPv6 sockets are IPv6-only, so `0.0.0.0:443` and
/// `[::]:443` can both be listed without colliding.
pub(crate) fn bind_tcp(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Restart without waiting for old connections in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    if let Err(error) = socket.bind(&addr.into()) {
        let hint = bind_hint(addr, error.kind());
        return Err(anyhow::Error::new(error).context(hint));
    }
    socket.listen(BACKLOG)?;
    Ok(TcpListener::from_std(socket.into())?)
}

fn bind_hint(addr: SocketAddr, kind: std::io::ErrorKind) -> String {
    if kind == std::io::ErrorKind::AddrNotAvailable {
        format!("cannot bind TCP {addr}: the address is not one of this machine's")
    } else if addr.port() < 1024 {
        format!("cannot bind TCP {addr}: ports below 1024 need root or CAP_NET_BIND_SERVICE (e.g. `setcap cap_net_bind_service=+ep mirrorgate` or the systemd unit in deploy/)")
    } else {
        format!("cannot bind TCP {addr} (is another process using it?)")
    }
}
