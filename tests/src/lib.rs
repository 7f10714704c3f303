//! Harness for edgecall's end-to-end tests: real components (wrangler dev,
//! the relay, headless Chromium) started on loopback ports the harness
//! picks, stopped by PID or process group, and a native client that speaks
//! the wire protocol.

pub mod browser;
pub mod client;
pub mod edge;
pub mod frames;
pub mod load;
pub mod relay;
pub mod web;

/// Finds a free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
