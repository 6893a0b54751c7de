//! CEL rule expressions: the input is one `when` expression, compiled by the playbook
//! loader (which bounds its size and node count) and evaluated on several cases. libFuzzer's
//! `-timeout` catches an evaluation that does not end.
#![no_main]
use firewatch_domain::{HazardCode, InjuryLevel, Severity};
use firewatch_policy::{CaseFacts, Playbook};
use libfuzzer_sys::fuzz_target;

fn facts() -> Vec<CaseFacts> {
    let mut out = Vec::new();
    for sev in [Severity::S1, Severity::S4] {
        let mut f = CaseFacts::new(sev);
        f.hazards = HazardCode::ALL.to_vec();
        f.potential_hazards = HazardCode::ALL.iter().take(2).copied().collect();
        f.injuries = InjuryLevel::Fatal;
        f.market = "SE".into();
        f.channel = "social".into();
        f.product.brand = "Voltra".into();
        f.product.model = "X".into();
        f.product.category = "e-bike battery".into();
        f.product.price = 1e300;
        f.mentions.count = i64::MAX;
        f.mentions.max_predicted_reach = f64::NAN;
        out.push(f);
    }
    out.push(CaseFacts::new(Severity::S3));
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    if expr.len() > 4096 {
        return;
    }
    // A TOML literal string ('''...''') cannot hold ''' : such inputs are not expressions
    // a playbook could carry.
    if expr.contains("'''") {
        return;
    }
    let text = format!("[[rules]]\nid = \"fuzz\"\nwhen = '''{expr}'''\n");
    if let Ok(pb) = Playbook::from_toml_str("fuzz.toml", &text) {
        for f in facts() {
            let _ = pb.evaluate(&f);
        }
    }
});
