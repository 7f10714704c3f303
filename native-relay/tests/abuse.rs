//! Hostile clients against the relay's transports, on real loopback
//! sockets: floods after a close, oversize and text WebSocket messages,
//! trickled HTTP headers, QUIC connections that never send `CONNECT`, and
//! addresses opening sessions too fast.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use edgecall_proto::wire::{
    self, client_message, server_message, ClientMessage, ServerMessage, Track,
};
use edgecall_stream::{ClientError, Session, TransportKind, Trust};
use futures::{SinkExt, StreamExt};
use prost::Message as _;
use support::{expect, expect_joined, expect_media, frame, http_get, private_ca, tls_to, Relay};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// `ws://…/api/rooms/<room>/ws?name=<name>` on the plain listener.
fn ws_url(relay: &Relay, room: &str, name: &str) -> String {
    let authority = relay.http.strip_prefix("http://").expect("plain base");
    format!("ws://{authority}/api/rooms/{room}/ws?name={name}")
}

fn encode(msg: client_message::Msg) -> Bytes {
    Bytes::from(ClientMessage { msg: Some(msg) }.encode_to_vec())
}

fn hello() -> Message {
    Message::Binary(encode(client_message::Msg::Hello(wire::Hello {
        protocol_version: edgecall_proto::PROTOCOL_VERSION,
        client: "abuse-test".into(),
        media_state: None,
        ..wire::Hello::default()
    })))
}

/// One sample of a counter or gauge from `/metrics`.
async fn metric(relay: &Relay, series: &str) -> u64 {
    let (status, text) = http_get(&relay.http, "/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} not in /metrics:\n{text}"))
}

/// Waits until `who` left, as `observer` sees it.
async fn expect_left(observer: &mut Session, who: u32) {
    expect(
        observer,
        Duration::from_secs(15),
        "the flooder to leave",
        |m| matches!(&m.msg, Some(server_message::Msg::Left(left)) if left.id == who).then_some(()),
    )
    .await;
}

/// The honest pair still gets media through the room.
async fn honest_pair_still_receives(from: &Session, to: &mut Session, from_id: u32, seq: u64) {
    from.send_media(frame(Track::Camera, seq, true, 2_000))
        .await
        .expect("the honest sender still sends");
    assert_eq!(expect_media(to, Track::Camera).await.sender, from_id);
}

#[tokio::test]
async fn a_websocket_flooding_after_its_close_is_not_read_and_its_socket_goes_within_a_second() {
    let relay = Relay::start(&[]);
    let ada = relay
        .connect("flood", "ada", TransportKind::WebTransport)
        .await;
    let mut bob = relay
        .connect("flood", "bob", TransportKind::WebTransport)
        .await;
    let ada_id = expect_joined(&mut bob, "ada").await;

    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&relay, "flood", "mallory"))
        .await
        .expect("the flooder connects");
    ws.send(hello()).await.unwrap();
    let mallory = expect_joined(&mut bob, "mallory").await;
    // The flooder never reads again, so it never answers the close.
    let (mut sink, _never_read) = ws.split();
    let message = encode(client_message::Msg::Media(frame(
        Track::Screen,
        1,
        true,
        64 * 1024,
    )));
    let len = message.len() as u64;
    let written = Arc::new(AtomicU64::new(0));
    let flood = tokio::spawn({
        let written = written.clone();
        async move {
            // Far past the engine's byte burst: it closes the flooder for
            // its rate, and the flooder goes on.
            while sink.send(Message::Binary(message.clone())).await.is_ok() {
                written.fetch_add(len, Ordering::Relaxed);
            }
            Instant::now()
        }
    });

    expect_left(&mut bob, mallory).await;
    let closed_at = Instant::now();
    let series = "edgecall_read_bytes_total{transport=\"websocket\"}";
    let read_at_close = metric(&relay, series).await;
    let written_at_close = written.load(Ordering::Relaxed);
    let failed_at = tokio::time::timeout(Duration::from_secs(10), flood)
        .await
        .expect("the relay kept the flooder's socket open")
        .unwrap();
    let gone_after = failed_at.saturating_duration_since(closed_at);
    let read_after_close = metric(&relay, series).await - read_at_close;
    let written_after_close = written.load(Ordering::Relaxed) - written_at_close;
    eprintln!(
        "flooder: {} bytes written in all, {read_at_close} read by the relay before its close; \
         after it {written_after_close} bytes accepted by the kernel, {read_after_close} read \
         by the relay; socket gone {} ms after the close",
        written.load(Ordering::Relaxed),
        gone_after.as_millis()
    );
    assert!(
        read_after_close <= 2 * len,
        "the relay read {read_after_close} bytes after closing the flooder"
    );
    assert!(
        gone_after < Duration::from_secs(1),
        "the flooder's socket lived {gone_after:?} after its close"
    );
    assert_eq!(
        metric(&relay, series).await,
        read_at_close + read_after_close,
        "reading stopped for good"
    );
    honest_pair_still_receives(&ada, &mut bob, ada_id, 1).await;
}

#[tokio::test]
async fn a_webtransport_session_flooding_after_its_close_is_not_read_and_is_closed() {
    let relay = Relay::start(&[]);
    let ada = relay
        .connect("wtflood", "ada", TransportKind::WebSocket)
        .await;
    let mut bob = relay
        .connect("wtflood", "bob", TransportKind::WebSocket)
        .await;
    let ada_id = expect_joined(&mut bob, "ada").await;
    let mallory = relay
        .connect("wtflood", "mallory", TransportKind::WebTransport)
        .await;
    let mallory_id = expect_joined(&mut bob, "mallory").await;

    // The first garbage datagram breaks the protocol; the flood goes on
    // until the client's QUIC stack learns of the close.
    let flood = tokio::spawn(async move {
        let garbage = Bytes::from_static(&[0xff; 64]);
        let mut sent = 0u64;
        while mallory.send_raw_datagram(garbage.clone()).await.is_ok() {
            sent += 1;
            if sent.is_multiple_of(32) {
                tokio::task::yield_now().await;
            }
        }
        Instant::now()
    });
    expect_left(&mut bob, mallory_id).await;
    let closed_at = Instant::now();
    let series = "edgecall_read_messages_total{transport=\"webtransport\"}";
    let read_at_close = metric(&relay, series).await;
    let failed_at = tokio::time::timeout(Duration::from_secs(10), flood)
        .await
        .expect("the relay kept the flooder's session open")
        .unwrap();
    let gone_after = failed_at.saturating_duration_since(closed_at);
    let read_after_close = metric(&relay, series).await - read_at_close;
    eprintln!(
        "WebTransport flooder: {read_after_close} datagrams read after its close; \
         session gone {} ms after the close",
        gone_after.as_millis()
    );
    assert!(
        read_after_close <= 2,
        "the relay read {read_after_close} datagrams after closing the flooder"
    );
    assert!(
        gone_after < Duration::from_secs(1),
        "the flooder's session lived {gone_after:?} after its close"
    );
    honest_pair_still_receives(&ada, &mut bob, ada_id, 1).await;
}

/// Reads a raw WebSocket until the relay's close frame: the `Error`
/// messages seen before it, the close frame, and how long the TCP
/// connection lasted after it.
async fn close_of<S>(stream: &mut S) -> (Vec<wire::Error>, CloseFrame, Duration)
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut errors = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let close = loop {
        let message = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("no close frame from the relay")
            .expect("the connection ended without a close frame")
            .expect("the connection failed before the close frame");
        match message {
            Message::Binary(data) => {
                if let Ok(ServerMessage {
                    msg: Some(server_message::Msg::Error(error)),
                }) = ServerMessage::decode(data)
                {
                    errors.push(error);
                }
            }
            Message::Close(frame) => break frame.expect("a close code and reason"),
            _ => {}
        }
    };
    let closed_at = Instant::now();
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => panic!("the relay kept the connection after its close frame"),
            Ok(None | Some(Err(_))) => break,
            Ok(Some(Ok(_))) => {}
        }
    }
    (errors, close, closed_at.elapsed())
}

#[tokio::test]
async fn a_websocket_message_over_the_transport_limit_gets_too_large_with_a_reason() {
    let relay = Relay::start(&[]);
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(&relay, "big", "mallory"))
        .await
        .expect("connect");
    let (mut sink, mut stream) = ws.split();
    sink.send(hello()).await.unwrap();
    // Far above twice the engine's 256 KiB: the relay refuses it from the
    // frame header, without reading it.
    let huge = Bytes::from(vec![7u8; 4 * 1024 * 1024]);
    let writer = tokio::spawn(async move {
        let _ = sink.send(Message::Binary(huge)).await;
        sink
    });
    let (errors, close, lasted) = close_of(&mut stream).await;
    assert_eq!(u16::from(close.code), 4004, "{close:?}");
    assert!(
        close.reason.contains("exceeds the 262144-byte limit"),
        "{close:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.code == wire::ErrorCode::TooLarge as i32
                && e.message == close.reason.as_str()),
        "{errors:?}"
    );
    assert!(lasted < Duration::from_secs(1), "lasted {lasted:?}");
    writer.abort();
}

#[tokio::test]
async fn a_text_websocket_frame_is_a_protocol_violation_as_on_the_edge() {
    let relay = Relay::start(&[]);
    let mut bob = relay
        .connect("text", "bob", TransportKind::WebTransport)
        .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&relay, "text", "mallory"))
        .await
        .expect("connect");
    ws.send(hello()).await.unwrap();
    let mallory = expect_joined(&mut bob, "mallory").await;
    ws.send(Message::Text(r#"{"hello":1}"#.into()))
        .await
        .unwrap();
    let (errors, close, lasted) = close_of(&mut ws).await;
    assert_eq!(u16::from(close.code), 4002, "{close:?}");
    assert_eq!(close.reason.as_str(), edgecall_proto::TEXT_FRAME_REASON);
    assert!(
        errors
            .iter()
            .any(|e| e.code == wire::ErrorCode::Malformed as i32
                && e.message == edgecall_proto::TEXT_FRAME_REASON),
        "{errors:?}"
    );
    assert!(lasted < Duration::from_secs(1), "lasted {lasted:?}");
    expect_left(&mut bob, mallory).await;
}

#[tokio::test]
async fn a_websocket_text_keepalive_is_answered_and_holds_the_connection_past_the_heartbeat() {
    let dir = std::env::temp_dir().join(format!("edgecall-keepalive-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("relay.toml");
    std::fs::write(&config, "[room]\nheartbeat_timeout_ms = 1000\n").unwrap();
    let relay = Relay::start(&["--config", config.to_str().unwrap()]);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&relay, "keepalive", "ada"))
        .await
        .expect("connect");
    ws.send(hello()).await.unwrap();
    // Three heartbeat timeouts with nothing but keep-alives, each answered.
    let mut answers = 0;
    for _ in 0..12 {
        ws.send(Message::text(edgecall_proto::KEEPALIVE_PING))
            .await
            .unwrap();
        let until = tokio::time::Instant::now() + Duration::from_millis(250);
        while let Ok(Some(message)) = tokio::time::timeout_at(until, ws.next()).await {
            match message.expect("the socket stays open") {
                Message::Text(text) if text.as_str() == edgecall_proto::KEEPALIVE_PONG => {
                    answers += 1
                }
                Message::Close(close) => panic!("closed while keeping alive: {close:?}"),
                _ => {}
            }
        }
    }
    assert!(answers >= 10, "{answers} of 12 keep-alives answered");
    let mut bob = relay
        .connect("keepalive", "bob", TransportKind::WebTransport)
        .await;
    assert!(
        bob.welcome().roster.iter().any(|p| p.name == "ada"),
        "ada was dropped despite her keep-alives"
    );
    // Silent from now on: gone at the heartbeat timeout.
    let ada = bob
        .welcome()
        .roster
        .iter()
        .find(|p| p.name == "ada")
        .map(|p| p.id)
        .unwrap();
    expect_left(&mut bob, ada).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sends half a request line and waits for the relay to hang up: how long
/// that took.
async fn stall_half_a_request<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> Duration {
    stream.write_all(b"GET /healthz HT").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Err(_) => panic!("the relay kept a stalled request open for 10 s"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_client_trickling_its_request_header_is_disconnected_at_the_deadline() {
    let dir = std::env::temp_dir().join(format!("edgecall-abuse-hdr-{}", std::process::id()));
    let (ca_pem, cert, key) = private_ca(&dir);
    let relay = Relay::start(&[
        "--header-read-timeout-ms",
        "500",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let plain = TcpStream::connect(relay.http.strip_prefix("http://").unwrap())
        .await
        .unwrap();
    let tls = tls_to(&relay.url, &ca_pem).await;
    let (plain, tls) = tokio::join!(stall_half_a_request(plain), stall_half_a_request(tls));
    for (listener, lasted) in [("plain", plain), ("TLS", tls)] {
        assert!(
            lasted >= Duration::from_millis(400) && lasted < Duration::from_secs(3),
            "{listener}: disconnected after {lasted:?} (deadline 500 ms)"
        );
    }
    assert!(
        metric(
            &relay,
            "edgecall_turned_away_total{reason=\"header_timeout\"}"
        )
        .await
            >= 2
    );
    // Whole requests are still served, and sessions still join.
    assert_eq!(
        http_get(&relay.http, "/healthz").await,
        (200, "ok\n".into())
    );
    let trust = Trust::roots_pem(ca_pem.as_bytes()).unwrap();
    let join = relay
        .join("hdr", "ada", TransportKind::WebSocket)
        .trust(trust);
    Session::connect(&join).await.expect("a WebSocket joins");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A bare QUIC client (ALPN `h3`) trusting `ca_pem`.
fn quic_client(ca_pem: &str) -> (quinn::Endpoint, quinn::ClientConfig) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).expect("UDP socket");
    (endpoint, quinn::ClientConfig::new(Arc::new(crypto)))
}

#[tokio::test]
async fn a_quic_connection_that_never_sends_connect_is_closed_at_the_deadline() {
    let dir = std::env::temp_dir().join(format!("edgecall-abuse-quic-{}", std::process::id()));
    let (ca_pem, cert, key) = private_ca(&dir);
    let relay = Relay::start(&[
        "--webtransport-connect-timeout-ms",
        "500",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let addr: std::net::SocketAddr = relay.url.strip_prefix("https://").unwrap().parse().unwrap();
    let (endpoint, config) = quic_client(&ca_pem);
    let started = Instant::now();
    let conn = endpoint
        .connect_with(config, addr, "127.0.0.1")
        .unwrap()
        .await
        .expect("the QUIC handshake completes");
    // No SETTINGS, no CONNECT: the relay's keep-alives would hold this
    // connection forever without the deadline.
    let closed = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("the relay kept a connection without CONNECT open");
    let lasted = started.elapsed();
    match &closed {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(u64::from(close.error_code), 0x010d, "{close:?}");
            let reason = String::from_utf8_lossy(&close.reason);
            assert!(
                reason.contains("no WebTransport CONNECT within 500 ms"),
                "{reason}"
            );
        }
        other => panic!("closed with {other:?}"),
    }
    assert!(
        lasted >= Duration::from_millis(400) && lasted < Duration::from_secs(3),
        "closed after {lasted:?} (deadline 500 ms)"
    );
    assert!(
        metric(
            &relay,
            "edgecall_turned_away_total{reason=\"connect_timeout\"}"
        )
        .await
            >= 1
    );
    // A real client's CONNECT comes in time.
    let trust = Trust::roots_pem(ca_pem.as_bytes()).unwrap();
    let join = relay
        .join("quic", "ada", TransportKind::WebTransport)
        .trust(trust);
    Session::connect(&join)
        .await
        .expect("a WebTransport client joins");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_address_opening_sessions_too_fast_is_refused_with_429() {
    let relay = Relay::start(&["--session-rate-per-ip", "1", "--session-burst-per-ip", "3"]);
    let _ada = relay
        .connect("rate", "ada", TransportKind::WebTransport)
        .await;
    let _bob = relay.connect("rate", "bob", TransportKind::WebSocket).await;
    let _cy = relay
        .connect("rate", "cy", TransportKind::WebTransport)
        .await;
    for transport in [TransportKind::WebTransport, TransportKind::WebSocket] {
        let refused = Session::connect(&relay.join("rate", "dee", transport)).await;
        assert!(
            matches!(refused, Err(ClientError::Rejected { status: 429 })),
            "{transport:?}: {:?}",
            refused.err()
        );
    }
    // The refusal says why and when to come back.
    let err = tokio_tungstenite::connect_async(ws_url(&relay, "rate", "eve"))
        .await
        .expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("not an HTTP refusal: {err}");
    };
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("too many new sessions"), "{body}");
    assert!(
        metric(
            &relay,
            "edgecall_turned_away_total{reason=\"session_rate\"}"
        )
        .await
            >= 3
    );
    // After the advertised pause the bucket has a token again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    relay.connect("rate", "eve", TransportKind::WebSocket).await;
}
