//! TLS certificates: PEM files, or a short-lived self-signed ECDSA P-256
//! certificate that browsers accept through `serverCertificateHashes`
//! (valid < 14 days), rotated before it expires. QUIC and TCP share one
//! [`CertStore`], so a rotation applies to both.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use crate::config::CertSource;

/// Lifetime of a self-signed certificate (browsers demand < 14 days).
pub const SELF_SIGNED_VALIDITY: Duration = Duration::from_secs(13 * 24 * 3600);
/// A self-signed certificate is replaced this long after it was made,
/// leaving clients a week to pick up the new hash.
pub const SELF_SIGNED_ROTATION: Duration = Duration::from_secs(6 * 24 * 3600);

/// The certificate in force, shared by the QUIC and TCP listeners.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Current>,
    rotated: tokio::sync::Notify,
}

#[derive(Debug, Clone)]
struct Current {
    key: Arc<CertifiedKey>,
    sha256: [u8; 32],
}

impl CertStore {
    /// Loads or generates the certificate `source` describes.
    pub fn new(source: &CertSource) -> Result<Arc<Self>> {
        let current = match source {
            CertSource::Pem { cert, key } => load_pem(cert, key)?,
            CertSource::SelfSigned { hosts } => self_signed(hosts)?,
        };
        Ok(Arc::new(Self {
            current: RwLock::new(current),
            rotated: tokio::sync::Notify::new(),
        }))
    }

    /// SHA-256 of the leaf certificate in force, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.read().sha256)
    }

    /// Replaces the self-signed certificate with a fresh one.
    pub fn rotate(&self, hosts: &[String]) -> Result<()> {
        let fresh = self_signed(hosts)?;
        let hash = hex::encode(fresh.sha256);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        tracing::info!(cert_sha256 = %hash, "rotated the self-signed certificate");
        self.rotated.notify_one();
        Ok(())
    }

    /// Completes after the next rotation (or at once if one happened since
    /// the last call): the registry publisher republishes the new hash.
    pub async fn rotated(&self) {
        self.rotated.notified().await
    }

    fn read(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A rustls server configuration using this store, offering `alpn`.
    pub fn server_config(self: &Arc<Self>, alpn: &[u8]) -> Result<rustls::ServerConfig> {
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .context("TLS 1.3 with ring")?
                .with_no_client_auth()
                .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.read().key)
    }
}

/// Rotates a self-signed certificate every [`SELF_SIGNED_ROTATION`].
pub fn spawn_rotation(store: Arc<CertStore>, hosts: Vec<String>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SELF_SIGNED_ROTATION).await;
            if let Err(err) = store.rotate(&hosts) {
                tracing::error!(error = %format!("{err:#}"), "certificate rotation failed; keeping the old one");
            }
        }
    });
}

fn certified(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Current> {
    let leaf = chain.first().context("the certificate chain is empty")?;
    let sha256: [u8; 32] = Sha256::digest(leaf.as_ref()).into();
    let signing_key =
        ring::sign::any_supported_type(&key).context("the private key type is not supported")?;
    Ok(Current {
        key: Arc::new(CertifiedKey::new(chain, signing_key)),
        sha256,
    })
}

fn load_pem(cert: &std::path::Path, key: &std::path::Path) -> Result<Current> {
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("reading the certificate {}", cert.display()))?;
    let key_pem =
        std::fs::read(key).with_context(|| format!("reading the private key {}", key.display()))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing PEM certificates in {}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .with_context(|| format!("parsing the PEM key in {}", key.display()))?
        .with_context(|| format!("{} holds no private key", key.display()))?;
    certified(chain, key)
}

fn self_signed(hosts: &[String]) -> Result<Current> {
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .context("generating an ECDSA P-256 key")?;
    let mut params = rcgen::CertificateParams::new(hosts.to_vec())
        .context("the certificate host names are invalid")?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after =
        now + time::Duration::try_from(SELF_SIGNED_VALIDITY).context("validity fits a duration")?;
    let cert = params
        .self_signed(&key_pair)
        .context("self-signing the certificate")?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    certified(vec![cert.der().clone()], key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificates_are_short_lived_p256_and_rotate_to_a_new_hash() {
        let hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let store = CertStore::new(&CertSource::SelfSigned {
            hosts: hosts.clone(),
        })
        .unwrap();
        let first = store.sha256_hex();
        assert_eq!(first.len(), 64);
        store.rotate(&hosts).unwrap();
        assert_ne!(store.sha256_hex(), first);
        assert!(SELF_SIGNED_VALIDITY < Duration::from_secs(14 * 24 * 3600));
        assert!(SELF_SIGNED_ROTATION < SELF_SIGNED_VALIDITY);
    }

    #[test]
    fn missing_pem_files_say_which_file() {
        let err = CertStore::new(&CertSource::Pem {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/cert.pem"));
    }
}
