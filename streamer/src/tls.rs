//! How a client checks the server certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::ClientError;

/// Which server certificates a client accepts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Certificates chaining to the Mozilla web PKI roots.
    WebPki,
    /// Exactly the certificates with these SHA-256 hashes, like the
    /// browser's `serverCertificateHashes` (the relay's self-signed mode
    /// publishes its hash at `GET /cert-hash`).
    CertHashes(Vec<[u8; 32]>),
    /// Certificates chaining to these roots (a private CA, or a PEM
    /// certificate the relay serves).
    Roots(Vec<CertificateDer<'static>>),
}

impl Trust {
    /// Pins one certificate by its SHA-256 in hex (`:` separators allowed).
    pub fn cert_hash_hex(hex_hash: &str) -> Result<Self, ClientError> {
        let clean: String = hex_hash.trim().chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&clean)
            .map_err(|err| ClientError::Tls(format!("certificate hash {hex_hash:?}: {err}")))?;
        let hash: [u8; 32] = bytes.try_into().map_err(|_| {
            ClientError::Tls(format!(
                "certificate hash {hex_hash:?} is not 32 bytes (64 hex digits)"
            ))
        })?;
        Ok(Trust::CertHashes(vec![hash]))
    }

    /// Trusts the certificates in a PEM file's text as roots.
    pub fn roots_pem(pem: &[u8]) -> Result<Self, ClientError> {
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
            .collect::<Result<_, _>>()
            .map_err(|err| ClientError::Tls(format!("reading PEM certificates: {err}")))?;
        if certs.is_empty() {
            return Err(ClientError::Tls("the PEM text holds no certificate".into()));
        }
        Ok(Trust::Roots(certs))
    }
}

/// A rustls client configuration for `trust`, offering `alpn`.
pub(crate) fn client_config(
    trust: &Trust,
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Tls(err.to_string()))?;
    let mut config = match trust {
        Trust::WebPki => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Roots(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs {
                roots
                    .add(cert.clone())
                    .map_err(|err| ClientError::Tls(format!("adding a root: {err}")))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::CertHashes(hashes) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedHashes {
                hashes: hashes.clone(),
                provider,
            }))
            .with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Accepts exactly the certificates whose SHA-256 is pinned, and checks
/// that the handshake is signed by that certificate's key.
#[derive(Debug)]
struct PinnedHashes {
    hashes: Vec<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedHashes {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let hash: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if self.hashes.contains(&hash) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "server certificate SHA-256 {} is not pinned",
                hex::encode(hash)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_hashes_must_be_32_bytes() {
        assert!(Trust::cert_hash_hex(&"ab".repeat(32)).is_ok());
        assert!(Trust::cert_hash_hex(&"AB:".repeat(32)).is_ok());
        assert!(Trust::cert_hash_hex("abcd").is_err());
        assert!(Trust::cert_hash_hex("zz").is_err());
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        assert!(Trust::roots_pem(b"nothing here").is_err());
    }
}
