//! Per-language words: hazard labels and plain hazard words, remedy labels, month names.
//! Shared by the template context (labels) and the recall-notice checker (words).

use crate::Lang;
use firewatch_domain::HazardCode;

/// A short plain-language label for a hazard code, in `lang`.
pub fn hazard_label(code: HazardCode, lang: Lang) -> &'static str {
    use HazardCode::*;
    let i = match code {
        ThermalExplosion => 0,
        ThermalFire => 1,
        ThermalSmoke => 2,
        ThermalOverheating => 3,
        ThermalMelting => 4,
        BatterySwelling => 5,
        BatteryLeak => 6,
        ElectricalShock => 7,
        ElectricalSparks => 8,
        InjuryBurn => 9,
        InjuryOther => 10,
        DamageProperty => 11,
    };
    let table: [&str; 12] = match lang {
        Lang::En => [
            "explosion",
            "fire",
            "smoke",
            "overheating",
            "melting",
            "battery swelling",
            "battery leak",
            "electric shock",
            "sparks or short circuit",
            "burns",
            "injury",
            "damage to property",
        ],
        Lang::Fr => [
            "explosion",
            "incendie",
            "fumée",
            "surchauffe",
            "fonte de pièces",
            "gonflement de la batterie",
            "fuite de la batterie",
            "choc électrique",
            "étincelles ou court-circuit",
            "brûlures",
            "blessures",
            "dommages matériels",
        ],
        Lang::De => [
            "Explosion",
            "Brand",
            "Rauch",
            "Überhitzung",
            "Schmelzen von Teilen",
            "Aufblähen des Akkus",
            "Auslaufen des Akkus",
            "Stromschlag",
            "Funken oder Kurzschluss",
            "Verbrennungen",
            "Verletzungen",
            "Sachschäden",
        ],
        Lang::Es => [
            "explosión",
            "incendio",
            "humo",
            "sobrecalentamiento",
            "fusión de piezas",
            "hinchazón de la batería",
            "fuga de la batería",
            "descarga eléctrica",
            "chispas o cortocircuito",
            "quemaduras",
            "lesiones",
            "daños materiales",
        ],
        Lang::It => [
            "esplosione",
            "incendio",
            "fumo",
            "surriscaldamento",
            "fusione di parti",
            "rigonfiamento della batteria",
            "perdita della batteria",
            "scossa elettrica",
            "scintille o cortocircuito",
            "ustioni",
            "lesioni",
            "danni materiali",
        ],
        Lang::Pt => [
            "explosão",
            "incêndio",
            "fumo",
            "sobreaquecimento",
            "fusão de peças",
            "inchaço da bateria",
            "fuga da bateria",
            "choque elétrico",
            "faíscas ou curto-circuito",
            "queimaduras",
            "lesões",
            "danos materiais",
        ],
    };
    table[i]
}

/// Plain words (checker patterns) that describe a hazard in `lang`.
pub fn hazard_words(code: HazardCode, lang: Lang) -> &'static [&'static str] {
    use HazardCode::*;
    match lang {
        Lang::En => match code {
            ThermalExplosion => &["explo*", "burst*", "blow up", "blew up", "rupture*"],
            ThermalFire => &["fire*", "flame*", "burn*", "ignit*"],
            ThermalSmoke => &["smok*", "fume*"],
            ThermalOverheating => &["overheat*", "hot", "heat*"],
            ThermalMelting => &["melt*", "deform*"],
            BatterySwelling => &["swell*", "swollen", "bulg*"],
            BatteryLeak => &["leak*", "electrolyte"],
            ElectricalShock => &["electric shock*", "shock*", "electrocut*"],
            ElectricalSparks => &["spark*", "short circuit*", "short-circuit*", "arcing"],
            InjuryBurn => &["burn*", "injur*"],
            InjuryOther => &["injur*", "hurt", "wound*", "cut*"],
            DamageProperty => &["damage*", "fire*", "property"],
        },
        Lang::Fr => match code {
            ThermalExplosion => &["explos*", "éclat*"],
            ThermalFire => &["incendi*", "feu", "flamme*", "brûl*", "enflamm*"],
            ThermalSmoke => &["fumée*", "fumer", "fumant*"],
            ThermalOverheating => &["surchauff*", "chaleur", "chaud*", "échauff*"],
            ThermalMelting => &["fond*", "fonte", "fusion", "déform*"],
            BatterySwelling => &["gonfl*", "déform*"],
            BatteryLeak => &["fuite*", "électrolyte"],
            ElectricalShock => &[
                "{choc,chocs} {électrique,électriques}",
                "électrocut*",
                "électris*",
            ],
            ElectricalSparks => &["étincelle*", "court-circuit*", "court circuit*"],
            InjuryBurn => &["brûl*", "blessure*"],
            InjuryOther => &["blessure*", "bless*"],
            DamageProperty => &["dommage*", "dégât*", "incendi*"],
        },
        Lang::De => match code {
            ThermalExplosion => &["explo*", "platz*", "berst*"],
            ThermalFire => &["brand*", "feuer*", "flamme*", "entzünd*", "brenn*"],
            ThermalSmoke => &["rauch*", "qualm*"],
            ThermalOverheating => &["überhitz*", "heiß*", "erhitz*"],
            ThermalMelting => &["schmelz*", "schmilzt", "verform*"],
            BatterySwelling => &["aufbläh*", "bläht*", "aufgebläht*", "wölb*"],
            BatteryLeak => &["auslauf*", "läuft aus", "leck*", "elektrolyt*"],
            ElectricalShock => &[
                "stromschlag*",
                "{elektrischer,elektrischen,elektrische} {schlag,schlags,schläge,schlägen}",
                "schlag*",
            ],
            ElectricalSparks => &["funke*", "kurzschl*", "lichtbogen*"],
            InjuryBurn => &["verbrenn*", "verletz*"],
            InjuryOther => &["verletz*"],
            DamageProperty => &["sachschäd*", "schäd*", "beschädig*", "brand*"],
        },
        Lang::Es => match code {
            ThermalExplosion => &["explo*", "estall*", "revent*"],
            ThermalFire => &["incendi*", "fuego*", "llama*", "quem*", "prender*"],
            ThermalSmoke => &["humo*"],
            ThermalOverheating => &["sobrecalent*", "calent*", "calor"],
            ThermalMelting => &["derret*", "fund*", "fusión", "deform*"],
            BatterySwelling => &["hinch*", "abomb*", "deform*"],
            BatteryLeak => &["fuga*", "derram*", "electrolito"],
            ElectricalShock => &["{descarga,descargas} {eléctrica,eléctricas}", "electrocu*"],
            ElectricalSparks => &["chispa*", "cortocircuito*"],
            InjuryBurn => &["quemadura*", "quem*", "lesion*"],
            InjuryOther => &["lesion*", "herid*"],
            DamageProperty => &["daño*", "incendi*"],
        },
        Lang::It => match code {
            ThermalExplosion => &["esplo*", "scoppi*"],
            ThermalFire => &["incendi*", "fuoco", "fiamm*", "bruci*"],
            ThermalSmoke => &["fum*"],
            ThermalOverheating => &["surriscald*", "calore", "cald*"],
            ThermalMelting => &["fond*", "fus*", "deform*"],
            BatterySwelling => &["gonfi*", "rigonfi*", "deform*"],
            BatteryLeak => &["perdit*", "fuoriusc*", "elettrolit*"],
            ElectricalShock => &[
                "{scossa,scosse} {elettrica,elettriche}",
                "folgora*",
                "elettrocu*",
            ],
            ElectricalSparks => &["scintill*", "cortocircuit*"],
            InjuryBurn => &["ustion*", "bruci*", "lesion*"],
            InjuryOther => &["lesion*", "ferit*", "infortun*"],
            DamageProperty => &["dann*", "incendi*"],
        },
        Lang::Pt => match code {
            ThermalExplosion => &["explo*", "rebent*"],
            ThermalFire => &["incêndio*", "incendi*", "fogo", "chama*", "queim*"],
            ThermalSmoke => &["fumo*", "fumaça*"],
            ThermalOverheating => &["sobreaquec*", "aquec*", "calor"],
            ThermalMelting => &["derret*", "fund*", "fus*", "deform*"],
            BatterySwelling => &["inch*", "dilat*", "deform*"],
            BatteryLeak => &["fuga*", "vazament*", "derram*", "eletrólito*"],
            ElectricalShock => &[
                "{choque,choques} {elétrico,elétricos}",
                "choque*",
                "eletrocu*",
            ],
            ElectricalSparks => &["faísca*", "faulha*", "curto-circuito*", "curto circuito*"],
            InjuryBurn => &["queimadura*", "queim*", "lesões", "lesão"],
            InjuryOther => &["lesões", "lesão", "ferimento*", "ferid*"],
            DamageProperty => &["dano*", "incêndio*"],
        },
    }
}

/// The cost-free remedies a recall notice may offer (DESIGN C4: refund, replacement, repair).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RemedyKind {
    Refund,
    Replacement,
    Repair,
}

impl RemedyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RemedyKind::Refund => "refund",
            RemedyKind::Replacement => "replacement",
            RemedyKind::Repair => "repair",
        }
    }

    /// The remedy as a phrase in `lang`, always stated as free of charge.
    pub fn label(self, lang: Lang) -> &'static str {
        use RemedyKind::*;
        match (lang, self) {
            (Lang::En, Refund) => "a full refund of the price paid",
            (Lang::En, Replacement) => "a free replacement",
            (Lang::En, Repair) => "a free repair",
            (Lang::Fr, Refund) => "un remboursement intégral du prix payé",
            (Lang::Fr, Replacement) => "un remplacement gratuit",
            (Lang::Fr, Repair) => "une réparation gratuite",
            (Lang::De, Refund) => "die vollständige Erstattung des Kaufpreises",
            (Lang::De, Replacement) => "einen kostenlosen Ersatz",
            (Lang::De, Repair) => "eine kostenlose Reparatur",
            (Lang::Es, Refund) => "un reembolso íntegro del precio pagado",
            (Lang::Es, Replacement) => "una sustitución gratuita",
            (Lang::Es, Repair) => "una reparación gratuita",
            (Lang::It, Refund) => "un rimborso integrale del prezzo pagato",
            (Lang::It, Replacement) => "una sostituzione gratuita",
            (Lang::It, Repair) => "una riparazione gratuita",
            (Lang::Pt, Refund) => "um reembolso integral do preço pago",
            (Lang::Pt, Replacement) => "uma substituição gratuita",
            (Lang::Pt, Repair) => "uma reparação gratuita",
        }
    }
}

/// "26 November 2026", "26 novembre 2026", "26. November 2026", "26 de noviembre de 2026", ...
pub fn long_date(d: jiff::civil::Date, lang: Lang) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const DE: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    const ES: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    const IT: [&str; 12] = [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ];
    const PT: [&str; 12] = [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ];
    let m = (d.month() as usize).saturating_sub(1).min(11);
    let (day, year) = (d.day(), d.year());
    match lang {
        Lang::En => format!("{day} {} {year}", EN[m]),
        Lang::Fr if day == 1 => format!("1er {} {year}", FR[m]),
        Lang::Fr => format!("{day} {} {year}", FR[m]),
        Lang::De => format!("{day}. {} {year}", DE[m]),
        Lang::Es => format!("{day} de {} de {year}", ES[m]),
        Lang::It => format!("{day} {} {year}", IT[m]),
        Lang::Pt => format!("{day} de {} de {year}", PT[m]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hazard_label_is_described_by_its_own_plain_words() {
        use crate::fold::{Folded, PhraseSet};
        for lang in Lang::ALL {
            for code in HazardCode::ALL {
                let label = hazard_label(code, lang);
                let set = PhraseSet::new(hazard_words(code, lang));
                assert!(
                    set.is_found_in(&Folded::new(label)),
                    "{lang} {code}: label `{label}` not matched by its words"
                );
            }
        }
    }

    #[test]
    fn dates_are_written_the_way_each_language_writes_them() {
        let d = jiff::civil::date(2026, 8, 3);
        assert_eq!(long_date(d, Lang::En), "3 August 2026");
        assert_eq!(long_date(d, Lang::Fr), "3 août 2026");
        assert_eq!(long_date(d, Lang::De), "3. August 2026");
        assert_eq!(long_date(d, Lang::Es), "3 de agosto de 2026");
        assert_eq!(
            long_date(jiff::civil::date(2026, 11, 1), Lang::Fr),
            "1er novembre 2026"
        );
    }
}
