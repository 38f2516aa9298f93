//! Bounded connections. Every connection (HTTP keep-alive, a live event stream, a
//! WebSocket subscription) holds buffers and a task for as long as it stays open; unbounded,
//! one client's two thousand idle WebSockets took the node from 66 MB to 409 MB. So the
//! listener admits at most `max_connections` at once, and at most
//! `max_connections_per_client` from one IP address; a connection past either is closed at
//! once, before any byte is read, and its slot is freed the moment a connection closes.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::places::{Place, Places};

/// The open connections, by client address.
pub(crate) type Tracker = Places<IpAddr>;

/// A connection's slot, given back when it is dropped.
pub(crate) type Slot = Place<IpAddr>;

/// A TCP listener that admits connections within the [`Tracker`]'s limits.
pub(crate) struct Bounded {
    inner: TcpListener,
    tracker: Tracker,
}

impl Bounded {
    /// `listener` within `config`'s `max_connections` and `max_connections_per_client`,
    /// counted apart from any other listener's.
    pub(crate) fn new(listener: TcpListener, config: &crate::ApiConfig) -> Self {
        Self { inner: listener, tracker: Tracker::new(config.max_connections, config.max_connections_per_client) }
    }
}

/// A connection and its slot.
pub(crate) struct Admitted {
    stream: TcpStream,
    _slot: Slot,
}

impl axum::serve::Listener for Bounded {
    type Io = Admitted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as axum's own loop does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.tracker.take(addr.ip()).ok() {
                Some(slot) => return (Admitted { stream, _slot: slot }, addr),
                None => {
                    tracing::warn!(client = %addr.ip(), "connection refused: too many open connections");
                    drop(stream);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for Admitted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
