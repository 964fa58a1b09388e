//! A client that announces a body and never sends it gets 408 instead of
//! holding the connection forever.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use integration_tests::TestAuthServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_times_out_with_408() {
    let server = TestAuthServer::spawn().await;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let started = Instant::now();

    stream
        .write_all(b"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"")
        .await
        .unwrap();
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response)).await;

    assert!(read.is_ok(), "the server must answer within 30 s");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "the client gets the whole body timeout"
    );
}
