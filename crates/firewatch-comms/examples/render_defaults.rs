//! Prints every built-in template rendered for the sample case and signal, with the
//! checker's findings for the recall notices: `cargo run -p firewatch-comms --example render_defaults`.
use firewatch_comms::{
    Lang, NoticeFacts, TemplateKind, Templates, check_recall_notice, sample_case, sample_signal,
};

fn main() {
    let t = Templates::new();
    let case = sample_case();
    let signal = sample_signal();
    for lang in Lang::TEMPLATED {
        for kind in TemplateKind::ALL {
            let r = match kind {
                TemplateKind::CustomerReply => t.render(kind, lang.as_str(), &case),
                _ => t.render(kind, lang.as_str(), &signal),
            };
            match r {
                Ok(r) => {
                    println!("===== {kind}.{lang}\n{}", r.text);
                    if kind == TemplateKind::RecallNotice {
                        for f in
                            check_recall_notice(&r.text, lang.as_str(), &NoticeFacts::from(&signal))
                        {
                            println!("  finding: {f:?}");
                        }
                    }
                }
                Err(e) => println!("===== {kind}.{lang}: ERROR {e}"),
            }
        }
    }
}
