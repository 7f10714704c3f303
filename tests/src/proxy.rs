//! A TCP proxy on loopback that a test can sever and restore, to cut a
//! connection between two real components (e.g. a relay's trunk to the
//! edge) without stopping either.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy. Dropping it stops it and every connection through it.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `target`.
    pub async fn start(target: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let addr = listener.local_addr()?;
        let cut = Arc::new(AtomicBool::new(false));
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = tokio::spawn(accept(listener, target, cut.clone(), pipes.clone()));
        Ok(Self {
            addr,
            cut,
            pipes,
            acceptor,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Severs every connection and refuses new ones until [`Proxy::restore`].
    pub fn sever(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for pipe in self
            .pipes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            pipe.abort();
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.sever();
    }
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        if cut.load(Ordering::SeqCst) {
            // Dropping the accepted socket closes it: the peer sees a reset.
            continue;
        }
        let pipe = tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
        let mut pipes = pipes.lock().unwrap_or_else(|e| e.into_inner());
        pipes.retain(|p| !p.is_finished());
        pipes.push(pipe);
    }
}
