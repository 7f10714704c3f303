//! Participant identity: who a session is, independent of its display name.
//!
//! A verified join names the identity through its token (`sub:<subject>`,
//! see [`Member::verified`](super::Member::verified)). In open mode the
//! engine derives it from a *resume secret*: the first session of a
//! participant gets a fresh random secret in its `Welcome`, and a later
//! session presenting the same secret in `Hello` resumes the same identity.
//! The identity is a one-way hash of the secret and the room id, so seeing
//! someone's identity in the roster does not let anyone take it over.

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// Length of the resume secrets the engine hands out.
pub const RESUME_SECRET_LEN: usize = 32;
/// Shortest resume secret a client may present (128 bits).
pub const MIN_RESUME_SECRET_LEN: usize = 16;
/// Longest resume secret a client may present.
pub const MAX_RESUME_SECRET_LEN: usize = 64;

/// Domain separation for the identity hash.
const LABEL: &[u8] = b"edgecall resume v1";
/// Hex digits of the hash kept in an open identity (128 bits).
const IDENTITY_HEX_DIGITS: usize = 32;

/// The identity a session gets and, in open mode, the secret that resumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) identity: String,
    /// Empty for verified identities.
    pub(crate) resume_secret: Vec<u8>,
}

/// Works out a joining session's identity: the verified one when the host
/// set it, else the one the presented resume secret proves, else a new one.
pub(crate) fn resolve(
    room: &str,
    verified: Option<&str>,
    presented_secret: &[u8],
) -> Result<Resolved, String> {
    if let Some(identity) = verified {
        return Ok(Resolved {
            identity: identity.to_owned(),
            resume_secret: Vec::new(),
        });
    }
    let secret = if presented_secret.is_empty() {
        let mut fresh = vec![0u8; RESUME_SECRET_LEN];
        OsRng.fill_bytes(&mut fresh);
        fresh
    } else if (MIN_RESUME_SECRET_LEN..=MAX_RESUME_SECRET_LEN).contains(&presented_secret.len()) {
        presented_secret.to_vec()
    } else {
        return Err(format!(
            "a resume secret is {MIN_RESUME_SECRET_LEN} to {MAX_RESUME_SECRET_LEN} bytes, not {}; \
             send the one from your Welcome, or none",
            presented_secret.len()
        ));
    };
    Ok(Resolved {
        identity: open_identity(room, &secret),
        resume_secret: secret,
    })
}

/// `anon:` and the first 128 bits of SHA-256 over the label, the room id
/// and the secret, in hex.
pub fn open_identity(room: &str, secret: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(LABEL)
        .chain_update([0])
        .chain_update(room.as_bytes())
        .chain_update([0])
        .chain_update(secret)
        .finalize();
    let mut identity = String::with_capacity(5 + IDENTITY_HEX_DIGITS);
    identity.push_str("anon:");
    for byte in &digest[..IDENTITY_HEX_DIGITS / 2] {
        identity.push_str(&format!("{byte:02x}"));
    }
    identity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_identity_needs_no_secret() {
        let resolved = resolve("r", Some("sub:ada"), b"").expect("verified");
        assert_eq!(resolved.identity, "sub:ada");
        assert!(resolved.resume_secret.is_empty());
    }

    #[test]
    fn a_new_open_session_gets_a_fresh_secret_and_its_identity() {
        let a = resolve("r", None, b"").expect("fresh");
        let b = resolve("r", None, b"").expect("fresh");
        assert_eq!(a.resume_secret.len(), RESUME_SECRET_LEN);
        assert_ne!(a.resume_secret, b.resume_secret);
        assert_ne!(a.identity, b.identity);
        assert_eq!(a.identity, open_identity("r", &a.resume_secret));
    }

    #[test]
    fn presenting_the_secret_resumes_the_identity_in_that_room_only() {
        let first = resolve("r", None, b"").expect("fresh");
        let again = resolve("r", None, &first.resume_secret).expect("resume");
        assert_eq!(again.identity, first.identity);
        let elsewhere = resolve("other", None, &first.resume_secret).expect("resume");
        assert_ne!(elsewhere.identity, first.identity);
    }

    #[test]
    fn short_or_huge_secrets_are_refused() {
        assert!(resolve("r", None, &[1; MIN_RESUME_SECRET_LEN - 1]).is_err());
        assert!(resolve("r", None, &[1; MAX_RESUME_SECRET_LEN + 1]).is_err());
        assert!(resolve("r", None, &[1; MIN_RESUME_SECRET_LEN]).is_ok());
    }

    #[test]
    fn open_identities_are_pinned() {
        assert_eq!(
            open_identity("standup", &[7; 32]),
            open_identity("standup", &[7; 32])
        );
        assert!(open_identity("standup", &[7; 32]).starts_with("anon:"));
        assert_eq!(open_identity("standup", &[7; 32]).len(), 5 + 32);
    }
}
