//! Properties: the checker and the templates never panic, and every span is a valid slice
//! of the input.

use firewatch_comms::{
    Lang, NoticeFacts, TemplateKind, Templates, check_recall_notice, find_minimising_language,
};
use proptest::prelude::*;

/// Text built from fragments that exercise folding (accents, decomposed marks, ß, ligatures,
/// apostrophes, no-break spaces) and the rules' phrases, glued with arbitrary characters.
fn text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("voluntary ".to_string()),
        Just("À TITRE PRÉVENTIF".to_string()),
        Just("a\u{0300} titre\u{00a0}pre\u{0301}ventif".to_string()),
        Just("Vorsichtsmaßnahme".to_string()),
        Just("frais de port ".to_string()),
        Just("n\u{2019}a été signalé".to_string()),
        Just("œuvre ".to_string()),
        Just("+33 1 23 45 67 89".to_string()),
        Just("\n\n".to_string()),
        "\\PC{0,12}",
    ];
    prop::collection::vec(fragment, 0..24).prop_map(|v| v.concat())
}

/// Template-like sources: tags, expressions, filters and variables in random order.
fn template_source() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{{ ".to_string()),
        Just(" }}".to_string()),
        Just("{% if ".to_string()),
        Just("{% endif %}".to_string()),
        Just("{% for x in ".to_string()),
        Just("{% endfor %}".to_string()),
        Just(" %}".to_string()),
        Just("product.name".to_string()),
        Just("product.gtin".to_string()),
        Just("hazard_labels|join(', ')".to_string()),
        Just("range(99999)".to_string()),
        Just("'x' * 99999".to_string()),
        Just("customer.name".to_string()),
        "\\PC{0,8}",
    ];
    prop::collection::vec(token, 0..20).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_finding_span_is_a_valid_slice_of_the_notice(t in text(), lang in 0usize..7) {
        let tag = ["en", "fr", "de", "es", "it", "pt", "xx"][lang];
        let facts = NoticeFacts { brand: "Voltra".into(), model: "PB-20K".into(), ..NoticeFacts::default() };
        for f in check_recall_notice(&t, tag, &facts).into_iter().chain(find_minimising_language(&t, tag)) {
            if let Some(s) = f.span {
                prop_assert!(s.start <= s.end && s.end <= t.len());
                prop_assert!(t.is_char_boundary(s.start) && t.is_char_boundary(s.end));
                prop_assert!(t.get(s.start..s.end).is_some());
            }
        }
    }

    #[test]
    fn any_template_source_is_accepted_or_refused_without_panicking(src in template_source()) {
        let mut t = Templates::new();
        let before = t.get(TemplateKind::PublicStatement, Lang::En).map(str::to_string);
        if t.set(TemplateKind::PublicStatement, "en", &src).is_err() {
            prop_assert_eq!(t.get(TemplateKind::PublicStatement, Lang::En).map(str::to_string), before);
        }
    }
}
