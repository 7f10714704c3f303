//! The `edgecall-directory` Lambda handler, driven with the Lambda function
//! URL events in `tests/fixtures/apigw/` (the JSON AWS delivers, parsed by
//! `lambda_http` exactly as in production) over a real file registry.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use edgecall_proto::token::{mint, JoinClaims};
use edgecall_relay::directory::{choose, Directory, API_KEY_HEADER};
use edgecall_relay::registry::{unix_now, Registry, RelayRecord, Target, RECORD_VERSION};
use lambda_http::{Body, Response};

fn fixture(name: &str) -> lambda_http::Request {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apigw")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    lambda_http::request::from_str(&text)
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn relay(id: &str, published_at: u64) -> RelayRecord {
    RelayRecord {
        version: RECORD_VERSION,
        id: id.into(),
        url: format!("https://{id}.relay.test:443"),
        cert_sha256: Some(format!("{:0>64}", hex_of(id))),
        published_at,
        draining: false,
    }
}

fn hex_of(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A registry directory unique to one test, removed on drop.
struct TempRegistry(PathBuf);

impl TempRegistry {
    async fn with(test: &str, records: &[RelayRecord]) -> (Self, Registry) {
        let dir =
            std::env::temp_dir().join(format!("edgecall-directory-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let registry = Registry::open(&Target::File(dir.clone())).await.unwrap();
        for record in records {
            registry.publish(record).await.unwrap();
        }
        (Self(dir), registry)
    }
}

impl Drop for TempRegistry {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json_of(response: &Response<Body>) -> serde_json::Value {
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        Body::Empty => String::new(),
        _ => panic!("unexpected body kind"),
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const SECRET: &[u8] = b"directory-test-secret-0123456789";

/// A join token for `room`, signed with `secret`, valid for an hour.
fn token_for(secret: &[u8], room: &str) -> String {
    let claims = JoinClaims::new(room, "Ada Lovelace", unix_now() + 3_600);
    mint(secret, &claims).unwrap()
}

/// The lookup fixture with `Authorization: Bearer <token>`.
fn with_bearer(token: &str) -> lambda_http::Request {
    let mut request = fixture("function_url_get_relay.json");
    request.headers_mut().insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    request
}

/// The lookup fixture with `query` as its query string.
fn with_query(query: &str) -> lambda_http::Request {
    let mut request = fixture("function_url_get_relay.json");
    *request.uri_mut() = format!("https://dir.test/v1/rooms/standup/relay?{query}")
        .parse()
        .unwrap();
    request
}

fn error_of(response: &Response<Body>) -> String {
    json_of(response)["error"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_join_token_for_the_room_gets_the_rendezvous_relay_and_never_a_token() {
    let now = unix_now();
    let relays: Vec<_> = ["r1", "r2", "r3"].iter().map(|id| relay(id, now)).collect();
    let expected = choose("standup", &relays).unwrap().clone();
    let (_dir, registry) = TempRegistry::with("ok", &relays).await;
    let directory = Directory::new(registry, Some(SECRET.to_vec()), None).unwrap();

    let response = directory
        .handle(with_bearer(&token_for(SECRET, "standup")))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_of(&response);
    assert_eq!(body["room"], "standup");
    assert_eq!(body["relay_id"], expected.id.as_str());
    assert_eq!(
        body["webtransport_url"],
        format!("https://{}.relay.test:443/api/rooms/standup", expected.id)
    );
    assert_eq!(
        body["websocket_url"],
        format!("wss://{}.relay.test:443/api/rooms/standup/ws", expected.id)
    );
    assert_eq!(
        body["cert_sha256"],
        expected.cert_sha256.as_deref().unwrap()
    );
    assert!(body.get("token").is_none(), "the directory minted: {body}");
}

#[tokio::test]
async fn a_join_token_in_the_query_is_accepted_like_a_bearer_header() {
    let (_dir, registry) = TempRegistry::with("query", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(registry, Some(SECRET.to_vec()), None).unwrap();
    let token = token_for(SECRET, "standup");
    let response = directory
        .handle(with_query(&format!("token={token}")))
        .await;
    assert_eq!(response.status(), 200, "{}", error_of(&response));
    assert_eq!(json_of(&response)["relay_id"], "r1");
}

#[tokio::test]
async fn without_a_secret_anyone_is_told_the_relay() {
    let (_dir, registry) = TempRegistry::with("open", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(registry, None, None).unwrap();
    assert!(!directory.verifies());
    let response = directory
        .handle(fixture("function_url_get_relay.json"))
        .await;
    assert_eq!(response.status(), 200);
    let body = json_of(&response);
    assert_eq!(body["relay_id"], "r1");
    assert!(body.get("token").is_none());
}

#[tokio::test]
async fn a_name_alone_gets_neither_a_relay_nor_a_token() {
    let (_dir, registry) = TempRegistry::with("noname", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(registry, Some(SECRET.to_vec()), None).unwrap();
    for request in [
        fixture("function_url_get_relay.json"),
        with_query("name=Ada%20Lovelace"),
    ] {
        let response = directory.handle(request).await;
        assert_eq!(response.status(), 401);
        let message = error_of(&response);
        assert!(message.contains("join token is required"), "{message}");
        assert!(message.contains("?token="), "{message}");
        assert!(json_of(&response).get("token").is_none());
    }
}

#[tokio::test]
async fn forged_expired_and_other_room_tokens_are_refused() {
    let (_dir, registry) = TempRegistry::with("badtoken", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(registry, Some(SECRET.to_vec()), None).unwrap();
    let expired = mint(
        SECRET,
        &JoinClaims::new("standup", "Ada", unix_now().saturating_sub(10)),
    )
    .unwrap();
    let unsigned = {
        // {"alg":"none"} with valid claims and no signature.
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let good = token_for(SECRET, "standup");
        let payload = good.split('.').nth(1).unwrap().to_owned();
        format!("{header}.{payload}.")
    };
    for (what, token) in [
        (
            "forged",
            token_for(b"not-the-relays-secret-0123456789", "standup"),
        ),
        ("expired", expired),
        ("another room", token_for(SECRET, "board-meeting")),
        ("alg none", unsigned),
        ("garbage", "garbage".to_owned()),
    ] {
        let response = directory.handle(with_bearer(&token)).await;
        assert_eq!(response.status(), 401, "{what}: {}", error_of(&response));
        assert!(json_of(&response).get("relay_id").is_none(), "{what}");
    }
}

#[tokio::test]
async fn the_operator_api_key_needs_no_token_and_a_wrong_key_is_refused() {
    let (_dir, registry) = TempRegistry::with("apikey", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(
        registry,
        Some(SECRET.to_vec()),
        Some(b"operator-key".to_vec()),
    )
    .unwrap();
    let with_key = |key: &str| {
        let mut request = fixture("function_url_get_relay.json");
        request
            .headers_mut()
            .insert(API_KEY_HEADER, key.parse().unwrap());
        request
    };
    let response = directory.handle(with_key("operator-key")).await;
    assert_eq!(response.status(), 200, "{}", error_of(&response));
    let response = directory.handle(with_key("operator-kez")).await;
    assert_eq!(response.status(), 401);
    assert!(error_of(&response).contains("API key"));
}

#[tokio::test]
async fn stale_and_draining_relays_are_skipped() {
    let now = unix_now();
    let relays = [relay("r1", now), relay("r2", now), relay("r3", now)];
    let favourite = choose("standup", &relays).unwrap().id.clone();
    // The favourite goes silent; another one is draining.
    let records: Vec<RelayRecord> = relays
        .iter()
        .map(|r| {
            if r.id == favourite {
                relay(&r.id, now - 600)
            } else {
                r.clone()
            }
        })
        .collect();
    let draining_id = records
        .iter()
        .find(|r| r.id != favourite)
        .unwrap()
        .id
        .clone();
    let records: Vec<RelayRecord> = records
        .into_iter()
        .map(|r| RelayRecord {
            draining: r.id == draining_id,
            ..r
        })
        .collect();
    let (_dir, registry) = TempRegistry::with("stale", &records).await;
    let directory = Directory::new(registry, None, None).unwrap();
    let body = json_of(
        &directory
            .handle(fixture("function_url_get_relay.json"))
            .await,
    );
    let chosen = body["relay_id"].as_str().unwrap();
    assert_ne!(chosen, favourite);
    assert_ne!(chosen, draining_id);
}

#[tokio::test]
async fn no_healthy_relay_is_a_503_that_says_why() {
    let stale = relay("r1", unix_now() - 3600);
    let (_dir, registry) = TempRegistry::with("none", &[stale]).await;
    let mut directory = Directory::new(registry, None, None).unwrap();
    directory.stale_after = Duration::from_secs(90);
    let response = directory
        .handle(fixture("function_url_get_relay.json"))
        .await;
    assert_eq!(response.status(), 503);
    let message = json_of(&response)["error"].as_str().unwrap().to_owned();
    assert!(message.contains("no healthy relay"), "{message}");
    assert!(message.contains("90 s"), "{message}");
}

#[tokio::test]
async fn unknown_routes_are_404_and_name_the_real_one() {
    let (_dir, registry) = TempRegistry::with("route", &[]).await;
    let directory = Directory::new(registry, None, None).unwrap();
    let response = directory
        .handle(fixture("function_url_unknown_route.json"))
        .await;
    assert_eq!(response.status(), 404);
    assert!(json_of(&response)["error"]
        .as_str()
        .unwrap()
        .contains("GET /v1/rooms/<room>/relay"));
}

#[tokio::test]
async fn malformed_room_ids_are_400() {
    let (_dir, registry) = TempRegistry::with("badroom", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(registry, Some(SECRET.to_vec()), None).unwrap();
    let response = directory
        .handle(fixture("function_url_bad_room.json"))
        .await;
    assert_eq!(response.status(), 400);
    assert!(json_of(&response)["error"]
        .as_str()
        .unwrap()
        .contains("room id"));
}

#[tokio::test]
async fn other_methods_are_405() {
    let (_dir, registry) = TempRegistry::with("post", &[relay("r1", unix_now())]).await;
    let directory = Directory::new(registry, None, None).unwrap();
    let response = directory
        .handle(fixture("function_url_post_relay.json"))
        .await;
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn lookup_latency_over_fifty_relays_is_measured() {
    let now = unix_now();
    let relays: Vec<_> = (0..50).map(|i| relay(&format!("r{i}"), now)).collect();
    let (_dir, registry) = TempRegistry::with("latency", &relays).await;
    let directory = Directory::new(registry, Some(SECRET.to_vec()), None).unwrap();
    let runs = 200u32;
    let token = token_for(SECRET, "standup");
    let started = std::time::Instant::now();
    for _ in 0..runs {
        let response = directory.handle(with_bearer(&token)).await;
        assert_eq!(response.status(), 200);
    }
    let each = started.elapsed() / runs;
    println!(
        "directory handler: {each:?} per lookup over 50 relays with a token check (file registry, debug build)"
    );
}

#[tokio::test]
async fn a_publishing_relay_is_found_joinable_and_dropped_once_it_drains() {
    let (dir, registry) = TempRegistry::with("e2e", &[]).await;
    let port = support::free_port();
    let public_url = format!("https://127.0.0.1:{port}");
    let publish_to = format!("file://{}", dir.0.display());
    let mut relay = support::Relay::start_on(
        &format!("127.0.0.1:{port}"),
        &[
            "--publish-to",
            &publish_to,
            "--public-url",
            &public_url,
            "--relay-id",
            "relay-a",
        ],
    );
    let directory = Directory::new(registry, None, None).unwrap();

    // The record is written before the relay reports ready or shortly after.
    let mut body = serde_json::Value::Null;
    for _ in 0..50 {
        let response = directory
            .handle(fixture("function_url_get_relay.json"))
            .await;
        if response.status() == 200 {
            body = json_of(&response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(body["relay_id"], "relay-a", "directory answer: {body}");
    assert_eq!(
        body["webtransport_url"],
        format!("{public_url}/api/rooms/standup")
    );
    assert_eq!(body["cert_sha256"], relay.cert_sha256.as_str());

    // What the directory handed out is enough to join: URL and pinned hash.
    let join = edgecall_stream::JoinConfig::new(&public_url, "standup", "ada")
        .unwrap()
        .transport(edgecall_stream::TransportKind::WebTransport)
        .trust(
            edgecall_stream::Trust::cert_hash_hex(body["cert_sha256"].as_str().unwrap()).unwrap(),
        );
    let session = edgecall_stream::Session::connect(&join).await.unwrap();
    drop(session);

    // A graceful shutdown marks the relay draining: no healthy relay left.
    relay.terminate();
    assert!(
        relay.wait(Duration::from_secs(15)).is_some(),
        "relay did not exit"
    );
    let response = directory
        .handle(fixture("function_url_get_relay.json"))
        .await;
    assert_eq!(response.status(), 503);
}

/// The security hole this guards against: a binary without SSM support
/// given only the parameter's name (as `terraform/` deploys it) must not
/// ignore it and answer as an open directory.
#[cfg(not(feature = "aws"))]
#[tokio::test]
async fn a_secret_parameter_in_a_build_without_aws_refuses_to_start_instead_of_running_open() {
    let (dir, _registry) = TempRegistry::with("no-aws-parameter", &[]).await;
    for name in [
        "EDGECALL_TOKEN_SECRET_PARAMETER",
        "EDGECALL_DIRECTORY_API_KEY_PARAMETER",
    ] {
        let stderr = support::refused_start(
            std::process::Command::new(env!("CARGO_BIN_EXE_edgecall-directory"))
                .args(["--serve", "127.0.0.1:0"])
                .env(
                    "EDGECALL_DIRECTORY_REGISTRY",
                    format!("file://{}", dir.0.display()),
                )
                .env_remove("EDGECALL_TOKEN_SECRET")
                .env_remove("EDGECALL_DIRECTORY_API_KEY")
                .env_remove("EDGECALL_TOKEN_SECRET_PARAMETER")
                .env_remove("EDGECALL_DIRECTORY_API_KEY_PARAMETER")
                .env(name, "/edgecall/join-token-secret")
                .env("RUST_LOG", "warn"),
        );
        assert!(stderr.contains(name), "{stderr}");
        assert!(stderr.contains("--features aws"), "{stderr}");
        assert!(!stderr.contains("OPEN DIRECTORY"), "{stderr}");
    }
}
