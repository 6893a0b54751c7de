//! The recall-notice checker, language by language.

use crate::support::{clean_notice, facts};
use firewatch_comms::{
    Finding, FindingSeverity, Lang, NoticeFacts, RuleId, Span, check_recall_notice,
};

fn check(text: &str, lang: Lang) -> Vec<Finding> {
    check_recall_notice(text, lang.as_str(), &facts())
}

fn clean_notice_passes(lang: Lang) {
    let text = clean_notice(lang);
    let findings = check(&text, lang);
    assert!(
        findings.is_empty(),
        "{lang} clean notice: {findings:#?}\n{text}"
    );
}

/// Appends each sentence to the clean notice and expects exactly one finding: the
/// minimising rule, on exactly `expected` (its first occurrence in the sentence).
fn flags_each(lang: Lang, cases: &[(&str, &str)]) {
    let base = clean_notice(lang);
    for (sentence, expected) in cases {
        let text = format!("{base}\n{sentence}\n");
        let offset = base.len()
            + 1
            + sentence
                .find(expected)
                .unwrap_or_else(|| panic!("`{expected}` is not in `{sentence}`"));
        let want = Span {
            start: offset,
            end: offset + expected.len(),
        };
        let findings = check(&text, lang);
        assert_eq!(findings.len(), 1, "{lang} `{sentence}`: {findings:#?}");
        assert_eq!(findings[0].rule, RuleId::Minimising, "{lang} `{sentence}`");
        assert_eq!(findings[0].severity, FindingSeverity::Error);
        assert_eq!(findings[0].span, Some(want), "{lang} `{sentence}`");
        assert_eq!(&text[want.start..want.end], *expected);
    }
}

#[test]
fn english_minimising_words_are_flagged_at_their_exact_span() {
    clean_notice_passes(Lang::En);
    flags_each(
        Lang::En,
        &[
            ("This is a voluntary recall.", "voluntary"),
            ("We are VOLUNTARILY recalling the product.", "VOLUNTARILY"),
            ("This is a precautionary measure.", "precautionary"),
            ("We act as a precaution.", "as a precaution"),
            (
                "Out of an abundance of caution, we recall it.",
                "Out of an abundance of caution",
            ),
            ("The programme is discretionary.", "discretionary"),
            (
                "In rare situations the battery may overheat.",
                "In rare situations",
            ),
            (
                "It only ignites in specific situations.",
                "in specific situations",
            ),
            ("In very rare cases it can swell.", "In very rare cases"),
            (
                "There are no reported injuries.",
                "There are no reported injuries",
            ),
            (
                "No injuries have been reported so far.",
                "No injuries have been reported",
            ),
            (
                "We are not aware of any incidents.",
                "not aware of any incidents",
            ),
            ("This is an isolated incident.", "isolated incident"),
            ("A fire is highly unlikely.", "highly unlikely"),
        ],
    );
}

#[test]
fn french_minimising_words_are_flagged_at_their_exact_span() {
    clean_notice_passes(Lang::Fr);
    flags_each(
        Lang::Fr,
        &[
            ("Il s'agit d'un rappel volontaire.", "volontaire"),
            (
                "Nous rappelons VOLONTAIREMENT ce produit.",
                "VOLONTAIREMENT",
            ),
            ("Ce rappel est effectué par précaution.", "par précaution"),
            (
                "Par mesure de précaution, nous rappelons le produit.",
                "Par mesure de précaution",
            ),
            ("Ce rappel est fait à titre préventif.", "à titre préventif"),
            ("Ce rappel est fait a titre preventif.", "a titre preventif"),
            (
                "Le geste commercial est discrétionnaire.",
                "discrétionnaire",
            ),
            (
                "Dans de rares cas, la batterie peut chauffer.",
                "Dans de rares cas",
            ),
            (
                "Dans certaines situations, le boîtier peut fondre.",
                "Dans certaines situations",
            ),
            (
                "Aucun blessé n'a été signalé.",
                "Aucun blessé n'a été signalé",
            ),
            (
                "AUCUNE BLESSURE N\u{2019}A ÉTÉ SIGNALÉE.",
                "AUCUNE BLESSURE N\u{2019}A ÉTÉ SIGNALÉE",
            ),
            ("Il s'agit d'un cas isolé.", "cas isolé"),
        ],
    );
}

#[test]
fn german_minimising_words_are_flagged_at_their_exact_span() {
    clean_notice_passes(Lang::De);
    flags_each(
        Lang::De,
        &[
            ("Dies ist ein freiwilliger Rückruf.", "freiwilliger"),
            ("Wir rufen das Produkt vorsorglich zurück.", "vorsorglich"),
            (
                "Als Vorsichtsmaßnahme bitten wir Sie um Rückgabe.",
                "Als Vorsichtsmaßnahme",
            ),
            (
                "Als Vorsichtsmassnahme bitten wir Sie um Rückgabe.",
                "Als Vorsichtsmassnahme",
            ),
            (
                "Aus Vorsichtsgründen rufen wir zurück.",
                "Aus Vorsichtsgründen",
            ),
            (
                "In seltenen Fällen kann der Akku überhitzen.",
                "In seltenen Fällen",
            ),
            (
                "Nur in bestimmten Situationen kann er brennen.",
                "in bestimmten Situationen",
            ),
            (
                "Es wurden keine Verletzungen gemeldet.",
                "Es wurden keine Verletzungen gemeldet",
            ),
            (
                "Bisher sind keine Unfälle bekannt.",
                "Bisher sind keine Unfälle bekannt",
            ),
            (
                "Die Kulanz liegt nach eigenem Ermessen beim Hersteller.",
                "nach eigenem Ermessen",
            ),
        ],
    );
}

#[test]
fn spanish_minimising_words_are_flagged_at_their_exact_span() {
    clean_notice_passes(Lang::Es);
    flags_each(
        Lang::Es,
        &[
            ("Se trata de una retirada voluntaria.", "voluntaria"),
            ("Retiramos el producto por precaución.", "por precaución"),
            (
                "Como medida de precaución, retiramos el producto.",
                "Como medida de precaución",
            ),
            ("Lo retiramos de forma preventiva.", "de forma preventiva"),
            ("Es una decisión discrecional.", "discrecional"),
            (
                "En raras ocasiones la batería puede calentarse.",
                "En raras ocasiones",
            ),
            (
                "Solo en situaciones específicas puede arder.",
                "en situaciones específicas",
            ),
            (
                "No se han registrado lesiones.",
                "No se han registrado lesiones",
            ),
            (
                "No se han notificado heridos hasta la fecha.",
                "No se han notificado heridos",
            ),
        ],
    );
}

#[test]
fn italian_minimising_words_are_flagged_at_their_exact_span() {
    clean_notice_passes(Lang::It);
    flags_each(
        Lang::It,
        &[
            ("Si tratta di un richiamo volontario.", "volontario"),
            (
                "Richiamiamo il prodotto a titolo precauzionale.",
                "a titolo precauzionale",
            ),
            (
                "In via cautelativa ritiriamo il prodotto.",
                "In via cautelativa",
            ),
            (
                "In rari casi la batteria può surriscaldarsi.",
                "In rari casi",
            ),
            (
                "Solo in situazioni specifiche può incendiarsi.",
                "in situazioni specifiche",
            ),
            (
                "Non sono stati segnalati feriti.",
                "Non sono stati segnalati feriti",
            ),
            ("La decisione è discrezionale.", "discrezionale"),
        ],
    );
}

#[test]
fn portuguese_minimising_words_are_flagged_at_their_exact_span() {
    clean_notice_passes(Lang::Pt);
    flags_each(
        Lang::Pt,
        &[
            ("Trata-se de uma recolha voluntária.", "voluntária"),
            ("Por precaução, recolhemos o produto.", "Por precaução"),
            (
                "Recolhemos o produto a título preventivo.",
                "a título preventivo",
            ),
            (
                "Em raras situações a bateria pode aquecer.",
                "Em raras situações",
            ),
            (
                "Apenas em situações específicas pode incendiar-se.",
                "em situações específicas",
            ),
            (
                "Não foram registados ferimentos.",
                "Não foram registados ferimentos",
            ),
            ("A decisão é discricionária.", "discricionária"),
        ],
    );
}

fn rules_of(findings: &[Finding]) -> Vec<RuleId> {
    findings.iter().map(|f| f.rule).collect()
}

/// Removes the lines from the one starting with `from` up to (not including) the one
/// starting with `to` (or the end).
fn without_section(text: &str, from: &str, to: Option<&str>) -> String {
    let start = text.find(from).expect("section start");
    let end = to
        .map(|t| text[start..].find(t).expect("section end") + start)
        .unwrap_or(text.len());
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn a_notice_without_its_heading_is_flagged() {
    for lang in Lang::ALL {
        let text = clean_notice(lang);
        let first_line_end = text.find('\n').expect("a line");
        let headless = text[first_line_end + 1..].to_string();
        let findings = check(&headless, lang);
        assert_eq!(
            rules_of(&findings),
            vec![RuleId::Heading],
            "{lang}: {findings:#?}"
        );
        assert_eq!(findings[0].severity, FindingSeverity::Error);
    }
}

#[test]
fn a_heading_that_is_not_on_the_first_line_is_flagged_where_it_is() {
    let text = clean_notice(Lang::En);
    let moved = format!("Important\n{text}");
    let findings = check(&moved, Lang::En);
    assert_eq!(rules_of(&findings), vec![RuleId::Heading]);
    let span = findings[0].span.expect("a span");
    assert_eq!(&moved[span.start..span.end], "PRODUCT SAFETY RECALL");
}

#[test]
fn a_notice_without_contact_is_flagged() {
    let cases = [
        (Lang::En, "Contact\n", Some("Reference:")),
        (Lang::Fr, "Contact\n", Some("Référence :")),
        (Lang::De, "Kontakt\n", Some("Referenz:")),
        (Lang::Es, "Contacto\n", Some("Referencia:")),
        (Lang::It, "Contatto\n", None),
        (Lang::Pt, "Contacto\n", None),
    ];
    for (lang, from, to) in cases {
        let text = without_section(&clean_notice(lang), from, to);
        let findings = check(&text, lang);
        assert_eq!(
            rules_of(&findings),
            vec![RuleId::Contact],
            "{lang}: {findings:#?}\n{text}"
        );
    }
}

#[test]
fn a_notice_without_remedy_is_flagged() {
    let cases = [
        (Lang::En, "Your remedy\n", "Contact\n"),
        (Lang::Fr, "Votre solution\n", "Contact\n"),
        (Lang::De, "Ihre Abhilfe\n", "Kontakt\n"),
        (Lang::Es, "Su solución\n", "Contacto\n"),
        (Lang::It, "Il vostro rimedio\n", "Contatto\n"),
        (Lang::Pt, "A sua solução\n", "Contacto\n"),
    ];
    for (lang, from, to) in cases {
        let text = without_section(&clean_notice(lang), from, Some(to));
        let findings = check(&text, lang);
        assert_eq!(
            rules_of(&findings),
            vec![RuleId::Remedy, RuleId::RemedyFree],
            "{lang}: {findings:#?}\n{text}"
        );
        assert_eq!(findings[0].severity, FindingSeverity::Error);
        assert_eq!(findings[1].severity, FindingSeverity::Warning);
    }
}

#[test]
fn a_notice_that_does_not_ask_to_stop_using_the_product_is_flagged() {
    let text = clean_notice(Lang::En)
        .replace("Stop using this product immediately. ", "")
        .replace("Unplug it and keep", "Keep");
    assert_eq!(rules_of(&check(&text, Lang::En)), vec![RuleId::StopUsing]);
}

#[test]
fn a_notice_missing_product_identifiers_and_picture_is_flagged() {
    let text = clean_notice(Lang::En).replace("L2405, ", "").replace(
        "Picture of the product: https://example.invalid/img/pb-20k.jpg\n",
        "",
    );
    let mut facts = facts();
    facts.picture_url = None;
    let findings = check_recall_notice(&text, "en", &facts);
    assert_eq!(
        rules_of(&findings),
        vec![RuleId::Identifier, RuleId::Picture]
    );
    assert!(
        findings[0].message.contains("L2405"),
        "{}",
        findings[0].message
    );
    // a picture in the facts (shown by the UI next to the notice) is enough
    facts.picture_url = Some("https://example.invalid/p.png".into());
    assert_eq!(
        rules_of(&check_recall_notice(&text, "en", &facts)),
        vec![RuleId::Identifier]
    );
}

#[test]
fn a_notice_without_a_plain_hazard_is_flagged() {
    let text = "PRODUCT SAFETY RECALL\nVoltra PB-20K, batches L2405, L2406, serials VPB20K2405000001 to VPB20K2406099999, GTIN 3700000000017.\n\
        A thermal event may occur. Stop using it. Full refund, free of charge. Call +33 1 23 45 67 89.\n";
    let findings = check(text, Lang::En);
    assert_eq!(
        rules_of(&findings),
        vec![RuleId::Hazard, RuleId::Jargon],
        "{findings:#?}"
    );
    let jargon = findings[1].span.expect("span");
    assert_eq!(&text[jargon.start..jargon.end], "thermal event");
}

#[test]
fn cost_wording_is_flagged_in_place_and_waived_cost_wording_is_not() {
    let base = clean_notice(Lang::Fr);
    let with = |s: &str| format!("{base}{s}\n");
    let cost_spans = |text: &str| -> Vec<String> {
        check(text, Lang::Fr)
            .into_iter()
            .filter(|f| f.rule == RuleId::RemedyCost)
            .map(|f| {
                let s = f.span.expect("span");
                text[s.start..s.end].to_string()
            })
            .collect()
    };
    let t = with("Les frais de port à votre charge.");
    assert_eq!(cost_spans(&t), vec!["frais de port à votre charge"]);
    let t = with("Les frais de retour restent à votre charge.");
    assert_eq!(
        cost_spans(&t),
        vec!["frais de retour", "restent à votre charge"]
    );
    assert!(cost_spans(&with("Retour sans frais de port.")).is_empty());
    assert!(cost_spans(&with("Les frais de port sont offerts.")).is_empty());

    let en = clean_notice(Lang::En);
    let t = format!("{en}Replacement is at your own expense. Shipping fees apply.\n");
    let spans: Vec<String> = check(&t, Lang::En)
        .into_iter()
        .filter(|f| f.rule == RuleId::RemedyCost)
        .map(|f| {
            let s = f.span.expect("span");
            t[s.start..s.end].to_string()
        })
        .collect();
    assert_eq!(spans, vec!["at your own expense", "Shipping fees"]);
    let t = format!("{en}There is no shipping fee; return postage is paid by us.\n");
    assert!(
        !check(&t, Lang::En)
            .iter()
            .any(|f| f.rule == RuleId::RemedyCost)
    );

    let de = clean_notice(Lang::De);
    let t = format!("{de}Die Versandkosten übernehmen wir.\n");
    assert!(
        !check(&t, Lang::De)
            .iter()
            .any(|f| f.rule == RuleId::RemedyCost)
    );
    let t = format!("{de}Der Umtausch erfolgt auf eigene Kosten.\n");
    assert_eq!(
        check(&t, Lang::De)
            .iter()
            .filter(|f| f.rule == RuleId::RemedyCost)
            .count(),
        1
    );
}

#[test]
fn spans_point_into_the_original_text_whatever_its_accents_and_spacing() {
    // NFD-decomposed accents and no-break spaces must not shift spans
    let base = clean_notice(Lang::Fr);
    let odd = "Rappel fait a\u{0300} titre\u{00a0}pre\u{0301}ventif.";
    let text = format!("{base}{odd}\n");
    let f = check(&text, Lang::Fr);
    assert_eq!(rules_of(&f), vec![RuleId::Minimising]);
    let s = f[0].span.expect("span");
    assert_eq!(
        &text[s.start..s.end],
        "a\u{0300} titre\u{00a0}pre\u{0301}ventif"
    );
}

#[test]
fn findings_are_ordered_and_serialise_with_stable_rule_ids() {
    let text = "Voluntary notice. In rare cases it may catch fire.";
    let f = check_recall_notice(text, "en-GB", &NoticeFacts::default());
    // findings without a span come first
    let first_spanned = f.iter().position(|x| x.span.is_some()).expect("spanned");
    assert!(f[first_spanned..].iter().all(|x| x.span.is_some()));
    let json = serde_json::to_value(&f).expect("json");
    let rules: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|x| x["rule"].as_str())
        .collect();
    assert!(
        rules.contains(&"notice.heading") && rules.contains(&"notice.minimising"),
        "{rules:?}"
    );
    assert_eq!(json[first_spanned]["span"]["start"], 0);
}

#[test]
fn an_unsupported_language_is_checked_with_english_rules_and_says_so() {
    let text = clean_notice(Lang::En);
    let f = check_recall_notice(&text, "nl", &facts());
    assert_eq!(rules_of(&f), vec![RuleId::Language]);
    assert_eq!(f[0].severity, FindingSeverity::Warning);
}
