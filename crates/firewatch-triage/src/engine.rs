//! The triage engine: one Aho-Corasick automaton over every lexicon term, cue and catalog
//! name, run once over the normalised text; everything else is reasoning over the hits.

use crate::catalog::{Catalog, Product};
use crate::lexicon::{self, LANGUAGES, LexiconError, SOURCES};
use crate::normalize::{
    Normalized, is_spaced_word_char, normalize, normalize_into, normalize_term,
};
use crate::result::{
    Evidence, HazardFinding, InjuryFinding, InjuryKind, ProductMatch, TriageResult,
};
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};
use firewatch_domain::{HazardCode, InjuryLevel, Modality, default_severity};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::HashMap;

/// Per-thread buffers reused from one narrative to the next (the normalised text, its
/// offset map and the automaton hits), so triage allocates only what it returns.
#[derive(Default)]
struct Scratch {
    norm: Normalized,
    hits: Vec<Hit>,
}

/// Buffers grown by an unusually long narrative are dropped rather than kept per thread.
const SCRATCH_KEEP_BYTES: usize = 1 << 16;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

const ANY: u8 = u8::MAX;
const EN: u8 = 0;
const DE: u8 = 3;
const HI: u8 = 6;
const ZH: u8 = 7;

/// Words allowed between a negation cue and the hazard it negates.
const NEG_WINDOW: usize = 3;
/// Han characters allowed between a Chinese negation cue and the hazard.
const NEG_WINDOW_CJK: usize = 4;
/// Words allowed between a hazard and a negation that follows it (hi, de, ...).
const NEG_AFTER_WINDOW: usize = 2;
/// Words allowed between a hedge cue and the hazard it hedges (same clause).
const HEDGE_WINDOW: usize = 8;
const HEDGE_AFTER_WINDOW: usize = 3;
/// Words allowed between "already" and the hazard state it asserts.
const REALIS_WINDOW: usize = 2;
/// Words around a hazard in which a figurative-context word ("sales") makes it figurative.
const FIG_BEFORE: usize = 6;
const FIG_AFTER: usize = 3;
/// Words after a burn/damage verb in which its object (a person or belongings) is looked for.
const OBJECT_WINDOW: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Hazard(HazardCode),
    Potential(HazardCode),
    Burn,
    Damage,
    Neg,
    NegAfter,
    Hedge,
    HedgeAfter,
    Realis,
    Breaker,
    FigCtx,
    Absorb,
    Person,
    Property,
    FirstPerson,
    OtherStory,
    Register,
    Stop,
    /// product index, needs its brand next to it (short model names such as "i40")
    Model(u32, bool),
    Brand(u32),
}

#[derive(Clone, Copy, Debug)]
struct Info {
    lang: u8,
    role: Role,
}

#[derive(Default)]
struct PatternSet {
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    prefix: Vec<bool>,
    infos: Vec<Vec<Info>>,
}

impl PatternSet {
    fn add(&mut self, raw: &str, lang: u8, role: Role) {
        let (raw, prefix) = match raw.strip_suffix('*') {
            Some(r) => (r, true),
            None => (raw, false),
        };
        let norm = normalize_term(raw);
        self.add_normalized(norm, prefix, lang, role);
    }

    fn add_normalized(&mut self, norm: String, prefix: bool, lang: u8, role: Role) {
        if norm.is_empty() {
            return;
        }
        let id = match self.index.get(&norm) {
            Some(&id) => id,
            None => {
                let id = self.patterns.len();
                self.index.insert(norm.clone(), id);
                self.patterns.push(norm);
                self.prefix.push(false);
                self.infos.push(Vec::new());
                id
            }
        };
        self.prefix[id] |= prefix;
        let infos = &mut self.infos[id];
        if !infos.iter().any(|i| i.lang == lang && i.role == role) {
            infos.push(Info { lang, role });
        }
    }
}

struct FuzzyKey {
    compact: Vec<u8>,
    digits: Vec<u8>,
    target: FuzzyTarget,
}

#[derive(Clone, Copy)]
enum FuzzyTarget {
    Product(u32),
}

/// Keys bucketed by (first byte, length) and (second byte, length) so that every key within
/// one edit of a candidate is found with a few array look-ups.
struct FuzzyIndex {
    keys: Vec<FuzzyKey>,
    by_first: Vec<Vec<u32>>,
    by_second: Vec<Vec<u32>>,
    /// one bit per bucket: is it non-empty (a 4 KB cache-friendly pre-check)
    first_bits: Vec<u64>,
    second_bits: Vec<u64>,
    max_len: usize,
}

const FUZZY_MIN_LEN: usize = 6;
const FUZZY_MAX_LEN: usize = 63;

fn bucket(b: u8, len: usize) -> usize {
    usize::from(b) * (FUZZY_MAX_LEN + 2) + len.min(FUZZY_MAX_LEN + 1)
}

impl FuzzyIndex {
    fn new(keys: Vec<FuzzyKey>) -> FuzzyIndex {
        let n = 256 * (FUZZY_MAX_LEN + 2);
        let mut by_first: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut by_second: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut max_len = 0;
        let keys: Vec<FuzzyKey> = keys
            .into_iter()
            .filter(|k| k.compact.len() <= FUZZY_MAX_LEN)
            .collect();
        for (i, k) in keys.iter().enumerate() {
            by_first[bucket(k.compact[0], k.compact.len())].push(i as u32);
            by_second[bucket(k.compact[1], k.compact.len())].push(i as u32);
            max_len = max_len.max(k.compact.len());
        }
        let bits = |v: &Vec<Vec<u32>>| {
            let mut b = vec![0u64; v.len().div_ceil(64)];
            for (i, x) in v.iter().enumerate() {
                if !x.is_empty() {
                    b[i / 64] |= 1 << (i % 64);
                }
            }
            b
        };
        let first_bits = bits(&by_first);
        let second_bits = bits(&by_second);
        FuzzyIndex {
            keys,
            by_first,
            by_second,
            first_bits,
            second_bits,
            max_len,
        }
    }

    /// Cheap pre-check on the first two bytes and the length, before building a candidate.
    fn may_match(&self, c0: u8, c1: u8, n: usize) -> bool {
        if n < FUZZY_MIN_LEN - 1 || n > self.max_len + 1 {
            return false;
        }
        let bit = |v: &[u64], i: usize| v[i / 64] & (1 << (i % 64)) != 0;
        let f = |b: u8, len: usize| bit(&self.first_bits, bucket(b, len));
        let g = |b: u8, len: usize| bit(&self.second_bits, bucket(b, len));
        f(c0, n - 1)
            || f(c0, n)
            || f(c0, n + 1)
            || g(c1, n)
            || g(c0, n + 1)
            || f(c1, n - 1)
            || f(c1, n)
    }

    fn lookup(&self, cand: &[u8], out: &mut Vec<u32>) {
        out.clear();
        let n = cand.len();
        if n < FUZZY_MIN_LEN - 1 || n > self.max_len + 1 || self.keys.is_empty() {
            return;
        }
        let (c0, c1) = (cand[0], cand[1]);
        let probes = [
            (&self.by_first, c0, n - 1),
            (&self.by_first, c0, n),
            (&self.by_first, c0, n + 1),
            (&self.by_second, c1, n),
            (&self.by_second, c0, n + 1),
            (&self.by_first, c1, n - 1),
            (&self.by_first, c1, n),
        ];
        for (table, b, len) in probes {
            for &k in &table[bucket(b, len)] {
                let key = &self.keys[k as usize];
                if !out.contains(&k)
                    && cand
                        .iter()
                        .filter(|c| c.is_ascii_digit())
                        .eq(key.digits.iter())
                    && osa_within_one(cand, &key.compact)
                {
                    out.push(k);
                }
            }
        }
    }
}

/// Optimal string alignment distance <= 1 (one substitution, insertion, deletion or
/// transposition of adjacent bytes).
fn osa_within_one(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if la == lb {
        if a[p + 1..] == b[p + 1..] {
            return true;
        }
        return p + 1 < la && a[p] == b[p + 1] && a[p + 1] == b[p] && a[p + 2..] == b[p + 2..];
    }
    if la > lb {
        a[p + 1..] == b[p..]
    } else {
        a[p..] == b[p + 1..]
    }
}

struct ProductEntry {
    product: Product,
    brand: u32,
}

/// The triage engine. Build it once per catalog (it compiles the automaton) and share it:
/// it is `Send + Sync` and `triage` takes `&self`.
pub struct Triager {
    ac: AhoCorasick,
    /// per pattern, everything the scan, detection and classification read, in one
    /// 12-byte record (one cache miss per hit instead of five)
    meta: Vec<PatMeta>,
    infos: Vec<Info>,
    patterns: Vec<String>,
    neg_after_langs: [bool; 9],
    products: Vec<ProductEntry>,
    fuzzy: FuzzyIndex,
    /// per brand id: its product when the catalog has exactly one product of that brand
    brand_single: Vec<Option<u32>>,
}

#[derive(Clone, Copy, Debug, Default)]
struct PatMeta {
    /// `infos[info_start..info_start + info_len]` are the pattern's roles
    info_start: u32,
    /// bit `l` set when it has a role in language `l` (bit 15: any language)
    lang: u16,
    /// bit `l` set when it has a non-stopword role in language `l`
    content: u16,
    info_len: u16,
    /// stored with the word-start sentinel (the hit starts one byte later)
    need_left: bool,
    /// must end at a word boundary
    need_right: bool,
}

#[derive(Clone, Copy, Debug)]
struct Hit {
    s: u32,
    e: u32,
    p: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HKind {
    Plain,
    Burn,
    Damage,
}

#[derive(Clone, Copy, Debug)]
struct HazardHit {
    s: usize,
    e: usize,
    code: HazardCode,
    kind: HKind,
    fixed_potential: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Active,
    Negated,
    Figurative,
}

#[derive(Clone, Copy, Debug)]
struct Event {
    code: HazardCode,
    modality: Modality,
    state: State,
    s: usize,
    e: usize,
}

type Span = (usize, usize);
/// Per-narrative lists stay on the stack unless a text is unusually rich in cues.
type Spans = SmallVec<[Span; 4]>;

#[derive(Default)]
struct Cues {
    neg: Spans,
    neg_after: Spans,
    hedge: Spans,
    hedge_after: Spans,
    realis: Spans,
    breaker: Spans,
    fig: Spans,
    person: Spans,
    property: Spans,
    first_person: Spans,
    other_story: Spans,
    register: bool,
}

impl Triager {
    /// Builds the engine from the embedded lexicons and a catalog.
    pub fn new(catalog: Catalog) -> Triager {
        // The embedded lexicons are checked by this crate's tests; a failure here is a
        // build-time data bug, never user input.
        Self::try_new(catalog).expect("embedded lexicons are valid")
    }

    /// Like [`Triager::new`], reporting lexicon errors instead of panicking.
    pub fn try_new(catalog: Catalog) -> Result<Triager, LexiconError> {
        let mut set = PatternSet::default();
        let mut neg_after_langs = [false; 9];
        for (li, (lang, src)) in LANGUAGES.iter().zip(SOURCES).enumerate() {
            let lang_id = li as u8;
            let lex = lexicon::parse(lang, src)?;
            for (code, terms) in &lex.hazards {
                for t in terms {
                    set.add(t, lang_id, Role::Hazard(*code));
                }
            }
            for (code, terms) in &lex.potential {
                for t in terms {
                    set.add(t, lang_id, Role::Potential(*code));
                }
            }
            for t in &lex.file.burn.verbs {
                set.add(t, lang_id, Role::Burn);
            }
            for t in &lex.file.damage.verbs {
                set.add(t, lang_id, Role::Damage);
            }
            let c = &lex.file.cue;
            neg_after_langs[li] = !c.negation_after.is_empty();
            let groups: [(&Vec<String>, Role); 15] = [
                (&c.realis, Role::Realis),
                (&c.negation, Role::Neg),
                (&c.negation_after, Role::NegAfter),
                (&c.hedge, Role::Hedge),
                (&c.hedge_after, Role::HedgeAfter),
                (&c.breaker, Role::Breaker),
                (&c.figurative, Role::Absorb),
                (&c.figurative_context, Role::FigCtx),
                (&c.neutral, Role::Absorb),
                (&c.person, Role::Person),
                (&c.property, Role::Property),
                (&c.first_person, Role::FirstPerson),
                (&c.other_story, Role::OtherStory),
                (&c.register, Role::Register),
                (&c.stopwords, Role::Stop),
            ];
            for (terms, role) in groups {
                for t in terms {
                    set.add(t, lang_id, role);
                }
            }
        }

        // catalog names
        let mut brand_ids: HashMap<String, u32> = HashMap::new();
        let mut products = Vec::new();
        let mut fuzzy_keys = Vec::new();
        for (pi, p) in catalog.products().iter().enumerate() {
            let bnorm = normalize_term(&p.brand);
            let next = brand_ids.len() as u32;
            let bid = *brand_ids.entry(bnorm.clone()).or_insert(next);
            if bid == next {
                for v in spacing_variants(&bnorm) {
                    set.add_normalized(v, false, ANY, Role::Brand(bid));
                }
            }
            for form in std::iter::once(&p.model).chain(p.aliases.iter()) {
                let norm = normalize_term(form);
                let compact_len = norm.bytes().filter(|b| *b != b' ').count();
                let short = compact_len <= 3;
                for v in spacing_variants(&norm) {
                    set.add_normalized(v, false, ANY, Role::Model(pi as u32, short));
                }
                push_fuzzy(&mut fuzzy_keys, &norm, FuzzyTarget::Product(pi as u32));
            }
            products.push(ProductEntry {
                product: p.clone(),
                brand: bid,
            });
        }

        let mut brand_single: Vec<Option<u32>> = vec![None; brand_ids.len()];
        let mut brand_count = vec![0usize; brand_ids.len()];
        for (pi, p) in products.iter().enumerate() {
            brand_count[p.brand as usize] += 1;
            brand_single[p.brand as usize] = Some(pi as u32);
        }
        for (single, count) in brand_single.iter_mut().zip(&brand_count) {
            if *count != 1 {
                *single = None;
            }
        }
        let mut meta = vec![PatMeta::default(); set.patterns.len()];
        for (i, p) in set.patterns.iter_mut().enumerate() {
            let left = p.chars().next().is_some_and(is_spaced_word_char);
            meta[i].need_left = left;
            meta[i].need_right =
                !set.prefix[i] && p.chars().next_back().is_some_and(is_spaced_word_char);
            if left {
                p.insert(0, ' ');
            }
        }
        let mut infos = Vec::new();
        for (v, m) in set.infos.iter().zip(meta.iter_mut()) {
            m.info_start = infos.len() as u32;
            m.info_len = u16::try_from(v.len()).expect("fewer than 65536 roles per pattern");
            infos.extend_from_slice(v);
            for i in v {
                if i.lang == ANY {
                    m.lang |= 1 << 15;
                } else {
                    m.lang |= 1 << i.lang;
                    if !matches!(i.role, Role::Stop) {
                        m.content |= 1 << i.lang;
                    }
                }
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            // the contiguous NFA is 30x smaller than the DFA (0.4 MB against 12 MB) and,
            // because it stays in cache between narratives, faster in full triage
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .start_kind(StartKind::Both)
            .build(&set.patterns)
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .start_kind(StartKind::Both)
                    .build(&set.patterns)
            })
            .map_err(|e| LexiconError::Parse {
                lang: "*".into(),
                message: e.to_string(),
            })?;
        Ok(Triager {
            ac,
            meta,
            infos,
            patterns: set.patterns,
            neg_after_langs,
            products,
            fuzzy: FuzzyIndex::new(fuzzy_keys),
            brand_single,
        })
    }

    /// Number of patterns in the automaton (lexicon terms, cues and catalog names).
    pub fn pattern_count(&self) -> usize {
        self.meta.len()
    }

    /// The automaton's patterns as written in the lexicons and catalog (normalised, without
    /// the word-start sentinel), for building a baseline automaton in benchmarks.
    #[doc(hidden)]
    pub fn plain_patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| p.trim_start().to_string())
            .collect()
    }

    /// Heap bytes used by the automaton.
    pub fn automaton_bytes(&self) -> usize {
        self.ac.memory_usage()
    }

    /// Benchmark baseline: a bare scan of the same automaton over `text` as it is (no
    /// normalisation, no boundary checks, no reasoning). Returns the number of matches.
    pub fn bare_scan(&self, text: &str) -> usize {
        self.ac.find_iter(text).count()
    }

    /// One leftmost-longest pass of the automaton. Terms of spaced scripts are stored with
    /// a leading space and the normaliser puts a space before every word, so they can
    /// only match at a word start; the right boundary is checked here. Han terms match
    /// anywhere.
    fn scan(&self, t: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        self.scan_into(t, &mut hits);
        hits
    }

    /// [`Triager::scan`] into a reused vector.
    fn scan_into(&self, t: &str, hits: &mut Vec<Hit>) {
        hits.clear();
        hits.reserve(t.len() / 6 + 4);
        let right_ok = |e: usize, p: usize| {
            !(self.meta[p].need_right && t[e..].chars().next().is_some_and(is_spaced_word_char))
        };
        let mut pos = 0;
        while pos < t.len() {
            let Some(m) = self.ac.find(Input::new(t).span(pos..t.len())) else {
                break;
            };
            let (s, mut e, mut p) = (m.start(), m.end(), m.pattern().as_usize());
            if !right_ok(e, p) {
                // The longest term here ends inside a word ("i have" in "i haven t"): take
                // the longest shorter term at the same start that ends on a boundary, so
                // the rejected match does not swallow the words after it.
                let mut found = false;
                let mut end = e - 1;
                while end > s {
                    let input = Input::new(t).span(s..end).anchored(Anchored::Yes);
                    let Some(m2) = self.ac.find(input) else {
                        break;
                    };
                    if right_ok(m2.end(), m2.pattern().as_usize()) {
                        (e, p) = (m2.end(), m2.pattern().as_usize());
                        found = true;
                        break;
                    }
                    end = m2.end() - 1;
                }
                if !found {
                    // No term of a spaced script starts inside a word (they start with the
                    // space sentinel), so resume at the next space or non-ASCII character
                    // (where a Han term may start).
                    let rest = &t.as_bytes()[s + 1..];
                    pos = s
                        + 1
                        + rest
                            .iter()
                            .position(|&b| b == b' ' || b >= 0x80)
                            .unwrap_or(rest.len());
                    continue;
                }
            }
            let start = if self.meta[p].need_left { s + 1 } else { s };
            hits.push(Hit {
                s: start as u32,
                e: e as u32,
                p: p as u32,
            });
            pos = e;
        }
    }

    /// Benchmark stage: normalisation plus the automaton pass with boundary checks, no
    /// reasoning. Returns the number of accepted hits.
    #[doc(hidden)]
    pub fn normalize_and_scan(&self, text: &str) -> usize {
        let norm = normalize(text);
        self.scan(&norm.text).len()
    }

    /// The normalised form of `text` (what the automaton runs over).
    #[doc(hidden)]
    pub fn normalized_text(&self, text: &str) -> String {
        normalize(text).text
    }

    /// Benchmark stage: the automaton pass with boundary checks over an already
    /// normalised text.
    #[doc(hidden)]
    pub fn scan_only(&self, normalized: &str) -> usize {
        self.scan(normalized).len()
    }

    /// Benchmark stage: normalisation only. Returns the normalised length.
    #[doc(hidden)]
    pub fn normalize_only(&self, text: &str) -> usize {
        normalize(text).text.len()
    }

    fn infos(&self, p: u32) -> &[Info] {
        let m = &self.meta[p as usize];
        let a = m.info_start as usize;
        &self.infos[a..a + usize::from(m.info_len)]
    }

    /// Triage one narrative. `language_hint` (a BCP 47 tag such as "fr" or "hi-Latn")
    /// overrides detection when it names a supported language.
    pub fn triage(&self, text: &str, language_hint: Option<&str>) -> TriageResult {
        let run = |scratch: &mut Scratch| {
            let r = self.triage_with(scratch, text, language_hint);
            if scratch.norm.text.capacity() > SCRATCH_KEEP_BYTES {
                *scratch = Scratch::default();
            }
            r
        };
        SCRATCH
            .try_with(|cell| match cell.try_borrow_mut() {
                Ok(mut scratch) => run(&mut scratch),
                Err(_) => run(&mut Scratch::default()),
            })
            .unwrap_or_else(|_| run(&mut Scratch::default()))
    }

    fn triage_with(
        &self,
        scratch: &mut Scratch,
        text: &str,
        language_hint: Option<&str>,
    ) -> TriageResult {
        let Scratch { norm, hits } = scratch;
        normalize_into(norm, text);
        let norm = &*norm;
        let t = norm.text.as_str();
        self.scan_into(t, hits);
        let hits = &*hits;
        let lang = language_hint
            .and_then(parse_hint)
            .or_else(|| self.detect(norm, hits, text));
        let la = lang.unwrap_or(EN);
        let language = lang.map_or("und", |l| LANGUAGES[l as usize]).to_string();

        // classify hits for the active language
        let mut cues = Cues::default();
        let mut hazards: SmallVec<[HazardHit; 8]> = SmallVec::new();
        let mut models: SmallVec<[(Span, u32, bool); 4]> = SmallVec::new();
        let mut brands: SmallVec<[(Span, u32); 4]> = SmallVec::new();
        for h in hits {
            // only roles other than stopwords (bit `la` of `content`) or catalog names (bit
            // 15) do anything here: stopword hits, the most frequent, skip the role list
            let meta = &self.meta[h.p as usize];
            if meta.content & (1 << la) == 0 && meta.lang & (1 << 15) == 0 {
                continue;
            }
            let span = (h.s as usize, h.e as usize);
            for info in self.infos(h.p) {
                if info.lang != la && info.lang != ANY {
                    continue;
                }
                match info.role {
                    Role::Hazard(code) => hazards.push(HazardHit {
                        s: span.0,
                        e: span.1,
                        code,
                        kind: HKind::Plain,
                        fixed_potential: false,
                    }),
                    Role::Potential(code) => hazards.push(HazardHit {
                        s: span.0,
                        e: span.1,
                        code,
                        kind: HKind::Plain,
                        fixed_potential: true,
                    }),
                    Role::Burn => hazards.push(HazardHit {
                        s: span.0,
                        e: span.1,
                        code: HazardCode::ThermalFire,
                        kind: HKind::Burn,
                        fixed_potential: false,
                    }),
                    Role::Damage => hazards.push(HazardHit {
                        s: span.0,
                        e: span.1,
                        code: HazardCode::DamageProperty,
                        kind: HKind::Damage,
                        fixed_potential: false,
                    }),
                    Role::Neg => cues.neg.push(span),
                    Role::NegAfter => cues.neg_after.push(span),
                    Role::Hedge => cues.hedge.push(span),
                    Role::HedgeAfter => cues.hedge_after.push(span),
                    Role::Realis => cues.realis.push(span),
                    Role::Breaker => cues.breaker.push(span),
                    Role::FigCtx => cues.fig.push(span),
                    Role::Person => cues.person.push(span),
                    Role::Property => cues.property.push(span),
                    Role::FirstPerson => cues.first_person.push(span),
                    Role::OtherStory => cues.other_story.push(span),
                    Role::Register => cues.register = true,
                    Role::Absorb | Role::Stop => {}
                    Role::Model(pi, short) => models.push((span, pi, short)),
                    Role::Brand(b) => brands.push((span, b)),
                }
            }
        }

        let tb = t.as_bytes();
        let cjk = la == ZH;
        // Regulator/recall wording makes every hazard a risk, unless someone writes in the
        // first person ("my charger does not comply ... and it caught fire"): a consumer's
        // report of what happened must not be downgraded.
        let regulator_wording = cues.register && cues.first_person.is_empty();
        let neg_after = self.neg_after_langs[la as usize];
        // verb-final clauses put the burnt object before the verb ("die Finger verbrannt")
        let object_first = la == HI || la == DE;
        let mut events: SmallVec<[Event; 8]> = SmallVec::new();
        for h in &hazards {
            let state = if is_figurative(tb, &cues, h) {
                State::Figurative
            } else if is_negated(tb, &cues, h, cjk, neg_after) {
                State::Negated
            } else {
                State::Active
            };
            let modality = if h.fixed_potential
                || regulator_wording
                || (is_hedged(tb, &cues, h) && !is_realis(tb, &cues, h))
            {
                Modality::Potential
            } else {
                Modality::Occurred
            };
            let mut emit = |code| {
                events.push(Event {
                    code,
                    modality,
                    state,
                    s: h.s,
                    e: h.e,
                })
            };
            match h.kind {
                HKind::Plain => emit(h.code),
                HKind::Burn => match burn_object(tb, &cues, h, object_first) {
                    Object::Person => emit(HazardCode::InjuryBurn),
                    Object::Property => {
                        emit(HazardCode::ThermalFire);
                        emit(HazardCode::DamageProperty);
                    }
                    Object::None => emit(HazardCode::ThermalFire),
                },
                HKind::Damage => {
                    if burn_object(tb, &cues, h, object_first) == Object::Property {
                        emit(HazardCode::DamageProperty);
                    }
                }
            }
        }

        let ev = |s: usize, e: usize| {
            let (a, b) = norm.original_span(text, s, e);
            Evidence {
                start: a,
                end: b,
                text: text[a..b].to_string(),
            }
        };

        // aggregate per code
        let mut found = Vec::new();
        let mut negated = Vec::new();
        let mut figurative = Vec::new();
        for code in HazardCode::ALL {
            if !events.iter().any(|x| x.code == code) {
                continue;
            }
            let of = |state: State, modality: Option<Modality>| -> Vec<Evidence> {
                let mut v: Vec<Evidence> = events
                    .iter()
                    .filter(|x| {
                        x.code == code
                            && x.state == state
                            && modality.is_none_or(|m| x.modality == m)
                    })
                    .map(|x| ev(x.s, x.e))
                    .collect();
                v.dedup();
                v
            };
            let occurred = of(State::Active, Some(Modality::Occurred));
            if !occurred.is_empty() {
                found.push(HazardFinding {
                    code,
                    modality: Modality::Occurred,
                    evidence: occurred,
                });
                continue;
            }
            let potential = of(State::Active, Some(Modality::Potential));
            if !potential.is_empty() {
                found.push(HazardFinding {
                    code,
                    modality: Modality::Potential,
                    evidence: potential,
                });
                continue;
            }
            for (state, list) in [
                (State::Negated, &mut negated),
                (State::Figurative, &mut figurative),
            ] {
                let v = of(state, None);
                if !v.is_empty() {
                    let modality = events
                        .iter()
                        .find(|x| x.code == code && x.state == state)
                        .map_or(Modality::Occurred, |x| x.modality);
                    list.push(HazardFinding {
                        code,
                        modality,
                        evidence: v,
                    });
                    break;
                }
            }
        }
        let injuries = found
            .iter()
            .filter(|f| f.modality == Modality::Occurred && f.code.is_injury())
            .map(|f| InjuryFinding {
                kind: if f.code == HazardCode::InjuryBurn {
                    InjuryKind::Burn
                } else {
                    InjuryKind::Other
                },
                evidence: f.evidence.clone(),
            })
            .collect();

        let products = self.resolve_products(
            tb,
            hits,
            &models,
            &brands,
            &cues,
            &events,
            &ev,
            &|s, e| norm.original_span(text, s, e),
            text,
        );
        let occurred: SmallVec<[HazardCode; 12]> = found
            .iter()
            .filter(|f| f.modality == Modality::Occurred)
            .map(|f| f.code)
            .collect();
        TriageResult {
            language,
            severity: default_severity(&occurred, InjuryLevel::Unknown),
            hazards: found,
            negated,
            figurative,
            injuries,
            products,
        }
    }

    fn detect(&self, norm: &Normalized, hits: &[Hit], original: &str) -> Option<u8> {
        if norm.kana > 0 && norm.kana * 4 >= norm.han {
            return None; // Japanese: not supported
        }
        if norm.deva > 0 && norm.deva * 2 >= norm.latin {
            return Some(HI);
        }
        if norm.han > 0 && norm.han * 3 >= norm.latin {
            return Some(ZH);
        }
        let mut votes = [0u32; 9];
        let mut content = [0u32; 9];
        // Nine 7-bit counters packed in one u64 per list, one table look-up and one add
        // per hit, unpacked every 127 hits (before a counter can overflow).
        let flush = |acc: &mut u64, out: &mut [u32; 9]| {
            for (l, o) in out.iter_mut().enumerate() {
                *o += ((*acc >> (7 * l)) & 0x7F) as u32;
            }
            *acc = 0;
        };
        let (mut vacc, mut cacc) = (0u64, 0u64);
        for chunk in hits.chunks(127) {
            for h in chunk {
                // bits 0..9 only (bit 15 is "any language")
                let meta = &self.meta[h.p as usize];
                vacc += VOTE_LANES[usize::from(meta.lang & 0x1FF)];
                cacc += VOTE_LANES[usize::from(meta.content & 0x1FF)];
            }
            flush(&mut vacc, &mut votes);
            flush(&mut cacc, &mut content);
        }
        // top and runner-up, ties to the first language in LANGUAGES order
        let mut top = 0;
        for l in 1..9 {
            if votes[l] > votes[top] {
                top = l;
            }
        }
        let second = (0..9)
            .filter(|l| *l != top)
            .map(|l| votes[l])
            .max()
            .unwrap_or(0);
        if votes[top] > second {
            return Some(top as u8);
        }
        if votes[top] > 0 {
            // a tie: the language with more lexicon (non-stopword) hits among the tied
            // ones, then the first in LANGUAGES order (whatlang is slow and, on a handful
            // of words, no better)
            let best = (0..9)
                .filter(|l| votes[*l] == votes[top])
                .max_by_key(|l| (content[*l], std::cmp::Reverse(*l)));
            return best.map(|b| b as u8);
        }
        // weak or tied evidence: ask whatlang on a prefix, then fall back to the votes
        let mut cut = original.len().min(160);
        while !original.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(info) = whatlang::detect(&original[..cut]) {
            let code = match info.lang() {
                whatlang::Lang::Eng => Some(0),
                whatlang::Lang::Fra => Some(1),
                whatlang::Lang::Spa => Some(2),
                whatlang::Lang::Deu => Some(3),
                whatlang::Lang::Por => Some(4),
                whatlang::Lang::Ita => Some(5),
                whatlang::Lang::Hin => Some(6),
                whatlang::Lang::Cmn => Some(7),
                whatlang::Lang::Ind => Some(8),
                _ => None,
            };
            if let Some(c) = code
                && (votes[c] > 0 || votes[top] == 0 || votes[c] == votes[top])
            {
                return Some(c as u8);
            }
        }
        (votes[top] > 0).then_some(top as u8)
    }

    #[allow(clippy::too_many_arguments)]
    fn resolve_products(
        &self,
        tb: &[u8],
        hits: &[Hit],
        models: &[(Span, u32, bool)],
        brands: &[(Span, u32)],
        cues: &Cues,
        events: &[Event],
        ev: &dyn Fn(usize, usize) -> Evidence,
        span_of: &dyn Fn(usize, usize) -> (usize, usize),
        original: &str,
    ) -> Vec<ProductMatch> {
        if self.products.is_empty() {
            return Vec::new();
        }
        struct Mention {
            pi: u32,
            s: usize,
            e: usize,
            score: f32,
            brand_span: Option<Span>,
        }
        let brand_near = |s: usize, e: usize, bid: u32| -> Option<Span> {
            brands.iter().find_map(|&((bs, be), b)| {
                let near = (be <= s && words_between(tb, be, s) <= 1 && !clause_break(tb, be, s))
                    || (bs >= e && words_between(tb, e, bs) <= 1 && !clause_break(tb, e, bs));
                (b == bid && near).then_some((bs, be))
            })
        };
        let brand_anywhere = |bid: u32| brands.iter().any(|&(_, b)| b == bid);
        let mut mentions: SmallVec<[Mention; 4]> = SmallVec::new();
        // exact (and spacing-variant) model mentions; one hit may name several products
        let mut i = 0;
        while i < models.len() {
            let span = models[i].0;
            let mut j = i;
            while j < models.len() && models[j].0 == span {
                j += 1;
            }
            let cands = &models[i..j];
            let with_brand: SmallVec<[(u32, Span); 2]> = cands
                .iter()
                .filter_map(|&(_, pi, _)| {
                    brand_near(span.0, span.1, self.products[pi as usize].brand).map(|b| (pi, b))
                })
                .collect();
            if !with_brand.is_empty() {
                for (pi, b) in with_brand {
                    mentions.push(Mention {
                        pi,
                        s: span.0,
                        e: span.1,
                        score: 1.0,
                        brand_span: Some(b),
                    });
                }
            } else {
                let usable: SmallVec<[u32; 2]> =
                    cands.iter().filter(|c| !c.2).map(|c| c.1).collect();
                let branded: SmallVec<[u32; 2]> = usable
                    .iter()
                    .copied()
                    .filter(|pi| brand_anywhere(self.products[*pi as usize].brand))
                    .collect();
                let chosen = if branded.is_empty() { usable } else { branded };
                for pi in chosen {
                    mentions.push(Mention {
                        pi,
                        s: span.0,
                        e: span.1,
                        score: 0.9,
                        brand_span: None,
                    });
                }
            }
            i = j;
        }
        // a brand alone names its product when the catalog has exactly one product of that brand
        for &((bs, be), bid) in brands {
            if let Some(pi) = self.brand_single[bid as usize]
                && !mentions.iter().any(|m| m.pi == pi)
                && !names_another_model(original, span_of(bs, be).1)
            {
                mentions.push(Mention {
                    pi,
                    s: bs,
                    e: be,
                    score: 0.6,
                    brand_span: None,
                });
            }
        }
        // one-character typos: windows of one to three adjacent ASCII tokens that no
        // lexicon or catalog term covers, probed against keys bucketed by first bytes
        // One-character typos. Only windows of one to three adjacent ASCII tokens that
        // contain a model number, or that follow a catalog brand, are probed: elsewhere a
        // one-edit match of a plain word is more likely a false friend than a typo, and
        // looking only there keeps triage fast.
        if !self.fuzzy.keys.is_empty() {
            let covered = |t: Span| {
                let i = hits.partition_point(|h| (h.e as usize) <= t.0);
                hits.get(i).is_some_and(|h| (h.s as usize) < t.1)
            };
            let mut buf: Vec<u32> = Vec::new();
            let mut cand: SmallVec<[u8; 32]> = SmallVec::new();
            // Probes the windows of one to three tokens of `local` that contain the token
            // `must`, widest first, and stops at the first window that matches a key.
            let mut probe = |local: &[Span], must: usize, mentions: &mut SmallVec<[Mention; 4]>| {
                // no window of these tokens is long enough for any key
                if local.iter().map(|t| t.1 - t.0).sum::<usize>() < FUZZY_MIN_LEN - 1 {
                    return;
                }
                let mut cov = [false; 5];
                for (c, t) in cov.iter_mut().zip(local) {
                    *c = covered(*t);
                }
                for w in (1..=3usize).rev() {
                    for k in must.saturating_sub(w - 1)..=must {
                        if k + w > local.len() {
                            continue;
                        }
                        if cov[k..k + w].iter().any(|c| *c) {
                            continue;
                        }
                        let win = &local[k..k + w];
                        let n: usize = win.iter().map(|t| t.1 - t.0).sum();
                        let c0 = tb[win[0].0];
                        let c1 = if win[0].1 - win[0].0 >= 2 {
                            tb[win[0].0 + 1]
                        } else if w > 1 {
                            tb[win[1].0]
                        } else {
                            continue;
                        };
                        if !self.fuzzy.may_match(c0, c1, n) {
                            continue;
                        }
                        cand.clear();
                        for t in win {
                            cand.extend_from_slice(&tb[t.0..t.1]);
                        }
                        if !cand.iter().any(u8::is_ascii_alphabetic) {
                            continue;
                        }
                        let (s, e) = (win[0].0, win[w - 1].1);
                        self.fuzzy.lookup(&cand, &mut buf);
                        for &key in &buf {
                            let FuzzyTarget::Product(pi) = self.fuzzy.keys[key as usize].target;
                            let b = brand_near(s, e, self.products[pi as usize].brand);
                            if !mentions.iter().any(|m| m.pi == pi && m.s == s) {
                                mentions.push(Mention {
                                    pi,
                                    s,
                                    e,
                                    score: if b.is_some() { 0.9 } else { 0.8 },
                                    brand_span: b,
                                });
                            }
                        }
                        if !buf.is_empty() {
                            return;
                        }
                    }
                }
            };
            // around digit runs (a branch-free pass first: most narratives have no digit)
            let has_digit = tb.iter().fold(false, |a, b| a | b.is_ascii_digit());
            let mut i = if has_digit { 0 } else { tb.len() };
            while let Some(off) = tb[i..].iter().position(u8::is_ascii_digit) {
                i += off;
                if let Some(d) = token_at(tb, i)
                    && !covered(d)
                {
                    let mut local = [(0, 0); 5];
                    let mut len = 0;
                    let p1 = prev_token(tb, d.0);
                    let p2 = p1.and_then(|p| prev_token(tb, p.0));
                    for t in [p2, p1, Some(d)].into_iter().flatten() {
                        local[len] = t;
                        len += 1;
                    }
                    let di = len - 1;
                    let n1 = next_token(tb, d.1);
                    let n2 = n1.and_then(|n| next_token(tb, n.1));
                    for t in [n1, n2].into_iter().flatten() {
                        local[len] = t;
                        len += 1;
                    }
                    probe(&local[..len], di, &mut mentions);
                    i = d.1;
                    continue;
                }
                i += 1;
            }
            // windows right after a brand
            for &((_, be), _) in brands.iter() {
                if let Some(n1) = next_token(tb, be) {
                    let mut local = [(0, 0); 3];
                    local[0] = n1;
                    let mut len = 1;
                    let n2 = next_token(tb, n1.1);
                    let n3 = n2.and_then(|n| next_token(tb, n.1));
                    for t in [n2, n3].into_iter().flatten() {
                        local[len] = t;
                        len += 1;
                    }
                    probe(&local[..len], 0, &mut mentions);
                }
            }
        }
        if mentions.is_empty() {
            return Vec::new();
        }
        // rank: which product did the incident happen to?
        let active: SmallVec<[&Event; 8]> =
            events.iter().filter(|x| x.state == State::Active).collect();
        struct Agg {
            pi: u32,
            first: usize,
            score: f32,
            incident: f32,
            evidence: Vec<Evidence>,
        }
        let mut aggs: SmallVec<[Agg; 2]> = SmallVec::new();
        for m in &mentions {
            let (ss, se) = sentence_of(tb, m.s);
            let start = m.brand_span.map_or(m.s, |b| b.0.min(m.s));
            let fp = cues.first_person.iter().any(|&(_, b)| {
                b <= start && words_between(tb, b, start) <= 3 && !clause_break(tb, b, start)
            });
            let haz = active.iter().any(|x| x.s >= ss && x.e <= se);
            let other = cues.other_story.iter().any(|&(a, b)| a >= ss && b <= start);
            let incident = 2.0 * f32::from(u8::from(fp)) + 1.5 * f32::from(u8::from(haz))
                - 3.0 * f32::from(u8::from(other));
            let mut evs: SmallVec<[Evidence; 2]> = SmallVec::new();
            if let Some((bs, be)) = m.brand_span
                && bs < m.s
            {
                evs.push(ev(bs, be));
            }
            evs.push(ev(m.s, m.e));
            if let Some((bs, be)) = m.brand_span
                && bs >= m.e
            {
                evs.push(ev(bs, be));
            }
            match aggs.iter_mut().find(|a| a.pi == m.pi) {
                Some(a) => {
                    a.score = a.score.max(m.score);
                    a.incident = a.incident.max(incident);
                    a.first = a.first.min(start);
                    for e in evs {
                        if !a.evidence.contains(&e) {
                            a.evidence.push(e);
                        }
                    }
                }
                None => aggs.push(Agg {
                    pi: m.pi,
                    first: start,
                    score: m.score,
                    incident,
                    evidence: evs.into_vec(),
                }),
            }
        }
        aggs.sort_by(|a, b| {
            b.incident
                .total_cmp(&a.incident)
                .then(a.first.cmp(&b.first))
                .then(a.pi.cmp(&b.pi))
        });
        aggs.into_iter()
            .map(|a| {
                let p = &self.products[a.pi as usize].product;
                let mut evidence = a.evidence;
                evidence.sort_by_key(|e| e.start);
                ProductMatch {
                    brand: p.brand.clone(),
                    model: p.model.clone(),
                    score: a.score,
                    evidence,
                }
            })
            .collect()
    }
}

/// After a brand, a word with a digit or in capitals ("Hyundai H1", "Polaris RANGER",
/// "KTM 450") names a model, one that the catalog lacks if no model matched there.
fn names_another_model(original: &str, brand_end: usize) -> bool {
    let rest = original[brand_end..].trim_start();
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-')
        .collect();
    let first_part = word.split('-').next().unwrap_or("");
    if first_part.chars().count() <= 2
        && first_part.chars().all(|c| c.is_uppercase())
        && !first_part.is_empty()
    {
        return true;
    }
    let mut chars = word.chars();
    match chars.next() {
        None => false,
        Some(c) if c.is_ascii_digit() => true,
        Some(c) if c.is_uppercase() => {
            word.chars().any(|c| c.is_ascii_digit())
                || (word.chars().count() >= 2 && word.chars().all(|c| !c.is_lowercase()))
                || word.chars().count() <= 2
        }
        Some(_) => word.chars().any(|c| c.is_ascii_digit()),
    }
}

fn push_fuzzy(keys: &mut Vec<FuzzyKey>, norm: &str, target: FuzzyTarget) {
    if !norm.is_ascii() {
        return;
    }
    let compact: Vec<u8> = norm.bytes().filter(|b| b.is_ascii_alphanumeric()).collect();
    if compact.len() < FUZZY_MIN_LEN || !compact.iter().any(u8::is_ascii_alphabetic) {
        return;
    }
    let digits = compact.iter().copied().filter(u8::is_ascii_digit).collect();
    keys.push(FuzzyKey {
        compact,
        digits,
        target,
    });
}

/// Spacing variants of a normalised catalog name: letter/digit boundaries are always split
/// by the normaliser, so only the spaces between two alphabetic tokens are optional
/// ("power core" / "powercore"). At most 16 variants.
fn spacing_variants(norm: &str) -> Vec<String> {
    let toks: Vec<&str> = norm.split(' ').filter(|t| !t.is_empty()).collect();
    if toks.is_empty() {
        return Vec::new();
    }
    let joinable: Vec<usize> = (0..toks.len() - 1)
        .filter(|&i| {
            toks[i].chars().all(char::is_alphabetic) && toks[i + 1].chars().all(char::is_alphabetic)
        })
        .take(4)
        .collect();
    let mut out = Vec::new();
    for mask in 0u32..(1 << joinable.len()) {
        let mut s = String::with_capacity(norm.len());
        for (i, t) in toks.iter().enumerate() {
            if i > 0 {
                let pos = joinable.iter().position(|&j| j == i - 1);
                let join = pos.is_some_and(|p| mask & (1 << p) != 0);
                if !join {
                    s.push(' ');
                }
            }
            s.push_str(t);
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn parse_hint(hint: &str) -> Option<u8> {
    let primary = hint
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let primary = match primary.as_str() {
        "eng" => "en",
        "fra" | "fre" => "fr",
        "spa" => "es",
        "deu" | "ger" => "de",
        "por" => "pt",
        "ita" => "it",
        "hin" => "hi",
        "zho" | "chi" | "cmn" => "zh",
        "ind" | "in" => "id",
        other => other,
    }
    .to_string();
    LANGUAGES
        .iter()
        .position(|l| *l == primary)
        .map(|i| i as u8)
}

/// For a 9-bit language mask: a 1 in the 7-bit lane of every language in it.
static VOTE_LANES: [u64; 512] = {
    let mut t = [0u64; 512];
    let mut m = 0;
    while m < 512 {
        let mut l = 0;
        while l < 9 {
            if m >> l & 1 == 1 {
                t[m] |= 1 << (7 * l);
            }
            l += 1;
        }
        m += 1;
    }
    t
};

/// No window is wider than this many bytes (8 words of Devanagari fit): spans further apart
/// are "far" without counting, which keeps every cue/hit pairing O(1) for distant pairs.
const MAX_WINDOW_BYTES: usize = 400;

fn words_between(tb: &[u8], a: usize, b: usize) -> usize {
    if a >= b {
        return 0;
    }
    if b - a > MAX_WINDOW_BYTES {
        return usize::MAX / 2;
    }
    let slice = &tb[a..b];
    let spaces = slice.iter().filter(|&&x| x == b' ').count();
    let cjk = slice
        .iter()
        .filter(|&&x| (0xE3..=0xE9).contains(&x))
        .count();
    spaces.saturating_sub(1) + cjk
}

const IDEO_FULL_STOP: &[u8] = "。".as_bytes();
const IDEO_COMMA: &[u8] = "、".as_bytes();
const DANDA: &[u8] = "।".as_bytes();

/// Per byte: 1 for an ASCII clause punctuation mark, 2 for the lead byte of a CJK or
/// Devanagari clause mark (。 、 start with 0xE3, । with 0xE0), else 0.
static CLAUSE_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let marks = b",.;:!?()[]";
    let mut i = 0;
    while i < marks.len() {
        t[marks[i] as usize] = 1;
        i += 1;
    }
    t[0xE0] = 2;
    t[0xE3] = 2;
    t
};

/// Is there a clause mark (ASCII punctuation, 。, 、 or ।) inside `tb[a..b]`? One pass.
fn clause_break(tb: &[u8], a: usize, b: usize) -> bool {
    if a >= b {
        return false;
    }
    let s = &tb[a..b];
    s.iter()
        .enumerate()
        .any(|(i, &c)| match CLAUSE_BYTE[usize::from(c)] {
            0 => false,
            1 => true,
            _ => {
                let rest = &s[i..];
                rest.starts_with(IDEO_FULL_STOP)
                    || rest.starts_with(IDEO_COMMA)
                    || rest.starts_with(DANDA)
            }
        })
}

#[inline]
fn is_sentence_end(tb: &[u8], i: usize) -> bool {
    match tb[i] {
        b'.' | b';' | b'!' | b'?' => true,
        0xE0 | 0xE3 => tb[i..].starts_with(IDEO_FULL_STOP) || tb[i..].starts_with(DANDA),
        _ => false,
    }
}

fn sentence_of(tb: &[u8], pos: usize) -> Span {
    let mut s = 0;
    let mut i = pos.min(tb.len());
    while i > 0 {
        i -= 1;
        if is_sentence_end(tb, i) {
            s = i + 1;
            break;
        }
    }
    let mut e = pos;
    while e < tb.len() && !is_sentence_end(tb, e) {
        e += 1;
    }
    (s, e)
}

fn breaker_between(breakers: &[Span], a: usize, b: usize) -> bool {
    let i = breakers.partition_point(|x| x.0 < a);
    breakers.get(i).is_some_and(|x| x.0 < b)
}

fn is_negated(tb: &[u8], cues: &Cues, h: &HazardHit, cjk: bool, neg_after: bool) -> bool {
    let window = if cjk { NEG_WINDOW_CJK } else { NEG_WINDOW };
    let i = cues.neg.partition_point(|x| x.1 <= h.s);
    if i > 0 {
        let (_, ne) = cues.neg[i - 1];
        if words_between(tb, ne, h.s) <= window
            && !clause_break(tb, ne, h.s)
            && !breaker_between(&cues.breaker, ne, h.s)
        {
            return true;
        }
    }
    if neg_after {
        let j = cues.neg_after.partition_point(|x| x.0 < h.e);
        if let Some(&(ns, _)) = cues.neg_after.get(j)
            && words_between(tb, h.e, ns) <= NEG_AFTER_WINDOW
            && !clause_break(tb, h.e, ns)
            && !breaker_between(&cues.breaker, h.e, ns)
        {
            return true;
        }
    }
    false
}

fn is_hedged(tb: &[u8], cues: &Cues, h: &HazardHit) -> bool {
    let i = cues.hedge.partition_point(|x| x.1 <= h.s);
    for &(_, he) in cues.hedge[..i].iter().rev() {
        if words_between(tb, he, h.s) > HEDGE_WINDOW || clause_break(tb, he, h.s) {
            break;
        }
        if !breaker_between(&cues.breaker, he, h.s) {
            return true;
        }
    }
    let j = cues.hedge_after.partition_point(|x| x.0 < h.e);
    if let Some(&(hs, _)) = cues.hedge_after.get(j)
        && words_between(tb, h.e, hs) <= HEDGE_AFTER_WINDOW
        && !clause_break(tb, h.e, hs)
    {
        return true;
    }
    false
}

/// "already swollen", "ya está abombada": an actual state, whatever hedge came before.
fn is_realis(tb: &[u8], cues: &Cues, h: &HazardHit) -> bool {
    cues.realis.iter().any(|&(_, e)| {
        e <= h.s && words_between(tb, e, h.s) <= REALIS_WINDOW && !clause_break(tb, e, h.s)
    })
}

fn is_figurative(tb: &[u8], cues: &Cues, h: &HazardHit) -> bool {
    cues.fig.iter().any(|&(fs, fe)| {
        (fe <= h.s && words_between(tb, fe, h.s) <= FIG_BEFORE && !clause_break(tb, fe, h.s))
            || (fs >= h.e && words_between(tb, h.e, fs) <= FIG_AFTER && !clause_break(tb, h.e, fs))
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Object {
    Person,
    Property,
    None,
}

/// What a burn/damage verb acts on: the first person or belongings word within a few
/// words after it (or, for belongings, before it: "the curtains burned"). Hindi puts the
/// object before the verb ("हाथ जल गया"), so there a person before counts too.
fn burn_object(tb: &[u8], cues: &Cues, h: &HazardHit, object_first: bool) -> Object {
    let after = |list: &[Span]| {
        list.iter()
            .filter(|&&(s, _)| {
                s >= h.e && words_between(tb, h.e, s) < OBJECT_WINDOW && !clause_break(tb, h.e, s)
            })
            .map(|x| x.0)
            .min()
    };
    let before = |list: &[Span]| {
        list.iter().any(|&(_, e)| {
            e <= h.s && words_between(tb, e, h.s) <= OBJECT_WINDOW && !clause_break(tb, e, h.s)
        })
    };
    match (after(&cues.person), after(&cues.property)) {
        (Some(p), Some(q)) => {
            return if p < q {
                Object::Person
            } else {
                Object::Property
            };
        }
        (Some(_), None) => return Object::Person,
        (None, Some(_)) => return Object::Property,
        (None, None) => {}
    }
    if object_first && before(&cues.person) {
        return Object::Person;
    }
    if before(&cues.property) {
        return Object::Property;
    }
    Object::None
}

/// The ASCII alphanumeric token containing byte `i`, unless it is glued to non-ASCII
/// letters (then it is not a clean word).
fn token_at(tb: &[u8], i: usize) -> Option<Span> {
    if !tb.get(i)?.is_ascii_alphanumeric() {
        return None;
    }
    let mut s = i;
    while s > 0 && tb[s - 1].is_ascii_alphanumeric() {
        s -= 1;
    }
    let mut e = i;
    while e < tb.len() && tb[e].is_ascii_alphanumeric() {
        e += 1;
    }
    let glued = (s > 0 && tb[s - 1] >= 0x80) || (e < tb.len() && tb[e] >= 0x80);
    (!glued).then_some((s, e))
}

/// The token just before `start`, separated by exactly one space.
fn prev_token(tb: &[u8], start: usize) -> Option<Span> {
    if start < 2 || tb[start - 1] != b' ' {
        return None;
    }
    token_at(tb, start - 2)
}

/// The token just after `end`, separated by exactly one space.
fn next_token(tb: &[u8], end: usize) -> Option<Span> {
    if tb.get(end) != Some(&b' ') {
        return None;
    }
    token_at(tb, end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::catalog::Catalog;
    use firewatch_domain::Severity;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const CATALOG: &str = "brand,model,aliases,category,price,currency
Samsung,Galaxy Note7,Note7|Note 7,phone,849,EUR
Nordvolt,Note7 Pro,,phone,399,EUR
Anker,PowerCore 10000,PowerCore,power bank,29.99,EUR
Amazon,Kindle Fire HD 8,Fire HD 8,tablet,99,EUR
Hyundai,i40,,car,30000,EUR
Lumo,AirFryer XL5,,kitchen,89,EUR
";

    fn triager() -> &'static Triager {
        static T: OnceLock<Triager> = OnceLock::new();
        T.get_or_init(|| Triager::new(Catalog::from_csv_str(CATALOG).expect("test catalog")))
    }

    fn codes(text: &str) -> Vec<(String, Modality)> {
        triager()
            .triage(text, None)
            .hazards
            .iter()
            .map(|h| (h.code.as_str().to_string(), h.modality))
            .collect()
    }

    fn has(text: &str, code: &str, modality: Modality) -> bool {
        codes(text).contains(&(code.to_string(), modality))
    }

    fn none(text: &str) -> bool {
        codes(text).is_empty()
    }

    use Modality::{Occurred as O, Potential as P};

    #[test]
    fn negated_hazards_are_not_hazards_in_every_language() {
        for text in [
            "There was no smoke at all.",
            "It did not explode.",
            "It charged without flames or sparks.",
            "Pas de fumée ni de flammes.",
            "Il ne s'est pas enflammé.",
            "Kein Rauch und keine Funken.",
            "Sin humo, todo normal.",
            "Não explodiu.",
            "Non è esploso.",
            "धुआं नहीं निकला।",
            "Dhuan nahi nikla.",
            "没有冒烟。",
            "Tidak ada asap.",
        ] {
            let r = triager().triage(text, None);
            assert!(r.hazards.is_empty(), "{text}: {:?}", r.hazards);
            assert!(
                !r.negated.is_empty(),
                "{text}: negation should be listed for review"
            );
            assert_eq!(r.severity, Severity::S4, "{text}");
        }
    }

    #[test]
    fn negation_scope_stops_at_the_clause() {
        assert!(has("No warning, then it exploded.", "thermal.explosion", O));
        assert!(has(
            "There was no smoke, but then it caught fire.",
            "thermal.fire",
            O
        ));
        assert!(!has(
            "There was no smoke, but then it caught fire.",
            "thermal.smoke",
            O
        ));
        assert!(has(
            "Der Akku explodierte, aber er brannte nicht.",
            "thermal.explosion",
            O
        ));
        assert!(!has(
            "Der Akku explodierte, aber er brannte nicht.",
            "thermal.fire",
            O
        ));
    }

    #[test]
    fn hedges_and_risk_wording_are_potential() {
        assert!(has("This charger could catch fire.", "thermal.fire", P));
        assert!(has(
            "Risk of electric shock from live parts.",
            "electrical.shock",
            P
        ));
        assert!(has("I'm afraid it will explode.", "thermal.explosion", P));
        assert!(has(
            "Cell modules may short circuit, increasing the risk of fire.",
            "thermal.fire",
            P
        ));
        assert!(has(
            "Ce téléphone peut surchauffer.",
            "thermal.overheating",
            P
        ));
        assert!(has("Batterie könnte explodieren.", "thermal.explosion", P));
        assert!(has("बैटरी फट सकती है।", "thermal.explosion", P));
        assert!(has("该产品存在火灾隐患。", "thermal.fire", P));
        // a hedge does not reach an actual state asserted with "already"
        assert!(has(
            "J'ai peur qu'elle explose, elle est déjà gonflée.",
            "battery.swelling",
            O
        ));
        // potential findings do not raise the severity
        assert_eq!(
            triager().triage("It could catch fire.", None).severity,
            Severity::S4
        );
    }

    #[test]
    fn regulator_wording_does_not_downgrade_a_first_person_report() {
        let alert = "The product does not comply with the Low Voltage Directive. The cable overheats and catches fire.";
        assert!(has(alert, "thermal.fire", P));
        let report =
            "My charger does not comply with the Low Voltage Directive and it caught fire.";
        assert!(has(report, "thermal.fire", O));
    }

    #[test]
    fn figurative_and_non_safety_uses_raise_nothing() {
        for text in [
            "This camera is fire!",
            "Sales exploded after the launch.",
            "Honestly the battery life is explosive.",
            "Este móvil es una bomba.",
            "That purchase burned a hole in my pocket.",
            "Les ventes ont explosé.",
            "这款手机太火了，销量爆炸！",
            "I love my Kindle Fire HD 8.",
            "The OLED screen has burn-in after a year.",
        ] {
            assert!(none(text), "{text}: {:?}", codes(text));
        }
    }

    #[test]
    fn a_person_burned_is_an_injury_and_belongings_burned_are_property_damage() {
        let r = triager().triage("It burned my hand.", None);
        assert_eq!(r.occurred_codes(), vec![HazardCode::InjuryBurn]);
        assert_eq!(r.injuries.len(), 1);
        assert_eq!(r.injuries[0].kind, InjuryKind::Burn);
        let r = triager().triage("It burned the couch.", None);
        assert_eq!(
            r.occurred_codes(),
            vec![HazardCode::ThermalFire, HazardCode::DamageProperty]
        );
        assert!(r.injuries.is_empty());
        let r = triager().triage("Meine Tochter hat sich die Finger verbrannt.", None);
        assert_eq!(r.occurred_codes(), vec![HazardCode::InjuryBurn]);
    }

    #[test]
    fn severity_comes_from_occurred_hazards_only() {
        let r = triager().triage("The phone got very hot.", None);
        assert_eq!(r.severity, Severity::S3);
        let r = triager().triage("The battery is swollen.", None);
        assert_eq!(r.severity, Severity::S2);
        assert_eq!(r.severity_with(InjuryLevel::Serious), Severity::S1);
    }

    fn first_product(text: &str) -> Option<(String, String)> {
        triager()
            .triage(text, None)
            .products
            .first()
            .map(|p| (p.brand.clone(), p.model.clone()))
    }

    fn product(brand: &str, model: &str) -> Option<(String, String)> {
        Some((brand.to_string(), model.to_string()))
    }

    #[test]
    fn products_resolve_through_aliases_spacing_case_and_hyphen_variants() {
        let nordvolt = product("Nordvolt", "Note7 Pro");
        assert_eq!(first_product("my Note7 Pro overheated"), nordvolt);
        assert_eq!(first_product("my note 7pro overheated"), nordvolt);
        assert_eq!(first_product("my NOTE-7 PRO overheated"), nordvolt);
        assert_eq!(
            first_product("the power core 10000 got hot"),
            product("Anker", "PowerCore 10000")
        );
        assert_eq!(
            first_product("my Note 7 exploded"),
            product("Samsung", "Galaxy Note7")
        );
    }

    #[test]
    fn products_resolve_one_character_typos_but_not_other_model_numbers() {
        assert_eq!(
            first_product("my Galxy Note7 exploded"),
            product("Samsung", "Galaxy Note7")
        );
        assert_eq!(
            first_product("my Galaxy Note8 exploded"),
            None,
            "another digit is another model"
        );
        assert_eq!(
            first_product("my Anker PowerCoer 10000 is hot"),
            product("Anker", "PowerCore 10000")
        );
    }

    #[test]
    fn a_unique_model_implies_its_brand_and_short_models_need_their_brand() {
        let r = triager().triage("The AirFryer XL5 melted.", None);
        assert_eq!(r.products[0].brand, "Lumo");
        assert!(first_product("there were i40 reports").is_none());
        assert_eq!(
            first_product("my Hyundai i40 caught fire"),
            product("Hyundai", "i40")
        );
    }

    #[test]
    fn the_incident_product_comes_first() {
        let text = "Remember the Samsung Galaxy Note7 explosions years ago? Now my Nordvolt Note7 Pro is swollen.";
        let r = triager().triage(text, None);
        let names: Vec<&str> = r.products.iter().map(|p| p.model.as_str()).collect();
        assert_eq!(names, vec!["Note7 Pro", "Galaxy Note7"]);
        let text =
            "Unlike the old Samsung Note7 that blew up, my note 7pro from Nordvolt just overheats.";
        assert_eq!(first_product(text), product("Nordvolt", "Note7 Pro"));
    }

    #[test]
    fn evidence_points_into_the_original_text() {
        let text = "Mon téléphone a PRIS FEU — l’écran a fondu.";
        let r = triager().triage(text, None);
        assert_eq!(r.language, "fr");
        for h in &r.hazards {
            for e in &h.evidence {
                assert_eq!(&text[e.start..e.end], e.text);
            }
        }
        let fire = r
            .hazards
            .iter()
            .find(|h| h.code == HazardCode::ThermalFire)
            .unwrap();
        assert_eq!(fire.evidence[0].text, "a PRIS FEU");
    }

    #[test]
    fn language_detection_and_hints() {
        assert_eq!(
            triager()
                .triage("Mi patinete echó humo ayer.", None)
                .language,
            "es"
        );
        assert_eq!(
            triager()
                .triage("Yaar mera phone blast ho gaya.", None)
                .language,
            "hi"
        );
        assert_eq!(triager().triage("手机爆炸了", None).language, "zh");
        assert_eq!(triager().triage("HP saya meledak.", None).language, "id");
        assert_eq!(triager().triage("Smoke!", Some("de-DE")).language, "de");
        assert_eq!(triager().triage("", None).language, "und");
    }

    #[test]
    fn long_and_odd_inputs_are_handled() {
        // 20 KB (the intake limit) of dense cues: every cue/hit pairing must stay cheap
        let long = "My Note7 exploded. No smoke. ".repeat(700);
        let r = triager().triage(&long, None);
        assert_eq!(r.hazards[0].evidence.len(), 700);
        let mixed = "my Galxy Note 7 burned my couch and my hand, no fire could explode sales hot 爆炸 没有冒烟 फट गया नहीं Anker Hyundai i40 ".repeat(150);
        let r = triager().triage(&mixed, None);
        assert!(r.products.iter().any(|p| p.model == "Galaxy Note7"));
        for odd in [
            "",
            " ",
            "\u{0}\u{1}",
            "ﬁre",
            "Ｎｏｔｅ７ ＥＸＰＬＯＤＥＤ",
            "e\u{301}\u{301}\u{301}",
            "🔥🔥🔥 fire 🔥",
            "।।।",
            "爆",
        ] {
            let r = triager().triage(odd, None);
            for h in &r.hazards {
                for e in &h.evidence {
                    assert_eq!(&odd[e.start..e.end], e.text);
                }
            }
        }
        let r = triager().triage("Ｎｏｔｅ７ ＥＸＰＬＯＤＥＤ", None);
        assert_eq!(r.hazards[0].evidence[0].text, "ＥＸＰＬＯＤＥＤ");
        assert_eq!(r.products[0].evidence[0].text, "Ｎｏｔｅ７");
    }

    #[test]
    fn triage_is_deterministic() {
        let text = "My Note7 exploded, no fire. Il a pris feu.";
        assert_eq!(triager().triage(text, None), triager().triage(text, None));
    }

    proptest! {
        #[test]
        fn any_text_triages_without_panicking(text in any::<String>(), hint in proptest::option::of("[a-zA-Z-]{0,8}")) {
            let r = triager().triage(&text, hint.as_deref());
            for h in r.hazards.iter().chain(&r.negated) {
                for e in &h.evidence {
                    prop_assert_eq!(&text[e.start..e.end], e.text.as_str());
                }
            }
        }

        #[test]
        fn evidence_text_always_equals_the_original_slice(
            text in "(\\PC|[ ,.'’-]|smoke|fire|explod|Note ?7|feu|爆炸|धुआं|no |not ){0,24}"
        ) {
            let r = triager().triage(&text, None);
            let all = r.hazards.iter().chain(&r.negated).chain(&r.figurative).flat_map(|h| &h.evidence)
                .chain(r.products.iter().flat_map(|p| &p.evidence))
                .chain(r.injuries.iter().flat_map(|i| &i.evidence));
            for e in all {
                prop_assert!(e.start < e.end && e.end <= text.len());
                prop_assert_eq!(&text[e.start..e.end], e.text.as_str());
            }
        }
    }

    #[test]
    fn osa_accepts_one_edit_only() {
        assert!(osa_within_one(b"galxynote7", b"galaxynote7"));
        assert!(osa_within_one(b"samsnug", b"samsung"));
        assert!(osa_within_one(b"samsungg", b"samsung"));
        assert!(osa_within_one(b"sansung", b"samsung"));
        assert!(!osa_within_one(b"smasnug", b"samsung"));
        assert!(!osa_within_one(b"samsungxx", b"samsung"));
    }

    #[test]
    fn spacing_variants_join_alphabetic_tokens_only() {
        let v = spacing_variants("power core 10000");
        assert!(v.contains(&"power core 10000".to_string()));
        assert!(v.contains(&"powercore 10000".to_string()));
        assert_eq!(v.len(), 2);
        assert_eq!(
            spacing_variants("note 7 pro"),
            vec!["note 7 pro".to_string()]
        );
    }

    #[test]
    fn hints_accept_bcp47_and_three_letter_codes() {
        assert_eq!(parse_hint("fr-FR"), Some(1));
        assert_eq!(parse_hint("hi-Latn"), Some(HI));
        assert_eq!(parse_hint("zho"), Some(ZH));
        assert_eq!(parse_hint("nl"), None);
    }

    #[test]
    fn words_between_counts_words_and_han_characters() {
        let t = "no sign of smoke".as_bytes();
        assert_eq!(words_between(t, 2, 11), 2);
        let t = "没有任何冒烟".as_bytes();
        assert_eq!(words_between(t, 6, 12), 2);
    }
}
