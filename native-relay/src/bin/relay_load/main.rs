//! `relay-load`: load on the native relay from `edgecall-stream`
//! WebTransport sessions in this process, for `BENCHMARKS.md`.
//!
//! ```sh
//! cargo build --release -p edgecall-relay --bin relay-load
//! taskset -c 1 target/release/relay-load --relay-cpus 0 \
//!     --scenario fanout --senders 1 --receivers 10 --rate 5000 --seconds 10
//! ```
//!
//! (`taskset` keeps the relay and the load on separate cores.)
//!
//! Unless given `--relay-url`, it starts the relay itself (this build's
//! relay code, as a child process: self-signed certificate pinned by hash,
//! open mode, free loopback port) and stops it by PID. It prints forwarded
//! packets/s and MB/s, p50/p99 capture-to-receive delay (same host clock),
//! the relay's CPU (utime + stime over the send phase) and RSS, and loss.
//!
//! Scenarios: `fanout` — `senders` send audio datagrams at `rate` each,
//! `receivers` only receive, the engine forwards everything to everyone
//! (speaker selection and rate limits lifted); `room` — `senders`
//! participants each send audio at `rate` (the first loud, the others
//! silent, level 127) and camera frames on layer 0, plus `receivers`
//! receive-only participants, with the default engine configuration.

mod participant;
mod relay;
mod stats;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use edgecall_relay::config::Settings;
use edgecall_stream::{JoinConfig, Session, Trust};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;

use participant::{Plan, Schedule, Tally};
use relay::{ProcSample, Relay};

/// Sessions connecting at once.
const CONNECT_CONCURRENCY: usize = 16;
/// Pause after the last join, for roster updates to settle.
const SETTLE: Duration = Duration::from_secs(1);
/// Time after the send phase for the last frames to arrive.
const DRAIN: Duration = Duration::from_secs(1);

/// What load to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Audio datagrams from senders to receive-only participants; every
    /// receiver gets every frame.
    Fanout,
    /// Everyone sends audio (one loud speaker) and camera video; default
    /// selective forwarding.
    Room,
}

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "relay-load", about = "Load benchmark for edgecall-relay")]
struct Args {
    /// What to send.
    #[arg(long, value_enum, default_value = "fanout")]
    scenario: Scenario,
    /// Participants that send.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// Receive-only participants.
    #[arg(long, default_value_t = 10)]
    receivers: usize,
    /// Audio frames per second per sender.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Length of the send phase, seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Audio payload bytes (≈ 20 bytes of framing are added).
    #[arg(long, default_value_t = 140)]
    audio_bytes: usize,
    /// Camera frames per second per sender (`room` only).
    #[arg(long, default_value_t = 15.0)]
    video_fps: f64,
    /// Camera payload bytes (`room` only).
    #[arg(long, default_value_t = 1200)]
    video_bytes: usize,
    /// Room id.
    #[arg(long, default_value = "bench")]
    room: String,
    /// Use this running relay instead of starting one (its own room
    /// configuration applies: `fanout` lifts speaker selection and rate
    /// limits only on a relay this tool starts).
    #[arg(long, requires = "cert_sha256")]
    relay_url: Option<String>,
    /// Certificate SHA-256 (hex) of `--relay-url`.
    #[arg(long)]
    cert_sha256: Option<String>,
    /// Plain-HTTP base (`http://host:port`) of `--relay-url`, for /metrics.
    #[arg(long)]
    relay_http: Option<String>,
    /// Process id of `--relay-url`, for CPU and RSS.
    #[arg(long)]
    relay_pid: Option<u32>,
    /// CPUs the relay this tool starts may use (a `taskset -c` list, e.g.
    /// `0`). Run the tool itself under `taskset -c 1` so that relay and load
    /// do not share a core and "per core" figures mean what they say.
    #[arg(long, conflicts_with = "relay_url")]
    relay_cpus: Option<String>,
    /// `room`: every sender sends at the same instants (worst-case
    /// bursts). By default senders are spread evenly over the send period,
    /// as independent participants are.
    #[arg(long)]
    synchronized: bool,
}

fn main() -> Result<()> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|arg| arg == relay::SERVE_RELAY_ARG) {
        let relay_args = std::iter::once("edgecall-relay".into()).chain(argv[2..].iter().cloned());
        return edgecall_relay::run_process(Settings::from_args(relay_args)?);
    }
    let args = Args::parse();
    if !(args.rate >= 0.0 && args.video_fps >= 0.0 && args.seconds > 0.0) {
        bail!("--rate and --video-fps must be ≥ 0 and --seconds > 0");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(load(args))
}

/// The participants to join, in order.
fn plans(args: &Args) -> Vec<Plan> {
    let receiver = Plan {
        counted: true,
        ..Plan::default()
    };
    let sender = |index: usize| match args.scenario {
        Scenario::Fanout => Plan {
            audio_rate: args.rate,
            audio_bytes: args.audio_bytes,
            ..Plan::default()
        },
        Scenario::Room => Plan {
            audio_rate: args.rate,
            audio_bytes: args.audio_bytes,
            audio_level: if index == 0 { 0 } else { 127 },
            video_fps: args.video_fps,
            video_bytes: args.video_bytes,
            counted: true,
            phase: if args.synchronized {
                0.0
            } else {
                index as f64 / args.senders.max(1) as f64
            },
        },
    };
    (0..args.senders)
        .map(sender)
        .chain(std::iter::repeat_n(receiver, args.receivers))
        .collect()
}

async fn load(args: Args) -> Result<()> {
    let mut relay = match &args.relay_url {
        Some(url) => Relay::external(
            url.clone(),
            args.cert_sha256.clone().unwrap_or_default(),
            args.relay_http.clone(),
            args.relay_pid,
        ),
        None => Relay::start(
            (args.scenario == Scenario::Fanout).then_some(relay::RAW_FANOUT_ROOM),
            args.relay_cpus.as_deref(),
        )?,
    };
    let result = drive(&args, &relay).await;
    let stopped = relay.stop().context("stopping the relay");
    result?;
    stopped
}

async fn drive(args: &Args, relay: &Relay) -> Result<()> {
    let trust = Trust::cert_hash_hex(&relay.cert_sha256).context("the certificate hash")?;
    let plans = plans(args);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let empty = relay.sample()?;

    let joining = std::time::Instant::now();
    let (schedule_tx, schedule) = watch::channel(None);
    let tasks: Vec<_> = futures::stream::iter(plans.iter().enumerate())
        .map(|(index, plan)| {
            let config = JoinConfig::new(&relay.url, &args.room, &format!("p{index}"))
                .map(|config| config.trust(trust.clone()));
            let (plan, schedule) = (*plan, schedule.clone());
            async move {
                let session = Session::connect(&config?)
                    .await
                    .with_context(|| format!("participant {index} joining"))?;
                anyhow::Ok(tokio::spawn(participant::run(session, plan, schedule)))
            }
        })
        .buffered(CONNECT_CONCURRENCY)
        .try_collect()
        .await?;
    let join_time = joining.elapsed();
    tokio::time::sleep(SETTLE).await;
    let joined = relay.sample()?;
    let metrics_before = relay.metrics().await?;

    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs_f64(args.seconds);
    schedule_tx.send_replace(Some(Schedule {
        start,
        end,
        drain_end: end + DRAIN,
    }));
    tokio::time::sleep_until(start).await;
    let (relay_start, me_start) = (relay.sample()?, ProcSample::read("self")?);
    tokio::time::sleep_until(end).await;
    let (relay_end, me_end) = (relay.sample()?, ProcSample::read("self")?);

    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.context("a participant task panicked")??;
        total.audio_sent += tally.audio_sent;
        total.video_sent += tally.video_sent;
        total.send_errors += tally.send_errors;
        total.received += tally.received;
        total.received_bytes += tally.received_bytes;
        total.audio_delays_us.extend(tally.audio_delays_us);
        total.video_delays_us.extend(tally.video_delays_us);
        if tally.closed.is_some() {
            total.closed = tally.closed;
        }
    }
    let metrics_after = relay.metrics().await?;

    let participants = plans.len();
    println!("relay-load: {args:?}");
    println!(
        "joined {participants} participants in {:.1} s",
        join_time.as_secs_f64()
    );
    report_traffic(args, &total);
    if let (Some(before), Some(after)) = (&metrics_before, &metrics_after) {
        let delta = |name| stats::metric_sum(after, name) - stats::metric_sum(before, name);
        let out = delta("edgecall_frames_out_total");
        println!(
            "relay counters: frames in {} / out {}, drops {}; received/out {:.4}",
            delta("edgecall_frames_in_total"),
            out,
            delta("edgecall_drops_total"),
            total.received as f64 / out.max(1) as f64
        );
    }
    if let (Some(empty), Some(joined), Some(start), Some(end)) =
        (empty, joined, relay_start, relay_end)
    {
        println!(
            "relay CPU {:.0}% of one core; RSS {:.1} MiB at end (peak {:.1} MiB); empty {:.1} MiB; after joins {:.1} MiB = {:.1} KiB per joined participant",
            start.cpu_percent_until(&end),
            end.rss_kib as f64 / 1024.0,
            end.hwm_kib as f64 / 1024.0,
            empty.rss_kib as f64 / 1024.0,
            joined.rss_kib as f64 / 1024.0,
            joined.rss_kib.saturating_sub(empty.rss_kib) as f64 / participants as f64,
        );
    }
    println!(
        "load generator CPU {:.0}% of one core",
        me_start.cpu_percent_until(&me_end)
    );
    if let Some(reason) = total.closed {
        println!("WARNING: a session ended early: {reason}");
    }
    Ok(())
}

/// Prints rates, delays and loss.
fn report_traffic(args: &Args, total: &Tally) {
    let seconds = args.seconds;
    println!(
        "sent: {} audio + {} video frames ({} send errors)",
        total.audio_sent, total.video_sent, total.send_errors
    );
    println!(
        "received: {} media messages = {:.0} packets/s, {:.2} MB/s",
        total.received,
        total.received as f64 / seconds,
        total.received_bytes as f64 / seconds / 1e6
    );
    let all: Vec<u32> = [&total.audio_delays_us, &total.video_delays_us]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    for (what, delays) in [
        ("all", &all),
        ("audio", &total.audio_delays_us),
        ("video", &total.video_delays_us),
    ] {
        if delays.is_empty() {
            continue;
        }
        let mut sorted = delays.clone();
        sorted.sort_unstable();
        let ms = |p| stats::percentile(&sorted, p).map_or(f64::NAN, |us| f64::from(us) / 1000.0);
        println!(
            "delay capture→receive ({what}, {} frames): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            sorted.len(),
            ms(50.0),
            ms(99.0),
            ms(100.0)
        );
    }
    if args.scenario == Scenario::Fanout {
        let expected = total.audio_sent * args.receivers as u64;
        println!(
            "loss: expected {expected} (sent × {} receivers), received {}, lost {:.3}%",
            args.receivers,
            total.received,
            100.0 * expected.saturating_sub(total.received) as f64 / expected.max(1) as f64
        );
    }
}
