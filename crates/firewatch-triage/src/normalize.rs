//! Text normalisation with a byte-offset map back to the original input.
//!
//! The normal form is: Unicode compatibility decomposition (NFKD, so full-width forms,
//! ligatures and compatibility ideographs fold to their plain forms), Latin combining
//! diacritics (U+0300..U+036F) removed, lowercase, `ß` to `ss`, whitespace runs collapsed to
//! one space, apostrophes, hyphens, underscores and slashes turned into spaces, en/em dashes
//! turned into commas (clause breaks), zero-width characters dropped, and a space inserted
//! between an ASCII letter and an ASCII digit ("Note7Pro" -> "note 7 pro"). Lexicon terms and
//! catalog names go through the same function, so both sides always agree.
//!
//! Every output byte records the byte offset of the input character it came from, so a
//! match `[s, e)` in the normalised text maps back to a slice of the original text that
//! starts and ends on character boundaries.

use unicode_normalization::char::decompose_compatible;

#[derive(Debug, Clone, Copy)]
struct Seg {
    norm: u32,
    orig: u32,
    linear: bool,
    /// a run of multi-byte characters copied unchanged (Han, Devanagari): output byte `i`
    /// maps to the input offset of the character it belongs to
    copy: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Normalized {
    /// The normalised text, built in place (only ASCII bytes, whole characters and
    /// slices of the input on character boundaries are ever pushed, so it is always valid
    /// UTF-8 without a validation pass).
    pub text: String,
    /// The offset map, run-length encoded: a segment starting at output byte `norm` maps
    /// output byte `i >= norm` to input byte `orig + (i - norm)` when `linear` (ASCII
    /// copied one to one), for a `copy` segment (a run of Han or Devanagari characters
    /// copied unchanged) to the input offset of the character the byte belongs to, else
    /// to `orig` (all bytes produced by one input character).
    segs: smallvec::SmallVec<[Seg; 16]>,
    len: usize,
    pub han: u32,
    pub kana: u32,
    pub deva: u32,
    pub latin: u32,
}

impl Normalized {
    /// Maps a normalised byte span back to the original input: `(start, end)` byte
    /// offsets on character boundaries with `start < end` for a non-empty span.
    pub fn original_span(&self, input: &str, start: usize, end: usize) -> (usize, usize) {
        if start >= end || end > self.len {
            return (0, 0);
        }
        let a = self.orig_of(start);
        let last = self.orig_of(end - 1);
        let b = last + input[last..].chars().next().map_or(0, char::len_utf8);
        (a, b.max(a))
    }

    /// The input byte offset of the character that produced output byte `i`.
    pub fn orig_of(&self, i: usize) -> usize {
        let k = self.segs.partition_point(|s| s.norm as usize <= i);
        match k.checked_sub(1).map(|k| self.segs[k]) {
            Some(s) if s.linear => s.orig as usize + (i - s.norm as usize),
            Some(s) if s.copy => {
                let t = self.text.as_bytes();
                let mut j = i;
                while j > s.norm as usize && t[j] & 0xC0 == 0x80 {
                    j -= 1;
                }
                s.orig as usize + (j - s.norm as usize)
            }
            Some(s) => s.orig as usize,
            None => 0,
        }
    }

    /// Records that output byte `self.text.len()` comes from input byte `at`.
    #[inline]
    fn mark(&mut self, at: u32, linear: bool) {
        let n = self.text.len() as u32;
        if let Some(last) = self.segs.last()
            && last.linear
            && linear
            && last.orig + (n - last.norm) == at
        {
            return;
        }
        self.segs.push(Seg {
            norm: n,
            orig: at,
            linear,
            copy: false,
        });
    }

    /// Records that the output bytes from `self.text.len()` on are a copy of the input
    /// from byte `at`, character by character.
    #[inline]
    fn mark_copy(&mut self, at: u32) {
        self.segs.push(Seg {
            norm: self.text.len() as u32,
            orig: at,
            linear: false,
            copy: true,
        });
    }

    fn last_byte(&self) -> Option<u8> {
        self.text.as_bytes().last().copied()
    }

    fn last_char(&self) -> Option<char> {
        self.text.chars().next_back()
    }

    fn push_byte(&mut self, b: u8, at: u32) {
        debug_assert!(b.is_ascii());
        self.mark(at, true);
        self.text.push(char::from(b));
    }

    fn push_space(&mut self, at: u32) {
        match self.last_byte() {
            Some(b' ') => {}
            _ => self.push_byte(b' ', at),
        }
    }

    /// A word character that follows neither a space nor another word character (it
    /// follows punctuation or a Han character) gets a space first: every word of a spaced
    /// script then starts right after a space, which lets the automaton anchor terms on it.
    fn space_before_word(&mut self, at: u32) {
        if let Some(last) = self.last_char()
            && last != ' '
            && !is_spaced_word_char(last)
        {
            self.push_byte(b' ', at);
        }
    }

    fn push_alnum(&mut self, b: u8, at: u32) {
        match self.last_byte() {
            Some(last)
                if (last.is_ascii_alphabetic() && b.is_ascii_digit())
                    || (last.is_ascii_digit() && b.is_ascii_alphabetic()) =>
            {
                self.push_byte(b' ', at)
            }
            Some(last) if last.is_ascii_alphanumeric() || last == b' ' => {}
            Some(_) => self.space_before_word(at),
            None => {}
        }
        if b.is_ascii_alphabetic() {
            self.latin += 1;
        }
        self.push_byte(b, at);
    }

    fn push_ascii(&mut self, b: u8, at: u32) {
        match b {
            b'A'..=b'Z' => self.push_alnum(b + 32, at),
            b'a'..=b'z' | b'0'..=b'9' => self.push_alnum(b, at),
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b'\'' | b'-' | b'_' | b'/' | b'`' => {
                self.push_space(at)
            }
            0..=0x1f | 0x7f => self.push_space(at),
            _ => self.push_byte(b, at),
        }
    }

    fn push_char(&mut self, c: char, at: u32) {
        if is_spaced_word_char(c) {
            self.space_before_word(at);
        }
        self.mark(at, false);
        self.text.push(c);
    }

    /// Characters with a fixed mapping; returns false for the others.
    fn push_special(&mut self, c: char, at: u32) -> bool {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{02BC}' | '\u{00B4}' | '\u{2032}'
            | '\u{2010}' | '\u{2011}' | '\u{2212}' => self.push_space(at),
            '\u{2013}' | '\u{2014}' | '\u{2015}' => self.push_byte(b',', at),
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {}
            'ß' | 'ẞ' => {
                self.push_alnum(b's', at);
                self.push_alnum(b's', at);
            }
            c if c.is_whitespace() => self.push_space(at),
            _ => return false,
        }
        true
    }

    fn push_other(&mut self, c: char, at: u32) {
        // Latin-1 letters (é, ü, ñ, ç, ...) fold through a small table
        if let Some(i) = (c as u32).checked_sub(0xC0)
            && i < 64
        {
            let folded = latin1_fold()[i as usize];
            if folded != 0 {
                self.push_alnum(folded, at);
                return;
            }
        }
        if self.push_special(c, at) {
            return;
        }
        match c as u32 {
            0x0900..=0x097F => self.deva += 1,
            0x3040..=0x30FF => self.kana += 1,
            0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF => self.han += 1,
            _ => {}
        }
        decompose_compatible(c, |d| {
            if is_latin_diacritic(d) {
                return;
            }
            if d.is_ascii() {
                self.push_ascii(d as u8, at);
            } else if self.push_special(d, at) {
            } else if d.is_lowercase() || !d.is_alphabetic() {
                self.push_char(d, at);
            } else {
                for l in d.to_lowercase() {
                    if l.is_ascii() {
                        self.push_ascii(l as u8, at);
                    } else if !is_latin_diacritic(l) && !self.push_special(l, at) {
                        self.push_char(l, at);
                    }
                }
            }
        });
    }
}

/// For U+00C0..U+00FF: the ASCII letter the character folds to (NFKD, diacritics removed,
/// lowercase), or 0 when it does not fold to one ASCII letter.
fn latin1_fold() -> &'static [u8; 64] {
    static TABLE: std::sync::OnceLock<[u8; 64]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u8; 64];
        for (i, slot) in t.iter_mut().enumerate() {
            let Some(c) = char::from_u32(0xC0 + i as u32) else {
                continue;
            };
            let mut out = Vec::new();
            decompose_compatible(c, |d| {
                if !is_latin_diacritic(d) {
                    out.extend(d.to_lowercase());
                }
            });
            if let [l] = out[..]
                && l.is_ascii_alphabetic()
            {
                *slot = l as u8;
            }
        }
        t
    })
}

fn is_latin_diacritic(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Byte classes of the ASCII fast path: which bytes are copied as they are (lowercased)
/// given the byte before them.
const C_LETTER: u8 = 0;
const C_DIGIT: u8 = 1;
const C_SPACE: u8 = 2;
/// punctuation copied unchanged whatever precedes it
const C_PUNCT: u8 = 3;
/// anything else (mapped bytes, controls, non-ASCII): never copied by the fast path
const C_OTHER: u8 = 4;

const fn byte_classes() -> [u8; 256] {
    let mut t = [C_OTHER; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            C_LETTER
        } else if c.is_ascii_digit() {
            C_DIGIT
        } else if c == b' ' {
            C_SPACE
        } else if matches!(c, b'\t' | b'\n' | b'\r' | b'\'' | b'-' | b'_' | b'/' | b'`')
            || c < 0x20
            || c == 0x7f
        {
            C_OTHER
        } else {
            C_PUNCT
        };
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = byte_classes();

/// `COPY[prev][cur]`: a byte of class `cur` after an output byte of class `prev` is copied
/// as it is (lowercased), exactly what [`Normalized::push_ascii`] would do: a letter after
/// a letter or a space, a digit after a digit or a space, a space after anything but a
/// space, punctuation always. Everything else takes the general path.
const COPY: [[bool; 5]; 5] = {
    let mut t = [[false; 5]; 5];
    let mut p = 0;
    while p < 5 {
        t[p][C_LETTER as usize] = p == C_LETTER as usize || p == C_SPACE as usize;
        t[p][C_DIGIT as usize] = p == C_DIGIT as usize || p == C_SPACE as usize;
        t[p][C_SPACE as usize] = p != C_SPACE as usize;
        t[p][C_PUNCT as usize] = true;
        p += 1;
    }
    t
};

/// Normalises `input` (see the module docs).
pub(crate) fn normalize(input: &str) -> Normalized {
    let mut n = Normalized::default();
    normalize_into(&mut n, input);
    n
}

/// Normalises `input` into `n`, reusing its buffers (see the module docs).
pub(crate) fn normalize_into(n: &mut Normalized, input: &str) {
    n.text.clear();
    n.text.reserve(input.len() + input.len() / 8 + 4);
    n.segs.clear();
    n.len = 0;
    n.han = 0;
    n.kana = 0;
    n.deva = 0;
    n.latin = 0;
    // a leading space: every word, the first included, follows a space
    n.push_byte(b' ', 0);
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            // fast path: the longest run of ASCII bytes that the general path would copy
            // one to one (lowercased) is copied at once
            let last = n.text.as_bytes()[n.text.len() - 1];
            // (the class of a byte does not depend on the previous one, so the look-ups
            // pipeline; a combined next-state table made every byte wait for the last)
            let mut prev = usize::from(CLASS[usize::from(last)]);
            let mut j = i;
            let mut letters = 0u32;
            while j < bytes.len() {
                let c = CLASS[usize::from(bytes[j])];
                if !COPY[prev][usize::from(c)] {
                    break;
                }
                letters += u32::from(c == C_LETTER);
                prev = usize::from(c);
                j += 1;
            }
            if j > i {
                n.mark(i as u32, true);
                let start = n.text.len();
                n.text.push_str(&input[i..j]);
                n.text[start..].make_ascii_lowercase();
                n.latin += letters;
                i = j;
            } else {
                n.push_ascii(b, i as u32);
                i += 1;
            }
        } else if let Some(c) = input[i..].chars().next() {
            let cp = c as u32;
            let len = c.len_utf8();
            if (0x4E00..=0x9FFF).contains(&cp) {
                // unified Han ideographs have no decomposition and no case: the whole run
                // is copied (U+4E00..U+9FFF are the 3-byte sequences E4 B8.. to E9 ..)
                let mut j = i;
                while j + 2 < bytes.len()
                    && (matches!(bytes[j], 0xE5..=0xE9)
                        || (bytes[j] == 0xE4 && bytes[j + 1] >= 0xB8))
                {
                    j += 3;
                    n.han += 1;
                }
                n.mark_copy(i as u32);
                n.text.push_str(&input[i..j]);
                i = j;
                continue;
            } else if (0x0900..=0x097F).contains(&cp)
                && !matches!(cp, 0x0929 | 0x0931 | 0x0934 | 0x0958..=0x095F)
            {
                // Devanagari without a decomposition: copy (a space first after a
                // non-word character)
                if n.text.as_bytes().last().is_some_and(|b| *b < 0x80) {
                    n.space_before_word(i as u32);
                } else if !n.last_char().is_some_and(is_spaced_word_char) {
                    n.push_byte(b' ', i as u32);
                }
                // the run of such characters is copied; a danda ends it (the word after
                // it gets its space above)
                let mut j = i;
                while let Some(cp) = devanagari_copyable(&bytes[j..]) {
                    j += 3;
                    n.deva += 1;
                    if cp == 0x0964 || cp == 0x0965 {
                        break;
                    }
                }
                n.mark_copy(i as u32);
                n.text.push_str(&input[i..j]);
                i = j;
                continue;
            } else {
                n.push_other(c, i as u32);
            }
            i += len;
        } else {
            break;
        }
    }
    n.len = n.text.len();
}

/// The code point of the Devanagari character at the start of `b` when it is copied
/// unchanged (U+0900..U+097F without a decomposition: not U+0929, U+0931, U+0934,
/// U+0958..U+095F).
#[inline]
fn devanagari_copyable(b: &[u8]) -> Option<u32> {
    match b {
        [0xE0, b1 @ 0xA4..=0xA5, b2, ..] => {
            let cp = 0x0900 + ((u32::from(*b1) - 0xA4) << 6) + (u32::from(*b2) & 0x3F);
            (!matches!(cp, 0x0929 | 0x0931 | 0x0934 | 0x0958..=0x095F)).then_some(cp)
        }
        _ => None,
    }
}

/// Normalises a lexicon term or catalog name: like [`normalize`], trimmed.
pub(crate) fn normalize_term(term: &str) -> String {
    normalize(term).text.trim().to_string()
}

/// A character that belongs to a word in a script that separates words with spaces.
/// Han and kana are not: CJK terms match without boundary checks.
pub(crate) fn is_spaced_word_char(c: char) -> bool {
    if is_cjk(c) {
        return false;
    }
    if ('\u{0900}'..='\u{097F}').contains(&c) {
        return c != '\u{0964}' && c != '\u{0965}';
    }
    c.is_alphanumeric()
}

pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_case_accents_and_width() {
        assert_eq!(
            normalize("Ça a PRIS FEU à l’école").text,
            " ca a pris feu a l ecole"
        );
        assert_eq!(normalize("ＦＩＲＥ Straße").text, " fire strasse");
        assert_eq!(normalize("Überhitzt!(Rauch)").text, " uberhitzt!( rauch)");
    }

    #[test]
    fn splits_letters_from_digits_and_hyphens() {
        assert_eq!(normalize("Note7Pro").text, " note 7 pro");
        assert_eq!(normalize("note-7 pro").text, " note 7 pro");
        assert_eq!(normalize("PB-20").text, " pb 20");
    }

    #[test]
    fn collapses_whitespace_and_drops_zero_width() {
        assert_eq!(normalize("  no \n\t smoke\u{200B}s ").text, " no smokes ");
    }

    #[test]
    fn keeps_devanagari_and_han() {
        assert_eq!(normalize("फट गया").text, " फट गया");
        assert_eq!(normalize("爆炸了，冒烟note7").text, " 爆炸了,冒烟 note 7");
        let n = normalize("爆炸 फट");
        assert_eq!((n.han, n.deva), (2, 2));
    }

    #[test]
    fn maps_spans_back_to_original_characters() {
        let input = "L’ÉCRAN a Fondu";
        let n = normalize(input);
        let s = n.text.find("ecran").unwrap();
        let (a, b) = n.original_span(input, s, s + "ecran".len());
        assert_eq!(&input[a..b], "ÉCRAN");
        let s = n.text.find("fondu").unwrap();
        let (a, b) = n.original_span(input, s, s + 5);
        assert_eq!(&input[a..b], "Fondu");
    }

    #[test]
    fn copied_han_and_devanagari_runs_map_each_character_back() {
        for input in ["手机爆炸了，冒烟note7起火", "फट गया।धुआं निकला", "x爆炸फट।ab"]
        {
            let n = normalize(input);
            for (i, c) in n.text.char_indices() {
                if c == ' ' {
                    continue;
                }
                let (a, b) = n.original_span(input, i, i + c.len_utf8());
                let orig = &input[a..b];
                assert!(
                    orig.chars().count() == 1 && (c.is_ascii() || orig == c.to_string()),
                    "{input}: {c:?} mapped to {orig:?}"
                );
            }
        }
        let n = normalize("फट गया।धुआं");
        assert_eq!(n.text, " फट गया। धुआं");
        assert_eq!(n.deva, 10);
    }

    #[test]
    fn boundary_chars_by_script() {
        assert!(is_spaced_word_char('a'));
        assert!(is_spaced_word_char('ि'));
        assert!(!is_spaced_word_char('।'));
        assert!(!is_spaced_word_char('爆'));
        assert!(!is_spaced_word_char(' '));
    }

    proptest! {
        #[test]
        fn every_normalised_span_maps_to_an_original_slice_on_char_boundaries(
            input in "\\PC{0,40}", a in 0usize..200, len in 1usize..20
        ) {
            let n = normalize(&input);
            prop_assert_eq!(n.text.len(), n.len);
            let t = n.text.len();
            if t > 0 {
                let mut s = a % t;
                while !n.text.is_char_boundary(s) { s -= 1; }
                let mut e = (s + len).min(t);
                while !n.text.is_char_boundary(e) { e += 1; }
                if s < e {
                    let (oa, ob) = n.original_span(&input, s, e);
                    prop_assert!(oa <= ob);
                    prop_assert!(input.is_char_boundary(oa) && input.is_char_boundary(ob));
                    prop_assert!(ob <= input.len());
                }
            }
            // the map never goes backwards and always lands on a character boundary
            let origs: Vec<usize> = (0..n.len).map(|i| n.orig_of(i)).collect();
            prop_assert!(origs.windows(2).all(|w| w[0] <= w[1]));
            prop_assert!(origs.iter().all(|o| input.is_char_boundary(*o)));
        }

        #[test]
        fn normalising_twice_changes_nothing(input in "\\PC{0,40}") {
            let once = normalize(&input).text;
            let twice = normalize(&once).text;
            prop_assert_eq!(once, twice);
        }
    }
}
