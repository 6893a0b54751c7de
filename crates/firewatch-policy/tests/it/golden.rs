//! Golden corpus: every `tests/fixtures/playbooks/valid/*.toml` loads, every
//! `invalid/*.toml` is refused with exactly the error text in the sibling `.err` file.
//! Set `UPDATE_GOLDEN=1` to (re)write the `.err` files, then review the diff.

use firewatch_policy::{Playbook, PlaybookError};
use std::path::{Path, PathBuf};

fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/playbooks")
        .join(kind)
}

fn tomls(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir(kind))
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

fn load(path: &Path) -> Result<Playbook, PlaybookError> {
    let text = std::fs::read_to_string(path).expect("read fixture");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    Playbook::from_toml_str(&name, &text)
}

#[test]
fn every_valid_snippet_loads() {
    let files = tomls("valid");
    assert!(files.len() >= 2);
    for f in files {
        if let Err(e) = load(&f) {
            panic!("{} should load:\n{e}", f.display());
        }
    }
}

#[test]
fn every_invalid_snippet_is_refused_with_the_expected_errors() {
    let files = tomls("invalid");
    assert!(files.len() >= 20, "the corpus shrank: {}", files.len());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for f in files {
        let err = match load(&f) {
            Ok(_) => panic!("{} should be refused", f.display()),
            Err(e) => e.to_string(),
        };
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        // Every line names the file.
        for line in err.lines() {
            assert!(line.starts_with(&format!("{name}: ")), "{line}");
        }
        let expected_path = f.with_extension("err");
        if update {
            std::fs::write(&expected_path, format!("{err}\n")).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        if expected.trim_end() != err {
            mismatches.push(format!(
                "--- {}\nexpected:\n{}\nactual:\n{err}",
                name,
                expected.trim_end()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn an_error_names_the_file_the_rule_and_the_field() {
    let text = "[[rules]]\nid = \"safety-cost-free\"\nwhen = \"case.is_safety &&\"\n";
    let err = Playbook::from_toml_str("playbook.toml", text).unwrap_err();
    let line = err.to_string();
    assert!(
        line.starts_with(
            "playbook.toml: rule \"safety-cost-free\": field when: CEL parse error at "
        ),
        "{line}"
    );
}

#[test]
fn a_too_long_condition_is_refused_before_it_is_compiled() {
    let when = vec!["case.is_safety"; 200].join(" || ");
    let text = format!("[[rules]]\nid = \"long\"\nwhen = \"{when}\"\n");
    let err = Playbook::from_toml_str("p.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("field when: CEL expression too long"), "{err}");
}

#[test]
fn a_condition_with_too_many_nodes_is_refused() {
    let when = vec!["1 < 2"; 150].join(" && ");
    assert!(when.len() < 2000);
    let text = format!("[[rules]]\nid = \"wide\"\nwhen = \"{when}\"\n");
    let err = Playbook::from_toml_str("p.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("CEL expression too large"), "{err}");
}

#[test]
fn a_huge_file_is_refused_without_parsing() {
    let text = "#".repeat(2 * 1024 * 1024);
    let err = Playbook::from_toml_str("big.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("big.toml: file too large"), "{err}");
}

#[test]
fn many_looping_rules_together_exceed_the_playbook_loop_budget() {
    let when = "case.hazards.exists(a, case.potential_hazards.exists(b, a == b))";
    let rule = |i: usize| format!("[[rules]]\nid = \"loop-{i}\"\nwhen = \"{when}\"\n");
    let fifteen: String = (0..15).map(rule).collect();
    assert!(Playbook::from_toml_str("p.toml", &fifteen).is_ok());
    let twenty: String = (0..20).map(rule).collect();
    let err = Playbook::from_toml_str("p.toml", &twenty).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.to_string().starts_with("p.toml: rule \"loop-15\": field when: the rules up to this one may take more than 65536 loop steps"), "{err}");
}

mod never_panics {
    use firewatch_policy::{CaseFacts, Playbook};
    use proptest::prelude::*;

    /// CEL-looking noise: identifiers, operators, brackets, quotes and the macros.
    fn cel_noise() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "case",
            ".",
            "hazards",
            "severity",
            "is_safety",
            "product",
            "price",
            "exists",
            "all",
            "map",
            "filter",
            "size",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            "'S1'",
            "'x'",
            "1",
            "1.5",
            "-",
            "+",
            "*",
            "/",
            "%",
            "==",
            "!=",
            "<",
            ">=",
            "&&",
            "||",
            "!",
            "?",
            ":",
            "in",
            "h",
            "true",
            "null",
            "b'a'",
            "1u",
            "\\\\",
            " ",
        ]);
        prop::collection::vec(token, 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_when_text_is_either_loaded_or_refused_with_a_message(when in cel_noise()) {
            let text = format!("[[rules]]\nid = \"fuzz\"\nwhen = '''{when}'''\n");
            match Playbook::from_toml_str("fuzz.toml", &text) {
                Ok(p) => {
                    // Whatever loaded also evaluates without panicking.
                    let eval = p.evaluate(&CaseFacts::new(firewatch_domain::Severity::S2));
                    prop_assert_eq!(eval.trace.len(), 1);
                }
                Err(e) => prop_assert!(e.to_string().starts_with("fuzz.toml: ")),
            }
        }
    }
}
