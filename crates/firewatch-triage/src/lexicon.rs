//! The lexicons: one TOML data file per language, embedded at build time.

use firewatch_domain::HazardCode;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The nine supported languages, in a fixed order (index = language id).
pub const LANGUAGES: [&str; 9] = ["en", "fr", "es", "de", "pt", "it", "hi", "zh", "id"];

/// The embedded lexicon sources, in [`LANGUAGES`] order.
pub const SOURCES: [&str; 9] = [
    include_str!("../lexicons/en.toml"),
    include_str!("../lexicons/fr.toml"),
    include_str!("../lexicons/es.toml"),
    include_str!("../lexicons/de.toml"),
    include_str!("../lexicons/pt.toml"),
    include_str!("../lexicons/it.toml"),
    include_str!("../lexicons/hi.toml"),
    include_str!("../lexicons/zh.toml"),
    include_str!("../lexicons/id.toml"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LexiconFile {
    pub lang: String,
    pub hazard: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub potential: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub burn: VerbGroup,
    #[serde(default)]
    pub damage: VerbGroup,
    pub cue: Cues,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerbGroup {
    #[serde(default)]
    pub verbs: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cues {
    #[serde(default)]
    pub negation: Vec<String>,
    #[serde(default)]
    pub negation_after: Vec<String>,
    #[serde(default)]
    pub hedge: Vec<String>,
    #[serde(default)]
    pub hedge_after: Vec<String>,
    #[serde(default)]
    pub realis: Vec<String>,
    #[serde(default)]
    pub breaker: Vec<String>,
    #[serde(default)]
    pub figurative: Vec<String>,
    #[serde(default)]
    pub figurative_context: Vec<String>,
    #[serde(default)]
    pub neutral: Vec<String>,
    #[serde(default)]
    pub person: Vec<String>,
    #[serde(default)]
    pub property: Vec<String>,
    #[serde(default)]
    pub first_person: Vec<String>,
    #[serde(default)]
    pub other_story: Vec<String>,
    #[serde(default)]
    pub register: Vec<String>,
    #[serde(default)]
    pub stopwords: Vec<String>,
}

/// Why a lexicon could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LexiconError {
    #[error("lexicon {lang}: {message}")]
    Parse { lang: String, message: String },
    #[error("lexicon {lang}: unknown hazard code `{code}`")]
    UnknownCode { lang: String, code: String },
    #[error("lexicon {lang}: declares lang `{found}`")]
    WrongLang { lang: String, found: String },
}

pub(crate) struct ParsedLexicon {
    pub file: LexiconFile,
    pub hazards: Vec<(HazardCode, Vec<String>)>,
    pub potential: Vec<(HazardCode, Vec<String>)>,
}

pub(crate) fn parse(lang: &str, source: &str) -> Result<ParsedLexicon, LexiconError> {
    let file: LexiconFile = toml::from_str(source).map_err(|e| LexiconError::Parse {
        lang: lang.to_string(),
        message: e.to_string(),
    })?;
    if file.lang != lang {
        return Err(LexiconError::WrongLang {
            lang: lang.to_string(),
            found: file.lang.clone(),
        });
    }
    let codes = |m: &BTreeMap<String, Vec<String>>| {
        m.iter()
            .map(|(k, v)| {
                k.parse::<HazardCode>()
                    .map(|c| (c, v.clone()))
                    .map_err(|_| LexiconError::UnknownCode {
                        lang: lang.to_string(),
                        code: k.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let hazards = codes(&file.hazard)?;
    let potential = codes(&file.potential)?;
    Ok(ParsedLexicon {
        file,
        hazards,
        potential,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_lexicon_parses_and_covers_the_core_codes() {
        for (lang, src) in LANGUAGES.iter().zip(SOURCES) {
            let lex = parse(lang, src).unwrap_or_else(|e| panic!("{e}"));
            let have: Vec<HazardCode> = lex.hazards.iter().map(|(c, _)| *c).collect();
            for code in HazardCode::ALL {
                assert!(have.contains(&code), "{lang} lexicon lacks {code}");
            }
            assert!(
                !lex.file.cue.negation.is_empty(),
                "{lang} lacks negation cues"
            );
            assert!(!lex.file.cue.hedge.is_empty(), "{lang} lacks hedge cues");
        }
    }

    #[test]
    fn unknown_codes_and_wrong_lang_are_reported() {
        let e = parse(
            "en",
            "lang = \"en\"\n[hazard]\n\"thermal.boom\" = [\"x\"]\n[cue]\n",
        )
        .err()
        .unwrap();
        assert!(matches!(e, LexiconError::UnknownCode { .. }));
        let e = parse("fr", "lang = \"en\"\n[hazard]\n[cue]\n")
            .err()
            .unwrap();
        assert!(matches!(e, LexiconError::WrongLang { .. }));
    }
}
