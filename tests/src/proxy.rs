//! A TCP proxy on loopback that a test can sever and restore, to cut a
//! connection between two real components (e.g. a relay's trunk to the
//! edge) without stopping either, silence, to turn the path of the open
//! connections into a black hole, or throttle, to give a client a slow
//! downlink. It counts what it forwards to the clients, so a test can
//! throttle relative to the rate it measured rather than to a figure that
//! holds only on some machines (a video encoder's output depends on what
//! the camera shows and on the encoder).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy. Dropping it stops it and every connection through it.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    downlink: Arc<AtomicU64>,
    /// Bytes forwarded from the target to the clients so far.
    delivered: Arc<AtomicU64>,
    pipes: Arc<Mutex<Vec<Pipe>>>,
    acceptor: JoinHandle<()>,
}

/// One proxied connection.
struct Pipe {
    task: JoinHandle<()>,
    /// Set: nothing more is forwarded either way, and nothing is closed.
    silenced: Arc<AtomicBool>,
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
        let downlink = Arc::new(AtomicU64::new(UNLIMITED));
        let delivered = Arc::new(AtomicU64::new(0));
        let pipes: Arc<Mutex<Vec<Pipe>>> = Arc::default();
        let acceptor = tokio::spawn(accept(
            listener,
            target,
            cut.clone(),
            Downlink {
                rate: downlink.clone(),
                delivered: delivered.clone(),
            },
            pipes.clone(),
        ));
        Ok(Self {
            addr,
            cut,
            downlink,
            delivered,
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
            pipe.task.abort();
        }
    }

    /// Stops forwarding on every open connection, both ways, without
    /// closing any (no FIN, no reset): a path that silently drops
    /// everything, which only a timeout can tell from a quiet one. New
    /// connections are forwarded as usual.
    pub fn silence(&self) {
        for pipe in self.pipes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            pipe.silenced.store(true, Ordering::SeqCst);
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// Limits what flows from the target back to the clients to
    /// `bytes_per_second` per connection (open ones included); `None`
    /// lifts the limit. What does not fit waits, as on a slow link.
    pub fn throttle_downlink(&self, bytes_per_second: Option<u64>) {
        self.downlink
            .store(bytes_per_second.unwrap_or(UNLIMITED), Ordering::SeqCst);
    }

    /// Bytes forwarded from the target to the clients since the proxy
    /// started, over every connection.
    pub fn downlink_bytes(&self) -> u64 {
        self.delivered.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.sever();
    }
}

/// The downlink rate meaning "no limit".
const UNLIMITED: u64 = u64::MAX;
/// Bytes forwarded per write when throttled.
const THROTTLE_CHUNK: usize = 1_024;

/// The shared state of every connection's target → client direction.
#[derive(Clone)]
struct Downlink {
    /// Bytes per second allowed per connection, or [`UNLIMITED`].
    rate: Arc<AtomicU64>,
    /// Bytes forwarded so far.
    delivered: Arc<AtomicU64>,
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    cut: Arc<AtomicBool>,
    downlink: Downlink,
    pipes: Arc<Mutex<Vec<Pipe>>>,
) {
    while let Ok((inbound, _)) = listener.accept().await {
        if cut.load(Ordering::SeqCst) {
            // Dropping the accepted socket closes it: the peer sees a reset.
            continue;
        }
        let downlink = downlink.clone();
        let silenced = Arc::new(AtomicBool::new(false));
        let flag = silenced.clone();
        let task = tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let (client_read, client_write) = inbound.into_split();
            let (target_read, target_write) = outbound.into_split();
            tokio::select! {
                _ = pump(client_read, target_write, None, &flag) => {}
                _ = pump(target_read, client_write, Some(downlink), &flag) => {}
            }
        });
        let mut pipes = pipes.lock().unwrap_or_else(|e| e.into_inner());
        pipes.retain(|p| !p.task.is_finished());
        pipes.push(Pipe { task, silenced });
    }
}

/// Copies `from` to `to` until either ends; for the downlink it counts
/// what it forwards and paces to the rate when one is set. Once `silenced`,
/// it swallows what arrives and holds both sockets open.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    downlink: Option<Downlink>,
    silenced: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let limit = downlink
            .as_ref()
            .map_or(UNLIMITED, |d| d.rate.load(Ordering::SeqCst));
        let max = if limit == UNLIMITED {
            buf.len()
        } else {
            THROTTLE_CHUNK
        };
        let n = match from.read(&mut buf[..max]).await {
            // A black hole passes on no close either: the other end finds
            // out by its own timeout, as across a dead path.
            Ok(0) | Err(_) if silenced.load(Ordering::SeqCst) => {
                return std::future::pending().await
            }
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if silenced.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(downlink) = &downlink {
            downlink.delivered.fetch_add(n as u64, Ordering::SeqCst);
        }
        if limit != UNLIMITED {
            let secs = n as f64 / limit.max(1) as f64;
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
    }
}
