//! The edge end to end: the Worker and the Room Durable Object under real
//! workerd (`wrangler dev`), driven by native WebSocket clients.
//!
//! Two edges are started once for all cases: an open one (no token secret,
//! long heartbeat) and a secured one (token secret, API key, 3 s heartbeat).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use edgecall_e2e::client::{upgrade_status, Client, Event, Trunk};
use edgecall_e2e::edge::Edge;
use edgecall_e2e::frames::{audio, camera};
use edgecall_e2e::trials::{trial, unique_room};
use edgecall_proto::room::{CloseCode, RoomConfig};
use edgecall_proto::token::{mint, JoinClaims, Role};
use edgecall_proto::wire::{
    self, client_message, link_message, server_message, ErrorCode, MediaFrame, ModerationAction,
    Track,
};
use edgecall_stream::{JoinConfig, Session, TransportKind};
use libtest_mimic::Arguments;
use prost::Message as _;

const SECRET: &str = "e2e-join-secret";
const API_KEY: &str = edgecall_e2e::edge::TEST_API_KEY;
const TRUNK_SECRET: &str = "e2e-trunk-secret";
const DIRECTORY_URL: &str = "https://directory.example/prod";
const SHORT_HEARTBEAT_MS: u64 = 3_000;
const QUIET: Duration = Duration::from_millis(1_500);
/// How long expected frames may take to arrive (a bound, not a speed: the
/// wait ends as soon as they are there).
const ARRIVAL: Duration = Duration::from_secs(60);

fn join_url(edge: &Edge, room: &str, name: &str) -> String {
    format!("{}/api/rooms/{room}/ws?name={name}", edge.ws_base())
}

async fn join(edge: &Edge, room: &str, name: &str) -> Result<Client> {
    Client::join(&join_url(edge, room, name)).await
}

// ------------------------------------------------------------------ rooms

async fn two_participants_exchange_media_with_server_stamped_senders(
    edge: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("pair");
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    let roster: Vec<String> = bob.welcome.roster.iter().map(|p| p.name.clone()).collect();
    ensure!(roster == ["alice", "bob"], "bob's roster: {roster:?}");
    let joined = alice
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Joined(j) => j.participant.clone(),
            _ => None,
        })
        .await?;
    ensure!(joined.name == "bob" && joined.id == bob.id);

    let mut lie = audio(1, 20);
    lie.sender = bob.id; // Alice claims to be Bob.
    alice.media(lie).await?;
    alice.media(camera(1, 1_200)).await?;
    bob.media(audio(1, 20)).await?;
    let to_bob = bob.media_at_least(2, any_frame, ARRIVAL, QUIET).await;
    let to_alice = alice.media_at_least(1, any_frame, ARRIVAL, QUIET).await;
    ensure!(to_bob.len() == 2, "bob got {} frames", to_bob.len());
    ensure!(
        to_bob.iter().all(|f| f.sender == alice.id),
        "sender not stamped"
    );
    ensure!(to_alice.len() == 1 && to_alice[0].sender == bob.id);
    ensure!(to_bob[1].payload.len() == 1_200, "payload intact");

    bob.leave().await?;
    let left = alice
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Left(l) => Some(l.id),
            _ => None,
        })
        .await?;
    ensure!(left == joined.id);
    Ok(())
}

/// Counts every frame (for [`Client::media_at_least`]).
fn any_frame(_: &MediaFrame) -> bool {
    true
}

/// The first `n` of `recent` other than `receiver`.
fn last_n(recent: &[u32], receiver: u32, n: usize) -> BTreeSet<u32> {
    recent
        .iter()
        .copied()
        .filter(|p| *p != receiver)
        .take(n)
        .collect()
}

async fn twelve_participants_get_what_the_policy_entitles(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("twelve");
    let mut clients = Vec::new();
    for i in 1..=12 {
        clients.push(join(&edge, &room, &format!("p{i}")).await?);
    }
    let ids: Vec<u32> = clients.iter().map(|c| c.id).collect();
    for c in &mut clients {
        c.media_until_quiet(Duration::from_millis(300)).await;
    }
    // p12 talks: the room (> 6 people) forwards its audio to everyone and
    // makes it the most recent active speaker.
    for seq in 0..30 {
        clients[11].media(audio(seq, 10)).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // (Each receiver is drained briefly; a long pause here would let the
    // idle room hibernate, which a separate case covers.)
    for (i, c) in clients.iter_mut().enumerate().take(11) {
        let frames = c.media_until_quiet(Duration::from_millis(600)).await;
        ensure!(
            !frames.is_empty() && frames.iter().all(|f| f.sender == ids[11]),
            "p{} should hear only p12, got {} frames",
            i + 1,
            frames.len()
        );
    }
    // Everyone sends one camera frame; each receiver gets the last-9 active
    // speakers other than itself: p12 first, then join order.
    let mut recent = vec![ids[11]];
    recent.extend(&ids[..11]);
    for (seq, c) in clients.iter_mut().enumerate() {
        c.media(camera(seq as u64, 1_200)).await?;
    }
    let mut wrong = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let want = last_n(&recent, ids[i], 9);
        let is_camera = |f: &MediaFrame| f.track == Track::Camera as i32;
        let got: BTreeSet<u32> = c
            .media_at_least(want.len(), is_camera, ARRIVAL, QUIET)
            .await
            .iter()
            .filter(|f| f.track == Track::Camera as i32)
            .map(|f| f.sender)
            .collect();
        if got != want {
            wrong.push(format!("p{}: got {got:?}, want {want:?}", i + 1));
        }
    }
    ensure!(wrong.is_empty(), "{}", wrong.join("\n"));
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 12, "info: {info}");
    Ok(())
}

async fn room_info_and_health_answer(edge: Arc<Edge>) -> Result<()> {
    let base = edge.http_base();
    let health = ureq::get(&format!("{base}/healthz"))
        .call()?
        .into_string()?;
    ensure!(health == "ok");
    let room = unique_room("info");
    let _a = join(&edge, &room, "a").await?;
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 1 && info["room"] == room.as_str(),
        "{info}"
    );
    // Room info is the operator's: anonymous or wrong-key callers get a
    // 401 and learn nothing about the room.
    refused_without_the_api_key(&format!("{base}/api/rooms/{room}"), "participants")
}

/// `url` answers 401 without the operator key and with a wrong one, and
/// the answer does not contain `secret`.
fn refused_without_the_api_key(url: &str, secret: &str) -> Result<()> {
    for (what, attempt) in [
        ("no key", ureq::get(url).call()),
        (
            "a wrong key",
            ureq::get(url).set("Authorization", "Bearer nope").call(),
        ),
    ] {
        match attempt {
            Err(ureq::Error::Status(401, response)) => {
                let body = response.into_string()?;
                ensure!(
                    body.contains("API key") && !body.contains(secret),
                    "{url} with {what}: {body}"
                );
            }
            other => anyhow::bail!("{url} with {what}: {other:?}"),
        }
    }
    Ok(())
}

async fn room_metrics_need_the_api_key(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("metrics-key");
    let _a = join(&edge, &room, "a").await?;
    refused_without_the_api_key(
        &format!("{}/api/rooms/{room}/metrics", edge.http_base()),
        "edgecall_",
    )
}

async fn room_metrics_count_participants_and_frames(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("metrics");
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    let before = edge.room_metrics(&room)?;
    ensure!(
        before["edgecall_room_participants"] == 2
            && before["edgecall_room_connections"] == 2
            && before["edgecall_frames_in_total"] == 0
            && before["edgecall_restores_total"] == 0,
        "{before:?}"
    );
    for seq in 1..=3 {
        alice.media(audio(seq, 20)).await?;
    }
    let got = bob.media_at_least(3, any_frame, ARRIVAL, QUIET).await;
    ensure!(got.len() == 3, "bob got {} frames", got.len());
    let payload: u64 = got.iter().map(|f| f.payload.len() as u64).sum();
    let after = edge.room_metrics(&room)?;
    ensure!(
        after["edgecall_frames_in_total"] == 3
            && after["edgecall_frames_out_total"] == 3
            && after["edgecall_bytes_in_total"] == payload
            && after["edgecall_bytes_out_total"] > payload
            && after["edgecall_frames_unrouted_total"] == 0
            && after["edgecall_failed_sends_total"] == 0,
        "{after:?}"
    );
    Ok(())
}

/// `/client-config.json` names the relay directory only when the edge has
/// one configured (`open` has none, `secured` has one).
async fn the_page_config_names_the_relay_directory_only_when_set(
    open: Arc<Edge>,
    secured: Arc<Edge>,
) -> Result<()> {
    let none: serde_json::Value = ureq::get(&format!("{}/client-config.json", open.http_base()))
        .call()?
        .into_json()?;
    ensure!(
        none == serde_json::json!({}),
        "without RELAY_DIRECTORY_URL: {none}"
    );
    let config: serde_json::Value =
        ureq::get(&format!("{}/client-config.json", secured.http_base()))
            .call()?
            .into_json()?;
    ensure!(config["directory_url"] == DIRECTORY_URL, "{config}");
    Ok(())
}

async fn requests_are_checked_before_the_room(edge: Arc<Edge>) -> Result<()> {
    let base = edge.http_base();
    let plain = ureq::get(&format!("{base}/api/rooms/ok-room/ws")).call();
    ensure!(
        matches!(plain, Err(ureq::Error::Status(426, _))),
        "no upgrade: {plain:?}"
    );
    let bad_room =
        upgrade_status(&format!("{}/api/rooms/no.dots/ws?name=a", edge.ws_base())).await?;
    ensure!(bad_room == Some(400), "bad room id: {bad_room:?}");
    let bad_name = upgrade_status(&format!(
        "{}/api/rooms/ok-room/ws?name=%3Cb%3E",
        edge.ws_base()
    ))
    .await?;
    ensure!(bad_name == Some(400), "bad name: {bad_name:?}");
    let unknown = ureq::get(&format!("{base}/api/nothing")).call();
    ensure!(matches!(unknown, Err(ureq::Error::Status(404, _))));
    Ok(())
}

// ------------------------------------------------------------------ bad input

/// Alice, Bob and Mallory meet; Mallory misbehaves with `offend`; Mallory
/// alone is closed with `code` after an `Error`; Alice and Bob still talk.
async fn only_the_offender_suffers<F, Fut>(
    edge: Arc<Edge>,
    label: &str,
    code: CloseCode,
    offend: F,
) -> Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<Client>>,
{
    let room = unique_room(label);
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    let mallory = join(&edge, &room, "mallory").await?;
    let mallory_id = mallory.id;
    let mut mallory = offend(mallory).await?;
    let (closed_with, error) = mallory.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        closed_with == code.code(),
        "{label}: closed with {closed_with}"
    );
    let error = error.context("an Error message before the close")?;
    ensure!(
        error.code == code.error_code() as i32,
        "{label}: error {error:?}"
    );
    alice
        .wait_for(Duration::from_secs(10), |m| match m {
            server_message::Msg::Left(l) if l.id == mallory_id => Some(()),
            _ => None,
        })
        .await?;
    // Whatever Mallory got through before the cut is not our concern.
    bob.media_until_quiet(QUIET).await;
    alice.media(audio(1, 10)).await?;
    let got = bob.media_at_least(1, any_frame, ARRIVAL, QUIET).await;
    ensure!(
        got.len() == 1 && got[0].sender == alice.id,
        "{label}: room broken"
    );
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 2, "{label}: {info}");
    Ok(())
}

async fn garbage_bytes_close_only_the_sender(edge: Arc<Edge>) -> Result<()> {
    only_the_offender_suffers(edge, "garbage", CloseCode::Malformed, |mut m| async move {
        m.send_raw(vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]).await?;
        Ok(m)
    })
    .await
}

async fn truncated_protobuf_closes_only_the_sender(edge: Arc<Edge>) -> Result<()> {
    only_the_offender_suffers(
        edge,
        "truncated",
        CloseCode::Malformed,
        |mut m| async move {
            let whole = wire::ClientMessage {
                msg: Some(client_message::Msg::Media(camera(1, 1_000))),
            }
            .encode_to_vec();
            m.send_raw(whole[..whole.len() / 2].to_vec()).await?;
            Ok(m)
        },
    )
    .await
}

async fn oversize_message_closes_only_the_sender(edge: Arc<Edge>) -> Result<()> {
    only_the_offender_suffers(edge, "oversize", CloseCode::TooLarge, |mut m| async move {
        m.media(camera(1, 300 * 1024)).await?;
        Ok(m)
    })
    .await
}

async fn flood_closes_only_the_flooder(edge: Arc<Edge>) -> Result<()> {
    only_the_offender_suffers(edge, "flood", CloseCode::RateLimited, |mut m| async move {
        for seq in 0..2_000 {
            if m.media(audio(seq, 127)).await.is_err() {
                break;
            }
        }
        Ok(m)
    })
    .await
}

async fn text_frames_close_only_the_sender(edge: Arc<Edge>) -> Result<()> {
    only_the_offender_suffers(edge, "text", CloseCode::Malformed, |mut m| async move {
        m.send_text("{\"type\":\"hello\"}").await?;
        Ok(m)
    })
    .await
}

// ------------------------------------------------------------------ identity

/// Mallory joins under Bob's name: nobody is kicked, the two Bobs have
/// different identities, and Bob keeps receiving.
async fn a_same_name_join_kicks_nobody(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("same-name");
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    let mallory = join(&edge, &room, "bob").await?;
    ensure!(
        mallory.welcome.identity != bob.welcome.identity,
        "two people named bob got one identity {:?}",
        bob.welcome.identity
    );
    alice.media(audio(1, 10)).await?;
    let got = bob.media_at_least(1, any_frame, ARRIVAL, QUIET).await;
    ensure!(got.len() == 1, "bob stopped receiving: {got:?}");
    // A kicked bob would have left the room.
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 3, "{info}");
    Ok(())
}

/// A reconnect with the Welcome's resume secret takes over the old session
/// (closed with Replaced) instead of leaving a ghost.
async fn a_resumed_session_replaces_its_ghost(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("resume");
    let alice = join(&edge, &room, "alice").await?;
    let mut ghost = join(&edge, &room, "bob").await?;
    let secret = ghost.welcome.resume_secret.to_vec();
    ensure!(secret.len() >= 16, "no resume secret in the Welcome");
    let again = Client::join_resuming(&join_url(&edge, &room, "bob"), &secret).await?;
    ensure!(again.welcome.identity == ghost.welcome.identity);
    let (code, _) = ghost.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        code == CloseCode::Replaced.code(),
        "ghost closed with {code}"
    );
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 2, "{info}");
    drop(alice);
    Ok(())
}

/// A socket that never says Hello is closed at the engine's Hello
/// deadline, long before the heartbeat timeout.
async fn a_connection_without_hello_is_closed_at_the_deadline(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("no-hello");
    let mut silent = Client::connect_silent(&join_url(&edge, &room, "lurker")).await?;
    let limit = Duration::from_millis(RoomConfig::default().hello_timeout_ms) + ARRIVAL;
    let (code, _) = silent.wait_closed(limit).await?;
    ensure!(
        code == CloseCode::HeartbeatTimeout.code(),
        "closed with {code}"
    );
    Ok(())
}

/// Past the per-address join limit the Worker answers 429 before any
/// token check or Durable Object.
/// The join limit per address and period from wrangler.toml's
/// `[[ratelimits]]` (`simple = { limit = N, period = P }`).
fn join_limit() -> Result<usize> {
    let config = std::fs::read_to_string(edgecall_e2e::edge::repo_root().join("wrangler.toml"))?;
    config
        .lines()
        .find_map(|line| line.trim().strip_prefix("simple = { limit = "))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .context("no `simple = { limit = N, ... }` in wrangler.toml")
}

async fn joins_past_the_address_limit_get_429(limited: Arc<Edge>) -> Result<()> {
    // An invalid room id: admitted requests stop at 400 without a room.
    let url = format!("{}/api/rooms/bad.room/ws?name=x", limited.ws_base());
    // The limiter counts in fixed windows of its period, so a run of joins
    // can straddle window boundaries and split its count. With 3 × limit + 1
    // joins, one window sees more than the limit as long as the run crosses
    // at most two boundaries (spans under two periods, 20 s: loopback joins
    // take milliseconds). It stops at the first 429.
    let attempts = 3 * join_limit()? + 1;
    let mut statuses = Vec::new();
    for _ in 0..attempts {
        statuses.push(upgrade_status(&url).await?);
        if statuses.last() == Some(&Some(429)) {
            break;
        }
    }
    ensure!(
        statuses.last() == Some(&Some(429)),
        "no 429 after {} joins: {statuses:?}",
        statuses.len()
    );
    ensure!(
        statuses.len() > 1 && statuses[0] == Some(400),
        "the first join was refused: {statuses:?}"
    );
    Ok(())
}

// ------------------------------------------------------------------ hibernation

async fn a_hibernated_room_still_routes_and_keeps_its_roster(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("hibernate");
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    alice.chat("notes from before the eviction").await?;
    bob.wait_for(ARRIVAL, |m| {
        matches!(m, server_message::Msg::Chat(c) if c.sender == alice.id).then_some(())
    })
    .await?;
    alice.media(audio(1, 10)).await?;
    ensure!(bob.media_at_least(1, any_frame, ARRIVAL, QUIET).await.len() == 1);
    let before = edge.room_info(&room)?;
    // Nothing happens for longer than workerd keeps an idle object.
    tokio::time::sleep(Duration::from_secs(35)).await;
    alice.media(audio(2, 10)).await?;
    let got = bob.media_at_least(1, any_frame, ARRIVAL, QUIET).await;
    ensure!(
        got.len() == 1 && got[0].sender == alice.id,
        "after hibernation: {got:?}"
    );
    let after = edge.room_info(&room)?;
    ensure!(
        after["restored"] == true,
        "not evicted and restored: {before} → {after}"
    );
    ensure!(
        after["instance_started_ms"] != before["instance_started_ms"],
        "same instance: {before} → {after}"
    );
    ensure!(after["participants"] == 2, "{after}");
    let mut carol = join(&edge, &room, "carol").await?;
    let names: Vec<&str> = carol
        .welcome
        .roster
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    ensure!(
        names == ["alice", "bob", "carol"],
        "roster after restore: {names:?}"
    );
    ensure!(carol.id > bob.id, "ids are not reused");
    // The chat kept in the object's storage came back with the room.
    let history = carol.history_after_welcome().await?;
    ensure!(
        history
            == [(
                "alice".to_owned(),
                "notes from before the eviction".to_owned()
            )],
        "chat history after restore: {history:?}"
    );
    Ok(())
}

/// Late joiners get the recent chat, also from someone who left; the chat
/// of a meeting ends when its last participant leaves.
async fn late_joiners_get_the_recent_chat_until_the_room_empties(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("chat-history");
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    alice.chat("agenda: the launch").await?;
    // Two senders on two sockets have no order between them: bob answers
    // once he has alice's message, so the history's order is known.
    bob.wait_for(ARRIVAL, |m| {
        matches!(m, server_message::Msg::Chat(c) if c.sender == alice.id).then_some(())
    })
    .await?;
    bob.chat("bob has to go").await?;
    alice
        .wait_for(ARRIVAL, |m| {
            matches!(m, server_message::Msg::Chat(c) if c.sender == bob.id).then_some(())
        })
        .await?;
    bob.leave().await?;
    let mut carol = join(&edge, &room, "carol").await?;
    let history = carol.history_after_welcome().await?;
    let expected = [
        ("alice".to_owned(), "agenda: the launch".to_owned()),
        ("bob".to_owned(), "bob has to go".to_owned()),
    ];
    ensure!(
        history == expected,
        "history for a late joiner: {history:?}"
    );
    alice.leave().await?;
    carol.leave().await?;
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    while edge.room_info(&room)?["participants"] != 0 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the room did not empty"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut dave = join(&edge, &room, "dave").await?;
    let history = dave.history_after_welcome().await?;
    ensure!(
        history.is_empty(),
        "an emptied room kept its chat: {history:?}"
    );
    Ok(())
}

/// Each eviction and restore adds one to `edgecall_restores_total`, which
/// lives in the object's storage: a later instance goes on counting.
async fn restores_from_hibernation_are_counted_across_evictions(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("restores");
    let mut alice = join(&edge, &room, "alice").await?;
    let mut bob = join(&edge, &room, "bob").await?;
    alice.media(audio(1, 10)).await?;
    ensure!(bob.media_at_least(1, any_frame, ARRIVAL, QUIET).await.len() == 1);
    let mut restores = edge.room_metrics(&room)?["edgecall_restores_total"];
    ensure!(restores == 0, "restored before any eviction: {restores}");
    for seq in 2..=3 {
        // Nothing happens for longer than workerd keeps an idle object.
        tokio::time::sleep(Duration::from_secs(35)).await;
        alice.media(audio(seq, 10)).await?;
        let got = bob.media_at_least(1, any_frame, ARRIVAL, QUIET).await;
        ensure!(got.len() == 1, "after hibernation: {got:?}");
        let metrics = edge.room_metrics(&room)?;
        let now = metrics["edgecall_restores_total"];
        ensure!(now > restores, "restores went from {restores} to {now}");
        ensure!(metrics["edgecall_room_participants"] == 2, "{metrics:?}");
        restores = now;
    }
    Ok(())
}

// ------------------------------------------------------------------ secured edge

fn token(room: &str, name: &str, exp_from_now: i64, secret: &str) -> Result<String> {
    let now = (edgecall_e2e::frames::now_us() / 1_000_000) as i64;
    let claims = JoinClaims::new(room, name, (now + exp_from_now).max(0) as u64);
    Ok(mint(secret.as_bytes(), &claims)?)
}

/// Joins `room` on the secured edge as `name` with `role`.
async fn join_with_role(edge: &Edge, room: &str, name: &str, role: Role) -> Result<Client> {
    let now = edgecall_e2e::frames::now_us() / 1_000_000;
    let claims = JoinClaims {
        role,
        ..JoinClaims::new(room, name, now + 600)
    };
    let token = mint(SECRET.as_bytes(), &claims)?;
    Client::join(&format!(
        "{}/api/rooms/{room}/ws?token={token}",
        edge.ws_base()
    ))
    .await
}

fn moderate(action: ModerationAction, participant: u32) -> client_message::Msg {
    client_message::Msg::Moderate(wire::Moderate {
        action: action as i32,
        participant,
    })
}

/// Only a `role: host` token moderates: anyone else who tries is closed
/// (4010) and their target is untouched; the host mutes, removes (4015,
/// and the same token cannot rejoin) and ends the meeting (4016).
async fn a_host_token_moderates_and_nobody_else_can(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("moderation");
    let mut chair = join_with_role(&edge, &room, "chair", Role::Host).await?;
    let mut bob = join_with_role(&edge, &room, "bob", Role::Participant).await?;
    let mut carol = join_with_role(&edge, &room, "carol", Role::Participant).await?;
    let mut dave = join_with_role(&edge, &room, "dave", Role::Participant).await?;
    ensure!(
        dave.welcome
            .roster
            .iter()
            .any(|p| p.name == "chair" && p.host),
        "the roster does not say who hosts: {:?}",
        dave.welcome.roster
    );
    bob.send(moderate(ModerationAction::Remove, carol.id))
        .await?;
    let (code, _) = bob.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        code == CloseCode::Forbidden.code(),
        "bob closed with {code}"
    );
    carol.ping(1).await?;

    chair
        .send(moderate(ModerationAction::Mute, carol.id))
        .await?;
    carol
        .wait_for(ARRIVAL, |m| match m {
            server_message::Msg::Moderated(m)
                if m.action == ModerationAction::Mute as i32 && m.by_name == "chair" =>
            {
                Some(())
            }
            _ => None,
        })
        .await?;
    chair
        .send(moderate(ModerationAction::Remove, carol.id))
        .await?;
    let (code, error) = carol.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        code == CloseCode::Removed.code(),
        "carol closed with {code}"
    );
    ensure!(
        error.is_some_and(|e| e.message.contains("chair removed you")),
        "carol is not told who removed her"
    );
    let again = join_with_role(&edge, &room, "carol", Role::Participant).await;
    ensure!(again.is_err(), "carol rejoined after being removed");

    chair
        .send(moderate(ModerationAction::EndMeeting, 0))
        .await?;
    for (who, client) in [("dave", &mut dave), ("chair", &mut chair)] {
        let (code, _) = client.wait_closed(Duration::from_secs(10)).await?;
        ensure!(
            code == CloseCode::MeetingEnded.code(),
            "{who} closed with {code}"
        );
    }
    Ok(())
}

async fn bad_tokens_are_refused_before_the_room(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("tokens");
    let ws = edge.ws_base();
    let url = |query: String| format!("{ws}/api/rooms/{room}/ws?{query}");
    let cases = [
        ("missing", url("name=eve".into())),
        (
            "expired",
            url(format!("token={}", token(&room, "eve", -60, SECRET)?)),
        ),
        (
            "wrong room",
            url(format!("token={}", token("elsewhere", "eve", 600, SECRET)?)),
        ),
        (
            "forged",
            url(format!(
                "token={}",
                token(&room, "eve", 600, "not-the-secret")?
            )),
        ),
        ("garbage", url("token=not.a.jwt".into())),
    ];
    for (label, url) in cases {
        let status = upgrade_status(&url).await?;
        ensure!(status == Some(401), "{label} token: {status:?}");
    }
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 0, "{info}");
    Ok(())
}

async fn a_valid_token_names_the_participant(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("named");
    let t = token(&room, "dana", 600, SECRET)?;
    // The token's name wins over anything in the URL.
    let dana = Client::join(&format!(
        "{}/api/rooms/{room}/ws?token={t}&name=mallory",
        edge.ws_base()
    ))
    .await?;
    let names: Vec<&str> = dana
        .welcome
        .roster
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    ensure!(names == ["dana"], "{names:?}");
    Ok(())
}

async fn the_token_endpoint_needs_the_api_key(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("minted");
    let endpoint = format!("{}/api/token", edge.http_base());
    let body = serde_json::json!({"room": room, "name": "erin", "ttl_secs": 600});
    let anonymous = ureq::post(&endpoint).send_json(body.clone());
    ensure!(
        matches!(anonymous, Err(ureq::Error::Status(401, _))),
        "{anonymous:?}"
    );
    let wrong = ureq::post(&endpoint)
        .set("Authorization", "Bearer nope")
        .send_json(body.clone());
    ensure!(
        matches!(wrong, Err(ureq::Error::Status(401, _))),
        "{wrong:?}"
    );
    let minted: serde_json::Value = ureq::post(&endpoint)
        .set("Authorization", &format!("Bearer {API_KEY}"))
        .send_json(body)?
        .into_json()?;
    let t = minted["token"].as_str().context("token in answer")?;
    let erin = Client::join(&format!("{}/api/rooms/{room}/ws?token={t}", edge.ws_base())).await?;
    ensure!(erin.welcome.roster[0].name == "erin");
    Ok(())
}

async fn heartbeat_timeout_removes_a_silent_participant(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("heartbeat");
    let t = |name: &str| token(&room, name, 600, SECRET);
    let base = format!("{}/api/rooms/{room}/ws", edge.ws_base());
    let mut alice = Client::join(&format!("{base}?token={}", t("alice")?)).await?;
    let mut silent = Client::join(&format!("{base}?token={}", t("silent")?)).await?;
    let silent_id = silent.id;
    let mut left = false;
    for nonce in 0..12 {
        alice
            .send(client_message::Msg::Ping(wire::Ping { nonce }))
            .await?;
        while let Some(event) = alice.next(Duration::from_millis(700)).await {
            if let Event::Msg(server_message::Msg::Left(l)) = event {
                left |= l.id == silent_id;
            }
        }
        if left {
            break;
        }
    }
    ensure!(left, "alice was not told that the silent participant left");
    let (code, error) = silent.wait_closed(Duration::from_secs(5)).await?;
    ensure!(
        code == CloseCode::HeartbeatTimeout.code(),
        "closed with {code}"
    );
    ensure!(error.is_some_and(|e| e.code == ErrorCode::HeartbeatTimeout as i32));
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 1, "{info}");
    Ok(())
}

// ------------------------------------------------------------------ trunks

fn trunk_url(edge: &Edge, room: &str) -> String {
    format!("{}/api/rooms/{room}/trunk?host=relay-a", edge.ws_base())
}

/// The trunk proof of a relay that verifies join tokens with the secured
/// edge's secret (an open edge ignores it).
fn proof(room: &str) -> Option<String> {
    edgecall_proto::token::TokenVerifier::with_secret(SECRET.as_bytes())
        .ok()?
        .trunk_proof(room)
}

async fn a_forged_trunk_is_refused(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("forged-trunk");
    for secret in ["", "not-the-trunk-secret", API_KEY] {
        let refused =
            Trunk::connect(&trunk_url(&edge, &room), secret, proof(&room).as_deref()).await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        ensure!(message.contains("401"), "secret {secret:?}: {message}");
    }
    // The right trunk secret is not enough for an edge that verifies join
    // tokens: the relay must prove it verifies them with the same secret.
    let other = edgecall_proto::token::TokenVerifier::with_secret(b"another-join-secret")?
        .trunk_proof(&room);
    for (what, proof) in [("no proof", None), ("another secret's proof", other)] {
        let refused =
            Trunk::connect(&trunk_url(&edge, &room), TRUNK_SECRET, proof.as_deref()).await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        ensure!(message.contains("403"), "{what}: {message}");
    }
    Ok(())
}

async fn a_trunk_joins_relay_participants_to_the_edge_room(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("trunk");
    let token = token(&room, "alice", 600, SECRET)?;
    let mut alice = Client::join(&format!(
        "{}/api/rooms/{room}/ws?token={token}",
        edge.ws_base()
    ))
    .await?;
    let mut trunk = Trunk::connect(
        &trunk_url(&edge, &room),
        TRUNK_SECRET,
        proof(&room).as_deref(),
    )
    .await?;
    // The edge greets the trunk and announces its own participants.
    let announced = trunk
        .wait_for(QUIET * 4, |m| match m {
            link_message::Msg::Joined(p) => Some(p.clone()),
            _ => None,
        })
        .await?;
    ensure!(
        announced.name == "alice" && announced.id == alice.id,
        "{announced:?}"
    );
    // The relay announces Bob (its id 7); Alice sees him as remote.
    trunk
        .send(link_message::Msg::Hello(wire::LinkHello {
            protocol_version: edgecall_proto::PROTOCOL_VERSION,
            host_id: "relay-a".into(),
        }))
        .await?;
    trunk
        .send(link_message::Msg::Joined(wire::Participant {
            id: 7,
            name: "bob".into(),
            media_state: None,
            remote: false,
            can_publish: true,
            ..wire::Participant::default()
        }))
        .await?;
    let bob = alice
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Joined(j) => j.participant.clone(),
            _ => None,
        })
        .await?;
    ensure!(bob.name == "bob" && bob.remote, "{bob:?}");
    // Bob's frame crosses the trunk and reaches Alice under Bob's edge id.
    let mut frame = audio(1, 20);
    frame.sender = 7;
    trunk.send(link_message::Msg::Media(frame)).await?;
    // A frame claiming to come from Alice herself is not Bob's to send.
    let mut forged = audio(2, 20);
    forged.sender = alice.id;
    trunk.send(link_message::Msg::Media(forged)).await?;
    let got = alice.media_at_least(1, any_frame, ARRIVAL, QUIET).await;
    ensure!(
        got.len() == 1 && got[0].sender == bob.id,
        "alice got {got:?}"
    );
    // Alice's audio crosses once, stamped with her id.
    alice.media(audio(3, 20)).await?;
    let crossed = trunk
        .wait_for(QUIET * 4, |m| match m {
            link_message::Msg::Media(f) => Some(f.sender),
            _ => None,
        })
        .await?;
    ensure!(crossed == alice.id);
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 2 && info["connections"] == 2,
        "{info}"
    );
    // Losing the trunk removes its participants from the edge room.
    trunk.close().await?;
    let left = alice
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Left(l) => Some(l.id),
            _ => None,
        })
        .await?;
    ensure!(left == bob.id);
    Ok(())
}

async fn a_room_holding_only_a_trunk_hibernates_and_keeps_its_roster(
    edge: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("trunk-hibernate");
    let mut trunk = Trunk::connect(
        &trunk_url(&edge, &room),
        TRUNK_SECRET,
        proof(&room).as_deref(),
    )
    .await?;
    trunk
        .send(link_message::Msg::Joined(wire::Participant {
            id: 3,
            name: "carol".into(),
            media_state: None,
            remote: false,
            can_publish: true,
            ..wire::Participant::default()
        }))
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = edge.room_info(&room)?;
    ensure!(before["participants"] == 1, "{before}");
    // The trunk keeps itself alive with text keep-alives the runtime
    // answers on its own: they must not keep the object awake.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        trunk.send_text(edgecall_proto::KEEPALIVE_PING).await?;
    }
    ensure!(
        trunk.pongs() >= 10,
        "keep-alives answered: {}",
        trunk.pongs()
    );
    let dave = join(&edge, &room, "dave").await?;
    let names: Vec<&str> = dave
        .welcome
        .roster
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    ensure!(
        names == ["carol", "dave"],
        "roster after the idle spell: {names:?}"
    );
    let after = edge.room_info(&room)?;
    ensure!(
        after["restored"] == true,
        "not evicted and restored: {before} → {after}"
    );
    Ok(())
}

async fn text_keepalives_hold_a_trunk_past_the_heartbeat_timeout(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("trunk-keepalive");
    let mut trunk = Trunk::connect(
        &trunk_url(&edge, &room),
        TRUNK_SECRET,
        proof(&room).as_deref(),
    )
    .await?;
    trunk
        .send(link_message::Msg::Joined(wire::Participant {
            id: 4,
            name: "dora".into(),
            media_state: None,
            remote: false,
            can_publish: true,
            ..wire::Participant::default()
        }))
        .await?;
    // Three heartbeat timeouts with nothing but auto-answered keep-alives.
    let rounds = 3 * SHORT_HEARTBEAT_MS / 500;
    for _ in 0..rounds {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trunk.send_text(edgecall_proto::KEEPALIVE_PING).await?;
    }
    ensure!(trunk.pongs() > rounds / 2, "answered: {}", trunk.pongs());
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 1 && info["connections"] == 1,
        "the trunk timed out despite its keep-alives: {info}"
    );
    // Without them it times out like any silent connection.
    tokio::time::sleep(Duration::from_millis(SHORT_HEARTBEAT_MS * 3)).await;
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 0, "a silent trunk stayed: {info}");
    Ok(())
}

async fn a_reconnecting_relay_replaces_its_stale_trunk(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("trunk-replace");
    let mut eve = join(&edge, &room, "eve").await?;
    let ray = || {
        link_message::Msg::Joined(wire::Participant {
            id: 1,
            name: "ray".into(),
            media_state: None,
            remote: false,
            can_publish: true,
            ..wire::Participant::default()
        })
    };
    let mut old = Trunk::connect(
        &trunk_url(&edge, &room),
        TRUNK_SECRET,
        proof(&room).as_deref(),
    )
    .await?;
    old.send(ray()).await?;
    let first = eve
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Joined(j) => j.participant.clone(),
            _ => None,
        })
        .await?;
    // The same relay (same host id) comes back while its old socket is
    // still open: the old link goes, its participant leaves, then the new
    // link announces it again — never two "ray"s at once.
    let mut new = Trunk::connect(
        &trunk_url(&edge, &room),
        TRUNK_SECRET,
        proof(&room).as_deref(),
    )
    .await?;
    let left = eve
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Left(l) => Some(l.id),
            _ => None,
        })
        .await?;
    ensure!(left == first.id, "left {left}, first ray {}", first.id);
    ensure!(
        old.wait_for(QUIET * 4, |_| None::<()>)
            .await
            .is_err_and(|e| e.to_string().contains("closed")),
        "the stale trunk was not closed"
    );
    new.send(ray()).await?;
    let again = eve
        .wait_for(QUIET * 4, |m| match m {
            server_message::Msg::Joined(j) => j.participant.clone(),
            _ => None,
        })
        .await?;
    ensure!(again.name == "ray" && again.id != first.id, "{again:?}");
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 2 && info["connections"] == 2,
        "{info}"
    );
    Ok(())
}

// ------------------------------------------------------------------ keep-alives and slow receivers

/// A native session (the streamer's client library) joining over WebSocket.
fn session_config(edge: &Edge, room: &str, name: &str) -> Result<JoinConfig> {
    Ok(JoinConfig::new(&edge.http_base(), room, name)?.transport(TransportKind::WebSocket))
}

async fn text_keepalives_hold_a_participant_past_the_heartbeat(edge: Arc<Edge>) -> Result<()> {
    let room = unique_room("keepalive");
    let config = |name: &str| -> Result<JoinConfig> {
        Ok(session_config(&edge, &room, name)?.token(token(&room, name, 600, SECRET)?))
    };
    let mut alice = Session::connect(&config("alice")?).await?;
    let mut bob = Session::connect(&config("bob")?).await?;
    // Three heartbeat timeouts with nothing but keep-alives, which the
    // runtime answers without the room.
    let until = tokio::time::Instant::now() + Duration::from_millis(3 * SHORT_HEARTBEAT_MS);
    while tokio::time::Instant::now() < until {
        alice.ping().await?;
        bob.ping().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let info = edge.room_info(&room)?;
    ensure!(
        info["participants"] == 2,
        "a keep-alive did not count: {info}"
    );
    // The round-trip time comes from the same exchange.
    let answered = tokio::time::timeout(ARRIVAL, async {
        while alice.rtt().is_none() {
            alice.ping().await?;
            let _ = tokio::time::timeout(Duration::from_millis(500), alice.recv()).await;
        }
        anyhow::Ok(())
    })
    .await;
    ensure!(
        matches!(answered, Ok(Ok(()))),
        "no keep-alive answer: {answered:?}"
    );
    alice.send_media(audio(1, 10)).await?;
    let got = tokio::time::timeout(ARRIVAL, async {
        loop {
            if let server_message::Msg::Media(f) = bob.recv().await?.msg.context("empty")? {
                return anyhow::Ok(f.sender);
            }
        }
    })
    .await??;
    ensure!(got == alice.participant_id());
    Ok(())
}

async fn a_receiver_that_stops_reading_is_stepped_down_then_paused_not_the_room(
    edge: Arc<Edge>,
) -> Result<()> {
    let room = unique_room("slow");
    let sender = Session::connect(&session_config(&edge, &room, "sender")?).await?;
    let mut fast = Session::connect(&session_config(&edge, &room, "fast")?).await?;
    let mut slow_config = session_config(&edge, &room, "slow")?;
    // Its reader hands on one message at a time and this test reads none
    // until the end: the socket backs up, nothing is acknowledged.
    slow_config.inbound_queue = 1;
    let mut slow = Session::connect(&slow_config).await?;
    let sender_id = sender.participant_id();

    const FRAMES: u64 = 200;
    let counter = tokio::spawn(async move {
        let mut delays_ms = Vec::new();
        let deadline = tokio::time::Instant::now() + ARRIVAL;
        while (delays_ms.len() as u64) < FRAMES {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, fast.recv()).await {
                Ok(Ok(message)) => {
                    if let Some(server_message::Msg::Media(f)) = message.msg {
                        if f.track == Track::Camera as i32 && f.sender == sender_id {
                            let now = edgecall_e2e::frames::now_us();
                            delays_ms.push(now.saturating_sub(f.capture_time_us) as f64 / 1e3);
                        }
                    }
                }
                _ => break,
            }
        }
        (delays_ms, fast)
    });
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for seq in 1..=FRAMES {
        ticker.tick().await;
        let mut frame = camera(seq, 16_000);
        frame.keyframe = seq % 25 == 1;
        sender.send_media(frame).await?;
    }
    let (mut delays, _fast) = counter.await?;
    ensure!(
        delays.len() as u64 == FRAMES,
        "the receiver that keeps up got {} of {FRAMES} frames",
        delays.len()
    );
    delays.sort_by(f64::total_cmp);
    println!(
        "    the receiver that keeps up: {FRAMES} of {FRAMES} frames, delay p50 {:.0} ms, p99 {:.0} ms",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100]
    );
    // The slow receiver finally reads: it was told it was stepped down,
    // then paused, and it was never closed.
    let (mut downgraded, mut paused, mut frames) = (false, false, 0u64);
    while let Ok(Ok(message)) = tokio::time::timeout(QUIET * 2, slow.recv()).await {
        match message.msg {
            Some(server_message::Msg::Congestion(c)) => {
                downgraded |= c.max_layer < 2;
                paused |= c.video_paused;
            }
            Some(server_message::Msg::Media(_)) => frames += 1,
            _ => {}
        }
    }
    println!("    the receiver that stopped reading: {frames} of {FRAMES} frames before the pause");
    ensure!(
        downgraded && paused,
        "downgraded {downgraded}, paused {paused}"
    );
    ensure!(frames < FRAMES, "the slow receiver was never held back");
    let info = edge.room_info(&room)?;
    ensure!(info["participants"] == 3, "{info}");
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let start = |vars: &[(&str, &str)]| match Edge::start(vars) {
        Ok(edge) => Arc::new(edge),
        Err(err) => {
            eprintln!("cannot start the edge: {err:#}");
            std::process::exit(1);
        }
    };
    let heartbeat = SHORT_HEARTBEAT_MS.to_string();
    let open = start(&[
        ("HEARTBEAT_TIMEOUT_MS", "120000"),
        ("TRUNK_SECRET", TRUNK_SECRET),
    ]);
    let secured = start(&[
        ("JOIN_TOKEN_SECRET", SECRET),
        ("API_KEY", API_KEY),
        ("TRUNK_SECRET", TRUNK_SECRET),
        ("HEARTBEAT_TIMEOUT_MS", &heartbeat),
        ("RELAY_DIRECTORY_URL", DIRECTORY_URL),
    ]);
    // The join limit as deployed (no loopback exemption).
    let limited = start(&[(edgecall_e2e::edge::JOIN_LIMIT_EXEMPT_VAR, "")]);
    let trials = vec![
        trial(
            "joins_past_the_address_limit_get_429",
            &limited,
            joins_past_the_address_limit_get_429,
        ),
        trial(
            "a_same_name_join_kicks_nobody",
            &open,
            a_same_name_join_kicks_nobody,
        ),
        trial(
            "a_resumed_session_replaces_its_ghost",
            &open,
            a_resumed_session_replaces_its_ghost,
        ),
        trial(
            "a_connection_without_hello_is_closed_at_the_deadline",
            &open,
            a_connection_without_hello_is_closed_at_the_deadline,
        ),
        trial(
            "two_participants_exchange_media_with_server_stamped_senders",
            &open,
            two_participants_exchange_media_with_server_stamped_senders,
        ),
        trial(
            "twelve_participants_get_what_the_policy_entitles",
            &open,
            twelve_participants_get_what_the_policy_entitles,
        ),
        trial(
            "late_joiners_get_the_recent_chat_until_the_room_empties",
            &open,
            late_joiners_get_the_recent_chat_until_the_room_empties,
        ),
        trial(
            "room_info_and_health_answer",
            &open,
            room_info_and_health_answer,
        ),
        trial(
            "room_metrics_need_the_api_key",
            &open,
            room_metrics_need_the_api_key,
        ),
        trial(
            "room_metrics_count_participants_and_frames",
            &open,
            room_metrics_count_participants_and_frames,
        ),
        trial(
            "restores_from_hibernation_are_counted_across_evictions",
            &open,
            restores_from_hibernation_are_counted_across_evictions,
        ),
        trial(
            "requests_are_checked_before_the_room",
            &open,
            requests_are_checked_before_the_room,
        ),
        trial(
            "garbage_bytes_close_only_the_sender",
            &open,
            garbage_bytes_close_only_the_sender,
        ),
        trial(
            "truncated_protobuf_closes_only_the_sender",
            &open,
            truncated_protobuf_closes_only_the_sender,
        ),
        trial(
            "oversize_message_closes_only_the_sender",
            &open,
            oversize_message_closes_only_the_sender,
        ),
        trial(
            "flood_closes_only_the_flooder",
            &open,
            flood_closes_only_the_flooder,
        ),
        trial(
            "text_frames_close_only_the_sender",
            &open,
            text_frames_close_only_the_sender,
        ),
        trial(
            "a_hibernated_room_still_routes_and_keeps_its_roster",
            &open,
            a_hibernated_room_still_routes_and_keeps_its_roster,
        ),
        trial(
            "bad_tokens_are_refused_before_the_room",
            &secured,
            bad_tokens_are_refused_before_the_room,
        ),
        trial(
            "a_valid_token_names_the_participant",
            &secured,
            a_valid_token_names_the_participant,
        ),
        trial(
            "a_host_token_moderates_and_nobody_else_can",
            &secured,
            a_host_token_moderates_and_nobody_else_can,
        ),
        trial(
            "the_token_endpoint_needs_the_api_key",
            &secured,
            the_token_endpoint_needs_the_api_key,
        ),
        trial(
            "heartbeat_timeout_removes_a_silent_participant",
            &secured,
            heartbeat_timeout_removes_a_silent_participant,
        ),
        trial(
            "text_keepalives_hold_a_participant_past_the_heartbeat",
            &secured,
            text_keepalives_hold_a_participant_past_the_heartbeat,
        ),
        trial(
            "a_receiver_that_stops_reading_is_stepped_down_then_paused_not_the_room",
            &open,
            a_receiver_that_stops_reading_is_stepped_down_then_paused_not_the_room,
        ),
        trial(
            "a_forged_trunk_is_refused",
            &secured,
            a_forged_trunk_is_refused,
        ),
        trial(
            "a_trunk_joins_relay_participants_to_the_edge_room",
            &secured,
            a_trunk_joins_relay_participants_to_the_edge_room,
        ),
        trial(
            "text_keepalives_hold_a_trunk_past_the_heartbeat_timeout",
            &secured,
            text_keepalives_hold_a_trunk_past_the_heartbeat_timeout,
        ),
        trial(
            "a_reconnecting_relay_replaces_its_stale_trunk",
            &open,
            a_reconnecting_relay_replaces_its_stale_trunk,
        ),
        trial(
            "a_room_holding_only_a_trunk_hibernates_and_keeps_its_roster",
            &open,
            a_room_holding_only_a_trunk_hibernates_and_keeps_its_roster,
        ),
    ];
    let mut trials = trials;
    let open_edge = open.clone();
    trials.push(trial(
        "the_page_config_names_the_relay_directory_only_when_set",
        &secured,
        move |secured| the_page_config_names_the_relay_directory_only_when_set(open_edge, secured),
    ));
    let conclusion = libtest_mimic::run(&args, trials);
    // `exit` skips destructors: stop every edge first.
    drop(open);
    drop(secured);
    drop(limited);
    conclusion.exit();
}
