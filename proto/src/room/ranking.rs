//! Speaker ranking: who is loud now (top-K audio) and who spoke most
//! recently (last-N video).
//!
//! Audio levels follow RFC 6464 (0 = 0 dBov, loudest; 127 = silence). Each
//! sender's level is smoothed; the ranking is recomputed at a fixed interval
//! so the forwarding sets do not flap with every packet.
//!
//! Levels are declared by the senders themselves, so loudness alone cannot
//! decide who is heard: anyone may claim 0 dBov forever. While no more than
//! K participants speak, all of them are heard, loudest first. When more
//! claim to speak, the K places go to the speakers who were heard *least*
//! recently: each speaker's forwarded speaking time is counted and decays
//! with a half-life of [`FAIR_HALF_LIFE_MS`], a place changes hands only
//! when the waiting speaker's count is [`SWAP_MARGIN_MS`] below the holder's
//! (so places do not flap), and a newcomer starts with the highest count in
//! the room (reconnecting does not jump the queue). A crowd of fake loud
//! speakers therefore shares the places with an honest one instead of
//! keeping him out.
//!
//! # Barge-in: first words are heard
//!
//! The ranking runs every interval (300 ms by default) and smooths levels,
//! so on its own a sender who starts to talk outside the top K would reach
//! nobody for up to an interval: the start of every sentence clipped. Like
//! SFUs that forward on per-packet audio levels, the engine forwards such a
//! frame at once, within a small bound. The rule:
//!
//! - A *talk spurt* starts with a loud frame (level at or below the
//!   speaking level; lower is louder) after [`HOLD_MS`] without one. Until
//!   a ranking counts its sender as speaking, the spurt is *unjudged*.
//! - A loud frame of an unjudged spurt from a sender outside the top K (K
//!   places of the ranked order) makes the sender a *barge-in speaker*,
//!   forwarded to every receiver, if fewer than the configured maximum
//!   (`RoomConfig::audio_barge_in`) already are. Places go first come,
//!   first served and nobody is displaced: a later or louder claim (levels
//!   are self-declared) cannot cut off someone already heard mid-word.
//! - The next ranking decides. A barge-in speaker whose latest frame is
//!   loud counts as speaking in it, smoothed level or not, and takes a
//!   place like anyone (directly while places are free, else by the
//!   fairness rule above); then the barge-in set is emptied. A spurt the
//!   ranking counted as speaking never barges in again: a speaker who is
//!   kept waiting waits, until it has been quiet for [`HOLD_MS`].
//!
//! So each receiver gets at most K + max streams however many start at
//! once, and a barge-in lasts at most one interval. Per frame the rule
//! costs a comparison or two; the forwarding table is redone once per
//! admission, not per frame.

use rustc_hash::FxHashMap;

use super::action::ParticipantId;
use super::sort;

/// Level treated as silence.
const SILENCE: f32 = 127.0;
/// Weight of a new sample in the smoothed level.
const SMOOTHING: f32 = 0.25;
/// A speaker not heard for this long counts as silent (senders using DTX
/// stop sending in silence).
const HOLD_MS: u64 = 500;
/// Half-life of a speaker's count of recently forwarded speaking time.
pub(crate) const FAIR_HALF_LIFE_MS: f64 = 20_000.0;
/// How far below a holder's count a waiting speaker's must be to take its
/// place.
pub(crate) const SWAP_MARGIN_MS: f64 = 3_000.0;

#[derive(Debug, Clone)]
struct Loudness {
    /// Smoothed RFC 6464 level (lower is louder).
    level: f32,
    last_heard_ms: u64,
    /// The latest frame was at or below the speaking level.
    loud: bool,
    /// When the latest loud frame arrived.
    last_loud_ms: Option<u64>,
    /// The current talk spurt has not been counted as speaking by a
    /// ranking yet: it may barge in.
    unjudged: bool,
}

/// Positions of participants in an ordered list, for O(1) look-ups.
#[derive(Debug, Clone, Default)]
struct Ordered {
    order: Vec<ParticipantId>,
    position: FxHashMap<ParticipantId, usize>,
}

impl Ordered {
    fn set(&mut self, order: Vec<ParticipantId>) {
        self.position = order.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        self.order = order;
    }

    /// `who`'s place in the list once `skip` entries are left out, if that
    /// place is below `limit`.
    fn rank_without(
        &self,
        who: ParticipantId,
        skip: impl Fn(ParticipantId) -> bool,
        limit: usize,
    ) -> Option<usize> {
        let pos = *self.position.get(&who)?;
        let mut rank = 0;
        for p in &self.order[..pos] {
            if !skip(*p) {
                rank += 1;
                if rank >= limit {
                    return None;
                }
            }
        }
        (rank < limit).then_some(rank)
    }

    fn prefix(&self, len: usize) -> &[ParticipantId] {
        &self.order[..len.min(self.order.len())]
    }
}

/// What changed in a ranking update, so only affected routes are redone.
#[derive(Debug, Default)]
pub(crate) struct RankingChange {
    /// Senders whose audio entitlement may have changed.
    pub audio: Vec<ParticipantId>,
    /// Senders whose last-N video entitlement may have changed.
    pub video: Vec<ParticipantId>,
    /// Participants who just spoke (their `last_spoke` moved).
    pub spoke: Vec<ParticipantId>,
}

/// The room's speaker ranking.
#[derive(Debug, Clone)]
pub(crate) struct Ranking {
    loudness: FxHashMap<ParticipantId, Loudness>,
    /// Audible senders, loudest first.
    audible: Ordered,
    /// Everyone, most recent active speaker first (join order initially).
    recent: Ordered,
    /// When each participant last counted as an active speaker.
    last_spoke: FxHashMap<ParticipantId, u64>,
    /// Recently forwarded speaking time per participant, in decaying ms.
    heard_ms: FxHashMap<ParticipantId, f64>,
    /// Speakers given a place in the last update.
    heard: Vec<ParticipantId>,
    /// Barge-in speakers since the last update, in the order they came.
    barge_in: Vec<ParticipantId>,
    last_update_ms: Option<u64>,
    next_update_ms: u64,
    interval_ms: u64,
    speaking_level: f32,
}

impl Ranking {
    pub(crate) fn new(interval_ms: u64, speaking_level: u8) -> Self {
        Self {
            loudness: FxHashMap::default(),
            audible: Ordered::default(),
            recent: Ordered::default(),
            last_spoke: FxHashMap::default(),
            heard_ms: FxHashMap::default(),
            heard: Vec::new(),
            barge_in: Vec::new(),
            last_update_ms: None,
            next_update_ms: 0,
            interval_ms,
            speaking_level: f32::from(speaking_level),
        }
    }

    /// A participant joined: it goes to the end of the recency list.
    pub(crate) fn add(&mut self, id: ParticipantId) {
        let highest = self.heard_ms.values().copied().fold(0.0, f64::max);
        self.heard_ms.entry(id).or_insert(highest);
        if !self.recent.position.contains_key(&id) {
            let mut order = std::mem::take(&mut self.recent.order);
            order.push(id);
            self.recent.set(order);
        }
    }

    /// A participant left. Returns the senders whose place in either
    /// forwarding window may have moved.
    pub(crate) fn remove(
        &mut self,
        id: ParticipantId,
        audio_window: usize,
        video_window: usize,
    ) -> RankingChange {
        self.loudness.remove(&id);
        self.last_spoke.remove(&id);
        self.heard_ms.remove(&id);
        self.heard.retain(|p| *p != id);
        self.barge_in.retain(|p| *p != id);
        let mut change = RankingChange::default();
        if self.recent.position.contains_key(&id) {
            let order: Vec<ParticipantId> = self
                .recent
                .order
                .iter()
                .copied()
                .filter(|p| *p != id)
                .collect();
            change.video = changed_window(self.recent.prefix(video_window), &order, video_window);
            self.recent.set(order);
        }
        if self.audible.position.contains_key(&id) {
            let order: Vec<ParticipantId> = self
                .audible
                .order
                .iter()
                .copied()
                .filter(|p| *p != id)
                .collect();
            change.audio = changed_window(self.audible.prefix(audio_window), &order, audio_window);
            self.audible.set(order);
        }
        change.audio.retain(|p| *p != id);
        change.video.retain(|p| *p != id);
        change
    }

    /// Records one audio frame's level (RFC 6464, clamped to 0..=127).
    /// Returns whether the frame is loud and belongs to a talk spurt no
    /// ranking has judged yet (it may barge in; see [`Ranking::barge_in`]).
    pub(crate) fn observe(&mut self, id: ParticipantId, level: u32, now_ms: u64) -> bool {
        let sample = level.min(127) as f32;
        let entry = self.loudness.entry(id).or_insert(Loudness {
            level: SILENCE,
            last_heard_ms: now_ms,
            loud: false,
            last_loud_ms: None,
            unjudged: false,
        });
        entry.level += SMOOTHING * (sample - entry.level);
        entry.last_heard_ms = now_ms;
        entry.loud = sample <= self.speaking_level;
        if entry.loud {
            let spurt_starts = entry
                .last_loud_ms
                .is_none_or(|t| now_ms.saturating_sub(t) > HOLD_MS);
            entry.unjudged |= spurt_starts;
            entry.last_loud_ms = Some(now_ms);
        }
        entry.loud && entry.unjudged
    }

    /// Makes `id`, whose latest frame is loud and of an unjudged spurt
    /// (what [`Ranking::observe`] returned), a barge-in speaker if it is
    /// outside the first `k` places and fewer than `max` are. Returns true
    /// when it just became one (its forwarding must be redone).
    pub(crate) fn barge_in(&mut self, id: ParticipantId, k: usize, max: usize) -> bool {
        // K = 0 forwards no audio in large rooms; barging in would.
        if k == 0 || self.barge_in.len() >= max || self.barge_in.contains(&id) {
            return false;
        }
        if self.audible.position.get(&id).is_some_and(|pos| *pos < k) {
            return false;
        }
        // `observe` answered for this frame, but a ranking may have judged
        // the spurt since.
        if !self.loudness.get(&id).is_some_and(|l| l.loud && l.unjudged) {
            return false;
        }
        self.barge_in.push(id);
        true
    }

    /// Whether `id` is a barge-in speaker (heard by everyone until the next
    /// update).
    pub(crate) fn is_barging_in(&self, id: ParticipantId) -> bool {
        self.barge_in.contains(&id)
    }

    /// Barge-in speakers, in the order they came.
    pub(crate) fn barging_in(&self) -> &[ParticipantId] {
        &self.barge_in
    }

    /// Recomputes the ranking if its interval has passed. Returns what
    /// changed (only the first `audio_window` / `video_window` places
    /// matter for forwarding).
    pub(crate) fn update(
        &mut self,
        now_ms: u64,
        audio_window: usize,
        video_window: usize,
    ) -> Option<RankingChange> {
        if now_ms < self.next_update_ms {
            return None;
        }
        self.next_update_ms = now_ms + self.interval_ms;
        let elapsed_ms = self
            .last_update_ms
            .map_or(0, |last| now_ms.saturating_sub(last)) as f64;
        self.last_update_ms = Some(now_ms);

        let mut audible: Vec<(ParticipantId, f32, bool)> = self
            .loudness
            .iter()
            .filter(|(_, l)| now_ms.saturating_sub(l.last_heard_ms) <= HOLD_MS)
            .filter(|(_, l)| l.level < SILENCE - 0.5)
            .map(|(p, l)| (*p, l.level, l.loud))
            .collect();
        sort::sort_by(&mut audible, |a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        // A barge-in speaker still talking counts as speaking before its
        // smoothed level gets there: this ranking decides on it.
        let speaking: Vec<ParticipantId> = audible
            .iter()
            .filter(|(p, level, loud)| {
                *level <= self.speaking_level || (*loud && self.barge_in.contains(p))
            })
            .map(|(p, _, _)| *p)
            .collect();
        for p in &speaking {
            if let Some(l) = self.loudness.get_mut(p) {
                l.unjudged = false;
            }
        }
        let places = audio_window.saturating_sub(1).max(1);
        let heard = self.share_places(&speaking, places);
        self.count_heard(&heard, elapsed_ms);

        let mut change = RankingChange::default();
        // Speakers with a place (loudest first), then the others by level.
        let new_audible: Vec<ParticipantId> = audible
            .iter()
            .map(|(p, _, _)| *p)
            .filter(|p| heard.contains(p))
            .chain(
                audible
                    .iter()
                    .map(|(p, _, _)| *p)
                    .filter(|p| !heard.contains(p)),
            )
            .collect();
        change.audio = changed_window(
            self.audible.prefix(audio_window),
            &new_audible,
            audio_window,
        );
        self.audible.set(new_audible);
        // Barge-ins end here; the new order alone decides who is heard.
        for p in self.barge_in.drain(..) {
            if !change.audio.contains(&p) {
                change.audio.push(p);
            }
        }

        // Speakers who are heard move to the front of the recency list,
        // loudest first.
        let speaking: Vec<ParticipantId> =
            speaking.into_iter().filter(|p| heard.contains(p)).collect();
        self.heard = heard;
        for p in &speaking {
            self.last_spoke.insert(*p, now_ms);
        }
        if !speaking.is_empty() {
            change.spoke = speaking.clone();
            let mut order = speaking.clone();
            order.extend(
                self.recent
                    .order
                    .iter()
                    .copied()
                    .filter(|p| !speaking.contains(p)),
            );
            change.video = changed_window(self.recent.prefix(video_window), &order, video_window);
            self.recent.set(order);
        }
        (!change.audio.is_empty() || !change.video.is_empty() || !change.spoke.is_empty())
            .then_some(change)
    }

    /// Chooses at most `places` of `speaking` (loudest first) to be heard:
    /// all of them when they fit, else the least heard, keeping the current
    /// holders unless someone waiting was heard clearly less.
    fn share_places(&self, speaking: &[ParticipantId], places: usize) -> Vec<ParticipantId> {
        if speaking.len() <= places {
            return speaking.to_vec();
        }
        let count = |p: &ParticipantId| self.heard_ms.get(p).copied().unwrap_or(0.0);
        let mut holders: Vec<ParticipantId> = self
            .heard
            .iter()
            .copied()
            .filter(|p| speaking.contains(p))
            .take(places)
            .collect();
        // Waiting speakers with the order they queued in: among equal
        // counts the one queued first goes first (at the start, the louder).
        let mut waiting: Vec<(ParticipantId, usize)> = speaking
            .iter()
            .copied()
            .filter(|p| !holders.contains(p))
            .zip(0..)
            .collect();
        let mut queued = waiting.len();
        let by_count = |a: &(ParticipantId, usize), b: &(ParticipantId, usize)| {
            count(&a.0).total_cmp(&count(&b.0)).then(a.1.cmp(&b.1))
        };
        sort::sort_by(&mut waiting, by_count);
        let mut waiting = waiting.into_iter().peekable();
        while holders.len() < places {
            match waiting.next() {
                Some((p, _)) => holders.push(p),
                None => break,
            }
        }
        let mut waiting: Vec<(ParticipantId, usize)> = waiting.collect();
        while let Some((slot, most)) = holders
            .iter()
            .enumerate()
            .max_by(|a, b| count(a.1).total_cmp(&count(b.1)))
            .map(|(i, p)| (i, count(p)))
        {
            let Some(least) = waiting.first().map(|w| w.0) else {
                break;
            };
            if most - count(&least) <= SWAP_MARGIN_MS {
                break;
            }
            let out = std::mem::replace(&mut holders[slot], least);
            waiting.remove(0);
            waiting.push((out, queued));
            queued += 1;
            sort::sort_by(&mut waiting, by_count);
        }
        let mut chosen: Vec<ParticipantId> = speaking
            .iter()
            .copied()
            .filter(|p| holders.contains(p))
            .collect();
        chosen.truncate(places);
        chosen
    }

    /// Ages every count and adds the time since the last update to the
    /// speakers who were heard.
    fn count_heard(&mut self, heard: &[ParticipantId], elapsed_ms: f64) {
        let decay = 0.5f64.powf(elapsed_ms / FAIR_HALF_LIFE_MS);
        for (p, count) in &mut self.heard_ms {
            *count *= decay;
            if heard.contains(p) {
                *count += elapsed_ms;
            }
        }
    }

    /// When `id` last counted as an active speaker.
    pub(crate) fn last_spoke(&self, id: ParticipantId) -> Option<u64> {
        self.last_spoke.get(&id).copied()
    }

    /// Rebuilds the recency order from remembered speaking times (after a
    /// restore): most recent first, then those who never spoke, by id.
    pub(crate) fn restore_recency(
        &mut self,
        spoke: impl IntoIterator<Item = (ParticipantId, u64)>,
    ) {
        self.last_spoke.extend(spoke);
        let mut order = self.recent.order.clone();
        sort::sort_by_key(&mut order, |p| {
            (std::cmp::Reverse(self.last_spoke.get(p).copied()), *p)
        });
        self.recent.set(order);
    }

    /// `sender`'s place among the loudest, ignoring `skip`, if below `k`.
    pub(crate) fn audio_rank(
        &self,
        sender: ParticipantId,
        skip: impl Fn(ParticipantId) -> bool,
        k: usize,
    ) -> Option<usize> {
        self.audible.rank_without(sender, skip, k)
    }

    /// `sender`'s place among recent speakers, ignoring `skip`, if below `n`.
    pub(crate) fn recent_rank(
        &self,
        sender: ParticipantId,
        skip: impl Fn(ParticipantId) -> bool,
        n: usize,
    ) -> Option<usize> {
        self.recent.rank_without(sender, skip, n)
    }

    /// Audible speakers, loudest first.
    pub(crate) fn audible(&self) -> &[ParticipantId] {
        &self.audible.order
    }

    /// Everyone, most recent speaker first.
    pub(crate) fn recent(&self) -> &[ParticipantId] {
        &self.recent.order
    }
}

/// When the first `window` entries differ between `old` (already cut to
/// the window) and `new`, the union of both windows; else nothing.
fn changed_window(
    old: &[ParticipantId],
    new: &[ParticipantId],
    window: usize,
) -> Vec<ParticipantId> {
    if old == &new[..window.min(new.len())] {
        return Vec::new();
    }
    let mut out: Vec<ParticipantId> = old.to_vec();
    for p in new.iter().take(window) {
        if !out.contains(p) {
            out.push(*p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ranking (speaking level 90) of participants 1..=`n`.
    fn ranking_of(interval_ms: u64, n: ParticipantId) -> Ranking {
        let mut r = Ranking::new(interval_ms, 90);
        for id in 1..=n {
            r.add(id);
        }
        r
    }

    /// Participants 1..=3 talk at level 20 for `ms`, a frame each every
    /// 20 ms, the ranking (K = 3) updated as frames come.
    fn three_talk(r: &mut Ranking, ms: u64) {
        for t in (0..ms).step_by(20) {
            for talker in 1..=3 {
                r.observe(talker, 20, t);
            }
            r.update(t, 4, 3);
        }
    }

    #[test]
    fn loudest_first_and_silence_excluded() {
        let mut r = ranking_of(100, 4);
        for t in 0..10 {
            r.observe(1, 60, t * 20);
            r.observe(2, 20, t * 20);
            r.observe(3, 127, t * 20);
        }
        assert!(r.update(200, 3, 3).is_some());
        assert_eq!(r.audible(), &[2, 1]);
        assert_eq!(r.audio_rank(1, |_| false, 3), Some(1));
        assert_eq!(r.audio_rank(1, |p| p == 2, 3), Some(0));
        assert_eq!(r.audio_rank(3, |_| false, 3), None);
    }

    #[test]
    fn speakers_move_to_front_of_recency() {
        let mut r = ranking_of(100, 5);
        assert_eq!(r.recent(), &[1, 2, 3, 4, 5]);
        for t in 0..10 {
            r.observe(4, 10, t * 20);
        }
        let change = r.update(300, 3, 2).expect("ranking changed");
        assert_eq!(r.recent(), &[4, 1, 2, 3, 5]);
        assert!(change.video.contains(&4) && change.video.contains(&2));
        assert_eq!(r.recent_rank(1, |p| p == 4, 2), Some(0));
    }

    #[test]
    fn a_speaker_not_heard_for_a_while_is_dropped() {
        let mut r = Ranking::new(100, 90);
        r.add(1);
        r.observe(1, 10, 0);
        r.update(0, 3, 3);
        assert_eq!(r.audible(), &[1]);
        r.update(5_000, 3, 3);
        assert!(r.audible().is_empty());
    }

    /// Five senders claim 0 dBov without pause; an honest speaker talks at
    /// a normal level for a minute. With three places he is heard about
    /// half of the time instead of never.
    #[test]
    fn claimed_loudness_cannot_keep_an_honest_speaker_out() {
        let mut r = Ranking::new(300, 90);
        let honest = 6;
        for id in 1..=6 {
            r.add(id);
        }
        let (mut heard, mut updates) = (0, 0);
        for t in (0..60_000).step_by(20) {
            for attacker in 1..=5 {
                r.observe(attacker, 0, t);
            }
            r.observe(honest, 40, t);
            if r.update(t, 4, 3).is_some() || t % 300 == 0 {
                updates += 1;
                if r.audio_rank(honest, |_| false, 3).is_some() {
                    heard += 1;
                }
            }
        }
        let share = f64::from(heard) / f64::from(updates);
        eprintln!("honest speaker heard in {heard} of {updates} rankings");
        assert!(
            (0.35..=0.65).contains(&share),
            "the honest speaker was among the three heard {:.0} % of the time",
            share * 100.0
        );
    }

    #[test]
    fn a_speaker_who_starts_talking_gets_a_place_at_once() {
        let mut r = ranking_of(300, 4);
        // Three people have been talking over each other for a while.
        three_talk(&mut r, 30_000);
        // The fourth, quiet until now, starts and is heard within a second.
        let mut heard_at = None;
        for t in (30_000..31_000).step_by(20) {
            for talker in 1..=4 {
                r.observe(talker, if talker == 4 { 50 } else { 20 }, t);
            }
            r.update(t, 4, 3);
            if heard_at.is_none() && r.audio_rank(4, |_| false, 3).is_some() {
                heard_at = Some(t);
            }
        }
        assert!(
            heard_at.is_some(),
            "the newcomer to the talk was never heard"
        );
    }

    #[test]
    fn up_to_k_speakers_are_all_heard_loudest_first() {
        let mut r = ranking_of(100, 3);
        for t in 0..10 {
            r.observe(1, 60, t * 20);
            r.observe(2, 20, t * 20);
            r.observe(3, 40, t * 20);
        }
        r.update(200, 4, 3);
        assert_eq!(r.audible(), &[2, 3, 1]);
    }

    #[test]
    fn a_talk_spurt_may_barge_in_until_a_ranking_judges_it() {
        let mut r = ranking_of(300, 5);
        r.update(0, 4, 3);
        // Quiet frames never may.
        assert!(!r.observe(5, 91, 10));
        assert!(!r.barge_in(5, 3, 2));
        // A loud one does, once.
        assert!(r.observe(5, 40, 20));
        assert!(r.barge_in(5, 3, 2));
        assert!(r.observe(5, 40, 40));
        assert!(!r.barge_in(5, 3, 2), "already barging in");
        assert!(r.is_barging_in(5));
        // The ranking counts it as speaking, though its smoothed level is
        // still above 90, gives it a free place and ends the barge-in.
        let change = r.update(300, 4, 3).expect("ranking changed");
        assert!(change.audio.contains(&5));
        assert!(r.barging_in().is_empty());
        assert_eq!(r.audio_rank(5, |_| false, 3), Some(0));
        // The spurt was judged: it does not barge in again.
        assert!(!r.observe(5, 40, 320));
        // A new spurt after more than the hold time may.
        assert!(r.observe(5, 40, 320 + HOLD_MS + 1));
    }

    #[test]
    fn barge_ins_are_bounded_and_go_first_come_first_served() {
        let mut r = ranking_of(300, 6);
        three_talk(&mut r, 600);
        // The three in place do not need to barge in.
        assert!(!r.barge_in(1, 3, 2));
        for (id, level) in [(4, 50), (5, 50), (6, 0)] {
            assert!(r.observe(id, level, 600));
        }
        assert!(r.barge_in(4, 3, 2));
        assert!(r.barge_in(5, 3, 2));
        assert!(!r.barge_in(6, 3, 2), "the loudest claim comes too late");
        assert_eq!(r.barging_in(), &[4, 5]);
        r.remove(4, 4, 3);
        assert_eq!(r.barging_in(), &[5]);
    }

    #[test]
    fn updates_are_rate_limited() {
        let mut r = Ranking::new(300, 90);
        r.add(1);
        r.observe(1, 10, 0);
        assert!(r.update(0, 3, 3).is_some());
        r.observe(1, 10, 10);
        assert!(r.update(100, 3, 3).is_none());
    }
}
