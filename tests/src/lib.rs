//! Harness for edgecall's end-to-end tests: real components (workerd via
//! wrangler, relays, nats-server) started on loopback ports the harness
//! picks, stopped by PID, a severable TCP proxy, and a native client that
//! speaks the wire protocol.

pub mod client;
pub mod edge;
pub mod frames;
pub mod load;
pub mod proxy;
pub mod relay;
pub mod trials;

/// Finds a free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
