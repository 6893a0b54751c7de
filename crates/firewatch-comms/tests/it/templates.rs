//! Templates: the defaults render, admins can replace them, hostile templates are refused
//! within bounds.

use crate::support::signal_in;
use firewatch_comms::{
    Lang, Limits, NoticeFacts, TemplateError, TemplateKind, Templates, check_recall_notice,
    sample_case, sample_signal, sparse_case,
};
use std::time::{Duration, Instant};

#[test]
fn every_default_template_renders_for_a_full_and_a_sparse_case_and_a_signal() {
    let t = Templates::new();
    for kind in TemplateKind::ALL {
        for lang in Lang::TEMPLATED {
            let full = t
                .render(kind, lang.as_str(), &sample_case())
                .expect("full case");
            assert!(full.text.contains("PB-20K"), "{kind}.{lang}");
            assert!(!full.text.contains("none"), "{kind}.{lang} printed none");
            assert!(!full.fell_back);
            let sparse = t
                .render(kind, lang.as_str(), &sparse_case())
                .expect("sparse case");
            assert!(
                sparse.text.contains("FW-2026-000124")
                    || kind == TemplateKind::RecallNotice
                    || kind == TemplateKind::CustomerReply,
                "{kind}.{lang}"
            );
            let signal = t
                .render(kind, lang.as_str(), &sample_signal())
                .expect("signal");
            assert!(signal.text.contains("Voltra"), "{kind}.{lang}");
        }
    }
}

#[test]
fn the_default_recall_notices_pass_the_checker_in_every_templated_language() {
    let t = Templates::new();
    for lang in Lang::TEMPLATED {
        let ctx = signal_in(lang);
        let r = t
            .render(TemplateKind::RecallNotice, lang.as_str(), &ctx)
            .expect("renders");
        let findings = check_recall_notice(&r.text, lang.as_str(), &NoticeFacts::from(&ctx));
        assert!(findings.is_empty(), "{lang}: {findings:#?}\n{}", r.text);
        // localised parts are in the notice's language
        let risk = match lang {
            Lang::En => "Risk of overheating, fire.",
            Lang::Fr => "Risque de surchauffe, incendie.",
            Lang::De => "Gefahr: Überhitzung, Brand.",
            Lang::Es => "Riesgo de sobrecalentamiento, incendio.",
            _ => unreachable!(),
        };
        assert!(r.text.contains(risk), "{lang}:\n{}", r.text);
    }
}

#[test]
fn a_report_language_without_a_template_falls_back_to_english() {
    let t = Templates::new();
    let r = t
        .render(TemplateKind::RecallNotice, "it-IT", &sample_signal())
        .expect("renders");
    assert_eq!(r.lang, Lang::En);
    assert!(r.fell_back);
    assert!(r.text.starts_with("PRODUCT SAFETY RECALL"));
    let r = t
        .render(TemplateKind::RecallNotice, "hi", &sample_signal())
        .expect("renders");
    assert!(r.fell_back);
    let r = t
        .render(TemplateKind::CustomerReply, "fr-BE", &sample_case())
        .expect("renders");
    assert_eq!((r.lang, r.fell_back), (Lang::Fr, false));
}

#[test]
fn an_admin_can_replace_a_template_and_add_one_in_a_new_language() {
    let mut t = Templates::new();
    t.set(
        TemplateKind::PublicStatement,
        "en",
        "Statement on {{ product.name }} ({{ reference }}): {{ hazard_labels|join(', ') }}.",
    )
    .expect("valid");
    let r = t
        .render(TemplateKind::PublicStatement, "en", &sample_case())
        .expect("renders");
    assert_eq!(
        r.text,
        "Statement on Voltra PB-20K (FW-2026-000123): overheating, fire."
    );
    assert!(
        !t.entries()
            .find(|e| e.kind == TemplateKind::PublicStatement && e.lang == Lang::En)
            .expect("entry")
            .builtin
    );

    t.set(
        TemplateKind::RecallNotice,
        "it",
        "RICHIAMO DI SICUREZZA DEL PRODOTTO: {{ product.name }}",
    )
    .expect("valid");
    let r = t
        .render(TemplateKind::RecallNotice, "it", &sample_signal())
        .expect("renders");
    assert_eq!((r.lang, r.fell_back), (Lang::It, false));

    let err = t
        .set(TemplateKind::RecallNotice, "hi", "x")
        .expect_err("no rules for hi");
    assert!(matches!(err, TemplateError::UnsupportedLang(_)), "{err:?}");

    t.reset(TemplateKind::RecallNotice, Lang::It);
    assert!(t.get(TemplateKind::RecallNotice, Lang::It).is_none());
    t.reset(TemplateKind::PublicStatement, Lang::En);
    assert!(
        t.get(TemplateKind::PublicStatement, Lang::En)
            .expect("builtin")
            .contains("Statement from")
    );
}

#[test]
fn a_refused_template_leaves_the_registry_unchanged_and_names_the_template_and_line() {
    let mut t = Templates::new();
    let before = t
        .get(TemplateKind::RecallNotice, Lang::Fr)
        .expect("builtin")
        .to_string();
    let err = t
        .set(
            TemplateKind::RecallNotice,
            "fr",
            "RAPPEL PRODUIT\n\n{% if product.gtin %}\n{{ product.gtni }}\n{% endif %}\n",
        )
        .expect_err("typo refused");
    assert_eq!(err.template(), Some("recall_notice.fr"));
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(
        err.to_string()
            .starts_with("template `recall_notice.fr`, line 4: undefined value"),
        "{err}"
    );
    assert!(err.to_string().contains("product.gtni"), "{err}");
    assert_eq!(
        t.get(TemplateKind::RecallNotice, Lang::Fr),
        Some(before.as_str())
    );

    let err = t
        .set(TemplateKind::CustomerReply, "en", "Hello\n{% for x in %}")
        .expect_err("syntax");
    assert!(
        matches!(err, TemplateError::Syntax { line: Some(2), .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("template `customer_reply.en`, line 2"),
        "{err}"
    );
}

#[test]
fn printing_an_optional_field_without_a_guard_is_refused() {
    let mut t = Templates::new();
    // sample_case has a GTIN, but the sparse case has none: printing it unguarded would
    // publish "none"
    let err = t
        .set(
            TemplateKind::RecallNotice,
            "en",
            "PRODUCT SAFETY RECALL\nGTIN: {{ product.gtin }}\n",
        )
        .expect_err("unguarded optional");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("guard optional fields"), "{err}");
}

fn bounded(t: &mut Templates, source: &str) -> TemplateError {
    let start = Instant::now();
    let err = t
        .set(TemplateKind::PublicStatement, "en", source)
        .expect_err("hostile template accepted");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    err
}

#[test]
fn hostile_templates_are_refused_within_bounds() {
    let mut t = Templates::new();
    // unbounded loops: nested ranges run out of fuel
    let err = bounded(
        &mut t,
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    );
    assert!(matches!(err, TemplateError::OutOfFuel { .. }), "{err:?}");
    // recursion through a macro
    let err = bounded(
        &mut t,
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    );
    assert_eq!(err.template(), Some("public_statement.en"), "{err:?}");
    // huge output from a single expression
    let err = bounded(&mut t, "{{ 'x' * 1000000000 }}");
    assert!(
        matches!(
            err,
            TemplateError::OutOfFuel { .. } | TemplateError::Render { .. }
        ),
        "{err:?}"
    );
    // include / import / extends are not part of the language here
    for source in [
        "{% include '/etc/passwd' %}",
        "{% import 'x.j2' as x %}",
        "{% extends 'base.j2' %}",
    ] {
        let err = bounded(&mut t, source);
        assert!(
            matches!(err, TemplateError::Syntax { .. }),
            "{source}: {err:?}"
        );
    }
    // no way to reach the environment or the filesystem by name
    let err = bounded(&mut t, "{{ open('/etc/passwd') }}");
    assert!(
        matches!(
            err,
            TemplateError::Syntax { .. } | TemplateError::Render { .. }
        ),
        "{err:?}"
    );
    // an oversized source is refused before compiling
    let too_big = "a".repeat(t.limits().max_source_bytes + 1);
    let err = bounded(&mut t, &too_big);
    assert!(
        matches!(err, TemplateError::SourceTooLarge { .. }),
        "{err:?}"
    );
    // the registry kept its built-in statement
    assert!(t.entries().all(|e| e.builtin));
}

#[test]
fn output_past_the_size_cap_is_refused_even_with_fuel_to_spare() {
    let mut t = Templates::with_limits(Limits {
        fuel: 10_000_000,
        max_source_bytes: 4096,
        max_output_bytes: 10_000,
    });
    let err = t
        .set(
            TemplateKind::PublicStatement,
            "en",
            "{% for i in range(20000) %}y{% endfor %}",
        )
        .expect_err("too big");
    assert!(
        matches!(err, TemplateError::OutputTooLarge { max: 10_000, .. }),
        "{err:?}"
    );
    t.set(
        TemplateKind::PublicStatement,
        "en",
        "{% for i in range(2000) %}y{% endfor %}",
    )
    .expect("small enough");
}
