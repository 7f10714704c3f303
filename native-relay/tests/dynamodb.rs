//! The AWS path against a DynamoDB-API server on loopback (`moto_server`,
//! installed by `cargo xtask test`): relays built with `--features aws`
//! publish themselves with `--publish-to dynamodb://<table>`, the
//! `edgecall-directory` binary reads the same table and routes each room to
//! its rendezvous relay, and a relay that drains drops out of the answers.
//! The directory also reads its secrets from SSM Parameter Store
//! (`EDGECALL_TOKEN_SECRET_PARAMETER`, as `terraform/` deploys it), which
//! the same server serves, and refuses to start when it cannot.
//! Everything runs as real processes; only the endpoint URL differs from a
//! deployment.
#![cfg(feature = "aws")]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_ssm::types::ParameterType;
use edgecall_proto::token::{mint, JoinClaims};
use edgecall_relay::directory::{rendezvous_weight, API_KEY_HEADER};
use edgecall_relay::registry::unix_now;
use support::{free_port, http_get, http_get_with};

/// The relays' and the directory's join-token secret.
const SECRET: &str = "dynamodb-test-secret-0123456789abcdef";
/// How long a process may take to start or a record to appear before the
/// test fails (a hang guard, not a speed claim).
const GIVE_UP: Duration = Duration::from_secs(30);

/// A `moto_server` on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Starts the server `EDGECALL_MOTO_SERVER` names (`cargo xtask test`
    /// sets it to the one in its venv), else `moto_server` on `PATH`.
    fn start() -> Moto {
        let program =
            std::env::var("EDGECALL_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "starting {program}: {err} (`cargo xtask test` installs moto[server] into \
                     ~/.cache/edgecall/python-moto and sets EDGECALL_MOTO_SERVER)"
                )
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < GIVE_UP, "{program} did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The environment that points an AWS SDK at this server, with fixed
    /// credentials and nothing read from the user's `~/.aws` or an instance
    /// metadata service.
    fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// What the test's own AWS clients use: this server, fixed credentials.
    fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "moto",
            )))
            .build()
    }

    /// A DynamoDB client for the test's own set-up and tampering.
    fn client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config())
    }

    /// Stores `value` as the SecureString parameter `name`, as an operator
    /// does with `aws ssm put-parameter --type SecureString`.
    async fn put_secure_string(&self, name: &str, value: &str) {
        aws_sdk_ssm::Client::new(&self.sdk_config())
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .send()
            .await
            .expect("PutParameter");
    }

    /// Creates the registry table as `terraform/` does (hash key
    /// `relay_id`, on-demand billing).
    async fn create_table(&self, table: &str) {
        self.client()
            .create_table()
            .table_name(table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("relay_id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("relay_id")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("key schema"),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("CreateTable");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A relay publishing itself into `table` on `moto`, verifying tokens.
fn start_relay(moto: &Moto, table: &str, id: &str) -> support::Relay {
    let port = free_port();
    support::Relay::start_with_env(
        &format!("127.0.0.1:{port}"),
        &[
            "--publish-to",
            &format!("dynamodb://{table}"),
            "--public-url",
            &format!("https://127.0.0.1:{port}"),
            "--relay-id",
            id,
            "--token-secret",
            SECRET,
        ],
        &moto.aws_env(),
    )
}

/// The `edgecall-directory` binary serving plain HTTP over `table`.
struct DirectoryProcess {
    child: Child,
    base: String,
}

/// The `edgecall-directory` command over `table`, with `secrets` (its
/// secret variables) as the only ones set.
fn directory_command(moto: &Moto, table: &str, secrets: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgecall-directory"));
    command
        .args(["--serve", "127.0.0.1:0"])
        .envs(moto.aws_env())
        .env("EDGECALL_DIRECTORY_REGISTRY", format!("dynamodb://{table}"))
        .env("RUST_LOG", "warn");
    for name in [
        "EDGECALL_TOKEN_SECRET",
        "EDGECALL_TOKEN_SECRET_PARAMETER",
        "EDGECALL_DIRECTORY_API_KEY",
        "EDGECALL_DIRECTORY_API_KEY_PARAMETER",
    ] {
        command.env_remove(name);
    }
    command.envs(secrets.iter().map(|(name, value)| (name, value)));
    command
}

/// Runs the directory with `secrets`, expecting it to refuse to start
/// (see [`support::refused_start`]); returns its stderr. The registry is
/// not read before the secrets, so its table need not exist.
fn refused_start(moto: &Moto, secrets: &[(&str, String)]) -> String {
    support::refused_start(&mut directory_command(moto, "edgecall-unread", secrets))
}

impl DirectoryProcess {
    fn start(moto: &Moto, table: &str) -> DirectoryProcess {
        Self::start_with(moto, table, &[("EDGECALL_TOKEN_SECRET", SECRET.into())])
    }

    /// The directory with `secrets` as its secret variables.
    fn start_with(moto: &Moto, table: &str, secrets: &[(&str, String)]) -> DirectoryProcess {
        let (child, base) =
            edgecall_relay::process::spawn_directory(&mut directory_command(moto, table, secrets))
                .expect("start edgecall-directory");
        DirectoryProcess { child, base }
    }

    /// `GET /v1/rooms/<room>/relay` with a join token for the room.
    async fn lookup(&self, room: &str) -> (u16, serde_json::Value) {
        let claims = JoinClaims::new(room, "Ada Lovelace", unix_now() + 3_600);
        let token = mint(SECRET.as_bytes(), &claims).expect("mint a token");
        let (status, body) =
            http_get(&self.base, &format!("/v1/rooms/{room}/relay?token={token}")).await;
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
        (status, json)
    }

    /// Looks `room` up until the answer is `relay_id` (records appear when
    /// a relay publishes, and change when it drains).
    async fn wait_for(&self, room: &str, relay_id: &str) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.lookup(room).await;
            if status == 200 && body["relay_id"] == relay_id {
                return body;
            }
            assert!(
                started.elapsed() < GIVE_UP,
                "{room} never went to {relay_id}; last answer {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for DirectoryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A table name unique to this run.
fn table_name(test: &str) -> String {
    format!("edgecall-{test}-{}", std::process::id())
}

/// An SSM parameter name unique to this run.
fn parameter_name(test: &str, secret: &str) -> String {
    format!("/edgecall-test/{}/{test}/{secret}", std::process::id())
}

/// The first of some room names whose rendezvous relay among `ids` is `id`.
fn room_for(id: &str, ids: &[&str]) -> String {
    (0..64)
        .map(|i| format!("room-{i}"))
        .find(|room| {
            ids.iter()
                .max_by_key(|other| (rendezvous_weight(room, other), **other))
                == Some(&id)
        })
        .unwrap_or_else(|| panic!("no room of 64 hashes to {id}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn relays_publish_to_dynamodb_and_the_directory_sends_each_room_to_its_relay_until_it_drains()
{
    let moto = Moto::start();
    let table = table_name("drain");
    moto.create_table(&table).await;
    let mut relay_a = start_relay(&moto, &table, "relay-a");
    let mut relay_b = start_relay(&moto, &table, "relay-b");
    let directory = DirectoryProcess::start(&moto, &table);
    let ids = ["relay-a", "relay-b"];
    let (room_a, room_b) = (room_for("relay-a", &ids), room_for("relay-b", &ids));

    // Once both have published, each room goes to its rendezvous relay,
    // with that relay's URL and certificate hash: enough to join it.
    let answer_a = directory.wait_for(&room_a, "relay-a").await;
    let answer_b = directory.wait_for(&room_b, "relay-b").await;
    assert_eq!(
        answer_a["webtransport_url"],
        format!("{}/api/rooms/{room_a}", relay_a.url)
    );
    assert_eq!(answer_a["cert_sha256"], relay_a.cert_sha256.as_str());
    assert_eq!(answer_b["cert_sha256"], relay_b.cert_sha256.as_str());
    assert!(answer_a.get("token").is_none(), "never a token: {answer_a}");
    let claims = JoinClaims::new(room_a.as_str(), "ada", unix_now() + 600);
    let join = edgecall_stream::JoinConfig::new(&relay_a.url, &room_a, "ada")
        .expect("valid URL")
        .token(mint(SECRET.as_bytes(), &claims).expect("mint"))
        .transport(edgecall_stream::TransportKind::WebTransport)
        .trust(
            edgecall_stream::Trust::cert_hash_hex(
                answer_a["cert_sha256"].as_str().expect("a hash"),
            )
            .expect("valid hash"),
        );
    drop(
        edgecall_stream::Session::connect(&join)
            .await
            .expect("join the relay the directory chose"),
    );

    // A graceful shutdown marks relay-a draining in the table: its rooms
    // move to relay-b, and relay-b's rooms stay where they are.
    relay_a.terminate();
    assert!(relay_a.wait(GIVE_UP).is_some(), "relay-a did not exit");
    directory.wait_for(&room_a, "relay-b").await;
    directory.wait_for(&room_b, "relay-b").await;

    // With no live relay the answer says why.
    relay_b.terminate();
    assert!(relay_b.wait(GIVE_UP).is_some(), "relay-b did not exit");
    let (status, body) = directory.lookup(&room_b).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no healthy relay")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_items_in_the_table_are_skipped_and_the_real_relay_still_answers() {
    let moto = Moto::start();
    let table = table_name("hostile");
    moto.create_table(&table).await;
    let client = moto.client();
    let live_forgery = serde_json::json!({
        "version": 1,
        "id": "evil",
        "url": "javascript:alert(1)",
        "published_at": unix_now(),
        "draining": false,
    });
    let items: [&[(&str, AttributeValue)]; 4] = [
        &[
            ("relay_id", AttributeValue::S("garbage".into())),
            ("record", AttributeValue::S("{not json".into())),
        ],
        &[
            ("relay_id", AttributeValue::S("evil".into())),
            ("record", AttributeValue::S(live_forgery.to_string())),
        ],
        &[
            ("relay_id", AttributeValue::S("number".into())),
            ("record", AttributeValue::N("7".into())),
        ],
        &[("relay_id", AttributeValue::S("missing".into()))],
    ];
    for item in items {
        let mut put = client.put_item().table_name(&table);
        for (name, value) in item {
            put = put.item(*name, value.clone());
        }
        put.send().await.expect("PutItem");
    }
    let _relay = start_relay(&moto, &table, "relay-honest");
    let directory = DirectoryProcess::start(&moto, &table);

    for room in ["standup", "room-1", "room-2", "room-3"] {
        let body = directory.wait_for(room, "relay-honest").await;
        assert!(
            body["webtransport_url"]
                .as_str()
                .is_some_and(|url| url.starts_with("https://127.0.0.1:")),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_registry_is_a_502_that_points_at_the_logs_and_the_directory_keeps_serving()
{
    let mut moto = Moto::start();
    let table = table_name("unreachable");
    moto.create_table(&table).await;
    let directory = DirectoryProcess::start(&moto, &table);
    let (status, body) = directory.lookup("standup").await;
    assert_eq!(status, 503, "an empty table has no healthy relay: {body}");

    moto.stop();
    for _ in 0..3 {
        let (status, body) = directory.lookup("standup").await;
        assert_eq!(status, 502, "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("registry could not be read")),
            "{body}"
        );
    }
    // A lookup without a token is still refused before the registry is
    // touched.
    let (status, _) = http_get(&directory.base, "/v1/rooms/standup/relay").await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_reading_its_secrets_from_secure_string_parameters_admits_only_their_token_and_key(
) {
    let moto = Moto::start();
    let table = table_name("ssm");
    moto.create_table(&table).await;
    let token_parameter = parameter_name("ssm", "join-token-secret");
    let key_parameter = parameter_name("ssm", "api-key");
    const API_KEY: &str = "operator-key-from-parameter-store";
    moto.put_secure_string(&token_parameter, SECRET).await;
    moto.put_secure_string(&key_parameter, API_KEY).await;
    let _relay = start_relay(&moto, &table, "relay-ssm");
    let directory = DirectoryProcess::start_with(
        &moto,
        &table,
        &[
            ("EDGECALL_TOKEN_SECRET_PARAMETER", token_parameter),
            ("EDGECALL_DIRECTORY_API_KEY_PARAMETER", key_parameter),
        ],
    );

    // A token minted with the parameter's value is accepted: the directory
    // verifies with the secret it read from SSM.
    let body = directory.wait_for("standup", "relay-ssm").await;
    assert!(body.get("token").is_none(), "never a token: {body}");

    // No token, a token minted with another secret, a wrong key: refused.
    let path = "/v1/rooms/standup/relay";
    let (status, body) = http_get(&directory.base, path).await;
    assert_eq!(status, 401, "no token: {body}");
    let claims = JoinClaims::new("standup", "mallory", unix_now() + 600);
    let forged = mint(b"not-the-secret-in-parameter-store-0123", &claims).expect("mint");
    let (status, body) = http_get(&directory.base, &format!("{path}?token={forged}")).await;
    assert_eq!(status, 401, "a token from another secret: {body}");
    let (status, body) =
        http_get_with(&directory.base, path, &[(API_KEY_HEADER, "not-the-key")]).await;
    assert_eq!(status, 401, "a wrong key: {body}");

    // The operator key from its parameter needs no token.
    let (status, body) = http_get_with(&directory.base, path, &[(API_KEY_HEADER, API_KEY)]).await;
    assert_eq!(status, 200, "the operator key: {body}");
    assert!(body.contains("relay-ssm"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_pointed_at_a_missing_parameter_refuses_to_start_and_names_it() {
    let moto = Moto::start();
    let missing = parameter_name("missing-parameter", "join-token-secret");
    let stderr = refused_start(
        &moto,
        &[("EDGECALL_TOKEN_SECRET_PARAMETER", missing.clone())],
    );
    assert!(stderr.contains(&missing), "{stderr}");
    assert!(
        stderr.contains("EDGECALL_TOKEN_SECRET_PARAMETER"),
        "{stderr}"
    );
    assert!(stderr.contains("ParameterNotFound"), "{stderr}");
    assert!(!stderr.contains("OPEN DIRECTORY"), "{stderr}");

    // The same for the operator key's parameter, with a good token secret.
    let missing_key = parameter_name("missing-parameter", "api-key");
    let stderr = refused_start(
        &moto,
        &[
            ("EDGECALL_TOKEN_SECRET", SECRET.into()),
            ("EDGECALL_DIRECTORY_API_KEY_PARAMETER", missing_key.clone()),
        ],
    );
    assert!(stderr.contains(&missing_key), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_given_both_a_secret_and_its_parameter_refuses_to_start_naming_both() {
    let moto = Moto::start();
    let parameter = parameter_name("both-sources", "join-token-secret");
    moto.put_secure_string(&parameter, SECRET).await;
    let stderr = refused_start(
        &moto,
        &[
            ("EDGECALL_TOKEN_SECRET", SECRET.into()),
            ("EDGECALL_TOKEN_SECRET_PARAMETER", parameter),
        ],
    );
    assert!(
        stderr.contains("EDGECALL_TOKEN_SECRET and EDGECALL_TOKEN_SECRET_PARAMETER"),
        "{stderr}"
    );
}
