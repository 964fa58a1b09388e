//! A TCP proxy on 127.0.0.1 that a test can cut, freeze and restore, to
//! simulate a database outage without stopping the shared database server.
//!
//! While the proxy is cut, every live connection is closed and new
//! connections are accepted and closed at once, so a client sees a dropped
//! connection. While it is frozen, connections stay open but no byte moves,
//! so a client sees a server that stopped answering.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Cut,
    Frozen,
}

/// A running proxy to one upstream address. Dropping it stops the proxy and
/// closes every connection through it.
pub struct TcpProxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    accept_task: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy to a free port");
        let address = listener.local_addr().expect("proxy address");
        let (mode, _) = watch::channel(Mode::Forward);

        let accept_mode = mode.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *accept_mode.borrow() == Mode::Cut {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, upstream, accept_mode.subscribe()));
            }
        });

        TcpProxy {
            address,
            mode,
            accept_task,
        }
    }

    /// Returns the address that clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every live connection and rejects new ones until [`restore`].
    ///
    /// [`restore`]: TcpProxy::restore
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Stops moving bytes on every connection, old and new, while keeping
    /// them open, until [`cut`] or [`restore`]. Connections frozen mid-query
    /// are closed when the proxy is cut.
    ///
    /// [`cut`]: TcpProxy::cut
    /// [`restore`]: TcpProxy::restore
    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Frozen);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Cut);
        self.accept_task.abort();
    }
}

/// Copies bytes both ways until either side closes or the proxy is cut; a
/// freeze keeps the connection silent until the proxy is cut.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    if *mode.borrow() == Mode::Frozen && mode.wait_for(|mode| *mode != Mode::Frozen).await.is_err()
    {
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let stopped = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
        changed = mode.wait_for(|mode| *mode != Mode::Forward) => changed.ok().map(|mode| *mode),
    };
    if stopped == Some(Mode::Frozen) {
        let _ = mode.wait_for(|mode| *mode == Mode::Cut).await;
    }
}
