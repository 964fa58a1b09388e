//! A TCP proxy on 127.0.0.1 that a test can cut and restore, to simulate a
//! database outage without stopping the shared database server.
//!
//! While the proxy is cut, every live connection is closed and new
//! connections are accepted and closed at once, so a client sees a dropped
//! connection rather than a timeout.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy to one upstream address. Dropping it stops the proxy and
/// closes every connection through it.
pub struct TcpProxy {
    address: SocketAddr,
    cut: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy to a free port");
        let address = listener.local_addr().expect("proxy address");
        let (cut, _) = watch::channel(false);

        let accept_cut = cut.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *accept_cut.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, upstream, accept_cut.subscribe()));
            }
        });

        TcpProxy {
            address,
            cut,
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
        self.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accept_task.abort();
    }
}

/// Copies bytes both ways until either side closes or the proxy is cut.
async fn forward(mut client: TcpStream, upstream: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|is_cut| *is_cut) => {}
    }
}
