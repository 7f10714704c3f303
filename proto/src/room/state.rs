//! The small, serialisable per-connection state the engine needs to rebuild
//! a room after the host lost its memory (Durable Object hibernation).

use super::action::ParticipantId;
use super::track::TrackKind;
use crate::wire;

/// What a participant may do, from its join token (or everything in open
/// mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rights {
    /// May send media.
    pub publish: bool,
    /// May receive media.
    pub subscribe: bool,
    /// May moderate: mute others, lower hands, remove participants, end
    /// the meeting (a verified `role: host` token).
    pub moderate: bool,
}

impl Default for Rights {
    fn default() -> Self {
        Self {
            publish: true,
            subscribe: true,
            moderate: false,
        }
    }
}

/// Who a host admits: the identity it verified, or none in open mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Display name. Not unique: participants are told apart by identity.
    pub name: String,
    /// What the member may do.
    pub rights: Rights,
    /// The verified identity (`sub:<subject>`), or `None` in open mode,
    /// where the engine derives one from the session's resume secret when
    /// the client's `Hello` arrives.
    pub identity: Option<String>,
}

impl Member {
    /// An open-mode member with full rights (the engine gives it an
    /// identity at `Hello`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            rights: Rights::default(),
            identity: None,
        }
    }

    /// A member whose identity the host verified (a join token's subject).
    pub fn verified(name: impl Into<String>, subject: &str) -> Self {
        Self {
            identity: Some(verified_identity(subject)),
            ..Self::new(name)
        }
    }
}

/// The identity of a verified join: `sub:` and the token's subject.
pub fn verified_identity(subject: &str) -> String {
    format!("sub:{subject}")
}

impl From<&crate::token::Authorized> for Member {
    /// A verified token names the identity by its `sub` claim, or by its
    /// `name` when the issuer set no subject; open mode leaves it to the
    /// engine.
    fn from(auth: &crate::token::Authorized) -> Self {
        let claims = &auth.claims;
        Self {
            name: claims.name.clone(),
            rights: Rights {
                publish: claims.publish,
                subscribe: claims.subscribe,
                // Only a checked token can make a host.
                moderate: auth.verified && claims.role == crate::token::Role::Host,
            },
            identity: auth
                .verified
                .then(|| verified_identity(claims.sub.as_deref().unwrap_or(&claims.name))),
        }
    }
}

/// Mute and sharing badges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaFlags {
    /// Microphone muted.
    pub audio_muted: bool,
    /// Camera switched off.
    pub camera_off: bool,
    /// Sharing the screen.
    pub screen_sharing: bool,
    /// Hand raised.
    pub hand_raised: bool,
}

impl From<&wire::MediaState> for MediaFlags {
    fn from(s: &wire::MediaState) -> Self {
        Self {
            audio_muted: s.audio_muted,
            camera_off: s.camera_off,
            screen_sharing: s.screen_sharing,
            hand_raised: s.hand_raised,
        }
    }
}

impl From<MediaFlags> for wire::MediaState {
    fn from(f: MediaFlags) -> Self {
        Self {
            audio_muted: f.audio_muted,
            camera_off: f.camera_off,
            screen_sharing: f.screen_sharing,
            hand_raised: f.hand_raised,
        }
    }
}

/// One explicit video subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionEntry {
    /// Whose track.
    pub participant: ParticipantId,
    /// Which track (camera or screen).
    pub track: TrackKind,
    /// Highest layer wanted.
    pub max_layer: u8,
}

/// How a receiver chooses its video.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SubscriptionState {
    /// Last-N active speakers plus every screen share.
    #[default]
    Auto,
    /// Exactly these tracks.
    Explicit(Vec<SubscriptionEntry>),
}

/// A limit the receiver asked for itself (`Congestion` from the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimit {
    /// Highest video layer.
    pub max_layer: u8,
    /// No video at all.
    pub video_paused: bool,
    /// No audio at all.
    pub audio_paused: bool,
}

/// A participant admitted to the room on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantState {
    /// Engine-assigned id.
    pub id: ParticipantId,
    /// Who it is (`member.identity` is always set once admitted).
    pub member: Member,
    /// When it joined (ms since the epoch, this host's clock).
    pub joined_at_ms: u64,
    /// Badges.
    pub media: MediaFlags,
    /// Video choice.
    pub subscription: SubscriptionState,
    /// Receiver-declared limit, if any.
    pub client_limit: Option<ClientLimit>,
    /// When it last counted as an active speaker, so the last-N order
    /// survives a restore.
    pub last_spoke_ms: Option<u64>,
}

/// A participant owned by the host at the other end of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParticipant {
    /// The owning host's id for it (used in link messages).
    pub remote_id: u32,
    /// This host's id for it (used towards local clients).
    pub local_id: ParticipantId,
    /// Display name.
    pub name: String,
    /// Identity, as its host announced it.
    pub identity: String,
    /// When it joined, on its host's clock.
    pub joined_at_ms: u64,
    /// Badges.
    pub media: MediaFlags,
    /// May publish.
    pub can_publish: bool,
    /// May moderate (as its host announced it).
    pub host: bool,
}

/// What the far end of a link wants from one of this host's senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkWantState {
    /// This host's id of the sender.
    pub participant: ParticipantId,
    /// Track wanted.
    pub track: TrackKind,
    /// Bit L set: someone behind the link wants layers up to L.
    pub layer_mask: u8,
}

/// How a link relates to the other links of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkKind {
    /// Part of a tree (a relay's trunk to the edge): the link carries
    /// everyone not behind it, whichever link they came from.
    #[default]
    Tree,
    /// Part of a full mesh (relays of one NATS cluster, each linked to
    /// every other): every host hears each peer directly, so a mesh link
    /// never carries what came in over another mesh link.
    Mesh,
}

/// A link to another host carrying many participants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Tree or mesh.
    pub kind: LinkKind,
    /// The other host's self-declared id (from `LinkHello`), once known.
    pub peer_host: Option<String>,
    /// Participants behind the link.
    pub remote: Vec<RemoteParticipant>,
    /// What the far end last asked for.
    pub wants: Vec<LinkWantState>,
}

/// Everything the engine keeps about one connection that must survive the
/// host losing its memory. Small; stored as bytes with
/// [`ConnState::to_stored`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Admitted by the host, waiting for the client's `Hello`.
    Pending(Member),
    /// A participant in the room.
    Participant(ParticipantState),
    /// A link to another host.
    Link(LinkState),
}
