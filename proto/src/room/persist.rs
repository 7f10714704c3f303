//! The engine's per-connection state as bytes: the `Stored*` messages of
//! `edgecall.proto`. A Durable Object keeps them in socket attachments and
//! its SQLite storage across hibernation, and the Worker hands the member it
//! admitted to its room the same way (base64url in a header).
//!
//! Protobuf rather than JSON: prost is linked for the wire already, and its
//! decoders are far smaller in the Worker's wasm than serde's per-type
//! visitors. Reading is strict: a stored value that does not decode, or
//! lacks what the engine needs, is an error, never a guess.

use base64ct::{Base64UrlUnpadded, Encoding};
use prost::Message;

use super::state::{
    ClientLimit, ConnState, LinkKind, LinkState, LinkWantState, MediaFlags, Member,
    ParticipantState, RemoteParticipant, Rights, SubscriptionEntry, SubscriptionState,
};
use super::track::{layer_from_wire, TrackKind};
use crate::wire::{self, stored_connection};

/// Why stored bytes could not be read back into engine state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredStateError {
    /// Not base64url (a member header).
    #[error("stored state is not base64url")]
    Base64,
    /// Not the expected protobuf message.
    #[error("stored state does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// Decodes, but lacks something the engine needs or holds an
    /// impossible value.
    #[error("stored state is invalid: {0}")]
    Invalid(&'static str),
}

impl ConnState {
    /// This connection's state and its `room` as a `StoredConnection`.
    pub fn to_stored(&self, room: &str) -> Vec<u8> {
        let state = match self {
            ConnState::Pending(member) => stored_connection::State::Pending(member.into()),
            ConnState::Participant(p) => stored_connection::State::Participant(p.into()),
            ConnState::Link(link) => stored_connection::State::Link(link.into()),
        };
        wire::StoredConnection {
            room: room.to_owned(),
            state: Some(state),
        }
        .encode_to_vec()
    }

    /// Reads what [`ConnState::to_stored`] wrote: the room and the state.
    ///
    /// # Errors
    ///
    /// [`StoredStateError`] when `bytes` are not a complete stored
    /// connection.
    pub fn from_stored(bytes: &[u8]) -> Result<(String, ConnState), StoredStateError> {
        let stored = wire::StoredConnection::decode(bytes)?;
        let state = match stored.state {
            Some(stored_connection::State::Pending(member)) => ConnState::Pending(member.into()),
            Some(stored_connection::State::Participant(p)) => {
                ConnState::Participant(ParticipantState::try_from(p)?)
            }
            Some(stored_connection::State::Link(link)) => {
                ConnState::Link(LinkState::try_from(link)?)
            }
            None => return Err(StoredStateError::Invalid("no connection state")),
        };
        Ok((stored.room, state))
    }
}

impl Member {
    /// The member as a header value (base64url of a `StoredMember`), for a
    /// Worker handing a join it authorised to its room.
    pub fn to_header(&self) -> String {
        Base64UrlUnpadded::encode_string(&wire::StoredMember::from(self).encode_to_vec())
    }

    /// Reads what [`Member::to_header`] wrote.
    ///
    /// # Errors
    ///
    /// [`StoredStateError`] when `header` is not a stored member.
    pub fn from_header(header: &str) -> Result<Member, StoredStateError> {
        let bytes = Base64UrlUnpadded::decode_vec(header).map_err(|_| StoredStateError::Base64)?;
        Ok(wire::StoredMember::decode(bytes.as_slice())?.into())
    }
}

fn track(value: i32) -> Result<TrackKind, StoredStateError> {
    TrackKind::from_wire(value).ok_or(StoredStateError::Invalid("unknown track"))
}

fn media(media: Option<wire::MediaState>) -> MediaFlags {
    media.as_ref().map(MediaFlags::from).unwrap_or_default()
}

impl From<&Member> for wire::StoredMember {
    fn from(m: &Member) -> Self {
        Self {
            name: m.name.clone(),
            publish: m.rights.publish,
            subscribe: m.rights.subscribe,
            identity: m.identity.clone(),
            host: m.rights.moderate,
        }
    }
}

impl From<wire::StoredMember> for Member {
    fn from(m: wire::StoredMember) -> Self {
        Self {
            name: m.name,
            rights: Rights {
                publish: m.publish,
                subscribe: m.subscribe,
                moderate: m.host,
            },
            identity: m.identity,
        }
    }
}

impl From<&ParticipantState> for wire::StoredParticipant {
    fn from(p: &ParticipantState) -> Self {
        let (explicit, subscriptions) = match &p.subscription {
            SubscriptionState::Auto => (false, Vec::new()),
            SubscriptionState::Explicit(entries) => (
                true,
                entries
                    .iter()
                    .map(|e| wire::Subscription {
                        participant: e.participant,
                        track: e.track.to_wire().into(),
                        max_layer: e.max_layer.into(),
                    })
                    .collect(),
            ),
        };
        Self {
            id: p.id,
            member: Some((&p.member).into()),
            joined_at_ms: p.joined_at_ms,
            media: Some(p.media.into()),
            explicit,
            subscriptions,
            client_limit: p.client_limit.map(|l| wire::Congestion {
                max_layer: l.max_layer.into(),
                video_paused: l.video_paused,
                audio_paused: l.audio_paused,
            }),
            last_spoke_ms: p.last_spoke_ms,
        }
    }
}

impl TryFrom<wire::StoredParticipant> for ParticipantState {
    type Error = StoredStateError;

    fn try_from(p: wire::StoredParticipant) -> Result<Self, Self::Error> {
        let member = p
            .member
            .ok_or(StoredStateError::Invalid("a participant without a member"))?;
        let subscription = if p.explicit {
            SubscriptionState::Explicit(
                p.subscriptions
                    .iter()
                    .map(|s| {
                        Ok(SubscriptionEntry {
                            participant: s.participant,
                            track: track(s.track)?,
                            max_layer: layer_from_wire(s.max_layer),
                        })
                    })
                    .collect::<Result<_, StoredStateError>>()?,
            )
        } else {
            SubscriptionState::Auto
        };
        Ok(Self {
            id: p.id,
            member: member.into(),
            joined_at_ms: p.joined_at_ms,
            media: media(p.media),
            subscription,
            client_limit: p.client_limit.map(|c| ClientLimit {
                max_layer: layer_from_wire(c.max_layer),
                video_paused: c.video_paused,
                audio_paused: c.audio_paused,
            }),
            last_spoke_ms: p.last_spoke_ms,
        })
    }
}

impl From<&LinkState> for wire::StoredLink {
    fn from(link: &LinkState) -> Self {
        let kind = match link.kind {
            LinkKind::Tree => wire::StoredLinkKind::Tree,
            LinkKind::Mesh => wire::StoredLinkKind::Mesh,
        };
        Self {
            kind: kind.into(),
            peer_host: link.peer_host.clone(),
            remote: link
                .remote
                .iter()
                .map(|r| wire::StoredRemote {
                    remote_id: r.remote_id,
                    local_id: r.local_id,
                    name: r.name.clone(),
                    identity: r.identity.clone(),
                    joined_at_ms: r.joined_at_ms,
                    media: Some(r.media.into()),
                    can_publish: r.can_publish,
                    host: r.host,
                })
                .collect(),
            wants: link
                .wants
                .iter()
                .map(|w| wire::LinkWant {
                    participant: w.participant,
                    track: w.track.to_wire().into(),
                    layer_mask: w.layer_mask.into(),
                })
                .collect(),
        }
    }
}

impl TryFrom<wire::StoredLink> for LinkState {
    type Error = StoredStateError;

    fn try_from(link: wire::StoredLink) -> Result<Self, Self::Error> {
        let kind = match wire::StoredLinkKind::try_from(link.kind) {
            Ok(wire::StoredLinkKind::Tree) => LinkKind::Tree,
            Ok(wire::StoredLinkKind::Mesh) => LinkKind::Mesh,
            Err(_) => return Err(StoredStateError::Invalid("unknown link kind")),
        };
        let wants = link
            .wants
            .iter()
            .map(|w| {
                Ok(LinkWantState {
                    participant: w.participant,
                    track: track(w.track)?,
                    layer_mask: u8::try_from(w.layer_mask)
                        .map_err(|_| StoredStateError::Invalid("layer mask out of range"))?,
                })
            })
            .collect::<Result<_, StoredStateError>>()?;
        Ok(Self {
            kind,
            peer_host: link.peer_host,
            remote: link
                .remote
                .into_iter()
                .map(|r| RemoteParticipant {
                    remote_id: r.remote_id,
                    local_id: r.local_id,
                    name: r.name,
                    identity: r.identity,
                    joined_at_ms: r.joined_at_ms,
                    media: media(r.media),
                    can_publish: r.can_publish,
                    host: r.host,
                })
                .collect(),
            wants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant() -> ParticipantState {
        ParticipantState {
            id: 7,
            member: Member::verified("Ada", "ada@example.org"),
            joined_at_ms: 1_700_000_000_123,
            media: MediaFlags {
                audio_muted: true,
                camera_off: false,
                screen_sharing: true,
                hand_raised: true,
            },
            subscription: SubscriptionState::Explicit(vec![
                SubscriptionEntry {
                    participant: 3,
                    track: TrackKind::Camera,
                    max_layer: 1,
                },
                SubscriptionEntry {
                    participant: 4,
                    track: TrackKind::Screen,
                    max_layer: 2,
                },
            ]),
            client_limit: Some(ClientLimit {
                max_layer: 0,
                video_paused: false,
                audio_paused: true,
            }),
            last_spoke_ms: Some(1_700_000_004_000),
        }
    }

    fn link(remote: u32) -> LinkState {
        LinkState {
            kind: LinkKind::Mesh,
            peer_host: Some("relay-eu-1".to_owned()),
            remote: (0..remote)
                .map(|i| RemoteParticipant {
                    remote_id: i + 1,
                    local_id: i + 100,
                    name: format!("viewer {i}"),
                    identity: format!("sub:viewer-{i}"),
                    joined_at_ms: 1_700_000_000_000 + u64::from(i),
                    media: MediaFlags::default(),
                    can_publish: i % 2 == 0,
                    host: i == 3,
                })
                .collect(),
            wants: vec![LinkWantState {
                participant: 7,
                track: TrackKind::Camera,
                layer_mask: 0b101,
            }],
        }
    }

    fn round_trip(state: ConnState) {
        let bytes = state.to_stored("board-meeting");
        let (room, back) = ConnState::from_stored(&bytes).expect("decodes");
        assert_eq!(room, "board-meeting");
        assert_eq!(back, state);
    }

    #[test]
    fn every_connection_state_reads_back_as_written() {
        round_trip(ConnState::Pending(Member::new("guest")));
        round_trip(ConnState::Pending(Member {
            rights: Rights {
                publish: false,
                subscribe: true,
                moderate: true,
            },
            ..Member::verified("viewer", "v-1")
        }));
        round_trip(ConnState::Participant(participant()));
        round_trip(ConnState::Participant(ParticipantState {
            subscription: SubscriptionState::Auto,
            client_limit: None,
            last_spoke_ms: None,
            ..participant()
        }));
        round_trip(ConnState::Link(link(0)));
        round_trip(ConnState::Link(LinkState {
            kind: LinkKind::Tree,
            peer_host: None,
            ..link(3)
        }));
    }

    #[test]
    fn an_explicit_empty_subscription_stays_explicit() {
        round_trip(ConnState::Participant(ParticipantState {
            subscription: SubscriptionState::Explicit(Vec::new()),
            ..participant()
        }));
    }

    #[test]
    fn a_participants_state_fits_a_socket_attachment() {
        // Durable Object attachments hold at most 2 KiB; a participant with
        // the edge's 16 explicit subscriptions and a long name must fit.
        let mut p = participant();
        p.member.name = "n".repeat(64);
        p.subscription = SubscriptionState::Explicit(
            (0..16)
                .map(|i| SubscriptionEntry {
                    participant: 1_000 + i,
                    track: TrackKind::Camera,
                    max_layer: 2,
                })
                .collect(),
        );
        let bytes = ConnState::Participant(p).to_stored(&"r".repeat(64));
        assert!(bytes.len() < 512, "{} bytes", bytes.len());
    }

    #[test]
    fn a_link_with_two_hundred_participants_reads_back() {
        round_trip(ConnState::Link(link(200)));
    }

    #[test]
    fn garbage_and_incomplete_state_are_errors() {
        assert!(matches!(
            ConnState::from_stored(&[0xff, 0xff, 0xff]),
            Err(StoredStateError::Decode(_))
        ));
        assert_eq!(
            ConnState::from_stored(&[]),
            Err(StoredStateError::Invalid("no connection state"))
        );
        let no_member = wire::StoredConnection {
            room: "r".to_owned(),
            state: Some(stored_connection::State::Participant(
                wire::StoredParticipant::default(),
            )),
        }
        .encode_to_vec();
        assert_eq!(
            ConnState::from_stored(&no_member),
            Err(StoredStateError::Invalid("a participant without a member"))
        );
        let bad_track = wire::StoredConnection {
            room: "r".to_owned(),
            state: Some(stored_connection::State::Link(wire::StoredLink {
                wants: vec![wire::LinkWant {
                    participant: 1,
                    track: 99,
                    layer_mask: 1,
                }],
                ..Default::default()
            })),
        }
        .encode_to_vec();
        assert_eq!(
            ConnState::from_stored(&bad_track),
            Err(StoredStateError::Invalid("unknown track"))
        );
    }

    #[test]
    fn a_member_header_reads_back_and_rejects_garbage() {
        for member in [Member::new("guest"), Member::verified("Ada", "ada")] {
            let header = member.to_header();
            assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header}");
            assert_eq!(Member::from_header(&header), Ok(member));
        }
        assert_eq!(
            Member::from_header("not base64!"),
            Err(StoredStateError::Base64)
        );
        assert!(matches!(
            Member::from_header("_____w"),
            Err(StoredStateError::Decode(_))
        ));
    }
}
