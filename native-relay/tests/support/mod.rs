//! Test harness: relays and a nats-server started as real processes on
//! loopback ports, stopped by PID; clients from `edgecall-stream`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgecall_proto::wire::{self, server_message, ServerMessage, Track};
use edgecall_stream::{JoinConfig, Session, TransportKind, Trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `edgecall-relay`.
pub struct Relay {
    child: Child,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// `http://127.0.0.1:<port>` (plain HTTP endpoints).
    pub http: String,
    /// The certificate hash it announced.
    pub cert_sha256: String,
}

impl Relay {
    /// Starts a relay on free loopback ports with `extra` flags.
    pub fn start(extra: &[&str]) -> Relay {
        Self::start_on("127.0.0.1:0", extra)
    }

    /// Starts a relay listening on `listen` (QUIC + TLS) with `extra` flags.
    pub fn start_on(listen: &str, extra: &[&str]) -> Relay {
        Self::start_with_env(listen, extra, &[])
    }

    /// Like [`Relay::start_on`], with `env` added to its environment.
    pub fn start_with_env(listen: &str, extra: &[&str], env: &[(&str, String)]) -> Relay {
        let (child, ready) = edgecall_relay::process::spawn(
            Command::new(env!("CARGO_BIN_EXE_edgecall-relay"))
                .args(["--listen", listen, "--http-listen", "127.0.0.1:0"])
                .args(extra)
                .envs(env.iter().map(|(name, value)| (name, value))),
        )
        .expect("start edgecall-relay");
        Relay {
            url: ready.url,
            http: ready.http.expect("the plain HTTP address"),
            cert_sha256: ready.cert_sha256,
            child,
        }
    }

    /// A join of `room` as `name` pinned to this relay's certificate.
    pub fn join(&self, room: &str, name: &str, transport: TransportKind) -> JoinConfig {
        JoinConfig::new(&self.url, room, name)
            .expect("valid URL")
            .transport(transport)
            .trust(Trust::cert_hash_hex(&self.cert_sha256).expect("valid hash"))
    }

    /// Connects a client.
    pub async fn connect(&self, room: &str, name: &str, transport: TransportKind) -> Session {
        Session::connect(&self.join(room, name, transport))
            .await
            .unwrap_or_else(|err| panic!("{name} could not join {room}: {err}"))
    }

    /// Sends SIGTERM (graceful shutdown).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit; its exit status.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `nats-server` on a free loopback port.
pub struct Nats {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
}

impl Nats {
    /// Starts nats-server (installed by `cargo xtask test`'s set-up).
    pub fn start() -> Nats {
        let port = free_port();
        let mut nats = Nats { child: None, port };
        nats.spawn();
        nats
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server (cargo xtask setup --apt installs it)");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it and starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `command` (an `edgecall-directory`), expecting it to refuse to
/// start: asserts it exits unsuccessfully within 30 s without ever printing
/// its ready line, and returns what it printed on stderr.
pub fn refused_start(command: &mut Command) -> String {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start edgecall-directory");
    let started = Instant::now();
    let mut hung = false;
    while child
        .try_wait()
        .expect("waiting for the directory")
        .is_none()
    {
        if started.elapsed() > Duration::from_secs(30) && !hung {
            hung = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("the directory's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stdout.contains(edgecall_relay::process::DIRECTORY_READY),
        "the directory started serving: {stdout}{stderr}"
    );
    assert!(!hung, "the directory neither served nor exited: {stderr}");
    assert!(
        !output.status.success(),
        "the directory exited successfully: {stderr}"
    );
    stderr
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET <base><path>` over plain HTTP/1.1: (status, body).
pub async fn http_get(base: &str, path: &str) -> (u16, String) {
    http_get_with(base, path, &[]).await
}

/// [`http_get`] with extra request `headers`.
pub async fn http_get_with(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let addr = base.strip_prefix("http://").expect("plain http base");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A media frame on `track` with a recognisable payload and a forged
/// sender the relay must overwrite.
pub fn frame(track: Track, sequence: u64, keyframe: bool, payload_len: usize) -> wire::MediaFrame {
    wire::MediaFrame {
        track: track as i32,
        layer: 0,
        keyframe,
        sequence,
        capture_time_us: now_us(),
        audio_level: 10,
        codec: if track == Track::Audio {
            wire::Codec::Opus
        } else {
            wire::Codec::H264
        } as i32,
        sealed: false,
        payload: vec![(sequence % 251) as u8; payload_len].into(),
        sender: 999_999,
    }
}

pub use edgecall_relay::process::now_us;

/// Receives until `pick` returns something, or panics after `timeout`.
pub async fn expect<T>(
    session: &mut Session,
    timeout: Duration,
    what: &str,
    mut pick: impl FnMut(&ServerMessage) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let message = tokio::time::timeout_at(deadline, session.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|err| panic!("session ended while waiting for {what}: {err}"));
        if let Some(found) = pick(&message) {
            return found;
        }
    }
}

/// The id of the participant named `name` once it has joined.
pub async fn expect_joined(session: &mut Session, name: &str) -> u32 {
    if let Some(p) = session.welcome().roster.iter().find(|p| p.name == name) {
        return p.id;
    }
    expect(
        session,
        Duration::from_secs(15),
        &format!("{name} to join"),
        |m| match &m.msg {
            Some(server_message::Msg::Joined(j)) => j
                .participant
                .as_ref()
                .filter(|p| p.name == name)
                .map(|p| p.id),
            _ => None,
        },
    )
    .await
}

/// The next media frame.
pub async fn expect_media(session: &mut Session, track: Track) -> wire::MediaFrame {
    expect(session, Duration::from_secs(10), "media", |m| {
        match &m.msg {
            Some(server_message::Msg::Media(f)) if f.track == track as i32 => Some(f.clone()),
            _ => None,
        }
    })
    .await
}

/// Waits until the session is closed; its close code.
pub async fn expect_closed(session: &mut Session) -> Option<u32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, session.recv()).await {
            Err(_) => panic!("the session was not closed"),
            Ok(Ok(_)) => continue,
            Ok(Err(err)) => return err.close_code(),
        }
    }
}

/// A private CA and a leaf certificate for 127.0.0.1 signed by it, the
/// leaf written as `cert.pem` / `key.pem` in `dir`: (CA PEM text, cert
/// path, key path).
pub fn private_ca(dir: &std::path::Path) -> (String, std::path::PathBuf, std::path::PathBuf) {
    std::fs::create_dir_all(dir).expect("create the certificate folder");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (ca_cert.pem(), cert, key)
}

/// Opens TLS (ALPN `http/1.1`) to `https://<host:port>`, trusting `ca_pem`.
pub async fn tls_to(
    base: &str,
    ca_pem: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let addr = base.strip_prefix("https://").expect("https base");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("add root");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let host = addr.rsplit_once(':').expect("host:port").0;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).expect("server name");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    connector.connect(name, tcp).await.expect("TLS handshake")
}
