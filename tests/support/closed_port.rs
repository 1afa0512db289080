//! A loopback port that refuses every connection for as long as the test holds it.
//!
//! Binding port 0, reading the port and closing the listener is not enough: the kernel hands a
//! just-released port to the next `bind(0)`, and tests run side by side, so another test's
//! server can be listening there by the time the request is sent (session 25 saw that happen to
//! a port chosen for an SDK server). A socket that is bound but never listens keeps the port
//! taken, and a connection to it is refused.

use std::net::SocketAddr;

/// A bound, never-listening loopback socket; the port is refused until this is dropped.
pub struct ClosedPort {
    address: SocketAddr,
    _socket: tokio::net::TcpSocket,
}

impl ClosedPort {
    /// Takes an ephemeral loopback port without listening on it.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().unwrap())
            .expect("bind a loopback port");
        Self {
            address: socket.local_addr().expect("the bound address"),
            _socket: socket,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}
