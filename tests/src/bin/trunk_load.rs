//! Load tool for the trunk hop (part of the bench suite, not a test): the
//! same sender → receivers load on four paths through real processes —
//! edge → edge, relay → relay, relay → edge and edge → relay (the last two
//! cross a relay's trunk to the edge) — measuring one-way latency (p50/p99,
//! same host clock) and the CPU of the relay and of wrangler+workerd.
//!
//! ```text
//! cargo build --release -p edgecall-relay -p edgecall-e2e --bin trunk-load
//! target/release/trunk-load --receivers 3 --rate 100 --seconds 10
//! ```
//!
//! The relay → relay baseline runs on a second relay without `--edge`, so
//! it carries no trunk at all.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use edgecall_e2e::client::Client;
use edgecall_e2e::edge::Edge;
use edgecall_e2e::frames::{camera, now_us};
use edgecall_e2e::load::{percentile, ProcessSample};
use edgecall_e2e::relay::RelayProcess;
use edgecall_proto::wire::server_message;
use edgecall_stream::Session;
use tokio::sync::mpsc;

const SECRET: &str = "trunk-load-secret";
/// Frames numbered from here on are measured; lower ones warm the path up.
const MEASURED_FROM: u64 = 1_000_000;

struct Args {
    receivers: usize,
    rate: u32,
    seconds: u64,
    size: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        receivers: 3,
        rate: 100,
        seconds: 10,
        size: 1_200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--receivers" => args.receivers = value()?.parse()?,
            "--rate" => args.rate = value()?.parse()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--size" => args.size = value()?.parse()?,
            "--help" | "-h" => {
                println!(
                    "trunk-load [--receivers N] [--rate frames/s] [--seconds S] [--size bytes]"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Edge,
    /// The relay that trunks to the edge.
    Trunked,
    /// The relay without a trunk.
    Plain,
}

/// A participant on one side.
enum Party {
    Edge(Client),
    Relay(Session),
}

struct Hosts {
    edge: Edge,
    trunked: RelayProcess,
    plain: RelayProcess,
}

impl Hosts {
    async fn join(&self, side: Side, room: &str, name: &str) -> Result<Party> {
        Ok(match side {
            Side::Edge => Party::Edge(
                Client::join(&format!(
                    "{}/api/rooms/{room}/ws?name={name}",
                    self.edge.ws_base()
                ))
                .await?,
            ),
            Side::Trunked => Party::Relay(self.trunked.join(room, name).await?),
            Side::Plain => Party::Relay(self.plain.join(room, name).await?),
        })
    }
}

/// A received frame: (receiver, sequence, one-way latency in µs).
type Received = (usize, u64, u64);

/// Forwards every media frame `party` receives.
fn receive(index: usize, party: Party, tx: mpsc::UnboundedSender<Received>) {
    tokio::spawn(async move {
        match party {
            Party::Edge(mut client) => {
                while let Some(frame) = client.next_media().await {
                    let latency = now_us().saturating_sub(frame.capture_time_us);
                    if tx.send((index, frame.sequence, latency)).is_err() {
                        return;
                    }
                }
            }
            Party::Relay(mut session) => {
                while let Ok(message) = session.recv().await {
                    if let Some(server_message::Msg::Media(frame)) = message.msg {
                        let latency = now_us().saturating_sub(frame.capture_time_us);
                        if tx.send((index, frame.sequence, latency)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
}

async fn send(sender: &mut Party, seq: u64, size: usize) -> Result<()> {
    let frame = camera(seq, size);
    match sender {
        Party::Edge(client) => client.media(frame).await,
        Party::Relay(session) => Ok(session.send_media(frame).await?),
    }
}

struct Outcome {
    sent: u64,
    latencies: Vec<u64>,
    secs: f64,
    relay_cpu: f64,
    edge_cpu: f64,
}

async fn measure(hosts: &Hosts, from: Side, to: Side, args: &Args) -> Result<Outcome> {
    let room = format!("trunk-load-{}", now_us() % 1_000_000_000);
    let mut sender = hosts.join(from, &room, "sender").await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in 0..args.receivers {
        receive(
            i,
            hosts.join(to, &room, &format!("r{i}")).await?,
            tx.clone(),
        );
    }
    drop(tx);
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1)));
    // Warm-up: until every receiver has frames (rosters, wants, trunk).
    let warm = Instant::now();
    let mut seq = 0;
    let mut warmed = std::collections::HashSet::new();
    while warm.elapsed() < Duration::from_secs(2) || warmed.len() < args.receivers {
        anyhow::ensure!(
            warm.elapsed() < Duration::from_secs(30),
            "the path never delivered"
        );
        send(&mut sender, seq, args.size).await?;
        seq += 1;
        tokio::time::sleep(interval).await;
        while let Ok((receiver, _, _)) = rx.try_recv() {
            warmed.insert(receiver);
        }
    }
    let relay_pid = match (from, to) {
        (Side::Plain, _) | (_, Side::Plain) => hosts.plain.pid(),
        _ => hosts.trunked.pid(),
    };
    let relay = ProcessSample::of(relay_pid);
    let edge = ProcessSample::of_group(hosts.edge.pid());
    let started = Instant::now();
    let mut next = tokio::time::Instant::now();
    let mut sent = 0;
    let mut seq = MEASURED_FROM;
    while started.elapsed() < Duration::from_secs(args.seconds) {
        send(&mut sender, seq, args.size).await?;
        seq += 1;
        sent += 1;
        next += interval;
        tokio::time::sleep_until(next).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let drain_until = Instant::now() + Duration::from_secs(2);
    loop {
        let left = drain_until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some((_, s, latency))) if s >= MEASURED_FROM => latencies.push(latency),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let relay_cpu = relay.map(|r| r.since().0).unwrap_or_default();
    let edge_cpu = edge.map(|e| e.since().0).unwrap_or_default();
    latencies.sort_unstable();
    Ok(Outcome {
        sent,
        latencies,
        secs,
        relay_cpu,
        edge_cpu,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let edge = Edge::start(&[
        ("HEARTBEAT_TIMEOUT_MS", "600000"),
        ("TRUNK_SECRET", SECRET),
        ("SENDER_MESSAGES_PER_SEC", "100000"),
        ("SENDER_BYTES_PER_SEC", "1000000000"),
    ])?;
    let trunked = RelayProcess::start(&[
        "--edge",
        &edge.http_base(),
        "--trunk-secret",
        SECRET,
        "--open-trunk",
    ])?;
    let plain = RelayProcess::start(&[])?;
    let hosts = Hosts {
        edge,
        trunked,
        plain,
    };
    println!(
        "trunk-load 1 → {} receivers, {} B camera frames at {}/s for {} s",
        args.receivers, args.size, args.rate, args.seconds
    );
    println!("| path | deliveries/s | p50 | p99 | relay CPU | wrangler+workerd CPU |");
    println!("|---|---|---|---|---|---|");
    let paths = [
        ("edge → edge", Side::Edge, Side::Edge),
        ("relay → relay (no trunk)", Side::Plain, Side::Plain),
        ("relay → edge (trunk)", Side::Trunked, Side::Edge),
        ("edge → relay (trunk)", Side::Edge, Side::Trunked),
    ];
    for (name, from, to) in paths {
        let out = measure(&hosts, from, to, &args).await?;
        let uses_relay = from != Side::Edge || to != Side::Edge;
        let uses_edge = from == Side::Edge || to == Side::Edge;
        let pct = |cpu: f64, used: bool| {
            if used {
                format!("{:.0} %", 100.0 * cpu / out.secs)
            } else {
                "–".into()
            }
        };
        println!(
            "| {name} | {:.0} of {:.0} | {:.1} ms | {:.1} ms | {} | {} |",
            out.latencies.len() as f64 / out.secs,
            (out.sent * args.receivers as u64) as f64 / out.secs,
            percentile(&out.latencies, 50.0) as f64 / 1_000.0,
            percentile(&out.latencies, 99.0) as f64 / 1_000.0,
            pct(out.relay_cpu, uses_relay),
            pct(out.edge_cpu, uses_edge),
        );
    }
    Ok(())
}
