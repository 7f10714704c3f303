//! Load tool for the edge (part of the bench suite, not a test): one room
//! under real workerd (`wrangler dev`), S senders and R receivers sending
//! 1.2 KB frames at a fixed rate, measuring deliveries per second, one-way
//! latency (p50/p99, same host clock) and workerd's CPU and memory.
//!
//! ```text
//! cargo run --release -p edgecall-e2e --bin edge-load -- --senders 1 --receivers 3
//! cargo run --release -p edgecall-e2e --bin edge-load -- --senders 1 --receivers 3 --bare
//! ```
//!
//! `--bare` runs the same load against a bare broadcast Durable Object
//! (benches/bare-broadcast: every message to every other socket, no engine),
//! the baseline the engine's cost is measured against.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use edgecall_e2e::client::Client;
use edgecall_e2e::edge::{Edge, EdgeBuild};
use edgecall_e2e::frames::{camera, now_us};
use edgecall_e2e::load::{percentile, ProcessSample};
use edgecall_proto::wire::{client_message, ClientMessage};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    senders: usize,
    receivers: usize,
    rate: u32,
    seconds: u64,
    size: usize,
    bare: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        senders: 1,
        receivers: 3,
        rate: 100,
        seconds: 10,
        size: 1_200,
        bare: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--senders" => args.senders = value()?.parse()?,
            "--receivers" => args.receivers = value()?.parse()?,
            "--rate" => args.rate = value()?.parse()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--size" => args.size = value()?.parse()?,
            "--bare" => args.bare = true,
            "--help" | "-h" => {
                println!(
                    "edge-load [--senders N] [--receivers N] [--rate frames/s per sender] \
                     [--seconds S] [--size bytes] [--bare]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// One received frame: its one-way latency in microseconds.
type Latency = u64;

type RawSink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// A sending participant: a raw socket (bare broadcast) or a protocol client.
enum Sender {
    Raw(RawSink),
    Engine(Box<Client>),
}

async fn receiver_bare(url: String, tx: mpsc::UnboundedSender<Latency>) -> Result<()> {
    let (ws, _) = tokio_tungstenite::connect_async(&url).await?;
    let (_sink, mut stream) = ws.split();
    while let Some(Ok(msg)) = stream.next().await {
        if let Message::Binary(data) = msg {
            if let Ok(ClientMessage {
                msg: Some(client_message::Msg::Media(f)),
            }) = ClientMessage::decode(data)
            {
                let _ = tx.send(now_us().saturating_sub(f.capture_time_us));
            }
        }
    }
    Ok(())
}

async fn run(args: Args) -> Result<()> {
    let build = if args.bare {
        EdgeBuild::BareBroadcast
    } else {
        EdgeBuild::Edgecall
    };
    let edge = Edge::start_build(
        build,
        &[
            ("HEARTBEAT_TIMEOUT_MS", "600000"),
            ("SENDER_MESSAGES_PER_SEC", "100000"),
            ("SENDER_BYTES_PER_SEC", "1000000000"),
        ],
    )?;
    let room = format!("load-{}", now_us() % 1_000_000);
    let url = |name: &str| format!("{}/api/rooms/{room}/ws?name={name}", edge.ws_base());
    let (tx, mut rx) = mpsc::unbounded_channel::<Latency>();

    // Senders join first so that they are the room's most recent speakers.
    let mut senders = Vec::new();
    for i in 0..args.senders {
        let name = format!("s{i}");
        if args.bare {
            let (ws, _) = tokio_tungstenite::connect_async(url(&name)).await?;
            senders.push(Sender::Raw(ws.split().0));
        } else {
            senders.push(Sender::Engine(Box::new(Client::join(&url(&name)).await?)));
        }
    }
    for i in 0..args.receivers {
        let name = format!("r{i}");
        let tx = tx.clone();
        if args.bare {
            tokio::spawn(receiver_bare(url(&name), tx));
        } else {
            let mut client = Client::join(&url(&name)).await?;
            tokio::spawn(async move {
                while let Some(frame) = client.next_media().await {
                    let _ = tx.send(now_us().saturating_sub(frame.capture_time_us));
                }
            });
        }
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let server = ProcessSample::of_group(edge.pid());
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    let mut next = tokio::time::Instant::now();
    let mut sent = 0u64;
    let mut seq = 0u64;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        for sender in senders.iter_mut() {
            let frame = camera(seq, args.size);
            match sender {
                Sender::Raw(sink) => {
                    let data = ClientMessage {
                        msg: Some(client_message::Msg::Media(frame)),
                    }
                    .encode_to_vec();
                    sink.send(Message::Binary(data.into())).await?;
                }
                Sender::Engine(client) => {
                    // What it receives is read and acknowledged, as a
                    // real client would, so the edge does not hold it back.
                    client.drain_ready().await;
                    client.media(frame).await?
                }
            }
            sent += 1;
        }
        seq += 1;
        next += interval;
        tokio::time::sleep_until(next).await;
    }
    let send_secs = started.elapsed().as_secs_f64();
    // Let the tail drain.
    let mut latencies = Vec::new();
    let drain_until = Instant::now() + Duration::from_secs(3);
    loop {
        let left = drain_until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(l)) => latencies.push(l),
            _ => break,
        }
    }
    let cpu = server.as_ref().map(ProcessSample::since);
    latencies.sort_unstable();
    let delivered = latencies.len() as u64;
    println!(
        "edge-load {} senders={} receivers={} rate={}/s/sender size={}B seconds={}",
        if args.bare {
            "bare-broadcast"
        } else {
            "edgecall"
        },
        args.senders,
        args.receivers,
        args.rate,
        args.size,
        args.seconds
    );
    println!(
        "  frames sent       {sent} ({:.0}/s)",
        sent as f64 / send_secs
    );
    println!(
        "  deliveries        {delivered} ({:.0}/s)",
        delivered as f64 / send_secs
    );
    println!(
        "  latency           p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 50.0) as f64 / 1_000.0,
        percentile(&latencies, 99.0) as f64 / 1_000.0,
        latencies.last().copied().unwrap_or(0) as f64 / 1_000.0
    );
    if let Some((cpu_secs, rss_kb)) = cpu {
        println!(
            "  wrangler+workerd  CPU {:.0}% of one core, RSS {} MB",
            100.0 * cpu_secs / send_secs,
            rss_kb / 1024
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    run(parse_args()?).await
}
