//! Bounded connections. Every connection (HTTP keep-alive, a live event stream, a
//! WebSocket subscription) holds buffers and a task for as long as it stays open; unbounded,
//! one client's two thousand idle WebSockets took the node from 66 MB to 409 MB. So the
//! listener admits at most `max_connections` at once, and at most
//! `max_connections_per_client` from one IP address; a connection past either is closed at
//! once, before any byte is read, and its slot is freed the moment a connection closes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// The open connections, by client.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    open: Arc<Mutex<Open>>,
    max_total: usize,
    max_per_client: usize,
}

/// A connection's slot, given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    open: Arc<Mutex<Open>>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

impl Tracker {
    pub(crate) fn new(max_total: usize, max_per_client: usize) -> Self {
        Self { open: Arc::default(), max_total: max_total.max(1), max_per_client: max_per_client.max(1) }
    }

    /// A slot for a connection from `client`, or `None` past a limit.
    pub(crate) fn admit(&self, client: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = open.by_client.get(&client).copied().unwrap_or(0);
        if open.total >= self.max_total || mine >= self.max_per_client {
            return None;
        }
        open.total += 1;
        *open.by_client.entry(client).or_default() += 1;
        Some(Slot { open: self.open.clone(), client })
    }
}

/// A TCP listener that admits connections within the [`Tracker`]'s limits.
pub(crate) struct Bounded {
    pub(crate) inner: TcpListener,
    pub(crate) tracker: Tracker,
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
            match self.tracker.admit(addr.ip()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_client_and_in_total_and_freed_on_drop() {
        let t = Tracker::new(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().expect("ip"), "127.0.0.2".parse().expect("ip"));
        let a1 = t.admit(a).expect("first");
        let _a2 = t.admit(a).expect("second");
        assert!(t.admit(a).is_none(), "a third from one client");
        let _b1 = t.admit(b).expect("another client");
        assert!(t.admit(b).is_none(), "the total");
        drop(a1);
        assert!(t.admit(b).is_some(), "a closed connection frees its slot");
    }
}
