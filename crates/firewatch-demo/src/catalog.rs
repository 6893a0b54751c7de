//! The fictional maker's catalog: about 30 Voltra models in four categories.

/// The brand of every demo product.
pub const BRAND: &str = "Voltra";

/// Product category (the catalog's `category` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Phone,
    Laptop,
    PowerBank,
    Charger,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Phone,
        Category::Laptop,
        Category::PowerBank,
        Category::Charger,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Phone => "phone",
            Category::Laptop => "laptop",
            Category::PowerBank => "power_bank",
            Category::Charger => "charger",
        }
    }

    /// Bit used by the phrase banks' category masks.
    pub(crate) fn bit(self) -> u8 {
        match self {
            Category::Phone => 1,
            Category::Laptop => 2,
            Category::PowerBank => 4,
            Category::Charger => 8,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Category::Phone => 0,
            Category::Laptop => 1,
            Category::PowerBank => 2,
            Category::Charger => 3,
        }
    }
}

/// One model of the catalog, with the parameters of its sales curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSpec {
    pub model: &'static str,
    pub aliases: &'static [&'static str],
    pub category: Category,
    /// Price in EUR (the catalog's currency).
    pub price_eur: f64,
    /// Launch month relative to the world's first month (negative: launched before it).
    pub launch: i32,
    /// Global units per month at maturity.
    pub mature_units: f64,
    /// Month (relative) from which a successor takes its sales, if any.
    pub replaced_at: Option<i32>,
}

const fn m(
    model: &'static str,
    aliases: &'static [&'static str],
    category: Category,
    price_eur: f64,
    launch: i32,
    mature_units: f64,
    replaced_at: Option<i32>,
) -> ModelSpec {
    ModelSpec {
        model,
        aliases,
        category,
        price_eur,
        launch,
        mature_units,
        replaced_at,
    }
}

use Category::{Charger as C, Laptop as L, Phone as P, PowerBank as B};

/// The catalog. "Note7 Pro" is the phone of the viral S1 story; "PowerCell 20K" is the
/// default planted defect.
pub const MODELS: &[ModelSpec] = &[
    m(
        "Note7 Pro",
        &["Note 7 Pro", "N7 Pro", "Voltra N7P"],
        P,
        599.0,
        -4,
        90_000.0,
        Some(9),
    ),
    m("Note7", &["Note 7", "N7"], P, 449.0, -4, 110_000.0, Some(9)),
    m(
        "Note7 Lite",
        &["Note 7 Lite", "N7 Lite"],
        P,
        299.0,
        -3,
        130_000.0,
        Some(10),
    ),
    m(
        "Note8 Pro",
        &["Note 8 Pro", "N8 Pro"],
        P,
        649.0,
        9,
        95_000.0,
        None,
    ),
    m("Note8", &["Note 8", "N8"], P, 479.0, 9, 120_000.0, None),
    m("Nova 5", &["Nova5"], P, 229.0, -8, 150_000.0, Some(5)),
    m(
        "Nova 5 Lite",
        &["Nova5 Lite", "Nova 5L"],
        P,
        169.0,
        -8,
        170_000.0,
        Some(12),
    ),
    m("Nova 6", &["Nova6"], P, 249.0, 5, 150_000.0, None),
    m(
        "Nova 6 Pro",
        &["Nova6 Pro", "Nova 6P"],
        P,
        329.0,
        12,
        120_000.0,
        None,
    ),
    m(
        "Edge X1",
        &["EdgeX1", "Edge-X1"],
        P,
        899.0,
        -10,
        40_000.0,
        Some(4),
    ),
    m(
        "Edge X2 Ultra",
        &["EdgeX2 Ultra", "X2 Ultra"],
        P,
        1099.0,
        4,
        45_000.0,
        None,
    ),
    m("Slate 13", &["Slate13"], L, 999.0, -6, 25_000.0, Some(11)),
    m(
        "Slate 14 Air",
        &["Slate14 Air", "Slate Air"],
        L,
        1099.0,
        11,
        22_000.0,
        None,
    ),
    m("Slate 15", &["Slate15"], L, 1299.0, -6, 18_000.0, None),
    m("Forge 14", &["Forge14"], L, 1199.0, 2, 20_000.0, None),
    m(
        "Forge 16 Max",
        &["Forge16 Max", "Forge 16"],
        L,
        1799.0,
        2,
        10_000.0,
        None,
    ),
    m(
        "Study 11",
        &["Study11", "StudyBook 11"],
        L,
        399.0,
        -12,
        30_000.0,
        None,
    ),
    m(
        "PowerCell 10K",
        &["PowerCell 10000", "PC10K"],
        B,
        29.0,
        -14,
        160_000.0,
        None,
    ),
    m(
        "PowerCell 20K",
        &["PowerCell 20000", "PC20K", "Power Cell 20K"],
        B,
        45.0,
        -2,
        140_000.0,
        None,
    ),
    m(
        "PocketCell 5K",
        &["PocketCell 5000", "PocketCell"],
        B,
        19.0,
        -5,
        120_000.0,
        None,
    ),
    m(
        "MagPack 5000",
        &["MagPack", "Mag Pack 5000"],
        B,
        39.0,
        1,
        100_000.0,
        None,
    ),
    m(
        "Titan 30K",
        &["Titan 30000", "Titan30K"],
        B,
        69.0,
        6,
        50_000.0,
        None,
    ),
    m(
        "FastCharge 25W",
        &["FastCharge 25", "FC25W"],
        C,
        19.0,
        -18,
        200_000.0,
        None,
    ),
    m(
        "FastCharge 45W",
        &["FastCharge 45", "FC45W"],
        C,
        29.0,
        -10,
        120_000.0,
        None,
    ),
    m("GaN 65W", &["GaN65", "GaN 65"], C, 45.0, -8, 80_000.0, None),
    m(
        "GaN 120W",
        &["GaN120", "GaN 120"],
        C,
        79.0,
        7,
        40_000.0,
        None,
    ),
    m("Duo 30W", &["Duo30", "Duo 30"], C, 25.0, -4, 90_000.0, None),
    m(
        "CarCharge 36W",
        &["CarCharge 36", "Car Charger 36W"],
        C,
        22.0,
        -9,
        60_000.0,
        None,
    ),
    m(
        "AirPad 15W",
        &["AirPad", "AirPad 15"],
        C,
        35.0,
        -7,
        70_000.0,
        None,
    ),
    m(
        "Travel 20W",
        &["Travel20", "Travel Adapter 20W"],
        C,
        17.0,
        -16,
        110_000.0,
        None,
    ),
];

/// Index of a model by name (exact).
pub fn model_index(model: &str) -> Option<usize> {
    MODELS.iter().position(|s| s.model == model)
}

/// The catalog CSV (DESIGN section 6): `brand,model,aliases,category,price,currency`.
pub fn catalog_csv() -> String {
    let mut out = String::from("brand,model,aliases,category,price,currency\n");
    for s in MODELS {
        out.push_str(&format!(
            "{BRAND},{},{},{},{:.2},EUR\n",
            s.model,
            s.aliases.join("|"),
            s.category.as_str(),
            s.price_eur
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_unique_names_and_aliases() {
        let mut seen = std::collections::HashSet::new();
        for s in MODELS {
            assert!(seen.insert(s.model.to_lowercase()), "{}", s.model);
            for a in s.aliases {
                assert!(seen.insert(a.to_lowercase()), "{a}");
                assert!(!a.contains([',', '|', '"']), "{a}");
            }
        }
        assert!((28..=32).contains(&MODELS.len()));
        for c in Category::ALL {
            assert!(MODELS.iter().filter(|s| s.category == c).count() >= 5);
        }
        let csv = catalog_csv();
        assert_eq!(csv.lines().count(), MODELS.len() + 1);
        assert!(csv.contains("\nVoltra,Note7 Pro,Note 7 Pro|N7 Pro|Voltra N7P,phone,599.00,EUR\n"));
    }
}
