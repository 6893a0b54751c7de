//! The languages firewatch-comms knows: built-in templates exist for [`Lang::TEMPLATED`],
//! the recall-notice checker has rules for all of [`Lang::ALL`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A supported language, identified by its ISO 639-1 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Fr,
    De,
    Es,
    It,
    Pt,
}

impl Lang {
    /// Every language the checker has rules for.
    pub const ALL: [Lang; 6] = [Lang::En, Lang::Fr, Lang::De, Lang::Es, Lang::It, Lang::Pt];
    /// Languages with built-in default templates.
    pub const TEMPLATED: [Lang; 4] = [Lang::En, Lang::Fr, Lang::De, Lang::Es];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Pt => "pt",
        }
    }

    /// Reads a BCP 47 tag by its primary subtag: `fr`, `fr-CA`, `FR_be` all give [`Lang::Fr`].
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.as_str() == primary)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A language tag that names no supported language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported language `{0}` (supported: en, fr, de, es, it, pt)")]
pub struct UnsupportedLang(pub String);

impl FromStr for Lang {
    type Err = UnsupportedLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_tag(s).ok_or_else(|| UnsupportedLang(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regional_tag_resolves_to_its_primary_language() {
        assert_eq!(Lang::from_tag("fr-CA"), Some(Lang::Fr));
        assert_eq!(Lang::from_tag("DE_at"), Some(Lang::De));
        assert_eq!(Lang::from_tag(" pt-BR "), Some(Lang::Pt));
        assert_eq!(Lang::from_tag("hi"), None);
        assert!("zz".parse::<Lang>().is_err());
    }
}
