//! Hostile clients against both hosts: the edge (Worker + Room Durable
//! Object under real workerd) over WebSocket, and a real relay over
//! WebSocket and WebTransport.
//!
//! Every case runs an honest pair through the attack: alice publishes
//! sequence-numbered audio every 20 ms while the attacker misbehaves in the
//! same room, and bob receives. Each case checks that the offender gets the
//! documented close code, that bob receives every frame alice sent (none
//! lost, none passed off as hers), and that no frame reached him later than
//! [`FREEZE`] after it was sent — a detector for a stalled room (seconds to
//! tens of seconds before these defences), not a speed claim: on a healthy
//! host delays are milliseconds.
//!
//! Cases run one at a time, so one case's attack never lands in another's
//! measurements.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use edgecall_e2e::client::Client;
use edgecall_e2e::edge::Edge;
use edgecall_e2e::frames::{audio, camera, now_us};
use edgecall_e2e::relay::RelayProcess;
use edgecall_e2e::tail_lines;
use edgecall_e2e::trials::{run_on, unique_room};
use edgecall_proto::room::{CloseCode, RoomConfig};
use edgecall_proto::token::{mint, JoinClaims};
use edgecall_proto::wire::{self, client_message, server_message};
use edgecall_stream::{ClientError, JoinConfig, Session, TransportKind, Trust};
use libtest_mimic::{Arguments, Trial};
use prost::Message as _;

/// Frames alice sends through an attack (3 s at 50 frames/s).
const HONEST_FRAMES: u64 = 150;
/// Gap between two of alice's frames.
const FRAME_GAP: Duration = Duration::from_millis(20);
/// A frame later than this means the room stalled.
const FREEZE: Duration = Duration::from_secs(5);
/// Upper bound on waiting for expected frames or closes (the wait ends as
/// soon as they are there).
const ARRIVAL: Duration = Duration::from_secs(30);
/// How often a participant that only listens pings.
const KEEPALIVE: Duration = Duration::from_secs(2);

/// Which host and transport a case runs against.
#[derive(Clone)]
enum Target {
    EdgeWs(Arc<Edge>),
    RelayWs(Arc<RelayProcess>),
    RelayWt(Arc<RelayProcess>),
}

impl Target {
    fn label(&self) -> &'static str {
        match self {
            Target::EdgeWs(_) => "edge_ws",
            Target::RelayWs(_) => "relay_ws",
            Target::RelayWt(_) => "relay_wt",
        }
    }

    fn is_websocket(&self) -> bool {
        !matches!(self, Target::RelayWt(_))
    }

    /// A join over this target's transport.
    fn config(&self, room: &str, name: &str) -> Result<JoinConfig> {
        Ok(match self {
            Target::EdgeWs(edge) => {
                JoinConfig::new(&edge.http_base(), room, name)?.transport(TransportKind::WebSocket)
            }
            Target::RelayWs(relay) => {
                JoinConfig::new(&relay.http, room, name)?.transport(TransportKind::WebSocket)
            }
            Target::RelayWt(relay) => JoinConfig::new(&relay.url, room, name)?
                .transport(TransportKind::WebTransport)
                .trust(Trust::cert_hash_hex(&relay.cert_sha256)?),
        })
    }

    async fn join(&self, room: &str, name: &str) -> Result<Session> {
        Session::connect(&self.config(room, name)?)
            .await
            .with_context(|| format!("{name} joining {room} on {}", self.label()))
    }

    /// Joins as a client that ignores the announced limits (it sends what
    /// the host must close it for).
    async fn join_offender(&self, room: &str, name: &str) -> Result<Session> {
        let mut config = self.config(room, name)?;
        config.respect_limits = false;
        Session::connect(&config)
            .await
            .with_context(|| format!("{name} joining {room} on {}", self.label()))
    }

    /// Joins a host that verifies tokens with a valid one for `name`.
    async fn join_verified(&self, room: &str, name: &str) -> Result<Session> {
        let config = self
            .config(room, name)?
            .token(token(room, name, 600, SECRET)?);
        Session::connect(&config)
            .await
            .with_context(|| format!("{name} joining {room} on {} with a token", self.label()))
    }

    /// The HTTP status this host answers a refused join token with: the
    /// Worker says 401 for every refusal; the relay 401 for a missing token
    /// and 403 for one it refused.
    fn refusal_status(&self, missing: bool) -> u16 {
        match self {
            Target::EdgeWs(_) => 401,
            Target::RelayWs(_) | Target::RelayWt(_) if missing => 401,
            Target::RelayWs(_) | Target::RelayWt(_) => 403,
        }
    }

    /// The WebSocket URL of `room` on this target's host (for the cases
    /// that need bytes no well-formed client sends).
    fn ws_url(&self, room: &str, name: &str) -> String {
        let base = match self {
            Target::EdgeWs(edge) => edge.ws_base(),
            Target::RelayWs(relay) | Target::RelayWt(relay) => relay.http.replacen("http", "ws", 1),
        };
        format!("{base}/api/rooms/{room}/ws?name={name}")
    }

    /// The host's log tail, for failure messages.
    fn log_tail(&self) -> String {
        match self {
            Target::EdgeWs(edge) => edge.log_tail(),
            Target::RelayWs(relay) | Target::RelayWt(relay) => tail_lines(&relay.log(), 40),
        }
    }
}

/// What bob received from alice.
struct Received {
    sequences: BTreeSet<u64>,
    /// Frames attributed to alice that she never sent.
    foreign: u64,
    worst_delay: Duration,
    /// Frames from anyone else.
    others: u64,
    /// Participants bob saw leave.
    left: BTreeSet<u32>,
}

/// Receives until `expected` of alice's frames are in and, if given,
/// `leaver` was seen leaving (or [`ARRIVAL`] passed).
async fn receive_from(
    mut bob: Session,
    alice: u32,
    expected: u64,
    leaver: Option<u32>,
) -> Result<Received> {
    let mut got = Received {
        sequences: BTreeSet::new(),
        foreign: 0,
        worst_delay: Duration::ZERO,
        others: 0,
        left: BTreeSet::new(),
    };
    let done = |got: &Received| {
        got.sequences.len() as u64 >= expected && leaver.is_none_or(|id| got.left.contains(&id))
    };
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    // Bob only listens, so he pings to stay within the heartbeat.
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    while !done(&got) {
        let message = tokio::select! {
            _ = keepalive.tick() => {
                bob.ping().await.context("bob's keepalive")?;
                continue;
            }
            received = tokio::time::timeout_at(deadline, bob.recv()) => match received {
                Ok(Ok(message)) => message,
                Ok(Err(err)) => bail!("bob's session ended: {err}"),
                Err(_) => break,
            },
        };
        let frame = match message.msg {
            Some(server_message::Msg::Media(frame)) => frame,
            Some(server_message::Msg::Left(left)) => {
                got.left.insert(left.id);
                continue;
            }
            _ => continue,
        };
        if frame.sender != alice {
            got.others += 1;
            continue;
        }
        if frame.sequence >= expected {
            got.foreign += 1;
            continue;
        }
        let delay = Duration::from_micros(now_us().saturating_sub(frame.capture_time_us));
        got.worst_delay = got.worst_delay.max(delay);
        got.sequences.insert(frame.sequence);
    }
    bob.close();
    Ok(got)
}

/// Alice sends [`HONEST_FRAMES`] at `level` while `attack` runs; returns
/// what bob got from her and the attack's result.
async fn through<T>(
    alice: Session,
    bob: Session,
    level: u32,
    attack: impl Future<Output = Result<T>>,
) -> Result<(Received, T)> {
    through_until_left(alice, bob, level, None, attack).await
}

/// [`through`], with bob also waiting to see `leaver` leave.
async fn through_until_left<T>(
    alice: Session,
    bob: Session,
    level: u32,
    leaver: Option<u32>,
    attack: impl Future<Output = Result<T>>,
) -> Result<(Received, T)> {
    let alice_id = alice.participant_id();
    let receiving = tokio::spawn(receive_from(bob, alice_id, HONEST_FRAMES, leaver));
    let sending = async {
        let mut tick = tokio::time::interval(FRAME_GAP);
        for seq in 0..HONEST_FRAMES {
            tick.tick().await;
            alice
                .send_media(audio(seq, level))
                .await
                .with_context(|| format!("alice could not send frame {seq}"))?;
        }
        anyhow::Ok(())
    };
    let (sent, attacked) = tokio::join!(sending, attack);
    sent?;
    let attacked = attacked?;
    let received = receiving.await.context("bob's receiver panicked")??;
    alice.close();
    Ok((received, attacked))
}

/// Bob got all of alice's frames, none forged in her name, none frozen.
fn honest_pair_unharmed(what: &str, got: &Received) -> Result<()> {
    let missing: Vec<u64> = (0..HONEST_FRAMES)
        .filter(|s| !got.sequences.contains(s))
        .collect();
    ensure!(
        missing.is_empty(),
        "{what}: bob lost {} of alice's {HONEST_FRAMES} frames (first missing: {:?})",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    ensure!(
        got.foreign == 0,
        "{what}: bob got {} frames in alice's name that she never sent",
        got.foreign
    );
    ensure!(
        got.worst_delay < FREEZE,
        "{what}: a frame of alice's reached bob {:?} after she sent it",
        got.worst_delay
    );
    println!(
        "{what}: all {HONEST_FRAMES} honest frames, worst delay {:?}",
        got.worst_delay
    );
    Ok(())
}

/// Waits for the server to close `session`; checks the code.
async fn closed_with(mut session: Session, code: CloseCode) -> Result<()> {
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    loop {
        match tokio::time::timeout_at(deadline, session.recv()).await {
            Ok(Ok(_)) => {}
            Ok(Err(ClientError::Closed(info))) => {
                ensure!(
                    info.code == Some(u32::from(code.code())),
                    "closed with {info}, expected {code:?} ({})",
                    code.code()
                );
                return Ok(());
            }
            Ok(Err(err)) => bail!("expected close {code:?}, got {err}"),
            Err(_) => bail!("not closed within {ARRIVAL:?} (expected {code:?})"),
        }
    }
}

/// Alice, bob and mallory meet; mallory runs `offend` and must be closed
/// with `code`; alice and bob must not notice.
async fn only_the_offender<F, Fut>(
    target: Target,
    label: &str,
    code: CloseCode,
    offend: F,
) -> Result<()>
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = Result<Session>>,
{
    let room = unique_room(label);
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let mallory = target.join_offender(&room, "mallory").await?;
    let attack = async {
        let mallory = offend(mallory).await?;
        closed_with(mallory, code).await
    };
    let (got, ()) = through(alice, bob, 40, attack).await?;
    honest_pair_unharmed(label, &got)
}

/// The join-token secret of the secured edge and relay.
const SECRET: &str = "abuse-suite-join-token-secret-0123456789";

fn token(room: &str, name: &str, exp_from_now: i64, secret: &str) -> Result<String> {
    let now = (now_us() / 1_000_000) as i64;
    let claims = JoinClaims::new(room, name, (now + exp_from_now).max(0) as u64);
    Ok(mint(secret.as_bytes(), &claims)?)
}

/// An unsigned token (`alg: none`) with valid claims.
fn unsigned_token(room: &str, name: &str) -> Result<String> {
    let header = Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"JWT"}"#);
    let now = now_us() / 1_000_000;
    let claims = JoinClaims::new(room, name, now + 600)
        .to_json()
        .into_bytes();
    Ok(format!(
        "{header}.{}.",
        Base64UrlUnpadded::encode_string(&claims)
    ))
}

fn encode(msg: client_message::Msg) -> Bytes {
    Bytes::from(wire::ClientMessage { msg: Some(msg) }.encode_to_vec())
}

// ------------------------------------------------------------------ cases

async fn garbage_closes_only_the_sender(target: Target) -> Result<()> {
    only_the_offender(target, "garbage", CloseCode::Malformed, |m| async move {
        m.send_raw_control(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]))
            .await?;
        Ok(m)
    })
    .await
}

async fn a_truncated_message_closes_only_the_sender(target: Target) -> Result<()> {
    only_the_offender(target, "truncated", CloseCode::Malformed, |m| async move {
        let whole = encode(client_message::Msg::Media(camera(1, 1_000)));
        m.send_raw_control(whole.slice(..whole.len() / 2)).await?;
        Ok(m)
    })
    .await
}

async fn an_oversize_message_closes_only_the_sender(target: Target) -> Result<()> {
    let len = RoomConfig::default().max_message_bytes + 1024;
    only_the_offender(
        target,
        "oversize",
        CloseCode::TooLarge,
        move |m| async move {
            m.send_raw_control(encode(client_message::Msg::Media(camera(1, len))))
                .await?;
            Ok(m)
        },
    )
    .await
}

/// 16 KB audio frames as fast as the transport takes them: closed for its
/// rate, and the flood never reaches or delays the honest pair.
///
/// The Durable Object charges a message when it handles it, so a flood is
/// judged at the speed the object works through it: small frames at the
/// message limit (400/s) could be worked through below it on a slow
/// machine. At 16 KB the byte limit (1.25 MB/s) trips at any speed above
/// 80 messages/s, and the honest pair's small frames stay far below both
/// limits even when they reach the object bunched up behind the flood.
/// (Over WebTransport audio travels as datagrams, which cannot be 16 KB;
/// the relay judges rates by arrival time, so small frames trip it.)
async fn a_media_flood_closes_only_the_flooder(target: Target) -> Result<()> {
    let flood_frame_bytes = match target {
        Target::RelayWt(_) => None,
        Target::EdgeWs(_) | Target::RelayWs(_) => Some(16 * 1024),
    };
    only_the_offender(target, "flood", CloseCode::RateLimited, |m| async move {
        for seq in 0..5_000 {
            let mut frame = audio(seq, 127);
            if let Some(bytes) = flood_frame_bytes {
                frame.payload = vec![0x5A; bytes].into();
            }
            if m.send_media(frame).await.is_err() {
                break;
            }
        }
        Ok(m)
    })
    .await
}

async fn a_chat_flood_closes_only_the_sender(target: Target) -> Result<()> {
    let burst = RoomConfig::default().chat_burst_messages;
    only_the_offender(
        target,
        "chat-flood",
        CloseCode::RateLimited,
        move |m| async move {
            for i in 0..=burst * 3 {
                let chat = client_message::Msg::Chat(wire::Chat {
                    text: format!("{i}: {}", "spam ".repeat(300)),
                    ..wire::Chat::default()
                });
                if m.send(chat).await.is_err() {
                    break;
                }
            }
            Ok(m)
        },
    )
    .await
}

/// Text frames and media before Hello, which only a raw WebSocket can send.
async fn raw_websocket_offences_close_only_the_sender(target: Target) -> Result<()> {
    let room = unique_room("raw-ws");
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let attack = async {
        let mut texter = Client::join(&target.ws_url(&room, "texter")).await?;
        texter.send_text("{\"type\":\"hello\"}").await?;
        let (code, _) = texter.wait_closed(ARRIVAL).await?;
        ensure!(
            code == CloseCode::Malformed.code(),
            "text frame: closed with {code}"
        );
        let mut early = Client::connect_silent(&target.ws_url(&room, "early")).await?;
        early.media(audio(1, 10)).await?;
        let (code, _) = early.wait_closed(ARRIVAL).await?;
        ensure!(
            code == CloseCode::NotJoined.code(),
            "media before Hello: closed with {code}"
        );
        Ok(())
    };
    let (got, ()) = through(alice, bob, 40, attack).await?;
    honest_pair_unharmed("raw WebSocket offences", &got)
}

/// While alice and bob talk with valid tokens, eve tries every kind of bad
/// one: each is refused with the host's documented status before a room
/// sees it.
async fn bad_tokens_are_refused_and_harm_nobody(target: Target) -> Result<()> {
    let room = unique_room("tokens");
    let alice = target.join_verified(&room, "alice").await?;
    let bob = target.join_verified(&room, "bob").await?;
    let attack = async {
        let cases = [
            ("missing", None),
            ("expired", Some(token(&room, "eve", -60, SECRET)?)),
            ("wrong room", Some(token("elsewhere", "eve", 600, SECRET)?)),
            ("forged", Some(token(&room, "eve", 600, "not-the-secret")?)),
            ("alg none", Some(unsigned_token(&room, "eve")?)),
            ("garbage", Some("not.a.jwt".to_owned())),
        ];
        for (label, bad) in cases {
            let mut config = target.config(&room, "eve")?;
            if let Some(bad) = bad {
                config = config.token(bad);
            }
            let expected = target.refusal_status(label == "missing");
            match Session::connect(&config).await {
                Err(ClientError::Rejected { status }) => ensure!(
                    status == expected,
                    "{label} token: HTTP {status}, expected {expected}"
                ),
                Ok(_) => bail!("{label} token was admitted"),
                Err(err) => bail!("{label} token: {err}, expected HTTP {expected}"),
            }
        }
        Ok(())
    };
    let (got, ()) = through(alice, bob, 40, attack).await?;
    honest_pair_unharmed("bad tokens", &got)
}

/// Mallory's TCP connection is reset (RST, no close frame) right after
/// she joins: the host removes her, bob sees her leave, and the honest
/// stream is untouched.
async fn a_reset_connection_leaves_and_harms_nobody(target: Target) -> Result<()> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let room = unique_room("reset");
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let url = target.ws_url(&room, "mallory");
    let addr = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .context("host:port in the URL")?
        .to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp).await?;
    let hello = client_message::Msg::Hello(wire::Hello {
        protocol_version: edgecall_proto::PROTOCOL_VERSION,
        client: "reset".into(),
        ..wire::Hello::default()
    });
    ws.send(Message::Binary(encode(hello))).await?;
    let mallory = loop {
        let frame = tokio::time::timeout(ARRIVAL, ws.next())
            .await
            .context("no Welcome for mallory")?
            .context("mallory's socket ended")??;
        if let Message::Binary(data) = frame {
            if let Some(server_message::Msg::Welcome(w)) = wire::ServerMessage::decode(data)?.msg {
                break w.participant_id;
            }
        }
    };
    ws.get_ref().set_zero_linger()?;
    drop(ws);
    let (got, ()) = through_until_left(alice, bob, 40, Some(mallory), async { Ok(()) }).await?;
    honest_pair_unharmed("reset connection", &got)?;
    ensure!(
        got.left.contains(&mallory),
        "bob never saw the reset participant leave"
    );
    Ok(())
}

/// Mallory stamps alice's id on her frames: they reach bob as mallory's.
async fn a_spoofed_sender_is_restamped(target: Target) -> Result<()> {
    let room = unique_room("spoof");
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let mallory = target.join(&room, "mallory").await?;
    let alice_id = alice.participant_id();
    let attack = async {
        for seq in 0..50 {
            let mut frame = audio(HONEST_FRAMES + seq, 10);
            frame.sender = alice_id;
            mallory.send_media(frame).await?;
            tokio::time::sleep(FRAME_GAP).await;
        }
        anyhow::Ok(mallory)
    };
    let (got, mallory) = through(alice, bob, 40, attack).await?;
    honest_pair_unharmed("spoofed sender", &got)?;
    ensure!(
        got.others > 0,
        "none of mallory's frames reached bob under her own id"
    );
    mallory.close();
    Ok(())
}

/// Someone joins under alice's name: alice stays and keeps sending.
async fn a_same_name_join_kicks_nobody(target: Target) -> Result<()> {
    let room = unique_room("same-name");
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let identity = alice.welcome().identity.clone();
    let attack = async {
        let impostor = target.join(&room, "alice").await?;
        ensure!(
            impostor.welcome().identity != identity,
            "the impostor got alice's identity {identity:?}"
        );
        Ok(impostor)
    };
    let (got, impostor) = through(alice, bob, 40, attack).await?;
    honest_pair_unharmed("same-name join", &got)?;
    impostor.close();
    Ok(())
}

/// Forty participants join and leave in bursts of ten during the call.
async fn connection_churn_does_not_disturb_the_room(target: Target) -> Result<()> {
    let room = unique_room("churn");
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let attack = async {
        for wave in 0..4 {
            let joins = (0..10).map(|_| target.join(&room, "churn"));
            for joined in futures_util::future::join_all(joins).await {
                joined
                    .with_context(|| format!("a join of wave {wave}"))?
                    .close();
            }
        }
        anyhow::Ok(())
    };
    let (got, ()) = through(alice, bob, 40, attack).await?;
    honest_pair_unharmed("churn", &got)
}

/// Five participants claim 0 dBov nonstop while alice speaks at a normal
/// level in a room large enough for top-K audio: bob still hears her for a
/// fair share of the time (three places, six claimants: about half).
async fn loud_claimants_cannot_silence_an_honest_speaker(target: Target) -> Result<()> {
    const RUN_FRAMES: u64 = 600;
    let room = unique_room("loud");
    let config = RoomConfig::default();
    let alice = target.join(&room, "alice").await?;
    let bob = target.join(&room, "bob").await?;
    let mut loud = Vec::new();
    for i in 0..5 {
        loud.push(target.join(&room, &format!("loud{i}")).await?);
    }
    ensure!(2 + loud.len() > config.small_room_size, "too few to rank");
    let alice_id = alice.participant_id();
    let receiving = tokio::spawn(receive_from(bob, alice_id, RUN_FRAMES, None));
    let mut tick = tokio::time::interval(FRAME_GAP);
    for seq in 0..RUN_FRAMES {
        tick.tick().await;
        alice.send_media(audio(seq, 40)).await?;
        for attacker in &loud {
            attacker.send_media(audio(seq, 0)).await?;
        }
    }
    let got = receiving.await.context("bob's receiver panicked")??;
    let share = got.sequences.len() as f64 / RUN_FRAMES as f64;
    println!(
        "{}: bob heard {} of alice's {RUN_FRAMES} frames ({:.0} %) against 5 loud claimants",
        target.label(),
        got.sequences.len(),
        share * 100.0
    );
    ensure!(
        share >= 0.25,
        "alice was heard {:.0} % of the time against five loud claimants",
        share * 100.0
    );
    Ok(())
}

// ------------------------------------------------------------------ runner

type Case = fn(Target) -> std::pin::Pin<Box<dyn Future<Output = Result<()>>>>;

fn trial(name: &str, target: &Target, case: Case) -> Trial {
    let target = target.clone();
    Trial::test(format!("{name}_on_{}", target.label()), move || {
        run_on(target, "host log", Target::log_tail, case)
    })
}

macro_rules! case {
    ($f:ident) => {
        (stringify!($f), (|t| Box::pin($f(t))) as Case)
    };
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    let edge = match Edge::start(&[]) {
        Ok(edge) => Arc::new(edge),
        Err(err) => {
            eprintln!("cannot start the edge: {err:#}");
            std::process::exit(1);
        }
    };
    // Every client here comes from 127.0.0.1, where in a real meeting they
    // come from many addresses: like the edge harness (which exempts
    // loopback), the relay's per-address session limit is raised so the
    // churn case tests churn, not the limiter (native-relay/tests/abuse.rs
    // tests the limiter as deployed).
    let relay = match RelayProcess::start(&[
        "--session-rate-per-ip",
        "1000",
        "--session-burst-per-ip",
        "1000",
    ]) {
        Ok(relay) => Arc::new(relay),
        Err(err) => {
            eprintln!("cannot start the relay: {err:#}");
            std::process::exit(1);
        }
    };
    let secured_edge = match Edge::start(&[("JOIN_TOKEN_SECRET", SECRET)]) {
        Ok(edge) => Arc::new(edge),
        Err(err) => {
            eprintln!("cannot start the secured edge: {err:#}");
            std::process::exit(1);
        }
    };
    let secured_relay = match RelayProcess::start(&["--token-secret", SECRET]) {
        Ok(relay) => Arc::new(relay),
        Err(err) => {
            eprintln!("cannot start the secured relay: {err:#}");
            std::process::exit(1);
        }
    };
    let targets = [
        Target::EdgeWs(edge),
        Target::RelayWs(relay.clone()),
        Target::RelayWt(relay),
    ];
    let secured = [
        Target::EdgeWs(secured_edge),
        Target::RelayWs(secured_relay.clone()),
        Target::RelayWt(secured_relay),
    ];
    let every_transport = [
        case!(garbage_closes_only_the_sender),
        case!(a_truncated_message_closes_only_the_sender),
        case!(an_oversize_message_closes_only_the_sender),
        case!(a_media_flood_closes_only_the_flooder),
        case!(a_chat_flood_closes_only_the_sender),
        case!(a_spoofed_sender_is_restamped),
        case!(a_same_name_join_kicks_nobody),
        case!(connection_churn_does_not_disturb_the_room),
        case!(loud_claimants_cannot_silence_an_honest_speaker),
    ];
    let websocket_only = [
        case!(raw_websocket_offences_close_only_the_sender),
        case!(a_reset_connection_leaves_and_harms_nobody),
    ];
    let mut trials = Vec::new();
    for target in &targets {
        for (name, case) in every_transport {
            trials.push(trial(name, target, case));
        }
        if target.is_websocket() {
            for (name, case) in websocket_only {
                trials.push(trial(name, target, case));
            }
        }
    }
    for target in &secured {
        let (name, case) = case!(bad_tokens_are_refused_and_harm_nobody);
        trials.push(trial(name, target, case));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // `exit` skips destructors: stop the edges and relays first.
    drop(targets);
    drop(secured);
    conclusion.exit();
}
