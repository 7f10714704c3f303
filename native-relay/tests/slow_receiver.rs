//! A receiver that stops reading is downgraded, then paused; nobody else
//! notices.

mod support;

use std::time::Duration;

use edgecall_proto::wire::{server_message, Track};
use edgecall_stream::{Session, TransportKind};
use support::{expect_joined, frame, Relay};

#[tokio::test]
async fn slow_receiver_is_downgraded_then_paused_not_the_room() {
    let dir = std::env::temp_dir().join(format!("edgecall-slow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("relay.toml");
    std::fs::write(
        &config,
        "[room]\ncongestion_high_bytes = 65536\ncongestion_low_bytes = 16384\n",
    )
    .unwrap();
    let relay = Relay::start(&["--config", config.to_str().unwrap()]);
    let mut sender = relay
        .connect("slow", "sender", TransportKind::WebTransport)
        .await;
    let mut fast = relay
        .connect("slow", "fast", TransportKind::WebTransport)
        .await;
    let mut slow_config = relay.join("slow", "slow", TransportKind::WebTransport);
    slow_config.inbound_queue = 1;
    let mut slow = Session::connect(&slow_config).await.unwrap();
    expect_joined(&mut fast, "sender").await;
    expect_joined(&mut sender, "slow").await;

    let sent = 200u64;
    let counter = tokio::spawn(async move {
        let mut received = 0u64;
        while let Ok(Ok(message)) = tokio::time::timeout(Duration::from_secs(3), fast.recv()).await
        {
            if matches!(&message.msg, Some(server_message::Msg::Media(f)) if f.track == Track::Camera as i32)
            {
                received += 1;
            }
        }
        received
    });
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for seq in 1..=sent {
        ticker.tick().await;
        sender
            .send_media(frame(Track::Camera, seq, seq % 25 == 1, 16_000))
            .await
            .unwrap();
    }
    let received = counter.await.unwrap();
    assert!(
        received * 10 >= sent * 9,
        "the fast receiver got {received} of {sent} frames"
    );

    // The slow receiver finally reads: the relay told it it was
    // downgraded, then paused.
    let (mut downgraded, mut paused) = (false, false);
    while let Ok(Ok(message)) = tokio::time::timeout(Duration::from_secs(2), slow.recv()).await {
        if let Some(server_message::Msg::Congestion(c)) = &message.msg {
            downgraded |= c.max_layer < 2;
            paused |= c.video_paused;
        }
    }
    assert!(
        downgraded && paused,
        "downgraded {downgraded}, paused {paused}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
