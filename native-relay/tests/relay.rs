//! The standalone relay over real loopback sockets.

mod support;

use std::time::Duration;

use bytes::Bytes;
use edgecall_proto::room::CloseCode;
use edgecall_proto::wire::{client_message, server_message, ModerationAction, Track};
use edgecall_stream::{ClientError, Session, TransportKind, Trust};
use support::{expect, expect_closed, expect_joined, expect_media, frame, http_get, Relay};

#[tokio::test]
async fn webtransport_and_websocket_clients_share_a_room_with_stamped_media() {
    let relay = Relay::start(&[]);
    let mut ada = relay
        .connect("standup", "ada", TransportKind::WebTransport)
        .await;
    let mut bob = relay
        .connect("standup", "bob", TransportKind::WebSocket)
        .await;
    let bob_id = expect_joined(&mut ada, "bob").await;
    let ada_id = expect_joined(&mut bob, "ada").await;
    assert_eq!(bob_id, bob.participant_id());

    ada.send_media(frame(Track::Audio, 1, false, 100))
        .await
        .unwrap();
    ada.send_media(frame(Track::Camera, 1, true, 20_000))
        .await
        .unwrap();
    let audio = expect_media(&mut bob, Track::Audio).await;
    assert_eq!(audio.sender, ada_id, "the relay stamps the sender");
    let video = expect_media(&mut bob, Track::Camera).await;
    assert_eq!((video.sender, video.payload.len()), (ada_id, 20_000));

    bob.send_media(frame(Track::Audio, 1, false, 100))
        .await
        .unwrap();
    bob.send_media(frame(Track::Camera, 1, true, 5_000))
        .await
        .unwrap();
    assert_eq!(expect_media(&mut ada, Track::Audio).await.sender, bob_id);
    assert_eq!(expect_media(&mut ada, Track::Camera).await.sender, bob_id);

    ada.ping().await.unwrap();
    expect(&mut ada, Duration::from_secs(5), "pong", |m| {
        matches!(m.msg, Some(server_message::Msg::Pong(_))).then_some(())
    })
    .await;
    assert!(ada.rtt().is_some());
}

#[tokio::test]
async fn tokens_are_required_and_wrong_paths_refused() {
    let relay = Relay::start(&["--token-secret", "s3cret"]);
    let missing =
        Session::connect(&relay.join("standup", "eve", TransportKind::WebTransport)).await;
    assert!(
        matches!(missing, Err(ClientError::Rejected { status: 401 })),
        "{missing:?}",
        missing = missing.err()
    );
    let forged = edgecall_proto::token::mint(
        b"wrong",
        &edgecall_proto::token::JoinClaims::new("standup", "eve", u64::MAX / 2),
    )
    .unwrap();
    for transport in [TransportKind::WebTransport, TransportKind::WebSocket] {
        let bad = Session::connect(&relay.join("standup", "eve", transport).token(&forged)).await;
        assert!(
            matches!(bad, Err(ClientError::Rejected { status: 403 })),
            "{:?}",
            bad.err()
        );
    }
    let good = edgecall_proto::token::mint(
        b"s3cret",
        &edgecall_proto::token::JoinClaims::new("standup", "grace", u64::MAX / 2),
    )
    .unwrap();
    let session = Session::connect(
        &relay
            .join("standup", "ignored", TransportKind::WebTransport)
            .token(&good),
    )
    .await
    .expect("a valid token joins");
    let me = session
        .welcome()
        .roster
        .iter()
        .find(|p| p.id == session.participant_id())
        .unwrap();
    assert_eq!(me.name, "grace", "the token's name wins");

    let mut wrong_path = relay.join("standup", "eve", TransportKind::WebTransport);
    wrong_path.room = "standup/extra".into();
    let refused = Session::connect(&wrong_path).await;
    assert!(
        matches!(refused, Err(ClientError::Rejected { status: 404 })),
        "{:?}",
        refused.err()
    );
    let (status, _) = http_get(&relay.http, "/api/nowhere").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn health_metrics_and_cert_hash_are_served() {
    let relay = Relay::start(&[]);
    let _ada = relay
        .connect("metrics-room", "ada", TransportKind::WebTransport)
        .await;
    assert_eq!(
        http_get(&relay.http, "/healthz").await,
        (200, "ok\n".into())
    );
    let (status, hash) = http_get(&relay.http, "/cert-hash").await;
    assert_eq!((status, hash.as_str()), (200, relay.cert_sha256.as_str()));
    // The room gauge follows the room's snapshots: wait for it to show
    // ada's room rather than guessing how long that takes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let (status, metrics) = http_get(&relay.http, "/metrics").await;
        assert_eq!(status, 200);
        if metrics.contains("edgecall_rooms 1") || tokio::time::Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(metrics.contains("edgecall_rooms 1"), "{metrics}");
    assert!(
        metrics.contains("edgecall_drops_total{reason=\"stale\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_wrong_pinned_hash_is_refused_by_the_client() {
    let relay = Relay::start(&[]);
    let config = relay
        .join("standup", "ada", TransportKind::WebTransport)
        .trust(Trust::cert_hash_hex(&"00".repeat(32)).unwrap());
    assert!(Session::connect(&config).await.is_err());
    let ws = config.transport(TransportKind::WebSocket);
    assert!(Session::connect(&ws).await.is_err());
}

#[tokio::test]
async fn pem_certificates_from_a_private_ca_are_served() {
    let dir = std::env::temp_dir().join(format!("edgecall-pem-{}", std::process::id()));
    let (ca_pem, cert_path, key_path) = support::private_ca(&dir);
    let relay = Relay::start(&[
        "--cert",
        cert_path.to_str().unwrap(),
        "--key",
        key_path.to_str().unwrap(),
    ]);
    let trust = Trust::roots_pem(ca_pem.as_bytes()).unwrap();
    for transport in [TransportKind::WebTransport, TransportKind::WebSocket] {
        let config = relay
            .join("pem", &format!("{transport:?}"), transport)
            .trust(trust.clone());
        Session::connect(&config).await.expect("CA-verified join");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn graceful_shutdown_tells_clients_to_reconnect() {
    let mut relay = Relay::start(&[]);
    let mut wt = relay
        .connect("bye", "ada", TransportKind::WebTransport)
        .await;
    let mut ws = relay.connect("bye", "bob", TransportKind::WebSocket).await;
    relay.terminate();
    assert_eq!(expect_closed(&mut wt).await, Some(4013));
    assert_eq!(expect_closed(&mut ws).await, Some(4013));
    let status = relay
        .wait(Duration::from_secs(15))
        .expect("the relay exits");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn garbage_oversize_and_abandoned_input_closes_only_the_offender() {
    let relay = Relay::start(&[]);
    let mut ada = relay
        .connect("rough", "ada", TransportKind::WebTransport)
        .await;
    let mut bob = relay
        .connect("rough", "bob", TransportKind::WebTransport)
        .await;
    let ada_id = expect_joined(&mut bob, "ada").await;

    let mut garbage = relay
        .connect("rough", "garbage", TransportKind::WebTransport)
        .await;
    garbage
        .send_raw_datagram(Bytes::from_static(&[0xff; 64]))
        .await
        .unwrap();
    assert_eq!(expect_closed(&mut garbage).await, Some(4002));

    let mut streamer = relay
        .connect("rough", "streamer", TransportKind::WebTransport)
        .await;
    streamer
        .send_raw_stream(Bytes::from_static(&[0x12, 0xff, 0xff, 0x01]))
        .await
        .unwrap();
    assert_eq!(expect_closed(&mut streamer).await, Some(4002));

    // A client that keeps to the announced limits withholds the frame...
    let polite = relay
        .connect("rough", "polite", TransportKind::WebTransport)
        .await;
    let withheld = polite
        .send_media(frame(Track::Camera, 1, true, 600 * 1024))
        .await;
    assert!(
        matches!(withheld, Err(ClientError::Withheld(_))),
        "{withheld:?}"
    );
    // ...one that ignores them is closed.
    let unlimited = |name: &str, transport| {
        let mut config = relay.join("rough", name, transport);
        config.respect_limits = false;
        config
    };
    let mut huge = Session::connect(&unlimited("huge", TransportKind::WebTransport))
        .await
        .unwrap();
    huge.send_media(frame(Track::Camera, 1, true, 600 * 1024))
        .await
        .ok();
    assert_eq!(expect_closed(&mut huge).await, Some(4004));

    let mut huge_ws = Session::connect(&unlimited("hugews", TransportKind::WebSocket))
        .await
        .unwrap();
    huge_ws
        .send_media(frame(Track::Camera, 1, true, 300 * 1024))
        .await
        .ok();
    assert_eq!(expect_closed(&mut huge_ws).await, Some(4004));

    let mut flood = relay
        .connect("rough", "flood", TransportKind::WebSocket)
        .await;
    for nonce in 0..2_000u64 {
        if flood
            .send(client_message::Msg::Ping(edgecall_proto::wire::Ping {
                nonce,
            }))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(expect_closed(&mut flood).await, Some(4005));

    let abandon = relay
        .connect("rough", "abandon", TransportKind::WebTransport)
        .await;
    let mut half = abandon.open_raw_stream().await.unwrap();
    half.write_all(&[0x12, 0x80, 0x10, 0x01]).await.unwrap();
    drop(half);
    drop(abandon);

    // The honest pair never noticed.
    ada.send_media(frame(Track::Camera, 2, true, 1_000))
        .await
        .unwrap();
    assert_eq!(expect_media(&mut bob, Track::Camera).await.sender, ada_id);
    ada.ping().await.unwrap();
    expect(&mut ada, Duration::from_secs(5), "pong", |m| {
        matches!(m.msg, Some(server_message::Msg::Pong(_))).then_some(())
    })
    .await;
}

/// The chat messages (sender name, text) of the history `session` gets
/// right after its Welcome; empty when none comes before the answer to a
/// Ping sent after joining (the history, when there is one, is queued with
/// the Welcome, ahead of anything the client asks later).
async fn history_after_welcome(session: &mut Session) -> Vec<(String, String)> {
    session.ping().await.unwrap();
    expect(
        session,
        Duration::from_secs(10),
        "chat history or pong",
        |m| match &m.msg {
            Some(server_message::Msg::ChatHistory(h)) => Some(
                h.messages
                    .iter()
                    .map(|c| (c.sender_name.clone(), c.text.clone()))
                    .collect(),
            ),
            Some(server_message::Msg::Pong(_)) => Some(Vec::new()),
            _ => None,
        },
    )
    .await
}

fn chat(text: &str) -> client_message::Msg {
    client_message::Msg::Chat(edgecall_proto::wire::Chat {
        text: text.to_owned(),
        ..Default::default()
    })
}

#[tokio::test]
async fn late_joiners_get_the_recent_chat_until_the_meeting_empties() {
    let relay = Relay::start(&[]);
    let room = "chat-history";
    let mut ada = relay
        .connect(room, "ada", TransportKind::WebTransport)
        .await;
    let mut bob = relay.connect(room, "bob", TransportKind::WebSocket).await;
    expect_joined(&mut ada, "bob").await;
    ada.send(chat("agenda: the launch")).await.unwrap();
    // Two senders on two connections have no order between them: bob
    // answers once he has ada's message, so the history's order is known.
    expect(&mut bob, Duration::from_secs(10), "ada's chat", |m| {
        matches!(&m.msg, Some(server_message::Msg::Chat(c)) if c.text == "agenda: the launch")
            .then_some(())
    })
    .await;
    bob.send(chat("bob has to go")).await.unwrap();
    expect(&mut ada, Duration::from_secs(10), "bob's chat", |m| {
        matches!(&m.msg, Some(server_message::Msg::Chat(c)) if c.text == "bob has to go")
            .then_some(())
    })
    .await;
    bob.close();
    drop(bob);
    let expected = vec![
        ("ada".to_owned(), "agenda: the launch".to_owned()),
        ("bob".to_owned(), "bob has to go".to_owned()),
    ];
    for transport in [TransportKind::WebTransport, TransportKind::WebSocket] {
        let mut late = relay.connect(room, "carol", transport).await;
        assert_eq!(
            history_after_welcome(&mut late).await,
            expected,
            "over {transport:?}"
        );
        late.close();
    }
    // Once the last participant has left, the meeting's chat is gone.
    ada.close();
    drop(ada);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, metrics) = http_get(&relay.http, "/metrics").await;
        if metrics.contains("edgecall_rooms 0") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room did not close: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut next = relay
        .connect(room, "dave", TransportKind::WebTransport)
        .await;
    assert_eq!(history_after_welcome(&mut next).await, Vec::new());
}

/// A session of `name` in `room` with a token of `role` (secret `s3cret`).
async fn join_as_role(
    relay: &Relay,
    room: &str,
    name: &str,
    role: edgecall_proto::token::Role,
    transport: TransportKind,
) -> Result<Session, ClientError> {
    let claims = edgecall_proto::token::JoinClaims {
        role,
        ..edgecall_proto::token::JoinClaims::new(room, name, u64::MAX / 2)
    };
    let token = edgecall_proto::token::mint(b"s3cret", &claims).expect("mint");
    Session::connect(&relay.join(room, name, transport).token(&token)).await
}

fn moderate(action: ModerationAction, participant: u32) -> client_message::Msg {
    client_message::Msg::Moderate(edgecall_proto::wire::Moderate {
        action: action as i32,
        participant,
    })
}

#[tokio::test]
async fn only_a_host_token_moderates_over_both_transports() {
    use edgecall_proto::token::Role;
    let relay = Relay::start(&["--token-secret", "s3cret"]);
    let room = "moderated";
    let join = |name, role, transport| join_as_role(&relay, room, name, role, transport);
    let mut chair = join("chair", Role::Host, TransportKind::WebTransport)
        .await
        .unwrap();
    let mut bob = join("bob", Role::Participant, TransportKind::WebSocket)
        .await
        .unwrap();
    let mut carol = join("carol", Role::Participant, TransportKind::WebTransport)
        .await
        .unwrap();
    let carol_id = carol.participant_id();
    bob.send(moderate(ModerationAction::Remove, carol_id))
        .await
        .unwrap();
    assert_eq!(
        expect_closed(&mut bob).await,
        Some(u32::from(CloseCode::Forbidden.code()))
    );
    chair
        .send(moderate(ModerationAction::Remove, carol_id))
        .await
        .unwrap();
    assert_eq!(
        expect_closed(&mut carol).await,
        Some(u32::from(CloseCode::Removed.code()))
    );
    let again = join("carol", Role::Participant, TransportKind::WebSocket).await;
    assert!(again.is_err(), "carol rejoined after being removed");
    let mut dave = join("dave", Role::Participant, TransportKind::WebSocket)
        .await
        .unwrap();
    chair
        .send(moderate(ModerationAction::EndMeeting, 0))
        .await
        .unwrap();
    for session in [&mut dave, &mut chair] {
        assert_eq!(
            expect_closed(session).await,
            Some(u32::from(CloseCode::MeetingEnded.code()))
        );
    }
}
