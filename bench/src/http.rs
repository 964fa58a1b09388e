//! A lean HTTP/1.1 client: one keep-alive connection per load worker, built
//! on hyper's connection API so the load generator spends as little of the
//! shared CPU as possible.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::BenchError;

/// One request to repeat: method, path, optional bearer token and JSON body.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub path: String,
    pub bearer: Option<String>,
    pub json_body: Option<Bytes>,
}

impl RequestSpec {
    /// Creates a GET request of `path` without credentials.
    pub fn get(path: &str) -> RequestSpec {
        RequestSpec {
            method: Method::GET,
            path: path.to_owned(),
            bearer: None,
            json_body: None,
        }
    }

    /// Creates a POST request of `body`, serialized as JSON, to `path`.
    pub fn post_json(path: &str, body: &serde_json::Value) -> RequestSpec {
        RequestSpec {
            method: Method::POST,
            path: path.to_owned(),
            bearer: None,
            json_body: Some(Bytes::from(body.to_string())),
        }
    }

    /// Adds `Authorization: Bearer <token>` to the request.
    pub fn with_bearer(mut self, token: &str) -> RequestSpec {
        self.bearer = Some(format!("Bearer {token}"));
        self
    }
}

/// A response status and its whole body.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Response {
    /// Parses the body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, BenchError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            BenchError::new(format!(
                "response body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            ))
        })
    }
}

/// A keep-alive HTTP/1.1 connection to one server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    /// Opens a TCP connection to `address` with Nagle's algorithm off.
    pub async fn open(address: SocketAddr) -> Result<Connection, BenchError> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|error| BenchError::new(format!("connecting to {address} failed: {error}")))?;
        stream
            .set_nodelay(true)
            .map_err(|error| BenchError::new(format!("setting TCP_NODELAY failed: {error}")))?;

        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| {
                BenchError::new(format!("HTTP handshake with {address} failed: {error}"))
            })?;
        // The connection task ends when the server closes the socket or the
        // sender is dropped. Its error shows up on the next request instead.
        tokio::spawn(async move {
            let _ = connection.await;
        });

        Ok(Connection {
            sender,
            host: address.to_string(),
        })
    }

    /// Sends `spec` and reads the whole response.
    pub async fn send(&mut self, spec: &RequestSpec) -> Result<Response, BenchError> {
        let mut builder = Request::builder()
            .method(spec.method.clone())
            .uri(spec.path.as_str())
            .header(HOST, self.host.as_str());
        if let Some(bearer) = &spec.bearer {
            builder = builder.header(AUTHORIZATION, bearer.as_str());
        }
        if spec.json_body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let body = Full::new(spec.json_body.clone().unwrap_or_default());
        let request = builder
            .body(body)
            .map_err(|error| BenchError::new(format!("invalid request {}: {error}", spec.path)))?;

        self.sender
            .ready()
            .await
            .map_err(|error| BenchError::new(format!("connection closed: {error}")))?;
        let response = self.sender.send_request(request).await.map_err(|error| {
            BenchError::new(format!("{} {} failed: {error}", spec.method, spec.path))
        })?;

        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| {
                BenchError::new(format!("reading the body of {} failed: {error}", spec.path))
            })?
            .to_bytes();
        Ok(Response { status, body })
    }
}

/// Sends one request on a new connection, for setup steps.
pub async fn send_once(address: SocketAddr, spec: &RequestSpec) -> Result<Response, BenchError> {
    Connection::open(address).await?.send(spec).await
}
