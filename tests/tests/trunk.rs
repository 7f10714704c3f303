//! One meeting across the edge and relays: real workerd (`wrangler dev`),
//! real `edgecall-relay` processes trunking to it, a real nats-server, a
//! severable TCP proxy, WebSocket clients on the edge and WebTransport
//! clients (edgecall-stream) on the relays.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use edgecall_e2e::client::{Client, Event, Trunk};
use edgecall_e2e::edge::Edge;
use edgecall_e2e::frames::{audio, camera};
use edgecall_e2e::proxy::Proxy;
use edgecall_e2e::relay::{NatsServer, RelayProcess};
use edgecall_e2e::trials::{trial, unique_room};
use edgecall_proto::token::{mint, JoinClaims};
use edgecall_proto::wire::{self, link_message, server_message, MediaFrame, Track};
use edgecall_stream::{JoinConfig, Session, TransportKind, Trust};
use libtest_mimic::Arguments;

const TRUNK_SECRET: &str = "e2e-trunk-secret";
/// The secured edge's JOIN_TOKEN_SECRET.
const JOIN_SECRET: &str = "e2e-join-token-secret";
/// Long engine heartbeats on both sides: the test clients do not ping.
const HEARTBEAT_MS: &str = "120000";
const NATS_HEARTBEAT_MS: u64 = 200;
const NATS_TIMEOUT_MS: u64 = 1_500;
/// Generous bound for rosters to converge (trunk backoff is capped at 10 s).
const CONVERGE: Duration = Duration::from_secs(30);

/// A relay config file with a long engine heartbeat.
fn relay_config() -> Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join(format!("edgecall-trunk-e2e-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        format!("[room]\nheartbeat_timeout_ms = {HEARTBEAT_MS}\n"),
    )?;
    Ok(path)
}

/// Starts an open relay trunking to the open `edge` with `secret`, plus
/// `extra` flags.
fn relay(edge: &str, secret: &str, extra: &[&str]) -> Result<RelayProcess> {
    let mut flags = vec!["--open-trunk"];
    flags.extend_from_slice(extra);
    relay_with(edge, secret, &flags)
}

/// Starts a relay trunking to `edge` with `secret` and exactly `extra`.
fn relay_with(edge: &str, secret: &str, extra: &[&str]) -> Result<RelayProcess> {
    let config = relay_config()?;
    let mut flags = vec![
        "--config",
        config.to_str().context("temp path")?,
        "--edge",
        edge,
        "--trunk-secret",
        secret,
    ];
    flags.extend_from_slice(extra);
    RelayProcess::start(&flags)
}

fn clustered(edge: &str, nats: &NatsServer) -> Result<RelayProcess> {
    let url = nats.url();
    let heartbeat = NATS_HEARTBEAT_MS.to_string();
    let timeout = NATS_TIMEOUT_MS.to_string();
    relay(
        edge,
        TRUNK_SECRET,
        &[
            "--nats",
            &url,
            "--nats-heartbeat-ms",
            &heartbeat,
            "--nats-timeout-ms",
            &timeout,
        ],
    )
}

// ------------------------------------------------------------------ parties

/// One participant, on the edge (WebSocket) or on a relay (WebTransport),
/// with the roster and media it has seen.
struct Party {
    name: &'static str,
    conn: Conn,
    /// Participant id → (name, remote), as this participant's host numbers them.
    roster: BTreeMap<u32, (String, bool)>,
    media: Vec<MediaFrame>,
}

enum Conn {
    Edge(Client),
    Relay(Session),
}

impl Party {
    async fn on_edge(edge: &Edge, room: &str, name: &'static str) -> Result<Self> {
        let url = format!("{}/api/rooms/{room}/ws?name={name}", edge.ws_base());
        let client = Client::join(&url).await?;
        let welcome = client.welcome.clone();
        Ok(Self::new(name, Conn::Edge(client), &welcome))
    }

    async fn on_relay(relay: &RelayProcess, room: &str, name: &'static str) -> Result<Self> {
        let session = relay.join(room, name).await?;
        let welcome = session.welcome().clone();
        Ok(Self::new(name, Conn::Relay(session), &welcome))
    }

    fn new(name: &'static str, conn: Conn, welcome: &wire::Welcome) -> Self {
        let roster = welcome
            .roster
            .iter()
            .map(|p| (p.id, (p.name.clone(), p.remote)))
            .collect();
        Self {
            name,
            conn,
            roster,
            media: Vec::new(),
        }
    }

    /// Names in the roster, sorted, duplicates kept.
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.roster.values().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// The id this participant's host gives `name`.
    fn id_of(&self, name: &str) -> Option<u32> {
        self.roster
            .iter()
            .find(|(_, (n, _))| n == name)
            .map(|(id, _)| *id)
    }

    fn is_remote(&self, name: &str) -> bool {
        self.roster.values().any(|(n, remote)| n == name && *remote)
    }

    /// Media from `sender` (an id in this participant's numbering) on `track`.
    fn got(&self, sender: Option<u32>, track: Track) -> Option<&MediaFrame> {
        self.media
            .iter()
            .find(|f| Some(f.sender) == sender && f.track == track as i32)
    }

    async fn send_media(&mut self, frame: MediaFrame) -> Result<()> {
        match &mut self.conn {
            Conn::Edge(client) => client.media(frame).await,
            Conn::Relay(session) => Ok(session.send_media(frame).await?),
        }
    }

    /// Handles what arrives for up to `limit`.
    async fn pump(&mut self, limit: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let msg = match &mut self.conn {
                Conn::Edge(client) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    match client.next(left).await {
                        Some(Event::Msg(msg)) => msg,
                        Some(Event::Closed(why)) => {
                            anyhow::bail!("{} was closed: {why:?}", self.name)
                        }
                        None => return Ok(()),
                    }
                }
                Conn::Relay(session) => {
                    match tokio::time::timeout_at(deadline, session.recv()).await {
                        Ok(Ok(wire::ServerMessage { msg: Some(msg) })) => msg,
                        Ok(Ok(_)) => continue,
                        Ok(Err(err)) => anyhow::bail!("{}'s session ended: {err}", self.name),
                        Err(_) => return Ok(()),
                    }
                }
            };
            match msg {
                server_message::Msg::Joined(j) => {
                    if let Some(p) = j.participant {
                        self.roster.insert(p.id, (p.name, p.remote));
                    }
                }
                server_message::Msg::Left(l) => {
                    self.roster.remove(&l.id);
                }
                server_message::Msg::Media(frame) => self.media.push(frame),
                _ => {}
            }
        }
    }
}

/// Pumps every party until `done` holds, or fails after `limit` with the
/// rosters in the message.
async fn settle(
    parties: &mut [&mut Party],
    limit: Duration,
    what: &str,
    done: impl Fn(&[&mut Party]) -> bool,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if done(parties) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            let rosters: Vec<String> = parties
                .iter()
                .map(|p| format!("{}: {:?}", p.name, p.names()))
                .collect();
            anyhow::bail!("{what}: not within {limit:?}; rosters {rosters:?}");
        }
        for party in parties.iter_mut() {
            party.pump(Duration::from_millis(30)).await?;
        }
    }
}

/// `from` sends audio and a camera keyframe (claiming to be `forged`) every
/// 100 ms until `to` has both from `from`, stamped with `from`'s id on
/// `to`'s host.
async fn media_crosses(from: &mut Party, to: &mut Party, forged: u32) -> Result<()> {
    let started = Instant::now();
    for seq in 1.. {
        let mut a = audio(seq, 10);
        a.sender = forged;
        let mut v = camera(seq, 3_000);
        v.sender = forged;
        from.send_media(a).await?;
        from.send_media(v).await?;
        to.pump(Duration::from_millis(100)).await?;
        from.pump(Duration::ZERO).await?;
        let sender = to.id_of(from.name);
        if let (Some(a), Some(v)) = (to.got(sender, Track::Audio), to.got(sender, Track::Camera)) {
            ensure!(
                v.payload.len() == 3_000 && a.payload.len() == 160,
                "payloads changed on the way"
            );
            ensure!(
                !to.media
                    .iter()
                    .any(|f| f.sender == forged && Some(forged) != sender),
                "{} received a frame under the forged sender {forged}",
                to.name
            );
            return Ok(());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "{}'s media never reached {} (roster {:?}, got {} frames)",
            from.name,
            to.name,
            to.names(),
            to.media.len()
        );
    }
    unreachable!()
}

// ------------------------------------------------------------------ cases

async fn edge_and_relay_participants_exchange_audio_and_video_both_ways(
    edge: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("span");
    let relay = relay(&edge.http_base(), TRUNK_SECRET, &[])?;
    let mut ada = Party::on_relay(&relay, &room, "ada").await?;
    let mut eve = Party::on_edge(&edge, &room, "eve").await?;
    settle(&mut [&mut ada, &mut eve], CONVERGE, "one roster", |p| {
        p.iter().all(|p| p.names() == ["ada", "eve"])
    })
    .await?;
    ensure!(eve.is_remote("ada") && ada.is_remote("eve"));
    // Each side stamps its own ids; a client's claimed sender is ignored,
    // even when it names a participant across the trunk.
    let eve_at_relay = ada.id_of("eve").context("eve on the relay")?;
    let ada_at_edge = eve.id_of("ada").context("ada on the edge")?;
    let eve_at_edge = eve.id_of("eve").context("eve on the edge")?;
    let ada_at_relay = ada.id_of("ada").context("ada on the relay")?;
    media_crosses(&mut ada, &mut eve, eve_at_edge).await?;
    media_crosses(&mut eve, &mut ada, ada_at_relay).await?;
    ensure!(eve.media.iter().all(|f| f.sender == ada_at_edge));
    ensure!(ada.media.iter().all(|f| f.sender == eve_at_relay));
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 2 && info["connections"] == 2,
        "edge room: {info}"
    );
    ensure!(relay.metric("edgecall_trunks")? == 1);
    Ok(())
}

async fn two_relays_keep_one_trunk_and_hand_it_over_when_the_holder_dies(
    edge: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("handover");
    let nats = NatsServer::start()?;
    let mut relays = [
        clustered(&edge.http_base(), &nats)?,
        clustered(&edge.http_base(), &nats)?,
    ];
    let mut ada = Party::on_relay(&relays[0], &room, "ada").await?;
    let mut bob = Party::on_relay(&relays[1], &room, "bob").await?;
    let mut eve = Party::on_edge(&edge, &room, "eve").await?;
    settle(
        &mut [&mut ada, &mut bob, &mut eve],
        CONVERGE,
        "one roster on three hosts",
        |p| p.iter().all(|p| p.names() == ["ada", "bob", "eve"]),
    )
    .await?;
    // Exactly one trunk, sampled over several cluster heartbeats.
    let mut holder = None;
    for _ in 0..10 {
        let trunks = [
            relays[0].metric("edgecall_trunks")?,
            relays[1].metric("edgecall_trunks")?,
        ];
        ensure!(trunks[0] + trunks[1] == 1, "trunks per relay: {trunks:?}");
        holder = Some(usize::from(trunks[1] == 1));
        eve.pump(Duration::from_millis(200)).await?;
    }
    let holder = holder.context("no sample")?;
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 3 && info["connections"] == 2,
        "edge room: {info}"
    );
    ensure!(eve.names() == ["ada", "bob", "eve"], "{:?}", eve.names());

    // The holder crashes; the survivor takes the trunk over.
    let survivor = 1 - holder;
    relays[holder].kill();
    let (gone, mut stays) = if holder == 0 { (ada, bob) } else { (bob, ada) };
    drop(gone);
    let started = Instant::now();
    let limit = Duration::from_millis(NATS_TIMEOUT_MS) + Duration::from_secs(8);
    while relays[survivor].metric("edgecall_trunks")? != 1 {
        ensure!(
            started.elapsed() < limit,
            "no takeover within {limit:?}:\n{}",
            relays[survivor].log()
        );
        eve.pump(Duration::from_millis(50)).await?;
    }
    let took = started.elapsed();
    let expected = vec![stays.name, "eve"];
    settle(
        &mut [&mut stays, &mut eve],
        CONVERGE,
        "rosters after the takeover",
        |p| p.iter().all(|p| p.names() == expected),
    )
    .await?;
    println!(
        "    trunk taken over {took:?} after the holder died (cluster timeout {NATS_TIMEOUT_MS} ms)"
    );
    eve.media.clear();
    stays.media.clear();
    media_crosses(&mut stays, &mut eve, 0).await?;
    media_crosses(&mut eve, &mut stays, 0).await?;
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 2 && info["connections"] == 2,
        "edge room after the takeover: {info}"
    );
    Ok(())
}

async fn a_relay_with_a_wrong_trunk_secret_is_refused_and_keeps_its_room(
    edge: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("forged");
    let relay = relay(&edge.http_base(), "not-the-trunk-secret", &[])?;
    let mut ada = Party::on_relay(&relay, &room, "ada").await?;
    let mut bob = Party::on_relay(&relay, &room, "bob").await?;
    settle(&mut [&mut ada, &mut bob], CONVERGE, "local roster", |p| {
        p.iter().all(|p| p.names() == ["ada", "bob"])
    })
    .await?;
    media_crosses(&mut ada, &mut bob, 0).await?;
    // It keeps trying, with backoff, and says why it fails.
    let started = Instant::now();
    while relay.metric("edgecall_trunk_failures_total")? < 2 {
        ensure!(started.elapsed() < CONVERGE, "no retry:\n{}", relay.log());
        ada.pump(Duration::from_millis(200)).await?;
    }
    let log = relay.log();
    ensure!(
        log.contains("401") && log.contains("--trunk-secret"),
        "no clear error in the relay log:\n{log}"
    );
    ensure!(relay.metric("edgecall_trunks")? == 0);
    ensure!(relay.metric("edgecall_trunk_connects_total")? == 0);
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 0, "edge room: {info}");
    // The room still works after the refusals.
    bob.media.clear();
    media_crosses(&mut ada, &mut bob, 0).await?;
    Ok(())
}

/// A join token for the secured edge's rooms (and relays sharing its secret).
fn join_token(room: &str, name: &str) -> Result<String> {
    let exp = edgecall_e2e::frames::now_us() / 1_000_000 + 3_600;
    Ok(mint(
        JOIN_SECRET.as_bytes(),
        &JoinClaims::new(room, name, exp),
    )?)
}

/// Keeps `party` (on `relay`) pumping until the relay has had a trunk
/// refused; checks the relay names `why` in its log and holds no trunk.
async fn expect_trunk_refused(relay: &RelayProcess, party: &mut Party, why: &str) -> Result<()> {
    let started = Instant::now();
    while relay.metric("edgecall_trunk_failures_total")? < 1 {
        ensure!(
            started.elapsed() < CONVERGE,
            "no trunk attempt:\n{}",
            relay.log()
        );
        party.pump(Duration::from_millis(200)).await?;
    }
    let log = relay.log();
    ensure!(
        log.contains("403") && log.contains(why),
        "the relay log does not say why the edge refused ({why:?}):\n{log}"
    );
    ensure!(relay.metric("edgecall_trunks")? == 0);
    Ok(())
}

async fn an_open_relay_cannot_trunk_into_an_edge_that_verifies_tokens(
    secured: Arc<Edge>,
) -> Result<()> {
    // Without being told, the relay does not even start that combination.
    let refused = relay_with(&secured.http_base(), TRUNK_SECRET, &[]);
    let err = format!(
        "{:#}",
        refused.err().context("an open relay started with --edge")?
    );
    ensure!(
        err.contains("--token-secret") && err.contains("--open-trunk"),
        "unclear start-up refusal: {err}"
    );
    // Told so, it starts, but the edge refuses its trunk and says why.
    let room = unique_room("open-into-secured");
    let relay = relay_with(&secured.http_base(), TRUNK_SECRET, &["--open-trunk"])?;
    let mut ada = Party::on_relay(&relay, &room, "ada").await?;
    expect_trunk_refused(&relay, &mut ada, "admits anyone").await?;
    // Nobody reached the edge's room through the relay.
    let eve = Client::join(&format!(
        "{}/api/rooms/{room}/ws?token={}",
        secured.ws_base(),
        join_token(&room, "eve")?
    ))
    .await?;
    let names: Vec<&str> = eve.welcome.roster.iter().map(|p| p.name.as_str()).collect();
    ensure!(names == ["eve"], "the edge room holds {names:?}");
    Ok(())
}

async fn a_relay_checking_other_tokens_cannot_trunk_into_the_edge(
    secured: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("other-secret");
    let relay = relay_with(
        &secured.http_base(),
        TRUNK_SECRET,
        &["--token-secret", "a-different-join-token-secret"],
    )?;
    let config = JoinConfig::new(&relay.url, &room, "mallory")?
        .transport(TransportKind::WebTransport)
        .trust(Trust::cert_hash_hex(&relay.cert_sha256)?)
        .token(mint(
            b"a-different-join-token-secret",
            &JoinClaims::new(
                room.as_str(),
                "mallory",
                edgecall_e2e::frames::now_us() / 1_000_000 + 3_600,
            ),
        )?);
    let session = Session::connect(&config).await?;
    let welcome = session.welcome().clone();
    let mut mallory = Party::new("mallory", Conn::Relay(session), &welcome);
    expect_trunk_refused(&relay, &mut mallory, "differs from the edge").await
}

async fn a_relay_verifying_with_the_edges_secret_trunks_into_it(secured: Arc<Edge>) -> Result<()> {
    let room = unique_room("secured-trunk");
    let relay = relay_with(
        &secured.http_base(),
        TRUNK_SECRET,
        &["--token-secret", JOIN_SECRET],
    )?;
    let config = JoinConfig::new(&relay.url, &room, "ada")?
        .transport(TransportKind::WebTransport)
        .trust(Trust::cert_hash_hex(&relay.cert_sha256)?)
        .token(join_token(&room, "ada")?);
    let session = Session::connect(&config).await?;
    let welcome = session.welcome().clone();
    let mut ada = Party::new("ada", Conn::Relay(session), &welcome);
    let url = format!(
        "{}/api/rooms/{room}/ws?token={}",
        secured.ws_base(),
        join_token(&room, "eve")?
    );
    let client = Client::join(&url).await?;
    let welcome = client.welcome.clone();
    let mut eve = Party::new("eve", Conn::Edge(client), &welcome);
    settle(&mut [&mut ada, &mut eve], CONVERGE, "one roster", |p| {
        p.iter().all(|p| p.names() == ["ada", "eve"])
    })
    .await?;
    media_crosses(&mut ada, &mut eve, 0).await?;
    media_crosses(&mut eve, &mut ada, 0).await?;
    Ok(())
}

async fn a_cut_trunk_reconnects_and_rosters_converge(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("cut");
    let proxy = Proxy::start(edge.addr()).await?;
    let relay = relay(&proxy.http_base(), TRUNK_SECRET, &[])?;
    let mut ada = Party::on_relay(&relay, &room, "ada").await?;
    let mut eve = Party::on_edge(&edge, &room, "eve").await?;
    settle(&mut [&mut ada, &mut eve], CONVERGE, "one roster", |p| {
        p.iter().all(|p| p.names() == ["ada", "eve"])
    })
    .await?;

    proxy.sever();
    settle(&mut [&mut ada, &mut eve], CONVERGE, "split rosters", |p| {
        p[0].names() == ["ada"] && p[1].names() == ["eve"]
    })
    .await?;
    // Both sides keep working on their own.
    let mut bob = Party::on_relay(&relay, &room, "bob").await?;
    let mut fay = Party::on_edge(&edge, &room, "fay").await?;
    media_crosses(&mut ada, &mut bob, 0).await?;
    media_crosses(&mut eve, &mut fay, 0).await?;
    ensure!(relay.metric("edgecall_trunks")? == 0);

    proxy.restore();
    let everyone = ["ada", "bob", "eve", "fay"];
    let took = settle(
        &mut [&mut ada, &mut bob, &mut eve, &mut fay],
        CONVERGE,
        "rosters after the trunk returned",
        |p| p.iter().all(|p| p.names() == everyone),
    )
    .await?;
    println!("    rosters converged {took:?} after the trunk was restored");
    for party in [&ada, &bob] {
        ensure!(party.is_remote("eve") && party.is_remote("fay"));
    }
    for party in [&eve, &fay] {
        ensure!(party.is_remote("ada") && party.is_remote("bob"));
    }
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 4 && info["connections"] == 3,
        "no ghosts or duplicates on the edge: {info}"
    );
    media_crosses(&mut bob, &mut fay, 0).await?;
    media_crosses(&mut fay, &mut ada, 0).await?;
    ensure!(relay.metric("edgecall_trunk_connects_total")? >= 2);
    // Leaving the meeting on the relay closes the trunk.
    drop((ada, bob));
    settle(
        &mut [&mut eve, &mut fay],
        CONVERGE,
        "relay side gone",
        |p| p.iter().all(|p| p.names() == ["eve", "fay"]),
    )
    .await?;
    let info = edge.room_info(&room)?;
    ensure!(info["connections"] == 2, "trunk still open: {info}");
    Ok(())
}

/// A trunk's link state grows with the participants behind it (here far
/// past a socket attachment's 2 KiB); it is kept in the room object's
/// storage, so all of them are still in the room after the object was
/// evicted and rebuilt.
async fn a_trunk_carrying_200_participants_survives_hibernation(edge: Arc<Edge>) -> Result<()> {
    const REMOTE: u32 = 200;
    let room = unique_room("trunk-200");
    let url = format!("{}/api/rooms/{room}/trunk?host=relay-200", edge.ws_base());
    let mut trunk = Trunk::connect(&url, TRUNK_SECRET, None).await?;
    for id in 1..=REMOTE {
        trunk
            .send(link_message::Msg::Joined(wire::Participant {
                id,
                name: format!("remote-{id}"),
                can_publish: true,
                ..wire::Participant::default()
            }))
            .await?;
    }
    let deadline = Instant::now() + CONVERGE;
    let before = loop {
        let info = edge.room_info(&room)?;
        if info["participants"] == REMOTE {
            break info;
        }
        ensure!(Instant::now() < deadline, "not all joined: {info}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Idle with runtime-answered keep-alives: the object is evicted.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        trunk.send_text(edgecall_proto::KEEPALIVE_PING).await?;
    }
    let dave = Client::join(&format!("{}/api/rooms/{room}/ws?name=dave", edge.ws_base())).await?;
    let roster = &dave.welcome.roster;
    ensure!(
        roster.len() == REMOTE as usize + 1
            && roster.iter().filter(|p| p.remote).count() == REMOTE as usize,
        "roster after the idle spell: {} participants",
        roster.len()
    );
    let after = edge.room_info(&room)?;
    ensure!(
        after["restored"] == true && after["instance_started_ms"] != before["instance_started_ms"],
        "not evicted and restored: {before} → {after}"
    );
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let edge = match Edge::start(&[
        ("HEARTBEAT_TIMEOUT_MS", HEARTBEAT_MS),
        ("TRUNK_SECRET", TRUNK_SECRET),
    ]) {
        Ok(edge) => Arc::new(edge),
        Err(err) => {
            eprintln!("cannot start the edge: {err:#}");
            std::process::exit(1);
        }
    };
    let secured = match Edge::start(&[
        ("HEARTBEAT_TIMEOUT_MS", HEARTBEAT_MS),
        ("TRUNK_SECRET", TRUNK_SECRET),
        ("JOIN_TOKEN_SECRET", JOIN_SECRET),
    ]) {
        Ok(edge) => Arc::new(edge),
        Err(err) => {
            eprintln!("cannot start the secured edge: {err:#}");
            std::process::exit(1);
        }
    };
    let trials = vec![
        trial(
            "an_open_relay_cannot_trunk_into_an_edge_that_verifies_tokens",
            &secured,
            an_open_relay_cannot_trunk_into_an_edge_that_verifies_tokens,
        ),
        trial(
            "a_relay_checking_other_tokens_cannot_trunk_into_the_edge",
            &secured,
            a_relay_checking_other_tokens_cannot_trunk_into_the_edge,
        ),
        trial(
            "a_relay_verifying_with_the_edges_secret_trunks_into_it",
            &secured,
            a_relay_verifying_with_the_edges_secret_trunks_into_it,
        ),
        trial(
            "edge_and_relay_participants_exchange_audio_and_video_both_ways",
            &edge,
            edge_and_relay_participants_exchange_audio_and_video_both_ways,
        ),
        trial(
            "two_relays_keep_one_trunk_and_hand_it_over_when_the_holder_dies",
            &edge,
            two_relays_keep_one_trunk_and_hand_it_over_when_the_holder_dies,
        ),
        trial(
            "a_relay_with_a_wrong_trunk_secret_is_refused_and_keeps_its_room",
            &edge,
            a_relay_with_a_wrong_trunk_secret_is_refused_and_keeps_its_room,
        ),
        trial(
            "a_trunk_carrying_200_participants_survives_hibernation",
            &edge,
            a_trunk_carrying_200_participants_survives_hibernation,
        ),
        trial(
            "a_cut_trunk_reconnects_and_rosters_converge",
            &edge,
            a_cut_trunk_reconnects_and_rosters_converge,
        ),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    drop(edge);
    drop(secured);
    conclusion.exit();
}
