//! Keyboard shortcuts in the meeting: Alt plus one letter, read by the
//! key's position (`KeyboardEvent.code`), so they work on any layout and
//! do not clash with typing (a plain letter would fire in the chat box) or
//! with the browser's own Ctrl shortcuts.

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// Mute or unmute the microphone.
    ToggleMute,
    /// Stop or start the camera.
    ToggleCamera,
    /// Start or stop sharing the screen.
    ToggleScreen,
    /// Leave the meeting.
    Leave,
    /// Raise or lower the hand.
    ToggleHand,
}

impl Shortcut {
    /// Every shortcut, with its key and the button it stands for.
    pub const ALL: [Shortcut; 5] = [
        Shortcut::ToggleMute,
        Shortcut::ToggleCamera,
        Shortcut::ToggleScreen,
        Shortcut::Leave,
        Shortcut::ToggleHand,
    ];

    /// The `KeyboardEvent.code` it answers to (with Alt held).
    pub fn code(self) -> &'static str {
        match self {
            Shortcut::ToggleMute => "KeyA",
            Shortcut::ToggleCamera => "KeyV",
            Shortcut::ToggleScreen => "KeyS",
            Shortcut::Leave => "KeyQ",
            Shortcut::ToggleHand => "KeyH",
        }
    }

    /// How it is written for people and for `aria-keyshortcuts`.
    pub fn keys(self) -> &'static str {
        match self {
            Shortcut::ToggleMute => "Alt+A",
            Shortcut::ToggleCamera => "Alt+V",
            Shortcut::ToggleScreen => "Alt+S",
            Shortcut::Leave => "Alt+Q",
            Shortcut::ToggleHand => "Alt+H",
        }
    }

    /// The id of the control it presses.
    pub fn button(self) -> &'static str {
        match self {
            Shortcut::ToggleMute => "mute-button",
            Shortcut::ToggleCamera => "camera-button",
            Shortcut::ToggleScreen => "screen-button",
            Shortcut::Leave => "leave-button",
            Shortcut::ToggleHand => "hand-button",
        }
    }
}

/// The modifier keys held with a key press.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Alt (Option on a Mac).
    pub alt: bool,
    /// Ctrl.
    pub ctrl: bool,
    /// Meta (Command, Windows key).
    pub meta: bool,
    /// Shift.
    pub shift: bool,
}

/// The shortcut a key press means: Alt and the key alone (another modifier
/// held means someone else's shortcut), not a key held down repeating.
pub fn shortcut_for(code: &str, held: Modifiers, repeat: bool) -> Option<Shortcut> {
    if repeat || !held.alt || held.ctrl || held.meta || held.shift {
        return None;
    }
    Shortcut::ALL.into_iter().find(|s| s.code() == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALT: Modifiers = Modifiers {
        alt: true,
        ctrl: false,
        meta: false,
        shift: false,
    };

    #[test]
    fn alt_and_a_letter_press_the_controls() {
        assert_eq!(shortcut_for("KeyA", ALT, false), Some(Shortcut::ToggleMute));
        assert_eq!(
            shortcut_for("KeyV", ALT, false),
            Some(Shortcut::ToggleCamera)
        );
        assert_eq!(
            shortcut_for("KeyS", ALT, false),
            Some(Shortcut::ToggleScreen)
        );
        assert_eq!(shortcut_for("KeyQ", ALT, false), Some(Shortcut::Leave));
    }

    #[test]
    fn plain_letters_other_modifiers_and_repeats_do_nothing() {
        assert_eq!(shortcut_for("KeyA", Modifiers::default(), false), None);
        for other in [
            Modifiers { ctrl: true, ..ALT },
            Modifiers { meta: true, ..ALT },
            Modifiers { shift: true, ..ALT },
        ] {
            assert_eq!(shortcut_for("KeyA", other, false), None);
        }
        assert_eq!(shortcut_for("KeyA", ALT, true), None, "held down");
        assert_eq!(shortcut_for("KeyZ", ALT, false), None);
    }

    #[test]
    fn the_page_announces_each_shortcut_on_its_button() {
        let page = include_str!("../static/index.html");
        for s in Shortcut::ALL {
            let tag = page
                .split("<button")
                .find(|tag| tag.contains(&format!("id=\"{}\"", s.button())))
                .unwrap_or_else(|| panic!("no #{} in index.html", s.button()));
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            assert!(
                tag.contains(&format!("aria-keyshortcuts=\"{}\"", s.keys()))
                    && tag.contains(&format!("({})", s.keys())),
                "#{} does not announce {}: {tag}",
                s.button(),
                s.keys()
            );
        }
    }

    #[test]
    fn every_shortcut_has_its_own_key_and_button() {
        let codes: std::collections::BTreeSet<_> = Shortcut::ALL.iter().map(|s| s.code()).collect();
        let buttons: std::collections::BTreeSet<_> =
            Shortcut::ALL.iter().map(|s| s.button()).collect();
        assert_eq!(codes.len(), Shortcut::ALL.len());
        assert_eq!(buttons.len(), Shortcut::ALL.len());
        for s in Shortcut::ALL {
            assert!(s.keys().starts_with("Alt+") && s.code().ends_with(&s.keys()[4..]));
        }
    }
}
