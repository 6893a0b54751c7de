//! Playbook files: load and validate (TOML, calendars, durations, markets, CEL rules), then
//! evaluate every loaded playbook on a few cases.
#![no_main]
use firewatch_domain::{HazardCode, InjuryLevel, Severity};
use firewatch_policy::{CaseFacts, Playbook};
use libfuzzer_sys::fuzz_target;

pub fn facts() -> Vec<CaseFacts> {
    let mut out = Vec::new();
    for sev in [Severity::S1, Severity::S2, Severity::S3, Severity::S4] {
        let mut f = CaseFacts::new(sev);
        f.hazards = HazardCode::ALL.iter().take(3).copied().collect();
        f.injuries = InjuryLevel::Serious;
        f.market = "FR".into();
        f.channel = "web".into();
        f.product.brand = "Voltra".into();
        f.product.price = 199.0;
        out.push(f);
    }
    out.push(CaseFacts::new(Severity::S4));
    out
}

fuzz_target!(|data: &[u8]| {
    // Playbook::from_toml_str caps the text at MAX_PLAYBOOK_BYTES itself.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pb) = Playbook::from_toml_str("fuzz.toml", text) {
        for f in facts() {
            let _ = pb.evaluate(&f);
        }
    }
});
