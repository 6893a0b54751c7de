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
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Normalized {
    pub text: String,
    buf: Vec<u8>,
    /// The offset map, run-length encoded: a segment starting at output byte `norm` maps
    /// output byte `i >= norm` to input byte `orig + (i - norm)` when `linear` (ASCII
    /// copied one to one), else to `orig` (all bytes produced by one input character).
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
            Some(s) => s.orig as usize,
            None => 0,
        }
    }

    /// Records that output byte `self.buf.len()` comes from input byte `at`.
    #[inline]
    fn mark(&mut self, at: u32, linear: bool) {
        let n = self.buf.len() as u32;
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
        });
    }

    fn last_byte(&self) -> Option<u8> {
        self.buf.last().copied()
    }

    fn last_char(&self) -> Option<char> {
        let n = self.buf.len();
        let mut s = n.checked_sub(1)?;
        while s > 0 && self.buf[s] & 0xC0 == 0x80 && n - s < 4 {
            s -= 1;
        }
        std::str::from_utf8(&self.buf[s..])
            .ok()?
            .chars()
            .next_back()
    }

    fn push_byte(&mut self, b: u8, at: u32) {
        debug_assert!(b.is_ascii());
        self.mark(at, true);
        self.buf.push(b);
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
        let mut tmp = [0u8; 4];
        let s = c.encode_utf8(&mut tmp);
        self.mark(at, false);
        self.buf.extend_from_slice(s.as_bytes());
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

/// Normalises `input` (see the module docs).
pub(crate) fn normalize(input: &str) -> Normalized {
    let mut n = Normalized {
        buf: Vec::with_capacity(input.len() + input.len() / 8 + 4),
        segs: smallvec::SmallVec::new(),
        ..Normalized::default()
    };
    // a leading space: every word, the first included, follows a space
    n.push_byte(b' ', 0);
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            // fast path: a run of letters after a letter or a space is copied, lowercased
            let last = n.buf[n.buf.len() - 1];
            if b.is_ascii_alphabetic() && (last.is_ascii_alphabetic() || last == b' ') {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_alphabetic() {
                    j += 1;
                }
                n.mark(i as u32, true);
                n.buf.extend(bytes[i..j].iter().map(u8::to_ascii_lowercase));
                n.latin += (j - i) as u32;
                i = j;
            } else if b == b' ' && last != b' ' {
                n.mark(i as u32, true);
                n.buf.push(b' ');
                i += 1;
            } else {
                n.push_ascii(b, i as u32);
                i += 1;
            }
        } else if let Some(c) = input[i..].chars().next() {
            let cp = c as u32;
            let len = c.len_utf8();
            if (0x4E00..=0x9FFF).contains(&cp) {
                // unified Han ideographs have no decomposition and no case: copy
                n.han += 1;
                n.mark(i as u32, false);
                n.buf.extend_from_slice(&bytes[i..i + len]);
            } else if (0x0900..=0x097F).contains(&cp)
                && !matches!(cp, 0x0929 | 0x0931 | 0x0934 | 0x0958..=0x095F)
            {
                // Devanagari without a decomposition: copy (a space first after a
                // non-word character)
                n.deva += 1;
                if n.buf.last().is_some_and(|b| *b < 0x80) {
                    n.space_before_word(i as u32);
                } else if !n.last_char().is_some_and(is_spaced_word_char) {
                    n.push_byte(b' ', i as u32);
                }
                n.mark(i as u32, false);
                n.buf.extend_from_slice(&bytes[i..i + len]);
            } else {
                n.push_other(c, i as u32);
            }
            i += len;
        } else {
            break;
        }
    }
    n.len = n.buf.len();
    let buf = std::mem::take(&mut n.buf);
    n.text = String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    n
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
