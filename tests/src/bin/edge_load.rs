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
//! the baseline the engine's cost is measured against. The workloads are
//! the same: in the baseline every socket gets every message; on edgecall
//! the receivers subscribe explicitly to every sender's camera (the default
//! last-9 policy would leave a tenth sender out) and the senders follow the
//! default policy, so each sent frame is copied to every other socket on
//! both builds.
//!
//! `--steps N` raises the offered rate by `--growth` (default 1.5) each step until fewer than
//! 80 % of the offered deliveries arrive within the step (saturation) and
//! prints the most deliveries/s achieved. `--pin-server` and `--pin-load`
//! pin wrangler+workerd and this tool to CPU lists (`taskset` syntax).
//!
//! `--cpu-profile FILE` samples the Worker's isolate (Worker, Durable
//! Object, engine) over the steps, writes the DevTools `.cpuprofile` to FILE
//! and prints where the time went. For function names in the wasm, build
//! the edge with `cargo xtask build-edge --keep-names` first.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use edgecall_e2e::client::Client;
use edgecall_e2e::edge::{Edge, EdgeBuild};
use edgecall_e2e::frames::{camera, now_us};
use edgecall_e2e::load::{percentile, pin_group, ProcessSample};
use edgecall_e2e::profile::{summarize, CpuProfiler};
use edgecall_proto::wire::{self, client_message, subscribe, ClientMessage, Track};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Microseconds between CPU profile samples.
const PROFILE_INTERVAL_US: u32 = 200;

/// Functions listed in the profile summary.
const PROFILE_TOP: usize = 40;

struct Args {
    senders: usize,
    receivers: usize,
    rate: u32,
    seconds: u64,
    size: usize,
    bare: bool,
    /// Steps of rising load until the edge saturates.
    steps: u32,
    /// Factor of the offered rate from one step to the next.
    growth: f64,
    pin_server: Option<String>,
    pin_load: Option<String>,
    /// Where to write a CPU profile of the Worker's isolate over the steps.
    cpu_profile: Option<std::path::PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        senders: 1,
        receivers: 3,
        rate: 100,
        seconds: 10,
        size: 1_200,
        bare: false,
        steps: 1,
        growth: 1.5,
        pin_server: None,
        pin_load: None,
        cpu_profile: None,
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
            "--steps" => args.steps = value()?.parse()?,
            "--growth" => args.growth = value()?.parse()?,
            "--pin-server" => args.pin_server = Some(value()?),
            "--pin-load" => args.pin_load = Some(value()?),
            "--cpu-profile" => args.cpu_profile = Some(value()?.into()),
            "--help" | "-h" => {
                println!(
                    "edge-load [--senders N] [--receivers N] [--rate frames/s per sender] \
                     [--seconds S] [--size bytes] [--bare] [--steps N] [--growth F] \
                     [--pin-server CPUS] [--pin-load CPUS] [--cpu-profile FILE]"
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
    if let Some(cpus) = &args.pin_server {
        pin_group(edge.pid(), cpus).context("pinning the edge")?;
    }
    if let Some(cpus) = &args.pin_load {
        pin_group(std::process::id(), cpus).context("pinning the load tool")?;
    }
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
    // The edge announces its subscription limit in the Welcome.
    let limit = senders.iter().find_map(|s| match s {
        Sender::Engine(client) => client.welcome.limits.as_ref().map(|l| l.max_subscriptions),
        Sender::Raw(_) => None,
    });
    if let Some(limit) = limit.filter(|&limit| args.senders > limit as usize) {
        bail!(
            "each receiver subscribes to every sender: at most {limit} senders \
             (the edge's announced subscription limit)"
        );
    }
    let every_camera = wire::Subscribe {
        mode: subscribe::Mode::Explicit.into(),
        subscriptions: senders
            .iter()
            .filter_map(|s| match s {
                Sender::Engine(client) => Some(wire::Subscription {
                    participant: client.id,
                    track: Track::Camera.into(),
                    max_layer: u32::from(edgecall_proto::room::MAX_LAYER),
                }),
                Sender::Raw(_) => None,
            })
            .collect(),
    };
    for i in 0..args.receivers {
        let name = format!("r{i}");
        let tx = tx.clone();
        if args.bare {
            tokio::spawn(receiver_bare(url(&name), tx));
        } else {
            let mut client = Client::join(&url(&name)).await?;
            client
                .send(client_message::Msg::Subscribe(every_camera.clone()))
                .await?;
            tokio::spawn(async move {
                while let Some(frame) = client.next_media().await {
                    let _ = tx.send(now_us().saturating_sub(frame.capture_time_us));
                }
            });
        }
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let label = if args.bare {
        "bare-broadcast"
    } else {
        "edgecall"
    };
    println!(
        "edge-load {label} senders={} receivers={} size={}B seconds={}{}",
        args.senders,
        args.receivers,
        args.size,
        args.seconds,
        args.pin_server
            .as_ref()
            .map(|c| format!(" server-cpus={c}"))
            .unwrap_or_default()
    );
    let profiler = match &args.cpu_profile {
        Some(_) => Some(CpuProfiler::start(edge.inspector_port(), PROFILE_INTERVAL_US).await?),
        None => None,
    };
    let mut seq = 0u64;
    let mut rate = args.rate;
    let mut best = 0.0f64;
    for step in 0..args.steps.max(1) {
        let server = ProcessSample::of_group(edge.pid());
        let offered = offer(&mut senders, rate, args.seconds, args.size, &mut seq).await?;
        // What arrived while the load was offered is the throughput; the
        // tail drains before the next step.
        let mut latencies = Vec::new();
        while let Ok(l) = rx.try_recv() {
            latencies.push(l);
        }
        let in_window = latencies.len() as u64;
        let cpu = server.as_ref().map(ProcessSample::since);
        drain(&mut rx, &mut latencies).await;
        latencies.sort_unstable();
        let achieved = in_window as f64 / offered.secs;
        let offered_deliveries = offered.frames as f64 * deliveries_per_frame(&args) / offered.secs;
        best = best.max(achieved);
        println!(
            "  step {step}: offered {rate}/s/sender = {offered_deliveries:.0} deliveries/s; \
             achieved {achieved:.0} deliveries/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}",
            percentile(&latencies, 50.0) as f64 / 1_000.0,
            percentile(&latencies, 99.0) as f64 / 1_000.0,
            latencies.last().copied().unwrap_or(0) as f64 / 1_000.0,
            cpu.map(|(cpu_secs, rss_kb)| format!(
                "; wrangler+workerd CPU {:.0}% of one core, RSS {} MB",
                100.0 * cpu_secs / offered.secs,
                rss_kb / 1024
            ))
            .unwrap_or_default()
        );
        if achieved < 0.8 * offered_deliveries {
            println!("  saturated: achieved < 80 % of offered");
            break;
        }
        // At least one frame/s more, whatever the factor.
        rate = ((f64::from(rate) * args.growth).round() as u32).max(rate + 1);
    }
    println!("  max achieved: {best:.0} deliveries/s ({label})");
    if !args.bare {
        // The workload check: each frame should be copied to every other
        // socket, as the baseline does.
        let metrics = edge.room_metrics(&room)?;
        let (frames_in, frames_out) = (
            metrics
                .get("edgecall_frames_in_total")
                .copied()
                .unwrap_or(0),
            metrics
                .get("edgecall_frames_out_total")
                .copied()
                .unwrap_or(0),
        );
        println!(
            "  copies per frame: {:.2} ({frames_out} out for {frames_in} in; the baseline sends {} per frame)",
            frames_out as f64 / frames_in.max(1) as f64,
            args.senders + args.receivers - 1
        );
        println!(
            "  alarms set: {}, failed sends: {}",
            metrics
                .get("edgecall_alarms_set_total")
                .copied()
                .unwrap_or(0),
            metrics
                .get("edgecall_failed_sends_total")
                .copied()
                .unwrap_or(0)
        );
    }
    if let (Some(profiler), Some(path)) = (profiler, &args.cpu_profile) {
        let profile = profiler.stop().await?;
        std::fs::write(path, profile.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", summarize(&profile, PROFILE_TOP)?);
        println!("  profile written to {}", path.display());
    }
    Ok(())
}

/// Frames counted per frame sent: every receiver gets every sender, on
/// both builds (edgecall's receivers subscribe to every sender's camera).
fn deliveries_per_frame(args: &Args) -> f64 {
    args.receivers as f64
}

/// What one step offered.
struct Offered {
    frames: u64,
    secs: f64,
}

/// Each sender sends `rate` frames/s of `size` bytes for `seconds`.
async fn offer(
    senders: &mut [Sender],
    rate: u32,
    seconds: u64,
    size: usize,
    seq: &mut u64,
) -> Result<Offered> {
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut next = tokio::time::Instant::now();
    let mut frames = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        for sender in senders.iter_mut() {
            let frame = camera(*seq, size);
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
            frames += 1;
        }
        *seq += 1;
        next += interval;
        tokio::time::sleep_until(next).await;
    }
    Ok(Offered {
        frames,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// Takes what is still arriving until nothing comes for a second (at most
/// 30 s).
async fn drain(rx: &mut mpsc::UnboundedReceiver<Latency>, latencies: &mut Vec<Latency>) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            Ok(Some(l)) => latencies.push(l),
            _ => break,
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    run(parse_args()?).await
}
