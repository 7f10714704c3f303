//! End-to-end encryption of media payloads.
//!
//! Participants who share a room secret (the `#key=...` part of the meeting
//! URL, which browsers never send to the server) seal every media payload
//! before it leaves the device. The broker forwards the sealed bytes without
//! being able to read them, and — because the sender's name and the frame's
//! sequence number are sealed together with the media — without being able
//! to pass a frame off as another participant's or replay it under another
//! sequence number.
//!
//! # Key derivation
//!
//! [`RoomKey::derive`] runs HKDF-SHA256 (RFC 5869) with
//!
//! - input keying material: the room secret's bytes, exactly as they appear
//!   in the URL fragment (no decoding);
//! - salt: none, which RFC 5869 defines as 32 zero bytes (an empty salt gives
//!   the same result, e.g. `WebCrypto`'s `salt: new Uint8Array()`);
//! - info: the ASCII label `edgecall e2ee v1` ([`KDF_LABEL`]) followed
//!   directly by the room id's UTF-8 bytes;
//! - output length: 32 bytes, used as an XSalsa20-Poly1305 key.
//!
//! Deriving per room means one leaked link does not unlock other rooms that
//! happen to reuse the secret.
//!
//! # Sealed payload layout
//!
//! ```text
//! sealed = nonce (24 bytes, random)
//!       || secretbox(key, nonce, frame)      -- tag (16 bytes) || encrypted frame
//! frame  = version   (1 byte, = 1)
//!       || sender_len (u16, big-endian)
//!       || sender     (sender_len bytes, UTF-8)
//!       || sequence   (u64, big-endian)
//!       || media      (the rest)
//! ```
//!
//! `secretbox` is `NaCl`'s `crypto_secretbox` (XSalsa20-Poly1305), which puts
//! the 16-byte Poly1305 tag *before* the ciphertext; `nonce || secretbox` is
//! byte-for-byte what libsodium's `crypto_secretbox_easy` / tweetnacl's
//! `secretbox` produce when the nonce is prepended. XSalsa20-Poly1305 has no
//! associated data, which is why the sender and sequence travel inside the
//! box. Random 24-byte nonces are long enough that collisions are not a
//! practical concern.
//!
//! The total size is [`sealed_len`]`(sender.len(), media.len())`, i.e.
//! [`SEAL_OVERHEAD`] + sender bytes + media bytes.

use core::fmt;

use crypto_secretbox::aead::AeadInPlace;
use crypto_secretbox::cipher::zeroize::Zeroize;
use crypto_secretbox::{Key, KeyInit, Nonce, Tag, XSalsa20Poly1305};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;

/// The HKDF `info` prefix; the room id follows it directly.
pub const KDF_LABEL: &[u8] = b"edgecall e2ee v1";

/// The frame format version written by [`RoomKey::seal`] and the only one
/// [`RoomKey::open`] accepts.
pub const FRAME_VERSION: u8 = 1;

/// Size of the random nonce that starts every sealed payload.
pub const NONCE_LEN: usize = 24;

/// Size of the Poly1305 authentication tag.
pub const TAG_LEN: usize = 16;

/// Size of the frame header inside the box, not counting the sender's name:
/// version (1) + sender length (2) + sequence (8).
const FRAME_HEADER_LEN: usize = 1 + 2 + 8;

/// Bytes a sealed payload adds to the media, apart from the sender's name:
/// nonce (24) + tag (16) + version (1) + sender length (2) + sequence (8).
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN + FRAME_HEADER_LEN;

/// Longest sender name (in UTF-8 bytes) a frame can carry.
pub const MAX_SENDER_LEN: usize = u16::MAX as usize;

/// The exact length of a payload sealed by `sender_len` bytes of sender name
/// around `plaintext_len` bytes of media: `SEAL_OVERHEAD + sender_len +
/// plaintext_len` (saturating, so absurd inputs cannot overflow).
#[must_use]
pub const fn sealed_len(sender_len: usize, plaintext_len: usize) -> usize {
    SEAL_OVERHEAD
        .saturating_add(sender_len)
        .saturating_add(plaintext_len)
}

/// Why a payload could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2eeError {
    /// [`RoomKey::derive`] was given an empty room secret.
    #[error(
        "the end-to-end encryption secret is empty; take it from the `#key=` part of the \
         meeting link, or generate a random one when creating the room"
    )]
    EmptySecret,
    /// The sender's name does not fit the frame's 16-bit length field.
    #[error(
        "the sender name is {len} bytes long, but sealed frames carry at most {max} bytes; \
         use a shorter participant name"
    )]
    SenderTooLong {
        /// The name's length in bytes.
        len: usize,
        /// [`MAX_SENDER_LEN`].
        max: usize,
    },
    /// The input is shorter than the smallest possible sealed payload.
    #[error(
        "the sealed payload is {len} bytes, shorter than the {min}-byte minimum; it was \
         truncated in transit or is not an end-to-end encrypted payload"
    )]
    TooShort {
        /// The input's length.
        len: usize,
        /// [`SEAL_OVERHEAD`], the minimum.
        min: usize,
    },
    /// Authentication failed.
    #[error(
        "the sealed payload failed authentication: wrong key or tampered — check that every \
         participant uses the same meeting link (room and `#key=`), otherwise the payload \
         was modified in transit and must be dropped"
    )]
    Tampered,
    /// The payload is authentic but was sealed by someone else than the
    /// participant it was delivered as.
    #[error(
        "the payload was sealed by {claimed:?} but delivered as coming from {expected:?}; \
         the relay re-attributed it, so drop it"
    )]
    WrongSender {
        /// The sender named inside the box (lossily decoded if not UTF-8).
        claimed: String,
        /// The sender it was delivered as.
        expected: String,
    },
    /// The payload is authentic but carries another sequence number than the
    /// one it was delivered under.
    #[error(
        "the payload was sealed as sequence {claimed} but delivered as sequence {expected}; \
         it is a replay or was reordered by the relay, so drop it"
    )]
    WrongSequence {
        /// The sequence number inside the box.
        claimed: u64,
        /// The sequence number it was delivered under.
        expected: u64,
    },
    /// The payload is authentic but uses a frame format this build does not
    /// know.
    #[error(
        "the payload uses end-to-end frame version {version}, but this build only \
         understands version {FRAME_VERSION}; update the client"
    )]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The payload is authentic but its frame header is inconsistent, which
    /// only a buggy sender holding the key can produce.
    #[error(
        "the payload decrypted but its frame is malformed ({reason}); the sending client is \
         buggy, so drop it"
    )]
    MalformedFrame {
        /// What is wrong with the frame.
        reason: &'static str,
    },
    /// A cryptographic primitive failed where it cannot. Not expected to
    /// happen.
    #[error("internal end-to-end encryption error ({reason}); this is a bug in edgecall-proto, please report it")]
    Internal {
        /// Which step failed.
        reason: &'static str,
    },
}

/// A room's end-to-end encryption key.
///
/// The key is held inside the cipher, which wipes it when dropped; `Debug`
/// never shows it.
#[derive(Clone)]
pub struct RoomKey {
    cipher: XSalsa20Poly1305,
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomKey(..)")
    }
}

impl RoomKey {
    /// Derives the key for `room_id` from the room secret (see the
    /// [module documentation](self) for the exact HKDF parameters).
    ///
    /// # Errors
    ///
    /// [`E2eeError::EmptySecret`] if `secret` is empty.
    pub fn derive(secret: &[u8], room_id: &str) -> Result<Self, E2eeError> {
        if secret.is_empty() {
            return Err(E2eeError::EmptySecret);
        }
        let hkdf = Hkdf::<Sha256>::new(None, secret);
        let mut key = Key::default();
        hkdf.expand_multi_info(&[KDF_LABEL, room_id.as_bytes()], &mut key)
            .map_err(|_| E2eeError::Internal {
                reason: "HKDF-SHA256 refused to expand a 32-byte key",
            })?;
        let cipher = XSalsa20Poly1305::new(&key);
        key.zeroize();
        Ok(Self { cipher })
    }

    /// Seals `plaintext` as frame number `sequence` from `sender`.
    ///
    /// `sender` must be the participant's name exactly as receivers will see
    /// it attributed (server-stamped names are unique within a room), and
    /// `sequence` the number the receivers will be told to expect; both are
    /// checked by [`RoomKey::open`]. A fresh 24-byte nonce is drawn from
    /// `rng`, so sealing the same input twice gives different output.
    ///
    /// The result is [`sealed_len`]`(sender.len(), plaintext.len())` bytes.
    ///
    /// # Errors
    ///
    /// [`E2eeError::SenderTooLong`] if `sender` exceeds [`MAX_SENDER_LEN`]
    /// bytes.
    pub fn seal(
        &self,
        sender: &str,
        sequence: u64,
        plaintext: &[u8],
        rng: &mut (impl CryptoRngCore + ?Sized),
    ) -> Result<Vec<u8>, E2eeError> {
        let sender_len = u16::try_from(sender.len()).map_err(|_| E2eeError::SenderTooLong {
            len: sender.len(),
            max: MAX_SENDER_LEN,
        })?;
        let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + sender.len() + plaintext.len());
        frame.push(FRAME_VERSION);
        frame.extend_from_slice(&sender_len.to_be_bytes());
        frame.extend_from_slice(sender.as_bytes());
        frame.extend_from_slice(&sequence.to_be_bytes());
        frame.extend_from_slice(plaintext);
        self.seal_frame(&frame, rng)
    }

    /// Encrypts an already framed plaintext: `nonce || tag || ciphertext`.
    fn seal_frame(
        &self,
        frame: &[u8],
        rng: &mut (impl CryptoRngCore + ?Sized),
    ) -> Result<Vec<u8>, E2eeError> {
        let mut nonce = Nonce::default();
        rng.fill_bytes(&mut nonce);

        let mut sealed = Vec::with_capacity(NONCE_LEN + TAG_LEN + frame.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&[0; TAG_LEN]);
        sealed.extend_from_slice(frame);
        let tag = self
            .cipher
            .encrypt_in_place_detached(&nonce, b"", &mut sealed[NONCE_LEN + TAG_LEN..])
            .map_err(|_| E2eeError::Internal {
                reason: "XSalsa20-Poly1305 refused to encrypt",
            })?;
        sealed[NONCE_LEN..NONCE_LEN + TAG_LEN].copy_from_slice(&tag);
        Ok(sealed)
    }

    /// Authenticates and decrypts a payload sealed by [`RoomKey::seal`], and
    /// checks that it was sealed by `expected_sender` as frame
    /// `expected_sequence`. Returns the media bytes.
    ///
    /// # Errors
    ///
    /// - [`E2eeError::TooShort`]: fewer than [`SEAL_OVERHEAD`] bytes;
    /// - [`E2eeError::Tampered`]: authentication failed — the key differs
    ///   (other secret or other room) or a byte was changed;
    /// - [`E2eeError::UnsupportedVersion`]: authentic, but a newer frame
    ///   format;
    /// - [`E2eeError::MalformedFrame`]: authentic, but the frame header is
    ///   inconsistent;
    /// - [`E2eeError::WrongSender`]: authentic, but sealed by someone else;
    /// - [`E2eeError::WrongSequence`]: authentic, but sealed under another
    ///   sequence number.
    pub fn open(
        &self,
        expected_sender: &str,
        expected_sequence: u64,
        sealed: &[u8],
    ) -> Result<Vec<u8>, E2eeError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(E2eeError::TooShort {
                len: sealed.len(),
                min: SEAL_OVERHEAD,
            });
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (tag, ciphertext) = rest.split_at(TAG_LEN);
        let mut frame = ciphertext.to_vec();
        self.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                b"",
                &mut frame,
                Tag::from_slice(tag),
            )
            .map_err(|_| E2eeError::Tampered)?;
        parse_frame(frame, expected_sender, expected_sequence)
    }
}

/// Checks a decrypted frame against the expected sender and sequence and
/// strips its header, returning the media bytes.
fn parse_frame(
    mut frame: Vec<u8>,
    expected_sender: &str,
    expected_sequence: u64,
) -> Result<Vec<u8>, E2eeError> {
    let header_cut = || E2eeError::MalformedFrame {
        reason: "frame ends inside its header",
    };
    let (&version, rest) = frame.split_first().ok_or_else(header_cut)?;
    if version != FRAME_VERSION {
        return Err(E2eeError::UnsupportedVersion { version });
    }
    let (len_bytes, rest) = rest.split_first_chunk::<2>().ok_or_else(header_cut)?;
    let sender_len = usize::from(u16::from_be_bytes(*len_bytes));
    if rest.len() < sender_len {
        return Err(E2eeError::MalformedFrame {
            reason: "sender length runs past the end of the frame",
        });
    }
    let (sender, rest) = rest.split_at(sender_len);
    let (seq_bytes, _) = rest.split_first_chunk::<8>().ok_or_else(header_cut)?;
    let sequence = u64::from_be_bytes(*seq_bytes);
    if sender != expected_sender.as_bytes() {
        return Err(E2eeError::WrongSender {
            claimed: String::from_utf8_lossy(sender).into_owned(),
            expected: expected_sender.to_owned(),
        });
    }
    if sequence != expected_sequence {
        return Err(E2eeError::WrongSequence {
            claimed: sequence,
            expected: expected_sequence,
        });
    }
    frame.drain(..FRAME_HEADER_LEN + sender_len);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use rand_core::{CryptoRng, OsRng, RngCore};

    const SECRET: &[u8] = b"Zq3v-9T1kLmP0xYw";
    const ROOM: &str = "standup";

    /// A deterministic generator (`SplitMix64`) for reproducible nonces. Marked
    /// `CryptoRng` only so it can stand in for one in tests.
    struct TestRng(u64);

    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let bytes = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for TestRng {}

    fn key() -> RoomKey {
        RoomKey::derive(SECRET, ROOM).expect("non-empty secret")
    }

    fn seal(key: &RoomKey, sender: &str, seq: u64, media: &[u8]) -> Vec<u8> {
        key.seal(sender, seq, media, &mut OsRng).expect("seal")
    }

    #[test]
    fn round_trip() {
        let media = b"an opus packet, say".to_vec();
        let sealed = seal(&key(), "Ada", 42, &media);
        assert_eq!(sealed.len(), sealed_len("Ada".len(), media.len()));
        assert_eq!(key().open("Ada", 42, &sealed), Ok(media));
    }

    #[test]
    fn round_trip_with_unicode_sender_and_large_payload() {
        let media: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let sender = "Zoë (2) 🎥";
        let sealed = seal(&key(), sender, u64::MAX, &media);
        assert_eq!(key().open(sender, u64::MAX, &sealed), Ok(media));
    }

    #[test]
    fn empty_payload_and_empty_sender_work() {
        let sealed = seal(&key(), "", 0, b"");
        assert_eq!(sealed.len(), SEAL_OVERHEAD);
        assert_eq!(key().open("", 0, &sealed), Ok(Vec::new()));
    }

    #[test]
    fn overhead_constants_add_up() {
        assert_eq!(SEAL_OVERHEAD, 51);
        assert_eq!(sealed_len(3, 10), 64);
        assert_eq!(sealed_len(usize::MAX, 1), usize::MAX);
    }

    #[test]
    fn layout_is_nonce_then_secretbox() {
        let mut rng = TestRng(7);
        let mut expected_nonce = [0u8; NONCE_LEN];
        TestRng(7).fill_bytes(&mut expected_nonce);
        let sealed = key().seal("Ada", 1, b"hi", &mut rng).expect("seal");
        assert_eq!(&sealed[..NONCE_LEN], &expected_nonce);
        // Same key, same nonce, same input: deterministic output.
        let again = key().seal("Ada", 1, b"hi", &mut TestRng(7)).expect("seal");
        assert_eq!(sealed, again);
    }

    #[test]
    fn every_tampered_byte_is_detected() {
        let k = key();
        let sealed = seal(&k, "Ada", 9, b"media bytes");
        for i in 0..sealed.len() {
            for flip in [0x01, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= flip;
                assert_eq!(
                    k.open("Ada", 9, &bad),
                    Err(E2eeError::Tampered),
                    "byte {i} flipped with {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let k = key();
        let sealed = seal(&k, "Ada", 9, b"media bytes");
        for len in 0..SEAL_OVERHEAD {
            assert_eq!(
                k.open("Ada", 9, &sealed[..len]),
                Err(E2eeError::TooShort {
                    len,
                    min: SEAL_OVERHEAD
                })
            );
        }
        for len in SEAL_OVERHEAD..sealed.len() {
            assert_eq!(k.open("Ada", 9, &sealed[..len]), Err(E2eeError::Tampered));
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(k.open("Ada", 9, &longer), Err(E2eeError::Tampered));
    }

    #[test]
    fn wrong_key_is_detected() {
        let sealed = seal(&key(), "Ada", 1, b"secret words");
        let other_secret = RoomKey::derive(b"another secret", ROOM).expect("key");
        let other_room = RoomKey::derive(SECRET, "retro").expect("key");
        assert_eq!(
            other_secret.open("Ada", 1, &sealed),
            Err(E2eeError::Tampered)
        );
        assert_eq!(other_room.open("Ada", 1, &sealed), Err(E2eeError::Tampered));
    }

    #[test]
    fn re_attribution_is_detected() {
        let sealed = seal(&key(), "Ada", 5, b"hello");
        assert_eq!(
            key().open("Mallory", 5, &sealed),
            Err(E2eeError::WrongSender {
                claimed: "Ada".into(),
                expected: "Mallory".into()
            })
        );
        // A prefix of the real name is not enough either.
        assert!(matches!(
            key().open("Ad", 5, &sealed),
            Err(E2eeError::WrongSender { .. })
        ));
    }

    #[test]
    fn replay_under_another_sequence_is_detected() {
        let sealed = seal(&key(), "Ada", 5, b"hello");
        assert_eq!(
            key().open("Ada", 6, &sealed),
            Err(E2eeError::WrongSequence {
                claimed: 5,
                expected: 6
            })
        );
    }

    #[test]
    fn sealing_twice_gives_different_output() {
        let k = key();
        let a = seal(&k, "Ada", 1, b"same");
        let b = seal(&k, "Ada", 1, b"same");
        assert_ne!(a, b);
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        assert_eq!(k.open("Ada", 1, &a), k.open("Ada", 1, &b));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(
            RoomKey::derive(b"", ROOM).map(|_| ()),
            Err(E2eeError::EmptySecret)
        );
        // An empty room id is unusual but not a key-derivation problem.
        assert!(RoomKey::derive(SECRET, "").is_ok());
    }

    #[test]
    fn overlong_sender_is_refused() {
        let name = "x".repeat(MAX_SENDER_LEN + 1);
        assert_eq!(
            key().seal(&name, 0, b"", &mut OsRng),
            Err(E2eeError::SenderTooLong {
                len: MAX_SENDER_LEN + 1,
                max: MAX_SENDER_LEN
            })
        );
        let longest = "x".repeat(MAX_SENDER_LEN);
        let sealed = seal(&key(), &longest, 0, b"ok");
        assert_eq!(key().open(&longest, 0, &sealed), Ok(b"ok".to_vec()));
    }

    #[test]
    fn unknown_version_is_reported_after_authentication() {
        let k = key();
        let mut frame = vec![2u8, 0, 3];
        frame.extend_from_slice(b"Ada");
        frame.extend_from_slice(&1u64.to_be_bytes());
        let sealed = k.seal_frame(&frame, &mut OsRng).expect("seal");
        assert_eq!(
            k.open("Ada", 1, &sealed),
            Err(E2eeError::UnsupportedVersion { version: 2 })
        );
    }

    #[test]
    fn inconsistent_frames_are_malformed() {
        let k = key();
        // Every frame that passes the length check has at least the 11-byte
        // header's worth of bytes, so only the sender length can be wrong.
        let frames: [&[u8]; 2] = [
            // Sender length 9, but only 8 bytes follow.
            &[1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0],
            // Sender length 4 leaves only 4 bytes for the 8-byte sequence.
            &[1, 0, 4, b'A', b'd', b'a', b'!', 0, 0, 0, 0],
        ];
        for frame in frames {
            let sealed = k.seal_frame(frame, &mut OsRng).expect("seal");
            assert_eq!(sealed.len(), SEAL_OVERHEAD);
            assert!(
                matches!(
                    k.open("Ada!", 0, &sealed),
                    Err(E2eeError::MalformedFrame { .. })
                ),
                "{frame:?}"
            );
        }
    }

    #[test]
    fn derivation_follows_rfc5869_with_the_documented_parameters() {
        // HKDF-SHA256 written out with plain HMAC: extract with a zero salt,
        // then a single expand block T(1) = HMAC(PRK, info || 0x01).
        let ikm = b"correct horse battery staple";
        let mut extract = <Hmac<Sha256> as Mac>::new_from_slice(&[0; 32]).expect("hmac");
        extract.update(ikm);
        let prk = extract.finalize().into_bytes();
        let mut expand = <Hmac<Sha256> as Mac>::new_from_slice(&prk).expect("hmac");
        expand.update(KDF_LABEL);
        expand.update(ROOM.as_bytes());
        expand.update(&[1]);
        let okm = expand.finalize().into_bytes();
        // Also cross-checked with Python's hmac/hashlib.
        assert_eq!(
            okm.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "85e321af75bca4cd213190ee06d4f34420d0ba6f66a4f85567bb1fc252a5d38b"
        );

        // A key built directly from that output opens what RoomKey seals.
        let manual = RoomKey {
            cipher: XSalsa20Poly1305::new(&okm),
        };
        let derived = RoomKey::derive(ikm, ROOM).expect("key");
        let sealed = seal(&derived, "Ada", 3, b"interop");
        assert_eq!(manual.open("Ada", 3, &sealed), Ok(b"interop".to_vec()));
    }

    #[test]
    fn debug_does_not_leak_the_key() {
        assert_eq!(format!("{:?}", key()), "RoomKey(..)");
    }

    #[test]
    fn errors_explain_the_fix() {
        assert!(E2eeError::Tampered
            .to_string()
            .contains("wrong key or tampered"));
        assert!(E2eeError::EmptySecret.to_string().contains("#key="));
    }
}
