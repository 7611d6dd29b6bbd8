//! What a tenant, a subject or a name must not hide: characters that make
//! two strings look alike while they differ, or that reorder or break the
//! text around them in a console or a log line.
//!
//! Nothing is normalised (NFC or otherwise). A tenant or subject is compared
//! byte for byte, as the identity provider issued it: normalising could make
//! two of its distinct identities one. A name is answered exactly as it was
//! sent, as the contract returns it; refusing what hides is enough to keep
//! it honest on screen.

/// Why a string was refused, for the caller's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Leading or trailing white space (Unicode `White_Space`).
    OuterWhiteSpace,
    /// A control character (`Cc`), a line or paragraph separator.
    Control,
    /// An invisible formatting character: bidirectional overrides and
    /// isolates, zero-width spaces and joiners, the byte order mark, soft
    /// hyphen, tag characters (all of Unicode's `Cf`), and the Hangul
    /// fillers and combining grapheme joiner that render as nothing.
    Invisible,
}

impl Hidden {
    pub fn describe(self) -> &'static str {
        match self {
            Hidden::OuterWhiteSpace => "must not begin or end with white space",
            Hidden::Control => "must not contain control characters",
            Hidden::Invisible => {
                "must not contain invisible formatting characters (such as bidirectional \
                 overrides or zero-width characters)"
            }
        }
    }
}

/// The first thing `text` hides, if any.
pub fn hidden(text: &str) -> Option<Hidden> {
    if text.trim() != text {
        return Some(Hidden::OuterWhiteSpace);
    }
    if text
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Some(Hidden::Control);
    }
    text.chars().any(is_invisible).then_some(Hidden::Invisible)
}

/// Unicode 15's `Cf` (format) characters, and the few others that render
/// as nothing. Kept as a table: it changes rarely, and a crate for one
/// general category is more than this needs.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

fn is_invisible(c: char) -> bool {
    INVISIBLE
        .iter()
        .any(|&(low, high)| (low..=high).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_hides_nothing() {
        for text in [
            "acme",
            "My Secret",
            "caf\u{e9}",
            "a b",
            "\u{65e5}\u{672c}",
            "\u{2764}\u{fe0f} db",
        ] {
            assert_eq!(hidden(text), None, "{text:?}");
        }
    }

    #[test]
    fn outer_white_space_controls_and_invisible_characters_are_named() {
        for (text, why) in [
            (" acme", Hidden::OuterWhiteSpace),
            ("acme\t", Hidden::OuterWhiteSpace),
            ("acme\u{3000}", Hidden::OuterWhiteSpace),
            ("\u{a0}acme", Hidden::OuterWhiteSpace),
            ("ac\u{0}me", Hidden::Control),
            ("ac\u{85}me", Hidden::Control),
            ("ac\u{2028}me", Hidden::Control),
            ("ac\u{202e}em", Hidden::Invisible),
            ("ac\u{2066}me\u{2069}", Hidden::Invisible),
            ("ac\u{200b}me", Hidden::Invisible),
            ("ac\u{200d}me", Hidden::Invisible),
            ("\u{feff}acme", Hidden::Invisible),
            ("ac\u{ad}me", Hidden::Invisible),
            ("acme\u{e0041}", Hidden::Invisible),
            ("ac\u{3164}me", Hidden::Invisible),
        ] {
            assert_eq!(hidden(text), Some(why), "{text:?}");
        }
    }
}
