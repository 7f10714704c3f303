//! End-to-end encryption of media payloads and chat messages.
//!
//! Participants who share a room secret (the URL fragment of the meeting
//! link, which browsers never send to the server) seal every media payload
//! and every chat message before it leaves the device. The broker forwards
//! the sealed bytes without being able to read them, and — because the
//! sender's identity (and, for media, the frame's sequence number) is sealed
//! together with the content — without being able to pass a frame or a
//! message off as another participant's, or a media frame off as chat.
//!
//! # Room secrets and invite links
//!
//! A room secret comes in one of two forms ([`RoomSecret`]), told apart by
//! the name of the URL-fragment parameter that carries it:
//!
//! | link fragment | form | derivation |
//! |---|---|---|
//! | `#k=<22 base64url characters>` ([`GENERATED_PARAM`]) | [`RoomSecret::Generated`]: 16 random bytes (128 bits) the app generated ("New meeting") | HKDF only: 128 random bits cannot be guessed, stretching adds nothing |
//! | `#key=<anything>` ([`TYPED_PARAM`]) | [`RoomSecret::Typed`]: what a person typed (form-URL-decoded) | Argon2id, then HKDF |
//!
//! The generated form is base64url without padding (RFC 4648 §5), exactly
//! 16 bytes; anything else after `#k=` is refused rather than guessed at.
//!
//! # Key derivation
//!
//! 1. Input keying material (`ikm`):
//!    - generated secret: its 16 bytes;
//!    - typed secret: **Argon2id** (RFC 9106, version 0x13) of the secret's
//!      bytes with
//!      - salt: the ASCII label `edgecall e2ee v2 salt:` ([`STRETCH_SALT_LABEL`],
//!        22 bytes) followed directly by the room id's UTF-8 bytes — the label
//!        pads every salt past Argon2's 8-byte minimum (room ids may be one
//!        character) and keeps it distinct from other uses of the same id;
//!      - m = 19 456 KiB (19 MiB), t = 2 passes, p = 1 lane ([`STRETCH_M_KIB`],
//!        [`STRETCH_T_COST`], [`STRETCH_P_COST`]), no secret, no associated
//!        data, 32-byte output.
//!
//!      These are OWASP's first recommended Argon2id configuration (Password
//!      Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1). Every guess at a typed
//!      secret costs an attacker holding ciphertext 19 MiB of memory for two
//!      passes, which makes GPU/ASIC guessing rigs that rely on cheap
//!      parallel hashing far costlier, while a browser derives the key once
//!      per join: about 50 ms natively and 100–220 ms in headless Chromium
//!      (measured on the project's shared 2-core machine, so a device several
//!      times slower still stays under a second). One lane, because
//!      WebAssembly in a page runs single-threaded. The room id as salt means
//!      one precomputed dictionary cannot serve every room.
//! 2. `prk = HKDF-Extract(salt = none, ikm)` with SHA-256 (RFC 5869; no salt
//!    means 32 zero bytes).
//! 3. Two 32-byte XSalsa20-Poly1305 keys, `HKDF-Expand(prk, info, 32)` with
//!    `info = "edgecall e2ee v2"` ([`KDF_LABEL`], 16 bytes) `|| origin ||
//!    purpose || room id`, where `origin` is one byte, `T` (typed) or `G`
//!    (generated), and `purpose` one byte, `M` (media) or `C` (chat). Every
//!    part before the room id has a fixed length, so no two inputs share an
//!    `info`. A typed and a generated secret with the same bytes give
//!    unrelated keys, and the media and chat keys are independent: a media
//!    frame never authenticates as chat, nor chat as media.
//!
//! Deriving per room means one leaked link does not unlock other rooms that
//! happen to reuse the secret.
//!
//! # Sealed media payload layout
//!
//! ```text
//! sealed = nonce (24 bytes, random)
//!       || secretbox(media key, nonce, frame)  -- tag (16 bytes) || encrypted frame
//! frame  = version   (1 byte, = 1)
//!       || sender_len (u16, big-endian)
//!       || sender     (sender_len bytes, UTF-8)
//!       || sequence   (u64, big-endian)
//!       || media      (the rest)
//! ```
//!
//! # Sealed chat layout
//!
//! Chat travels in the wire `Chat.sealed` / `ChatMessage.sealed` field (the
//! cleartext `text` left empty) and is sealed under the **chat key**:
//!
//! ```text
//! sealed_chat = nonce (24 bytes, random)
//!            || secretbox(chat key, nonce, chat)  -- tag (16 bytes) || encrypted chat
//! chat        = kind      (1 byte, = 0xC1: chat, version 1)
//!            || sender_len (u16, big-endian)
//!            || sender     (sender_len bytes, UTF-8, at most MAX_CHAT_SENDER_LEN)
//!            || sent_ms    (u64, big-endian: the sender's clock, ms since the epoch)
//!            || text       (the rest, UTF-8)
//! ```
//!
//! The kind byte differs from every media frame version as a second line of
//! defence; the separate key is the first. `sent_ms` lets receivers drop a
//! message the server replays (see [`OpenedChat::sent_ms`]). The longest
//! sealed chat for a text limit is [`max_sealed_chat_len`], which the room
//! engine enforces without opening anything.
//!
//! `secretbox` is `NaCl`'s `crypto_secretbox` (XSalsa20-Poly1305), which puts
//! the 16-byte Poly1305 tag *before* the ciphertext; `nonce || secretbox` is
//! byte-for-byte what libsodium's `crypto_secretbox_easy` / tweetnacl's
//! `secretbox` produce when the nonce is prepended. XSalsa20-Poly1305 has no
//! associated data, which is why the sender and sequence travel inside the
//! box. Random 24-byte nonces are long enough that collisions are not a
//! practical concern.
//!
//! The total size of a media payload is [`sealed_len`]`(sender.len(),
//! media.len())`, i.e. [`SEAL_OVERHEAD`] + sender bytes + media bytes; a chat
//! message is [`CHAT_SEAL_OVERHEAD`] + sender bytes + text bytes.

use core::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use base64ct::{Base64UrlUnpadded, Encoding as _};
use crypto_secretbox::aead::AeadInPlace;
use crypto_secretbox::{Key, KeyInit, Nonce, Tag, XSalsa20Poly1305};
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// The HKDF `info` prefix; origin, purpose and the room id follow it.
pub const KDF_LABEL: &[u8] = b"edgecall e2ee v2";

/// The Argon2id salt prefix; the room id follows it directly. 22 bytes, so
/// every salt is longer than Argon2's 8-byte minimum.
pub const STRETCH_SALT_LABEL: &[u8] = b"edgecall e2ee v2 salt:";

/// Argon2id memory cost for typed secrets, in KiB (19 MiB, OWASP).
pub const STRETCH_M_KIB: u32 = 19 * 1024;

/// Argon2id passes over memory for typed secrets (OWASP).
pub const STRETCH_T_COST: u32 = 2;

/// Argon2id lanes for typed secrets: one, since a page's WebAssembly is
/// single-threaded.
pub const STRETCH_P_COST: u32 = 1;

/// The URL-fragment parameter carrying a generated secret (`#k=`).
pub const GENERATED_PARAM: &str = "k";

/// The URL-fragment parameter carrying a typed secret (`#key=`).
pub const TYPED_PARAM: &str = "key";

/// Bytes of a generated room secret: 128 bits.
pub const GENERATED_SECRET_LEN: usize = 16;

/// The frame format version written by [`RoomKey::seal`] and the only one
/// [`RoomKey::open`] accepts.
pub const FRAME_VERSION: u8 = 1;

/// The first byte of a sealed chat message's plaintext (chat, version 1);
/// distinct from every media [`FRAME_VERSION`].
pub const CHAT_KIND: u8 = 0xC1;

/// Size of the random nonce that starts every sealed payload.
pub const NONCE_LEN: usize = 24;

/// Size of the Poly1305 authentication tag.
pub const TAG_LEN: usize = 16;

/// Size of the frame header inside the box, not counting the sender's name:
/// version (1) + sender length (2) + sequence (8).
const FRAME_HEADER_LEN: usize = 1 + 2 + 8;

/// Size of the chat header inside the box, not counting the sender: kind
/// (1) + sender length (2) + sent time (8).
const CHAT_HEADER_LEN: usize = 1 + 2 + 8;

/// Bytes a sealed payload adds to the media, apart from the sender's name:
/// nonce (24) + tag (16) + version (1) + sender length (2) + sequence (8).
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN + FRAME_HEADER_LEN;

/// Bytes a sealed chat message adds to its text, apart from the sender:
/// nonce (24) + tag (16) + kind (1) + sender length (2) + sent time (8).
pub const CHAT_SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN + CHAT_HEADER_LEN;

/// Longest sender name (in UTF-8 bytes) a frame can carry.
pub const MAX_SENDER_LEN: usize = u16::MAX as usize;

/// Longest sender (in UTF-8 bytes) a sealed chat message may carry; keeps
/// [`max_sealed_chat_len`] a tight bound for the server.
pub const MAX_CHAT_SENDER_LEN: usize = 1024;

/// The exact length of a payload sealed by `sender_len` bytes of sender name
/// around `plaintext_len` bytes of media: `SEAL_OVERHEAD + sender_len +
/// plaintext_len` (saturating, so absurd inputs cannot overflow).
#[must_use]
pub const fn sealed_len(sender_len: usize, plaintext_len: usize) -> usize {
    SEAL_OVERHEAD
        .saturating_add(sender_len)
        .saturating_add(plaintext_len)
}

/// The longest sealed chat message whose text has at most `max_text_chars`
/// characters: the overhead, the longest chat sender and four UTF-8 bytes
/// per character (saturating). The room engine applies its chat limit to
/// sealed messages through this, without being able to open them.
#[must_use]
pub const fn max_sealed_chat_len(max_text_chars: usize) -> usize {
    CHAT_SEAL_OVERHEAD
        .saturating_add(MAX_CHAT_SENDER_LEN)
        .saturating_add(max_text_chars.saturating_mul(4))
}

/// Why a payload could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2eeError {
    /// [`RoomKey::derive`] was given an empty room secret.
    #[error(
        "the end-to-end encryption secret is empty; take it from the `#k=` or `#key=` part of \
         the meeting link, or create the meeting with \"New meeting\" to generate one"
    )]
    EmptySecret,
    /// The `#k=` part of a link is not a generated secret.
    #[error(
        "the `#k=` part of the meeting link is not a generated key ({reason}); it must be \
         {GENERATED_SECRET_LEN} bytes as 22 base64url characters — copy the whole invite link \
         again, or use `#key=` for a secret you typed"
    )]
    BadGeneratedSecret {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Argon2id refused to stretch a typed secret.
    #[error(
        "cannot stretch the typed end-to-end encryption secret: {reason}; use a shorter secret"
    )]
    Stretch {
        /// Argon2's own message.
        reason: String,
    },
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
    /// The payload is authentic under the chat key but is not a chat message
    /// this build understands.
    #[error(
        "the sealed chat message has kind {kind:#04x}, but this build only understands \
         {CHAT_KIND:#04x}; update the client"
    )]
    UnsupportedChatKind {
        /// The kind byte found.
        kind: u8,
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

/// A room secret as a meeting link carries it (see the [module
/// documentation](self) for the link formats).
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum RoomSecret {
    /// A secret a person typed (`#key=`): stretched with Argon2id.
    Typed(String),
    /// 128 random bits the app generated (`#k=`): not stretched.
    Generated([u8; GENERATED_SECRET_LEN]),
}

impl fmt::Debug for RoomSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomSecret::Typed(_) => f.write_str("RoomSecret::Typed(..)"),
            RoomSecret::Generated(_) => f.write_str("RoomSecret::Generated(..)"),
        }
    }
}

impl Drop for RoomSecret {
    fn drop(&mut self) {
        match self {
            RoomSecret::Typed(text) => text.zeroize(),
            RoomSecret::Generated(bytes) => bytes.zeroize(),
        }
    }
}

impl RoomSecret {
    /// Draws a fresh 128-bit secret from `rng` (for "New meeting").
    pub fn generate(rng: &mut (impl CryptoRngCore + ?Sized)) -> Self {
        let mut bytes = [0; GENERATED_SECRET_LEN];
        rng.fill_bytes(&mut bytes);
        RoomSecret::Generated(bytes)
    }

    /// Reads one URL-fragment parameter: `Ok(None)` unless `name` is
    /// [`GENERATED_PARAM`] or [`TYPED_PARAM`]. `value` is the parameter's
    /// (form-URL-decoded) value.
    ///
    /// # Errors
    ///
    /// [`E2eeError::BadGeneratedSecret`] if a `k` value is not 16 bytes of
    /// unpadded base64url; [`E2eeError::EmptySecret`] for an empty value.
    pub fn from_link_param(name: &str, value: &str) -> Result<Option<Self>, E2eeError> {
        match name {
            GENERATED_PARAM => Self::from_generated_text(value).map(Some),
            TYPED_PARAM if value.is_empty() => Err(E2eeError::EmptySecret),
            TYPED_PARAM => Ok(Some(RoomSecret::Typed(value.to_owned()))),
            _ => Ok(None),
        }
    }

    /// Parses the base64url (no padding) text of a generated secret.
    ///
    /// # Errors
    ///
    /// [`E2eeError::EmptySecret`] or [`E2eeError::BadGeneratedSecret`].
    pub fn from_generated_text(text: &str) -> Result<Self, E2eeError> {
        if text.is_empty() {
            return Err(E2eeError::EmptySecret);
        }
        let bytes = Zeroizing::new(Base64UrlUnpadded::decode_vec(text).map_err(|_| {
            E2eeError::BadGeneratedSecret {
                reason: "not unpadded base64url",
            }
        })?);
        let bytes: [u8; GENERATED_SECRET_LEN] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| E2eeError::BadGeneratedSecret {
                    reason: "wrong length",
                })?;
        Ok(RoomSecret::Generated(bytes))
    }

    /// The URL-fragment parameter that carries this secret: its name
    /// ([`GENERATED_PARAM`] or [`TYPED_PARAM`]) and its value, not yet
    /// URL-encoded (a generated secret's base64url needs no encoding).
    #[must_use]
    pub fn link_param(&self) -> (&'static str, String) {
        match self {
            RoomSecret::Typed(text) => (TYPED_PARAM, text.clone()),
            RoomSecret::Generated(bytes) => {
                (GENERATED_PARAM, Base64UrlUnpadded::encode_string(bytes))
            }
        }
    }

    /// Whether deriving a key from this secret runs Argon2id (typed secrets).
    #[must_use]
    pub fn is_stretched(&self) -> bool {
        matches!(self, RoomSecret::Typed(_))
    }
}

/// Stretches a typed secret with Argon2id under the documented parameters
/// (salt [`STRETCH_SALT_LABEL`] `|| room_id`).
fn stretch(secret: &[u8], room_id: &str) -> Result<Zeroizing<[u8; 32]>, E2eeError> {
    let stretch_error = |err: argon2::Error| E2eeError::Stretch {
        reason: err.to_string(),
    };
    let params = Params::new(STRETCH_M_KIB, STRETCH_T_COST, STRETCH_P_COST, Some(32))
        .map_err(stretch_error)?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt = Vec::with_capacity(STRETCH_SALT_LABEL.len() + room_id.len());
    salt.extend_from_slice(STRETCH_SALT_LABEL);
    salt.extend_from_slice(room_id.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    argon2
        .hash_password_into(secret, &salt, out.as_mut())
        .map_err(stretch_error)?;
    Ok(out)
}

/// Which form of secret a key came from (the `origin` byte of the HKDF info).
#[derive(Debug, Clone, Copy)]
enum Origin {
    Typed,
    Generated,
}

impl Origin {
    fn byte(self) -> u8 {
        match self {
            Origin::Typed => b'T',
            Origin::Generated => b'G',
        }
    }
}

/// What a key is used for (the `purpose` byte of the HKDF info).
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Media,
    Chat,
}

impl Purpose {
    fn byte(self) -> u8 {
        match self {
            Purpose::Media => b'M',
            Purpose::Chat => b'C',
        }
    }
}

/// HKDF-SHA256 of `ikm` into the 32-byte key for `purpose`.
fn expand(
    ikm: &[u8],
    origin: Origin,
    purpose: Purpose,
    room_id: &str,
) -> Result<Zeroizing<[u8; 32]>, E2eeError> {
    let hkdf = Hkdf::<Sha256>::new(None, ikm);
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf.expand_multi_info(
        &[
            KDF_LABEL,
            &[origin.byte(), purpose.byte()],
            room_id.as_bytes(),
        ],
        key.as_mut(),
    )
    .map_err(|_| E2eeError::Internal {
        reason: "HKDF-SHA256 refused to expand a 32-byte key",
    })?;
    Ok(key)
}

/// A chat message opened by [`RoomKey::open_chat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedChat {
    /// The text.
    pub text: String,
    /// The sender's clock when sealing, ms since the epoch. Senders keep it
    /// strictly increasing, so a receiver may drop a message whose time is
    /// not after the last one it accepted from the same sender (a replay).
    pub sent_ms: u64,
}

/// A room's end-to-end encryption keys: one for media frames, one for chat.
///
/// The keys are held inside the ciphers, which wipe them when dropped;
/// `Debug` never shows them.
#[derive(Clone)]
pub struct RoomKey {
    media: XSalsa20Poly1305,
    chat: XSalsa20Poly1305,
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomKey(..)")
    }
}

impl RoomKey {
    /// Derives the keys for `room_id` from a room secret of either form (see
    /// the [module documentation](self) for the exact parameters). A typed
    /// secret runs Argon2id (19 MiB, tens to hundreds of milliseconds).
    ///
    /// # Errors
    ///
    /// [`E2eeError::EmptySecret`] for an empty typed secret;
    /// [`E2eeError::Stretch`] if Argon2id fails (a secret over 4 GiB).
    pub fn new(secret: &RoomSecret, room_id: &str) -> Result<Self, E2eeError> {
        match secret {
            RoomSecret::Typed(text) => Self::derive(text.as_bytes(), room_id),
            RoomSecret::Generated(bytes) => Self::from_generated(bytes, room_id),
        }
    }

    /// Derives the keys for `room_id` from a **typed** secret's bytes
    /// (`#key=`, or the streamer's `--e2ee-key`): Argon2id, then HKDF.
    ///
    /// # Errors
    ///
    /// [`E2eeError::EmptySecret`] if `secret` is empty;
    /// [`E2eeError::Stretch`] if Argon2id fails.
    pub fn derive(secret: &[u8], room_id: &str) -> Result<Self, E2eeError> {
        if secret.is_empty() {
            return Err(E2eeError::EmptySecret);
        }
        let stretched = stretch(secret, room_id)?;
        Self::from_ikm(stretched.as_slice(), Origin::Typed, room_id)
    }

    /// Derives the keys for `room_id` from a **generated** 128-bit secret
    /// (`#k=`): HKDF only.
    ///
    /// # Errors
    ///
    /// Only [`E2eeError::Internal`], which cannot happen.
    pub fn from_generated(
        secret: &[u8; GENERATED_SECRET_LEN],
        room_id: &str,
    ) -> Result<Self, E2eeError> {
        Self::from_ikm(secret, Origin::Generated, room_id)
    }

    fn from_ikm(ikm: &[u8], origin: Origin, room_id: &str) -> Result<Self, E2eeError> {
        let media = expand(ikm, origin, Purpose::Media, room_id)?;
        let chat = expand(ikm, origin, Purpose::Chat, room_id)?;
        Ok(Self {
            media: XSalsa20Poly1305::new(Key::from_slice(media.as_slice())),
            chat: XSalsa20Poly1305::new(Key::from_slice(chat.as_slice())),
        })
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
        seal_box(&self.media, &frame, rng)
    }

    /// Authenticates and decrypts a payload sealed by [`RoomKey::seal`], and
    /// checks that it was sealed by `expected_sender` as frame
    /// `expected_sequence`. Returns the media bytes.
    ///
    /// # Errors
    ///
    /// - [`E2eeError::TooShort`]: fewer than [`SEAL_OVERHEAD`] bytes;
    /// - [`E2eeError::Tampered`]: authentication failed — the key differs
    ///   (other secret or other room), a byte was changed, or it is a sealed
    ///   chat message;
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
        let frame = open_box(&self.media, sealed, SEAL_OVERHEAD)?;
        parse_frame(frame, expected_sender, expected_sequence)
    }

    /// Seals chat `text` from `sender`, sent at `sent_ms` on the sender's
    /// clock (ms since the epoch; keep it strictly increasing per sender,
    /// see [`OpenedChat::sent_ms`]), under the room's chat key.
    ///
    /// `sender` must be the identity receivers will see the message
    /// attributed to, the same string media frames are sealed with; it is
    /// checked by [`RoomKey::open_chat`]. The result is
    /// [`CHAT_SEAL_OVERHEAD`] + `sender.len()` + `text.len()` bytes.
    ///
    /// # Errors
    ///
    /// [`E2eeError::SenderTooLong`] if `sender` exceeds
    /// [`MAX_CHAT_SENDER_LEN`] bytes.
    pub fn seal_chat(
        &self,
        sender: &str,
        sent_ms: u64,
        text: &str,
        rng: &mut (impl CryptoRngCore + ?Sized),
    ) -> Result<Vec<u8>, E2eeError> {
        let sender_len = u16::try_from(sender.len())
            .ok()
            .filter(|len| usize::from(*len) <= MAX_CHAT_SENDER_LEN)
            .ok_or(E2eeError::SenderTooLong {
                len: sender.len(),
                max: MAX_CHAT_SENDER_LEN,
            })?;
        let mut chat = Zeroizing::new(Vec::with_capacity(
            CHAT_HEADER_LEN + sender.len() + text.len(),
        ));
        chat.push(CHAT_KIND);
        chat.extend_from_slice(&sender_len.to_be_bytes());
        chat.extend_from_slice(sender.as_bytes());
        chat.extend_from_slice(&sent_ms.to_be_bytes());
        chat.extend_from_slice(text.as_bytes());
        seal_box(&self.chat, &chat, rng)
    }

    /// Authenticates and decrypts a chat message sealed by
    /// [`RoomKey::seal_chat`] and checks that `expected_sender` sealed it.
    ///
    /// # Errors
    ///
    /// - [`E2eeError::TooShort`]: fewer than [`CHAT_SEAL_OVERHEAD`] bytes;
    /// - [`E2eeError::Tampered`]: authentication failed — wrong key, a
    ///   changed byte, or a sealed media payload;
    /// - [`E2eeError::UnsupportedChatKind`]: authentic, but not a chat
    ///   format this build knows;
    /// - [`E2eeError::MalformedFrame`]: authentic, but inconsistent (or the
    ///   text is not UTF-8);
    /// - [`E2eeError::WrongSender`]: authentic, but sealed by someone else.
    pub fn open_chat(&self, expected_sender: &str, sealed: &[u8]) -> Result<OpenedChat, E2eeError> {
        let chat = Zeroizing::new(open_box(&self.chat, sealed, CHAT_SEAL_OVERHEAD)?);
        let (&kind, rest) = chat.split_first().ok_or(E2eeError::MalformedFrame {
            reason: "chat ends inside its header",
        })?;
        if kind != CHAT_KIND {
            return Err(E2eeError::UnsupportedChatKind { kind });
        }
        let (sender, rest) = split_sender(rest)?;
        let (time_bytes, text) =
            rest.split_first_chunk::<8>()
                .ok_or(E2eeError::MalformedFrame {
                    reason: "chat ends inside its header",
                })?;
        check_sender(sender, expected_sender)?;
        let text = core::str::from_utf8(text).map_err(|_| E2eeError::MalformedFrame {
            reason: "chat text is not UTF-8",
        })?;
        Ok(OpenedChat {
            text: text.to_owned(),
            sent_ms: u64::from_be_bytes(*time_bytes),
        })
    }
}

/// Encrypts `plaintext` under `cipher` with a fresh nonce from `rng`:
/// `nonce || tag || ciphertext`.
fn seal_box(
    cipher: &XSalsa20Poly1305,
    plaintext: &[u8],
    rng: &mut (impl CryptoRngCore + ?Sized),
) -> Result<Vec<u8>, E2eeError> {
    let mut nonce = Nonce::default();
    rng.fill_bytes(&mut nonce);

    let mut sealed = Vec::with_capacity(NONCE_LEN + TAG_LEN + plaintext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&[0; TAG_LEN]);
    sealed.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(&nonce, b"", &mut sealed[NONCE_LEN + TAG_LEN..])
        .map_err(|_| E2eeError::Internal {
            reason: "XSalsa20-Poly1305 refused to encrypt",
        })?;
    sealed[NONCE_LEN..NONCE_LEN + TAG_LEN].copy_from_slice(&tag);
    Ok(sealed)
}

/// Authenticates and decrypts `nonce || tag || ciphertext` under `cipher`;
/// inputs shorter than `min` (the smallest valid sealed size) are refused
/// before any cryptography.
fn open_box(cipher: &XSalsa20Poly1305, sealed: &[u8], min: usize) -> Result<Vec<u8>, E2eeError> {
    if sealed.len() < min {
        return Err(E2eeError::TooShort {
            len: sealed.len(),
            min,
        });
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (tag, ciphertext) = rest.split_at(TAG_LEN);
    let mut plaintext = ciphertext.to_vec();
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            b"",
            &mut plaintext,
            Tag::from_slice(tag),
        )
        .map_err(|_| E2eeError::Tampered)?;
    Ok(plaintext)
}

/// Splits `sender_len (u16 BE) || sender || rest`.
fn split_sender(bytes: &[u8]) -> Result<(&[u8], &[u8]), E2eeError> {
    let (len_bytes, rest) = bytes
        .split_first_chunk::<2>()
        .ok_or(E2eeError::MalformedFrame {
            reason: "frame ends inside its header",
        })?;
    let sender_len = usize::from(u16::from_be_bytes(*len_bytes));
    if rest.len() < sender_len {
        return Err(E2eeError::MalformedFrame {
            reason: "sender length runs past the end of the frame",
        });
    }
    Ok(rest.split_at(sender_len))
}

/// Checks the sender named inside a box against the one it was delivered as.
fn check_sender(sender: &[u8], expected_sender: &str) -> Result<(), E2eeError> {
    if sender == expected_sender.as_bytes() {
        Ok(())
    } else {
        Err(E2eeError::WrongSender {
            claimed: String::from_utf8_lossy(sender).into_owned(),
            expected: expected_sender.to_owned(),
        })
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
    let (sender, rest) = split_sender(rest)?;
    let sender_len = sender.len();
    let (seq_bytes, _) = rest.split_first_chunk::<8>().ok_or_else(header_cut)?;
    let sequence = u64::from_be_bytes(*seq_bytes);
    check_sender(sender, expected_sender)?;
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
    const GENERATED: [u8; GENERATED_SECRET_LEN] = *b"0123456789abcdef";
    const ROOM: &str = "standup";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

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

    /// A generated-secret key: the sealing tests need no Argon2id run.
    fn key() -> RoomKey {
        RoomKey::from_generated(&GENERATED, ROOM).expect("key")
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
        let other_secret = RoomKey::from_generated(b"fedcba9876543210", ROOM).expect("key");
        let other_room = RoomKey::from_generated(&GENERATED, "retro").expect("key");
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
        let sealed = seal_box(&k.media, &frame, &mut OsRng).expect("seal");
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
            let sealed = seal_box(&k.media, frame, &mut OsRng).expect("seal");
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

    /// HKDF-SHA256 written out with plain HMAC: extract with a zero salt,
    /// then a single expand block T(1) = HMAC(PRK, info || 0x01).
    fn manual_hkdf(ikm: &[u8], info: &[&[u8]]) -> [u8; 32] {
        let mut extract = <Hmac<Sha256> as Mac>::new_from_slice(&[0; 32]).expect("hmac");
        extract.update(ikm);
        let prk = extract.finalize().into_bytes();
        let mut expand = <Hmac<Sha256> as Mac>::new_from_slice(&prk).expect("hmac");
        for part in info {
            expand.update(part);
        }
        expand.update(&[1]);
        expand.finalize().into_bytes().into()
    }

    fn manual_key(media: &[u8; 32], chat: &[u8; 32]) -> RoomKey {
        RoomKey {
            media: XSalsa20Poly1305::new(media.into()),
            chat: XSalsa20Poly1305::new(chat.into()),
        }
    }

    #[test]
    fn typed_secrets_are_stretched_with_the_documented_argon2id_parameters() {
        // Cross-checked with the reference implementation's CLI (Debian
        // package `argon2`):
        //   printf %s 'correct horse battery staple' | argon2 \
        //     'edgecall e2ee v2 salt:standup' -id -t 2 -k 19456 -p 1 -l 32 -r
        let stretched = stretch(b"correct horse battery staple", ROOM).expect("stretch");
        assert_eq!(
            hex(stretched.as_slice()),
            "d624e1ade86f35abcaefff77423c5d14ea03ace72754e6d611ff57785fba7774"
        );
        // A one-character room id still makes a valid (padded) salt.
        let short = stretch(b"correct horse battery staple", "a").expect("stretch");
        assert_eq!(
            hex(short.as_slice()),
            "fd5da99e36aab0370d6ed09a34bf31220dc477fb688fb1140c3a1998e348c5eb"
        );
    }

    #[test]
    fn typed_key_derivation_matches_its_known_answer() {
        let secret = b"correct horse battery staple";
        let stretched = stretch(secret, ROOM).expect("stretch");
        let media = manual_hkdf(stretched.as_slice(), &[KDF_LABEL, b"TM", ROOM.as_bytes()]);
        let chat = manual_hkdf(stretched.as_slice(), &[KDF_LABEL, b"TC", ROOM.as_bytes()]);
        // Also cross-checked with Python's hmac/hashlib, from the CLI's output.
        assert_eq!(
            hex(&media),
            "0e31cab9c18ba5bde427152d8a5538c91df547886ac97961fabbac01de007a29"
        );
        assert_eq!(
            hex(&chat),
            "eac5a5ee09e10af000e923f23a327e1622339d139bfcad4ddae3c327f33664f0"
        );
        let manual = manual_key(&media, &chat);
        let derived = RoomKey::derive(secret, ROOM).expect("key");
        let sealed = seal(&derived, "Ada", 3, b"interop");
        assert_eq!(manual.open("Ada", 3, &sealed), Ok(b"interop".to_vec()));
        let chat_sealed = derived
            .seal_chat("Ada", 9, "hello", &mut OsRng)
            .expect("seal chat");
        assert_eq!(
            manual.open_chat("Ada", &chat_sealed).map(|c| c.text),
            Ok("hello".to_owned())
        );
    }

    #[test]
    fn generated_key_derivation_matches_its_known_answer() {
        let media = manual_hkdf(&GENERATED, &[KDF_LABEL, b"GM", ROOM.as_bytes()]);
        let chat = manual_hkdf(&GENERATED, &[KDF_LABEL, b"GC", ROOM.as_bytes()]);
        assert_eq!(
            hex(&media),
            "f64f31c4743e1b8a1d560ffcae8f7160bec9ce12acc66a11f2a5ab0fbcc4dfcd"
        );
        assert_eq!(
            hex(&chat),
            "b053756548861869f6e66718c7fe8d8beaf0d591e2c66ab32c6bb546a2560d97"
        );
        let manual = manual_key(&media, &chat);
        let sealed = seal(&key(), "Ada", 3, b"interop");
        assert_eq!(manual.open("Ada", 3, &sealed), Ok(b"interop".to_vec()));
    }

    #[test]
    fn the_same_secret_and_room_always_give_the_same_key() {
        let typed = RoomSecret::Typed("hunter2 but longer".into());
        let (a, b) = (
            RoomKey::new(&typed, ROOM).expect("key"),
            RoomKey::new(&typed, ROOM).expect("key"),
        );
        let sealed = seal(&a, "Ada", 1, b"same key");
        assert_eq!(b.open("Ada", 1, &sealed), Ok(b"same key".to_vec()));
        let generated = RoomSecret::Generated(GENERATED);
        let sealed = seal(
            &RoomKey::new(&generated, ROOM).expect("key"),
            "Ada",
            1,
            b"x",
        );
        assert_eq!(key().open("Ada", 1, &sealed), Ok(b"x".to_vec()));
    }

    #[test]
    fn typed_and_generated_secrets_with_the_same_bytes_give_different_keys() {
        let generated = RoomKey::new(&RoomSecret::Generated(GENERATED), ROOM).expect("key");
        let text = core::str::from_utf8(&GENERATED).expect("ascii");
        let typed = RoomKey::new(&RoomSecret::Typed(text.into()), ROOM).expect("key");
        let sealed = seal(&generated, "Ada", 1, b"which path?");
        assert_eq!(typed.open("Ada", 1, &sealed), Err(E2eeError::Tampered));
        let sealed = seal(&typed, "Ada", 1, b"which path?");
        assert_eq!(generated.open("Ada", 1, &sealed), Err(E2eeError::Tampered));
        // The typed path is the stretched one, and the same as derive().
        assert!(RoomSecret::Typed(text.into()).is_stretched());
        assert!(!RoomSecret::Generated(GENERATED).is_stretched());
        let derived = RoomKey::derive(&GENERATED, ROOM).expect("key");
        assert_eq!(derived.open("Ada", 1, &sealed), Ok(b"which path?".to_vec()));
    }

    #[test]
    fn typed_keys_differ_per_room() {
        let sealed = seal(&RoomKey::derive(SECRET, ROOM).expect("key"), "Ada", 1, b"m");
        let other_room = RoomKey::derive(SECRET, "retro").expect("key");
        let other_secret = RoomKey::derive(b"another secret", ROOM).expect("key");
        assert_eq!(other_room.open("Ada", 1, &sealed), Err(E2eeError::Tampered));
        assert_eq!(
            other_secret.open("Ada", 1, &sealed),
            Err(E2eeError::Tampered)
        );
    }

    #[test]
    fn generated_secrets_round_trip_through_the_invite_link() {
        let secret = RoomSecret::generate(&mut OsRng);
        let (name, value) = secret.link_param();
        assert_eq!(name, "k");
        assert_eq!(value.len(), 22, "{value}");
        assert!(value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(RoomSecret::from_link_param(name, &value), Ok(Some(secret)));
        // The pinned encoding of the test secret: unpadded base64url.
        let (_, text) = RoomSecret::Generated(GENERATED).link_param();
        assert_eq!(text, "MDEyMzQ1Njc4OWFiY2RlZg");
        let (_, text) = RoomSecret::Generated([0xfb; 16]).link_param();
        assert_eq!(text, "-_v7-_v7-_v7-_v7-_v7-w");
        assert_ne!(
            RoomSecret::generate(&mut OsRng),
            RoomSecret::generate(&mut OsRng)
        );
    }

    #[test]
    fn typed_secrets_come_from_key_and_other_parameters_are_ignored() {
        assert_eq!(
            RoomSecret::from_link_param("key", "s3cret words"),
            Ok(Some(RoomSecret::Typed("s3cret words".into())))
        );
        assert_eq!(
            RoomSecret::from_link_param("key", ""),
            Err(E2eeError::EmptySecret)
        );
        assert_eq!(RoomSecret::from_link_param("other", "x"), Ok(None));
        assert_eq!(
            RoomSecret::Typed("typed".into()).link_param(),
            ("key", "typed".to_owned())
        );
    }

    #[test]
    fn malformed_generated_secrets_are_refused() {
        for bad in [
            "MDEyMzQ1Njc4OWFiY2RlZg==", // padded
            "MDEyMzQ1Njc4OWFiY2Rl",     // 15 bytes
            "MDEyMzQ1Njc4OWFiY2RlZmc",  // 17 bytes
            "MDEyMzQ1Njc4OWFiY2RlZ+",   // standard, not URL-safe, alphabet
            "MDEyMzQ1Njc4OWFiY2RlZh",   // non-canonical trailing bits
            "not a key at all!",
        ] {
            assert!(
                matches!(
                    RoomSecret::from_link_param("k", bad),
                    Err(E2eeError::BadGeneratedSecret { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            RoomSecret::from_link_param("k", ""),
            Err(E2eeError::EmptySecret)
        );
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        assert_eq!(
            format!("{:?}", RoomSecret::Typed("hunter2".into())),
            "RoomSecret::Typed(..)"
        );
        assert_eq!(
            format!("{:?}", RoomSecret::Generated(GENERATED)),
            "RoomSecret::Generated(..)"
        );
    }

    // ------------------------------------------------------------ chat

    #[test]
    fn chat_round_trips_with_sender_and_time() {
        let k = key();
        let text = "Zoë says hi 👋";
        let sealed = k
            .seal_chat("Ada", 1_700_000_000_123, text, &mut OsRng)
            .expect("seal");
        assert_eq!(sealed.len(), CHAT_SEAL_OVERHEAD + "Ada".len() + text.len());
        assert_eq!(
            k.open_chat("Ada", &sealed),
            Ok(OpenedChat {
                text: text.into(),
                sent_ms: 1_700_000_000_123
            })
        );
        assert!(
            !sealed.windows(text.len()).any(|w| w == text.as_bytes()),
            "the text is visible in the sealed bytes"
        );
    }

    #[test]
    fn chat_cannot_be_re_attributed() {
        let sealed = key()
            .seal_chat("Ada", 1, "I owe you", &mut OsRng)
            .expect("seal");
        assert_eq!(
            key().open_chat("Mallory", &sealed),
            Err(E2eeError::WrongSender {
                claimed: "Ada".into(),
                expected: "Mallory".into()
            })
        );
    }

    #[test]
    fn a_media_frame_never_opens_as_chat_nor_chat_as_media() {
        let k = key();
        // A media frame whose bytes would parse as a chat message.
        let mut media = vec![CHAT_KIND, 0, 0];
        media.extend_from_slice(&0u64.to_be_bytes());
        media.extend_from_slice(b"text");
        let sealed_media = seal(&k, "Ada", 1, &media);
        assert_eq!(k.open_chat("Ada", &sealed_media), Err(E2eeError::Tampered));
        let sealed_chat = k.seal_chat("Ada", 1, "hello", &mut OsRng).expect("seal");
        assert_eq!(k.open("Ada", 1, &sealed_chat), Err(E2eeError::Tampered));
        // Even a plaintext with the media version byte under the chat key
        // is refused by its kind.
        let mut frame = vec![FRAME_VERSION, 0, 3];
        frame.extend_from_slice(b"Ada");
        frame.extend_from_slice(&1u64.to_be_bytes());
        let sealed = seal_box(&k.chat, &frame, &mut OsRng).expect("seal");
        assert_eq!(
            k.open_chat("Ada", &sealed),
            Err(E2eeError::UnsupportedChatKind {
                kind: FRAME_VERSION
            })
        );
    }

    #[test]
    fn every_tampered_chat_byte_is_detected() {
        let k = key();
        let sealed = k.seal_chat("Ada", 5, "hi", &mut OsRng).expect("seal");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                k.open_chat("Ada", &bad),
                Err(E2eeError::Tampered),
                "byte {i}"
            );
        }
        assert_eq!(
            k.open_chat("Ada", &sealed[..CHAT_SEAL_OVERHEAD - 1]),
            Err(E2eeError::TooShort {
                len: CHAT_SEAL_OVERHEAD - 1,
                min: CHAT_SEAL_OVERHEAD
            })
        );
        let other = RoomKey::from_generated(b"fedcba9876543210", ROOM).expect("key");
        assert_eq!(other.open_chat("Ada", &sealed), Err(E2eeError::Tampered));
    }

    #[test]
    fn chat_that_is_not_utf8_or_cut_short_is_malformed() {
        let k = key();
        let mut chat = vec![CHAT_KIND, 0, 0];
        chat.extend_from_slice(&0u64.to_be_bytes());
        chat.extend_from_slice(&[0xff, 0xfe]);
        let sealed = seal_box(&k.chat, &chat, &mut OsRng).expect("seal");
        assert!(matches!(
            k.open_chat("", &sealed),
            Err(E2eeError::MalformedFrame { .. })
        ));
        let sealed = seal_box(
            &k.chat,
            &[CHAT_KIND, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0],
            &mut OsRng,
        )
        .expect("seal");
        assert!(matches!(
            k.open_chat("", &sealed),
            Err(E2eeError::MalformedFrame { .. })
        ));
    }

    #[test]
    fn the_sealed_chat_bound_covers_the_longest_allowed_message() {
        let sender = "x".repeat(MAX_CHAT_SENDER_LEN);
        let text = "🎥".repeat(2_000);
        let sealed = key()
            .seal_chat(&sender, u64::MAX, &text, &mut OsRng)
            .expect("seal");
        assert_eq!(sealed.len(), max_sealed_chat_len(2_000));
        assert_eq!(max_sealed_chat_len(usize::MAX), usize::MAX);
        let too_long = "x".repeat(MAX_CHAT_SENDER_LEN + 1);
        assert_eq!(
            key().seal_chat(&too_long, 0, "", &mut OsRng),
            Err(E2eeError::SenderTooLong {
                len: MAX_CHAT_SENDER_LEN + 1,
                max: MAX_CHAT_SENDER_LEN
            })
        );
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
        assert!(E2eeError::BadGeneratedSecret {
            reason: "wrong length"
        }
        .to_string()
        .contains("invite link"));
    }
}
