//! Bounded connections, against a node in a process of its own: two thousand WebSockets
//! from one client were all accepted and the node's memory went from 66 MB to 409 MB and
//! stayed there. Now one client gets at most `max_connections_per_client`, all clients
//! together at most `max_connections`, a closed connection frees its slot, and the node's
//! resident memory after the burst is back within 20 % of where it started.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket to the node from the loopback address `from`, answering one request; `None`
/// if the node closed the connection.
async fn open(from: &str, port: u16) -> Option<Ws> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(format!("{from}:0").parse().ok()?).ok()?;
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await.ok()?;
    let url = format!("ws://127.0.0.1:{port}/");
    let attempt = async {
        let (mut ws, _) = tokio_tungstenite::client_async(url, stream).await.ok()?;
        let ask = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
        ws.send(Message::text(ask)).await.ok()?;
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("result") => Some(ws),
            _ => None,
        }
    };
    tokio::time::timeout(Duration::from_secs(5), attempt).await.ok().flatten()
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("kB")
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_bounded_per_client_and_in_total_and_the_memory_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tradechain.toml");
    std::fs::write(&config, "chain_id = 7431\n[api]\nmax_connections = 120\nmax_connections_per_client = 50\n")
        .expect("config");
    let node = crate::start_node(&dir.path().join("node"), Some(&config));
    let port: u16 = node.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    // Warm up, then the baseline.
    for _ in 0..3 {
        drop(open("127.0.0.1", port).await.expect("a first connection"));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = resident_kib(node.pid());

    // One client asks for 500: it gets 50.
    let mut held = Vec::new();
    for _ in 0..500 {
        if let Some(ws) = open("127.0.0.1", port).await {
            held.push(ws);
        }
    }
    assert_eq!(held.len(), 50, "one client's share");
    // Others share what is left of the 120: 50, then 20, then none.
    let mut others = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let mut n = 0;
        for _ in 0..60 {
            if let Some(ws) = open(from, port).await {
                others.push(ws);
                n += 1;
            }
        }
        eprintln!("{from}: {n}");
    }
    assert_eq!(others.len(), 70, "the total");
    assert!(open("127.0.0.5", port).await.is_none(), "a new client past the total is refused too");

    // Closed: every slot comes back, and the memory with it.
    for mut ws in held.into_iter().chain(others) {
        let _ = ws.close(None).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = open("127.0.0.1", port).await;
    assert!(again.is_some(), "a closed connection frees its slot");
    drop(again);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = resident_kib(node.pid());
    eprintln!("resident memory: {before} KiB before, {after} KiB after");
    assert!(after * 100 <= before * 120, "resident memory {before} KiB before the burst, {after} KiB after");
}
