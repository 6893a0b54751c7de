//! A content fingerprint for grouping reposts of the same text.

/// Normalises text for [`text_fingerprint`]: lower case; URLs (`http://`, `https://`, `www.`)
/// and mentions (`@name`, `@user@instance`) removed; a leading `RT` removed; every other
/// character that is not a letter or digit (any script) treated as a separator; words joined by
/// single spaces. Hashtags keep their word (`#Fire` -> `fire`).
pub fn normalise_for_fingerprint(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut first = true;
    for token in text.split_whitespace() {
        let lower_start: String = token.chars().take(8).flat_map(char::to_lowercase).collect();
        if lower_start.starts_with("http://")
            || lower_start.starts_with("https://")
            || lower_start.starts_with("www.")
        {
            continue;
        }
        if token.starts_with('@') || token.starts_with('＠') {
            continue;
        }
        if first && (token == "RT" || token == "rt") {
            first = false;
            continue;
        }
        first = false;
        let mut word_open = false;
        for c in token.chars() {
            if c.is_alphanumeric() {
                if !word_open {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    word_open = true;
                }
                out.extend(c.to_lowercase());
            } else {
                word_open = false;
            }
        }
    }
    out
}

/// A stable 64-bit fingerprint of a text's normalised form ([`normalise_for_fingerprint`]):
/// FNV-1a over its UTF-8 bytes. Stable across runs, platforms and versions of this crate (it is
/// meant to be stored); two posts with the same words in the same order, whatever their case,
/// spacing, punctuation, links and mentions, get the same value.
pub fn text_fingerprint(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    normalise_for_fingerprint(text)
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reposts_with_other_case_spacing_links_and_mentions_share_a_fingerprint() {
        let a = "My Pixel 9 battery EXPLODED last night!! https://example.com/pic.jpg";
        let b =
            "RT @alice@mastodon.social: my pixel 9 battery   exploded, last night https://t.co/xyz";
        let c = "my pixel 9 battery exploded last night @bob.bsky.social www.example.org";
        assert_eq!(
            normalise_for_fingerprint(a),
            "my pixel 9 battery exploded last night"
        );
        assert_eq!(text_fingerprint(a), text_fingerprint(b));
        assert_eq!(text_fingerprint(a), text_fingerprint(c));
    }

    #[test]
    fn different_texts_get_different_fingerprints() {
        assert_ne!(
            text_fingerprint("battery exploded"),
            text_fingerprint("battery did not explode")
        );
        assert_ne!(text_fingerprint("ab c"), text_fingerprint("a bc"));
        assert_eq!(
            normalise_for_fingerprint("#Feuer im Akku! 火事"),
            "feuer im akku 火事"
        );
    }

    #[test]
    fn the_fingerprint_is_stable_across_versions() {
        // FNV-1a 64 of "hello world" (published test vector: 0x779a65e7023cd2e7)
        assert_eq!(text_fingerprint("Hello,   WORLD!"), 0x779a_65e7_023c_d2e7);
        assert_eq!(text_fingerprint(""), 0xcbf2_9ce4_8422_2325);
    }
}
