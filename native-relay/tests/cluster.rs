//! Cluster mode: relays sharing rooms over a real nats-server.

mod support;

use std::time::Duration;

use edgecall_proto::wire::{server_message, Track};
use edgecall_stream::TransportKind;
use support::{expect, expect_joined, expect_media, frame, Nats, Relay};

fn clustered(nats: &Nats) -> Relay {
    Relay::start(&[
        "--nats",
        &nats.url(),
        "--nats-heartbeat-ms",
        "200",
        "--nats-timeout-ms",
        "1500",
    ])
}

#[tokio::test]
async fn participants_on_two_relays_share_a_room_and_its_media() {
    let nats = Nats::start();
    let relay_a = clustered(&nats);
    let relay_b = clustered(&nats);
    let mut ada = relay_a
        .connect("span", "ada", TransportKind::WebTransport)
        .await;
    let mut bob = relay_b
        .connect("span", "bob", TransportKind::WebSocket)
        .await;
    let bob_at_a = expect_joined(&mut ada, "bob").await;
    let ada_at_b = expect_joined(&mut bob, "ada").await;

    // Media crosses in both directions, stamped with the ids each side knows.
    let mut seq = 0;
    let video = loop {
        seq += 1;
        bob.send_media(frame(Track::Camera, seq, true, 4_000))
            .await
            .unwrap();
        bob.send_media(frame(Track::Audio, seq, false, 100))
            .await
            .unwrap();
        let got = tokio::time::timeout(
            Duration::from_millis(300),
            expect_media(&mut ada, Track::Camera),
        )
        .await;
        if let Ok(frame) = got {
            break frame;
        }
        assert!(seq < 30, "bob's video never reached relay A");
    };
    assert_eq!(video.sender, bob_at_a);
    ada.send_media(frame(Track::Audio, 1, false, 100))
        .await
        .unwrap();
    assert_eq!(expect_media(&mut bob, Track::Audio).await.sender, ada_at_b);
}

#[tokio::test]
async fn a_dead_relay_s_participants_leave_within_the_heartbeat_timeout() {
    let nats = Nats::start();
    let relay_a = clustered(&nats);
    let mut relay_b = clustered(&nats);
    let mut ada = relay_a
        .connect("crash", "ada", TransportKind::WebTransport)
        .await;
    let _bob = relay_b
        .connect("crash", "bob", TransportKind::WebTransport)
        .await;
    let bob_id = expect_joined(&mut ada, "bob").await;
    relay_b.kill();
    expect(
        &mut ada,
        Duration::from_secs(10),
        "bob to leave",
        |m| match &m.msg {
            Some(server_message::Msg::Left(left)) if left.id == bob_id => Some(()),
            _ => None,
        },
    )
    .await;
}

#[tokio::test]
async fn a_nats_restart_recovers_without_restarting_relays() {
    let mut nats = Nats::start();
    let relay_a = clustered(&nats);
    let relay_b = clustered(&nats);
    let mut ada = relay_a
        .connect("phoenix", "ada", TransportKind::WebTransport)
        .await;
    let mut bob = relay_b
        .connect("phoenix", "bob", TransportKind::WebTransport)
        .await;
    expect_joined(&mut ada, "bob").await;
    nats.restart();
    // Keep both clients alive while NATS comes back; then a newcomer on B
    // must show up at A, and B's media must reach A again.
    let cleo = relay_b
        .connect("phoenix", "cleo", TransportKind::WebTransport)
        .await;
    let mut cleo_at_a = expect_joined(&mut ada, "cleo").await;
    let mut seq = 0;
    loop {
        seq += 1;
        cleo.send_media(frame(Track::Audio, seq, false, 100))
            .await
            .unwrap();
        bob.ping().await.unwrap();
        // If cleo joined before the relays resynced, the rebuilt link
        // announces her again under a new id at A: follow it.
        let got = tokio::time::timeout(
            Duration::from_millis(300),
            expect(&mut ada, Duration::from_secs(10), "audio", |m| {
                match &m.msg {
                    Some(server_message::Msg::Media(f)) if f.track == Track::Audio as i32 => {
                        Some(Ok(f.sender))
                    }
                    Some(server_message::Msg::Joined(j)) => j
                        .participant
                        .as_ref()
                        .filter(|p| p.name == "cleo")
                        .map(|p| Err(p.id)),
                    _ => None,
                }
            }),
        )
        .await;
        match got {
            Ok(Ok(sender)) if sender == cleo_at_a => break,
            Ok(Err(rejoined)) => cleo_at_a = rejoined,
            _ => {}
        }
        assert!(
            seq < 50,
            "cleo's audio never reached relay A after the NATS restart"
        );
    }
}
