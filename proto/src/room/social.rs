//! Reactions and moderation. Raised hands travel in `MediaState` like the
//! other badges; a host may lower them.
//!
//! - A reaction is one of [`REACTIONS`], forwarded to everyone (the sender
//!   included) and charged to the sender's chat rate; anything else closes
//!   the sender.
//! - Only a participant with [`Rights::moderate`](super::Rights) (a verified
//!   `role: host` token) may moderate; anyone else who tries is closed
//!   (`Forbidden`). A host may mute someone (their state shows muted and
//!   they are told; they may unmute themselves, as in any meeting), lower a
//!   raised hand, remove someone (closed with `Removed`; their identity
//!   cannot rejoin while the meeting lasts), or end the meeting (everyone
//!   closed with `MeetingEnded`, on every host).
//! - A participant behind a link is moderated by its own host: the request
//!   travels down the link (`LinkModerate`, with the owning host's id), as
//!   does the end of the meeting. Links join trusted hosts; the host of the
//!   moderator checked the right.

use super::{CloseCode, ConnId, Delivery, Origin, ParticipantId, Room};
use crate::wire::{self, link_message, server_message, ModerationAction};

/// The reactions a participant may send.
pub const REACTIONS: [&str; 6] = ["👍", "👏", "😂", "❤️", "🎉", "😮"];

impl Room {
    /// A local participant reacted.
    pub(super) fn reaction(
        &mut self,
        conn: ConnId,
        sender: ParticipantId,
        reaction: wire::Reaction,
        now_ms: u64,
    ) {
        if !REACTIONS.contains(&reaction.emoji.as_str()) {
            let reason = format!(
                "unknown reaction {:?}; send one of {}",
                reaction.emoji,
                REACTIONS.join(" ")
            );
            self.violation(conn, CloseCode::Malformed, reason, now_ms);
            return;
        }
        if !self.charge_chat_rate(conn, now_ms) {
            return;
        }
        let sent = wire::ReactionSent {
            sender,
            emoji: reaction.emoji,
        };
        self.broadcast_reaction(sent, Origin::Local(conn));
    }

    /// A reaction from behind a link (`sent.sender` already this host's
    /// id); one that is not a known reaction is dropped.
    pub(super) fn link_reaction(&mut self, sent: wire::ReactionSent, origin: Origin) {
        if REACTIONS.contains(&sent.emoji.as_str()) {
            self.broadcast_reaction(sent, origin);
        }
    }

    fn broadcast_reaction(&mut self, sent: wire::ReactionSent, origin: Origin) {
        self.broadcast_server(server_message::Msg::Reaction(sent.clone()), None);
        self.broadcast_link(link_message::Msg::Reaction(sent), origin);
    }

    /// A local participant's moderation request.
    pub(super) fn moderate(
        &mut self,
        conn: ConnId,
        by: ParticipantId,
        request: wire::Moderate,
        now_ms: u64,
    ) {
        let Some(host) = self.participants.get(&by) else {
            return;
        };
        if !host.member.rights.moderate {
            let reason = "only a host may moderate (join with a token whose role is host)".into();
            self.violation(conn, CloseCode::Forbidden, reason, now_ms);
            return;
        }
        let by_name = host.member.name.clone();
        match ModerationAction::try_from(request.action) {
            Ok(ModerationAction::EndMeeting) => {
                self.end_meeting(&by_name, Origin::Local(conn), now_ms);
            }
            Ok(
                action @ (ModerationAction::Mute
                | ModerationAction::LowerHand
                | ModerationAction::Remove),
            ) => {
                // A host moderates others, not themselves.
                if request.participant != by {
                    self.moderate_participant(action, request.participant, by, &by_name, now_ms);
                }
            }
            Ok(ModerationAction::Unspecified) | Err(_) => {
                let reason = format!("unknown moderation action {}", request.action);
                self.violation(conn, CloseCode::Malformed, reason, now_ms);
            }
        }
    }

    /// A moderation request from behind link `conn`, for one of this
    /// host's ids (or the whole meeting).
    pub(super) fn link_moderate(&mut self, conn: ConnId, request: wire::LinkModerate, now_ms: u64) {
        match ModerationAction::try_from(request.action) {
            Ok(ModerationAction::EndMeeting) => {
                let origin = Origin::Remote {
                    link: conn,
                    remote_id: 0,
                };
                self.end_meeting(&request.by_name, origin, now_ms);
            }
            Ok(
                action @ (ModerationAction::Mute
                | ModerationAction::LowerHand
                | ModerationAction::Remove),
            ) => {
                // Never back over the link it came from.
                let behind_this_link = self.participants.get(&request.participant).is_some_and(
                    |p| matches!(p.origin, Origin::Remote { link, .. } if link == conn),
                );
                if !behind_this_link {
                    self.moderate_participant(
                        action,
                        request.participant,
                        0,
                        &request.by_name,
                        now_ms,
                    );
                }
            }
            Ok(ModerationAction::Unspecified) | Err(_) => {}
        }
    }

    /// Carries out `action` on participant `target` (this host's id): here
    /// when it is local, else down the link it is behind. `by` is the
    /// host's local id (0 when the host is elsewhere).
    fn moderate_participant(
        &mut self,
        action: ModerationAction,
        target: ParticipantId,
        by: ParticipantId,
        by_name: &str,
        now_ms: u64,
    ) {
        let Some(participant) = self.participants.get(&target) else {
            return;
        };
        let conn = match participant.origin {
            Origin::Remote { link, remote_id } => {
                let down = link_message::Msg::Moderate(wire::LinkModerate {
                    action: action as i32,
                    participant: remote_id,
                    by_name: by_name.to_owned(),
                });
                self.send_link(link, down, Delivery::Reliable);
                return;
            }
            Origin::Local(conn) => conn,
        };
        let mut media = participant.media;
        let identity = participant.identity().to_owned();
        match action {
            ModerationAction::Mute | ModerationAction::LowerHand => {
                if action == ModerationAction::Mute {
                    media.audio_muted = true;
                    if let Some(p) = self.participants.get_mut(&target) {
                        p.held_muted = true;
                    }
                } else {
                    media.hand_raised = false;
                }
                self.update_media_flags(target, media);
                self.persist_participant(target);
                let told = server_message::Msg::Moderated(wire::Moderated {
                    action: action as i32,
                    by,
                    by_name: by_name.to_owned(),
                });
                self.send_server(conn, told, Delivery::Reliable);
            }
            ModerationAction::Remove => {
                if !self.removed.contains(&identity) {
                    if self.removed.len() >= super::MAX_REMOVED {
                        self.removed.remove(0);
                    }
                    self.removed.push(identity);
                }
                let reason = format!("{by_name} removed you from the meeting");
                self.dismiss(
                    conn,
                    CloseCode::Removed,
                    &reason,
                    "removed by a host",
                    now_ms,
                );
                self.persist_room();
            }
            ModerationAction::EndMeeting | ModerationAction::Unspecified => {}
        }
    }

    /// Ends the meeting: every other host hears it (never back towards
    /// `origin`) and every local participant is closed.
    fn end_meeting(&mut self, by_name: &str, origin: Origin, now_ms: u64) {
        let end = link_message::Msg::Moderate(wire::LinkModerate {
            action: ModerationAction::EndMeeting as i32,
            participant: 0,
            by_name: by_name.to_owned(),
        });
        self.broadcast_link(end, origin);
        let reason = format!("{by_name} ended the meeting");
        let local: Vec<ConnId> = self
            .participants
            .values()
            .filter_map(|p| p.local_conn())
            .collect();
        for conn in local {
            self.dismiss(
                conn,
                CloseCode::MeetingEnded,
                &reason,
                "the meeting ended",
                now_ms,
            );
        }
    }

    /// Whether `identity` was removed from this meeting.
    pub(super) fn was_removed(&self, identity: &str) -> bool {
        self.removed.iter().any(|r| r == identity)
    }
}
