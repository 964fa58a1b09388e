//! SIGTERM lets a request in flight finish before the process exits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn post(port: u16, path: &str, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

fn read_status(mut stream: TcpStream) -> String {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn sigterm_finishes_requests_in_flight() {
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .env_clear()
        .env("AUTH_DATA_DIR", data_dir.path())
        .env("AUTH_BIND", format!("127.0.0.1:{port}"))
        .env("AUTH_ISSUER", format!("http://127.0.0.1:{port}"))
        // Cost 15 makes one bcrypt hash take about two seconds on an idle
        // machine: the signal, sent 800 ms after the request, arrives while
        // the request is surely accepted and still running, even on a busy
        // CI machine.
        .env("AUTH_BCRYPT_COST", "15")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let stdout = BufReader::new(server.stdout.take().unwrap());
    let mut lines = stdout.lines();
    assert!(
        lines.any(|line| line.is_ok_and(|line| line.contains("auth server listening"))),
        "the server must start"
    );

    let in_flight = post(
        port,
        "/auth/register",
        r#"{"email":"late@example.com","password":"correct horse battery"}"#,
    );
    std::thread::sleep(Duration::from_millis(800));
    let signal = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status()
        .unwrap();
    assert!(signal.success());

    let status = read_status(in_flight);
    assert!(
        status.contains("201"),
        "the request in flight completes, got {status:?}"
    );
    let exit = server.wait().unwrap();
    assert!(exit.success(), "the server exits cleanly: {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|line| line.contains("auth server stopped")),
        "{rest:?}"
    );
}
