//! Accent- and case-insensitive phrase search that reports byte spans in the ORIGINAL text.
//!
//! Text and patterns are folded the same way: canonical decomposition with combining marks
//! dropped (é -> e, ü -> u), lowercase, ß -> ss, æ -> ae, œ -> oe, typographic apostrophes
//! -> `'`, dashes -> `-`, and every run of whitespace (including no-break spaces) -> one
//! space. Every folded byte remembers the original character it came from, so a match in
//! the folded text maps back to an exact byte range of the input.
//!
//! Pattern syntax (kept deliberately tiny): a phrase of words; `{a,b,c}` expands to one
//! phrase per alternative (several groups multiply); a trailing `*` makes the last word a
//! prefix (the match then extends to the end of that word in the text). Matches must start
//! and end on word boundaries (a letter or digit on neither side).

use aho_corasick::{AhoCorasick, MatchKind};
use std::ops::Range;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// A text folded for matching, with a map back to the original byte offsets.
pub(crate) struct Folded {
    pub text: String,
    /// For each byte of `text`, the byte range in the original of the char it came from.
    origin: Vec<(usize, usize)>,
}

fn fold_char(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        'œ' | 'Œ' => out.push_str("oe"),
        'ø' | 'Ø' => out.push('o'),
        'ł' | 'Ł' => out.push('l'),
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{00B4}' | '`' => out.push('\''),
        '\u{2010}'..='\u{2015}' => out.push('-'),
        _ => decompose_canonical(c, |d| {
            if !is_combining_mark(d) {
                for l in d.to_lowercase() {
                    out.push(l);
                }
            }
        }),
    }
}

impl Folded {
    pub fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        let mut last_space = false;
        for (start, c) in original.char_indices() {
            let end = start + c.len_utf8();
            if c.is_whitespace() {
                if !last_space {
                    text.push(' ');
                    origin.push((start, end));
                    last_space = true;
                } else if let Some(last) = origin.last_mut() {
                    // the collapsed space covers the whole whitespace run
                    last.1 = end;
                }
                continue;
            }
            last_space = false;
            let before = text.len();
            fold_char(c, &mut text);
            origin.extend(std::iter::repeat_n((start, end), text.len() - before));
        }
        Folded { text, origin }
    }

    /// The original byte range covered by the folded byte range `r` (non-empty).
    pub fn original_span(&self, r: Range<usize>) -> Range<usize> {
        let start = self.origin[r.start].0;
        let end = self.origin[r.end - 1].1;
        start..end
    }

    fn char_before(&self, i: usize) -> Option<char> {
        self.text[..i].chars().next_back()
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.text[i..].chars().next()
    }

    /// The end of the word that continues at folded byte `i`.
    fn word_end(&self, mut i: usize) -> usize {
        while let Some(c) = self.char_at(i) {
            if !c.is_alphanumeric() {
                break;
            }
            i += c.len_utf8();
        }
        i
    }
}

/// Folds a pattern phrase the same way as the text (no offsets needed).
pub(crate) fn fold(s: &str) -> String {
    Folded::new(s.trim()).text
}

/// Expands `{a,b}` groups: `no {x,y} z` -> [`no x z`, `no y z`].
pub(crate) fn expand(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let Some(close_rel) = pattern[open..].find('}') else {
        return vec![pattern.to_string()];
    };
    let close = open + close_rel;
    let head = &pattern[..open];
    let tail = &pattern[close + 1..];
    pattern[open + 1..close]
        .split(',')
        .flat_map(|alt| expand(&format!("{head}{}{tail}", alt.trim())))
        .collect()
}

/// One compiled pattern.
#[derive(Debug, Clone)]
struct Pat {
    /// Index of the source pattern (before brace expansion) in the list given to `new`.
    source: usize,
    prefix: bool,
}

/// A set of phrases searched together.
pub(crate) struct PhraseSet {
    ac: AhoCorasick,
    pats: Vec<Pat>,
}

/// One phrase found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Index of the pattern (as given to [`PhraseSet::new`]).
    pub pattern: usize,
    /// Byte span in the original text.
    pub span: Range<usize>,
    /// Byte span in the folded text.
    pub folded: Range<usize>,
}

impl PhraseSet {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> PhraseSet {
        let mut needles = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            for alt in expand(p.as_ref()) {
                match alt.strip_suffix('*') {
                    Some(body) => needles.push((fold(body), i, true)),
                    None => needles.push((fold(&alt), i, false)),
                }
            }
        }
        PhraseSet::build(needles)
    }

    /// Phrases taken literally (no `{}` expansion, no `*` prefix): for values from the
    /// facts (brand, model, identifiers), which may contain those characters.
    pub fn literals<S: AsRef<str>>(phrases: &[S]) -> PhraseSet {
        PhraseSet::build(
            phrases
                .iter()
                .enumerate()
                .map(|(i, p)| (fold(p.as_ref()), i, false))
                .collect(),
        )
    }

    fn build(needles: Vec<(String, usize, bool)>) -> PhraseSet {
        let needles: Vec<(String, usize, bool)> = needles
            .into_iter()
            .filter(|(n, _, _)| !n.is_empty())
            .collect();
        let pats = needles
            .iter()
            .map(|(_, source, prefix)| Pat {
                source: *source,
                prefix: *prefix,
            })
            .collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(needles.iter().map(|(n, _, _)| n))
            // the needles are short phrases; the builder only fails past size limits far
            // beyond them, and then nothing matches rather than panicking
            .unwrap_or_else(|_| AhoCorasick::new(Vec::<String>::new()).expect("empty automaton"));
        PhraseSet { ac, pats }
    }

    /// All matches on word boundaries, leftmost-longest, non-overlapping.
    pub fn find(&self, text: &Folded) -> Vec<Hit> {
        let mut all: Vec<(usize, usize, usize)> = Vec::new();
        for m in self.ac.find_overlapping_iter(&text.text) {
            let pat = &self.pats[m.pattern().as_usize()];
            let (s, mut e) = (m.start(), m.end());
            if text.char_before(s).is_some_and(char::is_alphanumeric) {
                continue;
            }
            if pat.prefix {
                e = text.word_end(e);
            } else if text.char_at(e).is_some_and(char::is_alphanumeric) {
                continue;
            }
            all.push((s, e, pat.source));
        }
        // leftmost first, then longest
        all.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut out = Vec::new();
        let mut covered = 0usize;
        for (s, e, source) in all {
            if s < covered {
                continue;
            }
            covered = e;
            out.push(Hit {
                pattern: source,
                span: text.original_span(s..e),
                folded: s..e,
            });
        }
        out
    }

    pub fn is_found_in(&self, text: &Folded) -> bool {
        !self.find(text).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_case_and_spacing_are_folded_but_spans_stay_in_the_original() {
        let text = "Ceci est un RAPPEL  VOLONTAIRE, à titre\u{a0}PRÉVENTIF.";
        let set = PhraseSet::new(&["volontaire*", "à titre préventif"]);
        let hits = set.find(&Folded::new(text));
        assert_eq!(hits.len(), 2);
        assert_eq!(&text[hits[0].span.clone()], "VOLONTAIRE");
        assert_eq!(&text[hits[1].span.clone()], "à titre\u{a0}PRÉVENTIF");
    }

    #[test]
    fn matches_respect_word_boundaries() {
        let set = PhraseSet::new(&["rare"]);
        assert!(set.find(&Folded::new("a rarely seen rarebit")).is_empty());
        assert_eq!(set.find(&Folded::new("(rare)")).len(), 1);
    }

    #[test]
    fn a_prefix_pattern_extends_to_the_end_of_the_word() {
        let text = "Die freiwilligen Maßnahmen";
        let hits = PhraseSet::new(&["freiwillig*"]).find(&Folded::new(text));
        assert_eq!(&text[hits[0].span.clone()], "freiwilligen");
    }

    #[test]
    fn the_longest_of_overlapping_phrases_wins() {
        let text = "There are no reported injuries.";
        let set = PhraseSet::new(&["no reported injur*", "there are no reported injuries"]);
        let hits = set.find(&Folded::new(text));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].pattern, 1);
        assert_eq!(
            &text[hits[0].span.clone()],
            "There are no reported injuries"
        );
    }

    #[test]
    fn literal_phrases_keep_braces_and_stars() {
        let text = "model X*1 and {B}";
        let hits = PhraseSet::literals(&["x*1", "{b}"]).find(&Folded::new(text));
        assert_eq!(hits.len(), 2);
        assert_eq!(&text[hits[0].span.clone()], "X*1");
    }

    #[test]
    fn braces_expand_to_every_alternative() {
        assert_eq!(
            expand("no {a,b} {c,d}"),
            vec!["no a c", "no a d", "no b c", "no b d"]
        );
    }

    #[test]
    fn sharp_s_and_typographic_apostrophes_fold_like_their_ascii_forms() {
        let text = "als Vorsichtsmaßnahme; aucun blessé n’a été signalé";
        let set = PhraseSet::new(&["vorsichtsmassnahme", "aucun blesse n'a ete signale"]);
        let hits = set.find(&Folded::new(text));
        assert_eq!(&text[hits[0].span.clone()], "Vorsichtsmaßnahme");
        assert_eq!(&text[hits[1].span.clone()], "aucun blessé n’a été signalé");
    }
}
