//! The relay registry: where each relay publishes how to reach it (URL,
//! certificate hash) and where the directory Lambda reads the list.
//!
//! One [`RelayRecord`] per relay, rewritten on start-up, every
//! [`HEARTBEAT`], when its self-signed certificate rotates, and once more
//! marked `draining` on shutdown. Readers skip records older than their
//! staleness bound, so a relay that dies simply ages out.
//!
//! Backends ([`Target`], chosen with `--publish-to`):
//! - `file:///dir` — one `<relay-id>.json` per relay, written atomically.
//!   For development, tests, and relays sharing a file system.
//! - `dynamodb://<table>` (cargo feature `aws`) — one item per relay
//!   (`relay_id` partition key, `record` JSON, `expires_at` TTL), the
//!   production backend: PutItem from the relays, Scan from the directory,
//!   no server to run and IAM grants that name a single table.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Version of the record format; readers skip records of other versions.
pub const RECORD_VERSION: u32 = 1;
/// How often a relay republishes its record.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// Default age after which the directory ignores a record (three missed
/// heartbeats).
pub const STALE_AFTER: Duration = Duration::from_secs(90);
/// A record stamped this far in the future (clock skew) is still believed.
const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// What a relay publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRecord {
    /// [`RECORD_VERSION`].
    pub version: u32,
    /// Stable identity (e.g. the EC2 instance id); the rendezvous-hashing key.
    pub id: String,
    /// Public base URL, `https://host:port` (WebTransport; the WebSocket URL
    /// is the same with `wss://`).
    pub url: String,
    /// SHA-256 of the leaf certificate, lower-case hex, when it is
    /// self-signed (browsers pin it through `serverCertificateHashes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
    /// When the record was written, Unix seconds.
    pub published_at: u64,
    /// The relay is shutting down: send no new clients.
    #[serde(default)]
    pub draining: bool,
}

impl RelayRecord {
    /// Checks what readers rely on: the version, a usable id, an `https`
    /// base URL without a path, a 64-hex-digit hash.
    pub fn validate(&self) -> Result<()> {
        if self.version != RECORD_VERSION {
            bail!(
                "record version {} (this build reads {RECORD_VERSION})",
                self.version
            );
        }
        validate_id(&self.id)?;
        let url = url::Url::parse(&self.url)
            .with_context(|| format!("relay url {:?} is not a URL", self.url))?;
        if url.scheme() != "https" || url.host_str().is_none() || url.path() != "/" {
            bail!(
                "relay url {:?} must look like https://host:port (no path)",
                self.url
            );
        }
        if let Some(hash) = &self.cert_sha256 {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("cert_sha256 {hash:?} is not 64 hex digits");
            }
        }
        Ok(())
    }

    /// Whether a reader at `now` (Unix seconds) should send clients here:
    /// not draining, written within `stale_after`, not from the far future.
    pub fn is_live(&self, now: u64, stale_after: Duration) -> bool {
        !self.draining
            && self.published_at <= now.saturating_add(MAX_CLOCK_SKEW_SECS)
            && now.saturating_sub(self.published_at) <= stale_after.as_secs()
    }

    /// The WebTransport URL of `room` on this relay.
    pub fn webtransport_url(&self, room: &str) -> String {
        format!("{}/api/rooms/{room}", self.url.trim_end_matches('/'))
    }

    /// The WebSocket URL of `room` on this relay.
    pub fn websocket_url(&self, room: &str) -> String {
        let base = self.url.trim_end_matches('/');
        let rest = base.strip_prefix("https://").unwrap_or(base);
        format!("wss://{rest}/api/rooms/{room}/ws")
    }
}

/// Relay ids become file names and DynamoDB keys: 1–128 ASCII letters,
/// digits, `-`, `_`, `.`, not starting with a dot.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        bail!("relay id {id:?}: use 1-128 ASCII letters, digits, '-', '_' or '.'");
    }
    Ok(())
}

/// The current time in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where records live, as given to `--publish-to` or to the directory's
/// `EDGECALL_DIRECTORY_REGISTRY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A directory of `<id>.json` files.
    File(PathBuf),
    /// A DynamoDB table (needs the `aws` feature to be used).
    DynamoDb {
        /// Table name.
        table: String,
    },
}

impl FromStr for Target {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        const USE: &str = "use file:///absolute/dir or dynamodb://<table>";
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                bail!("registry {s:?}: the file path must be absolute; {USE}");
            }
            return Ok(Target::File(PathBuf::from(path)));
        }
        if let Some(table) = s.strip_prefix("dynamodb://") {
            let valid = (3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !valid {
                bail!("registry {s:?}: {table:?} is not a DynamoDB table name; {USE}");
            }
            return Ok(Target::DynamoDb {
                table: table.to_owned(),
            });
        }
        bail!("registry {s:?}: unknown scheme; {USE}")
    }
}

/// A connected registry backend. An enum rather than a trait object: the
/// set of backends is closed, and async methods stay plain `async fn`.
#[derive(Debug, Clone)]
pub enum Registry {
    /// See [`Target::File`].
    File(FileRegistry),
    /// See [`Target::DynamoDb`].
    #[cfg(feature = "aws")]
    DynamoDb(dynamo::DynamoRegistry),
}

impl Registry {
    /// Opens the backend `target` names (loading AWS credentials from the
    /// environment / instance role for DynamoDB).
    pub async fn open(target: &Target) -> Result<Self> {
        match target {
            Target::File(dir) => Ok(Registry::File(FileRegistry::new(dir.clone()))),
            #[cfg(feature = "aws")]
            Target::DynamoDb { table } => Ok(Registry::DynamoDb(
                dynamo::DynamoRegistry::from_env(table.clone()).await,
            )),
            #[cfg(not(feature = "aws"))]
            Target::DynamoDb { table } => bail!(
                "registry dynamodb://{table}: this build has no DynamoDB support; rebuild with `--features aws`"
            ),
        }
    }

    /// Writes (replaces) `record`.
    pub async fn publish(&self, record: &RelayRecord) -> Result<()> {
        record.validate().context("refusing to publish")?;
        match self {
            Registry::File(file) => file.publish(record),
            #[cfg(feature = "aws")]
            Registry::DynamoDb(db) => db.publish(record).await,
        }
    }

    /// Every record that parses and validates (others are logged and
    /// skipped: one bad writer must not take the directory down).
    pub async fn list(&self) -> Result<Vec<RelayRecord>> {
        let raw = match self {
            Registry::File(file) => file.list_raw()?,
            #[cfg(feature = "aws")]
            Registry::DynamoDb(db) => db.list_raw().await?,
        };
        Ok(raw
            .into_iter()
            .filter_map(|(origin, text)| match parse_record(&text) {
                Ok(record) => Some(record),
                Err(err) => {
                    tracing::warn!(%origin, error = %format!("{err:#}"), "skipping a bad relay record");
                    None
                }
            })
            .collect())
    }
}

/// Parses and validates one record.
pub fn parse_record(text: &str) -> Result<RelayRecord> {
    let record: RelayRecord = serde_json::from_str(text).context("parsing a relay record")?;
    record.validate()?;
    Ok(record)
}

/// A directory of `<id>.json` records.
#[derive(Debug, Clone)]
pub struct FileRegistry {
    dir: PathBuf,
}

impl FileRegistry {
    /// Records in `dir` (created on first publish).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn publish(&self, record: &RelayRecord) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating the registry directory {}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.json", record.id));
        let tmp = self.dir.join(format!(".{}.json.tmp", record.id));
        let text = serde_json::to_string_pretty(record).context("encoding the relay record")?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("replacing {} atomically", path.display()))
    }

    fn list_raw(&self) -> Result<Vec<(String, String)>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            // No relay has published yet.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("listing the registry {}", self.dir.display()))
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing the registry {}", self.dir.display()))?
                .path();
            let is_record = path.extension().is_some_and(|e| e == "json")
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !is_record {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push((path.display().to_string(), text)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "unreadable relay record")
                }
            }
        }
        Ok(out)
    }
}

/// Publishes this relay: at once, every [`HEARTBEAT`], after each
/// certificate rotation; when `stop` turns true, once more as draining,
/// then returns. Failures are logged and retried (the directory skips the
/// relay once its record goes stale, which is the right outcome if the
/// registry stays unreachable).
pub async fn run_publisher(
    registry: Registry,
    publish: crate::config::Publish,
    certs: std::sync::Arc<crate::cert::CertStore>,
    self_signed: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let record = |draining| RelayRecord {
        version: RECORD_VERSION,
        id: publish.relay_id.clone(),
        url: publish.public_url.clone(),
        cert_sha256: self_signed.then(|| certs.sha256_hex()),
        published_at: unix_now(),
        draining,
    };
    loop {
        let current = record(false);
        let wait = match registry.publish(&current).await {
            Ok(()) => {
                tracing::debug!(id = %current.id, cert_sha256 = ?current.cert_sha256, "published this relay");
                HEARTBEAT
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "publishing this relay failed; retrying in 5 s");
                Duration::from_secs(5)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = certs.rotated() => tracing::info!("certificate rotated; republishing its hash"),
            _ = stop.wait_for(|stopping| *stopping) => break,
        }
    }
    match registry.publish(&record(true)).await {
        Ok(()) => tracing::info!("published this relay as draining"),
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "could not mark this relay draining; it will age out")
        }
    }
}

#[cfg(feature = "aws")]
mod dynamo {
    //! DynamoDB backend: item `{relay_id: S, record: S (JSON), expires_at: N}`.
    use anyhow::{Context, Result};
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::{RelayRecord, STALE_AFTER};

    /// A DynamoDB table of relay records.
    #[derive(Debug, Clone)]
    pub struct DynamoRegistry {
        client: aws_sdk_dynamodb::Client,
        table: String,
    }

    impl DynamoRegistry {
        /// A client with credentials and region from the environment
        /// (instance role on EC2, execution role in Lambda).
        pub async fn from_env(table: String) -> Self {
            let config = aws_config::load_from_env().await;
            Self {
                client: aws_sdk_dynamodb::Client::new(&config),
                table,
            }
        }

        pub(super) async fn publish(&self, record: &RelayRecord) -> Result<()> {
            let json = serde_json::to_string(record).context("encoding the relay record")?;
            // DynamoDB's TTL deletes long-dead relays; readers use their
            // own, tighter staleness bound.
            let expires_at = record.published_at + 10 * STALE_AFTER.as_secs();
            self.client
                .put_item()
                .table_name(&self.table)
                .item("relay_id", AttributeValue::S(record.id.clone()))
                .item("record", AttributeValue::S(json))
                .item("expires_at", AttributeValue::N(expires_at.to_string()))
                .send()
                .await
                .with_context(|| format!("DynamoDB PutItem into {}", self.table))?;
            Ok(())
        }

        pub(super) async fn list_raw(&self) -> Result<Vec<(String, String)>> {
            let mut out = Vec::new();
            let mut start = None;
            loop {
                let page = self
                    .client
                    .scan()
                    .table_name(&self.table)
                    .projection_expression("relay_id, #r")
                    .expression_attribute_names("#r", "record")
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .with_context(|| format!("DynamoDB Scan of {}", self.table))?;
                for item in page.items() {
                    let id = item.get("relay_id").and_then(|v| v.as_s().ok());
                    if let Some(Ok(text)) = item.get("record").map(|v| v.as_s()) {
                        out.push((format!("dynamodb item {id:?}"), text.clone()));
                    }
                }
                match page.last_evaluated_key() {
                    Some(key) if !key.is_empty() => start = Some(key.clone()),
                    _ => return Ok(out),
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(id: &str, published_at: u64) -> RelayRecord {
        RelayRecord {
            version: RECORD_VERSION,
            id: id.into(),
            url: format!("https://{id}.relay.test:443"),
            cert_sha256: Some("ab".repeat(32)),
            published_at,
            draining: false,
        }
    }

    #[test]
    fn record_json_format_is_stable() {
        let text = serde_json::to_string(&record("r1", 1_700_000_000)).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"version":1,"id":"r1","url":"https://r1.relay.test:443","cert_sha256":"{}","published_at":1700000000,"draining":false}}"#,
                "ab".repeat(32)
            )
        );
        assert_eq!(parse_record(&text).unwrap(), record("r1", 1_700_000_000));
    }

    #[test]
    fn records_age_out_after_the_staleness_bound_and_draining_ones_are_never_live() {
        let r = record("r1", 1_000);
        assert!(r.is_live(1_000, STALE_AFTER));
        assert!(r.is_live(1_090, STALE_AFTER));
        assert!(!r.is_live(1_091, STALE_AFTER));
        // A little clock skew is tolerated, a record from the far future is not.
        assert!(r.is_live(950, STALE_AFTER));
        assert!(!r.is_live(900, STALE_AFTER));
        let draining = RelayRecord {
            draining: true,
            ..record("r1", 1_000)
        };
        assert!(!draining.is_live(1_000, STALE_AFTER));
    }

    #[test]
    fn records_with_bad_urls_hashes_ids_or_versions_are_refused() {
        let bad = [
            RelayRecord {
                url: "http://h:443".into(),
                ..record("r", 1)
            },
            RelayRecord {
                url: "https://h:443/path".into(),
                ..record("r", 1)
            },
            RelayRecord {
                cert_sha256: Some("xyz".into()),
                ..record("r", 1)
            },
            RelayRecord {
                id: "../etc".into(),
                ..record("r", 1)
            },
            RelayRecord {
                version: 2,
                ..record("r", 1)
            },
        ];
        for r in bad {
            assert!(r.validate().is_err(), "{r:?} should be refused");
        }
    }

    #[test]
    fn room_urls_follow_the_relay_paths() {
        let r = record("r1", 1);
        assert_eq!(
            r.webtransport_url("standup"),
            "https://r1.relay.test:443/api/rooms/standup"
        );
        assert_eq!(
            r.websocket_url("standup"),
            "wss://r1.relay.test:443/api/rooms/standup/ws"
        );
    }

    #[test]
    fn publish_to_targets_parse_and_bad_ones_say_what_to_use() {
        assert_eq!(
            "file:///var/lib/edgecall/relays".parse::<Target>().unwrap(),
            Target::File("/var/lib/edgecall/relays".into())
        );
        assert_eq!(
            "dynamodb://edgecall-relays".parse::<Target>().unwrap(),
            Target::DynamoDb {
                table: "edgecall-relays".into()
            }
        );
        for bad in ["file://relative", "dynamodb://a b", "s3://bucket", ""] {
            let err = bad.parse::<Target>().unwrap_err().to_string();
            assert!(err.contains("file:///absolute/dir"), "{err}");
        }
    }

    #[tokio::test]
    async fn file_registry_round_trips_and_skips_bad_files() {
        let dir = std::env::temp_dir().join(format!("edgecall-registry-{}", std::process::id()));
        let registry = Registry::open(&Target::File(dir.clone())).await.unwrap();
        assert!(registry.list().await.unwrap().is_empty());
        registry.publish(&record("r1", 10)).await.unwrap();
        registry.publish(&record("r2", 20)).await.unwrap();
        // Republishing replaces.
        registry.publish(&record("r1", 30)).await.unwrap();
        std::fs::write(dir.join("junk.json"), "{not json").unwrap();
        let mut list = registry.list().await.unwrap();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(list, vec![record("r1", 30), record("r2", 20)]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(not(feature = "aws"))]
    #[tokio::test]
    async fn dynamodb_without_the_aws_feature_says_how_to_get_it() {
        let err = Registry::open(&Target::DynamoDb { table: "t".into() })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--features aws"));
    }
}
