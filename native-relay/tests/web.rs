//! The browser client served by the relay (`--web-root`): static files,
//! `/meeting/*` → `index.html`, and `/client-config.json`, over the TLS
//! port and the plain `--http-listen` port, on real loopback sockets.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use edgecall_stream::{Session, TransportKind, Trust};
use support::{private_ca, tls_to, Relay};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const INDEX: &str = "<!doctype html><title>edgecall web-root test</title>";
const WASM: &[u8] = b"\0asm\x01\0\0\0\xff\xfe";

/// A response: status, headers (lower-case names) and body.
struct Fetched {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

/// One HTTP/1.1 `GET` with `Connection: close` over `stream`.
async fn get_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
    path: &str,
) -> Fetched {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")),
        "this little client reads only Content-Length bodies"
    );
    Fetched {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// `GET http://<addr><path>`.
async fn get_plain(base: &str, path: &str) -> Fetched {
    let addr = base.strip_prefix("http://").expect("plain base");
    let tcp = TcpStream::connect(addr).await.expect("connect");
    get_over(tcp, addr, path).await
}

/// `GET https://<addr><path>`, trusting `ca_pem`.
async fn get_tls(base: &str, ca_pem: &str, path: &str) -> Fetched {
    let addr = base.strip_prefix("https://").expect("https base");
    let tls = tls_to(base, ca_pem).await;
    get_over(tls, addr, path).await
}

/// A web root under a fresh directory that also holds a file outside it.
fn web_root(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("edgecall-web-{tag}-{}", std::process::id()));
    let root = dir.join("web");
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(root.join("index.html"), INDEX).unwrap();
    std::fs::write(root.join("pkg/edgecall_web_bg.wasm"), WASM).unwrap();
    std::fs::write(root.join("pkg/edgecall_web.js"), "export default 1;\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "outside the web root").unwrap();
    (dir, root)
}

fn json(fetched: &Fetched) -> serde_json::Value {
    serde_json::from_slice(&fetched.body).expect("a JSON body")
}

/// What every listener must serve from the web root.
async fn check_files(fetch: impl AsyncFn(&str) -> Fetched) {
    for path in [
        "/",
        "/index.html",
        "/meeting/ada/standup",
        "/meeting/ada/standup?token=abc.def.ghi",
    ] {
        let page = fetch(path).await;
        assert_eq!((page.status, page.text()), (200, INDEX), "{path}");
        assert!(
            page.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{path}: {:?}",
            page.header("content-type")
        );
    }
    let wasm = fetch("/pkg/edgecall_web_bg.wasm").await;
    assert_eq!((wasm.status, wasm.body.as_slice()), (200, WASM));
    // WebAssembly.instantiateStreaming insists on this type.
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    let js = fetch("/pkg/edgecall_web.js").await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .is_some_and(|t| t.contains("javascript")));
    for missing in ["/nope.js", "/../secret.txt", "/%2e%2e/secret.txt", "/pkg/"] {
        let page = fetch(missing).await;
        assert_eq!(page.status, 404, "{missing}: {}", page.text());
        assert!(!page.text().contains("outside"), "{missing} leaked");
    }
    let api = fetch("/api/nowhere").await;
    assert_eq!(api.status, 404);
    assert!(api.text().contains("/api/rooms/"), "{}", api.text());
    assert_eq!(fetch("/healthz").await.text(), "ok\n");
}

#[tokio::test]
async fn the_client_is_served_on_the_plain_and_the_tls_listener() {
    let (dir, root) = web_root("both");
    let (ca_pem, cert, key) = private_ca(&dir);
    let relay = Relay::start(&[
        "--web-root",
        root.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);

    check_files(async |path: &str| get_plain(&relay.http, path).await).await;
    check_files(async |path: &str| get_tls(&relay.url, &ca_pem, path).await).await;

    // A page from the plain listener: WebSocket back to that origin,
    // WebTransport to the relay's QUIC port, the hash from that origin.
    let config = get_plain(&relay.http, "/client-config.json").await;
    assert_eq!(config.status, 200);
    let config = json(&config);
    let http_authority = relay.http.strip_prefix("http://").unwrap();
    assert_eq!(config["prefer"], "webtransport");
    assert_eq!(config["webtransport_base"], relay.url.as_str());
    assert_eq!(
        config["websocket_base"],
        format!("ws://{http_authority}").as_str()
    );
    let hash_url = config["cert_hash_url"].as_str().expect("cert_hash_url");
    let hash_path = hash_url
        .strip_prefix(&relay.http)
        .expect("the hash comes from the page's origin");
    let hash = get_plain(&relay.http, hash_path).await;
    assert_eq!(hash.text(), relay.cert_sha256);
    assert_eq!(hash.header("access-control-allow-origin"), Some("*"));

    // A page from the TLS listener stays on TLS.
    let tls_authority = relay.url.strip_prefix("https://").unwrap();
    let config = json(&get_tls(&relay.url, &ca_pem, "/client-config.json").await);
    assert_eq!(config["webtransport_base"], relay.url.as_str());
    assert_eq!(
        config["websocket_base"],
        format!("wss://{tls_authority}").as_str()
    );
    assert_eq!(
        config["cert_hash_url"],
        format!("https://{tls_authority}/cert-hash").as_str()
    );

    // Serving files leaves the join endpoints alone.
    let trust = Trust::roots_pem(ca_pem.as_bytes()).unwrap();
    for transport in [TransportKind::WebTransport, TransportKind::WebSocket] {
        let join = relay
            .join("served", &format!("{transport:?}"), transport)
            .trust(trust.clone());
        Session::connect(&join)
            .await
            .expect("join beside the files");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn without_a_web_root_only_the_api_answers() {
    let relay = Relay::start(&[]);
    let page = get_plain(&relay.http, "/meeting/ada/standup").await;
    assert_eq!(page.status, 404);
    assert!(page.text().contains("/api/rooms/"), "{}", page.text());
    // The page configuration is there for pages served elsewhere too.
    let config = json(&get_plain(&relay.http, "/client-config.json").await);
    assert_eq!(config["webtransport_base"], relay.url.as_str());
}

#[test]
fn a_bad_web_root_stops_the_relay_with_a_clear_error() {
    let (dir, root) = web_root("bad");
    std::fs::remove_file(root.join("index.html")).unwrap();
    for (bad, says) in [
        (root.clone(), "no index.html"),
        (dir.join("absent"), "cannot read"),
        (dir.join("secret.txt"), "not a directory"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_edgecall-relay"))
            .args(["--listen", "127.0.0.1:0", "--web-root"])
            .arg(&bad)
            .stdin(Stdio::null())
            .output()
            .expect("run edgecall-relay");
        assert!(!out.status.success(), "{bad:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--web-root") && stderr.contains(says),
            "{bad:?}: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
